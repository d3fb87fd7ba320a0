"""Soft-decision ML decoding: fuzzykey's Walsh-Hadamard decoder against a numpy brute force.

What it measures
----------------
For each code (default (n, k) = (128, 16), (128, 20), (255, 24); a random
full-rank generator, seeded) it decodes BPSK words over Gaussian noise
(sigma 0.8, LLR = 2 y / sigma^2) and reports decodes per second:

* fuzzykey: ``LinearCode.ml_decode_batch(llrs, threads=t)`` for t = 1 and all
  cores (``None``), with the default ``"fwht"`` kernel set
  (``fuzzykey.ops.kernel_isas()``), a batch of B words per call. The time
  includes the public method's checks (finite LLRs, their sums). At k = 24 the
  workspace budget (``fuzzykey.linear.WORKSPACE_BUDGET``, 1 GiB) allows 15
  threads (``LinearCode.decode_threads``), more than this machine has.
* numpy, the textbook brute force: every codeword's +-1 vector precomputed as
  one float32 matrix (2^k x n, stored transposed), scores = LLRs @ matrix
  (one BLAS sgemm for a batch of words), then the top two per word (argmax,
  which returns the smallest index on a tie as fuzzykey does; the best set to
  -inf; max). One BLAS thread, then all cores (OpenBLAS threads; each setting
  in a fresh subprocess with ``OPENBLAS_NUM_THREADS``). Building the matrix
  is not timed. At k = 24 the matrix would be 2^24 x 255 floats = 16 GiB, so
  it is never built: by linearity the codeword of a = c 2^20 + r is
  codeword(c 2^20) XOR codeword(r), so the scores of chunk c are the LLRs with
  the signs of codeword(c 2^20) applied, times the 1 GiB matrix of the first
  2^20 codewords; 16 such products (and the top-two merge across chunks) give
  the exact brute force on a few words.

Both sides' messages are compared (they must agree wherever the margin
exceeds float32 rounding; they do on every word of the default run).

Every column is timed once per round, in interleaved rounds (each round runs
every column, in an order rotated from round to round, so the slow drifts of
the shared machine hit all columns alike); each timed call directly follows an
untimed call of the same column (the first call after another column runs up
to 1.5x slower here: caches, and the other process's timing). The median per
column is reported; the ratios are between medians of the same run. The development machine is a
shared 2-core VM (another process competes for the cores), so single runs
vary by +-20 %; medians over rounds are what to read.

This is a benchmark, not a test: nothing here asserts on timings.

How to run
----------
::

    python benchmarks/ml_decode.py                 # default, a few minutes on 2 cores
    python benchmarks/ml_decode.py --quick         # smoke run: small codes, few rounds
    python benchmarks/ml_decode.py --json benchmarks/results/ml_decode.json \\
        --md benchmarks/results/ml_decode.md       # the recorded run

Peak memory: about 2.5 GiB (the k = 24 brute force's 1 GiB matrix and its
build; the k = 20 matrix is 512 MiB).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from _machine import command_line, cpu_model, print_header
from numpy.typing import NDArray

import fuzzykey
from fuzzykey import ops
from fuzzykey.errors import InvalidArgument
from fuzzykey.linear import LinearCode

SIGMA = 0.8
DEFAULT_CODES = ((128, 16), (128, 20), (255, 24))
QUICK_CODES = ((64, 12), (128, 16))
# Words per call: (fuzzykey per thread, numpy batch).
BATCH = {12: (1024, 64), 16: (128, 16), 20: (8, 16), 24: (2, 4)}
ROUNDS = {12: 9, 16: 9, 20: 7, 24: 3}
CHUNK_BITS = 20  # numpy at k > 20: products with the matrix of 2^20 codewords
PAUSE_S = 0.2


def make_code(n: int, k: int, seed: int) -> LinearCode:
    rng = np.random.default_rng(seed)
    while True:
        try:
            return LinearCode(rng.integers(0, 2, (k, n), dtype=np.uint8))
        except InvalidArgument:  # rank below k: draw again
            continue


def make_words(code: LinearCode, count: int, seed: int) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    rng = np.random.default_rng(seed)
    msgs = rng.integers(0, 2, (count, code.k), dtype=np.uint8)
    y = 1.0 - 2.0 * code.encode_batch(msgs) + SIGMA * rng.standard_normal((count, code.n))
    return msgs, (2.0 * y / SIGMA**2).astype(np.float32)


# -- the numpy brute force (run in a subprocess per BLAS thread count) ----------
def pm_matrix(code: LinearCode, count: int, base: int = 0) -> NDArray[np.float32]:
    """The +-1 vectors of the codewords of messages base..base+count-1, transposed: (n, count)."""
    a = np.arange(base, base + count, dtype=np.int64)
    msgs = ((a[:, None] >> np.arange(code.k)) & 1).astype(np.float32)
    words = msgs @ code.generator.astype(np.float32)  # exact small integers
    return np.ascontiguousarray((1.0 - 2.0 * np.fmod(words, 2.0)).T.astype(np.float32))


def top_two(
    scores: NDArray[np.float32],
) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float32]]:
    rows = np.arange(scores.shape[0])
    best_idx = scores.argmax(axis=1)
    best = scores[rows, best_idx].copy()
    scores[rows, best_idx] = -np.inf
    return best_idx, best, scores.max(axis=1)


def numpy_decode(llrs: NDArray[np.float32], matrix: NDArray[np.float32],
                 flips: NDArray[np.float32] | None) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Messages (as integers) and margins. flips: None (matrix = the whole codebook) or one
    +-1 row per chunk of len(matrix[0]) codewords (the signs of the chunk's first codeword)."""
    if flips is None:
        idx, best, second = top_two(llrs @ matrix)
        return idx, best - second
    size = matrix.shape[1]
    best_idx = np.zeros(len(llrs), np.int64)
    best = np.full(len(llrs), -np.inf, np.float32)
    second = np.full(len(llrs), -np.inf, np.float32)
    for c, flip in enumerate(flips):
        idx, b, s = top_two((llrs * flip) @ matrix)
        wins = b > best  # ties keep the earlier chunk: the smaller message
        second = np.maximum(second, np.where(wins, np.maximum(best, s), np.maximum(b, s)))
        best_idx = np.where(wins, idx + c * size, best_idx)
        best = np.maximum(best, b)
    return best_idx, best - second


