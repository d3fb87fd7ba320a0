r"""The ``fuzzykey robustness mnist`` experiment: EER and robustness index of DVSP and its baselines on MNIST.

The MNIST part of the comparison of Xie et al. ("A Deep, Information-theoretic
Framework for Robust Biometric Recognition", Table 1), with the ten digits as
ten identities. This module needs torch and is not imported by ``import fuzzykey``.

Data. The 10,000 MNIST *test* digits (``t10k-images-idx3-ubyte[.gz]`` and
``t10k-labels-idx1-ubyte[.gz]``, IDX format, optionally gzipped) are split in
file order: the first 8,000 train every method, the last 2,000 are the test
split on which everything is measured (``--quick``: the first 1,000 train, the
last 500 test). Pixels are scaled to ``[0, 1]``.

Methods (:mod:`fuzzykey.robust.dvsp`): one :class:`~fuzzykey.robust.dvsp.MnistBackbone`
architecture with a head each: ``dvsp`` (:class:`~fuzzykey.robust.dvsp.DVSPHead`, trained
with FGSM samples appended to every batch, ``adversarial=True``), and the
baselines ``dvib``, ``center_loss`` and ``sphereface`` (trained without,
``adversarial=False``). Same epochs, batch size, Adam learning rate and seed
(the same initial backbone weights and batch order) for all.

Measures, per method, on the test split, with :math:`f` = backbone then
``head.features``:

* **EER** from the cosine similarities of all pairs of test features (genuine:
  same digit), :func:`fuzzykey.evaluation.metrics.eer`; the threshold :math:`T` is where
  FMR = FNMR (:func:`fuzzykey.evaluation.metrics.eer_threshold`).
* **Robustness index** :math:`RI` (eq. 17) and matrix :math:`H_{k,l}` (eq. 4) by
  :func:`fuzzykey.robust.robustness.robustness_index`: for ``K`` sampled pairs per ordered
  digit pair ``(k, l)``, the smallest L2 perturbation of a ``k`` image in
  ``[0, 1]^{784}`` found by a feature-space Carlini-Wagner attack that makes
  :math:`\cos(f(\tilde x_1), f(x_2)) \ge T`; :math:`H_{k,l}` is the mean over the
  successful attacks and :math:`RI` the mean of the off-diagonal :math:`H`.
  Attacks that did not reach the threshold within the budget are *failures*,
  reported (``attack_failures`` / ``attempts``), never dropped silently; they
  bias :math:`H` low (a failure means "more than the budget found").

Defaults (:class:`MnistConfig`): 10 epochs, batches of 64, Adam lr 1e-3, a
128-unit backbone and 32-D features; 10 attacks per ordered digit pair (900
per method), 100 Adam steps of lr 0.02 for each of the 5 lambdas of the
attack's binary search. DVSP's R = 1 (:data:`DVSP_RADIUS`), beta = 1e-2
(:data:`DVSP_BETA`) and FGSM step 1.0 (:data:`FGSM_EPS`, L2 per digit, ten
times the paper's 0.1) were chosen as the paper chooses R and beta ("the best
balance between EER and RI"), but on a validation split of the training digits
only (``benchmarks/dvsp_select.py``; the test digits were not read): the
highest validation RI among the points whose EER is within 0.5 points of the
best baseline's. ``--fgsm-eps 0.1 --beta 1e-3`` is the paper's step with the
R and beta chosen for it. The validation grid, the published runs, their
times and machine are in ``benchmarks/results/robustness_mnist.md`` (figures:
``benchmarks/results/robustness_mnist*.json``).

Paper values (Table 1, MNIST, EER % / RI, :data:`PAPER`): DVIB 1.267 / 1.111,
center loss 1.562 / 1.245, SphereFace 2.146 / 1.299, DVSP 0.725 / 2.292. Our
figures are not directly comparable: we train on 8,000 digits for few epochs
on a CPU.

Example:
    >>> import struct
    >>> from fuzzykey.evaluation.robustness_mnist import parse_idx, parse_methods
    >>> parse_idx(struct.pack(">HBBI", 0, 8, 1, 3) + bytes([7, 8, 9])).tolist()
    [7, 8, 9]
    >>> parse_methods("dvsp,sphereface,dvsp")
    ['dvsp', 'sphereface']
"""

