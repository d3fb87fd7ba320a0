"""CPU Hamming-distance kernels (``fuzzykey._core.hamming``) against numpy.

Every kernel set the processor supports (``ops.available_kernel_isas()["hamming"]``,
switched with ``ops.use_kernel_isa("hamming", isa)``) must give exactly the numpy
result, and the same result as every other set, for every row length and batch
shape, including the ones that leave partial vectors and partial blocks of rows,
and for several thread counts.
"""

from __future__ import annotations

import itertools
import platform
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fuzzykey import _core, ops
from fuzzykey.errors import InvalidArgument

ISAS = ops.available_kernel_isas()["hamming"]
WORDS = [*range(1, 10), 16]
# (Q, G): empty, single rows, and counts that are not multiples of the vector
# or block widths (4, 8) nor of the per-thread split.
SHAPES = [
    (0, 5),
    (3, 0),
    (0, 0),
    (1, 1),
    (1, 7),
    (1, 8),
    (1, 9),
    (2, 31),
    (3, 33),
    (5, 100),
    (17, 3),
    (64, 1),
]
THREADS = [1, 2, 3]


def reference(q: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.bitwise_count(np.bitwise_xor(q[:, None, :], g[None, :, :])).sum(-1).astype(np.int32)


def random_words(rng: np.random.Generator, rows: int, words: int) -> np.ndarray:
    return rng.integers(0, 2**64, (rows, words), dtype=np.uint64, endpoint=False)


@pytest.fixture
def isa_switch() -> Iterator[None]:
    """Restore the default kernel set after a test that switches it."""
    default = ops.kernel_isas()["hamming"]
    yield
    ops.use_kernel_isa("hamming", default)


def check_all_isas(q: np.ndarray, g: np.ndarray, threads: int) -> None:
    want = reference(q, g)
    for isa in ISAS:
        ops.use_kernel_isa("hamming", isa)
        got = _core.hamming(q, g, threads=threads)
        assert got.dtype == np.int32 and got.shape == (q.shape[0], g.shape[0]), isa
        np.testing.assert_array_equal(got, want, err_msg=f"kernel set {isa}, threads {threads}")


@pytest.mark.parametrize("words", WORDS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"Q{s[0]}xG{s[1]}")
def test_random_every_isa(isa_switch: None, words: int, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1000 * words + 7 * shape[0] + shape[1])
    q, g = random_words(rng, shape[0], words), random_words(rng, shape[1], words)
    for threads in THREADS:
        check_all_isas(q, g, threads)


@pytest.mark.parametrize("words", WORDS)
def test_extremes_every_isa(isa_switch: None, words: int) -> None:
    ones = np.full((13, words), np.iinfo(np.uint64).max, dtype=np.uint64)
    zeros = np.zeros((11, words), dtype=np.uint64)
    both = np.concatenate([ones, zeros, ones[:5]])
    for q, g in [(ones, zeros), (zeros, ones), (ones, ones), (zeros, zeros), (both, both)]:
        for threads in THREADS:
            check_all_isas(q, g, threads)
    # the largest distance a row can have
    ops.use_kernel_isa("hamming", ISAS[0])
    assert int(_core.hamming(ones[:1], zeros[:1], threads=1)[0, 0]) == 64 * words


@pytest.mark.parametrize("words", [1, 3, 4, 8, 12, 16, 17, 33, 100])
def test_larger_batches_every_isa(isa_switch: None, words: int) -> None:
    """Enough work (about 6 * 2^20 words) for the dispatcher to really use 2 and 3
    threads, over several gallery tiles and row blocks, with uneven splits and tails."""
    rng = np.random.default_rng(words)
    q = random_words(rng, 3, words)
    g = random_words(rng, (1 << 21) // words + 13, words)
    for threads in [1, 2, 3, 0]:
        check_all_isas(q, g, threads)
    # many queries, few gallery rows: the work is split over the queries
    q = random_words(rng, (1 << 20) // words + 5, words)
    g = random_words(rng, 6, words)
    for threads in [1, 2, 3]:
        check_all_isas(q, g, threads)


DENSE_WORDS = [31, 32, 33, 64, 100]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("words", DENSE_WORDS)
def test_dense_rows_every_isa(isa_switch: None, isa: str, words: int) -> None:
    """Long rows (odd word counts around the vector and unroll widths, and multiples of
    them): all-ones against all-zeros is 64 bits per word, every word counted once."""
    ops.use_kernel_isa("hamming", isa)
    assert ops.kernel_isas()["hamming"] == isa
    ones = np.full((3, words), np.iinfo(np.uint64).max, dtype=np.uint64)
    zeros = np.zeros((5, words), dtype=np.uint64)
    for threads in THREADS:
        got = _core.hamming(ones, zeros, threads=threads)
        np.testing.assert_array_equal(got, np.full((3, 5), 64 * words, np.int32),
                                      err_msg=f"kernel set {isa}, {words} words, threads {threads}")
        np.testing.assert_array_equal(_core.hamming(zeros, ones, threads=threads),
                                      np.full((5, 3), 64 * words, np.int32))
        np.testing.assert_array_equal(_core.hamming(ones, ones, threads=threads), np.zeros((3, 3), np.int32))
    np.testing.assert_array_equal(ops.hamming(ones, zeros), np.full((3, 5), 64 * words, np.int32))
    # one set bit in the last word, and in the first: a distance of exactly 1
    last, first = zeros[:1].copy(), zeros[:1].copy()
    last[0, -1] = np.uint64(1) << np.uint64(63)
    first[0, 0] = np.uint64(1)
    assert _core.hamming(last, zeros[:1], threads=1)[0, 0] == 1
    assert _core.hamming(first, last, threads=1)[0, 0] == 2
    # random dense rows against numpy
    rng = np.random.default_rng(words)
    q, g = random_words(rng, 4, words), random_words(rng, 37, words)
    want = reference(q, g)
    for threads in THREADS:
        np.testing.assert_array_equal(_core.hamming(q, g, threads=threads), want,
                                      err_msg=f"kernel set {isa}, {words} words, threads {threads}")
    np.testing.assert_array_equal(ops.hamming(q, g), want)


def test_sparse_bits_every_isa(isa_switch: None) -> None:
    """Single set bits in every position: a distance of 1 or 2 lands in the right row."""
    words = 9
    eye = np.zeros((64 * words, words), dtype=np.uint64)
    for j in range(64 * words):
        eye[j, j // 64] = np.uint64(1) << np.uint64(j % 64)
    rng = np.random.default_rng(5)
    for threads in THREADS:
        check_all_isas(eye[rng.choice(len(eye), 7)], eye, threads)


def test_width_mismatch_raises() -> None:
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match="same number of words"):
        _core.hamming(random_words(rng, 2, 4), random_words(rng, 5, 3), threads=1)


def test_default_is_best_available() -> None:
    assert ISAS, "no kernel set at all"
    assert ISAS[-1] == "generic"
    assert ops.kernel_isas()["hamming"] == ISAS[0]
    assert len(set(ISAS)) == len(ISAS)


def test_unknown_or_unsupported_names_raise(isa_switch: None) -> None:
    before = ops.kernel_isas()
    # unknown names, and the x86 sets this processor cannot run (or this build lacks)
    unusable = [name for name in ("avx512", "avx2", "popcnt") if name not in ISAS]
    for name in ["", "sse9", "AVX2", "generic ", "neon", *unusable]:
        with pytest.raises(InvalidArgument, match=re.escape(f"'{name}'")):
            ops.use_kernel_isa("hamming", name)
        assert ops.kernel_isas() == before
    for isa in ISAS:
        ops.use_kernel_isa("hamming", isa)
        assert ops.kernel_isas()["hamming"] == isa


def cpu_flags() -> set[str]:
    path = Path("/proc/cpuinfo")
    if not path.exists():
        return set()
    for line in path.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_isas_match_processor_flags() -> None:
    """On x86-64 Linux, every kernel set the processor can run is offered (and
    only those); elsewhere at least the generic one."""
    flags = cpu_flags()
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    if x86 and flags:
        assert ("avx512" in ISAS) == ({"avx512f", "avx512_vpopcntdq"} <= flags)
        assert ("avx2" in ISAS) == ({"avx2", "popcnt"} <= flags)
        assert ("popcnt" in ISAS) == ("popcnt" in flags)
    assert "generic" in ISAS


def test_threads_argument_does_not_change_results(isa_switch: None) -> None:
    rng = np.random.default_rng(11)
    q, g = random_words(rng, 4, 8), random_words(rng, 200_001, 8)
    want = reference(q, g)
    for isa, threads in itertools.product(ISAS, [0, 1, 2, 3, 7, 64]):
        ops.use_kernel_isa("hamming", isa)
        np.testing.assert_array_equal(_core.hamming(q, g, threads=threads), want)


def test_public_wrapper() -> None:
    """``fuzzykey.ops.hamming`` agrees with the reference, on any thread count."""
    from fuzzykey import ops

    rng = np.random.default_rng(12)
    q, g = random_words(rng, 3, 8), random_words(rng, 1001, 8)
    np.testing.assert_array_equal(ops.hamming(q, g), reference(q, g))
    np.testing.assert_array_equal(ops.hamming(q, g, threads=2), reference(q, g))
