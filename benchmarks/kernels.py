"""CPU Hamming kernels: one probe against a large gallery, in templates/s.

What it measures
----------------
For each gallery (default 256k x 256 bit, which stays in a 32 MiB L3, then
1M x 256 bit, 1M x 512 bit and 16M x 512 bit random templates, packed as
C-contiguous uint64 rows) it times one probe row against
the whole gallery, i.e. a (1, G) int32 row of Hamming distances:

* fuzzykey: ``fuzzykey.ops.hamming(probe, gallery, out=out, threads=threads)``
  for every kernel set the processor supports
  (``fuzzykey.ops.available_kernel_isas()["hamming"]``, switched with
  ``fuzzykey.ops.use_kernel_isa("hamming", isa)``; the default one is marked)
  at 1 and 2 threads, writing into one preallocated (1, G) int32 result reused
  across calls (``out=``), as a search service would; a fresh 64 MiB result per
  call would add its page faults (several ms at 16M rows) to every search. The
  times include the public function's argument checks (a few tens of
  microseconds per call on the 2-core development machine: a few per cent of
  the 256k-row gallery's time, under one per cent from 1M x 512 bit on).
* numpy, one thread (numpy does not thread these ufuncs): the gallery in chunks
  of 65,536 rows, ``np.bitwise_xor`` with the probe and ``np.bitwise_count``
  into preallocated buffers, then the W per-word counts summed column by column
  into the int32 output. This is the faster of two numpy formulations (about
  2x faster than ``np.bitwise_count(chunk ^ probe).sum(axis=1)``, which is
  timed too and reported as ``numpy_naive``).
* the memory-bandwidth limit: a plain streaming read of the gallery,
  ``np.add.reduce(part, dtype=np.uint64)`` over the gallery viewed as one flat
  uint64 array, split into 1 or 2 contiguous parts read by that many Python
  threads (numpy releases the GIL in the reduction loop). It counts the gallery
  bytes only. The limit in templates/s is the better of the 1- and 2-thread
  read bandwidths divided by the bytes one template costs the kernel: 8 W bytes
  read plus the 4-byte int32 distance written. "of limit" is fuzzykey's rate
  over that limit (above 100 % where the gallery is partly cache-resident, or
  where the small read pays more Python/thread-pool overhead than the kernel).

For galleries up to 256 MiB each timed call directly follows an untimed call
of the same column (repeated searches against one gallery: whatever of it fits
in cache is there, for every column alike). Every measurement is repeated in
interleaved rounds (each round times every column once, in an order rotated
from round to round, so slow drifts of the shared machine and after-effects of
one column on the next hit all alike) and the median per column is reported;
ratios are taken between medians of the same run. Before timing, every kernel
set's output is checked against numpy's on the benchmark gallery.

If ``fuzzykey.ops.binarize`` exists, a last table times it on 100,000 x 512
float32 embeddings projected to 512 bits against numpy's
``np.packbits(x @ P > 0, axis=1, bitorder="little")`` (same BLAS matmul), and
reports how many bits differ (ties at exactly 0 and BLAS blocking may flip a
few signs).

This is a benchmark, not a test: nothing here asserts on timings.

How to run
----------
::

    python benchmarks/kernels.py                   # default, about 30-40 s on 2 cores
    python benchmarks/kernels.py --json kernels.json
    python benchmarks/kernels.py --quick           # smoke run, a few seconds
    python benchmarks/kernels.py --isas avx512,generic --threads 1,2 --repeats 9
    python benchmarks/kernels.py --galleries 16M:512 --isas avx512,avx2 --no-binarize

Peak memory stays under 2 GiB (the 16M x 512-bit gallery is 1 GiB; one gallery
is alive at a time, outputs are 64 MiB each).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from _machine import command_line, cpu_model, package_version, print_header
from numpy.typing import NDArray

import fuzzykey
from fuzzykey import ops

# 256k x 256 bit (8 MiB) fits a 32 MiB L3 with room to spare; 1M x 256 bit
# (32 MiB) only just, on the 2-core development machine; the 512-bit ones do not.
DEFAULT_GALLERIES: tuple[tuple[int, int], ...] = (
    (1 << 18, 256),
    (1 << 20, 256),
    (1 << 20, 512),
    (16 << 20, 512),
)
QUICK_GALLERIES: tuple[tuple[int, int], ...] = ((1 << 16, 256), (1 << 16, 512), (1 << 18, 512))
NUMPY_CHUNK = 1 << 16
# Galleries up to this size get an untimed call of the same column right before
# each timed one, so what cache can hold of them is in cache (larger ones could
# not be, and the extra calls would only cost time).
WARM_UP_LIMIT = 256 << 20
BINARIZE_SHAPE = (100_000, 512, 512)  # rows, embedding dim, bits
QUICK_BINARIZE_SHAPE = (10_000, 512, 512)


# -- results -------------------------------------------------------------------
@dataclass
class Timing:
    """One column of one gallery: seconds per call over the rounds."""

    name: str
    runs_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs_s)


@dataclass
class KernelRow:
    kernel_set: str
    default: bool
    threads: int
    templates_per_s: float
    gb_per_s: float  # (8 W + 4) bytes per template
    vs_numpy: float
    vs_numpy_naive: float
    of_limit: float
    median_ms: float
    runs_ms: list[float]


@dataclass
class GalleryResult:
    rows: int
    bits: int
    words: int
    gallery_bytes: int
    bytes_per_template: int
    numpy_templates_per_s: float
    numpy_naive_templates_per_s: float
    read_1t_gb_per_s: float
    read_2t_gb_per_s: float
    limit_templates_per_s: float
    kernels: list[KernelRow]
    checked: list[str]
    timings_ms: dict[str, list[float]]


@dataclass
class BinarizeResult:
    rows: int
    dim: int
    bits: int
    fuzzykey_rows_per_s: float
    numpy_rows_per_s: float
    speedup: float
    differing_bits: int
    fuzzykey_runs_ms: list[float]
    numpy_runs_ms: list[float]


# -- helpers -------------------------------------------------------------------
def _cpu_flags() -> list[str]:
    """The popcount/vector flags of /proc/cpuinfo that the kernel sets care about."""
    wanted = ("popcnt", "avx2", "avx512f", "avx512_vpopcntdq", "avx512bw")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [f for f in wanted if f in have]
    except OSError:
        pass
    return []


def machine_info() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_flags": " ".join(_cpu_flags()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "fuzzykey": getattr(fuzzykey, "__version__", package_version("fuzzykey")),
        "hamming_kernel_sets": ", ".join(ops.available_kernel_isas()["hamming"]),
        "hamming_default": ops.kernel_isas()["hamming"],
        "numpy": np.__version__,
    }


def _fmt_rate(per_s: float, unit: str = "") -> str:
    if per_s >= 1e9:
        return f"{per_s / 1e9:.2f} G{unit}/s"
    if per_s >= 1e6:
        return f"{per_s / 1e6:.1f} M{unit}/s"
    return f"{per_s / 1e3:.1f} k{unit}/s"


def _fmt_gallery(rows: int, bits: int) -> str:
    size = f"{rows >> 20}M" if rows % (1 << 20) == 0 else f"{rows >> 10}k" if rows % 1024 == 0 else str(rows)
    return f"{size} x {bits} bit"


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_gallery(rows: int, words: int, rng: np.random.Generator) -> NDArray[np.uint64]:
    """Random rows, generated in chunks so no temporary is larger than 64 MiB."""
    g = np.empty((rows, words), dtype=np.uint64)
    step = max(1, (8 << 20) // words)
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        g[start:stop] = rng.integers(0, 2**64, (stop - start, words), dtype=np.uint64, endpoint=False)
    return g


class NumpyHamming:
    """One probe against a gallery with numpy, chunk by chunk, buffers reused."""

    def __init__(self, words: int, chunk: int = NUMPY_CHUNK) -> None:
        self.chunk = chunk
        self.xor = np.empty((chunk, words), dtype=np.uint64)
        self.cnt = np.empty((chunk, words), dtype=np.uint8)
        self.acc = np.empty(chunk, dtype=np.int32)

    def __call__(self, probe: NDArray[np.uint64], gallery: NDArray[np.uint64]) -> NDArray[np.int32]:
        rows, words = gallery.shape
        out = np.empty((1, rows), dtype=np.int32)
        for start in range(0, rows, self.chunk):
            n = min(self.chunk, rows - start)
            x, c, acc = self.xor[:n], self.cnt[:n], self.acc[:n]
            np.bitwise_xor(gallery[start : start + n], probe, out=x)
            np.bitwise_count(x, out=c)
            acc[:] = c[:, 0]
            for w in range(1, words):
                acc += c[:, w]
            out[0, start : start + n] = acc
        return out

    def naive(self, probe: NDArray[np.uint64], gallery: NDArray[np.uint64]) -> NDArray[np.int32]:
        rows = gallery.shape[0]
        out = np.empty((1, rows), dtype=np.int32)
        for start in range(0, rows, self.chunk):
            chunk = gallery[start : start + self.chunk]
            out[0, start : start + len(chunk)] = np.bitwise_count(chunk ^ probe).sum(axis=1)
        return out


def _read_part(part: NDArray[np.uint64]) -> int:
    return int(np.add.reduce(part, dtype=np.uint64))


def streaming_read(flat: NDArray[np.uint64], threads: int, pool: ThreadPoolExecutor) -> int:
    """Read every word of ``flat`` once, split over ``threads`` pool threads."""
    if threads == 1:
        return _read_part(flat)
    bounds = np.linspace(0, flat.size, threads + 1).astype(np.int64)
    parts = [flat[bounds[i] : bounds[i + 1]] for i in range(threads)]
    return sum(pool.map(_read_part, parts)) & (2**64 - 1)


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- the benchmark -------------------------------------------------------------
def bench_gallery(
    rows: int,
    bits: int,
    isas: Sequence[str],
    threads: Sequence[int],
    repeats: int,
    rng: np.random.Generator,
    pool: ThreadPoolExecutor,
) -> GalleryResult:
    words = bits // 64
    gallery = make_gallery(rows, words, rng)
    probe = make_gallery(1, words, rng)
    flat = gallery.reshape(-1)
    numpy_hamming = NumpyHamming(words)
    default = ops.kernel_isas()["hamming"]

    # Correctness first: every kernel set against numpy on this very gallery.
    want = numpy_hamming(probe, gallery)
    checked = []
    try:
        for isa in isas:
            ops.use_kernel_isa("hamming", isa)
            for t in threads:
                got = ops.hamming(probe, gallery, threads=t)
                if not np.array_equal(got, want):
                    raise AssertionError(f"kernel set {isa} ({t} threads) disagrees with numpy")
                del got
            checked.append(isa)
    finally:
        ops.use_kernel_isa("hamming", default)
    if not np.array_equal(numpy_hamming.naive(probe, gallery), want):
        raise AssertionError("the two numpy formulations disagree")
    del want

    result = np.empty((1, rows), dtype=np.int32)  # reused, as a search service would
    columns: dict[str, Callable[[], object]] = {
        "read_1t": lambda: streaming_read(flat, 1, pool),
        "read_2t": lambda: streaming_read(flat, 2, pool),
        "numpy": lambda: numpy_hamming(probe, gallery),
        "numpy_naive": lambda: numpy_hamming.naive(probe, gallery),
    }
    for isa in isas:
        for t in threads:

            def run(isa: str = isa, t: int = t) -> object:
                return ops.hamming(probe, gallery, out=result, threads=t)

            columns[f"{isa}/{t}"] = run

    timings = {name: Timing(name) for name in columns}
    try:
        for name, fn in columns.items():  # warm-up (also faults in the buffers)
            if "/" in name:
                ops.use_kernel_isa("hamming", name.split("/")[0])
            fn()
        names = list(columns)
        warm = gallery.nbytes <= WARM_UP_LIMIT
        for round_ in range(repeats):
            # rotate the order each round: no column always follows the same one
            for i in range(len(names)):
                name = names[(i + round_) % len(names)]
                fn = columns[name]
                if "/" in name:
                    ops.use_kernel_isa("hamming", name.split("/")[0])
                if warm:  # the repeated-search case: the gallery as warm as it gets
                    fn()
                timings[name].runs_s.append(_time(fn))
    finally:
        ops.use_kernel_isa("hamming", default)

    per_template = 8 * words + 4
    numpy_rate = rows / timings["numpy"].median_s
    naive_rate = rows / timings["numpy_naive"].median_s
    read1 = gallery.nbytes / timings["read_1t"].median_s
    read2 = gallery.nbytes / timings["read_2t"].median_s
    limit = max(read1, read2) / per_template
    kernels = []
    for isa in isas:
        for t in threads:
            tm = timings[f"{isa}/{t}"]
            rate = rows / tm.median_s
            kernels.append(
                KernelRow(
                    kernel_set=isa,
                    default=isa == default,
                    threads=t,
                    templates_per_s=rate,
                    gb_per_s=rate * per_template / 1e9,
                    vs_numpy=rate / numpy_rate,
                    vs_numpy_naive=rate / naive_rate,
                    of_limit=rate / limit,
                    median_ms=tm.median_s * 1e3,
                    runs_ms=[round(r * 1e3, 4) for r in tm.runs_s],
                )
            )
    result = GalleryResult(
        rows=rows,
        bits=bits,
        words=words,
        gallery_bytes=gallery.nbytes,
        bytes_per_template=per_template,
        numpy_templates_per_s=numpy_rate,
        numpy_naive_templates_per_s=naive_rate,
        read_1t_gb_per_s=read1 / 1e9,
        read_2t_gb_per_s=read2 / 1e9,
        limit_templates_per_s=limit,
        kernels=kernels,
        checked=checked,
        timings_ms={k: [round(r * 1e3, 4) for r in v.runs_s] for k, v in timings.items()},
    )
    return result  # the gallery (and the closures over it) go here


def bench_binarize(
    shape: tuple[int, int, int], repeats: int, rng: np.random.Generator
) -> BinarizeResult | None:
    binarize = getattr(ops, "binarize", None)
    if binarize is None:
        return None
    rows, dim, bits = shape
    x = rng.standard_normal((rows, dim), dtype=np.float32)
    proj = (rng.standard_normal((dim, bits), dtype=np.float32) / np.sqrt(dim)).astype(np.float32)

    def with_numpy() -> NDArray[np.uint8]:
        return np.packbits((x @ proj) > 0, axis=1, bitorder="little")

    ours = np.asarray(binarize(x, proj))
    ref = with_numpy()
    ref_words = np.ascontiguousarray(ref).view("<u8")
    differing = int(np.bitwise_count(np.bitwise_xor(ours.astype("<u8"), ref_words)).sum())
    fk_runs, np_runs = [], []
    for _ in range(repeats):
        fk_runs.append(_time(lambda: binarize(x, proj)))
        np_runs.append(_time(with_numpy))
    fk_rate = rows / statistics.median(fk_runs)
    np_rate = rows / statistics.median(np_runs)
    return BinarizeResult(
        rows=rows,
        dim=dim,
        bits=bits,
        fuzzykey_rows_per_s=fk_rate,
        numpy_rows_per_s=np_rate,
        speedup=fk_rate / np_rate,
        differing_bits=differing,
        fuzzykey_runs_ms=[round(r * 1e3, 3) for r in fk_runs],
        numpy_runs_ms=[round(r * 1e3, 3) for r in np_runs],
    )


# -- output --------------------------------------------------------------------
def print_tables(results: Sequence[GalleryResult], repeats: int) -> None:
    print(f"Baselines (median of {repeats} interleaved rounds, same run as the kernels below)")
    print()
    print(
        "| gallery | gallery bytes | numpy, 1 thread | numpy naive | read, 1 thread | read, 2 threads "
        "| bandwidth limit |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {_fmt_gallery(r.rows, r.bits)} | {r.gallery_bytes / 2**20:.0f} MiB "
            f"| {_fmt_rate(r.numpy_templates_per_s)} | {_fmt_rate(r.numpy_naive_templates_per_s)} "
            f"| {r.read_1t_gb_per_s:.1f} GB/s | {r.read_2t_gb_per_s:.1f} GB/s "
            f"| {_fmt_rate(r.limit_templates_per_s)} ({r.bytes_per_template} B/template) |"
        )
    print()
    print("fuzzykey.ops.hamming, one probe (templates/s; GB/s counts gallery bytes read + int32 written)")
    print()
    print("| gallery | kernel set | threads | templates/s | GB/s | vs numpy | vs numpy naive | of limit |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        for k in r.kernels:
            name = k.kernel_set + (" (default)" if k.default else "")
            print(
                f"| {_fmt_gallery(r.rows, r.bits)} | {name} | {k.threads} | {_fmt_rate(k.templates_per_s)} "
                f"| {k.gb_per_s:.1f} | {k.vs_numpy:.1f}x | {k.vs_numpy_naive:.1f}x "
                f"| {100 * k.of_limit:.0f} % |"
            )


def print_binarize(b: BinarizeResult) -> None:
    print(
        f"Binarization: {b.rows:,} x {b.dim} float32 -> {b.bits} bits (median of {len(b.fuzzykey_runs_ms)})"
    )
    print()
    print("| fuzzykey.ops.binarize | numpy x @ P > 0, packbits | speedup | differing bits |")
    print("|---|---|---|---|")
    print(
        f"| {_fmt_rate(b.fuzzykey_rows_per_s, ' rows')} | {_fmt_rate(b.numpy_rows_per_s, ' rows')} "
        f"| {b.speedup:.2f}x | {b.differing_bits} of {b.rows * b.bits:,} |"
    )


def parse_galleries(text: str) -> list[tuple[int, int]]:
    """``"1M:256,16M:512"`` -> ``[(1048576, 256), (16777216, 512)]`` (bits: a multiple of 64)."""
    scale = {"k": 1 << 10, "K": 1 << 10, "m": 1 << 20, "M": 1 << 20}
    out = []
    for item in text.split(","):
        rows_text, _, bits_text = item.strip().partition(":")
        factor = scale.get(rows_text[-1:], 1)
        rows = int(rows_text[:-1] if factor > 1 else rows_text) * factor
        bits = int(bits_text)
        if rows < 1 or bits < 64 or bits % 64:
            raise SystemExit(f"bad gallery {item!r}: want ROWS:BITS with BITS a multiple of 64")
        out.append((rows, bits))
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="small galleries, few repeats (smoke run)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--repeats", type=int, default=None, help="rounds per column (default 9, quick 5)")
    p.add_argument(
        "--isas", default=None, help="comma-separated kernel sets (default: all the processor supports)"
    )
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument(
        "--galleries",
        default=None,
        help="comma-separated ROWS:BITS, rows with an optional k/M suffix, e.g. 1M:256,16M:512",
    )
    p.add_argument("--seed", type=int, default=20240611)
    p.add_argument("--no-binarize", action="store_true", help="skip the binarization table")
    args = p.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    repeats = args.repeats or (5 if args.quick else 9)
    galleries = (
        parse_galleries(args.galleries)
        if args.galleries
        else QUICK_GALLERIES
        if args.quick
        else DEFAULT_GALLERIES
    )
    available = ops.available_kernel_isas()["hamming"]
    isas = [s.strip() for s in args.isas.split(",")] if args.isas else available
    for isa in isas:
        if isa not in available:
            raise SystemExit(f"kernel set {isa!r} is not available here ({', '.join(available)})")
    threads = [int(t) for t in args.threads.split(",")]
    rng = np.random.default_rng(args.seed)

    info = machine_info()
    title = "fuzzykey Hamming kernels benchmark" + (" (--quick)" if args.quick else "")
    print_header(title, info, command_line())
    print(
        "  streaming read: np.add.reduce(flat uint64 gallery, dtype=uint64) in 1 or 2 Python threads "
        "(contiguous halves); bytes counted = gallery bytes"
    )
    print(
        "  limit = max(1-, 2-thread read bandwidth) / (8 W + 4) bytes per template "
        "(gallery row read + int32 written)"
    )
    print(flush=True)

    results = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for rows, bits in galleries:
            t0 = time.perf_counter()
            r = bench_gallery(rows, bits, isas, threads, repeats, rng, pool)
            results.append(r)
            best = max(r.kernels, key=lambda k: k.templates_per_s)
            print(
                f"  measured {_fmt_gallery(rows, bits)} in {time.perf_counter() - t0:.1f} s: best "
                f"{best.kernel_set}/{best.threads} {_fmt_rate(best.templates_per_s)}, numpy "
                f"{_fmt_rate(r.numpy_templates_per_s)}, limit {_fmt_rate(r.limit_templates_per_s)}",
                flush=True,
            )
    binarize = None
    if not args.no_binarize:
        binarize = bench_binarize(QUICK_BINARIZE_SHAPE if args.quick else BINARIZE_SHAPE, repeats, rng)
    wall = time.perf_counter() - start

    print()
    print_tables(results, repeats)
    print()
    if binarize is not None:
        print_binarize(binarize)
    elif args.no_binarize:
        print("Binarization: skipped (--no-binarize).")
    else:
        print("Binarization: fuzzykey.ops.binarize not present in this build; skipped.")
    print()
    print(f"peak RSS: {_peak_rss_mib():.0f} MiB; total wall time: {wall:.1f} s")

    if args.json:
        payload = {
            "machine": info,
            "command": command_line(),
            "repeats": repeats,
            "numpy_chunk_rows": NUMPY_CHUNK,
            "galleries": [asdict(r) for r in results],
            "binarize": asdict(binarize) if binarize is not None else None,
            "peak_rss_mib": _peak_rss_mib(),
            "wall_s": wall,
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
