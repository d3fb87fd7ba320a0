"""fuzzykey.evaluation.zlbench and the zero-leakage attacks: counts against brute force and the real path."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from fuzzykey import InvalidArgument, KeyMismatch
from fuzzykey.evaluation.attacks import (
    guesswork_attack,
    ks_uniform,
    mutual_information_bits,
    position_leakage,
)
from fuzzykey.evaluation.zlbench import (
    Attempts,
    count_keys,
    dictionary_keys,
    enrollments,
    far_bound,
    frr_sweep,
    genuine_attempts,
    measure_zero_leakage,
)
from fuzzykey.facekeys import ZeroLeakageKeys
from fuzzykey.kdf import Argon2id

CHEAP = Argon2id(1, 64, 1)


def model_faces(
    zk: ZeroLeakageKeys, people: int, photos: int, rng: np.random.Generator, twins: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings drawn from the genuine model of the transform: each person a point z, each
    photo sqrt(rho) z + sqrt(1 - rho) noise (two photos correlate by rho), mapped back to
    embeddings. The last ``twins`` people copy an earlier person's point with a little noise:
    other people whose photos can open each other's keys."""
    t = zk.transform
    pinv = np.linalg.pinv(t.matrix)
    r = t.rho_for(1)
    z = rng.standard_normal((people, t.n_coords))
    for i in range(twins):
        z[people - 1 - i] = z[i] + 0.15 * rng.standard_normal(t.n_coords)
    rows, labels = [], []
    for p in range(people):
        for _ in range(photos):
            zp = np.sqrt(r) * z[p] + np.sqrt(1 - r) * rng.standard_normal(t.n_coords)
            rows.append(pinv @ zp + t.mean)
            labels.append(p)
    x = np.array(rows)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.array(labels)


@pytest.fixture(scope="module")
def zk() -> ZeroLeakageKeys:
    return ZeroLeakageKeys(kdf=CHEAP)


@pytest.fixture(scope="module")
def faces(zk: ZeroLeakageKeys) -> tuple[np.ndarray, np.ndarray]:
    return model_faces(zk, 40, 4, np.random.default_rng(3), twins=6)


# -- attempts --------------------------------------------------------------------------------------
def test_genuine_attempts_and_enrollments_follow_the_protocol() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    one = genuine_attempts(labels, 1)
    assert one.enroll.ravel().tolist() == [0, 0, 1, 3, 6, 6, 6, 7, 7, 8]
    assert one.probe.tolist() == [1, 2, 2, 4, 7, 8, 9, 8, 9, 9]
    three = genuine_attempts(labels, 3)
    assert three.enroll.tolist() == [[6, 7, 8]] and three.probe.tolist() == [9]
    assert genuine_attempts(labels, 1, first=2).probe.tolist() == [1, 4, 7]  # first 2 photos only
    assert enrollments(labels, 3).tolist() == [[0, 1, 2], [6, 7, 8]]
    assert [(e.tolist(), rows.tolist()) for e, rows in one.groups()][:2] == [([0], [0, 1]), ([1], [2])]
    for bad in (0, 6, True, 1.0):
        with pytest.raises(InvalidArgument, match="photos"):
            genuine_attempts(labels, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="one-dimensional"):
        enrollments(labels.reshape(2, 5), 1)
    with pytest.raises(InvalidArgument, match="first"):
        genuine_attempts(labels, 1, first=1)


def test_far_bound() -> None:
    assert far_bound(0, 300)["minus_log2_far_95"] == pytest.approx(-math.log2(3 / 300))
    b = far_bound(4, 1_000_000)
    assert b["far"] == 4e-6 and b["minus_log2_far_95"] == pytest.approx(-math.log2(10e-6))
    for keys, attempts in ((1, 0), (-1, 10), (11, 10)):
        with pytest.raises(InvalidArgument):
            far_bound(keys, attempts)


