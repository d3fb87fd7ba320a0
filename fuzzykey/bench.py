"""``fuzzykey bench``: key error rates, security figures and DET curves on a face set.

(Work in progress: the command is registered so that the CLI can be built
around it; :func:`run_bench` is filled in by the same change.)

Example:
    >>> from fuzzykey.bench import bench_command
    >>> bench_command.name
    'bench'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["bench_command", "run_bench"]


def run_bench(**options: Any) -> dict[str, Any]:  # pragma: no cover - replaced by the real benchmark
    raise click.ClickException("fuzzykey bench is not implemented yet")


@click.command("bench")
@click.option("--images", type=click.Path(path_type=Path), default=None,
              help="image folder, one subfolder per person (default: ../shared/data/lfw-dev/images)")
@click.option("--pairs", type=click.Path(path_type=Path), default=None,
              help="LFW pairs file (default: pairsDevTrain.txt beside the default images)")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="write results as JSON")
@click.option("--plot", type=click.Path(path_type=Path), default=None, help="write DET curves as PNG")
def bench_command(images: Path | None, pairs: Path | None, json_out: Path | None, plot: Path | None) -> None:
    """Measure key FRR/FAR, security figures and throughput on a face set."""
    run_bench(images=images, pairs=pairs, json_out=json_out, plot=plot)
