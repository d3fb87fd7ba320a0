"""Single-thread BCH decoding throughput: fuzzykey vs bchlib vs galois.

What it measures
----------------
For each point (m, t) (default (8, 26), (9, 51), (10, 64), (10, 102), (11, 205),
(12, 400)) and the full-length binary narrow-sense BCH code n = 2^m - 1, it
reports decoding throughput in codewords per second on ONE thread, for words
carrying exactly t random bit errors and for error-free words:

* fuzzykey: ``BCHCode(m, t).decode_batch(words, threads=1)`` over a batch sized
  so that one measurement takes about 0.3 s; median of 5 repeats. A third
  fuzzykey column decodes errors and erasures at the bound 2e + f = 2t
  (e = floor(t/2) errors and f = 2t - 2e erased bits holding random values,
  ``decode_batch(words, erasures=masks, threads=1)``; the two-trial decoder
  runs the plain decoder once or twice per word). bchlib and galois have no
  erasure decoding, so that column has no counterpart.
* bchlib (Python wrapper of the Linux kernel BCH library): ``decode`` followed by
  ``correct`` for each word in a Python loop (the library is per-word). bchlib
  works on bytes, so its code is shortened to the largest whole number of data
  bytes, ``(2^m - 1 - ecc_bits) // 8``; the t flipped bits lie anywhere among
  the data bits and the ``ecc_bits`` bits of the ecc that the code covers.
  Median of 5 repeats. Points bchlib refuses (t > 64 and so on) read "n/a".
* galois: ``galois.BCH(n, d=2t+1).decode`` on a small batch (numba-vectorized
  over rows, single-threaded through ``NUMBA_NUM_THREADS=1``, which this script
  sets before galois is imported unless it is already set). JIT compilation is
  warmed up outside the timing; median of 3 repeats.

Every decoder's output is checked on the benchmark words (every word corrected
back to the right codeword / bytes, with the right number of errors), so no
broken path is ever timed. galois is given the same field (fuzzykey's Conway
polynomial) so its codewords are fuzzykey's, reversed (galois lists the highest
degree first).

A second table times code construction (the generator polynomial and the
decoder's tables), ``BCHCode(m, t, n)``, for (10, 102), (16, 2000) and
(16, 8000); median of 3 (the first, cold call is shown too). ``BCHCode`` keeps
the codes it has built, by (m, t, n), so each call asks for a length no call
has asked for before, n = 2^m - 2, 2^m - 3, ...: shortening the code by a few
bits leaves its generator polynomial as it is and its tables the same size.

This is a benchmark, not a test: nothing here asserts on timings.

How to run
----------
::

    pip install '.[bench]'                      # fuzzykey, bchlib, galois
    python benchmarks/bch.py                    # the table below, ~2-4 minutes
    python benchmarks/bch.py --points 10:64,10:102 --json bch.json
    python benchmarks/bch.py --quick            # smoke run, a few seconds of timing

The default run takes about 2-4 minutes on a 2-core machine, roughly a third of
it galois' JIT compilation and code construction.
"""

from __future__ import annotations

import os

# numba reads this when it is first imported (by galois): set it before any import.
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from _machine import command_line, cpu_model, package_version, print_header
from numpy.typing import NDArray

import fuzzykey
from fuzzykey import BCHCode, ops

DEFAULT_POINTS: tuple[tuple[int, int], ...] = (
    (8, 26),
    (9, 51),
    (10, 64),
    (10, 102),
    (11, 205),
    (12, 400),
)
QUICK_POINTS: tuple[tuple[int, int], ...] = ((8, 26), (10, 102))
CONSTRUCTION_POINTS: tuple[tuple[int, int], ...] = ((10, 102), (16, 2000), (16, 8000))
QUICK_CONSTRUCTION_POINTS: tuple[tuple[int, int], ...] = ((10, 102), (16, 2000))

