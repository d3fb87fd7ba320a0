"""``fuzzykey embed``: every photo of a face set embedded once, written as an embeddings file.

A thin wrapper over :func:`fuzzykey.evaluation.embeddings_file.embed_folder`
(``--engine local``, with the embedding cache) and
:func:`fuzzykey.distributed.embed_folder_ray` (``--engine ray``, a Ray Data
actor pool), which say what is computed and how. The file is what ``fuzzykey
bench --embeddings`` reads.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..evaluation.embeddings_file import EmbedSummary, embed_folder
from .errors import warn
from .files import check_new_file
from .report import progress_bars, stderr_line

__all__ = ["embed_command"]


@click.command("embed")
@click.argument("images", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="embeddings file to write (Parquet)"
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="embed here (with the embedding cache) or on a Ray cluster",
)
@click.option(
    "--address",
    default=None,
    help="Ray cluster to use ('auto', HOST:PORT, ray://HOST:PORT) [default: a local one; --engine ray]",
)
@click.option("--workers", type=int, default=None, help="Ray actors [default: one per CPU; --engine ray]")
@click.option(
    "--cpus-per-worker",
    type=int,
    default=1,
    show_default=True,
    help="CPUs (and onnxruntime threads) per Ray actor",
)
@click.option("--batch-size", type=int, default=32, show_default=True, help="photos per Ray batch")
@click.option(
    "--encoder", default="sface", show_default=True, help="'sface' or the path of an ONNX face encoder"
)
@click.option("--force", is_flag=True, help="replace an existing --out file")
@click.option("--quiet", is_flag=True, help="no progress bar, no summary")
@click.option("--verbose", is_flag=True, help="show Ray's own log lines")
def embed_command(
    images: Path,
    out: Path,
    engine: str,
    address: str | None,
    workers: int | None,
    cpus_per_worker: int,
    batch_size: int,
    encoder: str,
    force: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Detect, align and embed every image of IMAGES/<person>/ into an embeddings file.

    One row per image (failed ones with their error), in folder order; the
    encoder's and detector's names and versions are in the file's metadata.
    """
    check_new_file(out, "embeddings file", force)
    for name, value in (
        ("--workers", workers),
        ("--cpus-per-worker", cpus_per_worker),
        ("--batch-size", batch_size),
    ):
        if value is not None and value < 1:
            raise click.BadParameter(f"must be >= 1, got {value}", param_hint=name)
    if engine == "local" and (address is not None or workers is not None):
        raise click.BadParameter("--address and --workers need --engine ray", param_hint="--engine")
    bars = progress_bars(not quiet)
    summary: EmbedSummary
    if engine == "local":
        enc = None
        if encoder != "sface":
            from ..face.encoders import OnnxEncoder

            enc = OnnxEncoder(encoder)
        summary = embed_folder(images, out, encoder=enc, progress=bars)
    else:
        from ..distributed import embed_folder_ray

        summary = embed_folder_ray(
            images,
            out,
            address=address,
            workers=workers,
            cpus_per_worker=cpus_per_worker,
            batch_size=batch_size,
            encoder=encoder,
            progress=bars,
            verbose=verbose,
        )
    for error in summary.errors:
        warn(f"failed: {error}")
    if not quiet:
        stderr_line(
            f"wrote {summary.path}: {summary.rows} images, {summary.failed} failed, "
            f"{summary.rows / max(summary.seconds, 1e-9):.1f} photos/s ({summary.engine} engine)"
        )
