"""fuzzykey.binarizers: the public projections, the secret rotation, both binarizers.

The reference computations here are written from the docstrings (SHAKE-256 +
Box-Muller, HMAC-SHA3-256 rotation seeds, ``(x - mu) / |x - mu| @ Q.T @ P.T``) in
float64 and never call the code under test for the quantity they check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzykey import BCHCode, FuzzyExtractor, KeyGen, KeyMismatch
from fuzzykey.binarizers import (
    PROJECTION_LABEL,
    Center,
    SecretSelectBinarizer,
    SignBinarizer,
    binarizer_from_description,
    check_embeddings,
    default_center,
    haar_rotation,
    public_projections,
    rotate,
    shake_normals,
)
from fuzzykey.errors import InvalidArgument
from fuzzykey.header import read_helper_header

DIM = 128
N_BITS, N_CAND = 255, 2048  # small SecretSelect setting: fast, same code paths as 1023 of 32768
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def unit_embeddings(seed: int, rows: int) -> np.ndarray:
    """Random unit vectors, float32 (SFace embeddings have unit norm too)."""
    x = np.random.default_rng(seed).standard_normal((rows, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def reference_seed(secret: bytes, nonce: bytes) -> bytes:
    """Rotation seed as documented: HMAC-SHA3-256(secret, "fuzzykey/v1/rotation\\0" || nonce).
    Part of the helper format: the helper stores the nonce, not the seed."""
    return hmac.new(secret, b"fuzzykey/v1/rotation\x00" + nonce, hashlib.sha3_256).digest()


def reference_projections(x, seed: bytes, n_candidates: int, center=None) -> np.ndarray:
    """y = (x - mu) / |x - mu| @ Q.T @ P.T in float64, for every candidate row."""
    mu = (center or default_center()).values.astype(np.float64)
    c = np.asarray(x, dtype=np.float64) - mu
    z = c / np.linalg.norm(c, axis=-1, keepdims=True)
    q = haar_rotation(seed, DIM)
    p = public_projections(n_candidates, DIM).astype(np.float64)
    return z @ q.T @ p.T


def fraction_different(a, b) -> float:
    return float(np.mean(np.asarray(a) != np.asarray(b)))


@pytest.fixture(scope="module")
def small() -> SecretSelectBinarizer:
    return SecretSelectBinarizer(N_BITS, N_CAND)


# --------------------------------------------------------------------------- shake_normals


def reference_normals(label: bytes, count: int) -> list[float]:
    """The docstring's recipe with hashlib + math only: 8 bytes per pair, two
    little-endian uint32 a, b; u1 = (a + 1) / 2^32, u2 = b / 2^32,
    r = sqrt(-2 ln u1), normals r cos(2 pi u2), r sin(2 pi u2)."""
    pairs = (count + 1) // 2
    stream = hashlib.shake_256(label).digest(8 * pairs)
    out: list[float] = []
    for i in range(pairs):
        a, b = struct.unpack_from("<II", stream, 8 * i)
        u1 = (a + 1) / 2**32
        u2 = b / 2**32
        r = math.sqrt(-2.0 * math.log(u1))
        out += [r * math.cos(2.0 * math.pi * u2), r * math.sin(2.0 * math.pi * u2)]
    return out[:count]


@pytest.mark.parametrize("label", [b"", b"fuzzykey/test", bytes(range(256))])
def test_shake_normals_matches_the_documented_recipe(label):
    got = shake_normals(label, 16)
    assert got.dtype == np.float64 and got.shape == (16,)
    np.testing.assert_allclose(got, reference_normals(label, 16), rtol=1e-12, atol=1e-13)


def test_shake_normals_is_deterministic_and_label_dependent():
    a = shake_normals(b"label", 1000)
    np.testing.assert_array_equal(a, shake_normals(b"label", 1000))
    assert fraction_different(a, shake_normals(b"label2", 1000)) == 1.0


@pytest.mark.parametrize("count", [0, 1, 2, 7, 15, 1001])
def test_shake_normals_counts_are_prefixes(count):
    """An odd count drops the second normal of the last pair; every count is a
    prefix of a longer draw."""
    got = shake_normals(b"prefix", count)
    assert got.shape == (count,)
    np.testing.assert_array_equal(got, shake_normals(b"prefix", 2000)[:count])
    np.testing.assert_allclose(got, reference_normals(b"prefix", count), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("count", [-1, 2.0, True, "3"])
def test_shake_normals_refuses_bad_counts(count):
    with pytest.raises(InvalidArgument):
        shake_normals(b"x", count)


@pytest.fixture(scope="module")
def many_normals() -> np.ndarray:
    return shake_normals(b"fuzzykey/test/moments", 200_000)


def test_shake_normals_moments(many_normals):
    z = many_normals
    assert np.all(np.isfinite(z))
    assert abs(z.mean()) < 0.015  # standard error 0.0022
    assert abs(z.var() - 1.0) < 0.02  # standard error 0.0032
    assert abs(np.mean(z**3)) < 0.04  # skewness 0
    assert abs(np.mean(z**4) - 3.0) < 0.1  # kurtosis 3
    # the two normals of a pair are independent (cos and sin of one angle)
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 0.015


def test_shake_normals_quantiles(many_normals):
    # standard normal quantiles at 1, 5, 25, 50, 75, 95, 99 %
    expected = np.array([-2.326348, -1.644854, -0.674490, 0.0, 0.674490, 1.644854, 2.326348])
    got = np.quantile(many_normals, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
    np.testing.assert_allclose(got, expected, atol=0.03)


def test_shake_normals_kolmogorov_smirnov(many_normals):
    stats = pytest.importorskip("scipy.stats")
    result = stats.kstest(many_normals, "norm")
    assert result.statistic < 0.005  # a fixed label: this is one fixed draw
    assert result.pvalue > 1e-3


# --------------------------------------------------------------------------- public_projections


def test_public_projections_pinned_values():
    # These four numbers pin the on-disk format: secret-mode helpers store indices
    # of rows of P (and face-only keys are signs of P's first rows), so changing
    # how P is generated silently breaks every stored helper. Never update them
    # without a new helper/header version.
    p = public_projections(1, DIM)
    np.testing.assert_array_equal(
        p[0, :4],
        np.array([1.9623774290084839, 1.258949637413025, 2.1774041652679443, 0.8248795866966248], np.float32),
    )


def test_haar_rotation_pinned_values():
    # The secret rotation Q is part of the stored format too: a secret-mode helper's
    # selection refers to rows of P Q, with Q from haar_rotation(HMAC(secret, nonce)).
    # Changing the construction breaks every stored helper; never update these
    # numbers without a new helper/header version.
    q = haar_rotation(b"fuzzykey test vector", 128)
    np.testing.assert_allclose(
        q[0, :4], [-0.11150169938487098, -0.16946846491974982, 0.04831762245923404, 0.11491226772169824],
        rtol=0, atol=1e-12,
    )
    np.testing.assert_allclose([q[127, 127], q[5, 77]], [-0.049679966585401955, 0.022380326252642913],
                               rtol=0, atol=1e-12)


def test_public_projections_block_layout():
    """Rows come in blocks of 1024 from SHAKE-256 labels "<label>/<dim>/<block>"."""
    p = public_projections(1030, DIM)
    for row in (0, 1, 1023, 1024, 1029):
        block, offset = divmod(row, 1024)
        label = PROJECTION_LABEL + b"/%d/%d" % (DIM, block)
        want = np.asarray(reference_normals(label, (offset + 1) * DIM)[offset * DIM :], np.float32)
        np.testing.assert_allclose(p[row], want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dim", [128, 16])
def test_public_projections_prefix_shape_dtype(dim):
    big = public_projections(2500, dim)
    assert big.shape == (2500, dim) and big.dtype == np.float32 and big.flags.c_contiguous
    for rows in (1, 5, 1023, 1024, 1025, 2048):
        small = public_projections(rows, dim)
        assert small.shape == (rows, dim)
        np.testing.assert_array_equal(small, big[:rows])


def test_public_projections_is_read_only():
    p = public_projections(10, DIM)
    assert not p.flags.writeable
    with pytest.raises(ValueError):
        p[0, 0] = 0.0
    assert public_projections(10, DIM) is p  # cached per process


def test_public_projections_depend_on_dim():
    a, b = public_projections(4, 16), public_projections(4, 32)
    assert fraction_different(a, b[:, :16]) == 1.0


def test_public_projections_are_gaussian():
    p = public_projections(4096, DIM).astype(np.float64)
    assert abs(p.mean()) < 0.01 and abs(p.var() - 1.0) < 0.01
    norms = np.linalg.norm(p, axis=1)
    assert abs(norms.mean() - math.sqrt(DIM)) < 0.1


# --------------------------------------------------------------------------- haar_rotation


@pytest.mark.parametrize("dim", [1, 2, 3, 16, 128])
def test_haar_rotation_is_orthogonal(dim):
    q = haar_rotation(b"seed-" + bytes([dim]), dim)
    assert q.shape == (dim, dim) and q.dtype == np.float64
    np.testing.assert_allclose(q @ q.T, np.eye(dim), atol=1e-10)
    np.testing.assert_allclose(q.T @ q, np.eye(dim), atol=1e-10)
    assert abs(abs(np.linalg.det(q)) - 1.0) < 1e-10


def test_haar_rotation_deterministic_per_seed():
    a = haar_rotation(b"one", DIM)
    np.testing.assert_array_equal(a, haar_rotation(b"one", DIM))
    b = haar_rotation(b"two", DIM)
    assert np.abs(a - b).max() > 0.1
    assert fraction_different(a, b) > 0.99


def test_haar_rotation_distribution():
    """Over many seeds: Q[i, j] has mean 0 and variance 1/dim, the diagonal has no
    sign bias (QR without the sign fix makes Q[0, 0] always one sign), tr Q has
    mean 0 and variance 1 (Haar on O(dim)), and both determinants occur."""
    dim, count = 16, 2000
    qs = np.stack([haar_rotation(b"haar/%d" % i, dim) for i in range(count)])
    q00 = qs[:, 0, 0]
    assert abs(q00.mean()) < 0.03  # standard error 0.0056
    assert abs(q00.var() * dim - 1.0) < 0.15
    entries = qs.reshape(count, -1)
    assert np.abs(entries.mean(axis=0)).max() < 0.04
    diag = np.einsum("kii->ki", qs)
    assert np.abs(diag.mean(axis=0)).max() < 0.04
    trace = diag.sum(axis=1)
    assert abs(trace.mean()) < 0.1 and abs(trace.var() - 1.0) < 0.15
    dets = np.sign(np.linalg.det(qs))
    assert 0.4 < np.mean(dets > 0) < 0.6


# --------------------------------------------------------------------------- centre and checks


def test_default_center():
    c = default_center()
    assert c.dim == DIM and c.values.dtype == np.float32 and not c.values.flags.writeable
    assert np.all(np.isfinite(c.values)) and 0.0 < np.linalg.norm(c.values) < 1.0
    assert default_center() is c
    assert c.name in repr(c)


@pytest.mark.parametrize("values", [np.zeros((2, 3)), [1.0, float("nan")], [float("inf")], 3.0])
def test_center_refuses_bad_values(values):
    with pytest.raises(InvalidArgument):
        Center("bad", values)


def test_center_does_not_freeze_the_callers_array():
    # Center keeps its own read-only copy: freezing the caller's array would make it
    # read-only for the caller, and a view's writable base could still change the
    # centre after helpers were made with it.
    mine = np.zeros(DIM, np.float32)
    center = Center("mine", mine)
    mine[0] = 1.0  # the caller's array stays the caller's
    assert center.values[0] == 0.0


def test_check_embeddings():
    x = check_embeddings(np.arange(DIM), DIM)
    assert x.shape == (1, DIM) and x.dtype == np.float32 and x.flags.c_contiguous
    assert check_embeddings(np.ones((3, DIM), np.float64), DIM).shape == (3, DIM)
    for bad in (
        np.ones(DIM - 1),
        np.ones((2, 2, DIM)),
        np.ones(DIM, bool),
        np.array(["a"] * DIM),
        np.ones(DIM, complex),
        np.full(DIM, np.inf),
    ):
        with pytest.raises(InvalidArgument):
            check_embeddings(bad, DIM)


# --------------------------------------------------------------------------- SecretSelectBinarizer


def test_rotation_seed_matches_the_documented_hmac():
    secret, nonce = b"s" * 32, bytes(range(16))
    seed = SecretSelectBinarizer.rotation_seed(secret, nonce)
    assert seed == reference_seed(secret, nonce) and len(seed) == 32
    assert SecretSelectBinarizer.rotation_seed(secret, bytes(16)) != seed
    assert SecretSelectBinarizer.rotation_seed(b"t" * 32, nonce) != seed


def test_secret_select_round_trip_and_selection_format(small):
    x = unit_embeddings(1, 4)
    seeds = [reference_seed(b"k" * 32, bytes([i]) * 16) for i in range(4)]
    bits, sel = small.enroll(x, seeds)
    assert bits.shape == sel.shape == (4, N_BITS)
    assert bits.dtype == np.uint8 and sel.dtype == np.uint16
    assert set(np.unique(bits)) <= {0, 1}
    assert np.all(np.diff(sel.astype(np.int64), axis=1) > 0)  # sorted, hence unique
    assert sel.max() < N_CAND
    for i in range(4):
        probe_bits, rel = small.reproduce(x[i], [seeds[i]], sel[i])
        np.testing.assert_array_equal(probe_bits[0], bits[i])
        assert rel.dtype == np.float32 and np.all(rel > 0)
    # per-row seeds and selections in one call
    probe_bits, _ = small.reproduce(x, seeds, sel)
    np.testing.assert_array_equal(probe_bits, bits)


@pytest.mark.parametrize("row", range(3))
def test_secret_select_matches_reference_projections(small, row):
    x = unit_embeddings(2, 3)[row]
    seed = reference_seed(b"reference secret", b"nonce %d" % row)
    bits, sel = small.enroll(x, [seed])
    y = reference_projections(x, seed, N_CAND)
    chosen = np.zeros(N_CAND, bool)
    chosen[sel[0]] = True
    # the n largest |y| (up to float32 rounding at the boundary) ...
    assert np.abs(y[chosen]).min() >= np.abs(y[~chosen]).max() - 1e-4
    assert np.count_nonzero(np.abs(y) > np.abs(y[chosen]).min() + 1e-4) <= N_BITS
    # ... and their signs
    np.testing.assert_array_equal(bits[0], (y[sel[0]] > 0).astype(np.uint8))
    # reliabilities are |y| on the selection
    _, rel = small.reproduce(x, [seed], sel[0])
    np.testing.assert_allclose(rel[0], np.abs(y[sel[0]]), rtol=1e-4, atol=1e-5)


def test_secret_select_batched_reproduce_equals_one_by_one(small):
    x = unit_embeddings(3, 6)
    seed = reference_seed(b"batch secret....", b"n" * 16)
    _, sel = small.enroll(x[0], [seed])
    bits, rel = small.reproduce(x, [seed], sel[0])  # one helper, many probes
    assert bits.shape == rel.shape == (6, N_BITS)
    for i in range(6):
        b1, r1 = small.reproduce(x[i : i + 1], [seed], sel)
        np.testing.assert_array_equal(b1[0], bits[i])
        np.testing.assert_allclose(r1[0], rel[i], rtol=1e-5, atol=1e-6)
        y = reference_projections(x[i], seed, N_CAND)[sel[0]]
        confident = np.abs(y) > 1e-4
        np.testing.assert_array_equal(bits[i][confident], (y[confident] > 0).astype(np.uint8))


def test_secret_select_per_row_seeds_and_selections(small):
    x = unit_embeddings(4, 5)
    seeds = [reference_seed(b"per-row secret..", bytes([i]) * 16) for i in range(5)]
    bits, sel = small.enroll(x, seeds)
    probes = unit_embeddings(5, 5)
    # one seed per row and one selection per row
    got, _ = small.reproduce(probes, seeds, sel)
    for i in range(5):
        y = reference_projections(probes[i], seeds[i], N_CAND)[sel[i]]
        want = (y > 0).astype(np.uint8)
        confident = np.abs(y) > 1e-4
        np.testing.assert_array_equal(got[i][confident], want[confident])
    # one seed, a selection per row; a seed per row, one selection
    got_a, _ = small.reproduce(probes, seeds[:1], sel)
    got_b, _ = small.reproduce(probes, seeds, sel[:1])
    for i in range(5):
        np.testing.assert_array_equal(got_a[i], small.reproduce(probes[i], seeds[:1], sel[i])[0][0])
        np.testing.assert_array_equal(got_b[i], small.reproduce(probes[i], [seeds[i]], sel[0])[0][0])


def test_secret_select_enroll_rows_are_independent(small):
    """Enrolling rows together equals enrolling each alone."""
    x = unit_embeddings(6, 3)
    seeds = [b"a" * 32, b"b" * 32, b"c" * 32]
    bits, sel = small.enroll(x, seeds)
    for i in range(3):
        b1, s1 = small.enroll(x[i], [seeds[i]])
        np.testing.assert_array_equal(b1[0], bits[i])
        np.testing.assert_array_equal(s1[0], sel[i])


def test_secret_select_scale_invariance(small):
    """Only the direction of x - mu counts: mu + 3 (x - mu) gives the same bits."""
    mu = default_center().values
    seed = b"scale" * 8
    for x in unit_embeddings(7, 4):
        stretched = (mu + 3.0 * (x - mu)).astype(np.float32)
        bits, sel = small.enroll(x, [seed])
        bits3, sel3 = small.enroll(stretched, [seed])
        np.testing.assert_array_equal(sel3, sel)
        np.testing.assert_array_equal(bits3, bits)
        probe_bits, rel = small.reproduce(stretched, [seed], sel[0])
        np.testing.assert_array_equal(probe_bits, bits)
        np.testing.assert_allclose(rel, small.reproduce(x, [seed], sel[0])[1], rtol=1e-4)


def test_secret_select_other_secret_gives_unrelated_bits(small):
    """On the enrolled selection, another secret's rotation agrees with the enrolled
    bits about half the time, and picks another selection."""
    x = unit_embeddings(8, 12)
    right = [reference_seed(b"right secret....", bytes([i]) * 16) for i in range(12)]
    wrong = [reference_seed(b"wrong secret....", bytes([i]) * 16) for i in range(12)]
    bits, sel = small.enroll(x, right)
    other_bits, _ = small.reproduce(x, wrong, sel)
    assert 0.42 < fraction_different(bits, other_bits) < 0.58
    _, other_sel = small.enroll(x, wrong)
    overlap = np.mean([len(np.intersect1d(a, b)) for a, b in zip(sel, other_sel, strict=True)]) / N_BITS
    assert overlap < 0.25  # chance level is N_BITS / N_CAND = 0.125


def test_secret_select_selection_depends_on_the_face(small):
    """Different faces under one rotation pick different selections, and one face
    under different rotations too: the selection depends on both."""
    x = unit_embeddings(9, 2)
    _, sel = small.enroll(x, [b"q" * 32, b"q" * 32])
    assert len(np.intersect1d(sel[0], sel[1])) < 0.4 * N_BITS


@pytest.mark.parametrize(
    "bad",
    [
        np.full(DIM, np.nan, np.float32),
        np.ones(DIM - 1, np.float32),
        np.ones((1, DIM + 1), np.float32),
        np.ones((2, 2, DIM), np.float32),
        np.array(["x"] * DIM),
        np.ones(DIM, bool),
        np.ones(DIM, complex),
    ],
    ids=["nan", "short", "long", "3d", "str", "bool", "complex"],
)
def test_secret_select_refuses_bad_embeddings(small, bad):
    seed = b"s" * 32
    with pytest.raises(InvalidArgument):
        small.enroll(bad, [seed])
    with pytest.raises(InvalidArgument):
        small.reproduce(bad, [seed], np.arange(N_BITS))


def test_secret_select_refuses_the_centre(small):
    mu = default_center().values.copy()
    with pytest.raises(InvalidArgument, match="centre"):
        small.enroll(mu, [b"s" * 32])
    with pytest.raises(InvalidArgument, match="centre"):
        small.reproduce(np.stack([unit_embeddings(10, 1)[0], mu]), [b"s" * 32], np.arange(N_BITS))


@pytest.mark.parametrize(
    "selection",
    [
        np.arange(N_BITS) + N_CAND - N_BITS + 1,  # last index == n_candidates
        np.arange(N_BITS) - 1,  # negative
        np.arange(N_BITS - 1),  # too short
        np.arange(N_BITS + 1),  # too long
        np.arange(N_BITS, dtype=np.float64),  # not integers
        np.zeros((2, 2, N_BITS), np.int64),  # 3-D
    ],
    ids=["too-large", "negative", "short", "long", "float", "3d"],
)
def test_secret_select_refuses_bad_selections(small, selection):
    with pytest.raises(InvalidArgument):
        small.reproduce(unit_embeddings(11, 1), [b"s" * 32], selection)


def test_secret_select_refuses_mismatched_row_counts(small):
    x = unit_embeddings(12, 3)
    with pytest.raises(InvalidArgument):
        small.enroll(x, [b"s" * 32])  # one seed per row
    with pytest.raises(InvalidArgument):
        small.reproduce(x, [b"s" * 32, b"t" * 32], np.arange(N_BITS))
    with pytest.raises(InvalidArgument):
        small.reproduce(x, [b"s" * 32], np.tile(np.arange(N_BITS), (2, 1)))


@pytest.mark.parametrize(
    "args",
    [(0, 10), (11, 10), (10, 65536), (1.5, 10), (True, 10)],
)
def test_secret_select_refuses_bad_parameters(args):
    with pytest.raises(InvalidArgument):
        SecretSelectBinarizer(*args)


def test_secret_select_refuses_centre_of_other_dimension():
    with pytest.raises(InvalidArgument):
        SecretSelectBinarizer(10, 20, dim=64)
    psi = SecretSelectBinarizer(10, 20, dim=3, center=Center("three", [0.1, 0.2, 0.3]))
    assert psi.dim == 3
    bits, sel = psi.enroll(np.array([1.0, 0.0, 0.0]), [b"s" * 32])
    assert bits.shape == sel.shape == (1, 10)


def test_describe_round_trip_equality_and_hash(small):
    desc = small.describe()
    assert json.loads(json.dumps(desc)) == desc
    assert desc["kind"] == "secret-select" and desc["n_bits"] == N_BITS and desc["n_candidates"] == N_CAND
    again = binarizer_from_description(desc)
    assert isinstance(again, SecretSelectBinarizer)
    assert again == small and hash(again) == hash(small)
    assert again.describe() == desc
    sign = SignBinarizer(N_BITS)
    assert binarizer_from_description(sign.describe()) == sign
    assert isinstance(binarizer_from_description(sign.describe()), SignBinarizer)
    others = [
        SecretSelectBinarizer(N_BITS, 4096),
        SecretSelectBinarizer(127, N_CAND),
        sign,
        SecretSelectBinarizer(N_BITS, N_CAND, center=Center("zero", np.zeros(DIM))),
    ]
    for other in others:
        assert other != small
    assert len({small, again, *others}) == 1 + len(others)
    assert small != "secret-select" and small != desc


@pytest.mark.parametrize(
    "desc",
    [
        None,
        "secret-select",
        {"kind": "secret-select", "version": 2, "dim": 128, "n_bits": 255, "n_candidates": 2048},
        {"kind": "other", "version": 1, "dim": 128, "n_bits": 255},
        {"kind": "sign", "version": 1, "dim": 128, "n_bits": 255, "center": "another centre"},
        {"kind": "sign", "version": 1, "dim": 128, "n_bits": 0},
    ],
)
def test_binarizer_from_description_refuses(desc):
    if isinstance(desc, dict) and "center" not in desc:
        desc = {**desc, "center": default_center().name}
    with pytest.raises(InvalidArgument):
        binarizer_from_description(desc)


def test_reprs_name_the_parameters(small):
    assert "255" in repr(small) and "2048" in repr(small)
    assert "SignBinarizer" in repr(SignBinarizer(7))


# --------------------------------------------------------------------------- SignBinarizer


def test_sign_binarizer_matches_reference():
    psi = SignBinarizer(300)
    x = unit_embeddings(13, 5)
    bits, rel = psi.bits(x)
    assert bits.shape == rel.shape == (5, 300)
    assert bits.dtype == np.uint8 and rel.dtype == np.float32
    mu = default_center().values.astype(np.float64)
    c = x.astype(np.float64) - mu
    y = (c / np.linalg.norm(c, axis=1, keepdims=True)) @ public_projections(300, DIM).astype(np.float64).T
    confident = np.abs(y) > 1e-4
    np.testing.assert_array_equal(bits[confident], (y[confident] > 0).astype(np.uint8))
    np.testing.assert_allclose(rel, np.abs(y), rtol=1e-4, atol=1e-5)
    # the first rows of P: a longer string starts with the shorter one
    np.testing.assert_array_equal(SignBinarizer(100).bits(x)[0], bits[:, :100])
    # only the direction of x - mu counts
    np.testing.assert_array_equal(psi.bits((mu + 5.0 * c).astype(np.float32))[0][confident], bits[confident])


def test_sign_binarizer_refuses_bad_input():
    psi = SignBinarizer(31)
    for bad in (
        np.full(DIM, np.nan),
        np.ones(DIM - 1),
        np.array(["x"] * DIM),
        default_center().values.copy(),
    ):
        with pytest.raises(InvalidArgument):
            psi.bits(bad)
    for n_bits in (0, 65536, 2.0):
        with pytest.raises(InvalidArgument):
            SignBinarizer(n_bits)
    with pytest.raises(InvalidArgument):
        SignBinarizer(31, dim=64)


# --------------------------------------------------------------------------- guaranteed margin


def margin_setup(x: np.ndarray, seed: bytes, sel: np.ndarray, center: Center):
    """Rows R = (P Q)[sel], the centred vector c and the margin of each selected
    projection: |R_i . z| / |R_i| for z = c / |c|."""
    q = haar_rotation(seed, DIM)
    rows = public_projections(N_CAND, DIM).astype(np.float64)[sel] @ q
    c = x.astype(np.float64) - center.values.astype(np.float64)
    z = c / np.linalg.norm(c)
    y = rows @ z
    ratio = np.abs(y) / np.linalg.norm(rows, axis=1)
    return rows, c, y, ratio


def perturbation(rows, c, y, ratio, direction_seed: int, fraction: float, worst: bool) -> np.ndarray:
    """A perturbation of the centred vector of norm fraction * |c| * min_i ratio_i:
    a random direction, or the one that pushes the tightest row towards zero."""
    if worst:
        j = int(np.argmin(ratio))
        direction = -np.sign(y[j]) * rows[j]
    else:
        direction = np.random.default_rng(direction_seed).standard_normal(DIM)
    return fraction * np.linalg.norm(c) * ratio.min() * direction / np.linalg.norm(direction)


@PROPS
@given(
    x_seed=st.integers(0, 2**32 - 1),
    direction_seed=st.integers(0, 2**32 - 1),
    fraction=st.floats(0.0, 0.99),
    worst=st.booleans(),
)
def test_bits_survive_noise_within_the_margin(x_seed, direction_seed, fraction, worst):
    """|R_i . e| <= |R_i| |e| < |R_i . c| for every selected row when
    |e| < |c| min_i |y_i| / |R_i|, so no selected sign changes."""
    psi = SecretSelectBinarizer(N_BITS, N_CAND)
    center = default_center()
    x = unit_embeddings(x_seed, 1)[0]
    seed = reference_seed(b"margin secret...", x_seed.to_bytes(16, "big"))
    bits, sel = psi.enroll(x, [seed])
    rows, c, y, ratio = margin_setup(x, seed, sel[0], center)
    e = perturbation(rows, c, y, ratio, direction_seed, fraction, worst)
    probe = (center.values.astype(np.float64) + c + e).astype(np.float32)
    probe_bits, _ = psi.reproduce(probe, [seed], sel[0])
    np.testing.assert_array_equal(probe_bits[0], bits[0])


@pytest.mark.parametrize("x_seed", range(3))
def test_noise_beyond_the_margin_flips_the_tightest_bit(x_seed):
    """The margin is tight: pushing the tightest row 20 % past it flips that bit."""
    psi = SecretSelectBinarizer(N_BITS, N_CAND)
    center = default_center()
    x = unit_embeddings(100 + x_seed, 1)[0]
    seed = b"tight" * 8
    bits, sel = psi.enroll(x, [seed])
    rows, c, y, ratio = margin_setup(x, seed, sel[0], center)
    e = perturbation(rows, c, y, ratio, 0, 1.2, worst=True)
    probe = (center.values.astype(np.float64) + c + e).astype(np.float32)
    probe_bits, _ = psi.reproduce(probe, [seed], sel[0])
    j = int(np.argmin(ratio))
    assert probe_bits[0, j] != bits[0, j]


ZERO = Center("zero-test-centre", np.zeros(DIM))
SMALL_CODE_T = 20


def small_keygen(**kwargs) -> KeyGen:
    """KeyGen with 255 of 2048 projections around a zero centre and BCH(255, t=20).

    With a zero centre the probe's centred vector is the probe itself, whatever
    KeyGen does about the probe's norm, so a perturbation e of it is exactly e."""
    return KeyGen(
        secret_binarizer=SecretSelectBinarizer(N_BITS, N_CAND, center=ZERO),
        secret_code=BCHCode(8, SMALL_CODE_T),
        **kwargs,
    )