# -- counting keys ---------------------------------------------------------------------------------
def test_count_keys_agrees_with_enroll_and_reproduce(zk: ZeroLeakageKeys, faces) -> None:
    """Keys counted from the decoder and gate are exactly those enroll/reproduce give."""
    x, labels = faces
    genuine = genuine_attempts(labels, 1)
    twins = [(i, j) for i in range(6) for j in np.flatnonzero(labels == 39 - i)[:2]]
    first = {int(p): int(np.flatnonzero(labels == p)[0]) for p in np.unique(labels)}
    imp = Attempts(np.array([[first[i]] for i, _ in twins]), np.array([j for _, j in twins]))
    for attempts in (genuine, imp):
        _, keys = count_keys(zk, x, attempts)
        real = []
        for e, p in zip(attempts.enroll, attempts.probe, strict=True):
            key, helper = zk.enroll_embedding(x[e[0]])
            real.append(zk.reproduce_embeddings(x[p][None], helper)[0] == key)
        assert keys.tolist() == real
    assert count_keys(zk, x, genuine)[1].mean() > 0.5  # the model's people mostly get their keys
    assert count_keys(zk, x, imp)[1].any()  # and the twins open some of each other's


def test_two_factor_with_the_secret_works_and_with_a_wrong_one_never(zk: ZeroLeakageKeys, faces) -> None:
    x, labels = faces
    genuine = genuine_attempts(labels, 1)
    _, stolen = count_keys(zk, x, genuine, two_factor=True)
    decoded, wrong = count_keys(zk, x, genuine, two_factor=True, wrong_secret=True)
    assert stolen.mean() > 0.5
    assert not wrong.any() and not decoded.any()
    with pytest.raises(InvalidArgument, match="two_factor"):
        count_keys(zk, x, genuine, wrong_secret=True)
    for bad in (Attempts(np.array([[0]]), np.array([len(x)])), Attempts(np.array([[-1]]), np.array([0])),
                Attempts(np.array([[0], [1]]), np.array([2]))):
        with pytest.raises(InvalidArgument, match="indices into the 160 embeddings"):
            count_keys(zk, x, bad)


@pytest.mark.parametrize("two_factor", [False, True])
@pytest.mark.parametrize("gate", [float("-inf"), None])
def test_dictionary_counts_every_other_persons_photo_exactly(faces, two_factor: bool, gate) -> None:
    """The gate-first dictionary equals decoding every attempt (brute force), hit for hit."""
    zk = ZeroLeakageKeys(kdf=CHEAP, gate=gate)
    x, labels = faces
    enroll = enrollments(labels, 1)
    d = dictionary_keys(zk, x, labels, enroll, two_factor=two_factor, seed=5)
    pairs = [(int(e[0]), int(p)) for e in enroll for p in np.flatnonzero(labels != labels[e[0]])]
    everything = Attempts(np.array([[a] for a, _ in pairs]), np.array([b for _, b in pairs]))
    _, keys = count_keys(zk, x, everything, two_factor=two_factor, seed=5)
    assert d.attempts == len(pairs) == 40 * 156
    assert d.keys == int(keys.sum()) > 0
    assert sorted(d.hits) == sorted(p for p, k in zip(pairs, keys, strict=True) if k)
    twins = {(i, 39 - i) for i in range(6)} | {(39 - i, i) for i in range(6)}
    assert {(int(labels[a]), int(labels[b])) for a, b in d.hits} <= twins
    if gate is not None:
        assert d.gate_passed == len(pairs)


def test_dictionary_of_several_photos_and_bad_input(zk: ZeroLeakageKeys, faces) -> None:
    x, labels = faces
    d = dictionary_keys(zk, x, labels, enrollments(labels, 3))
    assert d.attempts == 40 * 156
    with pytest.raises(InvalidArgument, match="row indices"):
        dictionary_keys(zk, x, labels, np.array([[len(x)]]))
    with pytest.raises(InvalidArgument, match="one entry per embedding"):
        dictionary_keys(zk, x, labels[:-1], enrollments(labels, 1))
    bad = x.copy()
    bad[3, 0] = np.nan
    with pytest.raises(InvalidArgument, match="NaN"):
        dictionary_keys(zk, bad, labels, enrollments(labels, 1))


def test_frr_sweep_grows_with_k(faces) -> None:
    x, labels = faces
    sweep = frr_sweep(x, labels, ks=(15, 24), photos=(1, 3), zk_for=lambda k: ZeroLeakageKeys(k=k, kdf=CHEAP))
    assert set(sweep) == {"1", "3"} and set(sweep["1"]) == {"15", "24"}
    assert sweep["1"]["15"] <= sweep["1"]["24"]


