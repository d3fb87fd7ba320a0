r"""Key error rates for every BCH correction capacity t, and the operating point a report quotes.

A bounded-distance BCH decoder of capacity :math:`t` reproduces the key exactly
when the Hamming distance between the enrolled and the probe bits is at most
:math:`t` (:mod:`fuzzykey.evaluation.distances`). With genuine distances
:math:`G` and impostor distances :math:`I`,

.. math::

    \mathrm{FRR}(t) = \frac{|\{g \in G : g > t\}|}{|G|}, \qquad
    \mathrm{FAR}(t) = \frac{|\{i \in I : i \le t\}|}{|I|},

so one pass over the distances gives the whole DET curve of the code family
:math:`\mathrm{BCH}(m, t)` shortened to length :math:`n`
(:func:`error_rate_sweep`), each point labelled with the code's dimension
:math:`k` (at most :math:`k` bits of key entropy given the helper).

The point the reports quote (:func:`best_point`) is the lowest FRR among
points with FAR at most :data:`FAR_TARGET` (0.1 %), ties to the larger
:math:`k`; :func:`far_bits` turns its FAR into bits, falling back on the rule
of three when no impostor got through: with 0 successes in :math:`N` trials,
:math:`(1 - p)^N \ge 0.05` gives the 95 % upper bound
:math:`p \le 1 - 0.05^{1/N} \approx 3/N`.

Example:
    >>> import numpy as np
    >>> from fuzzykey import BCHCode
    >>> from fuzzykey.evaluation.operating_points import best_point, error_rate_sweep, far_bits, point_at
    >>> code = BCHCode(5, 1)  # length 31: t = 1..14 exist
    >>> curve = error_rate_sweep(code, np.array([1, 2, 3, 9]), np.array([6, 12, 15, 20]))
    >>> for p in curve[:6]:
    ...     print(p["t"], p["k"], p["frr"], p["far"])
    1 26 0.75 0.0
    2 21 0.5 0.0
    3 16 0.25 0.0
    4 11 0.25 0.0
    5 11 0.25 0.0
    6 6 0.25 0.25
    >>> best_point(curve)  # FRR 25 % at t = 3, 4, 5 with no impostor in: the largest k wins
    {'t': 3, 'k': 16, 'frr': 0.25, 'far': 0.0}
    >>> point_at(curve, 9)
    {'t': 9, 'k': 1, 'frr': 0.0, 'far': 0.25}
    >>> far_bits(0.0, 4)  # no impostor got through: -log2(3/4), an upper bound of FAR
    (0.4150374992788438, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray

from .._checks import as_int
from ..bch import BCHCode
from ..errors import FuzzyKeyError, InvalidArgument

__all__ = ["FAR_TARGET", "OperatingPoint", "error_rate_sweep", "point_at", "best_point", "far_bits"]

FAR_TARGET = 1e-3
"""The FAR a quoted operating point must not exceed (0.1 %)."""


class OperatingPoint(TypedDict):
    """One point of a sweep: capacity ``t``, code dimension ``k``, and the measured rates."""

    t: int
    k: int
    frr: float
    far: float


def _distances(values: Any, name: str) -> NDArray[Any]:
    d = np.asarray(values)
    if d.ndim != 1 or d.size == 0 or d.dtype.kind not in "iu":
        raise InvalidArgument(
            f"{name} must be a non-empty 1-D integer array of distances, got shape {d.shape}, dtype {d.dtype}"
        )
    return d


def error_rate_sweep(code: BCHCode, gen: NDArray[np.int32], imp: NDArray[np.int32]) -> list[OperatingPoint]:
    r"""FRR and FAR of a bounded-distance decoder for every t of ``code``'s length.

    ``gen`` and ``imp`` are genuine and impostor Hamming distances; decoding
    succeeds exactly when the distance is at most t. One point per
    :math:`t = 1, 2, \ldots, 2^{m-1} - 2` while a BCH code of ``code``'s m and
    length n with that t exists (the family's last t, the repetition code's
    :math:`2^{m-1} - 1`, is left out). FRR is computed as
    :math:`1 - |\{g \le t\}| / |G|`.
    """
    gs, im = np.sort(_distances(gen, "gen")), np.sort(_distances(imp, "imp"))
    rows: list[OperatingPoint] = []
    for t in range(1, code.full_length // 2):
        try:
            k = BCHCode(code.m, t, code.n).k
        except FuzzyKeyError:
            break
        frr = 1.0 - np.searchsorted(gs, t, side="right") / len(gs)
        far = np.searchsorted(im, t, side="right") / len(im)
        rows.append({"t": t, "k": k, "frr": float(frr), "far": float(far)})
    return rows


def point_at(curve: Sequence[OperatingPoint], t: int) -> OperatingPoint:
    """The point of ``curve`` at capacity ``t``."""
    t = as_int(t, "t")
    for point in curve:
        if point["t"] == t:
            return point
    span = f"t = {curve[0]['t']}..{curve[-1]['t']}" if curve else "no point"
    raise InvalidArgument(f"the sweep has no point at t = {t} (it has {span})")


def best_point(curve: Sequence[OperatingPoint], far_target: float = FAR_TARGET) -> OperatingPoint | None:
    """The lowest-FRR point with FAR at most ``far_target``, ties to the larger k; None if none.

    Among equal FRRs the larger k is the stronger code for the same
    convenience. The point can have a tiny k (face-only keys reach FAR 0.1 %
    only at k = 1 on LFW): read its ``k`` before quoting it as a key.
    """
    if not 0.0 <= far_target <= 1.0:
        raise InvalidArgument(f"far_target must be in [0, 1], got {far_target!r}")
    ok = [p for p in curve if p["far"] <= far_target]
    return min(ok, key=lambda p: (p["frr"], -p["k"])) if ok else None


def far_bits(far: float, n_impostor: int) -> tuple[float, bool]:
    """:math:`-\\log_2` FAR, and whether it is of the rule-of-three bound 3/N (no impostor got through)."""
    n = as_int(n_impostor, "n_impostor")
    if n < 1:
        raise InvalidArgument(f"n_impostor must be >= 1, got {n}")
    if not 0.0 <= far <= 1.0:
        raise InvalidArgument(f"far must be in [0, 1], got {far!r}")
    return (-math.log2(far), False) if far > 0 else (-math.log2(3.0 / n), True)
