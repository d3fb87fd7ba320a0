r"""The template loss: keep the embedding, change the image.

For a batch of crops :math:`X_n` (float RGB 0..255, ``(N, C, H, W)``), their
templates :math:`G(X_n)`, and the frozen encoder's embeddings
:math:`e_n = F(X_n)`, :math:`g_n = F(G(X_n))`:

* **Sobel edges** (:func:`sobel_edges`). The grey image
  :math:`Y = \frac1C\sum_c X_c` is convolved (replicate padding, i.e. edge pixels
  repeated; scipy's ``mode="nearest"``) with

  .. math:: K_x = \begin{pmatrix}-1&0&1\\-2&0&2\\-1&0&1\end{pmatrix},\qquad K_y = K_x^T,

  giving :math:`S = \sqrt{(K_x * Y)^2 + (K_y * Y)^2}` of shape ``(N, 1, H, W)``, on the
  input's scale (a 0/255 step edge gives 1020).
* **Distortion reward** (:func:`distortion_reward`), the part of the loss that pays
  for change. The edge mask of the *original* crop, normalised to mean 1 per image,

  .. math:: w_{n,ij} = (1-\alpha) + \alpha\,\frac{S_{n,ij}}{\bar S_n + 10^{-6}},
            \qquad \bar S_n = \frac{1}{HW}\sum_{ij} S_{n,ij},

  weights the absolute change of every pixel and channel:

  .. math:: R = \frac{1}{NCHW}\sum_{n,c,i,j} w_{n,ij}\,\frac{|G(X)_{n,c,ij} - X_{n,c,ij}|}{255}.

  :math:`\alpha\in[0,1]` is ``edge_weight``: 0 gives the plain mean absolute change
  on a 0..1 scale (so :math:`R\in[0,1]`); larger values pay more for changing the
  edges (eyes, nose, mouth, face outline), which carry what people recognise. The
  mask is a constant (no gradient flows through it).
* **Embedding margin** (:func:`embedding_margin_loss`), a hinge on the cosine:

  .. math:: L_{emb} = \frac1N\sum_n \max\!\bigl(0,\ (1 - \cos(e_n, g_n)) - m\bigr),
            \qquad \cos(a, b) = \frac{a\cdot b}{\max(\lVert a\rVert\,\lVert b\rVert,\ 10^{-12})},

  zero while the template's embedding is within cosine distance m (``margin``) of
  the original's, linear beyond.
* **Structural change** (:func:`ssim_rows`): the mean SSIM of each template to its
  original (Wang, Bovik, Sheikh and Simoncelli, IEEE TIP 13(4), 2004), with a Gaussian
  window :math:`w` (11 taps, :math:`\sigma = 1.5`, normalised, only windows inside the
  image), local means, variances and covariance per channel,

  .. math:: \mathrm{SSIM} = \operatorname{mean}_{c,ij}
            \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
                 {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},
            \qquad C_1 = (0.01\cdot 255)^2,\ C_2 = (0.03\cdot 255)^2,

  the definition :func:`fuzzykey.evaluation.templates_eval.ssim` reports (scikit-image's
  ``structural_similarity`` with ``gaussian_weights=True``), here differentiable. L1
  pays the same for a colour shift as for a change of shape; SSIM's structure factor
  (the local correlation :math:`\sigma_{xy}/\sigma_x\sigma_y`) is what a recolouring
  keeps, so a reward on :math:`1 - \mathrm{SSIM}` also pays for changing the local
  pattern. It is a proxy, not a measure of whether people know the face: a fine texture
  laid over a still plainly visible face drives SSIM to 0 too (README, "Cancelable
  face templates").
* **Total** (:class:`TemplateLoss`):
  :math:`L = \lambda_{emb}\,L_{emb} - \lambda_{dist}\,R - \lambda_{ssim}\,(1 - \overline{\mathrm{SSIM}})`,
  minimised over G. It is bounded below since R is
  (:math:`w \le (1-\alpha) + \alpha HW`) and SSIM is at least −1.

The papers (Zakharov, Kuznetsov and Frontoni, arXiv 2401.15048; Zakharov et al.,
arXiv 2402.02540) describe a triplet-loss-inspired trade-off between an image
distance :math:`d_{img}` (pixel, SSIM and Sobel-edge distances combined) and an
embedding distance :math:`d_{emb}`; the project's summary of them gives no formula,
so this module implements the issue's version above: a cosine hinge (the matcher
compares cosines) against an edge-weighted L1 reward.

Example:
    >>> import torch
    >>> from fuzzykey.templates.losses import TemplateLoss
    >>> x = torch.zeros(1, 3, 8, 8)
    >>> x[..., 4:] = 255.0                    # a vertical step edge
    >>> gx = 255.0 - x                        # every pixel changed by 255
    >>> e = torch.tensor([[1.0, 0.0]])
    >>> terms = TemplateLoss(margin=0.2, edge_weight=0.0)(x, gx, e, torch.tensor([[0.6, 0.8]]))
    >>> round(terms.distortion.item(), 4), round(terms.embedding.item(), 4), round(terms.cosine.item(), 4)
    (1.0, 0.2, 0.6)
    >>> round(terms.total.item(), 4)          # 10 * 0.2 - 1 * 1.0
    1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InvalidArgument

__all__ = [
    "sobel_edges",
    "cosine_rows",
    "distortion_reward",
    "embedding_margin_loss",
    "ssim_rows",
    "SSIM_WINDOW",
    "TemplateLoss",
    "LossTerms",
]

_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
_MASK_EPS = 1e-6
_COS_EPS = 1e-12
SSIM_WINDOW = 11
"""Side of SSIM's Gaussian window: images must be at least this many pixels on each side."""
_SSIM_SIGMA = 1.5


