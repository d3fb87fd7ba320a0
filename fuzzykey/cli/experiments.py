"""``fuzzykey robustness mnist|lfw``: the DVSP robustness experiments (need torch).

Thin wrappers over :func:`fuzzykey.evaluation.robustness_mnist.run_mnist` and
:func:`fuzzykey.evaluation.robustness_lfw.run_lfw`, whose docstrings say what
is measured. :mod:`fuzzykey.cli.main` imports this module only when one of
these commands runs, so the other commands work without torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..evaluation.datasets import default_data_dir
from ..evaluation.robustness_lfw import HeadConfig, format_lfw_table, run_lfw
from ..evaluation.robustness_mnist import (
    DVSP_BETA,
    DVSP_RADIUS,
    FGSM_EPS,
    METHODS,
    MnistConfig,
    format_table,
    parse_methods,
    plot_heatmaps,
    run_mnist,
)
from .report import progress_bars, stderr_line

__all__ = ["mnist_command", "lfw_command"]


@click.command("mnist")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=None,
    help="folder with t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] [default: <data>/mnist]",
)
@click.option("--epochs", default=10, show_default=True, type=click.IntRange(min=1), help="training epochs")
@click.option(
    "--pairs-per-class-pair",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="attacks per ordered digit pair",
)
@click.option(
    "--radius",
    default=DVSP_RADIUS,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="DVSP projection radius R",
)
@click.option(
    "--beta", default=DVSP_BETA, show_default=True, type=click.FloatRange(min=0), help="DVSP IB factor"
)
@click.option(
    "--fgsm-eps",
    default=FGSM_EPS,
    show_default=True,
    type=click.FloatRange(min=0),
    help="L2 size of DVSP's FGSM samples ([0, 1] pixels)",
)
@click.option("--attack-steps", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--search-steps", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--attack-lr", default=0.02, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--seed", default=0, show_default=True, help="seed of the training and the pair sampling")
@click.option(
    "--methods", default=",".join(METHODS), show_default=True, help="comma list of " + ", ".join(METHODS)
)
@click.option(
    "--json", "json_out", type=click.Path(path_type=Path), default=None, help="write the results as JSON"
)
@click.option("--plot", type=click.Path(path_type=Path), default=None, help="write the H heat-maps as a PNG")
@click.option("--quick", is_flag=True, help="tiny run for tests: 1 epoch on 1,000 digits, 1 pair, 20 steps")
def mnist_command(
    data: Path | None,
    epochs: int,
    pairs_per_class_pair: int,
    radius: float,
    beta: float,
    fgsm_eps: float,
    attack_steps: int,
    search_steps: int,
    attack_lr: float,
    seed: int,
    methods: str,
    json_out: Path | None,
    plot: Path | None,
    quick: bool,
) -> None:
    """EER and robustness index of DVSP and its baselines, MNIST digits as identities.

    The 10,000 test digits are split: first 8,000 train, last 2,000 test.
    """
    cfg = MnistConfig(
        data=data,
        epochs=epochs,
        pairs_per_class_pair=pairs_per_class_pair,
        radius=radius,
        beta=beta,
        fgsm_eps=fgsm_eps,
        attack_steps=attack_steps,
        search_steps=search_steps,
        attack_lr=attack_lr,
        seed=seed,
        methods=tuple(parse_methods(methods)),
        quick=quick,
    )
    doc = run_mnist(cfg, progress=progress_bars())
    click.echo(format_table(doc["methods"]))
    if json_out is not None:
        json_out.write_text(json.dumps(doc, indent=1) + "\n")
    if plot is not None:
        plot_heatmaps(doc["methods"], plot)


@click.command("lfw")
@click.option(
    "--images",
    type=click.Path(path_type=Path),
    default=None,
    help="image folder, one subfolder per person [default: <data>/lfw-dev/images]",
)
@click.option("--epochs", default=HeadConfig.epochs, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--radius", default=HeadConfig.radius, show_default=True, type=click.FloatRange(min=0, min_open=True)
)
@click.option("--beta", default=HeadConfig.beta, show_default=True, type=click.FloatRange(min=0))
@click.option("--fgsm-eps", default=HeadConfig.fgsm_eps, show_default=True, type=click.FloatRange(min=0))
@click.option("--attacks", default=48, show_default=True, type=click.IntRange(min=1), help="attacked pairs")
@click.option("--attack-steps", default=40, show_default=True, type=click.IntRange(min=1))
@click.option("--search-steps", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--attack-lr", default=0.004, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option(
    "--initial-lambda", default=2.0, show_default=True, type=click.FloatRange(min=0, min_open=True)
)
@click.option("--impostors", default=200_000, show_default=True, type=click.IntRange(min=1))
@click.option("--keygen-impostors", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--json", "json_out", type=click.Path(path_type=Path), default=None, help="write the results as JSON"
)
@click.option(
    "--quick", is_flag=True, help="tiny run for tests: 2 epochs, 2 attacks of 3 steps, 1 search step"
)
def lfw_command(
    images: Path | None,
    epochs: int,
    radius: float,
    beta: float,
    fgsm_eps: float,
    attacks: int,
    attack_steps: int,
    search_steps: int,
    attack_lr: float,
    initial_lambda: float,
    impostors: int,
    keygen_impostors: int,
    seed: int,
    json_out: Path | None,
    quick: bool,
) -> None:
    """DVSP head on frozen SFace embeddings: EER, image-space robustness index, key FRR/FAR.

    Trains on half A of the people (fuzzykey.evaluation.datasets.lfw_half), measures on half B.
    """
    if quick:
        epochs, attacks, attack_steps, search_steps = 2, 2, 3, 1
    config = HeadConfig(epochs=epochs, radius=radius, beta=beta, fgsm_eps=fgsm_eps)
    attack_kwargs = {
        "steps": attack_steps,
        "search_steps": search_steps,
        "lr": attack_lr,
        "initial_lambda": initial_lambda,
    }
    doc = run_lfw(
        images if images is not None else default_data_dir() / "lfw-dev" / "images",
        config,
        attacks=attacks,
        attack_kwargs=attack_kwargs,
        impostors=impostors,
        keygen_impostors=keygen_impostors,
        seed=seed,
        progress=progress_bars(),
        log=stderr_line,
    )
    doc["config"]["quick"] = quick
    click.echo(format_lfw_table(doc))
    if json_out is not None:
        json_out.write_text(json.dumps(doc, indent=1) + "\n")