def helper_selection(helper: bytes) -> tuple[bytes, np.ndarray]:
    """(nonce, selection) from a KeyGen helper header: hex nonce, base64 of <u2 indices."""
    _, header = read_helper_header(helper)
    nonce = bytes.fromhex(header["nonce"])
    selection = np.frombuffer(base64.b64decode(header["selection"]), dtype="<u2").astype(np.int64)
    return nonce, selection


@pytest.fixture(scope="module")
def small_kg() -> KeyGen:
    return small_keygen()


@PROPS
@given(
    x_seed=st.integers(0, 2**32 - 1),
    direction_seed=st.integers(0, 2**32 - 1),
    fraction=st.floats(0.0, 0.99),
    worst=st.booleans(),
)
def test_key_survives_noise_within_the_margin(small_kg, x_seed, direction_seed, fraction, worst):
    secret = b"keygen margin secret"
    x = unit_embeddings(x_seed, 1)[0]
    key, helper = small_kg.enroll_embedding(x, secret=secret)
    nonce, sel = helper_selection(helper)
    seed = reference_seed(secret, nonce)
    rows, c, y, ratio = margin_setup(x, seed, sel, ZERO)
    e = perturbation(rows, c, y, ratio, direction_seed, fraction, worst)
    probe = (c + e).astype(np.float32)
    # identical bits, checked independently of KeyGen ...
    probe_y = rows @ (c + e)
    np.testing.assert_array_equal(np.sign(probe_y), np.sign(y))
    # ... so the key comes back
    assert small_kg.reproduce_embedding(probe, helper, secret=secret) == key


