"""BCHCode errors-and-erasures decoding (``decode(..., erasures=)``).

The guarantee under test: with e errors off the erased positions and f erasures,
2e + f <= 2t always gives back the sent codeword, and ``n_errors == e``. Sent
codewords come from galois (its own BCH encoder over the same field), codeword
validity beyond the bound is checked with galois' ``detect``, and the decoder's
choice is compared with a brute-force search over all codewords of a tiny code
and with a plain-Python rendering of the documented two-trial rule on top of
galois' ordinary (erasure-free) decoder, so no reference uses fuzzykey's own
decoder.
"""

from __future__ import annotations

import functools
import itertools

import galois
import numpy as np
import pytest
from conftest import bch_params, full_length, hamming, random_bits, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzykey._core as core
from fuzzykey import BCHCode, DecodingFailure, InvalidArgument

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------
@functools.cache
def galois_bch(m: int, t: int):
    # galois' default field for BCH is not always the Conway one (see test_bch.py).
    return galois.BCH(full_length(m), d=2 * t + 1, extension_field=galois.GF(2**m))


def galois_encode(code: BCHCode, msgs: np.ndarray) -> np.ndarray:
    """Codewords of ``code`` (our orientation) made by galois; a shorter message
    gives galois' shortened code, which is ours."""
    gmsgs = galois.GF2(np.ascontiguousarray(msgs[:, ::-1]))
    return np.asarray(galois_bch(code.m, code.t).encode(gmsgs), dtype=np.uint8)[:, ::-1].copy()


def galois_is_codeword(code: BCHCode, words: np.ndarray) -> np.ndarray:
    gw = galois.GF2(np.ascontiguousarray(np.atleast_2d(words)[:, ::-1]))
    return ~np.asarray(galois_bch(code.m, code.t).detect(gw), dtype=bool)


