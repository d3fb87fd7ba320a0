"""The CUDA kernels against the CPU core on the same machine: ML decoding and Hamming search.

What it measures
----------------
* ML decoding, ``LinearCode.ml_decode_batch`` on (n, k) = (128, 16), (128, 20),
  (255, 24) (random full-rank generators, seeded), BPSK words over Gaussian noise
  (sigma 0.8): decodes per second on the GPU (a CUDA tensor of LLRs in, CUDA
  tensors out; synchronized before the clock stops) and on the CPU core with all
  its threads (``threads=None``, as many as the 1 GiB workspace budget allows).
  The GPU's messages and margins are compared with the CPU's (they must be
  bit-identical).
* Hamming search, ``ops.hamming`` of Q packed 128-bit queries against G gallery
  strings: distances per second on the GPU and on all CPU cores.

Every column is timed in interleaved rounds (each timed call follows an untimed
one); the median is reported, and ratios are between medians of the same run.
This is a benchmark, not a test: nothing asserts on timings. It needs a CUDA
build and a GPU (``bash .ci/gpu`` builds one).

How to run
----------
::

    python benchmarks/cuda_kernels.py --json benchmarks/results/cuda_kernels.json \\
        --md benchmarks/results/cuda_kernels.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from _machine import command_line, cpu_model

import fuzzykey
from fuzzykey import ops
from fuzzykey.errors import InvalidArgument
from fuzzykey.linear import LinearCode

SIGMA = 0.8
CODES = ((128, 16, 4096, 512), (128, 20, 256, 64), (255, 24, 16, 16))  # n, k, GPU batch, CPU batch
ROUNDS = 5


def make_code(n: int, k: int, seed: int) -> LinearCode:
    rng = np.random.default_rng(seed)
    while True:
        try:
            return LinearCode(rng.integers(0, 2, (k, n), dtype=np.uint8))
        except InvalidArgument:
            continue


def llrs_for(code: LinearCode, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    msgs = rng.integers(0, 2, (count, code.k), dtype=np.uint8)
    y = 1.0 - 2.0 * code.encode_batch(msgs) + SIGMA * rng.standard_normal((count, code.n))
    return (2.0 * y / SIGMA**2).astype(np.float32)


def timed(fn: Callable[[], Any], gpu: bool) -> float:
    fn()  # untimed
    if gpu:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if gpu:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def interleave(columns: dict[str, tuple[Callable[[], Any], bool]]) -> dict[str, float]:
    runs: dict[str, list[float]] = {name: [] for name in columns}
    names = list(columns)
    for r in range(ROUNDS):
        for name in names[r % len(names):] + names[: r % len(names)]:
            fn, gpu = columns[name]
            runs[name].append(timed(fn, gpu))
    return {name: statistics.median(v) for name, v in runs.items()}


def bench_decode() -> list[dict[str, Any]]:
    rows = []
    for n, k, gpu_batch, cpu_batch in CODES:
        code = make_code(n, k, 100 + k)
        llrs = llrs_for(code, gpu_batch, 200 + k)
        dev = torch.from_numpy(llrs).cuda()
        cpu = llrs[:cpu_batch]
        med = interleave({"gpu": (lambda c=code, x=dev: c.ml_decode_batch(x), True),
                          "cpu": (lambda c=code, x=cpu: c.ml_decode_batch(x), False)})
        gm, gs = code.ml_decode_batch(dev)
        cm, cs = code.ml_decode_batch(llrs)
        same = bool(np.array_equal(gm.cpu().numpy(), cm) and np.array_equal(gs.cpu().numpy(), cs))
        gpu_rate, cpu_rate = gpu_batch / med["gpu"], cpu_batch / med["cpu"]
        rows.append({"n": n, "k": k, "gpu_batch": gpu_batch, "cpu_batch": cpu_batch,
                     "cpu_threads": code.decode_threads(cpu_batch), "gpu_decodes_per_s": gpu_rate,
                     "cpu_decodes_per_s": cpu_rate, "speedup": gpu_rate / cpu_rate,
                     "bit_identical": same})
    return rows


def bench_hamming() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    Q, G = 4096, 100_000
    q = rng.integers(0, 2**64, size=(Q, 2), dtype=np.uint64)
    g = rng.integers(0, 2**64, size=(G, 2), dtype=np.uint64)
    qd, gd = torch.from_numpy(q).cuda(), torch.from_numpy(g).cuda()
    out = np.empty((Q, G), np.int32)
    med = interleave({"gpu": (lambda: ops.hamming(qd, gd), True),
                      "cpu": (lambda: ops.hamming(q, g, out=out), False)})
    same = bool(np.array_equal(ops.hamming(qd, gd).cpu().numpy(), ops.hamming(q, g)))
    return {"Q": Q, "G": G, "bits": 128, "gpu_distances_per_s": Q * G / med["gpu"],
            "cpu_distances_per_s": Q * G / med["cpu"], "speedup": med["cpu"] / med["gpu"],
            "identical": same}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--json")
    p.add_argument("--md")
    args = p.parse_args()
    if not (ops.cuda_built() and torch.cuda.is_available()):
        raise SystemExit("needs a CUDA build of fuzzykey and a GPU")
    machine = {"gpu": torch.cuda.get_device_name(0), "cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
               "platform": platform.platform(), "python": platform.python_version(),
               "torch": torch.__version__, "fuzzykey": fuzzykey.__version__,
               "fwht_default": ops.kernel_isas()["fwht"], "hamming_default": ops.kernel_isas()["hamming"]}
    decode, ham = bench_decode(), bench_hamming()
    record = {"command": command_line(), "machine": machine, "rounds": ROUNDS, "ml_decode": decode,
              "hamming": ham}
    lines = ["| (n, k) | GPU decodes/s | CPU decodes/s (threads) | GPU / CPU | bit-identical |",
             "|---|---|---|---|---|"]
    for r in decode:
        lines.append(f"| ({r['n']}, {r['k']}) | {r['gpu_decodes_per_s']:,.0f} | "
                     f"{r['cpu_decodes_per_s']:,.1f} ({r['cpu_threads']}) | {r['speedup']:.1f}x | "
                     f"{r['bit_identical']} |")
    lines += ["", f"Hamming, {ham['Q']} x {ham['G']} 128-bit strings: "
              f"GPU {ham['gpu_distances_per_s']:.3g}/s, CPU {ham['cpu_distances_per_s']:.3g}/s "
              f"({ham['speedup']:.1f}x), identical: {ham['identical']}"]
    print(json.dumps(machine))
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
    if args.md:
        with open(args.md, "w") as f:
            f.write(f"# CUDA kernels against the CPU core\n\n`{record['command']}`\n\n"
                    f"Machine: {json.dumps(machine)}\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
