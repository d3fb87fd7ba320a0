"""Error rates and information figures for verification and key systems.

Scores are similarities (higher = more alike). FMR(τ) is the fraction of
impostor scores ≥ τ, FNMR(τ) the fraction of genuine scores < τ.

- :func:`eer`: the equal error rate, where FMR and FNMR cross (linear
  interpolation between thresholds).
- :func:`fnmr_at_fmr`: FNMR at the smallest threshold whose FMR ≤ target.
- :func:`degrees_of_freedom`: Daugman's :math:`p(1-p)/\\sigma^2` of normalized
  impostor Hamming distances: how many independent fair coin flips the impostor
  distribution behaves like.
- :func:`gaussian_mi_bits`: mutual information between two embeddings of one
  person under a Gaussian model, :math:`x = \\mu_{id} + \\varepsilon`, from
  between- and within-person covariances: in the basis that diagonalises both,
  :math:`I = -\\tfrac12 \\sum_j \\log_2 (1 - \\rho_j^2)` with
  :math:`\\rho_j = \\lambda^b_j / (\\lambda^b_j + \\lambda^w_j)`. An upper bound on
  the key entropy any construction extracts from one pair of photos (under that
  model).

Example:
    >>> import numpy as np
    >>> from fuzzykey.evaluation.metrics import eer, fnmr_at_fmr
    >>> gen, imp = np.array([0.9, 0.8, 0.7, 0.4]), np.array([0.1, 0.2, 0.3, 0.5])
    >>> round(eer(gen, imp), 3)
    0.25
    >>> fnmr_at_fmr(gen, imp, 0.25)     # threshold 0.4 accepts all genuine scores
    0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidArgument

__all__ = [
    "eer",
    "fnmr_at_fmr",
    "det_curve",
    "eer_threshold",
    "threshold_at_fmr",
    "cosine_scores",
    "degrees_of_freedom",
    "gaussian_mi_bits",
]


def _scores(x: Any, name: str) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64).ravel()
    if arr.size == 0:
        raise InvalidArgument(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        raise InvalidArgument(f"{name} contain NaN or infinity")
    return arr


def det_curve(
    genuine: Any, impostor: Any
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``(thresholds, fmr, fnmr)`` at every distinct score, thresholds increasing."""
    g, i = np.sort(_scores(genuine, "genuine")), np.sort(_scores(impostor, "impostor"))
    thr = np.unique(np.concatenate([g, i]))
    fmr = 1.0 - np.searchsorted(i, thr, side="left") / len(i)
    fnmr = np.searchsorted(g, thr, side="left") / len(g)
    return thr, fmr, fnmr


def eer(genuine: Any, impostor: Any) -> float:
    """Equal error rate (a fraction)."""
    _, fmr, fnmr = det_curve(genuine, impostor)
    diff = fmr - fnmr  # decreasing in the threshold
    j = int(np.searchsorted(-diff, 0.0))
    if j == 0:
        return float(fmr[0] + fnmr[0]) / 2
    if j >= len(diff):
        return float(fmr[-1] + fnmr[-1]) / 2
    d0, d1 = diff[j - 1], diff[j]
    w = d0 / (d0 - d1) if d0 != d1 else 0.5
    return float((1 - w) * (fmr[j - 1] + fnmr[j - 1]) / 2 + w * (fmr[j] + fnmr[j]) / 2)


def fnmr_at_fmr(genuine: Any, impostor: Any, target: float) -> float:
    """FNMR at the lowest threshold whose FMR is at most ``target``."""
    if not 0.0 <= target <= 1.0:
        raise InvalidArgument(f"target must be in [0, 1], got {target!r}")
    thr, fmr, fnmr = det_curve(genuine, impostor)
    ok = np.flatnonzero(fmr <= target)
    if not len(ok):
        return 1.0
    return float(fnmr[ok[0]])