def test_t_plus_one_flips_defeat_decoding(small_kg):
    """At the extractor: the enrolled bits (recomputed from the helper's selection)
    with t flips give the key, with t + 1 flips never. The extractor is built here
    with KeyGen's documented info label, which is part of the key derivation."""
    secret = b"t plus one secret"
    x = unit_embeddings(200, 1)[0]
    key, helper = small_kg.enroll_embedding(x, secret=secret)
    nonce, sel = helper_selection(helper)
    y = reference_projections(x, reference_seed(secret, nonce), N_CAND, ZERO)[sel]
    w = (y > 0).astype(np.uint8)
    fe = FuzzyExtractor(BCHCode(8, SMALL_CODE_T), 32, info=b"fuzzykey/keygen/v1\x00secret\x00")
    assert fe.reproduce(w, helper, secret=secret) == key
    rng = np.random.default_rng(0)
    for _ in range(5):
        where = rng.permutation(N_BITS)
        noisy = w.copy()
        noisy[where[:SMALL_CODE_T]] ^= 1
        assert fe.reproduce(noisy, helper, secret=secret) == key
        noisy[where[SMALL_CODE_T]] ^= 1
        with pytest.raises(KeyMismatch):
            fe.reproduce(noisy, helper, secret=secret)
    with pytest.raises(KeyMismatch):  # the right bits, without the secret
        fe.reproduce(w, helper)


@pytest.mark.parametrize("dim", [1, 2, 7, 128])
def test_rotate_applies_haar_rotation_without_forming_it(dim):
    rng = np.random.default_rng(dim)
    rows = rng.standard_normal((5, dim))
    q = haar_rotation(b"rotate", dim)
    np.testing.assert_allclose(rotate(b"rotate", rows), rows @ q.T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rotate(b"rotate", rows[0]), rows[:1] @ q.T, rtol=0, atol=1e-12)
