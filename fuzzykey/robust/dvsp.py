r"""Deep variational sphere projection (DVSP) and its baselines, in torch.

The method of Xie, Chen, Wo and Wang, "A Deep, Information-theoretic Framework for
Robust Biometric Recognition" (section 3.2), plus the three baselines it is compared
with, all as heads on a shared backbone. This module needs torch and is not imported
by ``import fuzzykey``.

Maths (per sample; batch terms are averaged over the batch):

* **DVSP** (:class:`DVSPHead`). An encoder gives :math:`\mu(x)` and a diagonal
  :math:`\Lambda(x) = \operatorname{diag}(\sigma^2)` (parameterised by its log).
  The shell distribution :math:`p(z'|x)` is uniform on the sphere of centre
  :math:`c(x) = R\,\mu/\|\mu\|` and radius :math:`r(x) = \frac1k\sum_i \Lambda_{ii}(x)`;
  samples are reparameterised as :math:`z' = r(x)\,u + c(x)`, :math:`u` uniform on the
  unit sphere, drawn by :func:`fuzzykey.ops.sample_sphere` (dz/dc = I, dz/dr = u).
  The paper writes :math:`c = \mu/\|\mu\|` together with the projection
  :math:`z' = R z/\|z\|` (eq. 11); here the centre is put on the radius-R sphere, which
  is the paper's formula for ``radius=1``. The loss is

  .. math:: L = -\frac1m\sum_{l=1}^m \log q(y|z'_l) + \beta\,\mathrm{KL}(N(\mu,\Lambda)\,\|\,N(0,I)),
            \qquad \mathrm{KL} = \tfrac12\sum_i (\mu_i^2 + \sigma_i^2 - \log\sigma_i^2 - 1)

  with :math:`q(y|z')` a linear softmax classifier. Test-time feature: :math:`c(x) = R\,\mu/\|\mu\|`
  (norm R), compared by cosine.
* **DVIB** (:class:`DVIBHead`, Alemi et al.): :math:`z = \mu + \sigma\odot\epsilon`,
  :math:`\epsilon\sim N(0,I)`; loss CE + beta KL (same KL); feature :math:`\mu`.
* **Center loss** (:class:`CenterLossHead`, Wen et al.): embedding :math:`f`, linear
  classifier; ``center`` part :math:`= \frac12\,\mathrm{mean}_i\|f_i - c_{y_i}\|^2`, total
  CE + lambda * center, the class centres :math:`c_j` being ordinary parameters trained by
  the optimizer (not Wen et al.'s separate alpha-rate update); feature :math:`f`.
* **SphereFace** (:class:`SphereFaceHead`, Liu et al., A-Softmax): weights normalised,
  no bias; target logit :math:`\|f\|\,\frac{\lambda\cos\theta + \psi(\theta)}{1+\lambda}`
  with :math:`\psi(\theta) = (-1)^k\cos(m\theta) - 2k`, :math:`k = \lfloor m\theta/\pi\rfloor`,
  ``m = 4`` and the usual annealing :math:`\lambda = \max(\lambda_{min}, b(1+\gamma t)^{-p})`
  (b=1000, gamma=0.12, p=1, lambda_min=5, t = training iterations so far); other logits
  :math:`\|f\|\cos\theta_j`; feature :math:`f`.

Adversarial learning (eq. 15): :func:`fgsm` gives :math:`x' = x + \epsilon\,g/\|g\|`
with :math:`g = \nabla_x L` normalised per sample (L2 over all of a sample's pixels);
:func:`train_step` appends :math:`x'` (with the same labels) to every batch.

Example:
    >>> import torch
    >>> from fuzzykey.robust.dvsp import MnistBackbone, DVSPHead, train_step
    >>> _ = torch.manual_seed(0)
    >>> net, head = MnistBackbone(hidden=32), DVSPHead(32, 8, 10, radius=2.0, n_samples=4)
    >>> opt = torch.optim.Adam([*net.parameters(), *head.parameters()], lr=1e-3)
    >>> x, y = torch.rand(6, 1, 28, 28), torch.arange(6) % 10
    >>> parts = train_step(net, head, opt, x, y)
    >>> sorted(parts)
    ['ce', 'kl', 'total']
    >>> feats = head.features(net(x))
    >>> feats.shape, bool(torch.allclose(feats.norm(dim=1), torch.full((6,), 2.0)))
    (torch.Size([6, 8]), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import ops

__all__ = [
    "MnistBackbone",
    "EmbeddingBackbone",
    "DVSPHead",
    "DVIBHead",
    "CenterLossHead",
    "SphereFaceHead",
    "gaussian_kl",
    "fgsm",
    "train_step",
]


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per row: 0.5 * sum(mu^2 + s^2 - log s^2 - 1)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=-1)


def _torch_seed() -> int:
    """A sampler seed drawn from torch's global generator, so torch.manual_seed fixes it."""
    return int(torch.randint(0, 2**62, (1,)).item())


