"""Tests of fuzzykey.ops (the public wrappers) and the shared Philox / Box-Muller math.

References are independent: numpy's packbits for the bit layout, numpy matmul in
float64 for binarize, np.bitwise_count for Hamming distances, Random123's
published known-answer vectors plus a pure-Python Philox4x32-10 for the
generator. Exhaustive Hamming kernel tests live in test_ops_hamming.py.
"""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import fuzzykey
from fuzzykey import BCHCode, _core, ops
from fuzzykey._core import testing as core_testing
from fuzzykey.errors import CudaUnavailable, FuzzyKeyError, InvalidArgument

VECTORS = Path(__file__).parent / "vectors" / "philox4x32_10.json"
NS = [1, 63, 64, 65, 127, 128, 130, 512, 1000]
LEADS = [(), (0,), (3,), (2, 3)]
M32 = 0xFFFFFFFF


# -- references -------------------------------------------------------------------
def ref_pack(bits: np.ndarray) -> np.ndarray:
    """numpy reference of the packed layout: little-endian bits, 8 bytes per word."""
    bits = np.asarray(bits).astype(np.uint8)
    packed = np.packbits(bits, axis=-1, bitorder="little")
    nbytes = packed.shape[-1]
    pad = (-nbytes) % 8
    packed = np.concatenate([packed, np.zeros(packed.shape[:-1] + (pad,), np.uint8)], axis=-1)
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64)


def ref_unpack(words: np.ndarray, n: int) -> np.ndarray:
    as_bytes = np.ascontiguousarray(np.asarray(words).astype("<u8")).view(np.uint8)
    return np.unpackbits(as_bytes, axis=-1, count=n, bitorder="little")