def _check_images(name: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise InvalidArgument(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or min(x.shape) < 1:
        raise InvalidArgument(f"{name} must be (N, C, H, W) images, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InvalidArgument(f"{name} must be a float tensor, got dtype {x.dtype}")
    return x


def _check_fraction(name: str, value: Any, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= high:
        raise InvalidArgument(f"{name} must be a number in [0, {high:g}], got {value!r}")
    return float(value)


def sobel_edges(x: Tensor) -> Tensor:
    """Sobel gradient magnitude of the channel-mean grey image: ``(N, C, H, W)`` to
    ``(N, 1, H, W)`` (formula in the module docstring; replicate padding).

    Differentiable, with a zero (not NaN) gradient where the magnitude is 0.

    Example:
        >>> import torch
        >>> from fuzzykey.templates.losses import sobel_edges
        >>> x = torch.zeros(1, 3, 4, 4)
        >>> x[..., 2:] = 1.0
        >>> sobel_edges(x)[0, 0]
        tensor([[0., 4., 4., 0.],
                [0., 4., 4., 0.],
                [0., 4., 4., 0.],
                [0., 4., 4., 0.]])
    """
    x = _check_images("x", x)
    grey = x.mean(dim=1, keepdim=True)
    kx = torch.tensor(_SOBEL_X, dtype=x.dtype, device=x.device)
    kernel = torch.stack([kx, kx.T])[:, None]  # (2, 1, 3, 3)
    grads = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), kernel)
    sq = grads.pow(2).sum(dim=1, keepdim=True)
    positive = sq > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, sq, torch.ones_like(sq))),
                       torch.zeros_like(sq))