class MnistBackbone(nn.Module):
    """1x28x28 -> ``hidden``: conv(32,5)-pool-conv(64,5)-pool-FC, ReLU (PReLU-free, small)."""

    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc = nn.Linear(64 * 7 * 7, hidden)

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(x.flatten(1)))


class EmbeddingBackbone(nn.Module):
    """``in_dim`` -> ``hidden``: one linear layer and ReLU, for heads on frozen embeddings.

    Used to train a head on top of a fixed face encoder (SFace's 128-D unit
    embeddings in :mod:`fuzzykey.evaluation.robustness_lfw`); the encoder itself is not trained.
    """

    def __init__(self, in_dim: int = 128, hidden: int = 256) -> None:
        super().__init__()
        self.in_dim, self.hidden = in_dim, hidden
        self.fc = nn.Linear(in_dim, hidden)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.fc(x))


class _Variational(nn.Module):
    """mu and log-variance layers shared by DVSP and DVIB."""

    def __init__(self, hidden: int, dim: int, n_classes: int, beta: float, n_samples: int) -> None:
        super().__init__()
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        self.dim, self.n_classes, self.beta, self.n_samples = dim, n_classes, float(beta), int(n_samples)
        self.mu = nn.Linear(hidden, dim)
        self.logvar = nn.Linear(hidden, dim)
        self.classifier = nn.Linear(dim, n_classes)

    def _sample(self, mu: Tensor, logvar: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, h: Tensor) -> dict[str, Tensor]:
        mu, logvar = self.mu(h), self.logvar(h)
        z = self._sample(mu, logvar)  # (N, S, dim)
        return {"mu": mu, "logvar": logvar, "z": z, "logits": self.classifier(z)}

    def loss(self, h: Tensor, y: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        out = self(h)
        logits = out["logits"]
        n, s, c = logits.shape
        ce = F.cross_entropy(logits.reshape(n * s, c), y.repeat_interleave(s))
        kl = gaussian_kl(out["mu"], out["logvar"]).mean()
        return ce + self.beta * kl, {"ce": ce, "kl": kl}


class DVSPHead(_Variational):
    """DVSP: samples on the shell ``|z' - R mu/|mu|| = mean(exp(logvar))``; see the module docstring."""

    def __init__(
        self,
        hidden: int,
        dim: int,
        n_classes: int,
        *,
        radius: float = 1.0,
        beta: float = 1e-3,
        n_samples: int = 8,
    ) -> None:
        super().__init__(hidden, dim, n_classes, beta, n_samples)
        self.radius = float(radius)

    def centre_radius(self, mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
        """c(x) = R mu/|mu| (N, dim) and r(x) = mean_i Lambda_ii (N,)."""
        return self.radius * F.normalize(mu, dim=1, eps=1e-12), logvar.exp().mean(dim=1)

    def _sample(self, mu: Tensor, logvar: Tensor) -> Tensor:
        c, r = self.centre_radius(mu, logvar)
        return cast(Tensor, ops.sample_sphere(c, r, self.n_samples, _torch_seed()))

    def forward(self, h: Tensor) -> dict[str, Tensor]:
        out = super().forward(h)
        out["centre"], out["r"] = self.centre_radius(out["mu"], out["logvar"])
        return out

    def features(self, h: Tensor) -> Tensor:
        """R mu/|mu|: norm R, compared by cosine."""
        return self.radius * F.normalize(self.mu(h), dim=1, eps=1e-12)


class DVIBHead(_Variational):
    """DVIB (Alemi et al.): z = mu + sigma * eps, CE + beta KL; feature mu."""

    def __init__(
        self, hidden: int, dim: int, n_classes: int, *, beta: float = 1e-3, n_samples: int = 8
    ) -> None:
        super().__init__(hidden, dim, n_classes, beta, n_samples)

    def _sample(self, mu: Tensor, logvar: Tensor) -> Tensor:
        eps = torch.randn(mu.shape[0], self.n_samples, mu.shape[1], dtype=mu.dtype, device=mu.device)
        return mu.unsqueeze(1) + (0.5 * logvar).exp().unsqueeze(1) * eps

    def features(self, h: Tensor) -> Tensor:
        return cast(Tensor, self.mu(h))


class CenterLossHead(nn.Module):
    """Center loss (Wen et al.): CE + lam * 0.5 * mean ||f - c_y||^2, centres as parameters."""

    def __init__(self, hidden: int, dim: int, n_classes: int, *, lam: float = 0.01) -> None:
        super().__init__()
        self.lam = float(lam)
        self.embed = nn.Linear(hidden, dim)
        self.classifier = nn.Linear(dim, n_classes)
        self.centers = nn.Parameter(torch.zeros(n_classes, dim))

    def forward(self, h: Tensor) -> dict[str, Tensor]:
        f = self.embed(h)
        return {"f": f, "logits": self.classifier(f)}

    def loss(self, h: Tensor, y: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        out = self(h)
        ce = F.cross_entropy(out["logits"], y)
        center = 0.5 * (out["f"] - self.centers[y]).pow(2).sum(dim=1).mean()
        return ce + self.lam * center, {"ce": ce, "center": center}

    def features(self, h: Tensor) -> Tensor:
        return cast(Tensor, self.embed(h))


def _cos_m_theta(cos: Tensor, m: int) -> Tensor:
    """cos(m theta) from cos theta by the Chebyshev polynomial T_m."""
    prev, cur = torch.ones_like(cos), cos
    if m == 0:
        return prev
    for _ in range(m - 1):
        prev, cur = cur, 2 * cos * cur - prev
    return cur


class SphereFaceHead(nn.Module):
    """A-Softmax (Liu et al.) with psi(theta) = (-1)^k cos(m theta) - 2k and lambda annealing.

    ``iterations`` (a buffer) counts the :meth:`loss` calls made in training mode (with
    :func:`train_step`'s FGSM pass, two per step); lambda is
    ``max(lambda_min, base * (1 + gamma * iterations) ** -power)``.
    """

    iterations: Tensor

    def __init__(
        self,
        hidden: int,
        dim: int,
        n_classes: int,
        *,
        m: int = 4,
        base: float = 1000.0,
        gamma: float = 0.12,
        power: float = 1.0,
        lambda_min: float = 5.0,
    ) -> None:
        super().__init__()
        self.m, self.base, self.gamma, self.power, self.lambda_min = m, base, gamma, power, lambda_min
        self.embed = nn.Linear(hidden, dim)
        self.weight = nn.Parameter(torch.empty(n_classes, dim))
        nn.init.xavier_uniform_(self.weight)
        self.register_buffer("iterations", torch.zeros((), dtype=torch.long))

    def lam(self) -> float:
        decay: float = self.base * (1.0 + self.gamma * int(self.iterations)) ** -self.power
        return max(self.lambda_min, decay)

    def psi(self, cos: Tensor) -> Tensor:
        """psi(theta) = (-1)^k cos(m theta) - 2k, k = floor(m theta / pi): monotone, <= cos theta."""
        cos = cos.clamp(-1.0, 1.0)
        theta = torch.acos(cos.detach().clamp(-1.0 + 1e-7, 1.0 - 1e-7))
        k = torch.floor(self.m * theta / math.pi)
        sign = 1.0 - 2.0 * torch.remainder(k, 2.0)
        return sign * _cos_m_theta(cos, self.m) - 2.0 * k

    def logits(self, f: Tensor, y: Tensor | None = None, lam: float | None = None) -> Tensor:
        """|f| cos theta_j; with labels, the target entry is |f| (lam cos + psi) / (1 + lam)."""
        norm = f.norm(dim=1, keepdim=True)
        cos = F.normalize(f, dim=1, eps=1e-12) @ F.normalize(self.weight, dim=1).t()
        if y is None:
            return cast(Tensor, norm * cos)
        lam_ = self.lam() if lam is None else lam
        cos_y = cos.gather(1, y[:, None])
        target = (lam_ * cos_y + self.psi(cos_y)) / (1.0 + lam_)
        return cast(Tensor, norm * cos.scatter(1, y[:, None], target))

    def forward(self, h: Tensor) -> dict[str, Tensor]:
        f = self.embed(h)
        return {"f": f, "logits": self.logits(f)}

    def loss(self, h: Tensor, y: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        f = self.embed(h)
        ce = F.cross_entropy(self.logits(f, y), y)
        if self.training:
            self.iterations += 1
        return ce, {"ce": ce}

    def features(self, h: Tensor) -> Tensor:
        return cast(Tensor, self.embed(h))


def fgsm(model_fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor, eps: float = 0.1) -> Tensor:
    """x + eps * g / ||g|| per sample (eq. 15), g = d model_fn(x, y) / dx; detached.

    ``model_fn`` returns a scalar loss. Parameter gradients are left untouched (only the
    gradient with respect to x is taken). A sample whose gradient is exactly zero is not moved.
    """
    x_ = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model_fn(x_, y), x_)
    norm = g.flatten(1).norm(dim=1).clamp_min(1e-30).reshape(-1, *([1] * (x.dim() - 1)))
    return cast(Tensor, (x.detach() + eps * g / norm).detach())


def train_step(
    backbone: nn.Module,
    head: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    *,
    adversarial: bool = True,
    eps: float = 0.1,
) -> dict[str, float]:
    """One optimizer step on the batch, plus its FGSM samples when ``adversarial`` (Algorithm 1).

    Returns the loss parts (and ``"total"``) as floats, measured on the (augmented) batch
    before the step.
    """
    backbone.train()
    head.train()

    def loss_fn(xx: Tensor, yy: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return cast(tuple[Tensor, dict[str, Tensor]], head.loss(backbone(xx), yy))  # type: ignore[operator]

    if adversarial:
        x_adv = fgsm(lambda xx, yy: loss_fn(xx, yy)[0], x, y, eps)
        x, y = torch.cat([x, x_adv]), torch.cat([y, y])
    optimizer.zero_grad()
    total, parts = loss_fn(x, y)
    total.backward()  # type: ignore[no-untyped-call]
    optimizer.step()
    return {"total": float(total.detach()), **{k: float(v.detach()) for k, v in parts.items()}}
