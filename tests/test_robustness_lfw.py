"""``fuzzykey robustness lfw``: the DVSP head on embeddings, pair sampling, key rates, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import torch  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from conftest import copy_lfw_people  # noqa: E402

from fuzzykey.cli import main  # noqa: E402
from fuzzykey.errors import InvalidArgument, KeyMismatch  # noqa: E402
from fuzzykey.evaluation.metrics import (
    cosine_scores,  # noqa: E402
    eer,  # noqa: E402
)
from fuzzykey.evaluation.robustness_lfw import (  # noqa: E402
    DVSPFaceEncoder,
    HeadConfig,
    attack,
    attack_pairs,
    dvsp_keygen,
    head_features,
    key_rates,
    train_head,
)

# half A (train): Tony_Blair, George_W_Bush; half B (test): the others
PEOPLE = {"Tony_Blair": 3, "George_W_Bush": 3, "Colin_Powell": 3, "Ariel_Sharon": 2, "Hugo_Chavez": 2}


def clusters(n_classes: int, per_class: int, noise: float, seed: int, dim: int = 128, noise_seed: int = 0):
    """Unit embeddings around ``n_classes`` random unit centres (from ``seed``), and their labels."""
    centres = np.random.default_rng(seed).normal(size=(n_classes, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.repeat(np.arange(n_classes), per_class)
    rng = np.random.default_rng([seed, noise_seed])
    x = centres[labels] + noise * rng.normal(size=(len(labels), dim)) / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels.astype(np.int64)


@pytest.fixture(scope="module")
def trained():
    x, y = clusters(8, 20, 0.6, seed=1)
    backbone, head = train_head(x, y, HeadConfig(epochs=15, hidden=64, dim=128), seed=0)
    return backbone, head


def test_attack_pairs_pick_different_people_each_pair_once():
    labels = np.repeat(np.arange(6), 3)
    pairs = attack_pairs(labels, 15, np.random.default_rng(0))
    assert pairs.shape == (15, 2)
    a, b = labels[pairs[:, 0]], labels[pairs[:, 1]]
    assert np.all(a != b)
    unordered = {(min(p, q), max(p, q)) for p, q in zip(a.tolist(), b.tolist(), strict=True)}
    assert len(unordered) == 15  # all 6*5/2 pairs of people, each once
    assert len(attack_pairs(labels, 100, np.random.default_rng(0))) == 15  # no more exist
    np.testing.assert_array_equal(pairs, attack_pairs(labels, 15, np.random.default_rng(0)))
    with pytest.raises(InvalidArgument, match="two labels"):
        attack_pairs(np.zeros(4, dtype=np.int64), 1, np.random.default_rng(0))


def test_trained_head_separates_unseen_samples_of_its_classes(trained):
    backbone, head = trained
    xt, yt = clusters(8, 10, 0.6, seed=1, noise_seed=1)  # same centres, fresh samples
    f = head_features(backbone, head, xt)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, rtol=1e-5)
    g, i = cosine_scores(f, yt)
    assert eer(g, i) < 0.05
    assert not any(p.requires_grad for p in [*backbone.parameters(), *head.parameters()])


def test_train_head_is_deterministic_given_the_seed():
    x, y = clusters(3, 6, 0.5, seed=2)
    cfg = HeadConfig(epochs=2, hidden=16, dim=8)
    f1 = head_features(*train_head(x, y, cfg, seed=5), x)
    f2 = head_features(*train_head(x, y, cfg, seed=5), x)
    f3 = head_features(*train_head(x, y, cfg, seed=6), x)
    np.testing.assert_array_equal(f1, f2)
    assert not np.array_equal(f1, f3)


@pytest.mark.parametrize(
    "emb, labels, match",
    [
        (np.full((4, 8), np.nan, np.float32), np.array([0, 0, 1, 1]), "finite"),
        (np.zeros((4, 8), np.int64), np.array([0, 0, 1, 1]), "float"),
        (np.ones((4, 8), np.float32), np.array([0, 1]), r"labels must have shape \(4,\)"),
        (np.ones((4, 8), np.float32), np.zeros(4, np.int64), "two classes"),
    ],
)
def test_train_head_rejects_bad_input(emb, labels, match):
    with pytest.raises(InvalidArgument, match=match):
        train_head(emb, labels, HeadConfig(epochs=1))


class _FixedEncoder:
    name, dim, input_size = "fixed", 128, 112

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def embed(self, faces):
        return self.table[np.asarray(faces)[:, 0, 0, 0]]


def test_dvsp_encoder_composes_and_names_its_weights(trained):
    backbone, head = trained
    x, _ = clusters(8, 20, 0.6, seed=1)
    enc = DVSPFaceEncoder(_FixedEncoder(x), backbone, head)
    faces = np.zeros((3, 112, 112, 3), np.uint8)
    faces[:, 0, 0, 0] = [4, 0, 7]
    np.testing.assert_array_equal(enc.embed(faces), head_features(backbone, head, x[[4, 0, 7]]))
    assert enc.name.startswith("fixed+dvsp-") and len(enc.name) == len("fixed+dvsp-") + 16
    other_backbone, other_head = train_head(x, np.repeat(np.arange(8), 20), HeadConfig(epochs=1, hidden=64))
    assert DVSPFaceEncoder(_FixedEncoder(x), other_backbone, other_head).name != enc.name
    assert enc.dim == 128 and "dvsp" in repr(enc)


def test_keygen_on_dvsp_features_reproduces_for_the_person_only(trained):
    backbone, head = trained
    x, y = clusters(8, 20, 0.6, seed=1)
    enc = DVSPFaceEncoder(_FixedEncoder(x), backbone, head)
    f = head_features(backbone, head, x)
    kg = dvsp_keygen(enc, f)
    assert kg.encoder_name == enc.name
    secret = bytes(range(32))
    key, helper = kg.enroll_embedding(f[0], secret=secret)
    assert kg.reproduce_embedding(f[1], helper, secret=secret) == key  # same class
    with pytest.raises(KeyMismatch):
        kg.reproduce_embedding(f[25], helper, secret=secret)  # class 1


def test_key_rates_on_separated_classes(trained):
    backbone, head = trained
    x, y = clusters(8, 20, 0.6, seed=1)
    f = head_features(backbone, head, x)
    kg = dvsp_keygen(DVSPFaceEncoder(_FixedEncoder(x), backbone, head), f)
    rates = key_rates(kg, f, y, impostors=2000, keygen_impostors=5, seed=0)
    for mode in ("secret", "face-only"):
        r = rates[mode]
        assert r["default"]["n_genuine"] == 8 * 15  # pairs among each class's first 6 samples
        assert r["default"]["n_impostor"] == 2000
        assert r["keygen"]["n_genuine"] == 8 * 5 and r["keygen"]["n_impostor"] == 8 * 5
        assert r["keygen"]["far"] <= 0.1 and r["default"]["far"] <= 0.1  # classes overlap a little
    assert rates["secret"]["keygen"]["frr"] <= 0.1 and rates["secret"]["default"]["frr"] <= 0.1
    assert rates["secret"]["default"]["t"] == kg.secret_code.t
    best = rates["secret"]["far_le_0.1%"]
    assert best is not None and best["far"] <= 1e-3


def test_attack_reaches_a_reachable_threshold_through_a_toy_model():
    crops = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    pairs = np.array([[0, 1], [1, 2]])
    done = []
    success, l2 = attack(
        torch.nn.Identity(), crops, pairs, 0.9, box=(-2.0, 2.0), lr=0.05, progress=done.append
    )
    assert success.all() and np.all(np.isfinite(l2)) and sum(done) == 2
    assert 0.5 < l2[0] < 1.2  # angle pi/2 down to acos(0.9): about sin(pi/2 - 0.451) = 0.90


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_lfw_people(tmp_path_factory.mktemp("lfw-small") / "images", PEOPLE)


def test_lfw_command_quick_writes_the_documented_json(small_set, tmp_path, monkeypatch):
    monkeypatch.setenv("FUZZYKEY_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "lfw.json"
    result = CliRunner().invoke(
        main,
        ["robustness", "lfw", "--images", str(small_set), "--quick", "--impostors", "50", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "sface" in result.output and "dvsp" in result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc["features"]) == {"sface", "dvsp"}
    for r in doc["features"].values():
        assert 0.0 <= r["eer"] <= 1.0 and -1.0 <= r["threshold"] <= 1.0
        assert r["attempts"] == 2 and len(r["l2"]) == 2
        assert r["attack_failures"] == sum(v is None for v in r["l2"])
        for mode in ("secret", "face-only"):
            keys = r["keys"][mode]
            assert {"frr", "far", "n_genuine", "n_impostor"} <= keys["keygen"].keys()
            assert keys["keygen"]["enrollments"] == 3  # half-B people with 2+ photos
    assert doc["features"]["dvsp"]["encoder"].startswith("sface-2021dec-int8bq+dvsp-")
    assert doc["data"]["train"].startswith("half A: 6 photos of 2 people")
    assert doc["config"]["quick"] is True


def test_lfw_command_reports_bad_folders_in_one_line(small_set, tmp_path, monkeypatch):
    monkeypatch.setenv("FUZZYKEY_CACHE", str(tmp_path / "cache"))
    missing = CliRunner().invoke(main, ["robustness", "lfw", "--images", str(tmp_path / "nope"), "--quick"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    only_b = tmp_path / "only-b"
    for person in ("Colin_Powell", "Ariel_Sharon"):
        shutil.copytree(small_set / person, only_b / person)
    res = CliRunner().invoke(main, ["robustness", "lfw", "--images", str(only_b), "--quick"])
    assert res.exit_code == 2 and "half-A people" in res.output
