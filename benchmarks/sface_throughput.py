"""SFace forward time on the CPU: onnxruntime against the differentiable torch copy.

What it measures
----------------
One batch of random 112x112 RGB crops (default 32) through the SFace encoder,
two ways, in one process:

* onnxruntime: ``SFaceEncoder(threads=T).embed(crops)`` (uint8 NHWC crops in,
  unit-norm embeddings out: the path :class:`fuzzykey.KeyGen` uses);
* torch: ``SFaceEncoder().torch_module()`` on the same crops as a float NCHW
  tensor under ``torch.inference_mode()`` (the module the robustness
  experiments differentiate through), with ``torch.set_num_threads(T)``.

Each is called once untimed (session start-up, first-call allocations), then
timed ``--repeats`` times; the median is reported in ms per batch and images
per second. Before timing, the two outputs are compared (cosine similarity of
each pair of embeddings), so a broken path is never timed silently.

This is a benchmark, not a test: nothing here asserts on timings. It replaces a
test that printed these figures without checking anything.

How to run
----------
::

    pip install '.[face,torch]'
    python benchmarks/sface_throughput.py                     # batch 32, 5 repeats
    python benchmarks/sface_throughput.py --batch 64 --threads 2 --json sface.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from _machine import command_line, cpu_model, package_version, print_header

import fuzzykey
from fuzzykey.face.encoders import SFaceEncoder


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Seconds per call of ``fn``: one untimed warm-up call, then ``repeats`` timed calls."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--batch", type=int, default=32, help="crops per forward pass (default 32)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per path (default 5)")
    p.add_argument("--threads", type=int, default=None, help="threads for both paths (default: all cores)")
    p.add_argument("--seed", type=int, default=20240611)
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    args = parse_args(argv)
    threads = args.threads or (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": threads,
        "python": sys.version.split()[0],
        "fuzzykey": fuzzykey.__version__,
        "onnxruntime": package_version("onnxruntime"),
        "torch": torch.__version__,
    }
    print_header("SFace forward time on the CPU", info, command_line())

    crops = np.random.default_rng(args.seed).integers(0, 256, (args.batch, 112, 112, 3), dtype=np.uint8)
    encoder = SFaceEncoder(threads=threads, batch_size=args.batch)
    module = encoder.torch_module()
    nchw = torch.from_numpy(np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32))

    def run_torch() -> np.ndarray:
        with torch.inference_mode():
            return np.asarray(module(nchw).numpy())

    cosine = np.sum(encoder.embed(crops) * run_torch(), axis=1)
    print(f"  agreement: cosine(onnxruntime, torch) min {cosine.min():.6f} over {args.batch} crops")
    if cosine.min() < 0.99:
        raise SystemExit("onnxruntime and torch disagree; not timing a broken path")

    results = {}
    for name, fn in (("onnxruntime", lambda: encoder.embed(crops)), ("torch", run_torch)):
        seconds = statistics.median(timed(fn, args.repeats))
        results[name] = {"seconds_per_batch": seconds, "images_per_second": args.batch / seconds}
        print(f"  {name:12s} {seconds * 1e3:8.1f} ms per batch of {args.batch}  "
              f"{args.batch / seconds:8.1f} images/s  (median of {args.repeats})")

    if args.json:
        payload = {"machine": info, "command": command_line(), "batch": args.batch,
                   "repeats": args.repeats, "min_cosine": float(cosine.min()), "results": results}
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
