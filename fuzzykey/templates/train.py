"""Training the template generator against a frozen face encoder.

:func:`train_generator` fits a :class:`~fuzzykey.templates.unet.UNetGenerator` G on
aligned uint8 crops so that the encoder still matches G(X) with X while the image
changes (:class:`~fuzzykey.templates.losses.TemplateLoss`). The encoder is any
``torch.nn.Module`` taking ``(N, 3, H, W)`` float RGB 0..255 and returning ``(N, D)``
embeddings; for SFace pass :meth:`SFaceEncoder.torch_module
<fuzzykey.face.encoders.SFaceEncoder.torch_module>`. It is put in ``eval()`` mode and its
parameters are frozen for the run (their ``requires_grad`` flags and the module's mode
are restored afterwards): gradients go through it to G, never into it.

One run, given the crops and a :class:`TrainConfig`:

1. a ``torch.Generator`` seeded with ``config.seed`` draws G's initial weights and every
   epoch's shuffle, so a run on one thread is repeatable bit for bit;
2. the originals' embeddings :math:`e_n = F(X_n)` are computed once, without gradients;
3. each epoch visits the crops in a fresh random order in batches of ``batch_size`` (the
   last one may be smaller), and takes one Adam step per batch on
   :math:`\\lambda_{emb} L_{emb} - \\lambda_{dist} R - \\lambda_{ssim}(1 - SSIM)`;
4. after each epoch, the optional validation crops (other people, for choosing the
   hyper-parameters) are measured without gradients.

The history's training figures are means over the epoch's batches as they were
computed, before each step (weighted by batch size).

Example:
    >>> import numpy as np, torch
    >>> from fuzzykey.templates.train import TrainConfig, train_generator
    >>> _ = torch.manual_seed(0)
    >>> encoder = torch.nn.Sequential(torch.nn.AvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 8))
    >>> crops = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    >>> config = TrainConfig(width=4, depth=2, epochs=3, batch_size=4, learning_rate=0.01, seed=1)
    >>> result = train_generator(crops, encoder, config, validation=crops[:2])
    >>> [s.epoch for s in result.history], result.history[0].cosine > 0.99  # G starts near the identity
    ([1, 2, 3], True)
    >>> result.history[-1].distortion > result.history[0].distortion
    True
    >>> sorted(result.history[-1].to_dict())  # doctest: +NORMALIZE_WHITESPACE
    ['cosine', 'distortion', 'embedding', 'epoch', 'l1', 'loss', 'min_cosine', 'seconds', 'ssim',
     'val_cosine', 'val_distortion', 'val_ssim']
    >>> TrainConfig(margin=2.5)
    Traceback (most recent call last):
    ...
    fuzzykey.errors.InvalidArgument: margin must be a number in [0, 2], got 2.5
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from ..errors import InvalidArgument
from .losses import SSIM_WINDOW, TemplateLoss, cosine_rows, distortion_reward, ssim_rows
from .unet import UNetGenerator, check_crops, crops_to_tensor

__all__ = ["TrainConfig", "EpochStats", "TrainResult", "train_generator"]


def _int_in(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{name} must be an int in [{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (validated on construction).

    The defaults are those of the shipped generator (``fuzzykey/data/templates_unet_v1.npz``),
    chosen for SFace on LFW-dev by short runs (600 training crops, 3 epochs) judged on the
    validation people of half A (README, "Cancelable face templates"); for another encoder
    or data set choose them the same way.
    """

    width: int = 8
    """Base width of the U-Net (1..256)."""
    depth: int = 3
    """U-Net levels (1..6); crops' sides must be multiples of 2**(depth - 1)."""
    epochs: int = 5
    """Passes over the training crops (1..10000)."""
    batch_size: int = 16
    """Crops per Adam step (1..4096)."""
    learning_rate: float = 2e-3
    """Adam's step size (0 < lr <= 1)."""
    margin: float = 0.3
    """Cosine distance to the original embedding allowed for free, in [0, 2]."""
    embedding_weight: float = 10.0
    """lambda_emb > 0 of the cosine hinge."""
    distortion_weight: float = 3.0
    """lambda_dist >= 0 of the distortion reward."""
    edge_weight: float = 1.0
    """alpha in [0, 1]: share of the Sobel edge mask in the reward's pixel weights."""
    ssim_weight: float = 1.0
    """lambda_ssim >= 0 of the structural reward 1 - SSIM (crops need sides >= 11 when > 0)."""
    seed: int = 0
    """Seeds G's initial weights and the shuffles (0 .. 2**63 - 1)."""

    def __post_init__(self) -> None:
        _int_in("width", self.width, 1, 256)
        _int_in("depth", self.depth, 1, 6)
        _int_in("epochs", self.epochs, 1, 10_000)
        _int_in("batch_size", self.batch_size, 1, 4096)
        _int_in("seed", self.seed, 0, 2**63 - 1)
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0.0 < float(lr) <= 1.0:
            raise InvalidArgument(f"learning_rate must be a number in (0, 1], got {lr!r}")
        self.loss()  # checks margin, the weights and edge_weight

    def loss(self) -> TemplateLoss:
        """The :class:`~fuzzykey.templates.losses.TemplateLoss` these settings define."""
        return TemplateLoss(margin=self.margin, embedding_weight=self.embedding_weight,
                            distortion_weight=self.distortion_weight, edge_weight=self.edge_weight,
                            ssim_weight=self.ssim_weight)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-able dict (for a weight file's provenance)."""
        return asdict(self)


@dataclass(frozen=True)
class EpochStats:
    """What one epoch did; training figures are batch-size-weighted means over the epoch."""

    epoch: int
    """1-based epoch number."""
    loss: float
    """The total loss."""
    embedding: float
    """The cosine hinge L_emb."""
    distortion: float
    """The reward R (edge-weighted)."""
    l1: float
    """Plain mean absolute change |G(X) - X| / 255 (R with edge_weight 0)."""
    cosine: float
    """Mean cosine between F(G(X)) and F(X)."""
    min_cosine: float
    """Lowest such cosine of any crop in the epoch."""
    ssim: float
    """Mean SSIM of G(X) to X (NaN for crops under 11 pixels)."""
    seconds: float
    """Wall time of the epoch, validation included."""
    val_cosine: float | None = None
    """Mean cosine on the validation crops after the epoch (``None``: no validation set)."""
    val_distortion: float | None = None
    """Plain mean absolute change on the validation crops after the epoch."""
    val_ssim: float | None = None
    """Mean SSIM of G(X) to X on the validation crops after the epoch."""

    def to_dict(self) -> dict[str, Any]:
        """The figures as a JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True)
class TrainResult:
    """A trained generator and how it got there."""

    generator: UNetGenerator
    config: TrainConfig
    history: list[EpochStats] = field(default_factory=list)


def _embed_all(encoder: nn.Module, faces: NDArray[np.uint8], batch_size: int) -> Tensor:
    parts = []
    with torch.no_grad():
        for start in range(0, faces.shape[0], batch_size):
            parts.append(_encode(encoder, crops_to_tensor(faces[start:start + batch_size])))
    return torch.cat(parts)


def _encode(encoder: nn.Module, x: Tensor) -> Tensor:
    out = encoder(x)
    if (not isinstance(out, Tensor) or out.ndim != 2 or out.shape[0] != x.shape[0]
            or not out.is_floating_point()):
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise InvalidArgument(f"the encoder must return (N, D) float embeddings for N = {x.shape[0]} crops, "
                              f"got {got}")
    return out


def _ssim_sum(x: Tensor, gx: Tensor) -> float:
    return float(ssim_rows(x, gx).sum()) if min(x.shape[2:]) >= SSIM_WINDOW else math.nan


def _validate(generator: UNetGenerator, encoder: nn.Module, faces: NDArray[np.uint8], targets: Tensor,
              batch_size: int) -> tuple[float, float, float]:
    cos_sum = dist_sum = ssim_sum = 0.0
    with torch.no_grad():
        for start in range(0, faces.shape[0], batch_size):
            x = crops_to_tensor(faces[start:start + batch_size])
            gx = generator(x)
            cos_sum += float(cosine_rows(targets[start:start + len(x)], _encode(encoder, gx)).sum())
            dist_sum += float(distortion_reward(x, gx, 0.0)) * len(x)
            ssim_sum += _ssim_sum(x, gx)
    n = faces.shape[0]
    return cos_sum / n, dist_sum / n, ssim_sum / n


def train_generator(crops: Any, encoder: nn.Module, config: TrainConfig | None = None, *,
                    validation: Any = None, generator: UNetGenerator | None = None,
                    on_epoch: Callable[[EpochStats], None] | None = None) -> TrainResult:
    """Train G on ``crops`` against the frozen ``encoder`` (see the module docstring).

    Args:
        crops: ``(N, H, W, 3)`` uint8 RGB aligned crops (array or CPU tensor).
        encoder: ``(N, 3, H, W)`` float 0..255 to ``(N, D)`` embeddings; frozen for the run.
        config: the hyper-parameters (default :class:`TrainConfig()`).
        validation: optional crops of other people, measured after every epoch.
        generator: continue training this one instead of a fresh seeded G; its
            architecture must be ``config``'s width and depth.
        on_epoch: called with each epoch's :class:`EpochStats` (progress, early logging).

    Returns:
        The trained generator (in train mode; it has no mode-dependent layers), the
        config and one :class:`EpochStats` per epoch.
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise InvalidArgument(f"config must be a TrainConfig, got {type(config).__name__}")
    if not isinstance(encoder, nn.Module):
        raise InvalidArgument(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}")
    multiple = 2 ** (config.depth - 1)
    faces = check_crops(crops, multiple)
    val = None if validation is None else check_crops(validation, multiple)
    if config.ssim_weight > 0 and min(faces.shape[1:3]) < SSIM_WINDOW:
        raise InvalidArgument(f"ssim_weight > 0 needs crops of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels "
                              f"(SSIM's window), "
                              f"got shape {faces.shape}; set ssim_weight=0 for smaller crops")
    if val is not None and val.shape[1:] != faces.shape[1:]:
        raise InvalidArgument(f"validation crops must have the training crops' size {faces.shape[1:]}, "
                              f"got shape {val.shape}")
    rng = torch.Generator().manual_seed(config.seed)
    if generator is None:
        generator = UNetGenerator(config.width, config.depth, generator=rng)
    elif not isinstance(generator, UNetGenerator) or generator.config() != {"width": config.width,
                                                                             "depth": config.depth}:
        got = generator.config() if isinstance(generator, UNetGenerator) else type(generator).__name__
        raise InvalidArgument(f"generator must be a UNetGenerator of width {config.width} and depth "
                              f"{config.depth}, got {got}")
    loss_fn = config.loss()
    flags = [(p, p.requires_grad) for p in encoder.parameters()]
    was_training = encoder.training
    history: list[EpochStats] = []
    try:
        encoder.eval()
        for p, _ in flags:
            p.requires_grad_(False)
        targets = _embed_all(encoder, faces, config.batch_size)
        val_targets = None if val is None else _embed_all(encoder, val, config.batch_size)
        generator.train()
        optimizer = torch.optim.Adam(generator.parameters(), lr=config.learning_rate)
        n = faces.shape[0]
        for epoch in range(1, config.epochs + 1):
            start_time = time.perf_counter()
            sums = dict.fromkeys(("loss", "embedding", "distortion", "l1", "cosine", "ssim"), 0.0)
            min_cos = math.inf
            order = torch.randperm(n, generator=rng)
            for start in range(0, n, config.batch_size):
                idx = order[start:start + config.batch_size]
                x = crops_to_tensor(faces[idx.numpy()])
                gx = cast(Tensor, generator(x))
                e_gx = _encode(encoder, gx)
                terms = loss_fn(x, gx, targets[idx], e_gx)
                optimizer.zero_grad(set_to_none=True)
                terms.total.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                with torch.no_grad():
                    cos = cosine_rows(targets[idx], e_gx.detach())
                    k = float(len(idx))
                    sums["loss"] += float(terms.total.detach()) * k
                    sums["embedding"] += float(terms.embedding.detach()) * k
                    sums["distortion"] += float(terms.distortion.detach()) * k
                    sums["l1"] += float(distortion_reward(x, gx.detach(), 0.0)) * k
                    sums["cosine"] += float(cos.sum())
                    sums["ssim"] += float(terms.ssim) * k
                    min_cos = min(min_cos, float(cos.min()))
            val_cos = val_dist = val_ssim = None
            if val is not None and val_targets is not None:
                val_cos, val_dist, val_ssim = _validate(generator, encoder, val, val_targets,
                                                        config.batch_size)
            stats = EpochStats(epoch=epoch, loss=sums["loss"] / n, embedding=sums["embedding"] / n,
                               distortion=sums["distortion"] / n, l1=sums["l1"] / n,
                               cosine=sums["cosine"] / n, min_cosine=min_cos, ssim=sums["ssim"] / n,
                               seconds=time.perf_counter() - start_time,
                               val_cosine=val_cos, val_distortion=val_dist, val_ssim=val_ssim)
            history.append(stats)
            if on_epoch is not None:
                on_epoch(stats)
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        encoder.train(was_training)
    return TrainResult(generator=generator, config=config, history=history)