def degrees_of_freedom(impostor_fractions: Any) -> float:
    """Daugman's degrees of freedom of normalized impostor Hamming distances."""
    x = _scores(impostor_fractions, "impostor_fractions")
    p, var = float(x.mean()), float(x.var())
    return p * (1 - p) / var if var > 0 else float("inf")


def gaussian_mi_bits(embeddings: Any, labels: Any, *, min_images: int = 2) -> float:
    """Mutual information (bits) between two embeddings of one person, Gaussian model.

    Within-person covariance from people with at least ``min_images`` images;
    between-person covariance from everyone's mean, corrected for the within
    noise each mean still carries (people with one photo count with n = 1).
    """
    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y):
        raise InvalidArgument(f"embeddings (N, d) and labels (N,) disagree: {x.shape} vs {y.shape}")
    people, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    d = x.shape[1]
    means = np.zeros((len(people), d))
    np.add.at(means, inverse, x)
    means /= counts[:, None]
    resid = x - means[inverse]
    many = counts[inverse] >= min_images
    dof = int(np.sum(counts[counts >= min_images] - 1))
    if dof < d:
        raise InvalidArgument(f"too few repeated images to estimate a {d}-D within-person covariance")
    sw = resid[many].T @ resid[many] / dof
    centred = means - x.mean(axis=0)
    sb = centred.T @ centred / (len(people) - 1) - sw * float(np.mean(1.0 / counts))
    # Whiten the total covariance, then diagonalise the between part.
    st = sb + sw
    evals, evecs = np.linalg.eigh(st)
    keep = evals > 1e-10 * evals.max()
    wt = evecs[:, keep] / np.sqrt(evals[keep])
    rho = np.clip(np.linalg.eigvalsh(wt.T @ sb @ wt), 0.0, 1.0 - 1e-12)
    return float(-0.5 * np.sum(np.log2(1.0 - rho**2)))


def cosine_scores(features: Any, labels: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(genuine, impostor)`` cosine similarities of all pairs ``i < j`` of feature rows."""
    if hasattr(features, "detach"):  # a torch tensor, without importing torch here
        features = features.detach().cpu().numpy()
    f = np.asarray(features, dtype=np.float64)
    lab = np.asarray(labels)
    if f.ndim != 2 or f.shape[0] < 2:
        raise InvalidArgument(f"features must have shape (N, D) with N >= 2, got {f.shape}")
    if lab.shape != (f.shape[0],):
        raise InvalidArgument(f"labels must have shape ({f.shape[0]},), got {lab.shape}")
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    if np.any(norms == 0) or not np.all(np.isfinite(f)):
        raise InvalidArgument("features must be finite and non-zero")
    u = f / norms
    sim = u @ u.T
    iu = np.triu_indices(f.shape[0], k=1)
    same = lab[iu[0]] == lab[iu[1]]
    return sim[iu][same], sim[iu][~same]


def eer_threshold(genuine: Any, impostor: Any) -> float:
    """The similarity threshold where FMR and FNMR cross (interpolated, as
    :func:`eer`)."""
    thr, fmr, fnmr = det_curve(genuine, impostor)
    diff = fmr - fnmr  # decreasing in the threshold
    j = int(np.searchsorted(-diff, 0.0))
    if j == 0:
        return float(thr[0])
    if j >= len(diff):
        return float(thr[-1])
    d0, d1 = diff[j - 1], diff[j]
    w = d0 / (d0 - d1) if d0 != d1 else 0.5
    return float((1 - w) * thr[j - 1] + w * thr[j])


def threshold_at_fmr(genuine: Any, impostor: Any, target: float) -> float:
    """The lowest score threshold whose FMR (impostor scores ``>=`` it) is at most ``target``.

    Above every impostor score when no observed threshold qualifies.
    """
    if not 0.0 <= target <= 1.0:
        raise InvalidArgument(f"target must be in [0, 1], got {target!r}")
    thr, fmr, _ = det_curve(genuine, impostor)
    ok = np.flatnonzero(fmr <= target)
    if len(ok):
        return float(thr[ok[0]])
    return float(np.nextafter(thr[-1], np.inf))
