r"""Hamming distances between enrolled and probe bits, as KeyGen's binarizers compute them, in bulk.

KeyGen reproduces a key when the BCH decoder corrects the probe's bits back to
the enrolled ones. A bounded-distance decoder of correction capacity :math:`t`
succeeds exactly when the Hamming distance :math:`d_H(w, w')` between the two
bit strings is at most :math:`t`, so one distance per comparison tells whether
a key comes out for *every* :math:`t` at once
(:func:`fuzzykey.evaluation.operating_points.error_rate_sweep`). This module
computes those distances for up to millions of pairs of rows of an embedding
array, without making helpers:

* secret mode (:class:`~fuzzykey.binarizers.SecretSelectBinarizer`): the
  centred, unit-norm embedding :math:`z` of the enrollee is rotated by a secret
  Haar rotation :math:`Q`, projected on the public rows :math:`P`, and the
  :math:`n` largest :math:`|PQz|` are selected; the probe :math:`z'` is read on
  the same rotation and selection, and :math:`d_H` counts the sign changes;
* face-only mode (:class:`~fuzzykey.binarizers.SignBinarizer`): the signs of
  the first :math:`n` public projections of each side.

Each enrollee gets its own random rotation, drawn from a
:class:`numpy.random.Generator` (32 random bytes per enrollee, enrollees in
increasing row order), as each KeyGen enrollment gets its own secret.

Example:
    >>> import numpy as np
    >>> from fuzzykey import KeyGen
    >>> from fuzzykey.evaluation.distances import key_distances
    >>> x = np.random.default_rng(0).standard_normal((3, 128)).astype(np.float32)
    >>> pairs = np.array([[0, 0], [0, 1], [2, 1]])
    >>> d = key_distances(KeyGen(), "face-only", x, pairs, np.random.default_rng(1))
    >>> d.tolist()[0], bool(200 < d[1] < 800)  # a row against itself; two random rows
    (0, True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..binarizers import (
    SecretSelectBinarizer,
    SignBinarizer,
    check_embeddings,
    haar_rotations,
    public_projections,
)
from ..errors import InvalidArgument
from ..header import Mode
from ..keygen import KeyGen
from .pairs import check_pairs

__all__ = ["secret_distances", "face_distances", "key_distances"]

_ENROLLEES_PER_BATCH = 64
_PAIRS_PER_BATCH = 200_000


def secret_distances(
    psi: SecretSelectBinarizer, x: NDArray[np.float32], pairs: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.int32]:
    """Hamming distances of the secret scheme, each enrollee with its own random rotation.

    Row i of ``pairs`` enrolls image ``pairs[i, 0]`` (with a fresh random seed
    ``rng.bytes(32)`` per enrollee, enrollees visited in increasing order) and
    probes with ``pairs[i, 1]``; the bits are those of
    :class:`~fuzzykey.binarizers.SecretSelectBinarizer` (the rotations in
    float32, see :func:`~fuzzykey.binarizers.haar_rotations`).
    """
    x = check_embeddings(x, psi.dim, "x")
    pairs = check_pairs(pairs, len(x))
    out = np.empty(len(pairs), dtype=np.int32)
    if not len(pairs):
        return out
    z = x - psi.center.values
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    p_all = public_projections(psi.n_candidates, psi.dim)
    order = np.argsort(pairs[:, 0], kind="stable")
    sorted_pairs = pairs[order]
    starts = np.flatnonzero(np.r_[True, np.diff(sorted_pairs[:, 0]) != 0])
    ends = np.r_[starts[1:], len(sorted_pairs)]
    for b0 in range(0, len(starts), _ENROLLEES_PER_BATCH):
        group = range(b0, min(b0 + _ENROLLEES_PER_BATCH, len(starts)))
        enrollees = sorted_pairs[starts[list(group)], 0]
        qs = haar_rotations([rng.bytes(32) for _ in group], psi.dim)
        v = np.einsum("bij,bj->bi", qs, z[enrollees])
        y = v @ p_all.T
        sel = np.argpartition(-np.abs(y), psi.n_bits - 1, axis=1)[:, : psi.n_bits]
        enrolled = np.take_along_axis(y, sel, axis=1) > 0
        for slot, g in enumerate(group):
            s, e = starts[g], ends[g]
            probes = (z[sorted_pairs[s:e, 1]] @ qs[slot].T) @ p_all[sel[slot]].T
            out[order[s:e]] = np.count_nonzero((probes > 0) != enrolled[slot], axis=1)
    return out


def face_distances(psi: SignBinarizer, x: NDArray[np.float32], pairs: NDArray[np.int64]) -> NDArray[np.int32]:
    """Hamming distances of the face-only scheme's bits of ``x[pairs[:, 0]]`` and ``x[pairs[:, 1]]``."""
    bits, _ = psi.bits(x)
    pairs = check_pairs(pairs, len(bits))
    packed = np.packbits(bits, axis=1)
    out = np.empty(len(pairs), dtype=np.int32)
    for s in range(0, len(pairs), _PAIRS_PER_BATCH):
        p = pairs[s : s + _PAIRS_PER_BATCH]
        out[s : s + len(p)] = np.bitwise_count(packed[p[:, 0]] ^ packed[p[:, 1]]).sum(axis=1)
    return out


def key_distances(
    kg: KeyGen, mode: Mode, x: NDArray[np.float32], pairs: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.int32]:
    """Hamming distances of ``kg``'s ``mode`` for each row ``(enrollee, probe)`` of ``pairs``.

    :func:`secret_distances` (drawing from ``rng``) or :func:`face_distances`
    (``rng`` untouched) on ``kg``'s binarizer of that mode.
    """
    psi = kg.binarizer(mode)
    if mode == "secret" and isinstance(psi, SecretSelectBinarizer):
        return secret_distances(psi, x, pairs, rng)
    if mode == "face-only" and isinstance(psi, SignBinarizer):
        return face_distances(psi, x, pairs)
    raise InvalidArgument(
        f"distances are computed for SecretSelectBinarizer (secret mode) and SignBinarizer "
        f"(face-only mode); the {mode} mode has {type(psi).__name__}"
    )