def numpy_worker(n: int, k: int, seed: int, batch: int) -> None:
    """Builds the brute force's matrix, says "ready", then times one decode of its batch per
    "run" line on stdin (one JSON line back each) until "quit"; "result" sends the decodings."""
    code = make_code(n, k, seed)
    _, llrs = make_words(code, batch, seed + 1)
    flips: NDArray[np.float32] | None = None
    if k <= CHUNK_BITS:
        matrix = pm_matrix(code, 1 << k)
    else:
        matrix = pm_matrix(code, 1 << CHUNK_BITS)
        heads = code.encode_batch(_head_messages(k))  # codewords of c * 2^20
        flips = (1.0 - 2.0 * heads).astype(np.float32)
    result = numpy_decode(llrs, matrix, flips)  # warm up
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "run":
            t0 = time.perf_counter()
            result = numpy_decode(llrs, matrix, flips)
            print(json.dumps({"s": time.perf_counter() - t0}), flush=True)
        elif command == "result":
            print(json.dumps({"messages": result[0].tolist(), "margins": result[1].tolist()}), flush=True)
        else:
            return


def _head_messages(k: int) -> NDArray[np.uint8]:
    """Messages c * 2^CHUNK_BITS for every chunk c, as (chunks, k) bits."""
    c = np.arange(1 << (k - CHUNK_BITS), dtype=np.int64) << CHUNK_BITS
    return ((c[:, None] >> np.arange(k)) & 1).astype(np.uint8)


class NumpyWorker:
    """A subprocess running the numpy brute force with a given number of BLAS threads."""

    def __init__(self, n: int, k: int, seed: int, batch: int, blas_threads: int) -> None:
        # OPENBLAS_THREAD_TIMEOUT=4: idle BLAS threads sleep after 2^4 cycles instead of
        # spinning (and taking a core from the next column) for about 2^28.
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas_threads), OMP_NUM_THREADS=str(blas_threads),
                   OPENBLAS_THREAD_TIMEOUT="4")
        cmd = [sys.executable, os.path.abspath(__file__), "--numpy-worker", f"{n}:{k}:{seed}:{batch}"]
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self._line() != "ready":
            raise RuntimeError("the numpy worker did not start")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return dict(json.loads(self._line()))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()


# -- the benchmark ---------------------------------------------------------------
def as_int(bits: NDArray[np.uint8]) -> NDArray[np.int64]:
    return (bits.astype(np.int64) << np.arange(bits.shape[1])).sum(axis=1)