from __future__ import annotations

import gzip
import math
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from ..errors import InvalidArgument
from ..robust import dvsp
from ..robust.robustness import robustness_index
from .metrics import cosine_scores, eer_threshold
from .metrics import eer as _eer
from .progress import Advance, Progress, silent

__all__ = [
    "METHODS",
    "PAPER",
    "parse_idx",
    "load_idx",
    "load_mnist",
    "to_tensor",
    "make_head",
    "train_method",
    "FeatureModel",
    "evaluate",
    "plot_heatmaps",
    "format_table",
    "MnistConfig",
    "run_mnist",
    "parse_methods",
    "default_mnist_dir",
    "N_TRAIN",
    "N_TEST",
    "QUICK_TRAIN",
    "QUICK_TEST",
    "DVSP_RADIUS",
    "DVSP_BETA",
    "FGSM_EPS",
]

#: method name -> trained with FGSM samples
METHODS: dict[str, bool] = {"dvsp": True, "dvib": False, "center_loss": False, "sphereface": False}
#: Xie et al. Table 1, MNIST: (EER %, RI)
PAPER: dict[str, tuple[float, float]] = {
    "dvib": (1.267, 1.111),
    "center_loss": (1.562, 1.245),
    "sphereface": (2.146, 1.299),
    "dvsp": (0.725, 2.292),
}
#: digits that train (the first ones of the file) and that test (the last ones)
N_TRAIN, N_TEST = 8000, 2000
#: DVSP's projection radius R and IB factor beta (chosen on validation digits, see the module docstring)
DVSP_RADIUS, DVSP_BETA = 1.0, 1e-2
#: DVSP's FGSM step (per-sample L2 in [0, 1] pixel units), chosen on validation digits;
#: the paper's 0.1 (``--fgsm-eps 0.1``) barely moves a digit
FGSM_EPS = 1.0
#: the same for ``--quick``
QUICK_TRAIN, QUICK_TEST = 1000, 500
_IMAGES = "t10k-images-idx3-ubyte"
_LABELS = "t10k-labels-idx1-ubyte"


