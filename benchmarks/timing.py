"""How long ``FuzzyExtractor.reproduce`` takes, by outcome: a timing side channel check.

What it measures
----------------
One helper of ``FuzzyExtractor(BCHCode(10, 155))`` (BCH(1023, t=155), the code
KeyGen uses for its secret), reproduced from probes with 0, 50, 100 and 155 bit
errors (keys come out), 200 errors (decoding fails: no key) and 0 errors against
a copy of the helper whose last tag byte is flipped (decoding succeeds, the tag
does not match: no key). An attacker who can alter a helper and time its
reproduction would learn about the probe's bits if these times differed.

Each repetition times every case once, in a shuffled order (interleaved, so
drift of a loaded machine hits all cases alike), with ``time.perf_counter_ns``
around one ``reproduce`` call (a ``KeyMismatch`` is caught inside the timed
region). The table gives the median, the 10th and 90th percentile in
microseconds, and the median's difference from the 0-error case. The process
is pinned to one CPU when possible. This is a benchmark, not a test: nothing
asserts on timings.

How to run
----------
::

    PYTHONPATH=. python benchmarks/timing.py                    # ~20 s
    PYTHONPATH=. python benchmarks/timing.py --label after \\
        --json benchmarks/results/timing.json --md benchmarks/results/timing.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from fuzzykey import BCHCode, FuzzyExtractor, HelperData, KeyMismatch


def _cases(seed: int) -> tuple[FuzzyExtractor, dict[str, tuple[Any, HelperData]]]:
    code = BCHCode(10, 155)
    fe = FuzzyExtractor(code, info=b"timing")
    rng = np.random.default_rng(seed)
    n = code.n
    w = rng.integers(0, 2, n, dtype=np.uint8)
    _, helper = fe.generate(w)
    raw = bytearray(helper.to_bytes())
    raw[-1] ^= 1  # the tag is the last field
    bad_tag = HelperData.from_bytes(bytes(raw))
    cases: dict[str, tuple[Any, HelperData]] = {}
    for errors in (0, 50, 100, 155, 200):
        probe = w.copy()
        probe[rng.choice(n, errors, replace=False)] ^= 1
        name = f"{errors} errors" + (" (decoding fails)" if errors > code.t else "")
        cases[name] = (probe, helper)
    cases["0 errors, tag fails"] = (w.copy(), bad_tag)
    return fe, cases


def run(repeats: int, seed: int) -> dict[str, Any]:
    fe, cases = _cases(seed)
    outcome = {}
    for name, (probe, h) in cases.items():  # warm-up, and what each case gives
        try:
            fe.reproduce(probe, h)
            outcome[name] = "key"
        except KeyMismatch:
            outcome[name] = "KeyMismatch"
    samples: dict[str, list[float]] = {name: [] for name in cases}
    order = list(cases)
    rng = np.random.default_rng(seed + 1)
    for _ in range(repeats):
        rng.shuffle(order)
        for name in order:
            probe, h = cases[name]
            start = time.perf_counter_ns()
            try:
                fe.reproduce(probe, h)
            except KeyMismatch:
                pass
            samples[name].append((time.perf_counter_ns() - start) / 1000.0)
    base = statistics.median(samples[next(iter(cases))])
    rows = []
    for name, xs in samples.items():
        q = np.percentile(xs, [10, 90])
        med = statistics.median(xs)
        rows.append(
            {
                "case": name,
                "outcome": outcome[name],
                "median_us": round(med, 1),
                "p10_us": round(float(q[0]), 1),
                "p90_us": round(float(q[1]), 1),
                "delta_us": round(med - base, 1),
            }
        )
    return {"code": repr(fe.code), "repeats": repeats, "rows": rows}


def _markdown(runs: dict[str, Any]) -> str:
    lines = ["# `FuzzyExtractor.reproduce` time by outcome", ""]
    for label, res in runs.items():
        lines += [
            f"## {label}: {res['code']}, {res['repeats']} interleaved repetitions",
            "",
            f"Command: `{res['command']}`  ",
            f"Machine: {res['machine']}",
            "",
            "| case | outcome | median µs | p10 µs | p90 µs | median − 0 errors µs |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in res["rows"]:
            lines.append(
                f"| {r['case']} | {r['outcome']} | {r['median_us']} | {r['p10_us']} "
                f"| {r['p90_us']} | {r['delta_us']:+} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--label", default="run", help="name of this run in the JSON/MD files")
    ap.add_argument("--json", type=Path, help="add this run to a JSON file (keyed by label)")
    ap.add_argument("--md", type=Path, help="write a Markdown table of every run in --json")
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass
    res = run(args.repeats, args.seed)
    res["command"] = "PYTHONPATH=. python benchmarks/timing.py " + " ".join(
        f"--{k} {v}" for k, v in (("repeats", args.repeats), ("label", args.label))
    )
    res["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared)"
    print(f"{args.label}: {res['code']}, {res['repeats']} repetitions")
    for r in res["rows"]:
        print(
            f"  {r['case']:<28} {r['outcome']:<12} median {r['median_us']:8.1f} us  "
            f"p10 {r['p10_us']:8.1f}  p90 {r['p90_us']:8.1f}  delta {r['delta_us']:+8.1f}"
        )
    if args.json:
        runs: dict[str, Any] = {}
        if args.json.exists():
            runs = json.loads(args.json.read_text())
        runs[args.label] = res
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(runs, indent=2) + "\n")
        if args.md:
            args.md.write_text(_markdown(runs))


if __name__ == "__main__":
    main()
