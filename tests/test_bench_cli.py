"""`fuzzykey bench` end to end on a small folder made from real LFW photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import copy_lfw_people

from fuzzykey.cli import main
from fuzzykey.errors import InvalidArgument
from fuzzykey.evaluation.keybench import parse_code

PEOPLE = {"Colin_Powell": 3, "Tony_Blair": 3, "Ariel_Sharon": 3, "Hugo_Chavez": 2}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = copy_lfw_people(tmp_path_factory.mktemp("faces") / "images", PEOPLE)
    (root / "Tony_Blair" / "Tony_Blair_0009.jpg").write_bytes(b"not a jpeg")  # reported, skipped
    pairs = root.parent / "pairs.txt"
    pairs.write_text(
        "2\nColin_Powell 1 2\nTony_Blair 1 3\nColin_Powell 1 Tony_Blair 2\nAriel_Sharon 2 Hugo_Chavez 1\n",
        encoding="utf-8",
    )
    return root, pairs


@pytest.fixture()
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.getbasetemp() / "bench-cache"
    monkeypatch.setenv("FUZZYKEY_CACHE", str(path))
    return path


def test_bench_writes_the_documented_json_and_a_det_plot(small_set, cache, tmp_path):
    images, pairs = small_set
    out, png = tmp_path / "bench.json", tmp_path / "det.png"
    args = ["--images", str(images), "--pairs", str(pairs), "--json", str(out), "--plot", str(png)]
    result = CliRunner().invoke(main, ["bench", *args, "--impostors", "500", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "skipped:" in result.output and "Tony_Blair_0009.jpg" in result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["default"] == "secret"
    assert set(doc["schemes"]) == {"secret", "face-only"}
    for scheme in doc["schemes"].values():
        assert {"frr", "far", "n_genuine", "n_impostor", "t", "k"} <= scheme["key"].keys()
        security = scheme["security"]
        for field in (
            "code_k_bits",
            "dof",
            "far_bits",
            "structural_attack_success",
            "dictionary_attack",
            "unlinkability_dsys",
        ):
            assert field in security
        assert isinstance(scheme["curve"], list) and scheme["curve"]
        assert scheme["key"]["far"] <= 1e-3
        assert scheme["key"]["n_genuine"] == sum(c * (c - 1) // 2 for c in PEOPLE.values())
    for field in ("eer", "fnmr_at_fmr_0.01", "fnmr_at_fmr_0.001", "fnmr_at_fmr_0.0001", "mi_bound_bits"):
        assert field in doc["encoder"]
    assert doc["data"]["skipped_images"] == 1 and doc["data"]["n_images"] == sum(PEOPLE.values())
    # 11 images, 4 people: every cross-person pair is used (fewer than --impostors)
    assert doc["data"]["cross_person_pairs"] == 11 * 11 - sum(c * c for c in PEOPLE.values())
    assert {"detection_per_s", "embedding_per_s", "binarization_per_s"} <= doc["throughput"].keys()
    # zero-leakage keys: not LFW-dev, so every person is measured; each first photo against every
    # photo of the 3 other people (11 photos, 4 people), and photos 1-3 of the 3 people who have them
    zl = doc["zero_leakage"]
    assert zl["people_measured"] == "all" and zl["people"] == 4 and zl["images"] == 11
    rows = {(r["photos"], r["k"], r["mode"]): r for r in zl["rows"]}
    assert set(rows) == {(p, k, m) for p, k in ((1, 16), (1, 20), (3, 20), (3, 24))
                         for m in ("face-only", "two-factor, secret stolen")}
    one = rows[(1, 16, "face-only")]
    assert one["genuine"] == 10 and one["impostor"]["attempts"] == 4 * 11 - 11
    assert 0.0 <= one["frr"] <= 1.0 and one["impostor_key_pairs"] == [] and one["impostor"]["keys"] == 0
    three = rows[(3, 20, "face-only")]
    assert three["genuine"] == 0 and three["frr"] is None and three["impostor"]["attempts"] == 3 * 8
    assert zl["wrong_secret"]["keys"] == 0 and zl["guesswork"]["face-only"]["k"] == 16
    assert set(zl["sweep"]) == {"1", "3"} and len(zl["sweep"]["1"]) == 10
    assert "zero-leakage keys (4 people" in result.output and "guesswork, face-only" in result.output
    # the pairs file's pairs ran through KeyGen itself
    assert doc["schemes"]["secret"]["pairs_file"]["genuine"]["n"] == 2
    with open(png, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    # a second run reads every embedding from the cache
    again = CliRunner().invoke(main, ["bench", *args, "--impostors", "500", "--quiet"])
    assert again.exit_code == 0, again.output
    assert json.loads(out.read_text(encoding="utf-8"))["seconds"]["embedding"] < doc["seconds"]["embedding"]


@pytest.mark.parametrize(
    "setup, message",
    [
        ("missing", "does not exist"),
        ("empty", "has no images"),
        ("bad-pairs", "line 2"),
        ("one-person", "of one person"),
    ],
)
def test_bench_bad_input_is_one_line_and_nonzero(setup, message, small_set, cache, tmp_path):
    images, pairs = small_set
    args = ["--images", str(images), "--pairs", str(pairs), "--quiet"]
    if setup == "missing":
        args[1] = str(tmp_path / "nowhere")
    elif setup == "empty":
        (tmp_path / "empty").mkdir()
        args[1] = str(tmp_path / "empty")
    elif setup == "one-person":
        shutil.copytree(images / "Colin_Powell", tmp_path / "one" / "Colin_Powell")
        args[1] = str(tmp_path / "one")
    else:
        bad = tmp_path / "pairs.txt"
        bad.write_text("1\nColin_Powell one 2\n", encoding="utf-8")
        args[3] = str(bad)
    result = CliRunner().invoke(main, ["bench", *args])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output


def test_a_bad_zl_people_is_refused_before_any_work(tmp_path):
    from fuzzykey.evaluation.keybench import BenchConfig, run_bench

    with pytest.raises(InvalidArgument, match="zl_people .*'halfb'"):
        run_bench(BenchConfig(images=tmp_path / "nowhere", pairs=None, zl_people="halfb"))


def test_parse_code():
    assert parse_code("10,155") == (10, 155)
    with pytest.raises(InvalidArgument, match="M,T"):
        parse_code("10:155")