def cosine_rows(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise cosine ``a_n . b_n / max(|a_n| |b_n|, 1e-12)`` of two ``(N, D)`` tensors.

    Example:
        >>> import torch
        >>> from fuzzykey.templates.losses import cosine_rows
        >>> cosine_rows(torch.tensor([[1.0, 0.0], [3.0, 4.0]]), torch.tensor([[0.0, 2.0], [3.0, 4.0]]))
        tensor([0., 1.])
    """
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, Tensor) or t.ndim != 2 or not t.is_floating_point():
            got = f"shape {tuple(t.shape)}, dtype {t.dtype}" if isinstance(t, Tensor) else type(t).__name__
            raise InvalidArgument(f"{name} must be an (N, D) float tensor, got {got}")
    if a.shape != b.shape:
        raise InvalidArgument(f"embeddings must have equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    norms = (a.norm(dim=1) * b.norm(dim=1)).clamp(min=_COS_EPS)
    return torch.div((a * b).sum(dim=1), norms)


def distortion_reward(x: Tensor, gx: Tensor, edge_weight: float = 0.5) -> Tensor:
    """The edge-weighted mean absolute change R (module docstring), a scalar tensor.

    Args:
        x: the original crops, ``(N, C, H, W)`` float 0..255 (only the mask comes from them).
        gx: the templates, same shape.
        edge_weight: alpha in [0, 1], the share of the weight given by the edge mask.

    Example:
        >>> import torch
        >>> from fuzzykey.templates.losses import distortion_reward
        >>> x = torch.zeros(1, 1, 4, 4)
        >>> x[..., 2:] = 255.0
        >>> gx = x.clone()
        >>> gx[..., 0, 1] = 0.5 * 255.0           # change one pixel on the edge by half
        >>> distortion_reward(x, gx, edge_weight=0.0).item()  # 0.5 / 16
        0.03125
        >>> distortion_reward(x, gx, edge_weight=1.0).item()  # weight S / mean(S) = 2 there
        0.0625
    """
    x = _check_images("x", x)
    gx = _check_images("gx", gx)
    if x.shape != gx.shape:
        raise InvalidArgument(f"x and gx must have equal shapes, got {tuple(x.shape)} and {tuple(gx.shape)}")
    alpha = _check_fraction("edge_weight", edge_weight)
    with torch.no_grad():
        edges = sobel_edges(x.detach())
        mask = (1.0 - alpha) + alpha * edges / (edges.mean(dim=(2, 3), keepdim=True) + _MASK_EPS)
    return (mask * (gx - x.detach()).abs()).mean() / 255.0


def ssim_rows(x: Tensor, y: Tensor, *, data_range: float = 255.0) -> Tensor:
    """Mean SSIM of each image pair, ``(N,)``, differentiable (module docstring).

    ``x`` and ``y``: ``(N, C, H, W)`` float images on a scale of ``data_range``, sides at
    least 11. Each channel is compared on its own and the maps are averaged.

    Example:
        >>> import torch
        >>> from fuzzykey.templates.losses import ssim_rows
        >>> x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
        >>> ssim_rows(x, x)
        tensor([1., 1.])
        >>> bool(ssim_rows(x, 255 - x).max() < 0)      # inverted: the structure is anti-correlated
        True
    """
    x = _check_images("x", x)
    y = _check_images("y", y)
    if x.shape != y.shape:
        raise InvalidArgument(f"x and y must have equal shapes, got {tuple(x.shape)} and {tuple(y.shape)}")
    if min(x.shape[2:]) < SSIM_WINDOW:
        raise InvalidArgument(f"images must be at least {SSIM_WINDOW} pixels on each side, "
                              f"got {tuple(x.shape)}")
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float)) or not float(data_range) > 0:
        raise InvalidArgument(f"data_range must be a positive number, got {data_range!r}")
    k = torch.arange(SSIM_WINDOW, dtype=x.dtype, device=x.device) - (SSIM_WINDOW - 1) / 2
    w = torch.exp(-(k**2) / (2.0 * _SSIM_SIGMA**2))
    w = w / w.sum()
    channels = x.shape[1]
    wh = w.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    ww = w.view(1, 1, 1, -1).expand(channels, 1, 1, -1)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(t, wh, groups=channels), ww, groups=channels)

    c1, c2 = (0.01 * float(data_range)) ** 2, (0.03 * float(data_range)) ** 2
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    s_map = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s_map.mean(dim=(1, 2, 3))


def embedding_margin_loss(e_x: Tensor, e_gx: Tensor, margin: float) -> Tensor:
    """The cosine hinge ``mean_n max(0, (1 - cos(e_x[n], e_gx[n])) - margin)`` (module
    docstring), a scalar tensor; ``margin`` in [0, 2].

    Example:
        >>> import torch
        >>> from fuzzykey.templates.losses import embedding_margin_loss
        >>> e = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
        >>> g = torch.tensor([[0.8, 0.6], [0.0, 1.0]])   # cosines 0.8 and 0
        >>> round(embedding_margin_loss(e, g, margin=0.3).item(), 4)  # (0 + 0.7) / 2
        0.35
    """
    margin = _check_fraction("margin", margin, 2.0)
    return torch.relu((1.0 - cosine_rows(e_x, e_gx)) - margin).mean()


@dataclass(frozen=True)
class LossTerms:
    """One evaluation of :class:`TemplateLoss` (all scalar tensors)."""

    total: Tensor
    """lambda_emb * embedding - lambda_dist * distortion - lambda_ssim * (1 - ssim); the one to
    backpropagate."""
    embedding: Tensor
    """The cosine hinge L_emb."""
    distortion: Tensor
    """The reward R."""
    cosine: Tensor
    """Mean cosine of the templates' embeddings to the originals' (detached)."""
    ssim: Tensor
    """Mean SSIM of the templates to the originals (detached; NaN for crops under 11 pixels
    when ``ssim_weight`` is 0)."""


@dataclass(frozen=True)
class TemplateLoss:
    """:math:`L = \\lambda_{emb} L_{emb} - \\lambda_{dist} R - \\lambda_{ssim} (1 - SSIM)` (module docstring).

    Args:
        margin: m, the cosine distance allowed for free, in [0, 2] (0.3: cosine >= 0.7).
        embedding_weight: lambda_emb > 0; large values make the margin nearly a hard constraint.
        distortion_weight: lambda_dist >= 0.
        edge_weight: alpha in [0, 1] of :func:`distortion_reward`.
        ssim_weight: lambda_ssim >= 0 of the structural reward 1 - mean SSIM (0: off).
    """

    margin: float = 0.3
    embedding_weight: float = 10.0
    distortion_weight: float = 1.0
    edge_weight: float = 0.5
    ssim_weight: float = 0.0

    def __post_init__(self) -> None:
        _check_fraction("margin", self.margin, 2.0)
        _check_fraction("edge_weight", self.edge_weight)
        for name in ("embedding_weight", "distortion_weight", "ssim_weight"):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                    or value < 0 or (name == "embedding_weight" and value == 0)):
                low = "> 0" if name == "embedding_weight" else ">= 0"
                raise InvalidArgument(f"{name} must be a finite number {low}, got {value!r}")

    def __call__(self, x: Tensor, gx: Tensor, e_x: Tensor, e_gx: Tensor) -> LossTerms:
        """The loss of templates ``gx`` of crops ``x`` with embeddings ``e_x`` (targets,
        detached) and ``e_gx`` (through the frozen encoder, so gradients reach G)."""
        for name, e in (("e_x", e_x), ("e_gx", e_gx)):
            if not isinstance(e, Tensor):
                raise InvalidArgument(f"{name} must be a torch.Tensor, got {type(e).__name__}")
        x = _check_images("x", x)
        gx = _check_images("gx", gx)
        if e_x.shape[0] != x.shape[0] or e_gx.shape[0] != gx.shape[0]:
            raise InvalidArgument(f"embeddings must have one row per image, got {tuple(e_x.shape)} and "
                                  f"{tuple(e_gx.shape)} for {x.shape[0]} images")
        e_x = e_x.detach()
        emb = embedding_margin_loss(e_x, e_gx, self.margin)
        dist = distortion_reward(x, gx, self.edge_weight)
        total = self.embedding_weight * emb - self.distortion_weight * dist
        if self.ssim_weight > 0:
            sim = ssim_rows(x.detach(), gx).mean()
            total = total - self.ssim_weight * (1.0 - sim)
        elif min(x.shape[2:]) >= SSIM_WINDOW:
            with torch.no_grad():
                sim = ssim_rows(x, gx).mean()
        else:  # too small for the window, and not asked for
            sim = torch.tensor(float("nan"))
        return LossTerms(total=total, embedding=emb, distortion=dist,
                         cosine=cosine_rows(e_x, e_gx.detach()).mean(), ssim=sim.detach())
