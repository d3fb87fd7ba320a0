"""BCHCode: coding properties, cross-checks against galois, validation, code choice."""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import galois
import numpy as np
import pytest
from conftest import (
    bch_params,
    codes,
    error_vector,
    full_length,
    hamming,
    is_codeword,
    poly_int,
    poly_mod,
    random_bits,
    seeds,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzykey
import fuzzykey._core as core
from fuzzykey import BCHCode, DecodingFailure, FuzzyKeyError, InvalidArgument

PROPS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------
@PROPS
@given(code=codes(), seed=seeds)
def test_encode_is_systematic_and_divisible_by_generator(code: BCHCode, seed: int) -> None:
    rng = np.random.default_rng(seed)
    msg = random_bits(rng, code.k)
    c = code.encode(msg)
    assert c.shape == (code.n,) and c.dtype == np.uint8
    assert set(np.unique(c)) <= {0, 1}
    p = code.n - code.k
    np.testing.assert_array_equal(code.message(c), msg)
    np.testing.assert_array_equal(c[p:], msg)
    # c[:p] is the parity x^p u(x) mod g(x), computed here independently.
    g = poly_int(code.generator)
    assert g.bit_length() - 1 == p
    assert poly_int(c[:p]) == poly_mod(poly_int(msg) << p, g)
    assert poly_mod(poly_int(c), g) == 0


@PROPS
@given(code=codes(), seed=seeds)
def test_encode_is_linear(code: BCHCode, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = random_bits(rng, code.k), random_bits(rng, code.k)
    np.testing.assert_array_equal(code.encode(a ^ b), code.encode(a) ^ code.encode(b))


@PROPS
@given(code=codes(), seed=seeds, rows=st.integers(0, 150))
def test_encode_batch_matches_encode(code: BCHCode, seed: int, rows: int) -> None:
    rng = np.random.default_rng(seed)
    msgs = random_bits(rng, rows, code.k)
    out1 = code.encode_batch(msgs, threads=1)
    out2 = code.encode_batch(msgs, threads=2)
    out0 = code.encode_batch(msgs)
    assert out1.shape == (rows, code.n)
    np.testing.assert_array_equal(out1, out2)
    np.testing.assert_array_equal(out1, out0)
    for r in range(min(rows, 10)):
        np.testing.assert_array_equal(out1[r], code.encode(msgs[r]))
    np.testing.assert_array_equal(code.message(out1), msgs)


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------
@st.composite
def code_and_weight(draw, within: bool):
    m, t, n = draw(bch_params())
    if within:
        w = draw(st.one_of(st.integers(0, t), st.just(t)))
    else:
        w = draw(st.one_of(st.integers(t + 1, min(n, 2 * t + 2)), st.integers(t + 1, n)))
    return BCHCode(m, t, n), w


@PROPS
@given(cw=code_and_weight(within=True), seed=seeds)
def test_decode_corrects_up_to_t_errors(cw, seed: int) -> None:
    code, weight = cw
    rng = np.random.default_rng(seed)
    c = code.encode(random_bits(rng, code.k))
    word = c ^ error_vector(rng, code.n, weight)
    out, n_err = code.decode(word)
    np.testing.assert_array_equal(out, c)
    assert n_err == weight
    assert isinstance(n_err, int)


@PROPS
@given(cw=code_and_weight(within=False), seed=seeds)
def test_decode_beyond_t_fails_or_returns_a_codeword(cw, seed: int) -> None:
    code, weight = cw
    rng = np.random.default_rng(seed)
    c = code.encode(random_bits(rng, code.k))
    word = c ^ error_vector(rng, code.n, weight)
    try:
        out, n_err = code.decode(word)
    except DecodingFailure as exc:
        assert isinstance(exc, FuzzyKeyError)
        return
    # Not a failure: the output must be a real codeword within distance t of the
    # word, and the reported count must be that distance.
    assert is_codeword(code, out)
    assert 0 <= n_err <= code.t
    assert hamming(out, word) == n_err
    assert not np.array_equal(out, c)  # c is more than t away


@PROPS
@given(params=bch_params(), seed=seeds, rows=st.integers(0, 80))
def test_decode_batch_matches_rowwise_decode(params, seed: int, rows: int) -> None:
    m, t, n = params
    code = BCHCode(m, t, n)
    rng = np.random.default_rng(seed)
    words = code.encode_batch(random_bits(rng, rows, code.k))
    for r in range(rows):
        weight = int(rng.integers(0, min(n, 2 * t + 3) + 1))
        words[r] ^= error_vector(rng, n, weight)
    if rows:
        words[rng.integers(rows)] = random_bits(rng, n)  # one arbitrary word
    original = words.copy()
    cw1, e1 = code.decode_batch(words, threads=1)
    cw2, e2 = code.decode_batch(words, threads=2)
    np.testing.assert_array_equal(words, original)  # input untouched
    assert cw1.shape == (rows, n) and e1.shape == (rows,)
    np.testing.assert_array_equal(cw1, cw2)
    np.testing.assert_array_equal(e1, e2)
    for r in range(rows):
        try:
            out, n_err = code.decode(words[r])
        except DecodingFailure:
            assert e1[r] == -1
            np.testing.assert_array_equal(cw1[r], words[r])  # failed rows unchanged
        else:
            assert e1[r] == n_err
            np.testing.assert_array_equal(cw1[r], out)
            assert is_codeword(code, cw1[r])
            assert hamming(cw1[r], words[r]) == n_err


def test_decode_batch_threads_identical_large_batch(rng) -> None:
    code = BCHCode(9, 20, 500)
    rows = 600
    words = code.encode_batch(random_bits(rng, rows, code.k))
    weights = rng.integers(0, 2 * code.t + 5, rows)
    for r in range(rows):
        words[r] ^= error_vector(rng, code.n, int(weights[r]))
    cw1, e1 = code.decode_batch(words, threads=1)
    cw2, e2 = code.decode_batch(words, threads=2)
    cw0, e0 = code.decode_batch(words, threads=None)
    np.testing.assert_array_equal(cw1, cw2)
    np.testing.assert_array_equal(e1, e2)
    np.testing.assert_array_equal(cw1, cw0)
    np.testing.assert_array_equal(e1, e0)
    within = weights <= code.t
    np.testing.assert_array_equal(e1[within], weights[within])
    assert e1.dtype == np.int32


def test_decode_every_pattern_of_weight_at_most_t_small_code(rng) -> None:
    """Exhaustive: all 1 + 31 + 465 patterns of weight <= 2 on BCH(31, 21, t=2)."""
    code = BCHCode(5, 2)
    c = code.encode(random_bits(rng, code.k))
    patterns = [np.zeros(code.n, np.uint8)]
    for i in range(code.n):
        e = np.zeros(code.n, np.uint8)
        e[i] = 1
        patterns.append(e)
        for j in range(i + 1, code.n):
            e2 = e.copy()
            e2[j] = 1
            patterns.append(e2)
    errs = np.array(patterns)
    assert len(errs) == 1 + 31 + 465
    out, n_err = code.decode_batch(c ^ errs)
    np.testing.assert_array_equal(out, np.broadcast_to(c, out.shape))
    np.testing.assert_array_equal(n_err, errs.sum(axis=1))


def test_decode_all_weight_3_patterns_small_code_never_returns_non_codeword(rng) -> None:
    """Exhaustive over weight t+1 = 3 on BCH(31, 21, t=2): failure or a codeword at distance <= 2."""
    code = BCHCode(5, 2)
    c = code.encode(random_bits(rng, code.k))
    idx = np.array([(i, j, k) for i in range(31) for j in range(i + 1, 31) for k in range(j + 1, 31)])
    errs = np.zeros((len(idx), 31), np.uint8)
    np.put_along_axis(errs, idx, 1, axis=1)
    words = c ^ errs
    out, n_err = code.decode_batch(words)
    failed = n_err < 0
    np.testing.assert_array_equal(out[failed], words[failed])
    ok = ~failed
    assert ok.any() and failed.any()  # BCH(31,21) is not perfect: both happen
    np.testing.assert_array_equal(code.encode_batch(code.message(out[ok])), out[ok])
    np.testing.assert_array_equal((out[ok] != words[ok]).sum(axis=1), n_err[ok])
    assert (n_err[ok] <= 2).all()


def test_concurrent_first_use_from_python_threads(rng) -> None:
    """The decoder releases the GIL and builds its tables on first use: many Python
    threads decoding with one fresh native code at once must agree with a serial run."""
    from concurrent.futures import ThreadPoolExecutor

    m, t, n = 11, 40, 2000
    words = BCHCode(m, t, n).encode_batch(random_bits(rng, 64, BCHCode(m, t, n).k))
    for r in range(64):
        words[r] ^= error_vector(rng, n, int(rng.integers(0, 2 * t + 1)))
    expected = core.BchCode(m, t, n).decode_batch(words, 1)
    shared = core.BchCode(m, t, n)  # tables not built yet
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda i: shared.decode_batch(words, 1 + i % 2), range(12)))
    for out, n_err in results:
        np.testing.assert_array_equal(out, expected[0])
        np.testing.assert_array_equal(n_err, expected[1])


