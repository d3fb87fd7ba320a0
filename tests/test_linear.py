"""LinearCode: exact ML decoding against brute force, the tie rule, BCH, kernel sets, validation."""

from __future__ import annotations

import hashlib
import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import error_vector, random_bits, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzykey._core as core
from fuzzykey import BCHCode, InvalidArgument, ops
from fuzzykey.linear import MAX_K, MAX_N, WORKSPACE_BUDGET, LinearCode

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------
# Helpers: random codes and the brute-force decoder
# ---------------------------------------------------------------------------
def random_code(rng: np.random.Generator, k: int, n: int) -> LinearCode:
    """A uniformly random full-rank (k, n) generator (redrawn until full rank)."""
    while True:
        G = random_bits(rng, k, n)
        if gf2_rank(G) == k:
            return LinearCode(G)


def gf2_rank(G: np.ndarray) -> int:
    """Rank over GF(2), by elimination on a copy (independent of the module's)."""
    A = np.array(G, dtype=np.uint8) & 1
    rank = 0
    for col in range(A.shape[1]):
        rows = np.nonzero(A[rank:, col])[0]
        if rows.size == 0:
            continue
        pivot = rank + rows[0]
        A[[rank, pivot]] = A[[pivot, rank]]
        below = np.nonzero(A[:, col])[0]
        A[below[below != rank]] ^= A[rank]
        rank += 1
        if rank == A.shape[0]:
            break
    return rank


def all_messages(k: int) -> np.ndarray:
    """Row a = the message of integer a (bit i = m_i)."""
    a = np.arange(1 << k, dtype=np.int64)
    return ((a[:, None] >> np.arange(k)) & 1).astype(np.uint8)


def brute_scores(code: LinearCode, llr: np.ndarray) -> np.ndarray:
    """float64 S(a) for every message a, by correlating with the whole codebook."""
    codebook = (all_messages(code.k).astype(np.float64) @ code.generator.astype(np.float64)) % 2  # exact
    return (1.0 - 2.0 * codebook) @ np.asarray(llr, dtype=np.float64)


def as_int(message: np.ndarray) -> int:
    return int(sum(int(b) << i for i, b in enumerate(message)))


def tolerance(code: LinearCode, llr: np.ndarray) -> float:
    """A bound on |float32 score - exact score| (times two, for differences): the
    scatter sums at most n terms and each of the k stages rounds once, every
    partial sum bounded by sum |L|."""
    return 2.0 * (code.n + code.k + 1) * 2.0**-24 * float(np.abs(np.asarray(llr, np.float64)).sum())


def check_against_brute_force(code: LinearCode, llr: np.ndarray) -> None:
    message, margin = code.ml_decode(llr)
    scores = brute_scores(code, llr.astype(np.float32))
    order = np.sort(scores)
    best, runner_up = order[-1], order[-2]
    tol = tolerance(code, llr)
    got = scores[as_int(message)]
    assert got >= best - tol, (got, best, tol)
    assert abs(margin - (best - runner_up)) <= tol
    if best - runner_up > tol:
        assert as_int(message) == int(np.argmax(scores))


@st.composite
def code_shapes(draw, max_k: int = 12):
    k = draw(st.integers(1, max_k))
    n = draw(st.integers(k, 80))
    return k, n


# ---------------------------------------------------------------------------
# Exactness
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("k", range(1, 13))
def test_matches_brute_force_on_random_codes(k: int) -> None:
    rng = np.random.default_rng(100 + k)
    for n in sorted({k, k + 1, 2 * k + 3, 64}):
        code = random_code(rng, k, n)
        for scale in (0.1, 1.0, 30.0):
            check_against_brute_force(code, (scale * rng.standard_normal(n)).astype(np.float32))


