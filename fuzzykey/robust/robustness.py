"""Feature-space robustness index (Xie et al., "A Deep, Information-theoretic
Framework for Robust Biometric Recognition", eqs. 3, 4 and 17).

A verifier accepts ``x~`` as person ``x2`` when the cosine similarity of their
features reaches a threshold ``T``: :math:`\\cos(f(\\tilde x), f(x_2)) \\ge T`, i.e.
the cosine distance :math:`d(a, b) = 1 - \\cos(a, b)` is at most :math:`1 - T`.
The hardness of impersonating ``x2`` starting from ``x1`` is the smallest input
perturbation that does it,

.. math::

    h(x_1, x_2) = \\inf \\{ \\lVert \\tilde x - x_1 \\rVert_2 :
        d(f(\\tilde x), f(x_2)) \\le 1 - T,\\ \\tilde x \\in [lo, hi]^n \\}.

:func:`cw_feature_attack` estimates ``h`` (an upper bound: any successful
``x~`` is feasible) with a feature-space Carlini–Wagner attack. For each row it
minimises, by Adam on ``x~`` projected (clamped) onto the input box after every
step, starting from ``x1``,

.. math::

    J_\\lambda(\\tilde x) = \\lVert \\tilde x - x_1 \\rVert_2^2
        + \\lambda \\max\\bigl(0,\\ d(f(\\tilde x), f(x_2)) - (1 - T) + \\kappa\\bigr),

the squared distance as in CW's L2 attack (smooth at ``x~ = x1``) and a hinge on
the threshold like CW's :math:`f_6` with a small margin :math:`\\kappa`. The
learning rate decays linearly to ``lr * final_lr_fraction`` over ``steps`` so
the iterate settles on the decision boundary. :math:`\\lambda` is binary
searched per row over ``search_steps`` restarts: after a success it is halved
towards the last failing value, after a failure it moves up towards the last
succeeding value (times 10 while none succeeded). Every iterate is checked; the
result is the successful iterate (:math:`\\cos \\ge T`, computed without the
margin) of smallest L2 over all restarts. Rows with no successful iterate are
failures: ``l2 = inf``. The attack has no randomness. Adam moves each input
coordinate by at most about ``lr`` per step, so with the linear decay one
restart moves a coordinate by at most about ``lr * steps * (1 + final_lr_fraction) / 2``
(0.53 with the defaults): raise ``steps`` or ``lr`` when single coordinates must
move further, or such pairs come back as failures.

:func:`robustness_index` samples ``pairs_per_class_pair`` pairs
``(x1 in class k, x2 in class l)`` for every ordered class pair ``k != l`` and
sets :math:`H_{k,l}` to the mean L2 of the successful attacks (eq. 4 over a
sample). It is NaN on the diagonal and where every attack failed; failures are
counted per entry (``failures``) and in total (``attack_failures``), never
dropped silently. Note that averaging only successes biases ``H`` low when some
attacks fail (a failure means "more than the budget found"): read it together
with ``attack_failures``. The paper's eq. 17 writes
:math:`RI = \\frac{2}{n_c(n_c-1)} \\sum_{l \\ne k} H_{k,l}`, which taken literally
over ordered pairs is twice the mean; its text ("45 pairs for 10 classes") means
the mean over class pairs, which is what ``ri`` is: the mean of the finite
off-diagonal entries of ``H`` (ordered pairs; equal to the mean over unordered
pairs of the symmetrised matrix when all entries are finite).

``T`` comes from the caller: :func:`fuzzykey.evaluation.metrics.eer_threshold`
and :func:`~fuzzykey.evaluation.metrics.threshold_at_fmr` choose it from genuine
and impostor cosine scores (:func:`~fuzzykey.evaluation.metrics.cosine_scores`).

Example (identity features in the plane; the exact answer is
:math:`\\sin(\\pi/4) \\approx 0.707` for ``T = cos(pi/4)``):

    >>> import math, torch
    >>> from fuzzykey.robust.robustness import cw_feature_attack
    >>> x1, x2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    >>> res = cw_feature_attack(torch.nn.Identity(), x1, x2, math.cos(math.pi / 4),
    ...                         box=(-2.0, 2.0))
    >>> bool(res.success[0]), round(float(res.l2[0]), 2)
    (True, 0.71)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from ..errors import InvalidArgument

__all__ = [
    "AttackResult",
    "RobustnessResult",
    "cw_feature_attack",
    "robustness_index",
]

Model = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class AttackResult:
    """Per-row outcome of :func:`cw_feature_attack` (``B`` rows).

    Attributes:
        success: ``(B,)`` bool, whether some iterate reached ``cos >= threshold``.
        l2: ``(B,)`` float64, L2 distance of the best successful ``x~`` to ``x1``;
            ``inf`` where the attack failed.
        cosine: ``(B,)`` float64, cosine similarity of ``f(adversarial)`` and
            ``f(x2)`` (of ``x1`` itself where the attack failed).
        adversarial: tensor shaped like ``x1``: the best successful ``x~`` per row,
            ``x1`` where the attack failed.
        lambdas: ``(B,)`` float64, the smallest lambda that succeeded (NaN if none).
    """

    success: NDArray[np.bool_]
    l2: NDArray[np.float64]
    cosine: NDArray[np.float64]
    adversarial: torch.Tensor
    lambdas: NDArray[np.float64]


@dataclass(frozen=True)
class RobustnessResult:
    """Outcome of :func:`robustness_index` over ``C`` classes and ``A`` attacks.

    Attributes:
        classes: ``(C,)`` the class labels, in the order of ``H``'s rows/columns.
        H: ``(C, C)`` mean successful L2 from class ``k`` (row) to class ``l``
            (column); NaN on the diagonal and where every attack failed.
        ri: mean of the finite off-diagonal entries of ``H`` (NaN if none).
        attack_failures: attacks that did not reach the threshold.
        attempts: attacks run (``C (C - 1) pairs_per_class_pair``).
        failures: ``(C, C)`` int, failed attacks per entry.
        source_index, target_index: ``(A,)`` row indices into ``inputs`` of
            ``x1`` and ``x2`` for every attack.
        source_class, target_class: ``(A,)`` positions in ``classes`` of their classes.
        success: ``(A,)`` bool per attack.
        l2: ``(A,)`` float64 per attack, ``inf`` where it failed.
    """

    classes: NDArray[Any]
    H: NDArray[np.float64]
    ri: float
    attack_failures: int
    attempts: int
    failures: NDArray[np.int64]
    source_index: NDArray[np.int64]
    target_index: NDArray[np.int64]
    source_class: NDArray[np.int64]
    target_class: NDArray[np.int64]
    success: NDArray[np.bool_]
    l2: NDArray[np.float64]


def _check_box(box: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = float(box[0]), float(box[1])
    except (TypeError, ValueError, IndexError) as e:
        raise InvalidArgument(f"box must be a pair of numbers (lo, hi), got {box!r}") from e
    if len(box) != 2 or not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise InvalidArgument(f"box must be (lo, hi) with finite lo < hi, got {box!r}")
    return lo, hi


def _check_threshold(threshold: float) -> float:
    t = float(threshold)
    if not (math.isfinite(t) and -1.0 < t <= 1.0):
        raise InvalidArgument(f"threshold must be a cosine similarity in (-1, 1], got {threshold!r}")
    return t


def _features(model: Model, x: torch.Tensor) -> torch.Tensor:
    f = model(x)
    if not isinstance(f, torch.Tensor) or f.ndim < 1 or f.shape[0] != x.shape[0]:
        raise InvalidArgument("model must map a batch of B inputs to a tensor of B feature rows")
    return f.reshape(f.shape[0], -1)


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-12)


def cw_feature_attack(
    model: Model,
    x1: torch.Tensor,
    x2: torch.Tensor,
    threshold: float,
    *,
    steps: int = 100,
    search_steps: int = 8,
    lr: float = 0.01,
    initial_lambda: float = 1.0,
    box: tuple[float, float] = (0.0, 1.0),
    kappa: float = 1e-4,
    final_lr_fraction: float = 0.05,
) -> AttackResult:
    """Smallest-L2 ``x~`` near each row of ``x1`` whose features match ``x2``'s.

    Args:
        model: maps a batch ``(B, ...)`` to features ``(B, ...)`` (flattened per row
            and compared by cosine). Put it in eval mode first; its parameters are
            not touched (gradients are taken w.r.t. the input only).
        x1: ``(B, ...)`` starting inputs, inside ``box``.
        x2: ``(B, ...)`` target inputs (any shape the model accepts, same ``B``).
        threshold: verification threshold ``T`` on cosine similarity.
        steps: Adam steps per lambda.
        search_steps: lambda values tried (binary search), each from ``x1``.
        lr: Adam learning rate (input units), decayed linearly to
            ``lr * final_lr_fraction``.
        initial_lambda: the first lambda, per row.
        box: ``(lo, hi)``; every iterate is clamped into it.
        kappa: hinge margin on the cosine distance (success is judged without it).
        final_lr_fraction: the learning rate's final fraction, in ``(0, 1]``.

    Returns:
        :class:`AttackResult`. Deterministic given the inputs.
    """
    if not isinstance(x1, torch.Tensor) or not isinstance(x2, torch.Tensor):
        raise InvalidArgument("x1 and x2 must be torch tensors")
    if x1.ndim < 1 or x2.ndim < 1 or x1.shape[0] != x2.shape[0]:
        raise InvalidArgument(
            f"x1 and x2 must have the same number of rows, got shapes {tuple(x1.shape)} and {tuple(x2.shape)}"
        )
    if not x1.is_floating_point():
        raise InvalidArgument(f"x1 must be a floating-point tensor, got {x1.dtype}")
    t = _check_threshold(threshold)
    lo, hi = _check_box(box)
    for name, v in (("steps", steps), ("search_steps", search_steps)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidArgument(f"{name} must be a positive integer, got {v!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise InvalidArgument(f"lr must be positive, got {lr!r}")
    if not (math.isfinite(initial_lambda) and initial_lambda > 0):
        raise InvalidArgument(f"initial_lambda must be positive, got {initial_lambda!r}")
    if not (math.isfinite(kappa) and kappa >= 0):
        raise InvalidArgument(f"kappa must be >= 0, got {kappa!r}")
    if not (math.isfinite(final_lr_fraction) and 0 < final_lr_fraction <= 1):
        raise InvalidArgument(f"final_lr_fraction must be in (0, 1], got {final_lr_fraction!r}")
    x1d = x1.detach()
    if not bool(torch.all(torch.isfinite(x1d))):
        raise InvalidArgument("x1 contains NaN or infinity")
    if bool(torch.any(x1d < lo)) or bool(torch.any(x1d > hi)):
        raise InvalidArgument(f"x1 must lie inside box {box!r}")

    b = x1d.shape[0]
    dims = tuple(range(1, x1d.ndim))
    with torch.no_grad():
        f2 = _features(model, x2.detach()).detach()
        cos0 = _cos(_features(model, x1d), f2)
    best_l2 = torch.full((b,), math.inf, dtype=torch.float64)
    best_x = x1d.clone()
    best_cos = cos0.detach().to(torch.float64).cpu().clone()
    best_lam = torch.full((b,), math.nan, dtype=torch.float64)
    lam = torch.full((b,), float(initial_lambda), dtype=torch.float64)
    lam_lo = torch.zeros(b, dtype=torch.float64)
    lam_hi = torch.full((b,), math.inf, dtype=torch.float64)
    margin = (1.0 - t) - kappa

    def record(x: torch.Tensor, cos: torch.Tensor, lam_now: torch.Tensor, hit: torch.Tensor) -> None:
        with torch.no_grad():
            l2 = torch.sqrt(((x - x1d) ** 2).sum(dim=dims)).to(torch.float64).cpu()
            ok = (cos.detach().to(torch.float64).cpu() >= t) & (l2 < best_l2)
            if bool(ok.any()):
                best_l2[ok] = l2[ok]
                best_cos[ok] = cos.detach().to(torch.float64).cpu()[ok]
                best_lam[ok] = torch.fmin(best_lam[ok], lam_now[ok])
                best_x[ok.to(x.device)] = x[ok.to(x.device)]
            hit |= cos.detach().to(torch.float64).cpu() >= t

    for _ in range(search_steps):
        lam_dev = lam.to(device=x1d.device, dtype=x1d.dtype)
        x = x1d.clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)
        hit = torch.zeros(b, dtype=torch.bool)
        for step in range(steps + 1):
            f = _features(model, x)
            cos = _cos(f, f2)
            record(x.detach(), cos, lam, hit)
            if step == steps:
                break
            dist2 = ((x - x1d) ** 2).sum(dim=dims)
            hinge = torch.clamp((1.0 - cos) - margin, min=0.0)
            loss = (dist2 + lam_dev * hinge).sum()
            (grad,) = torch.autograd.grad(loss, x)
            x.grad = grad
            for group in opt.param_groups:
                group["lr"] = lr * (1.0 - (1.0 - final_lr_fraction) * step / max(steps - 1, 1))
            opt.step()
            with torch.no_grad():
                x.clamp_(lo, hi)
        # binary search on lambda, per row
        lam_hi = torch.where(hit, torch.minimum(lam_hi, lam), lam_hi)
        lam_lo = torch.where(hit, lam_lo, torch.maximum(lam_lo, lam))
        lam = torch.where(torch.isfinite(lam_hi), (lam_lo + lam_hi) / 2, lam * 10.0)

    success = torch.isfinite(best_l2)
    return AttackResult(
        success=success.numpy().astype(np.bool_),
        l2=best_l2.numpy().astype(np.float64),
        cosine=best_cos.numpy().astype(np.float64),
        adversarial=best_x.detach(),
        lambdas=best_lam.numpy().astype(np.float64),
    )


def robustness_index(
    model: Model,
    inputs: torch.Tensor,
    labels: Any,
    threshold: float,
    *,
    pairs_per_class_pair: int = 5,
    classes: Sequence[Any] | None = None,
    seed: int = 0,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
    **attack_kwargs: Any,
) -> RobustnessResult:
    """The robustness matrix ``H`` and index ``RI`` of ``model`` on a labelled set.

    Args:
        model: as in :func:`cw_feature_attack`.
        inputs: ``(N, ...)`` tensor of inputs inside the attack's box.
        labels: ``(N,)`` class labels.
        threshold: verification threshold on cosine similarity.
        pairs_per_class_pair: attacks per ordered class pair; ``x1`` and ``x2``
            are drawn uniformly (with replacement) from the two classes.
        classes: the classes to use (default: every label, sorted).
        seed: seed of the pair sampling (the attack itself is deterministic).
        batch_size: attack rows per batch.
        progress: called as ``progress(done, total)`` after each batch.
        **attack_kwargs: passed to :func:`cw_feature_attack`.

    Returns:
        :class:`RobustnessResult`.
    """
    if not isinstance(inputs, torch.Tensor) or inputs.ndim < 1:
        raise InvalidArgument("inputs must be a torch tensor of shape (N, ...)")
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.shape[0] != inputs.shape[0]:
        raise InvalidArgument(f"labels must have shape ({inputs.shape[0]},) to match inputs, got {lab.shape}")
    if (
        isinstance(pairs_per_class_pair, bool)
        or not isinstance(pairs_per_class_pair, int)
        or pairs_per_class_pair < 1
    ):
        raise InvalidArgument(
            f"pairs_per_class_pair must be a positive integer, got {pairs_per_class_pair!r}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgument(f"batch_size must be a positive integer, got {batch_size!r}")
    _check_threshold(threshold)
    cls = np.unique(lab) if classes is None else np.asarray(list(classes))
    if cls.ndim != 1 or len(cls) < 2 or len(np.unique(cls)) != len(cls):
        raise InvalidArgument(f"classes must name at least two distinct classes, got {len(cls)}")
    members = []
    for c in cls:
        idx = np.flatnonzero(lab == c)
        if not len(idx):
            raise InvalidArgument(f"classes: class {c!r} has no inputs")
        members.append(idx)

    rng = np.random.default_rng(seed)
    src_i, tgt_i, src_c, tgt_c = [], [], [], []
    n_c, p = len(cls), pairs_per_class_pair
    for k in range(n_c):
        for m in range(n_c):
            if k == m:
                continue
            src_i.append(rng.choice(members[k], size=p))
            tgt_i.append(rng.choice(members[m], size=p))
            src_c.append(np.full(p, k))
            tgt_c.append(np.full(p, m))
    s_idx = np.concatenate(src_i).astype(np.int64)
    t_idx = np.concatenate(tgt_i).astype(np.int64)
    s_cls = np.concatenate(src_c).astype(np.int64)
    t_cls = np.concatenate(tgt_c).astype(np.int64)
    total = len(s_idx)

    success = np.zeros(total, dtype=np.bool_)
    l2 = np.full(total, np.inf)
    for start in range(0, total, batch_size):
        sl = slice(start, min(start + batch_size, total))
        res = cw_feature_attack(
            model,
            inputs[torch.from_numpy(s_idx[sl])],
            inputs[torch.from_numpy(t_idx[sl])],
            threshold,
            **attack_kwargs,
        )
        success[sl], l2[sl] = res.success, res.l2
        if progress is not None:
            progress(sl.stop, total)

    h = np.full((n_c, n_c), np.nan)
    failures = np.zeros((n_c, n_c), dtype=np.int64)
    np.add.at(failures, (s_cls[~success], t_cls[~success]), 1)
    sums = np.zeros((n_c, n_c))
    counts = np.zeros((n_c, n_c), dtype=np.int64)
    np.add.at(sums, (s_cls[success], t_cls[success]), l2[success])
    np.add.at(counts, (s_cls[success], t_cls[success]), 1)
    have = counts > 0
    h[have] = sums[have] / counts[have]
    finite = h[np.isfinite(h)]
    ri = float(finite.mean()) if finite.size else math.nan
    return RobustnessResult(
        classes=cls,
        H=h,
        ri=ri,
        attack_failures=int((~success).sum()),
        attempts=total,
        failures=failures,
        source_index=s_idx,
        target_index=t_idx,
        source_class=s_cls,
        target_class=t_cls,
        success=success,
        l2=l2,
    )
