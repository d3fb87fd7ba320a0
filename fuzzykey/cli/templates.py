"""``fuzzykey protect`` and ``fuzzykey templates train|eval``: cancelable face templates (need torch).

Thin wrappers over :mod:`fuzzykey.evaluation.templates_eval`, whose docstring says what
is measured and how. This module imports torch only when a command runs (the library
is loaded then), so ``fuzzykey --help`` and the other commands work without it; the
training options' defaults are :class:`fuzzykey.templates.TrainConfig`'s (a test
checks they agree).
"""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from ..evaluation.datasets import default_data_dir, read_lfw_pairs
from .errors import EXIT_MODEL, FuzzyKeyGroup, fail
from .files import check_images, check_new_file, public_file_mode, write_atomic
from .report import progress_bars, stderr_line

__all__ = ["protect_command", "templates_group", "TRAIN_DEFAULTS"]

TRAIN_DEFAULTS: dict[str, Any] = {
    "width": 8,
    "depth": 3,
    "epochs": 5,
    "batch_size": 16,
    "learning_rate": 2e-3,
    "margin": 0.3,
    "embedding_weight": 10.0,
    "distortion_weight": 3.0,
    "edge_weight": 1.0,
    "ssim_weight": 1.0,
    "seed": 0,
}
"""The defaults of ``fuzzykey templates train``: those of :class:`~fuzzykey.templates.TrainConfig`."""


def _library() -> ModuleType:
    """:mod:`fuzzykey.evaluation.templates_eval`, or exit 5 when torch is missing."""
    try:
        from ..evaluation import templates_eval
    except ImportError as exc:
        raise fail(f"fuzzykey templates needs torch ({exc}): pip install 'fuzzykey[torch]'",
                   EXIT_MODEL) from None
    return templates_eval


def _threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _encoder(threads: int | None) -> Any:
    from ..face.encoders import SFaceEncoder

    return SFaceEncoder(threads=threads)


def _detector() -> Any:
    from ..face.detect import YuNetDetector

    return YuNetDetector()


def _command_line() -> str:
    """The running command as a canonical command line: its path and every option given
    or defaulted (flags when set), in declaration order; reproduces the run."""
    ctx = click.get_current_context()
    parts = ["fuzzykey", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if isinstance(param, click.Argument):
            parts += [str(v) for v in (value if isinstance(value, tuple) else (value,))]
        elif isinstance(param, click.Option) and value is not None and value is not False:
            flag = max(param.opts, key=len)
            parts += [flag] if param.is_flag else [flag, str(value)]
    return shlex.join(parts)


def _png(image: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, format="PNG")
    return buf.getvalue()


THREADS = click.option("--threads", type=click.IntRange(min=1), default=None,
                       help="torch and onnxruntime threads [default: all cores]")
WEIGHTS = click.option("--weights", type=click.Path(path_type=Path), default=None,
                       help="generator weight file of 'fuzzykey templates train' [default: the packaged one]")


# --------------------------------------------------------------------------- protect
@click.command("protect")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="folder for the templates, <image stem>.png each (created if missing)")
@WEIGHTS
@click.option("--aligned", is_flag=True, help="the images are aligned 112x112 crops: skip detection")
@click.option("--force", is_flag=True, help="replace existing output files")
@THREADS
def protect_command(images: tuple[Path, ...], out_dir: Path, weights: Path | None, aligned: bool, force: bool,
                    threads: int | None) -> None:
    """Write the protected template of the face in each IMAGE.

    Each photo's largest face is detected and aligned (YuNet, 112x112), then
    turned into a distorted image that SFace still matches (the template
    generator); the result goes to OUT/<image stem>.png. Nothing is written
    unless every image has a face (exit 3 otherwise).
    """
    lib = _library()
    _threads(threads)
    check_images(list(images))
    targets = [out_dir / f"{image.stem}.png" for image in images]
    seen: dict[Path, Path] = {}
    for image, target in zip(images, targets, strict=True):
        if target in seen:
            raise fail(f"{str(seen[target])!r} and {str(image)!r} would both be written to {str(target)!r}")
        seen[target] = image
    if out_dir.exists() and not out_dir.is_dir():
        raise fail(f"--out {str(out_dir)!r} is not a folder")
    if out_dir.is_dir():
        for target in targets:
            check_new_file(target, "output file", force)
    generator, _, _ = lib.load_weights(weights)
    if aligned:
        from ..face.images import load_image

        photos: list[Any] = [load_image(image) for image in images]
        out = lib.protect_photos(photos, generator, aligned=True)
    else:
        out = lib.protect_photos([str(image) for image in images], generator, detector=_detector())
    out_dir.mkdir(parents=True, exist_ok=True)
    for target, template in zip(targets, out, strict=True):
        write_atomic(target, _png(template), public_file_mode(), replace=force)
        click.echo(str(target))