# Bytes of one fuzzykey batch (rows x n uint8); larger work repeats the batch.
MAX_BATCH_BYTES = 48 << 20
MAX_BATCH_ROWS = 1 << 18
# Words in one bchlib measurement with errors (each needs fresh copies).
MAX_BCHLIB_WORDS = 200_000


@dataclass(frozen=True)
class Settings:
    """How long and how often each measurement runs."""

    fuzzykey_target_s: float
    fuzzykey_repeats: int
    bchlib_target_s: float
    bchlib_repeats: int
    galois_target_s: float
    galois_min_words: int
    galois_max_words: int
    galois_repeats: int
    construction_repeats: int


DEFAULT_SETTINGS = Settings(
    fuzzykey_target_s=0.3,
    fuzzykey_repeats=5,
    bchlib_target_s=0.3,
    bchlib_repeats=5,
    galois_target_s=1.0,
    galois_min_words=20,
    galois_max_words=2000,
    galois_repeats=3,
    construction_repeats=3,
)
QUICK_SETTINGS = Settings(
    fuzzykey_target_s=0.03,
    fuzzykey_repeats=3,
    bchlib_target_s=0.03,
    bchlib_repeats=3,
    galois_target_s=0.05,
    galois_min_words=4,
    galois_max_words=8,
    galois_repeats=1,
    construction_repeats=3,
)


@dataclass
class Rate:
    """One throughput measurement: median words/s over repeats."""

    words_per_s: float
    words_per_run: int
    repeats: int
    runs_s: list[float]


@dataclass
class BchlibInfo:
    """How bchlib's (shortened, byte-oriented) code looks at a point."""

    data_bytes: int
    ecc_bytes: int
    ecc_bits: int
    covered_bits: int
    prim_poly: int


@dataclass
class PointResult:
    """All measurements at one (m, t)."""

    m: int
    t: int
    n: int
    k: int
    fuzzykey_t_errors: Rate
    fuzzykey_0_errors: Rate
    fuzzykey_erasures: Rate | None = None
    erasures_errors: int = 0
    erasures_erased: int = 0
    bchlib: BchlibInfo | None = None
    bchlib_t_errors: Rate | None = None
    bchlib_0_errors: Rate | None = None
    bchlib_error: str | None = None
    galois_t_errors: Rate | None = None
    galois_0_errors: Rate | None = None
    galois_error: str | None = None
    galois_setup_s: float | None = None

    @staticmethod
    def _ratio(a: Rate | None, b: Rate | None) -> float | None:
        if a is None or b is None or b.words_per_s <= 0:
            return None
        return a.words_per_s / b.words_per_s

    @property
    def ratio_bchlib(self) -> float | None:
        """fuzzykey / bchlib, t errors."""
        return self._ratio(self.fuzzykey_t_errors, self.bchlib_t_errors)

    @property
    def ratio_galois(self) -> float | None:
        """fuzzykey / galois, t errors."""
        return self._ratio(self.fuzzykey_t_errors, self.galois_t_errors)


@dataclass
class ConstructionResult:
    """Construction time of ``BCHCode(m, t, n)``; n and k are the full-length code's."""

    m: int
    t: int
    n: int
    k: int
    generator_degree: int
    first_ms: float
    median_ms: float
    runs_ms: list[float] = field(default_factory=list)


# -- helpers -----------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    """CPU, kernel ISA of the native core, library versions."""
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "fuzzykey": getattr(fuzzykey, "__version__", package_version("fuzzykey")),
        "fuzzykey_kernel_isa": ops.kernel_isas()["bch"],
        "numpy": np.__version__,
        "bchlib": package_version("bchlib"),
        "galois": package_version("galois"),
        "numba": package_version("numba"),
        "NUMBA_NUM_THREADS": os.environ.get("NUMBA_NUM_THREADS"),
    }