def numpy_column(worker: NumpyWorker) -> float:
    worker.ask("run")  # untimed, as for fuzzykey
    seconds = float(worker.ask("run")["s"])
    time.sleep(PAUSE_S)  # the worker's BLAS threads go idle before the next column
    return seconds


def bench_code(n: int, k: int, seed: int, all_threads: int, rounds: int, with_numpy: bool) -> dict[str, Any]:
    """One code: every column timed once per round, in interleaved rounds (the column order
    rotates), so the shared machine's slow drifts hit all columns alike."""
    code = make_code(n, k, seed)
    per_thread, numpy_batch = BATCH[k]
    threads_used = code.decode_threads(1 << 20, threads=all_threads)
    columns: dict[str, Callable[[], float]] = {}
    words: dict[str, tuple[NDArray[np.uint8], NDArray[np.float32], int | None]] = {}
    for label, threads, count in (("1", 1, per_thread), ("all", None, per_thread * threads_used)):
        msgs, llrs = make_words(code, count, seed + 2)
        words[label] = (msgs, llrs, threads)
        code.ml_decode_batch(llrs, threads=threads)  # warm up

        def run(llrs: NDArray[np.float32] = llrs, threads: int | None = threads) -> float:
            code.ml_decode_batch(llrs, threads=threads)  # untimed: past the last column's after-effects
            t0 = time.perf_counter()
            code.ml_decode_batch(llrs, threads=threads)
            return time.perf_counter() - t0

        columns[f"fuzzykey_{label}"] = run
    workers: dict[str, NumpyWorker] = {}
    try:
        if with_numpy:
            for label, blas in (("1", 1), ("all", all_threads)):
                worker = NumpyWorker(n, k, seed, numpy_batch, blas)
                workers[label] = worker
                columns[f"numpy_{label}"] = lambda worker=worker: numpy_column(worker)
        runs: dict[str, list[float]] = {name: [] for name in columns}
        names = list(columns)
        for r in range(rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                runs[name].append(columns[name]())
        results = {label: w.ask("result") for label, w in workers.items()}
    finally:
        for w in workers.values():
            w.close()

    row: dict[str, Any] = {"n": n, "k": k, "digest": code.digest, "rounds": rounds}
    for label, (msgs, llrs, threads) in words.items():
        decoded, _ = code.ml_decode_batch(llrs, threads=threads)
        med = statistics.median(runs[f"fuzzykey_{label}"])
        row[f"fuzzykey_{label}"] = {
            "threads": 1 if threads == 1 else threads_used,
            "batch": len(llrs),
            "runs_s": runs[f"fuzzykey_{label}"],
            "decodes_per_s": len(llrs) / med,
            "ms_per_decode": 1e3 * med / len(llrs),
            "frame_errors": int((decoded != msgs).any(axis=1).sum()),
        }
    if with_numpy:
        _, llrs = make_words(code, numpy_batch, seed + 1)  # the workers' words
        ours, margins = code.ml_decode_batch(llrs)
        clear = margins > 2.0**-10 * np.abs(llrs).sum(axis=1)  # far above float32 rounding
        for label, blas in (("1", 1), ("all", all_threads)):
            med = statistics.median(runs[f"numpy_{label}"])
            agree = np.asarray(results[label]["messages"])[clear] == as_int(ours)[clear]
            row[f"numpy_{label}"] = {
                "blas_threads": blas,
                "batch": numpy_batch,
                "runs_s": runs[f"numpy_{label}"],
                "decodes_per_s": numpy_batch / med,
                "ms_per_decode": 1e3 * med / numpy_batch,
                "messages_agree": bool(agree.all()),
                "compared": int(clear.sum()),
                "chunked": k > CHUNK_BITS,
            }
            ours_rate = row[f"fuzzykey_{label}"]["decodes_per_s"]
            row[f"speedup_{label}"] = ours_rate / row[f"numpy_{label}"]["decodes_per_s"]
    return row


def machine_info() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "fuzzykey": fuzzykey.__version__,
        "fwht_kernel_sets": ", ".join(ops.available_kernel_isas()["fwht"]),
        "fwht_default": ops.kernel_isas()["fwht"],
        "numpy": np.__version__,
        "blas": str(np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {}).get("name", "?")),
    }


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.2f}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| (n, k) | fuzzykey 1 thread | numpy 1 thread | speed-up | fuzzykey all | numpy all | speed-up "
        "| fuzzykey ms/decode (1 thread) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [f"({r['n']}, {r['k']})"]
        for label in ("1", "all"):
            f = r[f"fuzzykey_{label}"]
            cells.append(f"{fmt_rate(f['decodes_per_s'])}/s ({f['threads']} thr)")
            if f"numpy_{label}" in r:
                npy = r[f"numpy_{label}"]
                note = ", chunked" if npy["chunked"] else ""
                cells += [f"{fmt_rate(npy['decodes_per_s'])}/s ({npy['blas_threads']} thr{note})",
                          f"{r[f'speedup_{label}']:.1f}x"]
            else:
                cells += ["not run", "-"]
        cells.append(f"{r['fuzzykey_1']['ms_per_decode']:.3f}")
        out.append("| " + " | ".join(cells) + " |")
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="smoke run: small codes, 3 rounds")
    p.add_argument("--codes", help="n:k,n:k,... (default 128:16,128:20,255:24)")
    p.add_argument("--no-numpy", action="store_true", help="time fuzzykey only")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--md", metavar="PATH", help="also write the record as Markdown")
    p.add_argument("--numpy-worker", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.numpy_worker:
        n, k, seed, batch = (int(x) for x in args.numpy_worker.split(":"))
        numpy_worker(n, k, seed, batch)
        return 0
    codes = QUICK_CODES if args.quick else DEFAULT_CODES
    if args.codes:
        codes = tuple(tuple(int(x) for x in item.split(":")) for item in args.codes.split(","))  # type: ignore[misc]
    info = machine_info()
    command = command_line("PYTHONPATH")
    print_header("ML decoding: fuzzykey.linear.LinearCode vs numpy brute force", info, command)
    all_threads = os.cpu_count() or 1
    rows = []
    for n, k in codes:
        rounds = 3 if args.quick else ROUNDS[k]
        row = bench_code(n, k, args.seed + k, all_threads, rounds, not args.no_numpy)
        rows.append(row)
        print(f"  ({n}, {k}) done", file=sys.stderr, flush=True)
    lines = table(rows)
    print("\n".join(lines))
    goals = []
    for r in rows:
        if r["k"] == 16 and "speedup_1" in r:
            goals.append(f"k = 16, one thread: {r['speedup_1']:.1f}x numpy (goal >= 10x)")
        if r["k"] == 24:
            goals.append(f"k = 24: {r['fuzzykey_1']['ms_per_decode'] / 1e3:.3f} s per decode on one thread "
                         "(goal <= 0.5 s)")
    for g in goals:
        print(g)
    for line in checks(rows):
        print(line)
    record = {"command": command, "machine": info, "sigma": SIGMA, "rows": rows, "goals": goals}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=1)
    if args.md:
        with open(args.md, "w", encoding="utf-8") as fh:
            fh.write(markdown(record, lines))
    return 0