def test_decode_zero_rows() -> None:
    code = BCHCode(6, 3)
    out, n_err = code.decode_batch(np.zeros((0, code.n), np.uint8))
    assert out.shape == (0, code.n) and n_err.shape == (0,)


# ---------------------------------------------------------------------------
# Bitsliced kernels vs scalar paths (table_budget=0 forces the scalar ones)
# ---------------------------------------------------------------------------
@st.composite
def long_code_params(draw, min_m: int = 8, max_m: int = 12):
    m = draw(st.integers(min_m, max_m))
    big = full_length(m)
    n = draw(st.one_of(st.just(big), st.integers(128, big)))
    t_top = BCHCode.max_t(m, n)
    t = draw(st.one_of(st.integers(1, min(t_top, 12)), st.integers(1, min(t_top, 150))))
    return m, t, n


def _compare_paths(m: int, t: int, n: int, rng, rows: int = 40) -> bool:
    fast = core.BchCode(m, t, n)
    slow = core.BchCode(m, t, n, 0)
    assert not slow.bitsliced
    msgs = random_bits(rng, rows, fast.k)
    enc = fast.encode_batch(msgs, 1)
    np.testing.assert_array_equal(enc, slow.encode_batch(msgs, 1))
    words = enc.copy()
    for r in range(rows - 4):
        words[r] ^= error_vector(rng, n, int(rng.integers(0, min(n, 2 * t + 2) + 1)))
    words[rows - 4:] = random_bits(rng, 4, n)
    out_f, e_f = fast.decode_batch(words, 2)
    out_s, e_s = slow.decode_batch(words, 1)
    np.testing.assert_array_equal(e_f, e_s)
    np.testing.assert_array_equal(out_f, out_s)
    return bool(fast.bitsliced)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=long_code_params(), seed=seeds)