def parse_points(text: str) -> list[tuple[int, int]]:
    """``"10:64,10:102"`` -> ``[(10, 64), (10, 102)]``."""
    points: list[tuple[int, int]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        m_text, sep, t_text = item.partition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"point {item!r} is not of the form m:t")
        points.append((int(m_text), int(t_text)))
    if not points:
        raise argparse.ArgumentTypeError("no points given")
    return points


def random_error_masks(
    rng: np.random.Generator, rows: int, width: int, weight: int
) -> NDArray[np.uint8]:
    """``rows`` 0/1 rows of length ``width`` with exactly ``weight`` ones each."""
    out = np.zeros((rows, width), dtype=np.uint8)
    if weight == 0:
        return out
    chunk = max(1, (4 << 20) // width)
    for start in range(0, rows, chunk):
        stop = min(rows, start + chunk)
        keys = rng.random((stop - start, width))
        idx = np.argpartition(keys, weight - 1, axis=1)[:, :weight]
        out[np.arange(start, stop)[:, None], idx] = 1
    return out


def median_rate(runs_s: Sequence[float], words: int) -> Rate:
    """Words per second from the median run time."""
    med = statistics.median(runs_s)
    return Rate(
        words_per_s=words / med if med > 0 else math.inf,
        words_per_run=words,
        repeats=len(runs_s),
        runs_s=[float(x) for x in runs_s],
    )


def random_erasures(
    rng: np.random.Generator, rows: int, width: int, n_errors: int, n_erased: int
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Disjoint 0/1 masks per row: ``n_errors`` error positions, ``n_erased`` erasures."""
    errors = np.zeros((rows, width), dtype=np.uint8)
    erased = np.zeros((rows, width), dtype=np.uint8)
    total = n_errors + n_erased
    if total == 0:
        return errors, erased
    chunk = max(1, (4 << 20) // width)
    kth = sorted({max(n_erased - 1, 0), total - 1})
    for start in range(0, rows, chunk):
        stop = min(rows, start + chunk)
        idx = np.argpartition(rng.random((stop - start, width)), kth, axis=1)
        row = np.arange(start, stop)[:, None]
        erased[row, idx[:, :n_erased]] = 1  # the n_erased smallest keys
        errors[row, idx[:, n_erased:total]] = 1  # the next n_errors
    return errors, erased


# -- fuzzykey ----------------------------------------------------------------
def _fuzzykey_words(
    code: BCHCode, rows: int, n_errors: int, rng: np.random.Generator, n_erased: int = 0
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8] | None]:
    msgs = rng.integers(0, 2, (rows, code.k), dtype=np.uint8)
    codewords = code.encode_batch(msgs, threads=0)
    if n_erased == 0:
        return codewords, codewords ^ random_error_masks(rng, rows, code.n, n_errors), None
    errors, erased = random_erasures(rng, rows, code.n, n_errors, n_erased)
    garbage = rng.integers(0, 2, (rows, code.n), dtype=np.uint8)
    words = np.where(erased == 1, garbage, codewords ^ errors).astype(np.uint8)
    return codewords, words, erased


def _check_fuzzykey(
    codewords: NDArray[np.uint8],
    decoded: NDArray[np.uint8],
    n_found: NDArray[np.int32],
    n_errors: int,
    where: str,
) -> None:
    if not (n_found == n_errors).all() or not np.array_equal(decoded, codewords):
        bad = int(np.count_nonzero((n_found != n_errors) | (decoded != codewords).any(axis=1)))
        raise AssertionError(f"fuzzykey decoded {bad} of {len(codewords)} words wrongly at {where}")


def bench_fuzzykey(
    code: BCHCode,
    n_errors: int,
    settings: Settings,
    rng: np.random.Generator,
    n_erased: int = 0,
) -> Rate:
    """``decode_batch(threads=1)`` throughput for words with ``n_errors`` errors
    (and, if ``n_erased``, that many erased bits passed as ``erasures``)."""
    where = f"(m={code.m}, t={code.t}, {n_errors} errors, {n_erased} erasures)"
    # Calibrate on a small batch (also warms caches and the code tables).
    probe_rows = 256
    cw, words, masks = _fuzzykey_words(code, probe_rows, n_errors, rng, n_erased)
    decoded, found = code.decode_batch(words, erasures=masks, threads=1)
    _check_fuzzykey(cw, decoded, found, n_errors, where)
    t0 = time.perf_counter()
    code.decode_batch(words, erasures=masks, threads=1)
    probe_rate = probe_rows / max(time.perf_counter() - t0, 1e-9)

    needed = max(probe_rows, int(probe_rate * settings.fuzzykey_target_s))
    cap = max(probe_rows, min(MAX_BATCH_ROWS, MAX_BATCH_BYTES // code.n))
    rows = min(needed, cap)
    loops = max(1, round(needed / rows))
    cw, words, masks = _fuzzykey_words(code, rows, n_errors, rng, n_erased)
    decoded, found = code.decode_batch(words, erasures=masks, threads=1)  # warm-up + check
    _check_fuzzykey(cw, decoded, found, n_errors, where)

    runs: list[float] = []
    for _ in range(settings.fuzzykey_repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            decoded, found = code.decode_batch(words, erasures=masks, threads=1)
        runs.append(time.perf_counter() - t0)
        _check_fuzzykey(cw, decoded, found, n_errors, where)
    return median_rate(runs, rows * loops)


# -- bchlib ------------------------------------------------------------------
@dataclass
class _BchlibWords:
    data: list[bytes]
    ecc: list[bytes]
    bad_data: list[bytes]
    bad_ecc: list[bytes]


def _bchlib_words(
    bch: Any, info: BchlibInfo, count: int, n_errors: int, rng: np.random.Generator
) -> _BchlibWords:
    data_arr = rng.integers(0, 256, (count, info.data_bytes), dtype=np.uint8)
    data = [row.tobytes() for row in data_arr]
    ecc = [bytes(bch.encode(d)) for d in data]
    ecc_arr = np.frombuffer(b"".join(ecc), dtype=np.uint8).reshape(count, info.ecc_bytes)
    # Error positions among the covered bits: data bits (byte i, bit j = 1 << j)
    # then the first ecc_bits bits of the ecc, most significant bit first.
    mask = random_error_masks(rng, count, info.covered_bits, n_errors)
    data_bits = info.data_bytes * 8
    data_flip = np.packbits(mask[:, :data_bits], axis=1, bitorder="little")
    ecc_mask = np.zeros((count, info.ecc_bytes * 8), dtype=np.uint8)
    ecc_mask[:, : info.ecc_bits] = mask[:, data_bits:]
    ecc_flip = np.packbits(ecc_mask, axis=1, bitorder="big")
    bad_data = [row.tobytes() for row in data_arr ^ data_flip]
    bad_ecc = [row.tobytes() for row in ecc_arr ^ ecc_flip]
    return _BchlibWords(data, ecc, bad_data, bad_ecc)


def _bchlib_run(bch: Any, words: _BchlibWords, n_errors: int, where: str) -> float:
    """Time decode + correct over fresh copies of the words; check the result."""
    datas = [bytearray(d) for d in words.bad_data]
    eccs = [bytearray(e) for e in words.bad_ecc]
    found = [0] * len(datas)
    decode, correct = bch.decode, bch.correct
    t0 = time.perf_counter()
    for i, (d, e) in enumerate(zip(datas, eccs, strict=True)):
        found[i] = decode(d, e)
        correct(d, e)
    elapsed = time.perf_counter() - t0
    ok = all(f == n_errors for f in found) and datas == words.data and eccs == words.ecc
    if not ok:
        bad = sum(
            f != n_errors or d != d0 or e != e0
            for f, d, e, d0, e0 in zip(found, datas, eccs, words.data, words.ecc, strict=True)
        )
        raise AssertionError(f"bchlib decoded {bad} of {len(datas)} words wrongly at {where}")
    return elapsed


def bchlib_code(m: int, t: int) -> tuple[Any, BchlibInfo]:
    """bchlib's code at (m, t) with the longest data it allows; raises if refused."""
    import bchlib  # type: ignore[import-not-found]

    bch = bchlib.BCH(t, m=m)
    data_bytes = (int(bch.n) - int(bch.ecc_bits)) // 8
    if data_bytes < 1:
        raise ValueError(f"no whole data byte left (n={bch.n}, ecc_bits={bch.ecc_bits})")
    info = BchlibInfo(
        data_bytes=data_bytes,
        ecc_bytes=int(bch.ecc_bytes),
        ecc_bits=int(bch.ecc_bits),
        covered_bits=data_bytes * 8 + int(bch.ecc_bits),
        prim_poly=int(bch.prim_poly),
    )
    return bch, info


def bench_bchlib(
    bch: Any, info: BchlibInfo, t: int, n_errors: int, settings: Settings, rng: np.random.Generator
) -> Rate:
    """Per-word decode + correct throughput for words with ``n_errors`` errors."""
    where = f"(m={bch.m}, t={t}, {n_errors} errors)"
    probe = _bchlib_words(bch, info, 500, n_errors, rng)
    _bchlib_run(bch, probe, n_errors, where)  # warm-up + check
    probe_rate = 500 / max(_bchlib_run(bch, probe, n_errors, where), 1e-9)
    count = int(min(MAX_BCHLIB_WORDS, max(500, probe_rate * settings.bchlib_target_s)))
    words = _bchlib_words(bch, info, count, n_errors, rng)
    runs = [_bchlib_run(bch, words, n_errors, where) for _ in range(settings.bchlib_repeats)]
    return median_rate(runs, count)


# -- galois ------------------------------------------------------------------
def galois_code(code: BCHCode) -> Any:
    """galois.BCH over fuzzykey's field, so the two codes are the same code."""
    import galois

    ext = galois.GF(2**code.m, irreducible_poly=galois.Poly.Int(code.primitive_poly))
    gcode = galois.BCH(code.n, d=2 * code.t + 1, extension_field=ext)
    if (gcode.n, gcode.k, gcode.t) != (code.n, code.k, code.t):
        raise AssertionError(f"galois built ({gcode.n}, {gcode.k}, {gcode.t}) for {code!r}")
    generator = np.asarray(gcode.generator_poly.coeffs, dtype=np.uint8)[::-1]
    if not np.array_equal(generator, code.generator):
        raise AssertionError(f"galois' generator differs from fuzzykey's for {code!r}")
    return gcode


def _galois_run(
    gcode: Any, gwords: Any, codewords: NDArray[np.uint8], n_errors: int, where: str
) -> float:
    t0 = time.perf_counter()
    decoded, found = gcode.decode(gwords, output="codeword", errors=True)
    elapsed = time.perf_counter() - t0
    decoded_ours = np.asarray(decoded, dtype=np.uint8)[:, ::-1]
    if not (np.asarray(found) == n_errors).all() or not np.array_equal(decoded_ours, codewords):
        raise AssertionError(f"galois decoded some of {len(codewords)} words wrongly at {where}")
    return elapsed


def bench_galois(
    code: BCHCode, gcode: Any, n_errors: int, settings: Settings, rng: np.random.Generator
) -> Rate:
    """galois' batch decode throughput (JIT warmed up outside the timing)."""
    import galois

    where = f"(m={code.m}, t={code.t}, {n_errors} errors)"

    def make(rows: int) -> tuple[NDArray[np.uint8], Any]:
        cw, words, _ = _fuzzykey_words(code, rows, n_errors, rng)
        return cw, galois.GF2(np.ascontiguousarray(words[:, ::-1]))

    probe_rows = min(4, settings.galois_min_words)
    cw, gw = make(probe_rows)
    _galois_run(gcode, gw, cw, n_errors, where)  # JIT compile
    probe_rate = probe_rows / max(_galois_run(gcode, gw, cw, n_errors, where), 1e-9)
    rows = int(
        min(
            settings.galois_max_words,
            max(settings.galois_min_words, probe_rate * settings.galois_target_s),
        )
    )
    cw, gw = make(rows)
    runs = [_galois_run(gcode, gw, cw, n_errors, where) for _ in range(settings.galois_repeats)]
    return median_rate(runs, rows)


# -- construction --------------------------------------------------------------
def bench_construction(m: int, t: int, repeats: int) -> ConstructionResult:
    """Time ``BCHCode(m, t, n)`` for n = 2^m - 2, 2^m - 3, ...: lengths no call has
    asked for before, so ``BCHCode``'s cache of built codes never answers."""
    full = (1 << m) - 1
    runs: list[float] = []
    degree = 0
    for i in range(repeats):
        t0 = time.perf_counter()
        code = BCHCode(m, t, full - 1 - i)
        runs.append((time.perf_counter() - t0) * 1e3)
        degree = code.n - code.k  # deg g, whatever the shortening
    return ConstructionResult(
        m=m,
        t=t,
        n=full,
        k=full - degree,
        generator_degree=degree,
        first_ms=runs[0],
        median_ms=statistics.median(runs),
        runs_ms=runs,
    )


# -- one point -----------------------------------------------------------------
def _short_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def bench_point(
    m: int, t: int, settings: Settings, rng: np.random.Generator, *, use_galois: bool
) -> PointResult:
    """All measurements at (m, t) for the full-length code."""
    code = BCHCode(m, t)
    result = PointResult(
        m=m,
        t=t,
        n=code.n,
        k=code.k,
        fuzzykey_t_errors=bench_fuzzykey(code, t, settings, rng),
        fuzzykey_0_errors=bench_fuzzykey(code, 0, settings, rng),
    )
    # errors and erasures at the bound 2e + f = 2t
    result.erasures_errors = t // 2
    result.erasures_erased = 2 * t - 2 * (t // 2)
    result.fuzzykey_erasures = bench_fuzzykey(
        code, result.erasures_errors, settings, rng, n_erased=result.erasures_erased
    )

    try:
        bch, info = bchlib_code(m, t)
    except Exception as exc:  # bchlib refuses the point (t > 64, ...)
        result.bchlib_error = _short_error(exc)
    else:
        result.bchlib = info
        result.bchlib_t_errors = bench_bchlib(bch, info, t, t, settings, rng)
        result.bchlib_0_errors = bench_bchlib(bch, info, t, 0, settings, rng)

    if not use_galois:
        result.galois_error = "skipped (--no-galois)"
    else:
        t0 = time.perf_counter()
        try:
            gcode = galois_code(code)
        except AssertionError:
            raise
        except Exception as exc:
            result.galois_error = _short_error(exc)
        else:
            result.galois_t_errors = bench_galois(code, gcode, t, settings, rng)
            result.galois_0_errors = bench_galois(code, gcode, 0, settings, rng)
        result.galois_setup_s = time.perf_counter() - t0
    return result


# -- output --------------------------------------------------------------------
def _fmt_rate(rate: Rate | None) -> str:
    if rate is None:
        return "n/a"
    value = rate.words_per_s
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}x"


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def print_decode_table(results: Sequence[PointResult]) -> None:
    """The main table: words/s per decoder, t errors and 0 errors."""
    headers = (
        "(m,t)", "n", "k",
        "fuzzykey t-err/s", "fuzzykey 0-err/s",
        "bchlib t-err/s", "bchlib 0-err/s",
        "galois t-err/s", "galois 0-err/s",
        "fk/bchlib", "fk/galois",
    )  # fmt: skip
    rows = [
        (
            f"({r.m},{r.t})", str(r.n), str(r.k),
            _fmt_rate(r.fuzzykey_t_errors), _fmt_rate(r.fuzzykey_0_errors),
            _fmt_rate(r.bchlib_t_errors), _fmt_rate(r.bchlib_0_errors),
            _fmt_rate(r.galois_t_errors), _fmt_rate(r.galois_0_errors),
            _fmt_ratio(r.ratio_bchlib), _fmt_ratio(r.ratio_galois),
        )  # fmt: skip
        for r in results
    ]
    print("Decoding throughput, codewords/s on one thread (median); ratios use t errors")
    _print_table(headers, rows)
    notes = []
    for r in results:
        if r.bchlib is not None:
            b = r.bchlib
            notes.append(
                f"  ({r.m},{r.t}): bchlib code shortened to {b.data_bytes} data bytes + "
                f"{b.ecc_bits} ecc bits = {b.covered_bits} of {r.n} bits"
            )
        elif r.bchlib_error:
            notes.append(f"  ({r.m},{r.t}): bchlib n/a ({r.bchlib_error})")
        if r.galois_error:
            notes.append(f"  ({r.m},{r.t}): galois n/a ({r.galois_error})")
    if notes:
        print("Notes:")
        print("\n".join(notes))


def print_erasure_table(results: Sequence[PointResult]) -> None:
    """Errors and erasures at 2e + f = 2t next to plain decoding with t errors."""
    headers = ("(m,t)", "n", "e", "f", "e+f erasures/s", "t errors/s", "ratio")
    rows = [
        (
            f"({r.m},{r.t})", str(r.n), str(r.erasures_errors), str(r.erasures_erased),
            _fmt_rate(r.fuzzykey_erasures), _fmt_rate(r.fuzzykey_t_errors),
            _fmt_ratio(PointResult._ratio(r.fuzzykey_erasures, r.fuzzykey_t_errors)),
        )  # fmt: skip
        for r in results
    ]
    print("fuzzykey errors-and-erasures decoding, codewords/s on one thread (median)")
    _print_table(headers, rows)


def print_construction_table(results: Sequence[ConstructionResult]) -> None:
    """Second table: generator-polynomial construction."""
    headers = ("(m,t)", "n", "k", "deg g", "first ms", "median ms")
    rows = [
        (
            f"({r.m},{r.t})", str(r.n), str(r.k), str(r.generator_degree),
            f"{r.first_ms:.3f}", f"{r.median_ms:.3f}",
        )  # fmt: skip
        for r in results
    ]
    print("Code construction, BCHCode(m, t, n) for n = 2^m - 2, 2^m - 3, ... (generator polynomial, tables)")
    _print_table(headers, rows)


def _rate_json(rate: Rate | None) -> dict[str, Any] | None:
    return None if rate is None else asdict(rate)


def to_json(
    info: dict[str, Any],
    settings: Settings,
    points: Sequence[PointResult],
    construction: Sequence[ConstructionResult],
    wall_s: float,
) -> dict[str, Any]:
    """Everything, as plain JSON (n/a -> null)."""
    return {
        "benchmark": "fuzzykey BCH decode throughput (single thread)",
        "command": command_line("NUMBA_NUM_THREADS"),
        "machine": info,
        "settings": asdict(settings),
        "points": [
            {
                "m": r.m,
                "t": r.t,
                "n": r.n,
                "k": r.k,
                "fuzzykey_t_errors_per_s": r.fuzzykey_t_errors.words_per_s,
                "fuzzykey_0_errors_per_s": r.fuzzykey_0_errors.words_per_s,
                "fuzzykey_erasures_per_s": (
                    r.fuzzykey_erasures.words_per_s if r.fuzzykey_erasures else None
                ),
                "erasures_errors": r.erasures_errors,
                "erasures_erased": r.erasures_erased,
                "bchlib_t_errors_per_s": r.bchlib_t_errors.words_per_s if r.bchlib_t_errors else None,
                "bchlib_0_errors_per_s": r.bchlib_0_errors.words_per_s if r.bchlib_0_errors else None,
                "galois_t_errors_per_s": r.galois_t_errors.words_per_s if r.galois_t_errors else None,
                "galois_0_errors_per_s": r.galois_0_errors.words_per_s if r.galois_0_errors else None,
                "ratio_fuzzykey_bchlib": r.ratio_bchlib,
                "ratio_fuzzykey_galois": r.ratio_galois,
                "details": {
                    "fuzzykey_t_errors": _rate_json(r.fuzzykey_t_errors),
                    "fuzzykey_0_errors": _rate_json(r.fuzzykey_0_errors),
                    "fuzzykey_erasures": _rate_json(r.fuzzykey_erasures),
                    "bchlib_code": None if r.bchlib is None else asdict(r.bchlib),
                    "bchlib_t_errors": _rate_json(r.bchlib_t_errors),
                    "bchlib_0_errors": _rate_json(r.bchlib_0_errors),
                    "bchlib_error": r.bchlib_error,
                    "galois_t_errors": _rate_json(r.galois_t_errors),
                    "galois_0_errors": _rate_json(r.galois_0_errors),
                    "galois_error": r.galois_error,
                    "galois_setup_s": r.galois_setup_s,
                },
            }
            for r in points
        ],
        "construction": [asdict(c) for c in construction],
        "wall_s": wall_s,
    }


# -- main ----------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Single-thread BCH decoding throughput: fuzzykey vs bchlib vs galois."
    )
    parser.add_argument(
        "--points",
        type=parse_points,
        default=None,
        help="comma-separated m:t points (default: "
        + ",".join(f"{m}:{t}" for m, t in DEFAULT_POINTS)
        + ")",
    )
    parser.add_argument("--json", metavar="PATH", help="write all numbers to this JSON file")
    parser.add_argument(
        "--quick", action="store_true", help="fast smoke run (small batches, two points)"
    )
    parser.add_argument("--no-galois", action="store_true", help="skip galois")
    parser.add_argument("--seed", type=int, default=2024, help="random seed (default 2024)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    args = parse_args(argv)
    start = time.perf_counter()
    settings = QUICK_SETTINGS if args.quick else DEFAULT_SETTINGS
    points = args.points or list(QUICK_POINTS if args.quick else DEFAULT_POINTS)
    construction_points = QUICK_CONSTRUCTION_POINTS if args.quick else CONSTRUCTION_POINTS
    rng = np.random.default_rng(args.seed)

    info = machine_info()
    title = "fuzzykey BCH benchmark" + (" (--quick)" if args.quick else "")
    print_header(title, info, command_line("NUMBA_NUM_THREADS"))
    print(flush=True)

    results: list[PointResult] = []
    for m, t in points:
        t0 = time.perf_counter()
        result = bench_point(m, t, settings, rng, use_galois=not args.no_galois)
        results.append(result)
        print(
            f"  measured ({m},{t}) in {time.perf_counter() - t0:.1f} s: fuzzykey "
            f"{_fmt_rate(result.fuzzykey_t_errors)} / {_fmt_rate(result.fuzzykey_0_errors)}, "
            f"bchlib {_fmt_rate(result.bchlib_t_errors)} / {_fmt_rate(result.bchlib_0_errors)}, "
            f"galois {_fmt_rate(result.galois_t_errors)} / {_fmt_rate(result.galois_0_errors)}",
            flush=True,
        )
    construction = [
        bench_construction(m, t, settings.construction_repeats) for m, t in construction_points
    ]
    wall = time.perf_counter() - start

    print()
    print_decode_table(results)
    print()
    print_erasure_table(results)
    print()
    print_construction_table(construction)
    print()
    print(f"total wall time: {wall:.1f} s")

    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(to_json(info, settings, results, construction, wall), fh, indent=2)
            fh.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