# -- attacks ---------------------------------------------------------------------------------------
def test_guesswork_of_model_faces_is_that_of_a_uniform_guess(zk: ZeroLeakageKeys) -> None:
    """Faces that follow the model leave the positions uninformative: the true codeword's rank
    is uniform over 2^k, whatever the attacker's population model."""
    zk15 = ZeroLeakageKeys(k=15, kdf=CHEAP)
    rng = np.random.default_rng(11)
    x, labels = model_faces(zk15, 400, 1, rng)
    result = guesswork_attack(zk15, list(x[:60]), x[60:], seed=2)
    s = result.summary()
    assert s["helpers"] == 60 and s["uniform_would_be"] == 2**14 + 0.5
    assert np.all((result.ranks >= 1) & (result.ranks <= 2**15))
    assert 0.3 * 2**15 < result.ranks.mean() < 0.7 * 2**15
    assert stats.kstest(result.ranks / 2**15, "uniform").pvalue > 1e-3
    stolen = guesswork_attack(zk15, list(x[:20]), x[60:], secrets=[bytes([i]) * 32 for i in range(20)])
    assert stolen.ranks.shape == (20,)


def test_guesswork_finds_a_leaky_position() -> None:
    """A population in which a coordinate's bit follows its position is used by the attacker:
    against helpers whose positions leak the same way, the true codeword ranks near the top."""
    zk15 = ZeroLeakageKeys(k=15, kdf=CHEAP)
    t = zk15.transform
    pinv = np.linalg.pinv(t.matrix)
    rng = np.random.default_rng(4)
    # every coordinate is +-0.25 or +-2: each bit's position (inside its half) says how far out
    # the value is, and the sign picks the half: bits 0 near 0.25 / bits 1 near 2 in each half
    mags = np.where(rng.random((600, t.n_coords)) < 0.5, 0.25, 2.0)
    z = mags * np.where(mags > 1, 1.0, -1.0)
    x = z @ pinv.T + t.mean
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    leaky = guesswork_attack(zk15, list(x[:10]), x[10:], seed=1)
    assert np.median(leaky.ranks) < 50


def test_guesswork_bad_input(zk: ZeroLeakageKeys, faces) -> None:
    x, _ = faces
    with pytest.raises(InvalidArgument, match="population"):
        guesswork_attack(zk, [x[0]], x[:1])
    with pytest.raises(InvalidArgument, match="secrets"):
        guesswork_attack(zk, [x[0]], x, secrets=[None, None])
    with pytest.raises(InvalidArgument, match="bins"):
        guesswork_attack(zk, [x[0]], x, bins=1)
    with pytest.raises(InvalidArgument, match="no helper"):
        guesswork_attack(zk, [], x).summary()


@pytest.mark.parametrize("n, tol", [(40, 0.02), (500, 5e-3), (20_000, 5e-3)])
def test_ks_uniform_matches_scipy(n: int, tol: float) -> None:
    rng = np.random.default_rng(n)
    for u in (rng.random(n), rng.random(n) ** 1.15, np.sort(rng.random(n))):
        d, p = ks_uniform(u)
        ref = stats.kstest(u, "uniform")
        assert d == pytest.approx(ref.statistic, abs=1e-12)
        assert p == pytest.approx(ref.pvalue, abs=tol)
        assert (p < 0.01) == (ref.pvalue < 0.01)
    for bad in ([], [0.5, np.nan], [1.5], [-0.1]):
        with pytest.raises(InvalidArgument):
            ks_uniform(bad)