def test_bitsliced_and_scalar_paths_agree(params, seed: int) -> None:
    _compare_paths(*params, np.random.default_rng(seed))


@pytest.mark.parametrize(("m", "t", "n"), [(8, 5, 255), (9, 30, 511), (10, 50, 1000), (11, 100, 2047),
                                           (12, 20, 4000), (13, 60, 8191), (16, 30, 65535)])
def test_bitsliced_and_scalar_paths_agree_fixed(m: int, t: int, n: int) -> None:
    # the default-budget code really is bitsliced here, so two different paths are compared
    assert _compare_paths(m, t, n, np.random.default_rng(m + t + n), rows=24)


# ---------------------------------------------------------------------------
# Cross-check against galois
# ---------------------------------------------------------------------------
# Note: galois.BCH's *default* extension field comes from MATLAB's primitive
# polynomial table, which differs from the Conway polynomial for m = 10
# (x^10 + x^3 + 1 vs x^10 + x^6 + x^5 + x^3 + x^2 + x + 1). fuzzykey uses the
# Conway polynomials, i.e. galois.GF(2^m)'s default, so pass that field explicitly.
@functools.cache
def galois_field(m: int):
    return galois.GF(2**m)


@functools.cache
def galois_bch(m: int, t: int):
    return galois.BCH(full_length(m), d=2 * t + 1, extension_field=galois_field(m))


def galois_decode(m: int, t: int, words: np.ndarray):
    """galois decoding of our-orientation words: returns (codewords, n_errors) in our orientation."""
    gw = galois.GF2(np.ascontiguousarray(words[:, ::-1]))
    dec, n_err = galois_bch(m, t).decode(gw, output="codeword", errors=True)
    return np.asarray(dec, dtype=np.uint8)[:, ::-1], np.asarray(n_err)


@pytest.mark.parametrize("m", range(5, 17))
def test_field_polynomial_is_galois_conway(m: int) -> None:
    code = BCHCode(m, 1)
    assert code.primitive_poly == int(galois.conway_poly(2, m))
    if m <= 10:
        assert int(galois_field(m).irreducible_poly) == code.primitive_poly


GEN_CASES = [
    (5, 1), (5, 2), (5, 3), (5, 5), (5, 7), (5, 15),
    (6, 1), (6, 4), (6, 7), (6, 13), (6, 31),
    (7, 1), (7, 9), (7, 21), (7, 63),
    (8, 1), (8, 12), (8, 30), (8, 127),
    (9, 2), (9, 20), (9, 30), (9, 93),
    (10, 1), (10, 3), (10, 50), (10, 102),
]


