"""The Ray engine on a local Ray cluster (2 CPUs, one for this module) and 40 LFW photos.

Ray embeddings equal the local engine's; the Parquet file has the documented schema; a
broken image is a failed row; an actor killed mid-batch loses and duplicates nothing (by
SHA-256); the impostor histograms counted on Ray equal the local counts exactly; batch
enrollment over a Ray Dataset writes helpers whose sealed keys open and reproduce.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import ray
import ray.data
from conftest import copy_lfw_people
from Crypto.PublicKey import RSA

from fuzzykey import KeyGen
from fuzzykey.distributed import (
    RayDistances,
    embed_folder_ray,
    embeddings_dataset,
    enroll_embeddings,
    open_sealed,
    ray_session,
)
from fuzzykey.errors import InvalidArgument
from fuzzykey.evaluation.distances import (
    LocalDistances,
    cross_person_shards,
    draw_seeds,
    enrollee_seeds,
    key_distances,
    sampled_histogram,
    seeded_key_distances,
)
from fuzzykey.evaluation.embeddings_file import METADATA_KEY, embed_folder, read_embeddings
from fuzzykey.evaluation.pairs import impostor_pairs

PEOPLE = {
    "Colin_Powell": 7,
    "Tony_Blair": 7,
    "George_W_Bush": 7,
    "Ariel_Sharon": 6,
    "Hugo_Chavez": 6,
    "Serena_Williams": 6,
}
BROKEN = "Tony_Blair/Tony_Blair_0099.jpg"


@pytest.fixture(scope="module")
def cluster():
    with ray_session(num_cpus=2):
        assert ray.is_initialized()
        yield
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_lfw_people(tmp_path_factory.mktemp("faces") / "images", PEOPLE)
    (root / BROKEN).write_bytes(b"\xff\xd8\xff not really a jpeg")
    return root


@pytest.fixture(scope="module")
def local_file(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "local.parquet"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUZZYKEY_CACHE", str(tmp_path_factory.mktemp("cache")))
        embed_folder(photos, out)
    return out


@pytest.fixture(scope="module")
def ray_file(cluster: None, photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ray") / "ray.parquet"
    summary = embed_folder_ray(photos, out, workers=2, batch_size=8)
    assert (summary.rows, summary.failed, summary.engine) == (40, 1, "ray")
    return out


def file_digests(root: Path) -> Counter[str]:
    return Counter(hashlib.sha256(p.read_bytes()).hexdigest() for p in root.glob("*/*.jpg"))


def test_ray_embeddings_equal_the_local_ones(local_file: Path, ray_file: Path) -> None:
    here, there = read_embeddings(local_file), read_embeddings(ray_file)
    assert there.paths == here.paths and len(here.paths) == 40
    assert there.sha256 == here.sha256 and there.errors == here.errors
    assert there.n_faces.tolist() == here.n_faces.tolist()
    ok = here.ok
    assert ok.sum() == 39 and np.array_equal(there.ok, ok)
    assert np.max(np.abs(there.embeddings[ok] - here.embeddings[ok])) <= 1e-5
    assert np.all(np.isnan(there.embeddings[~ok]))
    assert (here.metadata["engine"], there.metadata["engine"]) == ("local", "ray")
    for part in ("encoder", "detector", "root", "versions"):
        assert there.metadata[part] == here.metadata[part]


def test_the_parquet_schema_and_a_broken_image_as_a_failed_row(ray_file: Path, photos: Path) -> None:
    schema = pq.read_schema(ray_file)
    assert schema.names == ["path", "person", "sha256", "embedding", "n_faces", "error"]
    assert [str(schema.field(n).type) for n in ("path", "person", "sha256", "n_faces", "error")] == [
        "string",
        "string",
        "string",
        "int32",
        "string",
    ]
    emb_type = schema.field("embedding").type
    assert emb_type.list_size == 128 and str(emb_type.value_type) == "float"
    meta = json.loads(schema.metadata[METADATA_KEY])
    assert meta["format"] == "fuzzykey-embeddings" and meta["version"] == 1
    assert meta["encoder"] == {
        "name": "sface-2021dec-int8bq",
        "dim": 128,
        "model_sha256": "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    }
    assert meta["detector"]["name"] == "yunet-2023mar-int8bq" and meta["detector"]["settings"]
    assert meta["root"] == str(photos.resolve()) and meta["versions"]["fuzzykey"]
    rows = pq.read_table(ray_file).to_pylist()
    by_path = {r["path"]: r for r in rows}
    broken = by_path[BROKEN]
    assert broken["embedding"] is None and broken["n_faces"] == 0
    assert "Tony_Blair_0099.jpg" in broken["error"] and "not a readable image" in broken["error"]
    assert broken["sha256"] == hashlib.sha256((photos / BROKEN).read_bytes()).hexdigest()
    for path, row in by_path.items():
        assert row["person"] == path.split("/")[0]
        assert row["sha256"] == hashlib.sha256((photos / path).read_bytes()).hexdigest()
        if path != BROKEN:
            assert row["error"] is None and row["n_faces"] >= 1
            assert abs(np.linalg.norm(row["embedding"]) - 1.0) < 1e-4


def test_an_actor_killed_mid_batch_loses_and_duplicates_nothing(
    cluster: None, photos: Path, local_file: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "drill"
    out = tmp_path / "drill.parquet"
    summary = embed_folder_ray(photos, out, workers=2, batch_size=4, fail_once=marker)
    assert marker.exists()  # an actor did die: the drill fired once
    table = read_embeddings(out)
    assert summary.rows == len(table.paths) == 40
    assert Counter(table.sha256) == file_digests(photos)  # every input exactly once
    here = read_embeddings(local_file)
    assert table.paths == here.paths
    ok = here.ok
    assert np.max(np.abs(table.embeddings[ok] - here.embeddings[ok])) <= 1e-5


@pytest.mark.parametrize("mode", ["secret", "face-only"])
def test_ray_impostor_histograms_equal_the_local_ones_exactly(
    cluster: None, ray_file: Path, mode: str
) -> None:
    faces = read_embeddings(ray_file)
    # the 39 faces and 41 random rows of 14 more "people": 80 rows, two batches of enrollees
    extra = np.random.default_rng(4).standard_normal((41, 128)).astype(np.float32)
    x = np.concatenate([faces.embeddings[faces.ok], extra])
    labels = np.concatenate([faces.labels[faces.ok], 100 + np.arange(41) // 3])
    kg = KeyGen()
    everyone, total = impostor_pairs(labels, 10**9, np.random.default_rng(0))
    assert len(everyone) == total > 5000
    seeds = enrollee_seeds(everyone, len(x), np.random.default_rng(1))
    expected = np.bincount(seeded_key_distances(kg, mode, x, everyone, seeds), minlength=1024)
    engine = RayDistances(pairs_per_shard=1000)
    assert len(cross_person_shards(labels, 1000)) == 2
    cross = engine.cross_person_histogram(kg, mode, x, labels, seeds)
    assert engine.tasks == 2
    assert np.array_equal(cross, expected) and cross.sum() == total
    some = everyone[np.random.default_rng(2).choice(len(everyone), 2000, replace=False)]
    there = engine.pair_histogram(kg, mode, x, some, seeds)
    assert engine.tasks == 4  # two shards of whole enrollee batches
    here = np.bincount(seeded_key_distances(kg, mode, x, some, seeds), minlength=1024)
    assert np.array_equal(there, here) and there.sum() == 2000
    all_seeds = np.frombuffer(np.random.default_rng(3).bytes(32 * len(x)), np.uint8).reshape(-1, 32)
    sampled = engine.sampled_histogram(kg, mode, x, labels, all_seeds, 1500, seed=7)
    assert engine.tasks == 6
    assert np.array_equal(sampled, sampled_histogram(kg, mode, x, labels, all_seeds, 1500, 7, 1000))
    assert sampled.sum() == 1500


def test_local_engine_counts_what_key_distances_gives(ray_file: Path) -> None:
    faces = read_embeddings(ray_file)
    x, labels = faces.embeddings[faces.ok], faces.labels[faces.ok]
    kg = KeyGen()
    everyone, _ = impostor_pairs(labels, 10**9, np.random.default_rng(0))
    for mode in ("secret", "face-only"):
        d = key_distances(kg, mode, x, everyone, np.random.default_rng(5))
        seeds = draw_seeds(kg, mode, everyone, len(x), np.random.default_rng(5))
        assert np.array_equal(
            LocalDistances().cross_person_histogram(kg, mode, x, labels, seeds),
            np.bincount(d, minlength=1024),
        )
        assert np.array_equal(
            LocalDistances().pair_histogram(kg, mode, x, everyone[::3], seeds),
            np.bincount(d[::3], minlength=1024),
        )


@pytest.fixture(scope="module")
def service() -> RSA.RsaKey:
    return RSA.generate(2048)


def test_batch_enrollment_seals_keys_and_secrets_to_the_service(
    cluster: None, ray_file: Path, tmp_path: Path, service: RSA.RsaKey
):
    kg = KeyGen()
    faces = read_embeddings(ray_file)
    ds = embeddings_dataset(ray_file)
    summary = enroll_embeddings(
        ds, tmp_path / "helpers", mode="secret", recipient=service.public_key().export_key()
    )
    assert (summary.rows, summary.failed) == (39, 0) and summary.files
    rows = pq.read_table(tmp_path / "helpers").to_pylist()
    assert sorted(r["id"] for r in rows) == sorted(
        p for p, e in zip(faces.paths, faces.errors, strict=True) if e is None
    )
    emb = {p: faces.embeddings[i] for i, p in enumerate(faces.paths)}
    for row in rows[:5]:
        opened = open_sealed(service.export_key(), row["sealed"], helper=row["helper"])
        assert opened.secret is not None and len(opened.secret) == 32
        assert kg.reproduce_embedding(emb[row["id"]], row["helper"], secret=opened.secret) == opened.key
    with pytest.raises(InvalidArgument, match="another helper"):
        open_sealed(service.export_key(), rows[0]["sealed"], helper=rows[1]["helper"])
    assert len({r["sealed"] for r in rows}) == len(rows)  # fresh secrets, fresh keys


def test_batch_enrollment_two_factor_draws_the_secrets_on_the_workers(
    cluster: None, ray_file: Path, tmp_path: Path, service: RSA.RsaKey
):
    faces = read_embeddings(ray_file)
    ds = embeddings_dataset(ray_file).limit(4)  # zero-leakage enrollments run Argon2id (~0.3 s each)
    summary = enroll_embeddings(
        ds, tmp_path / "2f", mode="two-factor", recipient=service.public_key().export_key()
    )
    assert (summary.rows, summary.failed) == (4, 0)
    row = pq.read_table(tmp_path / "2f").to_pylist()[0]
    opened = open_sealed(service.export_key(), row["sealed"], helper=row["helper"])
    emb = faces.embeddings[faces.paths.index(row["id"])]
    assert opened.secret is not None
    assert KeyGen().reproduce_embedding(emb, row["helper"], secret=opened.secret) == opened.key
    with pytest.raises(InvalidArgument, match="two-factor mode draws"):
        enroll_embeddings(ds, tmp_path / "nope", mode="two-factor")


def test_batch_enrollment_face_only_keeps_no_key_and_fails_bad_rows_alone(cluster: None, tmp_path: Path):
    x = np.random.default_rng(5).standard_normal((6, 128)).astype(np.float32)
    x[2] = np.nan
    ds = ray.data.from_items([{"id": f"user{i}", "embedding": row} for i, row in enumerate(x)])
    summary = enroll_embeddings(ds, tmp_path / "face", mode="face-only")
    assert (summary.rows, summary.failed) == (6, 1)
    rows = {r["id"]: r for r in pq.read_table(tmp_path / "face").to_pylist()}
    assert rows["user2"]["helper"] is None and "NaN" in rows["user2"]["error"]
    kg = KeyGen()
    key = kg.reproduce_embedding(x[0], rows["user0"]["helper"])
    assert len(key) == 32 and rows["user0"]["sealed"] is None
    with pytest.raises(InvalidArgument, match="recipient"):
        enroll_embeddings(ds, tmp_path / "nope", mode="secret")