# --------------------------------------------------------------------------- templates
@click.group("templates", cls=FuzzyKeyGroup)
def templates_group() -> None:
    """Train and measure the template generator (cancelable face templates; needs torch)."""


IMAGES = click.option("--images", "--data", "images", type=click.Path(path_type=Path), default=None,
                      help="image folder, one subfolder per person [default: <data>/lfw-dev/images]")


@templates_group.command("train")
@IMAGES
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="the weight file to write (.npz)")
@click.option("--force", is_flag=True, help="replace an existing weight file")
@click.option("--width", default=TRAIN_DEFAULTS["width"], show_default=True, type=click.IntRange(1, 256),
              help="U-Net base width")
@click.option("--depth", default=TRAIN_DEFAULTS["depth"], show_default=True, type=click.IntRange(1, 5),
              help="U-Net levels")
@click.option("--epochs", default=TRAIN_DEFAULTS["epochs"], show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=TRAIN_DEFAULTS["batch_size"], show_default=True,
              type=click.IntRange(1, 4096))
@click.option("--lr", "learning_rate", default=TRAIN_DEFAULTS["learning_rate"], show_default=True,
              type=click.FloatRange(0, 1, min_open=True), help="Adam step size")
@click.option("--margin", default=TRAIN_DEFAULTS["margin"], show_default=True, type=click.FloatRange(0, 2),
              help="cosine distance to the photo's embedding allowed for free")
@click.option("--embedding-weight", default=TRAIN_DEFAULTS["embedding_weight"], show_default=True,
              type=click.FloatRange(0, min_open=True), help="weight of the cosine hinge")
@click.option("--distortion-weight", default=TRAIN_DEFAULTS["distortion_weight"], show_default=True,
              type=click.FloatRange(min=0), help="weight of the distortion reward")
@click.option("--edge-weight", default=TRAIN_DEFAULTS["edge_weight"], show_default=True,
              type=click.FloatRange(0, 1), help="share of the Sobel edge mask in the reward's pixel weights")
@click.option("--ssim-weight", default=TRAIN_DEFAULTS["ssim_weight"], show_default=True,
              type=click.FloatRange(min=0), help="weight of the structural reward 1 - SSIM(G(x), x)")
@click.option("--seed", default=TRAIN_DEFAULTS["seed"], show_default=True, type=click.IntRange(0, 2**63 - 1))
@click.option("--max-photos", type=click.IntRange(min=1), default=None,
              help="training photos at most [default: all]")
@click.option("--max-validation-photos", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--max-per-person", type=click.IntRange(min=1), default=None,
              help="photos per person at most [default: all]")
@THREADS
def train_command(images: Path | None, out: Path, force: bool, width: int, depth: int, epochs: int,
                  batch_size: int, learning_rate: float, margin: float, embedding_weight: float,
                  distortion_weight: float, edge_weight: float, ssim_weight: float, seed: int,
                  max_photos: int | None,
                  max_validation_photos: int, max_per_person: int | None, threads: int | None) -> None:
    """Train the template generator on half A of a face set and write its weights.

    People of half A (fuzzykey.evaluation.datasets.lfw_half) train, except about
    10 % of them chosen by a second byte of SHA-256(name), who validate after
    every epoch; half B is left for 'fuzzykey templates eval'. The weight file
    records the data, counts, hyper-parameters, per-epoch history and this
    command line.
    """
    check_new_file(out, "weight file", force)
    lib = _library()
    _threads(threads)
    from ..templates import TrainConfig

    config = TrainConfig(width=width, depth=depth, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, margin=margin, embedding_weight=embedding_weight,
                         distortion_weight=distortion_weight, edge_weight=edge_weight,
                         ssim_weight=ssim_weight, seed=seed)
    sface = _encoder(threads)
    result, provenance = lib.train_templates(
        images if images is not None else default_data_dir() / "lfw-dev" / "images",
        config, sface.torch_module(), _detector(), encoder_name=sface.name, max_photos=max_photos,
        max_validation_photos=max_validation_photos,
        max_per_person=max_per_person, command=_command_line(),
        progress=progress_bars(), log=stderr_line)
    from ..templates import save_generator

    save_generator(out, result.generator, provenance)
    last = result.history[-1]
    click.echo(f"wrote {out}: {provenance['data']['train_photos']} training photos, {config.epochs} epochs, "
               f"cosine {last.cosine:.3f}, L1 {last.l1:.3f}, SSIM {last.ssim:.3f}, "
               f"{provenance['seconds']:.0f} s")