def ref_hamming(q: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.bitwise_count(q[:, None, :] ^ g[None, :, :]).sum(-1, dtype=np.int64).astype(np.int32)


def high_bits_zero(words: np.ndarray, n: int) -> bool:
    """Whether every bit at position >= n of each packed row is 0."""
    words = np.asarray(words)
    W = words.shape[-1]
    if W * 64 == n:
        return True
    return bool(np.all(ref_unpack(words, W * 64)[..., n:] == 0))


def random_bits(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(0, 2, shape, dtype=np.uint8)


def random_words(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """Random packed rows of n bits (bits past n zero)."""
    return ref_pack(random_bits(rng, (rows, n)))


def assert_invalid(fn, *names: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        fn()
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, FuzzyKeyError)
    msg = str(err)
    for name in names:
        assert name in msg, f"message {msg!r} does not name {name!r}"
    return err


# -- pure-Python Philox4x32-10 and Box-Muller (from the paper and philox.hpp) --------
def py_philox4x32_10(ctr, key):
    c0, c1, c2, c3 = (int(v) & M32 for v in ctr)
    k0, k1 = (int(v) & M32 for v in key)
    for _ in range(10):
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        hi0, lo0 = p0 >> 32, p0 & M32
        hi1, lo1 = p1 >> 32, p1 & M32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + 0x9E3779B9) & M32
        k1 = (k1 + 0xBB67AE85) & M32
    return [c0, c1, c2, c3]


def py_uniform_open0(x: int) -> float:
    return (float(x) + 1.0) * 2.3283064365386963e-10


def py_normal4(seed: int, row: int, sample: int, block: int):
    ctr = [
        sample & M32,
        row & M32,
        block & M32,
        ((row >> 32) & M32) ^ ((((sample >> 32) & M32) << 16) & M32),
    ]
    r = py_philox4x32_10(ctr, [seed & M32, (seed >> 32) & M32])
    out = []
    for pair in range(2):
        radius = math.sqrt(-2.0 * math.log(py_uniform_open0(r[2 * pair])))
        angle = 6.283185307179586 * py_uniform_open0(r[2 * pair + 1])
        out += [radius * math.cos(angle), radius * math.sin(angle)]
    return out


# == 1. pack_bits / unpack_bits ===================================================
@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("lead", LEADS, ids=str)
@pytest.mark.parametrize("dtype", [np.uint8, np.bool_], ids=["uint8", "bool"])
def test_pack_unpack_matches_numpy(n, lead, dtype):
    rng = np.random.default_rng(1000 * n + len(lead))
    bits = random_bits(rng, lead + (n,)).astype(dtype)
    words = ops.pack_bits(bits)
    expected = ref_pack(bits)
    assert isinstance(words, np.ndarray)
    assert words.dtype == np.uint64 and words.shape == lead + ((n + 63) // 64,)
    assert words.flags.c_contiguous
    np.testing.assert_array_equal(words, expected)
    assert high_bits_zero(words, n)

    back = ops.unpack_bits(words, n)
    assert isinstance(back, np.ndarray) and back.dtype == np.uint8 and back.shape == lead + (n,)
    np.testing.assert_array_equal(back, bits.astype(np.uint8))
    # unpack of the numpy-packed reference words too (direction numpy -> ops)
    np.testing.assert_array_equal(ops.unpack_bits(expected, n), ref_unpack(expected, n))


@pytest.mark.parametrize("n", NS)
def test_pack_all_ones_keeps_padding_zero(n):
    words = ops.pack_bits(np.ones((2, n), np.uint8))
    assert high_bits_zero(words, n)
    assert int(np.bitwise_count(words).sum()) == 2 * n
    np.testing.assert_array_equal(words, ref_pack(np.ones((2, n), np.uint8)))


def test_words_for():
    assert [ops.words_for(n) for n in (0, 1, 63, 64, 65, 128, 130)] == [0, 1, 1, 1, 2, 2, 3]


def test_pack_docstring_example():
    bits = np.array([[1, 0, 1] + [0] * 62 + [1]], dtype=np.uint8)
    words = ops.pack_bits(bits)
    assert words.shape == (1, 2) and int(words[0, 0]) == 5 and int(words[0, 1]) == 2


@st.composite
def bit_arrays(draw):
    lead = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    n = draw(st.integers(0, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    as_bool = draw(st.booleans())
    bits = random_bits(np.random.default_rng(seed), lead + (n,))
    return bits.astype(np.bool_) if as_bool else bits


@settings(max_examples=150, deadline=None)
@given(bits=bit_arrays())
def test_pack_unpack_property(bits):
    n = bits.shape[-1]
    words = ops.pack_bits(bits)
    assert words.shape == bits.shape[:-1] + ((n + 63) // 64,)
    np.testing.assert_array_equal(words, ref_pack(bits))
    assert high_bits_zero(words, n)
    np.testing.assert_array_equal(ops.unpack_bits(words, n), bits.astype(np.uint8))
    # and the other direction: random words with the bits past n cleared
    rng = np.random.default_rng(n + words.size)
    raw = rng.integers(0, 2**64, words.shape, dtype=np.uint64)
    if n % 64:
        raw[..., -1] &= np.uint64((1 << (n % 64)) - 1)
    unpacked = ops.unpack_bits(raw, n)
    np.testing.assert_array_equal(unpacked, ref_unpack(raw, n))
    np.testing.assert_array_equal(ops.pack_bits(unpacked), raw)


@pytest.mark.parametrize("n", [1, 65, 130, 512])
@pytest.mark.parametrize("lead", [(), (0,), (3,), (2, 3)], ids=str)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.bool], ids=["uint8", "bool"])
def test_pack_unpack_torch(n, lead, dtype):
    rng = np.random.default_rng(7 * n + len(lead))
    bits_np = random_bits(rng, lead + (n,))
    bits = torch.from_numpy(bits_np).to(dtype)
    words = ops.pack_bits(bits)
    assert isinstance(words, torch.Tensor) and words.dtype == torch.uint64
    assert words.device.type == "cpu" and tuple(words.shape) == lead + ((n + 63) // 64,)
    np.testing.assert_array_equal(words.numpy(), ref_pack(bits_np))
    back = ops.unpack_bits(words, n)
    assert isinstance(back, torch.Tensor) and back.dtype == torch.uint8
    assert tuple(back.shape) == lead + (n,)
    np.testing.assert_array_equal(back.numpy(), bits_np)


def test_pack_unpack_non_contiguous_numpy():
    rng = np.random.default_rng(11)
    big = random_bits(rng, (9, 400))
    for view in (big[::2], big[:, ::3], big[1::3, 5:300:2], big[::-1, ::-1], big.T[:130].T):
        assert not view.flags.c_contiguous
        np.testing.assert_array_equal(ops.pack_bits(view), ops.pack_bits(view.copy()))
        np.testing.assert_array_equal(ops.pack_bits(view), ref_pack(view))
        np.testing.assert_array_equal(
            ops.pack_bits(view.astype(bool)), ops.pack_bits(np.ascontiguousarray(view))
        )
    words = ops.pack_bits(random_bits(rng, (4, 8, 200)))  # (4, 8, 4)
    for view in (words[:, ::2], words.transpose(1, 0, 2), words[::-1]):
        assert not view.flags.c_contiguous
        np.testing.assert_array_equal(ops.unpack_bits(view, 200), ops.unpack_bits(view.copy(), 200))
        np.testing.assert_array_equal(ops.unpack_bits(view, 200), ref_unpack(view, 200))


def test_pack_unpack_non_contiguous_torch():
    rng = np.random.default_rng(12)
    for dtype in (torch.uint8, torch.bool):
        base = torch.from_numpy(random_bits(rng, (130, 5))).to(dtype)
        t = base.T  # (5, 130), not contiguous
        assert not t.is_contiguous()
        out = ops.pack_bits(t)
        assert torch.equal(out, ops.pack_bits(t.contiguous()))
        np.testing.assert_array_equal(out.numpy(), ref_pack(t.contiguous().numpy()))
        sl = torch.from_numpy(random_bits(rng, (6, 300))).to(dtype)[::2, 7:200]
        assert not sl.is_contiguous()
        assert torch.equal(ops.pack_bits(sl), ops.pack_bits(sl.contiguous()))
    words = torch.from_numpy(random_words(rng, 6, 192))  # (6, 3)
    wt = words.T.contiguous().T  # same values, column-major storage
    assert not wt.is_contiguous()
    assert torch.equal(ops.unpack_bits(wt, 192), ops.unpack_bits(words, 192))
    assert torch.equal(ops.unpack_bits(words[::2], 192), ops.unpack_bits(words[::2].contiguous(), 192))


def test_pack_unpack_validation():
    good = np.zeros((2, 10), np.uint8)
    assert_invalid(lambda: ops.pack_bits(good.astype(np.float32)), "bits", "float32")
    assert_invalid(lambda: ops.pack_bits(good.astype(np.int64)), "bits")
    assert_invalid(lambda: ops.pack_bits(torch.zeros(2, 10)), "bits", "float32")
    bad = good.copy()
    bad[1, 3] = 2
    assert_invalid(lambda: ops.pack_bits(bad), "bits", "2")
    assert_invalid(lambda: ops.pack_bits(torch.from_numpy(bad)), "bits", "2")
    assert_invalid(lambda: ops.pack_bits(np.uint8(1)), "bits")
    assert_invalid(lambda: ops.pack_bits(np.array(True)), "bits")
    assert_invalid(lambda: ops.pack_bits(good, threads=-1), "threads")

    words = np.zeros((4, 2), np.uint64)
    assert_invalid(lambda: ops.unpack_bits(words, 200), "words", "4")  # needs 4 words
    assert_invalid(lambda: ops.unpack_bits(words, 64), "words")
    assert_invalid(lambda: ops.unpack_bits(words, -1), "n")
    assert_invalid(lambda: ops.unpack_bits(words, 100.0), "n")
    assert_invalid(lambda: ops.unpack_bits(words, True), "n")
    assert_invalid(lambda: ops.unpack_bits(words.astype(np.int64), 100), "words", "int64")
    assert_invalid(lambda: ops.unpack_bits(words.astype(np.float64), 100), "words")
    assert_invalid(lambda: ops.unpack_bits(np.uint64(3), 1), "words")
    assert_invalid(lambda: ops.unpack_bits(torch.zeros(4, 2, dtype=torch.int64), 100), "words")


def test_threads_do_not_change_results():
    rng = np.random.default_rng(13)
    bits = random_bits(rng, (3000, 200))
    x = rng.standard_normal((3000, 10))
    P = rng.standard_normal((10, 200))
    words = ops.pack_bits(bits)
    g = ops.pack_bits(random_bits(rng, (2100, 200)))
    for threads in (None, 0, 1, 2, 7):
        np.testing.assert_array_equal(ops.pack_bits(bits, threads=threads), words)
        np.testing.assert_array_equal(ops.unpack_bits(words, 200, threads=threads), bits)
        np.testing.assert_array_equal(ops.binarize(x, P, threads=threads), ops.binarize(x, P))
        np.testing.assert_array_equal(ops.hamming(words[:5], g, threads=threads), ref_hamming(words[:5], g))


def test_non_native_byte_order_is_refused():
    w = np.zeros((3, 2), np.uint64)
    assert_invalid(lambda: ops.unpack_bits(w.astype(">u8"), 100), "words")
    assert_invalid(lambda: ops.hamming(w.astype(">u8"), w), "queries")
    assert_invalid(lambda: ops.binarize(np.ones((2, 3), ">f8"), np.ones((3, 5), ">f8")), "x")
    assert_invalid(
        lambda: ops.sample_sphere(np.zeros((2, 3), ">f8"), np.ones(2, ">f8"), 2, seed=1), "centers"
    )


# == 2. binarize ==================================================================
def check_binarize(x, P, t, out):
    """Compare with float64 numpy, skipping bits within rounding distance of the threshold."""
    x = np.asarray(x)
    P = np.asarray(P)
    n = P.shape[1]
    x64, P64 = x.astype(np.float64), P.astype(np.float64)
    t64 = np.zeros(n) if t is None else np.asarray(t).astype(np.float64)
    y64 = x64 @ P64
    bound = 1e-4 * (np.abs(x64) @ np.abs(P64))
    sure = np.abs(y64 - t64) > bound
    out = np.asarray(out)
    assert out.dtype == np.uint64 and out.shape == (x.shape[0], (n + 63) // 64)
    assert high_bits_zero(out, n)
    got = ref_unpack(out, n).astype(bool)
    expected = y64 > t64
    np.testing.assert_array_equal(got[sure], expected[sure])
    if sure.size:
        assert sure.mean() > 0.98  # the comparison is not vacuous
    return got


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("with_t", [False, True], ids=["no_t", "t"])
@pytest.mark.parametrize(
    "N,d,n", [(5000, 24, 512), (0, 8, 100), (1, 8, 100), (300, 16, 1), (257, 33, 130), (70, 5, 64)]
)
def test_binarize_matches_numpy(dtype, with_t, N, d, n):
    rng = np.random.default_rng(N * 131 + n)
    x = rng.standard_normal((N, d)).astype(dtype)
    P = rng.standard_normal((d, n)).astype(dtype)
    t = rng.standard_normal(n).astype(dtype) if with_t else None
    out = ops.binarize(x, P, t)
    assert isinstance(out, np.ndarray)
    check_binarize(x, P, t, out)
    # torch CPU tensors give the same bits
    if N and with_t:
        out_torch = ops.binarize(torch.from_numpy(x), torch.from_numpy(P), torch.from_numpy(t))
        assert isinstance(out_torch, torch.Tensor) and out_torch.dtype == torch.uint64
        np.testing.assert_array_equal(out_torch.numpy(), out)


def test_binarize_exact_inputs_and_threshold_ties():
    # Small integers: every product and sum is exact in float32, so the bits are exact,
    # including ties (y == t gives 0).
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        x = rng.integers(-3, 4, (40, 6)).astype(dtype)
        P = rng.integers(-3, 4, (6, 70)).astype(dtype)
        y = x.astype(np.int64) @ P.astype(np.int64)
        t = rng.integers(-4, 5, 70).astype(dtype)
        np.testing.assert_array_equal(ops.binarize(x, P, t), ref_pack((y > t).astype(np.uint8)))
        np.testing.assert_array_equal(ops.binarize(x, P), ref_pack((y > 0).astype(np.uint8)))
        # ties everywhere: thresholds equal to the values of row 0
        np.testing.assert_array_equal(ops.binarize(x[:1], P, y[0].astype(dtype)), np.zeros((1, 2), np.uint64))


def test_binarize_block_boundaries():
    # rows beyond the first internal block must be placed at their own index
    rng = np.random.default_rng(8)
    n = 512
    block = max(64, ops._BLOCK_VALUES // n)
    N = 2 * block + 17
    x = rng.standard_normal((N, 8))
    P = rng.standard_normal((8, n))
    out = ops.binarize(x, P)
    np.testing.assert_array_equal(out[block - 1 : block + 2], ops.binarize(x[block - 1 : block + 2], P))
    np.testing.assert_array_equal(out[-5:], ops.binarize(x[-5:], P))
    check_binarize(x, P, None, out)


def test_binarize_torch_and_non_contiguous():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3000, 20)).astype(np.float32)
    P = rng.standard_normal((20, 400)).astype(np.float32)
    t = rng.standard_normal(400).astype(np.float32)
    expected = ops.binarize(x, P, t)
    xt, Pt, tt = torch.from_numpy(x), torch.from_numpy(P), torch.from_numpy(t)
    out = ops.binarize(xt, Pt, tt)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.uint64 and out.device.type == "cpu"
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(ops.binarize(xt, Pt).numpy(), ops.binarize(x, P))
    # requires_grad inputs are fine (the bits are not differentiable)
    np.testing.assert_array_equal(ops.binarize(xt.clone().requires_grad_(), Pt).numpy(), ops.binarize(x, P))
    # non-contiguous inputs
    xs, Ps = x[::2], np.asfortranarray(P)
    np.testing.assert_array_equal(ops.binarize(xs, Ps, t[::1]), ops.binarize(xs.copy(), P, t))
    xT = torch.from_numpy(np.ascontiguousarray(x.T)).T
    assert not xT.is_contiguous()
    np.testing.assert_array_equal(ops.binarize(xT, Pt, tt).numpy(), expected)
    t2 = np.repeat(t, 2)[::2]
    np.testing.assert_array_equal(ops.binarize(x, P, t2), expected)
    check_binarize(x, P, t, expected)


def test_binarize_validation():
    x = np.zeros((4, 3), np.float32)
    P = np.zeros((3, 10), np.float32)
    t = np.zeros(10, np.float32)
    assert_invalid(lambda: ops.binarize(x, P.astype(np.float64)), "projection", "float64")
    assert_invalid(lambda: ops.binarize(x.astype(np.int32), P), "x", "int32")
    assert_invalid(lambda: ops.binarize(x.astype(np.int64), P.astype(np.int64)), "x")
    assert_invalid(lambda: ops.binarize(x.astype(np.float16), P.astype(np.float16)), "x")
    assert_invalid(lambda: ops.binarize(x, P, t.astype(np.float64)), "thresholds")
    assert_invalid(lambda: ops.binarize(x, np.zeros((4, 10), np.float32)), "projection")
    assert_invalid(lambda: ops.binarize(x[0], P), "x")
    assert_invalid(lambda: ops.binarize(x, P[0]), "projection")
    assert_invalid(lambda: ops.binarize(x[None], P), "x")
    assert_invalid(lambda: ops.binarize(x, P, np.zeros(9, np.float32)), "thresholds", "9")
    assert_invalid(lambda: ops.binarize(x, P, np.zeros((1, 10), np.float32)), "thresholds")
    for bad in (np.nan, np.inf, -np.inf):
        xb, Pb, tb = x.copy(), P.copy(), t.copy()
        xb[2, 1], Pb[1, 7], tb[4] = bad, bad, bad
        assert_invalid(partial(ops.binarize, xb, P, t), "x")
        assert_invalid(partial(ops.binarize, x, Pb, t), "projection")
        assert_invalid(partial(ops.binarize, x, P, tb), "thresholds")
        assert_invalid(partial(ops.binarize, torch.from_numpy(xb), torch.from_numpy(P)), "x")
        tt_bad = torch.from_numpy(tb)
        assert_invalid(partial(ops.binarize, torch.from_numpy(x), torch.from_numpy(P), tt_bad), "thresholds")
    xt, Pt, tt = torch.from_numpy(x), torch.from_numpy(P), torch.from_numpy(t)
    assert_invalid(lambda: ops.binarize(xt, P), "torch")
    assert_invalid(lambda: ops.binarize(x, Pt), "torch")
    assert_invalid(lambda: ops.binarize(x, P, tt), "torch")
    assert_invalid(lambda: ops.binarize(xt, Pt, t), "torch")
    assert_invalid(lambda: ops.binarize(xt, Pt.double()), "projection")
    assert_invalid(lambda: ops.binarize(xt.int(), Pt.int()), "x")


# == 3. hamming (public wrapper) ====================================================
@pytest.mark.parametrize(
    "Q,G,n", [(0, 5, 100), (4, 0, 100), (0, 0, 64), (1, 1, 1), (7, 13, 130), (33, 65, 512), (5, 9, 0)]
)
def test_hamming_matches_numpy(Q, G, n):
    rng = np.random.default_rng(Q * 1000 + G * 10 + n)
    W = (n + 63) // 64
    q = rng.integers(0, 2**64, (Q, W), dtype=np.uint64)
    g = rng.integers(0, 2**64, (G, W), dtype=np.uint64)
    out = ops.hamming(q, g)
    assert isinstance(out, np.ndarray) and out.dtype == np.int32 and out.shape == (Q, G)
    np.testing.assert_array_equal(out, ref_hamming(q, g))
    tout = ops.hamming(torch.from_numpy(q), torch.from_numpy(g))
    assert isinstance(tout, torch.Tensor) and tout.dtype == torch.int32 and tuple(tout.shape) == (Q, G)
    np.testing.assert_array_equal(tout.numpy(), out)


def test_hamming_with_packed_bits_and_non_contiguous():
    rng = np.random.default_rng(21)
    a, b = random_bits(rng, (6, 300)), random_bits(rng, (8, 300))
    d = ops.hamming(ops.pack_bits(a), ops.pack_bits(b))
    np.testing.assert_array_equal(d, (a[:, None, :] != b[None, :, :]).sum(-1))
    g = rng.integers(0, 2**64, (10, 5), dtype=np.uint64)
    q = rng.integers(0, 2**64, (3, 5), dtype=np.uint64)
    np.testing.assert_array_equal(ops.hamming(q, g[::2]), ref_hamming(q, g[::2]))
    gT = torch.from_numpy(np.ascontiguousarray(g.T)).T
    np.testing.assert_array_equal(ops.hamming(torch.from_numpy(q), gT).numpy(), ref_hamming(q, g))


def test_hamming_validation():
    q = np.zeros((3, 2), np.uint64)
    g = np.zeros((4, 2), np.uint64)
    assert_invalid(lambda: ops.hamming(q.astype(np.int64), g), "queries", "int64")
    assert_invalid(lambda: ops.hamming(q, g.astype(np.uint32)), "gallery", "uint32")
    assert_invalid(lambda: ops.hamming(q, np.zeros((4, 3), np.uint64)), "2", "3")
    assert_invalid(lambda: ops.hamming(q[0], g), "queries")
    assert_invalid(lambda: ops.hamming(q, g[None]), "gallery")
    assert_invalid(lambda: ops.hamming(torch.from_numpy(q), g), "torch")
    assert_invalid(lambda: ops.hamming(q, torch.from_numpy(g)), "torch")
    assert_invalid(lambda: ops.hamming(torch.zeros(3, 2, dtype=torch.int64), torch.from_numpy(g)), "queries")


# == 4. sample_sphere ===============================================================
def sphere_inputs(rng, N, d, dtype):
    c = rng.standard_normal((N, d)).astype(dtype)
    r = (rng.uniform(0.5, 2.0, N) * rng.choice([-1.0, 1.0], N)).astype(dtype)
    return c, r


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-12)], ids=["f32", "f64"])
@pytest.mark.parametrize("N,S,d", [(1, 1, 1), (5, 7, 3), (20, 10, 4), (8, 16, 13), (3, 5, 128), (0, 4, 3)])
def test_sample_sphere_on_sphere(dtype, tol, N, S, d):
    rng = np.random.default_rng(N * 100 + d)
    c, r = sphere_inputs(rng, N, d, dtype)
    z = ops.sample_sphere(c, r, S, seed=123)
    assert isinstance(z, np.ndarray) and z.dtype == dtype and z.shape == (N, S, d)
    dist = np.linalg.norm(z.astype(np.float64) - c.astype(np.float64)[:, None, :], axis=-1)
    scale = np.abs(r.astype(np.float64))[:, None]
    # float32 z = c + r u is rounded once at |c| + |r| magnitude
    slack = 0 if dtype == np.float64 else 2 * np.finfo(np.float32).eps * np.abs(c).max(initial=0)
    assert np.all(np.abs(dist - scale) <= tol * scale + slack)


def test_sample_sphere_matches_normal4_recipe():
    """u[i, s, 4b + q] is normal4(seed, i, s, b)[q] normalized: the counter layout."""
    rng = np.random.default_rng(31)
    N, S, d, seed = 3, 4, 6, 2**63 + 12345
    c, r = sphere_inputs(rng, N, d, np.float64)
    z = ops.sample_sphere(c, r, S, seed=seed)
    for i in range(N):
        for s in range(S):
            g = np.array(sum((core_testing.normal4(seed, i, s, b) for b in range((d + 3) // 4)), []))[:d]
            u = g / np.linalg.norm(g)
            np.testing.assert_allclose(z[i, s], c[i] + r[i] * u, rtol=1e-12, atol=1e-12)


def test_sample_sphere_seeds():
    rng = np.random.default_rng(32)
    c, r = sphere_inputs(rng, 6, 5, np.float64)
    a = ops.sample_sphere(c, r, 8, seed=99)
    np.testing.assert_array_equal(a, ops.sample_sphere(c, r, 8, seed=99))
    np.testing.assert_array_equal(a, ops.sample_sphere(c, r, 8, seed=np.uint64(99)))
    for other in (98, 100, 99 + 2**32, 2**64 - 1, 0):
        assert not np.any(np.all(a == ops.sample_sphere(c, r, 8, seed=other), axis=-1))
    x, y = ops.sample_sphere(c, r, 8), ops.sample_sphere(c, r, 8, seed=None)
    assert not np.any(np.all(x == y, axis=-1))
    # different samples of one row and the same sample of different rows differ
    u = (a - c[:, None, :]) / r[:, None, None]
    flat = u.reshape(-1, 5)
    assert len({tuple(v) for v in flat.round(12)}) == flat.shape[0]


def test_sample_sphere_float32_agrees_with_float64():
    rng = np.random.default_rng(33)
    c, r = sphere_inputs(rng, 50, 7, np.float64)
    z64 = ops.sample_sphere(c, r, 20, seed=2024)
    z32 = ops.sample_sphere(c.astype(np.float32), r.astype(np.float32), 20, seed=2024)
    assert z32.dtype == np.float32
    u64 = (z64 - c[:, None, :]) / r[:, None, None]
    u32 = (z32.astype(np.float64) - c.astype(np.float32).astype(np.float64)[:, None, :]) / r.astype(
        np.float32
    ).astype(np.float64)[:, None, None]
    # float32 draws its uniforms from the top 24 bits of each Philox word (exactly
    # representable, so never rounded up to 1), float64 from all 32: the same
    # draws to the resolution of a 24-bit uniform, which log() amplifies near 1.
    np.testing.assert_allclose(u32, u64, rtol=0, atol=2e-4)
    np.testing.assert_allclose(z32, z64, rtol=1e-4, atol=1e-4)
    assert np.median(np.abs(u32 - u64)) < 1e-6


def test_sample_sphere_prefix_rows():
    rng = np.random.default_rng(34)
    c, r = sphere_inputs(rng, 12, 6, np.float64)
    full = ops.sample_sphere(c, r, 5, seed=77)
    for k in (1, 4, 11):
        np.testing.assert_array_equal(ops.sample_sphere(c[:k], r[:k], 5, seed=77), full[:k])
    # more samples per row keep the first ones
    np.testing.assert_array_equal(ops.sample_sphere(c, r, 9, seed=77)[:, :5], full)
    # a row's samples depend on its index, not on its values
    c2 = c.copy()
    c2[0] += 1.0
    np.testing.assert_array_equal(ops.sample_sphere(c2, r, 5, seed=77)[1:], full[1:])
    # row 3 alone sits at index 0 and so gets other draws
    alone = ops.sample_sphere(c[3:4], r[3:4], 5, seed=77)
    assert not np.allclose(alone[0], full[3])


def test_sample_sphere_uniform_on_sphere():
    d, n = 3, 20000
    u = ops.sample_sphere(np.zeros((n, d)), np.ones(n), 1, seed=4242)[:, 0, :]
    assert np.all(np.abs(u.mean(axis=0)) < 0.02)
    cov = np.cov(u, rowvar=False)
    assert np.all(np.abs(cov - np.eye(d) / d) < 0.02)
    # many samples of one row behave the same way
    v = ops.sample_sphere(np.zeros((1, d)), np.ones(1), n, seed=4243)[0]
    assert np.all(np.abs(v.mean(axis=0)) < 0.02)
    assert np.all(np.abs(np.cov(v, rowvar=False) - np.eye(d) / d) < 0.02)
    # Archimedes: each coordinate of u is uniform on [-1, 1] for d = 3
    for j in range(d):
        xs = np.sort(u[:, j])
        ks = np.max(np.abs((xs + 1) / 2 - np.arange(1, n + 1) / n))
        assert ks < 0.02


def test_normal4_distribution():
    seed = 0x0123456789ABCDEF
    draws = np.array([core_testing.normal4(seed, row, s, 0) for row in range(50) for s in range(100)]).ravel()
    assert draws.size == 20000
    assert abs(draws.mean()) < 0.03
    assert abs(draws.var() - 1.0) < 0.04
    xs = np.sort(draws)
    cdf = np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in xs])
    i = np.arange(1, xs.size + 1)
    ks = max(np.max(i / xs.size - cdf), np.max(cdf - (i - 1) / xs.size))
    assert ks < 0.02
    # blocks and large rows/samples are fine too
    more = np.array([core_testing.normal4(seed, 2**40 + k, 2**50 + k, 7) for k in range(2500)]).ravel()
    assert abs(more.mean()) < 0.05 and abs(more.var() - 1.0) < 0.08


def test_sample_sphere_d1():
    c = np.array([[0.0], [3.0], [-1.5]])
    r = np.array([1.0, 2.0, -0.5])
    z = ops.sample_sphere(c, r, 64, seed=3)
    offs = z - c[:, None, :]
    np.testing.assert_allclose(
        np.abs(offs), np.broadcast_to(np.abs(r)[:, None, None], offs.shape), rtol=1e-15
    )
    assert np.any(offs > 0) and np.any(offs < 0)  # both signs occur
    z32 = ops.sample_sphere(c.astype(np.float32), r.astype(np.float32), 64, seed=3)
    np.testing.assert_array_equal(np.sign(z32 - c[:, None, :].astype(np.float32)), np.sign(offs))


# Seeds whose first Philox output word at counter (0, 0, 0, 0) (row 0, sample 0,
# block 0) is 0xffffffff (float64 and float32) or >= 2^32 - 128 (float32 only),
# found by brute force over the key with an independent Philox. There
# uniform_open0 returns exactly 1.0, so the first Box-Muller pair has radius 0 and
# both of its normals are 0: for d <= 2 the Gaussian vector is 0.
ZERO_PAIR_SEEDS = [(1352247272, np.float64), (1352247272, np.float32), (16390493, np.float32)]


def test_zero_pair_seeds_are_what_they_claim():
    for seed, _ in ZERO_PAIR_SEEDS:
        v0 = py_philox4x32_10([0, 0, 0, 0], [seed & M32, seed >> 32])[0]
        assert v0 >= 2**32 - 128
        assert list(core_testing.philox4x32_10([0, 0, 0, 0], [seed & M32, seed >> 32]))[0] == v0
    g = core_testing.normal4(1352247272, 0, 0, 0)
    assert g[0] == 0.0 and g[1] == 0.0  # the radius is exactly 0


@pytest.mark.parametrize("seed,dtype", ZERO_PAIR_SEEDS, ids=lambda v: getattr(v, "__name__", str(v)))
@pytest.mark.parametrize("d", [1, 2])
def test_sample_sphere_finite_when_first_pair_is_zero(seed, dtype, d):
    """sample_sphere must return points on the sphere for every seed; it returns NaN here
    (philox.hpp sphere_sample divides by sqrt(norm2) == 0)."""
    z = ops.sample_sphere(np.zeros((1, d), dtype), np.ones(1, dtype), 1, seed=seed)
    assert np.all(np.isfinite(z)), f"seed={seed} d={d} {np.dtype(dtype).name}: got {z.tolist()}"
    np.testing.assert_allclose(np.linalg.norm(z.astype(np.float64), axis=-1), 1.0, rtol=1e-5)


def test_sample_sphere_d3_with_zero_pair_is_fine():
    for seed, dtype in ZERO_PAIR_SEEDS:
        z = ops.sample_sphere(np.zeros((1, 3), dtype), np.ones(1, dtype), 1, seed=seed)
        np.testing.assert_allclose(np.linalg.norm(z.astype(np.float64), axis=-1), 1.0, rtol=1e-5)


def test_sample_sphere_torch_matches_numpy():
    rng = np.random.default_rng(35)
    for dtype in (np.float32, np.float64):
        c, r = sphere_inputs(rng, 4, 5, dtype)
        zn = ops.sample_sphere(c, r, 6, seed=555)
        zt = ops.sample_sphere(torch.from_numpy(c), torch.from_numpy(r), 6, seed=555)
        assert isinstance(zt, torch.Tensor) and zt.dtype == torch.from_numpy(c).dtype
        assert tuple(zt.shape) == (4, 6, 5) and zt.device.type == "cpu"
        np.testing.assert_array_equal(zt.numpy(), zn)
        # non-contiguous centers
        cT = torch.from_numpy(np.ascontiguousarray(c.T)).T
        np.testing.assert_array_equal(ops.sample_sphere(cT, torch.from_numpy(r), 6, seed=555).numpy(), zn)


def test_sample_sphere_gradients():
    rng = np.random.default_rng(36)
    c0, r0 = sphere_inputs(rng, 3, 4, np.float64)
    c = torch.from_numpy(c0).requires_grad_()
    r = torch.from_numpy(r0).requires_grad_()
    assert torch.autograd.gradcheck(lambda c, r: ops.sample_sphere(c, r, 3, seed=5), (c, r))

    S = 7
    z = ops.sample_sphere(c, r, S, seed=5)
    assert z.requires_grad
    z.sum().backward()
    torch.testing.assert_close(c.grad, torch.full_like(c, float(S)), rtol=0, atol=0)
    u = (z.detach() - c.detach()[:, None, :]) / r.detach()[:, None, None]
    torch.testing.assert_close(r.grad, u.sum(dim=(1, 2)))

    c.grad = r.grad = None
    w = torch.from_numpy(rng.standard_normal((3, S, 4)))
    (ops.sample_sphere(c, r, S, seed=5) * w).sum().backward()
    torch.testing.assert_close(c.grad, w.sum(dim=1))
    torch.testing.assert_close(r.grad, (w * u).sum(dim=(1, 2)))

    # only one input needing a gradient
    c1 = torch.from_numpy(c0).requires_grad_()
    ops.sample_sphere(c1, torch.from_numpy(r0), 2, seed=5).sum().backward()
    torch.testing.assert_close(c1.grad, torch.full_like(c1, 2.0))


def test_sample_sphere_validation():
    c = np.zeros((3, 4))
    r = np.ones(3)
    assert_invalid(lambda: ops.sample_sphere(c, r, 0, seed=1), "n_samples")
    assert_invalid(lambda: ops.sample_sphere(c, r, -2, seed=1), "n_samples")
    assert_invalid(lambda: ops.sample_sphere(c, r, True, seed=1), "n_samples")
    assert_invalid(lambda: ops.sample_sphere(c, r, 2.0, seed=1), "n_samples")
    assert_invalid(lambda: ops.sample_sphere(c, r, 2, seed=-1), "seed")
    assert_invalid(lambda: ops.sample_sphere(c, r, 2, seed=2**64), "seed")
    assert_invalid(lambda: ops.sample_sphere(c, r, 2, seed=1.5), "seed")
    assert_invalid(lambda: ops.sample_sphere(c, r, 2, seed=True), "seed")
    assert_invalid(lambda: ops.sample_sphere(c.astype(np.float32), r, 2, seed=1), "radii", "float64")
    assert_invalid(lambda: ops.sample_sphere(c.astype(np.int64), r.astype(np.int64), 2, seed=1), "centers")
    assert_invalid(lambda: ops.sample_sphere(c[0], r, 2, seed=1), "centers")
    assert_invalid(lambda: ops.sample_sphere(c, r[:2], 2, seed=1), "radii")
    assert_invalid(lambda: ops.sample_sphere(c, r[None], 2, seed=1), "radii")
    assert_invalid(lambda: ops.sample_sphere(c[None], r, 2, seed=1), "centers")
    assert_invalid(lambda: ops.sample_sphere(np.zeros((3, 0)), r, 2, seed=1), "d")
    for bad in (np.nan, np.inf):
        cb, rb = c.copy(), r.copy()
        cb[1, 2], rb[2] = bad, bad
        assert_invalid(partial(ops.sample_sphere, cb, r, 2, seed=1), "centers")
        assert_invalid(partial(ops.sample_sphere, c, rb, 2, seed=1), "radii")
        ct, rt = torch.from_numpy(c), torch.from_numpy(r)
        assert_invalid(partial(ops.sample_sphere, torch.from_numpy(cb), rt, 2, seed=1), "centers")
        assert_invalid(partial(ops.sample_sphere, ct, torch.from_numpy(rb), 2, seed=1), "radii")
    assert_invalid(lambda: ops.sample_sphere(torch.from_numpy(c), r, 2, seed=1), "torch")
    assert_invalid(lambda: ops.sample_sphere(c, torch.from_numpy(r), 2, seed=1), "torch")
    assert_invalid(
        lambda: ops.sample_sphere(torch.from_numpy(c).float(), torch.from_numpy(r), 2, seed=1), "radii"
    )


# == 5. Philox4x32-10 ===============================================================
def load_vectors():
    data = json.loads(VECTORS.read_text())
    assert "kat_vectors" in data["source"] and "Random123" in data["source"]
    return [
        (
            [int(v, 16) for v in case["counter"]],
            [int(v, 16) for v in case["key"]],
            [int(v, 16) for v in case["output"]],
        )
        for case in data["cases"]
    ]


def test_philox_known_answers():
    cases = load_vectors()
    assert len(cases) == 3
    for ctr, key, expected in cases:
        assert list(core_testing.philox4x32_10(ctr, key)) == expected
        assert py_philox4x32_10(ctr, key) == expected


u32 = st.integers(0, M32)


@settings(max_examples=300, deadline=None)
@given(ctr=st.lists(u32, min_size=4, max_size=4), key=st.lists(u32, min_size=2, max_size=2))
def test_philox_matches_python(ctr, key):
    assert list(core_testing.philox4x32_10(ctr, key)) == py_philox4x32_10(ctr, key)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**64 - 1),
    row=st.one_of(st.integers(0, 1000), st.integers(0, 2**64 - 1)),
    sample=st.one_of(st.integers(0, 1000), st.integers(0, 2**64 - 1)),
    block=st.one_of(st.integers(0, 8), st.integers(0, M32)),
)
def test_normal4_matches_python_box_muller(seed, row, sample, block):
    got = core_testing.normal4(seed, row, sample, block)
    expected = py_normal4(seed, row, sample, block)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_normal4_counter_layout():
    # a few hand-picked counters: the uniforms come from philox(sample_lo, row_lo, block, ...)
    seed = 0xA4093822299F31D0
    for row, sample, block in [
        (0, 0, 0),
        (1, 0, 0),
        (0, 1, 0),
        (0, 0, 1),
        (2**32, 0, 0),
        (0, 2**32, 0),
        (5, 2**40 + 3, 2),
    ]:
        np.testing.assert_allclose(
            core_testing.normal4(seed, row, sample, block),
            py_normal4(seed, row, sample, block),
            rtol=1e-12,
            atol=1e-12,
        )
    assert core_testing.normal4(1, 2**32, 0, 0) != core_testing.normal4(1, 0, 0, 0)
    assert core_testing.normal4(1, 0, 2**32, 0) != core_testing.normal4(1, 0, 0, 0)
    assert core_testing.normal4(1, 0, 0, 0) != core_testing.normal4(1 << 32, 0, 0, 0)


# == 6. CUDA entry points without a GPU ===============================================
def test_cuda_entry_points_without_device():
    count = _core.cuda_device_count()
    assert isinstance(count, int) and count >= 0
    if not _core.cuda_built():
        assert count == 0
    if count == 0:
        with pytest.raises(RuntimeError) as info:
            _core.cuda_pack_bits(0, 1, 64, 0, 0)
        assert str(info.value).strip()
    else:  # a GPU is present (not the case on the CPU test machines): real round trip
        bits = torch.from_numpy(random_bits(np.random.default_rng(1), (3, 130))).cuda()
        words = ops.pack_bits(bits)
        assert words.is_cuda
        np.testing.assert_array_equal(words.cpu().numpy(), ref_pack(bits.cpu().numpy()))


class _NoCudaCore:
    """Proxy for fuzzykey._core that reports a build without CUDA kernels."""

    def __init__(self, core):
        self._real = core

    def cuda_built(self):
        return False

    def __getattr__(self, name):
        if name.startswith("cuda_") and name != "cuda_device_count":
            raise AssertionError(f"{name} must not be reached when cuda_built() is False")
        return getattr(self._real, name)


def test_cuda_dispatch_without_cuda_build(monkeypatch):
    monkeypatch.setattr(ops, "_core", _NoCudaCore(_core))
    monkeypatch.setattr(ops, "_is_cuda", lambda x: True)
    calls = [
        lambda: ops.pack_bits(np.zeros((2, 70), np.uint8)),
        lambda: ops.unpack_bits(np.zeros((2, 2), np.uint64), 70),
        lambda: ops.binarize(np.zeros((2, 3), np.float32), np.zeros((3, 70), np.float32)),
        lambda: ops.hamming(np.zeros((2, 2), np.uint64), np.zeros((3, 2), np.uint64)),
        lambda: ops.sample_sphere(np.zeros((2, 3)), np.ones(2), 4, seed=1),
    ]
    for call in calls:
        with pytest.raises(CudaUnavailable) as info:
            call()
        err = info.value
        assert isinstance(err, FuzzyKeyError) and isinstance(err, RuntimeError)
        assert not isinstance(err, ValueError)
        assert "FUZZYKEY_CUDA" in str(err)
    assert fuzzykey.CudaUnavailable is CudaUnavailable
    assert fuzzykey.InvalidArgument is InvalidArgument


def test_hamming_out_buffer_is_filled_and_returned():
    rng = np.random.default_rng(5)
    q = rng.integers(0, 2**63, (3, 8), dtype=np.uint64)
    g = rng.integers(0, 2**63, (50, 8), dtype=np.uint64)
    out = np.full((3, 50), -1, dtype=np.int32)
    got = ops.hamming(q, g, out=out)
    assert got is out
    np.testing.assert_array_equal(out, np.bitwise_count(q[:, None, :] ^ g[None, :, :]).sum(-1))
    for bad in (np.empty((3, 49), np.int32), np.empty((3, 50), np.int64), np.empty((50, 3), np.int32).T):
        with pytest.raises(InvalidArgument, match="out"):
            ops.hamming(q, g, out=bad)


# --------------------------------------------------------------------------- hostile arguments
def test_native_threads_propagate_exceptions_instead_of_aborting() -> None:
    """An exception on a worker thread is rethrown after every thread is joined (no std::terminate)."""
    assert core_testing.parallel_rows_failing_at(1000, 4, 10**9) == 1000  # no failure: every row done
    for failing in (0, 499, 999):  # the calling thread's range and the workers' ranges
        with pytest.raises(RuntimeError, match=f"row {failing} failed"):
            core_testing.parallel_rows_failing_at(1000, 4, failing)


@pytest.mark.parametrize("threads", [2**40, 257, -1])
def test_threads_are_bounded_where_they_enter(threads: int) -> None:
    bits = np.zeros((4, 64), np.uint8)
    with pytest.raises(InvalidArgument, match="threads must be from 0 to 256"):
        ops.pack_bits(bits, threads=threads)
    with pytest.raises(InvalidArgument, match="threads must be from 0 to 256"):
        BCHCode(6, 3).decode_batch(np.zeros((2, 63), np.uint8), threads=threads)


def test_sample_sphere_refuses_what_would_hang_or_overflow() -> None:
    centers, radii = np.zeros((2, 0), np.float32), np.ones(2, np.float32)
    with pytest.raises(InvalidArgument, match="d >= 1"):
        ops.sample_sphere(centers, radii, 3)
    with pytest.raises(ValueError, match="d >= 1"):  # the native entry point guards itself
        _core.sample_sphere(centers, radii, 3, 1)
    ok_centers = np.zeros((2, 4), np.float32)
    with pytest.raises(InvalidArgument, match="at most 2\\^40"):
        ops.sample_sphere(ok_centers, radii, 2**62)
    with pytest.raises(ValueError, match="too large"):
        _core.sample_sphere(ok_centers, radii, 2**62, 1)
