"""fuzzykey.evaluation.realpath: keys through KeyGen itself, counted; a wrong key is a bug, not a count."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fuzzykey import KeyGen
from fuzzykey.errors import FuzzyKeyError, InvalidArgument
from fuzzykey.evaluation.distances import face_distances
from fuzzykey.evaluation.realpath import KeyCounts, Trial, attempts, count_keys


def turned(x: np.ndarray, degrees: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector at ``degrees`` from the unit vector ``x``."""
    d = rng.standard_normal(x.shape)
    d -= (d @ x) * x
    d /= np.linalg.norm(d)
    a = np.radians(degrees)
    return np.cos(a) * x + np.sin(a) * d


@pytest.fixture(scope="module")
def faces() -> tuple[np.ndarray, list[Trial]]:
    """Four enrollees, each with probes from 10 to 70 degrees away and two other enrollees as impostors."""
    rng = np.random.default_rng(11)
    base = rng.standard_normal((4, 128))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    rows, trials = list(base), []
    for i in range(4):
        first = len(rows)
        rows += [turned(base[i], deg, rng) for deg in (10, 25, 35, 40, 45, 55, 70)]
        trials.append(Trial(i, genuine=range(first, len(rows)), impostors=[(i + 1) % 4, (i + 2) % 4]))
    return np.array(rows, dtype=np.float32), trials


def test_face_only_counts_equal_the_hamming_distance_prediction(faces):
    """A bounded-distance decoder reproduces exactly when d_H <= t: the real path must agree."""
    emb, trials = faces
    kg = KeyGen()
    counts = count_keys(kg, "face-only", emb, trials)
    genuine = np.array([[t.enroll[0], g] for t in trials for g in t.genuine])
    impostor = np.array([[t.enroll[0], i] for t in trials for i in t.impostors])
    d_gen = face_distances(kg.face_binarizer, emb, genuine)
    d_imp = face_distances(kg.face_binarizer, emb, impostor)
    predicted = int(np.sum(d_gen <= kg.face_code.t))
    assert 0 < predicted < len(genuine)  # the probes straddle t: both outcomes are checked
    assert counts == KeyCounts(
        enrollments=4,
        genuine=len(genuine),
        genuine_keys=predicted,
        impostor=len(impostor),
        impostor_keys=int(np.sum(d_imp <= kg.face_code.t)),
    )
    assert counts.frr == 1.0 - predicted / len(genuine) and counts.far == 0.0


def test_secret_mode_gives_each_enrollment_its_own_secret(faces):
    emb, trials = faces
    seen = list(attempts(KeyGen(), "secret", emb, trials[:2]))
    assert all(len(a.secret or b"") == 32 for a in seen) and seen[0].secret != seen[1].secret
    assert all(a.reproduced[0] for a in seen)  # 10 degrees away: always a key
    assert all(a.impostor_keys == 0 for a in seen)
    assert [a.genuine_keys for a in seen] == [int(a.reproduced[:7].sum()) for a in seen]


def test_multi_row_enrollment_and_no_probes():
    emb = np.random.default_rng(0).standard_normal((3, 128)).astype(np.float32)
    (only,) = attempts(KeyGen(), "face-only", emb, [Trial([0, 1, 2])])
    assert only.reproduced.shape == (0,) and only.genuine_keys == only.impostor_keys == 0
    counts = KeyCounts().add(only)
    assert counts.enrollments == 1 and math.isnan(counts.frr) and math.isnan(counts.far)


def test_a_wrong_key_raises_instead_of_counting(faces, monkeypatch):
    emb, trials = faces
    kg = KeyGen()
    monkeypatch.setattr(kg, "reproduce_embeddings", lambda embs, helper, secret=None: [None, b"\0" * 32])
    with pytest.raises(FuzzyKeyError, match=r"probe row 5 a key other than the one enrolled from rows \[0\]"):
        count_keys(kg, "face-only", emb, [Trial(0, genuine=[4], impostors=[5])])


@pytest.mark.parametrize(
    "args, match",
    [
        (([],), "at least one enrollment row"),
        ((0, [1.5]), r"genuine must be row indices \(ints\), got shape \(1,\), dtype float64"),
        ((0, (), [[1, 2]]), r"impostors must be row indices \(ints\), got shape \(1, 2\)"),
    ],
)
def test_bad_trials_are_refused(args, match):
    with pytest.raises(InvalidArgument, match=match):
        Trial(*args)
