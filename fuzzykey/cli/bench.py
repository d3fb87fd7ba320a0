"""``fuzzykey bench``: key error rates, security figures and DET curves of a face set.

A thin wrapper over :func:`fuzzykey.evaluation.keybench.run_bench`, which says
what is measured and how.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..evaluation.datasets import default_data_dir
from ..evaluation.distances import DistanceEngine
from ..evaluation.embeddings_file import read_metadata
from ..evaluation.keybench import BenchConfig, run_bench
from .report import progress_bars

__all__ = ["bench_command"]


@click.command("bench")
@click.option(
    "--images",
    type=click.Path(path_type=Path),
    default=None,
    help="image folder, one subfolder per person [default: ../shared/data/lfw-dev/images]",
)
@click.option(
    "--embeddings",
    type=click.Path(path_type=Path),
    default=None,
    help="start from an embeddings file of 'fuzzykey embed' instead of --images",
)
@click.option(
    "--pairs",
    type=click.Path(path_type=Path),
    default=None,
    help="LFW pairs file [default: pairsDevTrain.txt beside the default images; none otherwise]",
)
@click.option(
    "--json", "json_out", type=click.Path(path_type=Path), default=None, help="write the results as JSON"
)
@click.option("--plot", type=click.Path(path_type=Path), default=None, help="write DET curves as a PNG")
@click.option(
    "--encoder", default="sface", show_default=True, help="'sface' or the path of an ONNX face encoder"
)
@click.option(
    "--binarizer",
    default="select:1023:32768",
    show_default=True,
    help="secret scheme's binarizer, select:N_BITS:N_CANDIDATES",
)
@click.option(
    "--face-binarizer",
    default="sign:1023",
    show_default=True,
    help="face-only scheme's binarizer, sign:N_BITS",
)
@click.option("--code", default="10,155", show_default=True, help="secret scheme's BCH code M,T")
@click.option("--face-code", default="10,223", show_default=True, help="face-only scheme's BCH code M,T")
@click.option(
    "--impostors",
    default=1_000_000,
    show_default=True,
    help="cross-person pairs to sample when there are more",
)
@click.option("--seed", default=20261122, show_default=True, help="seed of the sampling and the secrets")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="count the impostor comparisons here or as Ray tasks (same figures)",
)
@click.option("--address", default=None, help="Ray cluster for --engine ray [default: a local one]")
@click.option(
    "--zero-leakage/--no-zero-leakage",
    default=True,
    show_default=True,
    help="also measure the zero-leakage keys (face-only and two-factor)",
)
@click.option(
    "--zl-people",
    type=click.Choice(["auto", "half-b", "all"]),
    default="auto",
    show_default=True,
    help="people the zero-leakage figures use; auto: LFW half B for LFW-dev "
    "(the transform was fitted on half A), else all",
)
@click.option("--quiet", is_flag=True, help="no progress bar")
def bench_command(
    images: Path | None,
    embeddings: Path | None,
    pairs: Path | None,
    json_out: Path | None,
    plot: Path | None,
    encoder: str,
    binarizer: str,
    face_binarizer: str,
    code: str,
    face_code: str,
    impostors: int,
    seed: int,
    engine: str,
    address: str | None,
    zero_leakage: bool,
    zl_people: str,
    quiet: bool,
) -> None:
    """Measure key FRR/FAR (DET curves), security figures and throughput on a face set."""
    default_images = default_data_dir() / "lfw-dev" / "images"
    if embeddings is not None:
        if images is not None:
            raise click.BadParameter("give --images or --embeddings, not both", param_hint="--embeddings")
        images = Path(read_metadata(embeddings)["root"])
        if pairs is None and images.resolve() == default_images.resolve():
            pairs = images.parent / "pairsDevTrain.txt"  # the file of the default images, as without it
    elif images is None:
        images = default_images
        if pairs is None:
            pairs = images.parent / "pairsDevTrain.txt"
    if address is not None and engine != "ray":
        raise click.BadParameter("--address needs --engine ray", param_hint="--address")
    if impostors < 1:
        raise click.BadParameter(f"must be >= 1, got {impostors}", param_hint="--impostors")
    cfg = BenchConfig(
        images=images,
        pairs=pairs,
        json_out=json_out,
        plot=plot,
        encoder=encoder,
        binarizer=binarizer,
        face_binarizer=face_binarizer,
        code=code,
        face_code=face_code,
        impostors=impostors,
        seed=seed,
        embeddings=embeddings,
        zero_leakage=zero_leakage,
        zl_people=zl_people,
    )
    if engine == "local":
        run_bench(cfg, echo=click.echo, progress=progress_bars(not quiet))
        return
    from ..distributed import RayDistances, ray_session

    with ray_session(address):
        distances: DistanceEngine = RayDistances()
        cfg.distances = distances
        run_bench(cfg, echo=click.echo, progress=progress_bars(not quiet))