def off_erasures(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> int:
    """Hamming distance on the non-erased positions."""
    return int(np.count_nonzero((a != b) & ~mask.astype(bool)))


def galois_decode(code: BCHCode, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """galois' (erasure-free) decoding of our-orientation words: (codewords, n_errors),
    n_errors -1 where galois finds no codeword within t; a shorter word is galois'
    shortened code, which is ours."""
    gw = galois.GF2(np.ascontiguousarray(np.atleast_2d(words)[:, ::-1]))
    dec, n_err = galois_bch(code.m, code.t).decode(gw, output="codeword", errors=True)
    return np.asarray(dec, dtype=np.uint8)[:, ::-1], np.asarray(n_err)


def two_trial_references(code: BCHCode, words: np.ndarray, masks: np.ndarray) -> list:
    """The documented rule, in Python, on galois' plain decoder, for each row: fill the
    erased bits with 0, then with 1, decode both, keep the decoded codeword closer to the
    word off the erasures; a tie between two different codewords is a failure. Each
    entry is (codeword, n_errors) or None."""
    words, masks = np.atleast_2d(words), np.atleast_2d(masks).astype(bool)
    fills = np.concatenate([np.where(masks, 0, words), np.where(masks, 1, words)]).astype(np.uint8)
    decoded, n_err = galois_decode(code, fills) if len(fills) else (fills, np.zeros(0, int))
    rows = len(words)
    out = []
    for r in range(rows):
        candidates = [decoded[i] for i in (r, rows + r) if n_err[i] >= 0]
        if not candidates:
            out.append(None)
            continue
        dist = [off_erasures(c, words[r], masks[r]) for c in candidates]
        if len(candidates) == 2 and dist[0] == dist[1] and not np.array_equal(*candidates):
            out.append(None)  # two different codewords equally close off the erasures
            continue
        best = int(np.argmin(dist))
        out.append((candidates[best], dist[best]))
    return out


def two_trial_reference(code: BCHCode, word: np.ndarray, mask: np.ndarray):
    """:func:`two_trial_references` for one word."""
    return two_trial_references(code, word[None, :], mask[None, :])[0]


def corrupt(rng: np.random.Generator, c: np.ndarray, e: int, f: int) -> tuple[np.ndarray, np.ndarray]:
    """c with f erased positions (holding random bits) and e errors elsewhere."""
    where = rng.permutation(c.shape[0])
    mask = np.zeros(c.shape[0], np.uint8)
    mask[where[:f]] = 1
    word = c.copy()
    word[where[f : f + e]] ^= 1
    word[where[:f]] = rng.integers(0, 2, f, dtype=np.uint8)
    return word, mask


# ---------------------------------------------------------------------------
# Within the bound: always the sent codeword
# ---------------------------------------------------------------------------
CODES = [(5, 2, 31), (5, 3, 31), (5, 3, 24), (6, 4, 63), (6, 5, 50), (7, 9, 127), (8, 6, 255),
         (8, 10, 200), (8, 20, 255)]


@pytest.mark.parametrize(("m", "t", "n"), CODES)
def test_within_bound_returns_the_galois_codeword(m: int, t: int, n: int) -> None:
    code = BCHCode(m, t, n)
    rng = np.random.default_rng(100 * m + t + n)
    # every f with the largest e it allows, then random (e, f) with 2e + f <= 2t
    fs = list(range(2 * t + 1)) + [int(x) for x in rng.integers(0, 2 * t + 1, 150)]
    es = [(2 * t - f) // 2 if i <= 2 * t else int(rng.integers(0, (2 * t - f) // 2 + 1))
          for i, f in enumerate(fs)]
    msgs = random_bits(rng, len(fs), code.k)
    sent = galois_encode(code, msgs)
    np.testing.assert_array_equal(sent, code.encode_batch(msgs))  # the same code
    words = np.empty_like(sent)
    masks = np.empty_like(sent)
    for r, (e, f) in enumerate(zip(es, fs, strict=True)):
        assert 2 * e + f <= 2 * t
        words[r], masks[r] = corrupt(rng, sent[r], e, f)
    before = (words.copy(), masks.copy())
    out, n_err = code.decode_batch(words, erasures=masks.astype(bool), threads=2)
    np.testing.assert_array_equal(words, before[0])
    np.testing.assert_array_equal(masks, before[1])
    np.testing.assert_array_equal(out, sent)
    np.testing.assert_array_equal(n_err, es)
    assert n_err.dtype == np.int32
    assert galois_is_codeword(code, out).all()
    for r in range(0, len(fs), 17):
        single, e = code.decode(words[r], erasures=masks[r])
        np.testing.assert_array_equal(single, sent[r])
        assert e == es[r] and isinstance(e, int)


@st.composite
def within_bound(draw):
    m, t, n = draw(bch_params(5, 10))
    f = draw(st.one_of(st.integers(0, 2 * t), st.just(2 * t), st.just(1)))
    e = draw(st.one_of(st.integers(0, (2 * t - f) // 2), st.just((2 * t - f) // 2)))
    return BCHCode(m, t, n), e, f


@PROPS
@given(setup=within_bound(), seed=seeds)
def test_property_within_bound(setup, seed: int) -> None:
    code, e, f = setup
    rng = np.random.default_rng(seed)
    c = code.encode(random_bits(rng, code.k))
    word, mask = corrupt(rng, c, e, f)
    out, n_err = code.decode(word, erasures=mask)
    np.testing.assert_array_equal(out, c)
    assert n_err == e == off_erasures(out, word, mask)
    # The erased bits' values do not matter.
    other = word ^ (mask & random_bits(rng, code.n))
    np.testing.assert_array_equal(code.decode(other, erasures=mask.astype(bool))[0], c)


# ---------------------------------------------------------------------------
# A tiny code, exhaustively: BCH(5, t=2) shortened to n = 15, k = 5
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny() -> tuple[BCHCode, np.ndarray]:
    code = BCHCode(5, 2, 15)
    assert (code.n, code.k, code.t) == (15, 5, 2)
    msgs = np.array(list(itertools.product((0, 1), repeat=code.k)), np.uint8)
    book = galois_encode(code, msgs)  # all 32 codewords
    assert galois_is_codeword(code, book).all()
    return code, book


def _all_masks(n: int) -> np.ndarray:
    return ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(np.uint8)


def test_tiny_code_every_erasure_and_error_pattern_within_bound(tiny) -> None:
    """Every erasure pattern with f <= 2t, every error pattern off it with 2e + f <= 2t,
    erased bits all wrong: the sent codeword, with n_errors = e."""
    code, book = tiny
    n, t = code.n, code.t
    rng = np.random.default_rng(5)
    for c in book[rng.choice(len(book), 3, replace=False)]:
        words, masks, es = [], [], []
        for f in range(2 * t + 1):
            for erased in itertools.combinations(range(n), f):
                rest = [i for i in range(n) if i not in erased]
                for e in range((2 * t - f) // 2 + 1):
                    for flips in itertools.combinations(rest, e):
                        w = c.copy()
                        w[list(erased)] ^= 1  # the worst reading of the erased bits
                        w[list(flips)] ^= 1
                        mk = np.zeros(n, np.uint8)
                        mk[list(erased)] = 1
                        words.append(w)
                        masks.append(mk)
                        es.append(e)
        assert len(words) == 121 + 225 + 1470 + 455 + 1365
        out, n_err = code.decode_batch(np.array(words), erasures=np.array(masks))
        np.testing.assert_array_equal(out, np.broadcast_to(c, out.shape))
        np.testing.assert_array_equal(n_err, es)


def test_tiny_code_all_erasure_patterns_brute_force(tiny) -> None:
    """All 2^15 erasure patterns on several received words (sent codeword plus 0..4
    errors): the decoder follows the two-trial rule, returns only codewords, and
    within the bound gives the unique nearest codeword off the erasures, found by
    brute force over all 32 codewords."""
    code, book = tiny
    n, t = code.n, code.t
    masks = _all_masks(n)
    f = masks.sum(axis=1)
    rng = np.random.default_rng(7)
    for trial in range(6):
        c = book[rng.integers(len(book))]
        word = c ^ random_bits(rng, n) if trial == 5 else c.copy()
        if trial < 5:
            word[rng.choice(n, trial, replace=False)] ^= 1
        words = np.broadcast_to(word, masks.shape).copy()
        out, n_err = code.decode_batch(words, erasures=masks)
        # brute force: distance of every codeword to the word off every mask
        diff = (book[None, :, :] != word[None, None, :]) & (masks[:, None, :] == 0)
        dist = diff.sum(axis=2)  # (masks, codewords)
        best = dist.min(axis=1)
        e_true = ((c != word) & (masks == 0)).sum(axis=1)
        within = 2 * e_true + f <= 2 * t
        assert within.any() or trial == 5
        # within the bound: c, and c is the unique nearest codeword off the erasures
        np.testing.assert_array_equal(out[within], np.broadcast_to(c, out[within].shape))
        np.testing.assert_array_equal(n_err[within], e_true[within])
        assert ((dist[within] == best[within, None]).sum(axis=1) == 1).all()
        # anywhere: a failure leaves the word, a success is a codeword at its stated distance
        failed = n_err < 0
        np.testing.assert_array_equal(n_err[failed], -1)
        np.testing.assert_array_equal(out[failed], words[failed])
        ok = ~failed
        in_book = (out[ok][:, None, :] == book[None, :, :]).all(axis=2)
        assert (in_book.sum(axis=1) == 1).all()
        np.testing.assert_array_equal(n_err[ok], ((out[ok] != word) & (masks[ok] == 0)).sum(axis=1))
        assert (n_err[ok] >= best[ok]).all()
        # and the documented rule, row by row, on a sample of the patterns
        sample = rng.choice(len(masks), 300, replace=False)
        refs = two_trial_references(code, words[sample], masks[sample])
        for i, ref in zip(sample, refs, strict=True):
            if ref is None:
                assert n_err[i] == -1
            else:
                np.testing.assert_array_equal(out[i], ref[0])
                assert n_err[i] == ref[1]


# ---------------------------------------------------------------------------
# Beyond the bound
# ---------------------------------------------------------------------------
@st.composite
def beyond_bound(draw):
    m, t, n = draw(bch_params(5, 8))
    f = draw(st.integers(0, n))
    low = max(0, (2 * t - f) // 2 + 1)  # smallest e with 2e + f > 2t
    e = draw(st.integers(min(low, n - f), n - f))  # e = n - f < low only when f > n - 2: n > 2t
    assert 2 * e + f > 2 * t
    return BCHCode(m, t, n), e, f


@PROPS
@given(setup=beyond_bound(), seed=seeds)
def test_property_beyond_bound_codeword_or_failure(setup, seed: int) -> None:
    code, e, f = setup
    rng = np.random.default_rng(seed)
    c = code.encode(random_bits(rng, code.k))
    word, mask = corrupt(rng, c, e, f)
    ref = two_trial_reference(code, word, mask)
    try:
        out, n_err = code.decode(word, erasures=mask)
    except DecodingFailure as exc:
        assert ref is None
        assert "erasures" in str(exc)
        return
    assert ref is not None
    np.testing.assert_array_equal(out, ref[0])
    assert n_err == ref[1] == off_erasures(out, word, mask)
    assert galois_is_codeword(code, out).all()


@PROPS  # m <= 8: galois' decoder (the reference) is slow to compile and run for larger fields
@given(params=bch_params(5, 8), seed=seeds, rows=st.integers(0, 60))
def test_batch_matches_two_trial_rule_and_single_calls(params, seed: int, rows: int) -> None:
    code = BCHCode(*params)
    n, t = code.n, code.t
    rng = np.random.default_rng(seed)
    sent = code.encode_batch(random_bits(rng, rows, code.k))
    words = np.empty_like(sent)
    masks = np.empty_like(sent)
    for r in range(rows):
        f = int(rng.integers(0, min(n, 3 * t + 2) + 1))
        e = int(rng.integers(0, min(n - f, 2 * t + 2) + 1))
        words[r], masks[r] = corrupt(rng, sent[r], e, f)
    if rows:
        masks[0] = 0  # a row without erasures in the same batch
    out1, e1 = code.decode_batch(words, erasures=masks, threads=1)
    out2, e2 = code.decode_batch(words, erasures=masks, threads=2)
    out0, e0 = code.decode_batch(words, erasures=masks)
    np.testing.assert_array_equal(out1, out2)
    np.testing.assert_array_equal(e1, e2)
    np.testing.assert_array_equal(out1, out0)
    np.testing.assert_array_equal(e1, e0)
    assert out1.shape == (rows, n) and e1.shape == (rows,)
    refs = two_trial_references(code, words, masks)
    for r in range(rows):
        ref = refs[r]
        if ref is None:
            assert e1[r] == -1
            np.testing.assert_array_equal(out1[r], words[r])
            with pytest.raises(DecodingFailure):
                code.decode(words[r], erasures=masks[r])
        else:
            np.testing.assert_array_equal(out1[r], ref[0])
            assert e1[r] == ref[1]
            single, e = code.decode(words[r], erasures=masks[r])
            np.testing.assert_array_equal(single, out1[r])
            assert e == e1[r]
    ok = e1 >= 0
    if ok.any():
        assert galois_is_codeword(code, out1[ok]).all()


@pytest.mark.parametrize(("m", "t"), [(5, 3), (6, 4), (8, 10)])
def test_everything_erased_is_ambiguous_for_a_full_length_code(m: int, t: int) -> None:
    """With every bit erased, the two trials read the all-0 and all-1 words; both are
    codewords of a full-length narrow-sense BCH code (1 is not a root of g), both are
    at distance 0 off the (empty) rest: a tie between two codewords, so a failure."""
    code = BCHCode(m, t)
    ones = np.ones(code.n, np.uint8)
    assert galois_is_codeword(code, ones).all()
    word = random_bits(np.random.default_rng(m), code.n)
    with pytest.raises(DecodingFailure, match="erasures"):
        code.decode(word, erasures=ones)
    out, n_err = code.decode_batch(word[None, :], erasures=ones[None, :])
    assert n_err[0] == -1
    np.testing.assert_array_equal(out[0], word)


# ---------------------------------------------------------------------------
# No erasures = plain decoding; erasure values ignored; native paths agree
# ---------------------------------------------------------------------------
@PROPS
@given(params=bch_params(5, 10), seed=seeds, rows=st.integers(0, 40))
def test_empty_mask_is_plain_decoding(params, seed: int, rows: int) -> None:
    code = BCHCode(*params)
    rng = np.random.default_rng(seed)
    words = code.encode_batch(random_bits(rng, rows, code.k))
    for r in range(rows):
        words[r, rng.choice(code.n, int(rng.integers(0, min(code.n, 2 * code.t + 3) + 1)),
                            replace=False)] ^= 1
    if rows:
        words[-1] = random_bits(rng, code.n)
    plain = code.decode_batch(words)
    masked = code.decode_batch(words, erasures=np.zeros(words.shape, bool))
    np.testing.assert_array_equal(plain[0], masked[0])
    np.testing.assert_array_equal(plain[1], masked[1])


def test_erased_values_are_ignored(rng) -> None:
    code = BCHCode(9, 25, 500)
    sent = code.encode_batch(random_bits(rng, 50, code.k))
    words = np.empty_like(sent)
    masks = np.empty_like(sent)
    for r in range(50):
        f = int(rng.integers(0, 4 * code.t))
        words[r], masks[r] = corrupt(rng, sent[r], int(rng.integers(0, code.t + 5)), f)
    a = code.decode_batch(words, erasures=masks)
    b = code.decode_batch(words ^ (masks & random_bits(rng, *words.shape)), erasures=masks)
    # failures leave the input, so compare the decoded rows and the counts
    np.testing.assert_array_equal(a[1], b[1])
    ok = a[1] >= 0
    np.testing.assert_array_equal(a[0][ok], b[0][ok])
    assert ok.sum() > 10


@pytest.mark.parametrize(("m", "t", "n"), [(8, 5, 255), (9, 30, 511), (10, 50, 1000), (12, 20, 4000)])
def test_bitsliced_and_scalar_paths_agree(m: int, t: int, n: int) -> None:
    fast, slow = core.BchCode(m, t, n), core.BchCode(m, t, n, 0)
    rng = np.random.default_rng(m + t + n)
    sent = fast.encode_batch(random_bits(rng, 60, fast.k), 1)
    words = np.empty_like(sent)
    masks = np.empty_like(sent)
    for r in range(60):
        f = int(rng.integers(0, 3 * t))
        e = int(rng.integers(0, 2 * t))
        words[r], masks[r] = corrupt(rng, sent[r], e, f)
    out_f, e_f = fast.decode_erasures_batch(words, masks, 2)
    out_s, e_s = slow.decode_erasures_batch(words, masks, 1)
    assert fast.bitsliced and not slow.bitsliced
    np.testing.assert_array_equal(out_f, out_s)
    np.testing.assert_array_equal(e_f, e_s)


@pytest.mark.parametrize(("m", "t", "n"), [(13, 60, 8000), (16, 40, 65535)])
def test_large_codes(m: int, t: int, n: int) -> None:
    code = BCHCode(m, t, n)
    rng = np.random.default_rng(n)
    sent = code.encode_batch(random_bits(rng, 3, code.k))
    cases = [(t, 0), (0, 2 * t), (t // 2, 2 * t - 2 * (t // 2))]
    words = np.empty_like(sent)
    masks = np.empty_like(sent)
    for r, (e, f) in enumerate(cases):
        words[r], masks[r] = corrupt(rng, sent[r], e, f)
    out, n_err = code.decode_batch(words, erasures=masks)
    np.testing.assert_array_equal(out, sent)
    np.testing.assert_array_equal(n_err, [e for e, _ in cases])
    assert hamming(out[1], words[1]) <= 2 * t  # only erased bits changed


def test_zero_rows() -> None:
    code = BCHCode(6, 3)
    empty = np.zeros((0, code.n), np.uint8)
    out, n_err = code.decode_batch(empty, erasures=empty)
    assert out.shape == (0, code.n) and n_err.shape == (0,)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------
def test_erasures_validation_single(small_code: BCHCode, rng) -> None:
    n = small_code.n
    word = small_code.encode(random_bits(rng, small_code.k))
    bad_shape = [np.zeros(n - 1, np.uint8), np.zeros(n + 1, bool), np.zeros((1, n), np.uint8),
                 np.zeros((), np.uint8)]
    for bad in bad_shape:
        with pytest.raises(InvalidArgument, match=r"erasures.*shape.*\(31,\).*got shape"):
            small_code.decode(word, erasures=bad)
    for bad in (np.zeros(n, np.float32), np.full(n, "x"), [0.5] * n):
        with pytest.raises(InvalidArgument, match=r"erasures.*dtype"):
            small_code.decode(word, erasures=bad)
    for value in (2, -1, 255):
        bad = np.zeros(n, np.int64)
        bad[3] = value
        with pytest.raises(InvalidArgument, match=rf"erasures.*0 and 1.*{value}"):
            small_code.decode(word, erasures=bad)
    # accepted forms: bool, uint8 / int 0/1, a list
    for ok in (np.zeros(n, bool), np.zeros(n, np.uint8), np.zeros(n, np.int32), [0] * n):
        out, e = small_code.decode(word, erasures=ok)
        np.testing.assert_array_equal(out, word)
        assert e == 0


def test_erasures_validation_batch(small_code: BCHCode, rng) -> None:
    n = small_code.n
    words = small_code.encode_batch(random_bits(rng, 4, small_code.k))
    for bad in (np.zeros(n, np.uint8), np.zeros((3, n), np.uint8), np.zeros((4, n - 1), np.uint8),
                np.zeros((4, n, 1), bool)):
        with pytest.raises(InvalidArgument, match=r"erasures.*\(4, 31\).*got shape"):
            small_code.decode_batch(words, erasures=bad)
    with pytest.raises(InvalidArgument, match=r"erasures.*dtype float64"):
        small_code.decode_batch(words, erasures=np.zeros((4, n)))
    bad_values = np.zeros((4, n), np.uint8)
    bad_values[2, 5] = 7
    with pytest.raises(InvalidArgument, match=r"erasures.*found 7"):
        small_code.decode_batch(words, erasures=bad_values)
    with pytest.raises(InvalidArgument, match="words"):  # the words are checked first
        small_code.decode_batch(words[:, :-1], erasures=np.zeros((4, n - 1), np.uint8))
    with pytest.raises(InvalidArgument, match="threads"):
        small_code.decode_batch(words, erasures=np.zeros((4, n), np.uint8), threads=-1)


def test_native_entry_guards_memory() -> None:
    native = core.BchCode(5, 3, 31)
    words = np.zeros((3, 31), np.uint8)
    for bad in (np.zeros((2, 31), np.uint8), np.zeros((3, 30), np.uint8), np.zeros(31, np.uint8)):
        with pytest.raises(ValueError, match="erasures"):
            native.decode_erasures_batch(words, bad, 1)
    with pytest.raises(TypeError):  # no silent conversion of another dtype
        native.decode_erasures_batch(words, np.zeros((3, 31), bool), 1)
