"""Which comparisons an evaluation makes: genuine and impostor index pairs from identity labels.

Every figure of the evaluation layer compares two rows of an embedding array:
an *enrollment* row and a *probe* row. This module chooses the rows from the
rows' identity labels (one integer per row, the person), so the benchmarks
agree on what a genuine and an impostor comparison is:

* :func:`genuine_pairs`: every unordered same-person pair :math:`(i, j)`,
  :math:`i < j`; a person with :math:`c` rows gives :math:`c(c-1)/2` of them;
* :func:`impostor_pairs`: ordered cross-person pairs, all
  :math:`N^2 - \\sum_p c_p^2` of them or a uniform sample;
* :func:`impostor_probes`: for each enrollment, probes drawn without
  replacement from the other people's rows;
* :func:`first_photos`: the first photos of each person with two or more, the
  rows a benchmark enrolls.

Random draws come from a :class:`numpy.random.Generator` passed in, in a
documented order, so that a seed reproduces a benchmark's figures.

Example:
    >>> import numpy as np
    >>> from fuzzykey.evaluation.pairs import first_photos, genuine_pairs, impostor_pairs
    >>> labels = np.array([0, 0, 0, 1, 2, 2])
    >>> genuine_pairs(labels).tolist()
    [[0, 1], [0, 2], [1, 2], [4, 5]]
    >>> pairs, total = impostor_pairs(labels, 100, np.random.default_rng(0))
    >>> len(pairs), total  # 36 ordered pairs less 9 + 1 + 4 same-person ones: all of them
    (22, 22)
    >>> first_photos(labels, 2).tolist()  # person 1 has one photo only
    [True, True, False, False, True, True]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._checks import as_int
from ..errors import InvalidArgument

__all__ = [
    "check_pairs",
    "genuine_pairs",
    "impostor_pairs",
    "impostor_probes",
    "first_photos",
]


def _check_labels(labels: Any) -> NDArray[np.int64]:
    """``labels`` as a 1-D int64 array of non-negative identity labels."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.dtype.kind not in "iu":
        raise InvalidArgument(f"labels must be a 1-D integer array, got shape {lab.shape}, dtype {lab.dtype}")
    if lab.size and int(lab.min()) < 0:
        raise InvalidArgument(f"labels must be >= 0, got {int(lab.min())}")
    return lab.astype(np.int64, copy=False)


def check_pairs(pairs: Any, n_rows: int) -> NDArray[np.int64]:
    """``pairs`` as a ``(P, 2)`` int64 array of row indices in ``[0, n_rows)``."""
    p = np.asarray(pairs)
    if p.ndim != 2 or p.shape[1] != 2 or (p.size and p.dtype.kind not in "iu"):
        raise InvalidArgument(f"pairs must be an integer (P, 2) array, got shape {p.shape}, dtype {p.dtype}")
    if p.size and (int(p.min()) < 0 or int(p.max()) >= n_rows):
        bad = int(p.min()) if int(p.min()) < 0 else int(p.max())
        raise InvalidArgument(f"pairs index rows 0..{n_rows - 1}, got {bad}")
    return p.astype(np.int64, copy=False)


def genuine_pairs(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """Every same-label pair ``(i, j)``, ``i < j``, as a ``(P, 2)`` index array.

    People in increasing label order, each person's pairs in row-major order
    of :func:`numpy.triu_indices`.
    """
    lab = _check_labels(labels)
    out = []
    for person in np.unique(lab):
        idx = np.flatnonzero(lab == person)
        if len(idx) >= 2:
            a, b = np.triu_indices(len(idx), k=1)
            out.append(np.stack([idx[a], idx[b]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def impostor_pairs(
    labels: NDArray[np.int64], count: int, rng: np.random.Generator
) -> tuple[NDArray[np.int64], int]:
    """Cross-person ordered pairs, and how many exist.

    With :math:`c_p` rows of person :math:`p` and :math:`N = \\sum_p c_p`,
    :math:`N^2 - \\sum_p c_p^2` ordered pairs of rows of different people
    exist. When that is at most ``count`` all of them come back, in row-major
    order, and ``rng`` is not drawn from; otherwise ``count`` pairs drawn
    uniformly with replacement (rows drawn uniformly, same-person draws
    rejected).
    """
    lab = _check_labels(labels)
    count = as_int(count, "count")
    if count < 0:
        raise InvalidArgument(f"count must be >= 0, got {count}")
    n = len(lab)
    sizes = np.bincount(lab)
    total = n * n - int(np.sum(sizes.astype(np.int64) ** 2))
    if total <= count:
        a, b = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        keep = lab[a.ravel()] != lab[b.ravel()]
        return np.stack([a.ravel()[keep], b.ravel()[keep]], axis=1), total
    picked = np.empty((0, 2), dtype=np.int64)
    while len(picked) < count:
        draw = rng.integers(0, n, size=(int((count - len(picked)) * 1.2) + 16, 2))
        draw = draw[lab[draw[:, 0]] != lab[draw[:, 1]]]
        picked = np.concatenate([picked, draw])
    return picked[:count], total


def impostor_probes(
    labels: NDArray[np.int64],
    enrollees: Sequence[int] | NDArray[np.int64],
    count: int,
    rng: np.random.Generator,
) -> list[NDArray[np.int64]]:
    """For each enrollee row in order, ``count`` rows of other people, drawn without replacement.

    Each list entry is ``rng.choice(others, size=min(count, len(others)),
    replace=False)`` where ``others`` are the rows whose label differs from
    the enrollee's; the draws are made in the order of ``enrollees``.
    """
    lab = _check_labels(labels)
    count = as_int(count, "count")
    if count < 0:
        raise InvalidArgument(f"count must be >= 0, got {count}")
    out = []
    for row in np.asarray(enrollees, dtype=np.int64).tolist():
        if not 0 <= row < len(lab):
            raise InvalidArgument(f"enrollees index rows 0..{len(lab) - 1}, got {row}")
        others = np.flatnonzero(lab != lab[row])
        out.append(rng.choice(others, size=min(count, len(others)), replace=False))
    return out


def first_photos(labels: NDArray[np.int64], per_person: int) -> NDArray[np.bool_]:
    """Mask of the first ``per_person`` rows of each label that has two or more rows.

    People with a single photo give no genuine comparison, so they are left
    out; "first" is the order of the rows.
    """
    lab = _check_labels(labels)
    per_person = as_int(per_person, "per_person")
    if per_person < 1:
        raise InvalidArgument(f"per_person must be >= 1, got {per_person}")
    keep = np.zeros(len(lab), dtype=bool)
    for person in np.unique(lab):
        idx = np.flatnonzero(lab == person)
        if len(idx) >= 2:
            keep[idx[:per_person]] = True
    return keep
