"""`fuzzykey embed` (local and Ray engines) and `fuzzykey bench --embeddings [--engine ray]` end to end,
on a local Ray cluster (2 CPUs, one for this module); the embeddings file reader's checks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import copy_lfw_people

from fuzzykey.cli import main
from fuzzykey.distributed import ray_session
from fuzzykey.errors import InvalidArgument
from fuzzykey.evaluation.embeddings_file import METADATA_KEY, read_embeddings

PEOPLE = {"Colin_Powell": 4, "Tony_Blair": 3, "Ariel_Sharon": 3, "Hugo_Chavez": 2}
PAIRS = "2\nColin_Powell 1 2\nTony_Blair 1 3\nColin_Powell 1 Tony_Blair 2\nAriel_Sharon 2 Hugo_Chavez 1\n"
# Fields of the bench JSON that differ between two runs of the same command: timings, and the
# figures made with fresh os.urandom secrets (helpers attacked, linked, reproduced through KeyGen).
RUN_TO_RUN = [
    r"^seconds\.",
    r"^throughput\.",
    r"\.unlinkability_dsys$",
    r"\.dictionary_attack\.\d+\.success$",
    r"\.structural_attack_success$",
    r"^schemes\.secret\.pairs_file\.(genuine|impostor)\.keys_reproduced$",
    # two-factor zero-leakage helpers draw their nonce (hence dithers) from os.urandom, as they must
    r"^zero_leakage\.linkability\.two-factor",
]


@pytest.fixture(scope="module")
def cluster():
    with ray_session(num_cpus=2):
        yield


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUZZYKEY_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = copy_lfw_people(tmp_path_factory.mktemp("faces") / "images", PEOPLE)
    (root / "Tony_Blair" / "Tony_Blair_0009.jpg").write_bytes(b"not a jpeg")
    pairs = root.parent / "pairs.txt"
    pairs.write_text(PAIRS, encoding="utf-8")
    return root, pairs


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def embedded(cluster: None, cache: None, small_set: tuple[Path, Path], tmp_path_factory) -> dict[str, Path]:
    images, _ = small_set
    out = tmp_path_factory.mktemp("embeddings")
    files = {}
    for engine in ("local", "ray"):
        files[engine] = out / f"{engine}.parquet"
        extra = ["--workers", "2", "--batch-size", "4"] if engine == "ray" else []
        result = invoke("embed", str(images), "--out", str(files[engine]), "--engine", engine, *extra)
        assert result.exit_code == 0, result.output
        assert result.stdout == ""  # progress, failures and the summary go to stderr
        assert "fuzzykey: warning: failed:" in result.stderr and "Tony_Blair_0009.jpg" in result.stderr
        assert f"wrote {files[engine]}: 13 images, 1 failed" in result.stderr
    return files


def test_embed_writes_the_same_rows_with_either_engine(embedded: dict[str, Path]) -> None:
    here, there = read_embeddings(embedded["local"]), read_embeddings(embedded["ray"])
    assert here.paths == there.paths and here.sha256 == there.sha256 and here.errors == there.errors
    assert np.max(np.abs(here.embeddings[here.ok] - there.embeddings[here.ok])) <= 1e-5
    assert sum(e is not None for e in here.errors) == 1


def flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(doc, dict):
        return {k: v for key, item in doc.items() for k, v in flatten(item, f"{prefix}{key}.").items()}
    if isinstance(doc, list):
        return {k: v for i, item in enumerate(doc) for k, v in flatten(item, f"{prefix}{i}.").items()}
    return {prefix[:-1]: doc}


def differing(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    fa, fb = flatten(a), flatten(b)
    return {k for k in set(fa) | set(fb) if fa.get(k, "missing") != fb.get(k, "missing")}


def test_bench_from_embeddings_gives_the_figures_of_the_images(
    embedded: dict[str, Path], small_set: tuple[Path, Path], tmp_path: Path
) -> None:
    images, pairs = small_set
    docs = {}
    runs = {
        "images": ["--images", str(images)],
        "file": ["--embeddings", str(embedded["ray"])],
        "file-ray": ["--embeddings", str(embedded["ray"]), "--engine", "ray"],
    }
    for name, args in runs.items():
        out = tmp_path / f"{name}.json"
        result = invoke(
            "bench", *args, "--pairs", str(pairs), "--json", str(out), "--impostors", "500", "--quiet"
        )
        assert result.exit_code == 0, result.output
        assert "skipped:" in result.output and "Tony_Blair_0009.jpg" in result.output
        docs[name] = json.loads(out.read_text(encoding="utf-8"))
    base = docs["images"]
    assert base["data"]["cross_person_pairs"] == 12 * 12 - (16 + 9 + 9 + 4)  # all of them are counted
    for name in ("file", "file-ray"):
        changed = differing(base, docs[name])
        unexplained = {k for k in changed if not any(re.search(p, k) for p in RUN_TO_RUN)}
        assert unexplained == {"data.embeddings"}, unexplained
        assert docs[name]["data"]["embeddings"] == str(embedded["ray"])
        for scheme in ("secret", "face-only"):
            mine, theirs = docs[name]["schemes"][scheme], base["schemes"][scheme]
            assert mine["curve"] == theirs["curve"] and mine["key"] == theirs["key"]
            assert mine["security"]["dof"] == theirs["security"]["dof"]
        assert docs[name]["encoder"] == base["encoder"] and docs[name]["throughput"]["photos"] > 0


def test_bench_from_embeddings_needs_no_images(
    embedded: dict[str, Path], tmp_path: Path, cache: None
) -> None:
    # the same rows under a root that does not exist here: no throughput, every other figure
    table = pq.read_table(embedded["local"])
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    meta["root"] = str(tmp_path / "elsewhere")
    moved = tmp_path / "moved.parquet"
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()}), moved)
    out = tmp_path / "moved.json"
    result = invoke("bench", "--embeddings", str(moved), "--json", str(out), "--impostors", "500", "--quiet")
    assert result.exit_code == 0, result.output
    assert "throughput: not measured" in result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["throughput"] is None and doc["data"]["n_images"] == 12 and doc["data"]["pairs"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["embed", "{images}", "--out", "{exists}"], "exists; pass --force"),
        (["embed", "{images}", "--out", "{new}", "--workers", "2"], "need --engine ray"),
        (["embed", "{images}", "--out", "{new}", "--engine", "ray", "--workers", "0"], "must be >= 1"),
        (["embed", "{nowhere}", "--out", "{new}"], "does not exist"),
        (["bench", "--embeddings", "{exists}", "--images", "{images}"], "not both"),
        (["bench", "--embeddings", "{exists}"], "cannot be read as Parquet"),
        (["bench", "--embeddings", "{nowhere}"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, small_set, tmp_path, cache) -> None:
    images, _ = small_set
    exists = tmp_path / "exists.parquet"
    exists.write_bytes(b"PAR1 not parquet")
    names = {"images": images, "exists": exists, "new": tmp_path / "new.parquet", "nowhere": tmp_path / "no"}
    result = invoke(*(a.format(**{k: str(v) for k, v in names.items()}) for a in args))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert message in result.output and (len(lines) == 1 or "Usage:" in result.output), result.output
    assert not (tmp_path / "new.parquet").exists()


def rewrite(src: Path, dst: Path, change) -> Path:
    table = pq.read_table(src)
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    rows = table.to_pylist()
    new_meta, new_rows, schema = change(meta, rows, table.schema)
    pq.write_table(
        pa.Table.from_pylist(
            new_rows, schema=schema.with_metadata({METADATA_KEY: json.dumps(new_meta).encode()})
        ),
        dst,
    )
    return dst


def set_row(i: int, **values: Any):
    def change(meta, rows, schema):
        rows[i] = {**rows[i], **values}
        return meta, rows, schema

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m, r, s: ({**m, "version": 2}, r, s), "format version 2 is not supported"),
        (lambda m, r, s: ({**m, "format": "csv"}, r, s), "format must be 'fuzzykey-embeddings', got 'csv'"),
        (lambda m, r, s: ({**m, "encoder": {"name": "", "dim": 128}}, r, s), "encoder must be an object"),
        (lambda m, r, s: (m, r + [r[0]], s), "appears twice"),
        (set_row(0, sha256="XYZ"), "sha256 must be 64 lowercase hex digits, got 'XYZ'"),
        (set_row(0, path="../etc/passwd"), "path must be 'Ariel_Sharon/<file>', got '../etc/passwd'"),
        (set_row(0, error="no face"), "has an embedding and an error"),
        (set_row(0, embedding=None), "neither an embedding nor an error"),
        (set_row(0, embedding=[float("nan")] * 128), "finite and non-zero"),
        (set_row(0, n_faces=0), "n_faces must be >= 1 for an embedded row, got 0"),
        (
            lambda m, r, s: (m, r, s.set(s.get_field_index("n_faces"), pa.field("n_faces", pa.int64()))),
            "columns must be",
        ),
    ],
)
def test_the_reader_rejects_inconsistent_files(change, message, embedded, tmp_path) -> None:
    bad = rewrite(embedded["local"], tmp_path / "bad.parquet", change)
    with pytest.raises(InvalidArgument, match=re.escape(message)) as err:
        read_embeddings(bad)
    assert str(bad) in str(err.value)


def test_everything_but_the_ray_engine_works_without_ray_and_pyarrow(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['ray'] = sys.modules['pyarrow'] = None  # as if not installed\n"
        "import fuzzykey, fuzzykey.distributed, fuzzykey.cli.main, fuzzykey.evaluation.keybench\n"
        "from fuzzykey.errors import InvalidArgument\n"
        "from fuzzykey.distributed import embed_folder_ray, ray_session\n"
        "from fuzzykey.evaluation.embeddings_file import read_embeddings\n"
        "for call in (lambda: ray_session().__enter__(), lambda: read_embeddings(sys.argv[1])):\n"
        "    try:\n"
        "        call()\n"
        "    except InvalidArgument as exc:\n"
        "        print(exc)\n"
    )
    f = tmp_path / "e.parquet"
    f.write_bytes(b"PAR1")
    out = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True, check=True)
    assert out.stdout.count("pip install 'fuzzykey[ray]'") == 2, out.stdout
    assert out.stderr == ""
