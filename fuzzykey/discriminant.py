"""Discriminant whitening: face embeddings to independent coordinates with known genuine correlations.

Fit on labelled embeddings :math:`x` (unit norm) of many people, with every
person weighted alike (at most ``cap`` photos each):

* within-person covariance :math:`\\Sigma_W` (deviations from each person's
  mean), shrunk towards a multiple of the identity,
  :math:`\\Sigma_W \\leftarrow (1 - s)\\Sigma_W + s\\,\\tfrac{\\mathrm{tr}\\Sigma_W}{d} I`
  (``shrink`` = s: the estimate from a few thousand photos in 128 dimensions
  overstates how well the top directions separate people it has not seen);
* between-person covariance :math:`\\Sigma_B` (of the person means, less the
  part of :math:`\\Sigma_W` the means still carry), and the total
  :math:`\\Sigma_T = \\Sigma_B + \\Sigma_W`;
* whiten the total, :math:`W = \\Sigma_T^{-1/2}`, and diagonalise the whitened
  within covariance :math:`W \\Sigma_W W = U \\,\\mathrm{diag}(\\omega)\\, U^T`.

The coordinates :math:`z = U^T W (x - \\mu)` then have unit variance over the
population, are uncorrelated both across people and within a person, and two
photos of one person correlate by :math:`\\rho_i = 1 - \\omega_i` in coordinate
i (ordered from the most to the least reliable). Under a Gaussian model a probe
coordinate is :math:`y_i = \\rho_i z_i + \\sqrt{1 - \\rho_i^2}\\,\\varepsilon_i`,
which is what :mod:`fuzzykey.zeroleak` decodes with, after scaling every
:math:`\\rho_i` by ``rho_scale`` (a calibration chosen on held-out people).

Several enrollment photos: the mean of m photos' coordinates has variance
:math:`\\rho_i + (1 - \\rho_i)/m`; divided by its standard deviation it is a
unit-variance coordinate whose correlation with a new photo is
:math:`\\rho_i / \\sqrt{\\rho_i + (1 - \\rho_i)/m}` (:meth:`DiscriminantTransform.rho_for`).

The transform shipped for SFace (``fuzzykey/data/sface_discriminant.json``) was
fitted on LFW-dev half A with ``benchmarks/fit_discriminant.py``, which also
chose ``shrink`` and ``rho_scale`` on a validation split of half A's people.

Example:
    >>> import numpy as np
    >>> from fuzzykey.discriminant import DiscriminantTransform
    >>> rng = np.random.default_rng(0)
    >>> people = rng.standard_normal((300, 8))
    >>> labels = np.repeat(np.arange(300), 4)
    >>> x = people[labels] + 0.5 * rng.standard_normal((1200, 8))
    >>> t = DiscriminantTransform.fit(x / np.linalg.norm(x, axis=1, keepdims=True), labels, shrink=0.0)
    >>> t.dim, t.n_coords, bool(np.all(np.diff(t.rho) <= 0))
    (8, 8, True)
    >>> z = t.apply(x / np.linalg.norm(x, axis=1, keepdims=True))
    >>> bool(np.allclose(z[::4].std(axis=0), 1.0, atol=0.15))
    True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._checks import as_int
from .errors import InvalidArgument

__all__ = ["DiscriminantTransform", "sface_discriminant"]

#: The most a coordinate's genuine correlation may be: keeps 1 - rho^2 away from zero.
RHO_MAX = 0.995


@dataclass(frozen=True, eq=False)
class DiscriminantTransform:
    """z = matrix @ (x - mean), with the genuine correlation ``rho`` of every coordinate.

    Attributes:
        mean: (dim,) float64.
        matrix: (n_coords, dim) float64, rows ordered by decreasing ``rho``.
        rho: (n_coords,) float64 in [0, RHO_MAX], the fitted genuine correlations.
        rho_scale: the calibration applied to ``rho`` when decoding (in (0, 1]).
        name: a label recorded in helpers.
        provenance: where the numbers come from (data, command, hyper-parameters).
    """

    mean: NDArray[np.float64]
    matrix: NDArray[np.float64]
    rho: NDArray[np.float64]
    rho_scale: float = 1.0
    name: str = "custom"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        mean = np.array(self.mean, dtype=np.float64)
        matrix = np.array(self.matrix, dtype=np.float64)
        rho = np.array(self.rho, dtype=np.float64)
        if (
            mean.ndim != 1
            or matrix.ndim != 2
            or matrix.shape[1] != mean.shape[0]
            or rho.shape != (matrix.shape[0],)
        ):
            raise InvalidArgument(
                f"mean must be (dim,), matrix (n_coords, dim) and rho (n_coords,); got {mean.shape}, "
                f"{matrix.shape}, {rho.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(matrix).all() and np.isfinite(rho).all()):
            raise InvalidArgument("mean, matrix and rho must be finite")
        if rho.size and (rho.min() < 0 or rho.max() > RHO_MAX):
            raise InvalidArgument(f"rho must lie in [0, {RHO_MAX}], got [{rho.min()}, {rho.max()}]")
        scale = float(self.rho_scale)
        if not 0.0 < scale <= 1.0:
            raise InvalidArgument(f"rho_scale must be in (0, 1], got {self.rho_scale!r}")
        for name, value in (("mean", mean), ("matrix", matrix), ("rho", rho)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "rho_scale", scale)

    # -- shape ------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.mean.shape[0])

    @property
    def n_coords(self) -> int:
        """Number of discriminant coordinates."""
        return int(self.matrix.shape[0])

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the numbers: mean, matrix, rho (float64, little-endian) and rho_scale."""
        h = hashlib.sha256(b"fuzzykey.DiscriminantTransform.v1\x00")
        for a in (self.mean, self.matrix, self.rho, np.array([self.rho_scale])):
            h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
        return h.hexdigest()

    # -- use --------------------------------------------------------------------
    def apply(self, x: Any) -> NDArray[np.float64]:
        """Coordinates of embeddings ``(N, dim)`` (or ``(dim,)``): ``(N, n_coords)``."""
        a = np.asarray(x, dtype=np.float64)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != self.dim:
            raise InvalidArgument(f"embeddings must have shape (N, {self.dim}), got {np.shape(x)}")
        out: NDArray[np.float64] = (a - self.mean) @ self.matrix.T
        return out

    def rho_for(self, photos: int) -> NDArray[np.float64]:
        """The decoding correlation of each coordinate when enrollment averages ``photos`` photos:
        :math:`r / \\sqrt{r + (1 - r)/m}` with :math:`r` = ``rho_scale * rho``."""
        m = as_int(photos, "photos")
        if m < 1:
            raise InvalidArgument(f"photos must be >= 1, got {m}")
        r = self.rho * self.rho_scale
        out: NDArray[np.float64] = np.minimum(r / np.sqrt(r + (1.0 - r) / m), RHO_MAX)
        return out

    def enroll_coords(self, x: Any) -> tuple[NDArray[np.float64], int]:
        """The unit-variance coordinates of one person's photos ``(m, dim)``: their mean, divided
        by its standard deviation :math:`\\sqrt{r + (1 - r)/m}`, and m."""
        z = self.apply(x)
        m = z.shape[0]
        r = self.rho * self.rho_scale
        out: NDArray[np.float64] = z.mean(axis=0) / np.sqrt(r + (1.0 - r) / m)
        return out, m

    # -- fitting and files ---------------------------------------------------------
    @classmethod
    def fit(
        cls,
        x: Any,
        labels: Any,
        *,
        shrink: float = 0.5,
        cap: int = 6,
        rho_scale: float = 1.0,
        name: str = "custom",
        provenance: dict[str, Any] | None = None,
    ) -> DiscriminantTransform:
        """Fit on unit-norm embeddings ``(N, dim)`` with person ``labels`` (N,), as in the module docs.

        Needs at least two people with two photos or more.
        """
        a = np.asarray(x, dtype=np.float64)
        lab = np.asarray(labels)
        if a.ndim != 2 or lab.shape != (a.shape[0],):
            raise InvalidArgument(f"x must be (N, dim) and labels (N,); got {a.shape} and {lab.shape}")
        if not np.isfinite(a).all():
            raise InvalidArgument("x must be finite")
        s = float(shrink)
        if not 0.0 <= s <= 1.0:
            raise InvalidArgument(f"shrink must be in [0, 1], got {shrink!r}")
        cap = as_int(cap, "cap")
        if cap < 2:
            raise InvalidArgument(f"cap must be >= 2, got {cap}")
        _, inverse = np.unique(lab, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)
        groups = [g[:cap] for g in groups]
        d = a.shape[1]
        within = np.zeros((d, d))
        dof = 0
        for g in groups:
            if len(g) >= 2:
                dev = a[g] - a[g].mean(axis=0)
                within += dev.T @ dev
                dof += len(g) - 1
        if dof < 2 or len(groups) < 2:
            raise InvalidArgument("fitting needs at least two people with two photos or more")
        within /= dof
        within = (1.0 - s) * within + s * (np.trace(within) / d) * np.eye(d)
        means = np.stack([a[g].mean(axis=0) for g in groups])
        counts = np.array([len(g) for g in groups], dtype=np.float64)
        mu = means.mean(axis=0)
        centred = means - mu
        between = centred.T @ centred / len(groups) - within * float(np.mean(1.0 / counts))
        total = between + within
        ev, vec = np.linalg.eigh(total)
        ev = np.maximum(ev, ev.max() * 1e-6)
        whiten = (vec / np.sqrt(ev)) @ vec.T
        omega, u = np.linalg.eigh(whiten @ within @ whiten)
        rho = np.clip(1.0 - omega, 0.0, RHO_MAX)
        return cls(mu, u.T @ whiten, rho, rho_scale, name, dict(provenance or {}))

    def to_json(self) -> str:
        """The transform as JSON (what :func:`sface_discriminant` reads)."""
        return json.dumps(
            {
                "name": self.name,
                "provenance": self.provenance,
                "rho_scale": self.rho_scale,
                "digest": self.digest,
                "mean": self.mean.tolist(),
                "matrix": self.matrix.tolist(),
                "rho": self.rho.tolist(),
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> DiscriminantTransform:
        """Inverse of :meth:`to_json`; the digest must match the numbers."""
        try:
            doc = json.loads(text)
            t = cls(
                np.asarray(doc["mean"], dtype=np.float64),
                np.asarray(doc["matrix"], dtype=np.float64),
                np.asarray(doc["rho"], dtype=np.float64),
                float(doc["rho_scale"]),
                str(doc["name"]),
                dict(doc["provenance"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgument(f"not a DiscriminantTransform JSON document: {exc}") from exc
        if t.digest != doc.get("digest"):
            raise InvalidArgument(
                f"the transform's digest {doc.get('digest')!r} does not match its numbers ({t.digest})"
            )
        return t

    def __repr__(self) -> str:
        return (
            f"DiscriminantTransform(name={self.name!r}, dim={self.dim}, n_coords={self.n_coords}, "
            f"rho_scale={self.rho_scale}, digest='{self.digest[:16]}')"
        )


_SFACE: DiscriminantTransform | None = None


def sface_discriminant() -> DiscriminantTransform:
    """The transform shipped for SFace (``fuzzykey/data/sface_discriminant.json``), loaded once."""
    global _SFACE
    if _SFACE is None:
        text = resources.files("fuzzykey").joinpath("data/sface_discriminant.json").read_text("utf-8")
        _SFACE = DiscriminantTransform.from_json(text)
    return _SFACE