@pytest.mark.parametrize(("m", "t"), GEN_CASES)
def test_generator_and_dimension_match_galois(m: int, t: int) -> None:
    ref = galois_bch(m, t)
    code = BCHCode(m, t)
    assert (code.n, code.k) == (ref.n, ref.k)
    ours = code.generator
    theirs = np.asarray(ref.generator_poly.coeffs, dtype=np.uint8)[::-1]  # galois: highest first
    np.testing.assert_array_equal(ours, theirs)
    # Shortened versions: k drops by exactly the number of removed positions.
    big = full_length(m)
    p = big - code.k
    for n in sorted(x for x in {big - 1, big - 7, (big + p) // 2, p + 1} if x > p):
        short = BCHCode(m, t, n)
        assert short.k == ref.k - (big - n)
        np.testing.assert_array_equal(short.generator, theirs)


@pytest.mark.parametrize(("m", "t"), [(5, 2), (5, 4), (6, 3), (6, 10), (7, 5), (7, 13), (8, 8), (8, 25),
                                      (9, 6), (9, 30), (10, 4), (10, 40)])
def test_encoding_matches_galois(m: int, t: int, rng) -> None:
    ref = galois_bch(m, t)
    big = full_length(m)
    for n in (big, big - min(11, BCHCode(m, t).k - 1)):
        code = BCHCode(m, t, n)
        msgs = random_bits(rng, 5, code.k)
        ours = code.encode_batch(msgs)
        # galois messages are highest degree first too; a shorter message is a shortened code.
        theirs = np.asarray(ref.encode(galois.GF2(np.ascontiguousarray(msgs[:, ::-1]))), np.uint8)
        np.testing.assert_array_equal(ours, theirs[:, ::-1])


DECODE_CASES = [(5, 1), (5, 2), (5, 3), (5, 5), (6, 2), (6, 5), (6, 11), (7, 3), (7, 10),
                (8, 4), (8, 16), (9, 8), (9, 25), (10, 3), (10, 30)]


@pytest.mark.parametrize(("m", "t"), DECODE_CASES)
def test_decoding_matches_galois(m: int, t: int) -> None:
    rng = np.random.default_rng(1000 * m + t)
    big = full_length(m)
    p = big - BCHCode(m, t).k  # parity bits; a shortened length must exceed it
    for n in sorted(x for x in {big, big - 5, p + max(1, (big - p) // 3)} if x > p):
        code = BCHCode(m, t, n)
        beyond = rng.integers(t + 1, min(n, 2 * t + 2) + 1, 25)  # just beyond t
        weights = np.concatenate([np.arange(0, t + 1), beyond])
        rows = len(weights) + 10
        words = code.encode_batch(random_bits(rng, rows, code.k))
        for r, w in enumerate(weights):
            words[r] ^= error_vector(rng, n, int(w))
        words[len(weights):] = random_bits(rng, rows - len(weights), n)  # arbitrary words
        ours, e_ours = code.decode_batch(words)
        theirs, e_theirs = galois_decode(m, t, words)
        np.testing.assert_array_equal(e_ours[: t + 1], np.arange(t + 1))
        np.testing.assert_array_equal(e_theirs[: t + 1], np.arange(t + 1))
        # galois reports failure -> we do too; galois corrects -> same codeword and count.
        np.testing.assert_array_equal(e_ours[e_theirs < 0], -1)
        ok = e_theirs >= 0
        np.testing.assert_array_equal(e_ours[ok], e_theirs[ok])
        np.testing.assert_array_equal(ours[ok], theirs[ok])
        # and where we correct, galois does too (the decoders agree on every word)
        assert (e_theirs[e_ours >= 0] >= 0).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=bch_params(5, 8), seed=seeds)
def test_decoding_matches_galois_property(params, seed: int) -> None:
    m, t, n = params
    code = BCHCode(m, t, n)
    rng = np.random.default_rng(seed)
    words = code.encode_batch(random_bits(rng, 12, code.k))
    for r in range(12):
        words[r] ^= error_vector(rng, n, int(rng.integers(0, min(n, 2 * t + 2) + 1)))
    ours, e_ours = code.decode_batch(words)
    theirs, e_theirs = galois_decode(m, t, words)
    np.testing.assert_array_equal(e_ours, e_theirs)
    ok = e_theirs >= 0
    np.testing.assert_array_equal(ours[ok], theirs[ok])


# ---------------------------------------------------------------------------
# Generator polynomial, independently (pure Python GF(2^m))
# ---------------------------------------------------------------------------
def _gf_mul(a: int, b: int, m: int, poly: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a >> m:
            a ^= poly
    return r


def _gf_pow(a: int, e: int, m: int, poly: int) -> int:
    r = 1
    while e:
        if e & 1:
            r = _gf_mul(r, a, m, poly)
        a = _gf_mul(a, a, m, poly)
        e >>= 1
    return r


def _poly_eval(coeffs_low_first, x: int, m: int, poly: int) -> int:
    acc = 0
    for c in reversed(list(coeffs_low_first)):
        acc = _gf_mul(acc, x, m, poly) ^ int(c)
    return acc


def _coset_union(m: int, t: int) -> set[int]:
    big = full_length(m)
    out: set[int] = set()
    for i in range(1, 2 * t + 1):
        e = i
        while e not in out:
            out.add(e)
            e = (2 * e) % big
    return out


@pytest.mark.parametrize("m", range(5, 17))
@pytest.mark.parametrize("t", [1, 2, 3, 5])
def test_generator_roots_pure_python(m: int, t: int) -> None:
    poly = int(galois.conway_poly(2, m))
    code = BCHCode(m, t)
    g = code.generator
    roots = _coset_union(m, t)
    assert len(g) - 1 == len(roots) == code.n - code.k
    assert g[0] == 1 and g[-1] == 1
    for j in range(1, 2 * t + 1):
        assert _poly_eval(g, _gf_pow(2, j, m, poly), m, poly) == 0, j
    # g(x) divides x^N - 1 (over GF(2)): the code is cyclic.
    assert _x_pow_mod(full_length(m), poly_int(g)) == 1


def _clmul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        b >>= 1
    return r


def _x_pow_mod(e: int, g: int) -> int:
    """x^e mod g(x) over GF(2) by square and multiply."""
    result, base = 1, poly_mod(0b10, g)
    while e:
        if e & 1:
            result = poly_mod(_clmul(result, base), g)
        base = poly_mod(_clmul(base, base), g)
        e >>= 1
    return result


@pytest.mark.parametrize("m", range(5, 9))
def test_k_nonincreasing_in_t(m: int) -> None:
    ks = [BCHCode(m, t).k for t in range(1, BCHCode.max_t(m) + 1)]
    assert all(a >= b for a, b in zip(ks, ks[1:], strict=False))
    assert ks[-1] >= 1
    with pytest.raises(InvalidArgument):
        BCHCode(m, BCHCode.max_t(m) + 1)


# ---------------------------------------------------------------------------
# Every field size, and large codes
# ---------------------------------------------------------------------------
def _round_trip(code: BCHCode, rng, weights) -> None:
    msgs = random_bits(rng, len(weights), code.k)
    c = code.encode_batch(msgs)
    errs = np.stack([error_vector(rng, code.n, w) for w in weights])
    out, n_err = code.decode_batch(c ^ errs)
    np.testing.assert_array_equal(out, c)
    np.testing.assert_array_equal(n_err, weights)
    np.testing.assert_array_equal(code.message(out), msgs)


SIZE_CASES = [
    (5, 1), (5, 15), (6, 1), (6, 31), (7, 1), (7, 63), (8, 1), (8, 127),
    (9, 1), (9, 255), (10, 1), (10, 511), (11, 1), (11, 1023), (12, 1), (12, 300),
    (13, 1), (13, 200), (14, 1), (14, 120), (15, 1), (15, 60), (16, 1), (16, 40),
]


@pytest.mark.parametrize(("m", "t"), SIZE_CASES)
def test_every_field_size_round_trip(m: int, t: int) -> None:
    rng = np.random.default_rng(m * 7919 + t)
    code = BCHCode(m, t)
    assert code.m == m and code.t == t and code.n == code.full_length == full_length(m)
    assert code.k >= 1 and len(code.generator) == code.n - code.k + 1
    _round_trip(code, rng, [t, t, max(0, t - 1), 0])
    # and a shortened version of the same code
    short = BCHCode(m, t, code.n - code.k // 2 if code.k > 1 else code.n)
    _round_trip(short, rng, [t, 1])


@pytest.mark.parametrize(("m", "t", "n"), [(13, 2000, 8191), (14, 900, 16383), (16, 200, 65535),
                                           (16, 3000, 60000)])
def test_large_t_codes(m: int, t: int, n: int) -> None:
    """Large codes (beyond the bitsliced table budget): t errors corrected, t+1 never mis-reported."""
    rng = np.random.default_rng(n + t)
    code = BCHCode(m, t, n)
    msgs = random_bits(rng, 4, code.k)
    c = code.encode_batch(msgs)
    weights = [t, t - 1, t + 1, 2 * t + 1]
    words = c ^ np.stack([error_vector(rng, n, w) for w in weights])
    out, n_err = code.decode_batch(words)
    np.testing.assert_array_equal(out[:2], c[:2])
    np.testing.assert_array_equal(n_err[:2], weights[:2])
    for r in (2, 3):
        if n_err[r] < 0:
            np.testing.assert_array_equal(out[r], words[r])
        else:
            assert is_codeword(code, out[r]) and hamming(out[r], words[r]) == n_err[r] <= t


def test_large_t_construction() -> None:
    code = BCHCode(16, 3000)
    assert (code.m, code.n, code.t) == (16, 65535, 3000)
    assert code.k == 65535 - (len(code.generator) - 1)
    assert code.k == 65535 - len(_coset_union(16, 3000))
    g = code.generator
    assert g[0] == 1 and g[-1] == 1
    code10 = BCHCode(10, BCHCode.max_t(10))
    assert (code10.n, code10.k) == (1023, 1)
    # k = 1: the code is the repetition code, generator = 1 + x + ... + x^(n-1)
    np.testing.assert_array_equal(code10.generator, np.ones(1023, np.uint8))


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------
def _raises_invalid(name: str):
    return pytest.raises(InvalidArgument, match=rf"\b{name}\b")


def test_invalid_argument_hierarchy() -> None:
    with pytest.raises(ValueError) as info:
        BCHCode(4, 1)
    assert isinstance(info.value, InvalidArgument)
    assert isinstance(info.value, FuzzyKeyError)
    assert issubclass(fuzzykey.InvalidArgument, ValueError)


@pytest.mark.parametrize(("args", "name"), [
    ((4, 1), "m"), ((17, 1), "m"), ((0, 1), "m"), ((5.0, 1), "m"), ((True, 1), "m"), (("5", 1), "m"),
    ((5, 0), "t"), ((5, -1), "t"), ((5, 16), "t"), ((5, 2.0), "t"), ((5, True), "t"),
    ((5, 15, 30), "t"),      # BCH(m=5, t=15) needs all 31 positions: k = 0 at n = 30
    ((10, 400, 600), "t"),   # no message bits left
    ((5, 1, 0), "n"), ((5, 1, -3), "n"), ((5, 1, 32), "n"), ((16, 1, 65536), "n"), ((5, 1, 31.0), "n"),
])
def test_constructor_validation(args, name: str) -> None:
    with _raises_invalid(name):
        BCHCode(*args)


def test_constructor_accepts_numpy_integers() -> None:
    assert BCHCode(np.int64(6), np.uint8(3), np.int32(50)) == BCHCode(6, 3, 50)


@pytest.mark.parametrize(("args", "match"), [((4,), r"\bm\b"), ((17,), r"\bm\b"), ((5, 0), r"\bn\b"),
                                             ((5, 32), r"\bn\b"), ((5, 2.5), r"\bn\b"),
                                             ((5, 5), "length 5")])
def test_max_t_validation(args, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        BCHCode.max_t(*args)


def test_max_t_values() -> None:
    for m in range(5, 11):
        big = full_length(m)
        for n in (big, big - 3, m + 1, (big + m) // 2):
            t = BCHCode.max_t(m, n)
            assert BCHCode(m, t, n).k >= 1
            if t + 1 <= (big - 1) // 2:
                with pytest.raises(InvalidArgument):
                    BCHCode(m, t + 1, n)
    assert BCHCode.max_t(5) == 15 and BCHCode.max_t(5, 6) == 1


@pytest.fixture(scope="module")
def vcode() -> BCHCode:
    return BCHCode(6, 3, 50)


def test_encode_validation(vcode: BCHCode) -> None:
    k, n = vcode.k, vcode.n
    ok = np.zeros(k, np.uint8)
    for bad in (np.zeros(k + 1, np.uint8), np.zeros(k - 1, np.uint8), np.zeros((1, k), np.uint8),
                np.zeros(k, np.float64), np.full(k, 2, np.uint8), np.full(k, -1, np.int8),
                np.zeros((), np.uint8), [0.0] * k, np.zeros(k, np.complex64)):
        with _raises_invalid("msg"):
            vcode.encode(bad)
    vcode.encode(ok)
    for bad in (ok, np.zeros((2, k + 1), np.uint8), np.zeros((2, k), np.float32), np.full((2, k), 3)):
        with _raises_invalid("msgs"):
            vcode.encode_batch(bad)
    with _raises_invalid("threads"):
        vcode.encode_batch(np.zeros((2, k), np.uint8), threads=-1)
    with _raises_invalid("threads"):
        vcode.encode_batch(np.zeros((2, k), np.uint8), threads=1.0)
    assert n == 50


def test_decode_validation(vcode: BCHCode) -> None:
    n = vcode.n
    for bad in (np.zeros(n - 1, np.uint8), np.zeros(n + 1, np.uint8), np.zeros((1, n), np.uint8),
                np.zeros(n, np.float64), np.full(n, 2, np.uint8), np.full(n, -1, np.int64)):
        with _raises_invalid("word"):
            vcode.decode(bad)
    for bad in (np.zeros(n, np.uint8), np.zeros((3, n + 1), np.uint8), np.zeros((3, n), np.float64),
                np.full((3, n), 2, np.uint16), np.zeros((2, 3, n), np.uint8)):
        with _raises_invalid("words"):
            vcode.decode_batch(bad)
    with _raises_invalid("threads"):
        vcode.decode_batch(np.zeros((2, n), np.uint8), threads=-2)
    with _raises_invalid("codeword"):
        vcode.message(np.zeros(n - 1, np.uint8))
    with _raises_invalid("codeword"):
        vcode.message(np.full(n, 5))


def test_bad_value_message_mentions_value(vcode: BCHCode) -> None:
    word = np.zeros(vcode.n, np.int16)
    word[7] = 2
    with pytest.raises(InvalidArgument, match="2"):
        vcode.decode(word)


def test_bool_and_list_inputs_accepted(vcode: BCHCode, rng) -> None:
    msg = random_bits(rng, vcode.k)
    c = vcode.encode(msg)
    np.testing.assert_array_equal(vcode.encode(msg.astype(bool)), c)
    np.testing.assert_array_equal(vcode.encode(msg.tolist()), c)
    np.testing.assert_array_equal(vcode.encode([bool(b) for b in msg]), c)
    np.testing.assert_array_equal(vcode.encode(msg.astype(np.int64)), c)
    np.testing.assert_array_equal(vcode.encode(np.repeat(msg, 2)[::2]), c)  # non-contiguous
    word = c.copy()
    word[[1, 20, 40]] ^= 1
    for form in (word.astype(bool), word.tolist(), word.astype(np.uint32)):
        out, n_err = vcode.decode(form)
        np.testing.assert_array_equal(out, c)
        assert n_err == 3
    batch = np.stack([word, c])
    for form in (batch.astype(bool), batch.tolist(), np.asfortranarray(batch)):
        out, n_err = vcode.decode_batch(form)
        np.testing.assert_array_equal(out, np.stack([c, c]))
        np.testing.assert_array_equal(n_err, [3, 0])
    np.testing.assert_array_equal(vcode.encode_batch([msg.tolist()])[0], c)
    np.testing.assert_array_equal(vcode.message(c.tolist()), msg)


def test_decode_does_not_modify_input(vcode: BCHCode, rng) -> None:
    c = vcode.encode(random_bits(rng, vcode.k))
    word = c.copy()
    word[[0, 1]] ^= 1
    before = word.copy()
    vcode.decode(word)
    np.testing.assert_array_equal(word, before)


def test_decoding_failure_message(vcode: BCHCode) -> None:
    # a random 50-bit word is within distance 3 of this code with probability ~ 8%
    rng = np.random.default_rng(3)
    for _ in range(200):
        word = random_bits(rng, vcode.n)
        try:
            vcode.decode(word)
        except DecodingFailure as exc:
            assert "t = 3" in str(exc) and repr(vcode) in str(exc)
            assert not isinstance(exc, InvalidArgument)
            return
    raise AssertionError("no decoding failure among 200 random words")


# ---------------------------------------------------------------------------
# for_error_rate
# ---------------------------------------------------------------------------
def _smallest_m(n_bits: int) -> int:
    m = 5
    while full_length(m) < n_bits:
        m += 1
    return m


def _check_optimal(code: BCHCode, m: int, n_bits: int, need: int) -> None:
    """code corrects >= need errors, no code of that length over GF(2^m) with
    t >= need has more message bits, and code.t is the largest t for its k."""
    assert (code.m, code.n) == (m, n_bits)
    assert code.t >= need
    assert code.k == BCHCode(m, need, n_bits).k
    top = BCHCode.max_t(m, n_bits)
    if code.t < top:
        assert BCHCode(m, code.t + 1, n_bits).k < code.k


@settings(max_examples=120, deadline=None)
@given(n_bits=st.integers(6, 3000), p=st.floats(0.0, 0.5, exclude_max=True))
def test_for_error_rate_property(n_bits: int, p: float) -> None:
    m = _smallest_m(n_bits)
    # ceil(p * n_bits), with a tolerance for the rounding error of the float product
    need = max(1, math.ceil(p * n_bits - 1e-9))
    if need > BCHCode.max_t(m, n_bits):
        with pytest.raises(InvalidArgument, match="n_bits|errors"):
            BCHCode.for_error_rate(n_bits, p)
        return
    code = BCHCode.for_error_rate(n_bits, p)
    assert code.t >= p * n_bits - 1e-9
    _check_optimal(code, m, n_bits, need)


def test_for_error_rate_examples() -> None:
    # ceil(0.05 * 511) = 26; t = 26 is the only t >= 26 with k = 295 (t = 27 has k = 286).
    # (The docstring of for_error_rate claims k=259, t=30 here; see test_build's doctest check.)
    assert repr(BCHCode.for_error_rate(511, 0.05)) == "BCHCode(m=9, n=511, k=295, t=26)"
    code = BCHCode.for_error_rate(1000, 0.1)
    assert code.t >= 100 and code.n == 1000 and code.m == 10
    _check_optimal(code, 10, 1000, 100)
    code = BCHCode.for_error_rate(32, 0.0)  # p = 0 still asks for a code that corrects something
    assert code.m == 6 and code.n == 32 and code.t >= 1
    code = BCHCode.for_error_rate(31, 0.1)
    assert code.m == 5 and code.n == 31 and code.t >= 4
    code = BCHCode.for_error_rate(65535, 0.001)
    assert code.m == 16 and code.t >= 66


def _exact_tails(n: int, p: float) -> list[Fraction]:
    """tails[t] = P[Binomial(n, p) > t] exactly, p taken as the exact binary float."""
    pf = Fraction(p)
    a, b = pf.numerator, pf.denominator
    terms = [math.comb(n, i) * a**i * (b - a) ** (n - i) for i in range(n + 1)]
    tails, acc = [0] * (n + 1), 0
    for t in range(n, -1, -1):
        tails[t] = Fraction(acc, b**n)
        acc += terms[t]
    return tails


def _smallest_t(tails: list[Fraction], f: float) -> int:
    t0 = 1
    while t0 < len(tails) - 1 and tails[t0] > Fraction(f):
        t0 += 1
    return t0


@pytest.mark.parametrize(("n_bits", "p", "f"), [
    (63, 0.05, 1e-3), (63, 0.05, 1e-6), (100, 0.02, 1e-9), (127, 0.1, 1e-4),
    (200, 0.01, 1e-12), (255, 0.08, 1e-6), (50, 0.0, 1e-6), (31, 0.2, 0.5),
])
def test_for_error_rate_failure_rate(n_bits: int, p: float, f: float) -> None:
    m = _smallest_m(n_bits)
    tails = _exact_tails(n_bits, p)
    t0 = _smallest_t(tails, f)
    code = BCHCode.for_error_rate(n_bits, p, failure_rate=f)
    assert tails[code.t] <= Fraction(f)
    _check_optimal(code, m, n_bits, t0)


@settings(max_examples=25, deadline=None)
@given(n_bits=st.integers(6, 90), p=st.floats(0.001, 0.2), exp=st.integers(1, 12))
def test_for_error_rate_failure_rate_property(n_bits: int, p: float, exp: int) -> None:
    m = _smallest_m(n_bits)
    f = 10.0**-exp
    tails = _exact_tails(n_bits, p)
    t0 = _smallest_t(tails, f)
    if t0 > BCHCode.max_t(m, n_bits):
        with pytest.raises(InvalidArgument):
            BCHCode.for_error_rate(n_bits, p, failure_rate=f)
        return
    code = BCHCode.for_error_rate(n_bits, p, failure_rate=f)
    # the library sums the tail in floating point: allow a relative 1e-9 slack
    slack = Fraction(1, 10**9)
    assert tails[code.t] <= Fraction(f) * (1 + slack)
    above = t0 == 1 or tails[t0 - 1] > Fraction(f) * (1 + slack)
    clear_cut = above and tails[t0] < Fraction(f) * (1 - slack)
    if clear_cut:
        _check_optimal(code, m, n_bits, t0)


@pytest.mark.parametrize(("args", "kwargs", "name"), [
    ((0, 0.1), {}, "n_bits"), ((65536, 0.1), {}, "n_bits"), ((-5, 0.1), {}, "n_bits"),
    ((100.0, 0.1), {}, "n_bits"), ((True, 0.1), {}, "n_bits"),
    ((100, -0.01), {}, "error_rate"), ((100, 0.5), {}, "error_rate"), ((100, 1.5), {}, "error_rate"),
    ((100, float("nan")), {}, "error_rate"), ((100, float("inf")), {}, "error_rate"),
    ((100, 0.1), {"failure_rate": 0.0}, "failure_rate"), ((100, 0.1), {"failure_rate": 1.0}, "failure_rate"),
    ((100, 0.1), {"failure_rate": float("nan")}, "failure_rate"),
    ((100, 0.1), {"failure_rate": -1e-3}, "failure_rate"),
])
def test_for_error_rate_validation(args, kwargs, name: str) -> None:
    with _raises_invalid(name):
        BCHCode.for_error_rate(*args, **kwargs)


@pytest.mark.parametrize(("args", "kwargs"), [
    ((100, 0.45), {}),                               # 45 errors in 100 bits: no BCH code keeps k >= 1
    ((5, 0.0), {}),                                  # shorter than any BCH code over GF(2^5) with k >= 1
    ((1000, 0.45), {}),                              # 450 > max_t(10, 1000) = 239
    ((40, 0.3), {}),
    ((63, 0.1), {"failure_rate": 1e-300}),           # needs t close to n
])
def test_for_error_rate_impossible(args, kwargs) -> None:
    with pytest.raises(InvalidArgument):
        BCHCode.for_error_rate(*args, **kwargs)


# ---------------------------------------------------------------------------
# Equality, hash, repr, properties
# ---------------------------------------------------------------------------
def test_equality_hash_repr() -> None:
    a, b = BCHCode(9, 30), BCHCode(9, 30, 511)
    assert a == b and hash(a) == hash(b)
    assert a is not b
    assert a != BCHCode(9, 29)
    assert a != BCHCode(9, 30, 510)
    assert a != BCHCode(10, 30)
    assert (a == "BCHCode(m=9, n=511, k=259, t=30)") is False
    assert a != 5 and a != None  # noqa: E711
    assert len({a, b, BCHCode(9, 29), BCHCode(9, 30, 510)}) == 3
    assert {a: 1}[b] == 1
    assert repr(a) == "BCHCode(m=9, n=511, k=259, t=30)"
    assert repr(BCHCode(6, 3, 50)) == f"BCHCode(m=6, n=50, k={BCHCode(6, 3, 50).k}, t=3)"
    # two values of t that give the same generator are still different decoders
    assert BCHCode(9, 24).k == BCHCode(9, 25).k and BCHCode(9, 24) != BCHCode(9, 25)
    np.testing.assert_array_equal(BCHCode(9, 24).generator, BCHCode(9, 25).generator)


def test_properties() -> None:
    code = BCHCode(10, 102)
    assert (code.m, code.n, code.k, code.t) == (10, 1023, 278, 102)
    assert code.full_length == 1023 and code.designed_distance == 205
    short = BCHCode(10, 102, 900)
    assert short.full_length == 1023 and short.k == 278 - 123
    assert all(isinstance(v, int) for v in (code.m, code.n, code.k, code.t, code.primitive_poly))
    assert code.generator.dtype == np.uint8


# -- the native code cache is bounded by table memory (issue 14, item 10) -----


def test_native_table_bytes_counts_the_tables() -> None:
    from fuzzykey import _core

    small = _core.BchCode(6, 3, 63)  # n < 128: scalar paths, the LFSR table only
    big = _core.BchCode(10, 155, 1023)
    assert 0 < small.table_bytes < big.table_bytes
    before = big.table_bytes
    assert big.bitsliced  # builds the bitsliced tables: already counted
    assert big.table_bytes == before
    forced = _core.BchCode(10, 155, 1023, 0)  # no bitsliced tables at all
    assert forced.table_bytes < before and not forced.bitsliced


def test_code_cache_keeps_table_memory_under_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import fuzzykey.bch as bch

    monkeypatch.setattr(bch, "_cache", type(bch._cache)())
    monkeypatch.setattr(bch, "_cache_bytes", 0)
    monkeypatch.setattr(bch, "_CACHE_BUDGET_BYTES", 4 << 20)
    sizes = []
    for t in range(40, 52):  # distinct codes of about 0.6 MiB of tables each
        code = BCHCode(13, t)
        sizes.append(code._code.table_bytes)
        count, held = bch._cache_info()
        assert held <= 4 << 20
        assert held == sum(c.table_bytes for c in bch._cache.values())
    assert sum(sizes) > 4 << 20 and count < len(sizes)  # something was evicted
    # Least recently used goes first: touch the oldest kept code, add one more.
    oldest = next(iter(bch._cache))
    assert BCHCode(*(oldest[0], oldest[1], oldest[2]))._code is bch._cache[oldest]
    BCHCode(13, 60)
    assert oldest in bch._cache
    # A cached code is shared; an evicted one is rebuilt and still decodes.
    first = BCHCode(13, 40)
    assert first == BCHCode(13, 40) and first._code is BCHCode(13, 40)._code
    msg = np.zeros(first.k, dtype=np.uint8)
    assert first.decode(first.encode(msg))[1] == 0


def test_helper_lengths_are_checked_before_any_code_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fuzzykey.bch as bch
    from fuzzykey import FuzzyExtractor, HelperData, InvalidHelperData

    _, helper = FuzzyExtractor(BCHCode(6, 3)).generate(np.zeros(63, dtype=np.uint8))
    raw = helper.to_bytes()
    built: list[tuple[int, int, int]] = []
    real = bch._native

    def spy(m: int, t: int, n: int) -> object:
        built.append((m, t, n))
        return real(m, t, n)

    monkeypatch.setattr(bch, "_native", spy)
    for bad in (raw[:-1], raw + b"\x00"):
        with pytest.raises(InvalidHelperData):
            HelperData.from_bytes(bad)
    assert built == []
    HelperData.from_bytes(raw)
    assert built == [(6, 3, 63)]