@pytest.mark.parametrize("k,n", [(13, 40), (16, 24), (17, 30), (18, 20)])
def test_matches_brute_force_past_one_block(k: int, n: int) -> None:
    """Past 2^12 scores the transform runs in levels (blocks, superblocks, gathered
    chunks), and spans without LLR entries are skipped: n <= 24 leaves most empty."""
    rng = np.random.default_rng(k * 7 + n)
    code = random_code(rng, k, n)
    for _ in range(2):
        check_against_brute_force(code, rng.standard_normal(n).astype(np.float32))
    llr = rng.integers(-2, 3, n).astype(np.float32)  # exact scores, ties
    scores = brute_scores(code, llr)
    message, margin = code.ml_decode(llr)
    assert as_int(message) == int(np.flatnonzero(scores == scores.max())[0])
    assert margin == scores.max() - np.delete(scores, as_int(message)).max()


@PROPS
@given(shape=code_shapes(), seed=seeds)
def test_matches_brute_force_property(shape: tuple[int, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    k, n = shape
    code = random_code(rng, k, n)
    check_against_brute_force(code, rng.standard_normal(n).astype(np.float32))


@PROPS
@given(shape=code_shapes(), seed=seeds)
def test_integer_llrs_are_exact_ties_included(shape: tuple[int, int], seed: int) -> None:
    """Small integer LLRs make every float32 score exact, and ties frequent: the
    message is then exactly the smallest integer among the maximal scores, and
    the margin is exact (0 on a tie)."""
    rng = np.random.default_rng(seed)
    k, n = shape
    code = random_code(rng, k, n)
    llr = rng.integers(-3, 4, n).astype(np.float32)
    scores = brute_scores(code, llr)
    message, margin = code.ml_decode(llr)
    best = scores.max()
    assert as_int(message) == int(np.flatnonzero(scores == best)[0])
    rest = np.delete(scores, as_int(message))
    assert margin == best - rest.max()


def test_zero_llrs_give_message_zero_and_margin_zero() -> None:
    code = random_code(np.random.default_rng(1), 10, 40)
    message, margin = code.ml_decode(np.zeros(40, np.float32))
    assert message.tolist() == [0] * 10 and margin == 0.0
    messages, margins = code.ml_decode_batch(np.zeros((3, 40), np.float32))
    assert not messages.any() and not margins.any()
    assert not np.signbit(margins).any()  # +0, never -0


def test_tie_rule_on_a_small_example() -> None:
    code = LinearCode(np.eye(2, dtype=np.uint8))  # codeword = message
    # scores: a=0 -> 1, a=1 -> 1, a=2 -> -1, a=3 -> -1: a tie of 0 and 1
    message, margin = code.ml_decode(np.array([0.0, 1.0], np.float32))
    assert message.tolist() == [0, 0] and margin == 0.0
    # scores: a=0 -> -1, a=1 -> 1, a=2 -> -1, a=3 -> 1: a tie of 1 and 3
    message, margin = code.ml_decode(np.array([-1.0, 0.0], np.float32))
    assert message.tolist() == [1, 0] and margin == 0.0
    message, margin = code.ml_decode(np.array([1.0, -1.0], np.float32))
    assert message.tolist() == [0, 1] and margin == 2.0


@pytest.mark.parametrize("seed", range(6))
def test_ties_between_two_chosen_messages(seed: int) -> None:
    """LLRs that agree with both of two codewords where they agree and are 0
    where they differ make them tie at the top: the smaller one wins."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 15))
    code = random_code(rng, k, int(rng.integers(k + 2, 60)))
    a1, a2 = rng.choice(1 << k, size=2, replace=False)
    c1, c2 = (code.encode(all_messages(k)[a]) for a in (a1, a2))
    llr = np.where(c1 == c2, 1.0 - 2.0 * c1, 0.0).astype(np.float32)
    message, margin = code.ml_decode(llr)
    scores = brute_scores(code, llr)
    assert scores[a1] == scores[a2] == scores.max()
    assert as_int(message) == int(np.flatnonzero(scores == scores.max())[0]) <= min(a1, a2)
    assert margin == 0.0


@pytest.mark.parametrize("k", [1, 3, 7, 11, 12, 13, 15, 16, 17, 18])
def test_batch_equals_one_by_one(k: int) -> None:
    rng = np.random.default_rng(k)
    n = 2 * k + 5
    code = random_code(rng, k, n)
    llrs = rng.standard_normal((9, n)).astype(np.float32)
    messages, margins = code.ml_decode_batch(llrs)
    assert messages.shape == (9, k) and messages.dtype == np.uint8
    assert margins.shape == (9,) and margins.dtype == np.float32
    for row in range(9):
        message, margin = code.ml_decode(llrs[row])
        np.testing.assert_array_equal(message, messages[row])
        assert margin == float(margins[row])
    for threads in (1, 2, 3, None):
        m2, g2 = code.ml_decode_batch(llrs, threads=threads)
        np.testing.assert_array_equal(m2, messages)
        np.testing.assert_array_equal(g2, margins)


def test_empty_batch() -> None:
    code = random_code(np.random.default_rng(0), 5, 9)
    messages, margins = code.ml_decode_batch(np.zeros((0, 9), np.float32))
    assert messages.shape == (0, 5) and margins.shape == (0,)
    assert code.encode_batch(np.zeros((0, 5), np.uint8)).shape == (0, 9)


def test_float64_is_rounded_to_float32() -> None:
    rng = np.random.default_rng(3)
    code = random_code(rng, 9, 30)
    llr = rng.standard_normal(30)
    m64, g64 = code.ml_decode(llr)
    m32, g32 = code.ml_decode(llr.astype(np.float32))
    np.testing.assert_array_equal(m64, m32)
    assert g64 == g32


def test_k24_decodes_a_bch_word_exactly() -> None:
    """One decode of 2^24 scores (64 MiB): the (63, 24) BCH code, 7 errors."""
    bch = BCHCode(6, 7)
    code = LinearCode.from_bch(bch)
    assert code.k == 24
    rng = np.random.default_rng(24)
    msg = random_bits(rng, 24)
    word = bch.encode(msg) ^ error_vector(rng, 63, 7)
    llr = (1.0 - 2.0 * word).astype(np.float32)
    message, margin = code.ml_decode(llr)
    np.testing.assert_array_equal(message, msg)
    assert margin >= 2.0  # the next codeword is at least 15 - 7 = 8 away: margin 2 * (8 - 7)


# ---------------------------------------------------------------------------
# BCH codes
# ---------------------------------------------------------------------------
BCH_SMALL = [(5, 2), (5, 3), (5, 5), (5, 7), (6, 11), (6, 13), (7, 27)]


@pytest.mark.parametrize("m,t", BCH_SMALL)
def test_from_bch_has_the_bch_codewords(m: int, t: int) -> None:
    bch = BCHCode(m, t)
    code = LinearCode.from_bch(bch)
    assert (code.n, code.k) == (bch.n, bch.k)
    rng = np.random.default_rng(m * 100 + t)
    msgs = random_bits(rng, 20, bch.k)
    np.testing.assert_array_equal(code.encode_batch(msgs), bch.encode_batch(msgs))
    np.testing.assert_array_equal(code.generator, bch.encode_batch(np.eye(bch.k, dtype=np.uint8)))


@pytest.mark.parametrize("m,t", BCH_SMALL)
def test_hard_llrs_decode_like_the_bch_decoder_within_its_radius(m: int, t: int) -> None:
    bch = BCHCode(m, t)
    code = LinearCode.from_bch(bch)
    rng = np.random.default_rng(m * 1000 + t)
    words = []
    for _ in range(12):
        msg = random_bits(rng, bch.k)
        words.append(bch.encode(msg) ^ error_vector(rng, bch.n, int(rng.integers(0, t + 1))))
    llrs = (1.0 - 2.0 * np.array(words)).astype(np.float32)
    messages, margins = code.ml_decode_batch(llrs)
    for word, message, margin in zip(words, messages, margins, strict=True):
        codeword, errors = bch.decode(word)
        np.testing.assert_array_equal(message, bch.message(codeword))
        # hard LLRs: scores are n - 2 * distance; the runner-up is at least 2t + 1 - e away
        assert margin >= 2.0 * (2 * t + 1 - 2 * errors)


def test_from_bch_refuses_long_messages_and_other_types() -> None:
    expected = "has k = 45 message bits; ML decoding takes k <= 24"
    with pytest.raises(InvalidArgument, match=re.escape(expected)):
        LinearCode.from_bch(BCHCode(6, 3))
    with pytest.raises(InvalidArgument, match="code must be a BCHCode, got str 'bch'"):
        LinearCode.from_bch("bch")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------
@PROPS
@given(shape=code_shapes(), seed=seeds, fraction=st.floats(0.0, 0.45))
def test_noise_below_half_the_margin_keeps_the_codeword(shape: tuple[int, int], seed: int,
                                                         fraction: float) -> None:
    """LLRs of a codeword (any magnitudes) decode to its message with some
    margin M; noise e with sum |e| < M / 2 moves any score difference by less
    than M, so the decision stays."""
    rng = np.random.default_rng(seed)
    k, n = shape
    code = random_code(rng, k, n)
    msg = random_bits(rng, k)
    clean = ((1.0 - 2.0 * code.encode(msg)) * rng.uniform(0.1, 10.0, n)).astype(np.float32)
    message, margin = code.ml_decode(clean)
    np.testing.assert_array_equal(message, msg)
    assert margin > 0
    noise = rng.standard_normal(n)
    noise *= fraction * margin / max(np.abs(noise).sum(), 1e-30)
    noisy = (clean + noise).astype(np.float32)
    np.testing.assert_array_equal(code.ml_decode(noisy)[0], msg)


@PROPS
@given(shape=code_shapes(), seed=seeds, exponent=st.integers(-20, 20), c=st.floats(0.01, 100.0))
def test_scaling_keeps_the_message_and_scales_the_margin(shape: tuple[int, int], seed: int, exponent: int,
                                                         c: float) -> None:
    rng = np.random.default_rng(seed)
    k, n = shape
    code = random_code(rng, k, n)
    llr = rng.standard_normal(n).astype(np.float32)
    message, margin = code.ml_decode(llr)
    # by a power of two every float32 operation scales exactly: bit-identical
    p = np.float32(2.0**exponent)
    m2, g2 = code.ml_decode(llr * p)
    np.testing.assert_array_equal(m2, message)
    assert g2 == margin * float(p)
    # by any c > 0: the same message unless the margin is within rounding
    mc, gc = code.ml_decode((llr * c).astype(np.float32))
    tol = tolerance(code, llr)
    if margin > 2 * tol:
        np.testing.assert_array_equal(mc, message)
    assert abs(gc - c * margin) <= c * 2 * tol


@PROPS
@given(shape=code_shapes(), seed=seeds)
def test_flipping_by_a_codeword_shifts_the_message(shape: tuple[int, int], seed: int) -> None:
    """Negating the LLRs where codeword c' = m'G has ones multiplies V[b] by
    (-1)^<m', b> exactly, which permutes the float32 scores exactly: the decoded
    message becomes m XOR m' (when the best is unique) with the same margin."""
    rng = np.random.default_rng(seed)
    k, n = shape
    code = random_code(rng, k, n)
    llr = rng.standard_normal(n).astype(np.float32)
    shift = random_bits(rng, k)
    flipped = np.where(code.encode(shift) == 1, -llr, llr)
    message, margin = code.ml_decode(llr)
    m2, g2 = code.ml_decode(flipped)
    assert g2 == margin
    if margin > 0:
        np.testing.assert_array_equal(m2, message ^ shift)


# ---------------------------------------------------------------------------
# Kernel sets and the shared per-element math
# ---------------------------------------------------------------------------
def reference_fwht(x: np.ndarray) -> np.ndarray:
    """Stages t = 0, 1, ... in float32, the order every kernel set uses."""
    y = np.array(x, dtype=np.float32)
    h = 1
    while h < y.size:
        y = y.reshape(-1, 2, h)
        y = np.stack([y[:, 0] + y[:, 1], y[:, 0] - y[:, 1]], axis=1).reshape(-1)
        h *= 2
    return y


def test_fwht_is_a_registered_kernel_family() -> None:
    available = ops.available_kernel_isas()["fwht"]
    assert available[-1] == "generic"
    assert ops.kernel_isas()["fwht"] == available[0]
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and " avx " in cpuinfo.read_text():
        assert "avx" in available
    with pytest.raises(InvalidArgument, match=re.escape("unknown fwht kernel set 'avx9'")):
        ops.use_kernel_isa("fwht", "avx9")
    assert ops.kernel_isas()["fwht"] == available[0]


def test_every_kernel_set_gives_identical_results() -> None:
    available = ops.available_kernel_isas()["fwht"]
    results = {}
    try:
        for isa in available:
            ops.use_kernel_isa("fwht", isa)
            assert ops.kernel_isas()["fwht"] == isa
            rng = np.random.default_rng(5)
            out = []
            for k in (1, 2, 3, 4, 5, 8, 12, 13, 15, 16, 17, 19):
                code = random_code(rng, k, k + 20)
                llrs = rng.standard_normal((6, k + 20)).astype(np.float32)
                llrs[0] = 0.0  # ties everywhere
                llrs[1] = np.round(llrs[1])  # exact scores, frequent ties
                out.append(code.ml_decode_batch(llrs, threads=1))
                x = rng.standard_normal(1 << k).astype(np.float32)
                y = core.testing.fwht(x)
                np.testing.assert_array_equal(
                    y.view(np.uint32), reference_fwht(x).view(np.uint32), err_msg=isa
                )
                out.append((y, y))
            results[isa] = out
    finally:
        ops.use_kernel_isa("fwht", available[0])
    reference = results[available[0]]
    for isa, out in results.items():
        for (ma, ga), (mb, gb) in zip(reference, out, strict=True):
            np.testing.assert_array_equal(ma, mb, err_msg=isa)
            np.testing.assert_array_equal(np.asarray(ga).view(np.uint32), np.asarray(gb).view(np.uint32),
                                          err_msg=isa)


@pytest.mark.parametrize("k", [20, 21])
def test_fwht_of_the_gathered_levels_is_the_reference(k: int) -> None:
    """Past 2^16 floats the high stages run on gathered column chunks."""
    x = np.random.default_rng(k).standard_normal(1 << k).astype(np.float32)
    np.testing.assert_array_equal(core.testing.fwht(x).view(np.uint32), reference_fwht(x).view(np.uint32))


def test_butterfly_and_top2_merge() -> None:
    x, y = np.float32(0.1), np.float32(0.7)
    assert core.testing.butterfly(float(x), float(y)) == (float(x + y), float(x - y))
    merge = core.testing.top2_merge
    assert merge((5.0, 1.0, 9), (3.0, 2.0, 4)) == (5.0, 3.0, 9)  # the loser's best is the runner-up
    assert merge((3.0, 2.0, 4), (5.0, 1.0, 9)) == (5.0, 3.0, 9)  # commutative
    assert merge((5.0, 1.0, 9), (5.0, 4.0, 2)) == (5.0, 5.0, 2)  # a tie: the smaller index, margin 0
    assert merge((5.0, 4.0, 2), (5.0, 1.0, 9)) == (5.0, 5.0, 2)
    assert merge((5.0, 4.5, 2), (1.0, -math.inf, 0)) == (5.0, 4.5, 2)
    empty = (-math.inf, -math.inf, 0xFFFFFFFF)
    assert merge(empty, (2.0, -math.inf, 7)) == (2.0, -math.inf, 7)


def test_workspace_budget_bounds_the_threads() -> None:
    assert WORKSPACE_BUDGET == core.ML_WORKSPACE_BUDGET == 1 << 30
    big = LinearCode(np.eye(24, dtype=np.uint8))
    assert big.decode_threads(100, threads=64) == 15  # 64.25 MiB each within 1 GiB
    assert big.decode_threads(3, threads=64) == 3
    assert big.decode_threads(0) == 1
    assert LinearCode(np.eye(22, dtype=np.uint8)).decode_threads(100, threads=64) == 63
    small = LinearCode(np.eye(12, dtype=np.uint8))
    assert small.decode_threads(100, threads=64) == 64
    assert small.decode_threads(100, threads=1) == 1
    with pytest.raises(InvalidArgument, match="rows must be >= 0, got -1"):
        small.decode_threads(-1)
    with pytest.raises(InvalidArgument, match="threads must be from 0 to 256"):
        small.decode_threads(5, threads=-2)


def test_native_decoder_guards_its_inputs() -> None:
    with pytest.raises(ValueError, match="k must be between 1 and 24, got 25"):
        core.LinearDecoder(np.zeros(3, np.uint32), 25)
    with pytest.raises(ValueError, match="column 1 is 8, not below 2\\^k = 8"):
        core.LinearDecoder(np.array([1, 8], np.uint32), 3)
    if not core.cuda_built():
        with pytest.raises(RuntimeError, match="no CUDA kernels"):
            core.cuda_ml_decode(0, 1, 1, 0, 1, 0, 0, 0, 0)


# ---------------------------------------------------------------------------
# The code object
# ---------------------------------------------------------------------------
def test_encode_matches_matrix_product() -> None:
    rng = np.random.default_rng(8)
    code = random_code(rng, 11, 50)
    msgs = random_bits(rng, 40, 11)
    expected = (msgs.astype(np.int64) @ code.generator.astype(np.int64)) % 2
    np.testing.assert_array_equal(code.encode_batch(msgs), expected)
    np.testing.assert_array_equal(code.encode_batch(msgs.astype(bool), threads=1), expected)
    np.testing.assert_array_equal(code.encode(msgs[3]), expected[3])


def test_generator_digest_equality_and_repr() -> None:
    G = np.array([[1, 0, 1, 1, 0, 0, 0, 0, 1], [0, 1, 1, 0, 1, 0, 0, 0, 1]], dtype=np.int64)
    code = LinearCode(G)
    g = code.generator
    assert g.dtype == np.uint8 and g.shape == (2, 9) and not g.flags.writeable
    np.testing.assert_array_equal(g, G)
    packed = np.packbits(G.astype(np.uint8), axis=1, bitorder="little").tobytes()
    expected = hashlib.sha256(b"fuzzykey.LinearCode.v1\x00" + struct.pack("<II", 2, 9) + packed).hexdigest()
    assert code.digest == expected
    same = LinearCode(G.astype(bool))
    assert same == code and hash(same) == hash(code) and same.digest == code.digest
    other = LinearCode(G[::-1])  # same code, another generator: another name
    assert other != code and other.digest != code.digest
    assert code != "code"
    assert repr(code) == f"LinearCode(n=9, k=2, digest='{expected[:16]}')"


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "generator,message",
    [
        (
            np.ones((2, 4), np.float32),
            "generator must hold 0/1 as a bool or integer dtype, got dtype float32",
        ),
        (np.array(["1", "0"]), "got dtype <U1"),
        (np.ones(5, np.uint8), "generator must be a 2-D (k, n) matrix, got shape (5,)"),
        (np.ones((1, 2, 3), np.uint8), "got shape (1, 2, 3)"),
        (np.ones((0, 4), np.uint8), "generator must have 1 to 24 rows (k; the decoder holds 2^k scores), "
                                    "got shape (0, 4)"),
        (np.eye(25, dtype=np.uint8), "got shape (25, 25)"),
        (np.ones((3, 2), np.uint8), "generator must have k = 3 to 65535 columns (n), got shape (3, 2)"),
        (np.ones((1, MAX_N + 1), np.uint8), f"got shape (1, {MAX_N + 1})"),
        (np.array([[1, 2, 0]]), "generator must contain only 0 and 1, found 2"),
        (np.array([[1, -1, 0]]), "found -1"),
        (np.array([[1, 1, 0], [1, 1, 0]]), "generator has rank 1 over GF(2), below its k = 2 rows"),
        (np.array([[1, 0, 1, 0], [0, 1, 1, 0], [1, 1, 0, 0]]), "rank 2 over GF(2), below its k = 3 rows"),
        (np.zeros((1, 3), np.uint8), "rank 0"),
    ],
)
def test_generator_validation(generator: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        LinearCode(generator)


def test_largest_sizes_are_accepted() -> None:
    assert MAX_K == 24
    wide = np.zeros((1, MAX_N), np.uint8)
    wide[0, ::7] = 1
    code = LinearCode(wide)
    assert (code.k, code.n) == (1, MAX_N)
    llr = np.random.default_rng(0).standard_normal(MAX_N).astype(np.float32)
    message, margin = code.ml_decode(llr)
    s = float(np.where(wide[0] == 1, -llr, llr).astype(np.float64).sum())
    s0 = float(llr.astype(np.float64).sum())
    assert message.tolist() == [int(s > s0)] and abs(margin - abs(s - s0)) < 1e-2


def test_llr_validation() -> None:
    code = random_code(np.random.default_rng(2), 4, 6)
    expected = "llr must be float32 (or float64) LLRs, got dtype int64"
    with pytest.raises(InvalidArgument, match=re.escape(expected)):
        code.ml_decode(np.zeros(6, np.int64))
    with pytest.raises(InvalidArgument, match="got dtype bool"):
        code.ml_decode_batch(np.zeros((2, 6), bool))
    with pytest.raises(InvalidArgument, match=re.escape("llr must have shape (6,), got shape (5,)")):
        code.ml_decode(np.zeros(5, np.float32))
    with pytest.raises(InvalidArgument, match=re.escape("llr must have shape (6,), got shape (1, 6)")):
        code.ml_decode(np.zeros((1, 6), np.float32))
    with pytest.raises(InvalidArgument, match=re.escape("llrs must have shape (rows, 6), got shape (6,)")):
        code.ml_decode_batch(np.zeros(6, np.float32))
    bad = np.zeros((3, 6), np.float32)
    bad[2, 4] = np.nan
    expected = "llrs must be finite float32 values, found nan at index (2, 4)"
    with pytest.raises(InvalidArgument, match=re.escape(expected)):
        code.ml_decode_batch(bad)
    with pytest.raises(InvalidArgument, match=re.escape("found -inf at index (1,)")):
        code.ml_decode(np.array([0, -np.inf, 0, 0, 0, 0], np.float32))
    with pytest.raises(InvalidArgument, match=re.escape("found 1e+300 at index (0,)")):
        code.ml_decode(np.array([1e300, 0, 0, 0, 0, 0], np.float64))
    huge = np.full((2, 6), 2e37, np.float32)
    huge[0] = 1.0
    expected = "the absolute values of row 1 of llrs sum to 1.2e+38, at least 2^126"
    with pytest.raises(InvalidArgument, match=re.escape(expected)):
        code.ml_decode_batch(huge)
    with pytest.raises(InvalidArgument, match="threads must be from 0 to 256"):
        code.ml_decode_batch(np.zeros((1, 6), np.float32), threads=-1)
    with pytest.raises(InvalidArgument, match="msg must have 4 bits per row, got shape"):
        code.encode(np.zeros(5, np.uint8))
    with pytest.raises(InvalidArgument, match="msgs must contain only 0 and 1, found 3"):
        code.encode_batch(np.full((2, 4), 3))
    # the checks leave the code usable, and a non-contiguous view decodes like its copy
    llrs = np.random.default_rng(0).standard_normal((5, 12)).astype(np.float32)[:, ::2]
    m1, g1 = code.ml_decode_batch(llrs)
    m2, g2 = code.ml_decode_batch(np.ascontiguousarray(llrs))
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(g1, g2)
