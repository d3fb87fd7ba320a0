"""Embedding a face set: the local engine against Ray with 1 and 2 actors, and what Ray adds.

What it measures
----------------
The first ``--photos`` images of LFW-dev (people, then files, in name order; copied
to a temporary folder) are embedded, each configuration once, without the
embedding cache, in this order:

* ``local``: :func:`fuzzykey.evaluation.embeddings_file.embed_folder` (one
  process, onnxruntime on all cores), file written;
* ``ray, 1 actor`` and ``ray, 2 actors``:
  :func:`fuzzykey.distributed.embed_folder_ray` (``--batch-size`` photos per
  block, one CPU and one onnxruntime thread per actor) in a local Ray cluster
  of all cores, file written.

Reported for each: photos/s over the whole call (wall, start-up included),
the ratio to ``local`` and the time to the first rows (for Ray: actor start,
model load, the first batch). Rows reach the driver in bursts (Ray Data keeps
them in input order), so the per-core rate is measured apart: one process
with one onnxruntime and one OpenCV thread, models loaded, on 64 photos: what
a 1-CPU actor does. The Ray overhead: the cluster's start-up
(``ray.init``), and the cost of one batch through Ray Data with nothing to do
(an actor that returns its batch: the median time between batches over the
same number of blocks). Also: the detection / embedding split of the local
engine (:func:`fuzzykey.evaluation.datasets.embed_files` on 64 photos) and
the Parquet writer's rate (rows of 128 floats, one process), the pieces of the
"on paper" scaling estimate printed at the end. The files are checked equal
(embeddings to 1e-5) before anything is reported.

This is a benchmark, not a test: nothing asserts on timings. The machine may
be shared; the load average at the start is recorded.

How to run
----------
::

    pip install '.[face,ray]'
    python benchmarks/ray_embed.py --photos 300 --json ray_embed.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from _machine import command_line, cpu_model, package_version, print_header

import fuzzykey
from fuzzykey.distributed import embed_folder_ray, ray_session
from fuzzykey.evaluation.datasets import default_data_dir, embed_files, read_image_folder
from fuzzykey.evaluation.embeddings_file import EmbeddingsWriter, embed_folder, read_embeddings, rows_table
from fuzzykey.face.detect import YuNetDetector
from fuzzykey.face.encoders import SFaceEncoder


class Clock:
    """A progress strategy that records when each batch of rows arrived."""

    def __init__(self) -> None:
        self.start = 0.0
        self.arrivals: list[tuple[float, int]] = []

    @contextmanager
    def __call__(self, label: str, total: int) -> Iterator[Any]:
        self.start = time.perf_counter()

        def advance(steps: int) -> None:
            self.arrivals.append((time.perf_counter(), steps))

        yield advance

    def figures(self, photos: int, wall: float) -> dict[str, float]:
        """Photos/s over the call; seconds to the first rows; photos/s from there to the last rows."""
        times = [t for t, _ in self.arrivals]
        after = times[-1] - times[0]
        return {
            "photos_per_s": photos / wall,
            "seconds": wall,
            "first_batch_s": times[0] - self.start,
            "after_first_photos_per_s": (photos - self.arrivals[0][1]) / after if after > 0 else float("nan"),
        }


class Identity:
    """A Ray Data actor with nothing to do: the per-batch cost of Ray itself."""

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        return batch


def copy_photos(source: Path, count: int, dest: Path) -> Path:
    folder = read_image_folder(source)
    for f in folder.files[:count]:
        (dest / f.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest / f.parent.name / f.name)
    return dest


def noop_overhead(blocks: int, actors: int) -> dict[str, float]:
    """``blocks`` one-row blocks through ``actors`` actors that return their batch."""
    import logging

    import ray.data

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # Ray Data resets it on import
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True
    t0 = time.perf_counter()
    ds = ray.data.from_items([{"i": i} for i in range(blocks)], override_num_blocks=blocks).map_batches(
        Identity, batch_size=1, compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1
    )
    times = [time.perf_counter() for _ in ds.iter_batches(batch_size=None)]
    gaps = np.diff(times)
    return {
        "blocks": blocks,
        "actors": actors,
        "first_batch_s": times[0] - t0,
        "median_batch_gap_s": float(statistics.median(gaps)) if len(gaps) else float("nan"),
        "blocks_per_s_after_first": (blocks - 1) / (times[-1] - times[0]) if blocks > 1 else float("nan"),
    }


def writer_rate(rows: int, dim: int = 128) -> float:
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((rows, dim)).astype(np.float32)
    paths = [f"P{i // 10}/P{i // 10}_{i:07d}.jpg" for i in range(rows)]
    people = [p.split("/")[0] for p in paths]
    digests = [f"{i:064x}" for i in range(rows)]
    meta = {"root": "/x", "engine": "bench", "encoder": {"name": "e", "dim": dim}, "detector": {"name": "d"}}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with EmbeddingsWriter(Path(tmp) / "w.parquet", meta, dim=dim) as writer:
            for s in range(0, rows, 1024):
                e = slice(s, s + 1024)
                n = len(paths[e])
                writer.write(
                    rows_table(paths[e], people[e], digests[e], emb[e], [1] * n, [None] * n, dim=dim)
                )
        return rows / (time.perf_counter() - t0)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--photos", type=int, default=300, help="photos to embed (default 300)")
    p.add_argument("--batch-size", type=int, default=32, help="photos per Ray batch (default 32)")
    p.add_argument("--images", type=Path, default=None, help="image folder [default: LFW-dev]")
    p.add_argument("--nodes", type=int, default=100, help="cluster of the estimate (default 100 nodes)")
    p.add_argument("--cores", type=int, default=16, help="cores per node of the estimate (default 16)")
    p.add_argument("--target", type=int, default=10_000_000, help="photos of the estimate (default 10 M)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    source = args.images or default_data_dir() / "lfw-dev" / "images"
    cores = os.cpu_count() or 1
    info = {
        "cpu": cpu_model(),
        "cores": cores,
        "load_average_at_start": os.getloadavg()[0],
        "python": sys.version.split()[0],
        "fuzzykey": fuzzykey.__version__,
        "ray": package_version("ray"),
        "onnxruntime": package_version("onnxruntime"),
        "pyarrow": package_version("pyarrow"),
    }
    print_header("Embedding on one machine and on Ray", info, command_line())
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_photos(source, args.photos, Path(tmp) / "images")
        photos = len(read_image_folder(root).files)
        mean_bytes = float(np.mean([f.stat().st_size for f in read_image_folder(root).files]))

        files = read_image_folder(root).files
        detector, encoder = YuNetDetector(), SFaceEncoder()
        embed_files(files[:2], detector, encoder, cache=False)  # models loaded: the split is of the work
        split = embed_files(files[:64], detector, encoder, cache=False)
        results["local_split_per_photo_s"] = {k: v / split.n_computed for k, v in split.seconds.items()}
        # what one 1-CPU actor does per photo: one onnxruntime thread, one OpenCV thread
        cv2.setNumThreads(1)
        one_thread = SFaceEncoder(threads=1)
        embed_files(files[:2], detector, one_thread, cache=False)
        t0 = time.perf_counter()
        done = embed_files(files[:64], detector, one_thread, cache=False)
        results["per_core_photos_per_s"] = done.n_computed / (time.perf_counter() - t0)
        cv2.setNumThreads(cores)

        clock = Clock()
        t0 = time.perf_counter()
        embed_folder(root, Path(tmp) / "local.parquet", cache=False, progress=clock)
        results["local"] = clock.figures(photos, time.perf_counter() - t0)

        t0 = time.perf_counter()
        with ray_session(num_cpus=cores):
            results["ray_start_s"] = time.perf_counter() - t0
            results["ray_noop_1_actor"] = noop_overhead(40, 1)
            results["ray_noop_2_actors"] = noop_overhead(400, 2)
            for workers in (1, 2):
                clock = Clock()
                out = Path(tmp) / f"ray{workers}.parquet"
                t1 = time.perf_counter()
                embed_folder_ray(root, out, workers=workers, batch_size=args.batch_size, progress=clock)
                results[f"ray_{workers}"] = clock.figures(photos, time.perf_counter() - t1)
        local = read_embeddings(Path(tmp) / "local.parquet")
        for workers in (1, 2):
            theirs = read_embeddings(Path(tmp) / f"ray{workers}.parquet")
            assert theirs.paths == local.paths and theirs.sha256 == local.sha256
            diff = float(np.max(np.abs(theirs.embeddings[local.ok] - local.embeddings[local.ok])))
            assert diff <= 1e-5, diff
    results["parquet_writer_rows_per_s"] = writer_rate(50_000)

    base = results["local"]["photos_per_s"]
    print(f"\n{photos} photos ({mean_bytes / 1024:.1f} KiB on average), Ray batches of {args.batch_size}:")
    print("| engine | photos/s (wall, start-up included) | x local | s to the first rows |")
    print("|---|---:|---:|---:|")
    for name, label in (
        ("local", f"local (1 process, {cores} threads)"),
        ("ray_1", "ray, 1 actor (1 CPU)"),
        ("ray_2", "ray, 2 actors (1 CPU each)"),
    ):
        r = results[name]
        print(
            f"| {label} | {r['photos_per_s']:.1f} | {r['photos_per_s'] / base:.2f} | "
            f"{r['first_batch_s']:.1f} |"
        )
    one, two = results["ray_noop_1_actor"], results["ray_noop_2_actors"]
    print(
        f"Ray start-up (ray.init, local cluster): {results['ray_start_s']:.1f} s; an empty pipeline: "
        f"{one['first_batch_s']:.1f} s to the first batch (actor start), then "
        f"{one['median_batch_gap_s'] * 1e3:.1f} ms per batch through 1 actor (median of {one['blocks']}), "
        f"{two['blocks_per_s_after_first']:.0f} batches/s through 2 actors ({two['blocks']} batches)"
    )
    sp = results["local_split_per_photo_s"]
    print(
        f"local engine per photo (models loaded): detection (decode, YuNet, alignment) "
        f"{sp['detection'] * 1e3:.1f} ms, embedding {sp['embedding'] * 1e3:.1f} ms; "
        f"Parquet writer {results['parquet_writer_rows_per_s']:,.0f} rows/s"
    )

    print(
        f"one core (1 onnxruntime thread, 1 OpenCV thread, models loaded): "
        f"{results['per_core_photos_per_s']:.1f} photos/s"
    )

    # on paper: the rate of one 1-CPU actor, times the cluster's cores
    per_core = results["per_core_photos_per_s"]
    cluster = args.nodes * args.cores * per_core
    paper = {
        "nodes": args.nodes,
        "cores_per_node": args.cores,
        "photos": args.target,
        "per_core_photos_per_s": per_core,
        "cluster_photos_per_s": cluster,
        "compute_minutes": args.target / cluster / 60,
        "actor_start_s": results["ray_1"]["first_batch_s"],
        "batches_per_s_at_batch_size": cluster / args.batch_size,
        "batch_overhead_fraction": one["median_batch_gap_s"] * per_core / args.batch_size,
        "writer_minutes": args.target / results["parquet_writer_rows_per_s"] / 60,
        "image_terabytes": args.target * mean_bytes / 1e12,
    }
    results["on_paper"] = paper
    print(
        f"\non paper: {args.nodes} nodes x {args.cores} cores at {per_core:.1f} photos/s per core = "
        f"{cluster:,.0f} photos/s: {args.target:,} photos in {paper['compute_minutes']:.1f} min of compute, "
        f"+ {paper['actor_start_s']:.0f} s for each actor to start and load its models (in parallel); "
        f"{paper['batches_per_s_at_batch_size']:,.0f} batches/s of {args.batch_size} for the driver to "
        f"stream; one Parquet file written by the driver at {results['parquet_writer_rows_per_s']:,.0f} "
        f"rows/s takes {paper['writer_minutes']:.1f} min; {paper['image_terabytes']:.2f} TB of images read "
        "at this set's mean size."
    )

    if args.json:
        payload = {
            "machine": info,
            "command": command_line(),
            "photos": photos,
            "batch_size": args.batch_size,
            "results": results,
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