# --------------------------------------------------------------------------- data
def parse_idx(data: bytes, what: str = "IDX data") -> NDArray[np.uint8]:
    """The unsigned-byte array in an IDX buffer (magic ``00 00 08 ndim``, big-endian sizes)."""
    if len(data) < 4:
        raise InvalidArgument(f"{what}: too short for an IDX header ({len(data)} bytes)")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08 or not 1 <= ndim <= 4:
        raise InvalidArgument(
            f"{what}: bad IDX magic number 0x{data[:4].hex()} (want 0x000008NN, unsigned bytes, 1-4 dims)"
        )
    head = 4 + 4 * ndim
    if len(data) < head:
        raise InvalidArgument(f"{what}: truncated IDX header ({len(data)} bytes, need {head})")
    shape = struct.unpack(f">{ndim}I", data[4:head])
    size = int(np.prod(shape, dtype=np.int64))
    if len(data) - head != size:
        raise InvalidArgument(
            f"{what}: IDX sizes {list(shape)} need {size} bytes of data, the file has {len(data) - head}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=head).reshape(shape).copy()


def load_idx(path: str | Path) -> NDArray[np.uint8]:
    """Read an IDX file (gzipped or not; unsigned bytes only), validating magic and sizes."""
    p = Path(path)
    if not p.is_file():
        raise InvalidArgument(f"IDX file not found: {str(p)!r}")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise InvalidArgument(f"{str(p)!r}: corrupt gzip data ({e})") from None
    return parse_idx(raw, repr(str(p)))


def _find(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    raise InvalidArgument(f"MNIST file {stem}[.gz] not found in {str(root)!r}")


def load_mnist(root: str | Path) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """The MNIST test set in ``root``: images ``(N, 28, 28)`` uint8 and labels ``(N,)`` in 0..9."""
    d = Path(root)
    if not d.is_dir():
        raise InvalidArgument(f"MNIST data folder not found: {str(d)!r}")
    images = load_idx(_find(d, _IMAGES))
    labels = load_idx(_find(d, _LABELS))
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise InvalidArgument(f"MNIST images must have shape (N, 28, 28), got {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise InvalidArgument(f"MNIST labels must have shape ({images.shape[0]},), got {labels.shape}")
    if labels.size and int(labels.max()) > 9:
        raise InvalidArgument(f"MNIST labels must be digits 0..9, got a {int(labels.max())}")
    return images, labels.astype(np.int64)


def to_tensor(images: NDArray[np.uint8]) -> Tensor:
    """``(N, 28, 28)`` uint8 -> ``(N, 1, 28, 28)`` float32 in ``[0, 1]``."""
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)


# --------------------------------------------------------------------------- models
def make_head(
    name: str,
    hidden: int,
    dim: int,
    n_classes: int = 10,
    *,
    radius: float = DVSP_RADIUS,
    beta: float = DVSP_BETA,
) -> nn.Module:
    """The head of method ``name`` (one of :data:`METHODS`); ``radius`` and ``beta`` are DVSP's."""
    if name == "dvsp":
        return dvsp.DVSPHead(hidden, dim, n_classes, radius=radius, beta=beta)
    if name == "dvib":
        return dvsp.DVIBHead(hidden, dim, n_classes)
    if name == "center_loss":
        return dvsp.CenterLossHead(hidden, dim, n_classes)
    if name == "sphereface":
        return dvsp.SphereFaceHead(hidden, dim, n_classes)
    raise InvalidArgument(f"unknown method {name!r}; choose from {', '.join(METHODS)}")


def train_method(
    name: str,
    x: Tensor,
    y: Tensor,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    hidden: int = 128,
    dim: int = 32,
    eps: float = FGSM_EPS,
    radius: float = DVSP_RADIUS,
    beta: float = DVSP_BETA,
    progress: Callable[[int], None] | None = None,
) -> tuple[nn.Module, nn.Module]:
    """Train backbone + head of ``name`` on ``x`` ``(N, 1, 28, 28)`` in [0, 1], ``y`` ``(N,)``.

    Adam(lr), ``epochs`` passes in a seeded random order; DVSP with FGSM samples
    (``eps`` per-sample L2), the others without. ``torch.manual_seed(seed)`` is set
    first, so every method starts from the same backbone weights and sees the same
    batches. ``progress(epoch)`` is called after each epoch. Returns both in eval mode.
    """
    if name not in METHODS:
        raise InvalidArgument(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    if epochs < 1:
        raise InvalidArgument(f"epochs must be >= 1, got {epochs}")
    torch.manual_seed(seed)
    backbone = dvsp.MnistBackbone(hidden)
    head = make_head(name, hidden, dim, radius=radius, beta=beta)
    opt = torch.optim.Adam([*backbone.parameters(), *head.parameters()], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        for start in range(0, x.shape[0], batch_size):
            idx = order[start : start + batch_size]
            dvsp.train_step(backbone, head, opt, x[idx], y[idx], adversarial=METHODS[name], eps=eps)
        if progress is not None:
            progress(epoch + 1)
    backbone.eval()
    head.eval()
    return backbone, head


class FeatureModel(nn.Module):
    """``head.features(backbone(x))``: the test-time feature of a method."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: Tensor) -> Tensor:
        return cast(Tensor, self.head.features(self.backbone(x)))  # type: ignore[operator]


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def evaluate(
    backbone: nn.Module,
    head: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    pairs_per_class_pair: int,
    seed: int,
    attack_steps: int = 100,
    search_steps: int = 5,
    attack_lr: float = 0.02,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """EER, EER threshold and robustness index of a trained method on ``x`` in [0, 1], ``y``.

    Returns ``{"eer", "threshold", "ri", "attack_failures", "attempts", "H"}``;
    ``eer`` is a fraction, ``H`` a list of rows with ``None`` for NaN (diagonal,
    entries where every attack failed), ``ri`` ``None`` when no attack succeeded.
    """
    model = FeatureModel(backbone, head).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        feats = torch.cat([model(x[i : i + 1000]) for i in range(0, x.shape[0], 1000)])
    labels = y.numpy()
    genuine, impostor = cosine_scores(feats, labels)
    t = eer_threshold(genuine, impostor)
    res = robustness_index(
        model,
        x,
        labels,
        t,
        pairs_per_class_pair=pairs_per_class_pair,
        seed=seed,
        batch_size=batch_size,
        progress=progress,
        steps=attack_steps,
        search_steps=search_steps,
        lr=attack_lr,
    )
    return {
        "eer": _eer(genuine, impostor),
        "threshold": t,
        "ri": _finite_or_none(res.ri),
        "attack_failures": res.attack_failures,
        "attempts": res.attempts,
        "H": [[_finite_or_none(float(v)) for v in row] for row in res.H],
    }


# --------------------------------------------------------------------------- output
def format_table(methods: dict[str, dict[str, Any]]) -> str:
    """The Table-1-like text table: method, EER %, RI, failures/attempts, paper values."""
    lines = [f"{'method':<12} {'EER %':>7} {'RI':>7} {'failures':>12}   {'paper EER %':>11} {'paper RI':>8}"]
    for name, r in methods.items():
        ri = "n/a" if r["ri"] is None else f"{r['ri']:.3f}"
        fails = f"{r['attack_failures']}/{r['attempts']}"
        pe, pr = PAPER[name]
        lines.append(f"{name:<12} {100 * r['eer']:>7.3f} {ri:>7} {fails:>12}   {pe:>11.3f} {pr:>8.3f}")
    return "\n".join(lines)


def plot_heatmaps(methods: dict[str, dict[str, Any]], path: str | Path) -> None:
    """One PNG with a heat-map of ``H_kl`` per method (NaN, e.g. the diagonal, left blank)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(methods)
    n = len(names)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    mats = [np.array([[np.nan if v is None else v for v in row] for row in methods[k]["H"]]) for k in names]
    finite = np.concatenate([m[np.isfinite(m)] for m in mats] + [np.zeros(0)])
    vmax = float(finite.max()) if finite.size else 1.0
    fig = Figure(figsize=(5.0 * cols, 4.4 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    image = None
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_visible(False)
            continue
        r = methods[names[i]]
        m = np.ma.masked_invalid(mats[i])
        image = ax.imshow(m, cmap="viridis", vmin=0.0, vmax=vmax)
        ri = "n/a" if r["ri"] is None else f"{r['ri']:.3f}"
        ax.set_title(
            f"{names[i]}: EER {100 * r['eer']:.2f} %, RI {ri} "
            f"({r['attack_failures']}/{r['attempts']} attacks failed)",
            fontsize=9,
        )
        ax.set_xlabel("target digit l")
        ax.set_ylabel("source digit k")
        ax.set_xticks(range(m.shape[1]))
        ax.set_yticks(range(m.shape[0]))
    if image is not None:
        fig.colorbar(image, ax=axes, label="H_kl (mean L2 of successful attacks)")
    fig.savefig(str(path), format="png", dpi=100)


# --------------------------------------------------------------------------- command
def parse_methods(text: str) -> list[str]:
    """A comma list of method names, checked against :data:`METHODS` (duplicates dropped)."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in METHODS]
    if not names or bad:
        raise InvalidArgument(
            f"--methods: unknown {', '.join(bad) or '(none)'}; choose from {', '.join(METHODS)}"
        )
    return list(dict.fromkeys(names))


def default_mnist_dir() -> Path:
    """``<data>/mnist`` under :func:`fuzzykey.evaluation.datasets.default_data_dir`."""
    from .datasets import default_data_dir

    return default_data_dir() / "mnist"


@dataclass(frozen=True)
class MnistConfig:
    """Settings of :func:`run_mnist` (the defaults are the published run's)."""

    data: Path | None = None
    """Folder with the t10k IDX files (default :func:`default_mnist_dir`)."""
    epochs: int = 10
    pairs_per_class_pair: int = 10
    radius: float = DVSP_RADIUS
    beta: float = DVSP_BETA
    fgsm_eps: float = FGSM_EPS
    attack_steps: int = 100
    search_steps: int = 5
    attack_lr: float = 0.02
    seed: int = 0
    methods: tuple[str, ...] = tuple(METHODS)
    quick: bool = False
    """Tiny run for tests: 1 epoch on 1,000 digits, 1 pair, 20 steps."""


def _counting(advance: Advance) -> Callable[[int, int], None]:
    """:func:`evaluate`'s ``progress(done, total)`` as steps for an :data:`Advance`."""
    reported = [0]

    def report(done: int, total: int) -> None:
        advance(done - reported[0])
        reported[0] = done

    return report


def run_mnist(cfg: MnistConfig, *, progress: Progress = silent) -> dict[str, Any]:
    """Train and attack every method of ``cfg``; returns ``{"methods", "config", "seconds"}``.

    ``methods`` maps each method to :func:`evaluate`'s figures (:func:`format_table`
    prints them, :func:`plot_heatmaps` draws their H matrices).
    """
    names = parse_methods(",".join(cfg.methods))
    epochs, pairs = cfg.epochs, cfg.pairs_per_class_pair
    attack_steps, search_steps = cfg.attack_steps, cfg.search_steps
    root = cfg.data if cfg.data is not None else default_mnist_dir()
    images, labels = load_mnist(root)
    n_train, n_test = (QUICK_TRAIN, QUICK_TEST) if cfg.quick else (N_TRAIN, N_TEST)
    if images.shape[0] < n_train + n_test:
        raise InvalidArgument(
            f"MNIST data: need {n_train + n_test} digits, {str(root)!r} has {images.shape[0]}"
        )
    if cfg.quick:
        epochs, pairs, attack_steps, search_steps = 1, 1, 20, 2
    x, y = to_tensor(images), torch.from_numpy(labels)
    x_tr, y_tr = x[:n_train], y[:n_train]
    x_te, y_te = x[-n_test:], y[-n_test:]
    config: dict[str, Any] = {
        "data": str(root),
        "train": f"first {n_train} of {images.shape[0]} digits",
        "test": f"last {n_test} of {images.shape[0]} digits",
        "epochs": epochs,
        "batch_size": 64,
        "optimizer": "Adam lr 1e-3",
        "backbone": "MnistBackbone(hidden=128)",
        "feature_dim": 32,
        "dvsp": {"radius": cfg.radius, "beta": cfg.beta},
        "fgsm_eps": cfg.fgsm_eps,
        "pairs_per_class_pair": pairs,
        "attack": {
            "steps": attack_steps,
            "search_steps": search_steps,
            "lr": cfg.attack_lr,
            "box": [0.0, 1.0],
        },
        "seed": cfg.seed,
        "quick": cfg.quick,
        "threads": torch.get_num_threads(),
    }
    results: dict[str, dict[str, Any]] = {}
    seconds: dict[str, dict[str, float]] = {}
    for name in names:
        t0 = time.perf_counter()
        with progress(f"training {name}", epochs) as advance:
            backbone, head = train_method(
                name,
                x_tr,
                y_tr,
                epochs=epochs,
                seed=cfg.seed,
                eps=cfg.fgsm_eps,
                radius=cfg.radius,
                beta=cfg.beta,
                progress=lambda e: advance(1),
            )
        t1 = time.perf_counter()
        attempts = 10 * 9 * pairs
        with progress(f"attacking {name}", attempts) as advance:
            results[name] = evaluate(
                backbone,
                head,
                x_te,
                y_te,
                pairs_per_class_pair=pairs,
                seed=cfg.seed,
                attack_steps=attack_steps,
                search_steps=search_steps,
                attack_lr=cfg.attack_lr,
                progress=_counting(advance),
            )
        t2 = time.perf_counter()
        seconds[name] = {"train": round(t1 - t0, 3), "evaluate": round(t2 - t1, 3)}
    return {"methods": results, "config": config, "seconds": seconds}