def test_mutual_information_against_a_direct_count() -> None:
    rng = np.random.default_rng(9)
    cells = rng.integers(0, 8, (5000, 3))
    noisy = (cells[:, 2] >= 6) ^ (rng.random(5000) < 0.1)
    bits = np.stack([rng.integers(0, 2, 5000), cells[:, 1] >= 4, noisy], 1)
    mi = mutual_information_bits(bits.astype(np.uint8), cells, 8)
    for j in range(3):  # plug-in by a dictionary count, then the same bias term
        joint: dict[tuple[int, int], int] = {}
        for b, q in zip(bits[:, j].tolist(), cells[:, j].tolist(), strict=True):
            joint[(int(b), q)] = joint.get((int(b), q), 0) + 1
        pb = {b: sum(v for (bb, _), v in joint.items() if bb == b) / 5000 for b in (0, 1)}
        pq = {q: sum(v for (_, qq), v in joint.items() if qq == q) / 5000 for q in range(8)}
        plug = sum(v / 5000 * math.log2(v / 5000 / (pb[b] * pq[q])) for (b, q), v in joint.items())
        k_b, k_q = sum(1 for v in pb.values() if v), sum(1 for v in pq.values() if v)
        assert mi[j] == pytest.approx(plug - (len(joint) - k_b - k_q + 1) / (2 * 5000 * math.log(2)))
    assert abs(mi[0]) < 0.005 and mi[1] == pytest.approx(1.0, abs=0.01) and 0.3 < mi[2] < 0.8
    with pytest.raises(InvalidArgument):
        mutual_information_bits(bits, cells, 4)  # cells beyond the bins


def test_position_leakage_of_model_faces_is_nil() -> None:
    zk = ZeroLeakageKeys(kdf=CHEAP)
    x, _ = model_faces(zk, 1500, 1, np.random.default_rng(21))
    leak = position_leakage(zk, list(x))
    s = leak.summary()
    assert s["enrollments"] == 1500 and leak.mi_bits.shape == (128,)
    assert abs(s["mi_bits_total"]) < 0.5 and s["ks_p"] > 1e-3 and abs(s["bits_mean"] - 0.5) < 0.01
    with pytest.raises(InvalidArgument, match="at least 2"):
        position_leakage(zk, list(x[:1]))


# -- the whole measurement -------------------------------------------------------------------------
def test_measure_zero_leakage_document(faces) -> None:
    x, labels = faces
    names = [f"person_{i}" for i in range(40)]
    doc = measure_zero_leakage(
        x, labels, rows=((1, 16), (3, 20)), guesswork_helpers=8, names=names,
        zk_for=lambda k: ZeroLeakageKeys(k=k, kdf=CHEAP), sweep=False, link_non_mated=60,
    )
    assert doc["people"] == 40 and doc["images"] == 160 and "sweep" not in doc
    modes = [(r["photos"], r["k"], r["mode"]) for r in doc["rows"]]
    assert modes == [(1, 16, "face-only"), (1, 16, "two-factor, secret stolen"),
                     (3, 20, "face-only"), (3, 20, "two-factor, secret stolen")]
    one = doc["rows"][0]
    assert one["genuine"] == 40 * 6 and one["impostor"]["attempts"] == 40 * 156
    assert len(one["impostor_key_pairs"]) == one["impostor"]["keys"] > 0
    assert all(a != b and a.startswith("person_") for a, b in one["impostor_key_pairs"])
    assert doc["rows"][2]["genuine"] == 40 and doc["rows"][2]["enrollments"] == 40
    assert set(doc["guesswork"]) == {"face-only", "two-factor, secret stolen"}
    assert doc["guesswork"]["face-only"]["helpers"] == 8
    assert doc["wrong_secret"]["keys"] == 0 and doc["wrong_secret"]["attempts"] == 240
    assert doc["pipeline"]["gate"] == ZeroLeakageKeys().gate
    link = doc["linkability"]
    assert link["mated"] == 40 and 50 <= link["non_mated"] <= 60
    assert link["face-only"] > 0.5 and link["two-factor"] < link["face-only"]


def test_real_path_refuses_what_count_keys_refuses(zk: ZeroLeakageKeys, faces) -> None:
    """An impostor attempt counted as refused raises KeyMismatch through the real path."""
    x, labels = faces
    a, b = int(np.flatnonzero(labels == 10)[0]), int(np.flatnonzero(labels == 11)[0])
    _, keys = count_keys(zk, x, Attempts(np.array([[a]]), np.array([b])))
    assert not keys[0]
    _, helper = zk.enroll_embedding(x[a])
    with pytest.raises(KeyMismatch):
        zk.reproduce_embedding(x[b], helper)