def markdown(record: dict[str, Any], lines: list[str]) -> str:
    m = record["machine"]
    machine = ", ".join(f"{key} {value}" for key, value in m.items())
    return "\n".join([
        "# `benchmarks/ml_decode.py`: run record",
        "",
        "Exact soft-decision ML decoding of random binary linear [n, k] codes: "
        "`LinearCode.ml_decode_batch` (Walsh-Hadamard transform, C++ core) against a numpy brute force "
        "(LLRs @ the +-1 codebook matrix, OpenBLAS sgemm, then the top two). Decodes per second, medians "
        "over rounds; the method is in the script's docstring.",
        "",
        f"Command: `{record['command']}`",
        "",
        f"Machine: {machine}",
        "",
        *lines,
        "",
        *[f"- {g}" for g in record["goals"]],
        *checks(record["rows"]),
        "",
    ])


def checks(rows: list[dict[str, Any]]) -> list[str]:
    """The correctness lines of the record: numpy's messages against fuzzykey's, frame errors."""
    out = []
    for r in rows:
        parts = []
        for label in ("1", "all"):
            npy = r.get(f"numpy_{label}")
            if npy is not None:
                same = "agree" if npy["messages_agree"] else "DISAGREE"
                parts.append(f"numpy ({npy['blas_threads']} thr) and fuzzykey messages {same} on "
                             f"{npy['compared']} of {npy['batch']} words")
        errors, words = r["fuzzykey_1"]["frame_errors"], r["fuzzykey_1"]["batch"]
        parts.append(f"{errors} of {words} words decoded to another message (sigma {SIGMA})")
        out.append(f"- ({r['n']}, {r['k']}): " + "; ".join(parts))
    return out


if __name__ == "__main__":
    sys.exit(main())
