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
* **Total** (:class:`TemplateLoss`):
  :math:`L = \lambda_{emb}\,L_{emb} - \lambda_{dist}\,R`, minimised over G. It is
  bounded below since R is (:math:`w \le (1-\alpha) + \alpha HW`).

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
    "TemplateLoss",
    "LossTerms",
]

_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
_MASK_EPS = 1e-6
_COS_EPS = 1e-12


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
    """lambda_emb * embedding - lambda_dist * distortion; the one to backpropagate."""
    embedding: Tensor
    """The cosine hinge L_emb."""
    distortion: Tensor
    """The reward R."""
    cosine: Tensor
    """Mean cosine of the templates' embeddings to the originals' (detached)."""


@dataclass(frozen=True)
class TemplateLoss:
    """:math:`L = \\lambda_{emb} L_{emb} - \\lambda_{dist} R` (module docstring).

    Args:
        margin: m, the cosine distance allowed for free, in [0, 2] (0.3: cosine >= 0.7).
        embedding_weight: lambda_emb > 0; large values make the margin nearly a hard constraint.
        distortion_weight: lambda_dist >= 0.
        edge_weight: alpha in [0, 1] of :func:`distortion_reward`.
    """

    margin: float = 0.3
    embedding_weight: float = 10.0
    distortion_weight: float = 1.0
    edge_weight: float = 0.5

    def __post_init__(self) -> None:
        _check_fraction("margin", self.margin, 2.0)
        _check_fraction("edge_weight", self.edge_weight)
        for name in ("embedding_weight", "distortion_weight"):
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
        return LossTerms(total=total, embedding=emb, distortion=dist,
                         cosine=cosine_rows(e_x, e_gx.detach()).mean())