@templates_group.command("eval")
@IMAGES
@click.option("--pairs", type=click.Path(path_type=Path), default=None,
              help="LFW pairs file: use its pairs of two half-B people [default: all same-person pairs "
                   "and sampled impostors]")
@WEIGHTS
@click.option("--skip-inversion", is_flag=True, help="do not train and judge the inversion attack")
@click.option("--second-weights", type=click.Path(path_type=Path), default=None,
              help="a second generator (another database's, or after a revocation): measure how "
                   "its templates link to the first's")
@click.option("--json", "json_out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="write the results as JSON")
@click.option("--plot", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="write examples (originals, templates, reconstructions) and DET curves as a PNG")
@click.option("--max-photos", type=click.IntRange(min=1), default=None,
              help="test photos at most [default: all]")
@click.option("--max-per-person", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--impostors", type=click.IntRange(min=1), default=200_000, show_default=True,
              help="impostor pairs to sample when there are more")
@click.option("--inversion-width", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--inversion-depth", type=click.IntRange(1, 5), default=4, show_default=True)
@click.option("--inversion-epochs", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--inversion-lr", type=click.FloatRange(0, 1, min_open=True), default=1e-3, show_default=True)
@click.option("--inversion-max-photos", type=click.IntRange(min=1), default=2000, show_default=True,
              help="half-A photos the attacker trains on")
@click.option("--examples", type=click.IntRange(0, 64), default=6, show_default=True,
              help="faces shown in the plot")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**63 - 1))
@click.option("--force", is_flag=True, help="replace existing output files")
@THREADS
def eval_command(images: Path | None, pairs: Path | None, weights: Path | None, skip_inversion: bool,
                 second_weights: Path | None,
                 json_out: Path | None, plot: Path | None, max_photos: int | None, max_per_person: int,
                 impostors: int, inversion_width: int, inversion_depth: int, inversion_epochs: int,
                 inversion_lr: float, inversion_max_photos: int, examples: int, seed: int, force: bool,
                 threads: int | None) -> None:
    """Measure a template generator on half B: identifiable, unrecognisable, irreversible, unlinkable.

    SFace EER and FNMR at FMR 0.1 % of template vs photo and template vs
    template against plain SFace on the same pairs; SSIM, PSNR and YuNet's
    detection rate of templates; an inversion network trained on half A and
    judged on half B; D<->sys of templates; templates per second. With
    --second-weights, the same for templates of two generators (two databases,
    or before and after a revocation).
    """
    check_new_file(json_out, "JSON file", force)
    check_new_file(plot, "plot", force)
    lib = _library()
    _threads(threads)
    generator, meta, where = lib.load_weights(weights)
    second = None if second_weights is None else lib.load_weights(second_weights)
    inversion = None if skip_inversion else lib.InversionConfig(
        width=inversion_width, depth=inversion_depth, epochs=inversion_epochs, learning_rate=inversion_lr,
        max_photos=inversion_max_photos, seed=seed)
    config = lib.EvalConfig(max_photos=max_photos, max_per_person=max_per_person, impostors=impostors,
                            inversion=inversion, examples=examples, seed=seed)
    doc, figures = lib.evaluate_templates(
        images if images is not None else default_data_dir() / "lfw-dev" / "images",
        generator, _encoder(threads), _detector(), config,
        pairs=None if pairs is None else read_lfw_pairs(pairs),
        second_generator=None if second is None else second[0], progress=progress_bars(), log=stderr_line)
    doc["generator"].update({"weights": str(where), "sha256": meta.get("sha256"),
                             "provenance": meta.get("provenance")})
    if second is not None:
        doc["cross_generator"]["generator"].update({"weights": str(second[2]),
                                                    "sha256": second[1].get("sha256"),
                                                    "provenance": second[1].get("provenance")})
    doc["data"]["pairs_file"] = None if pairs is None else str(pairs)
    doc["command"] = _command_line()
    click.echo(lib.format_eval_table(doc))
    if json_out is not None:
        write_atomic(json_out, (json.dumps(doc, indent=1) + "\n").encode("utf-8"), public_file_mode(),
                     replace=force)
    if plot is not None:
        lib.plot_templates(figures, plot, title=f"template generator {where.name}")
