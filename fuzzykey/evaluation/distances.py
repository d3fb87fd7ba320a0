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

The projections are computed in float64, from float32 inputs (the
binarizers' unit rows, the rotations of
:func:`~fuzzykey.binarizers.haar_rotations`, the public rows): a float32
matrix product rounds each entry differently depending on how BLAS splits it
(threads, rows per call), which flips the sign of a projection within
rounding of zero about once in 10^7 projections, so two machines, or two
shardings of the work, would disagree on a few comparisons in a million. In
float64 the rounding is 2^29 times smaller than the float32 inputs' spacing
and the bits no longer depend on how the work is split. They can differ from
KeyGen's own float32 bits where a projection is within float32 rounding of
zero, as KeyGen's bits can between two machines.

Each enrollee gets its own random rotation, drawn from a
:class:`numpy.random.Generator` (32 random bytes per enrollee, enrollees in
increasing row order, :func:`enrollee_seeds`), as each KeyGen enrollment gets
its own secret.

Error rates need only how many comparisons fall at each distance, so impostor
comparisons can be counted rather than kept: :func:`pair_histogram` (given
pairs), :func:`cross_person_histogram` (every ordered pair of rows of two
different people, enumerated enrollee by enrollee, never held in memory) and
:func:`sampled_histogram` (a stated number of uniform cross-person pairs, drawn
shard by shard). Their shards are blocks of :data:`ENROLLEES_PER_BATCH`
enrollees, the unit in which the secret rotations are computed, so any split
of the work into shards gives bit for bit the same counts:
:class:`LocalDistances` runs them here, and ``fuzzykey.distributed.RayDistances``
as Ray tasks, both :class:`DistanceEngine`\ s.

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

from collections.abc import Iterator
from typing import Protocol

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
from .pairs import check_pairs, impostor_pairs

__all__ = [
    "ENROLLEES_PER_BATCH",
    "SEED_BYTES",
    "secret_distances",
    "face_distances",
    "key_distances",
    "enrollee_seeds",
    "draw_seeds",
    "seeded_key_distances",
    "pair_histogram",
    "pair_shards",
    "cross_person_histogram",
    "cross_person_shards",
    "sampled_histogram",
    "sample_shards",
    "DistanceEngine",
    "LocalDistances",
]

ENROLLEES_PER_BATCH = 64
"""Enrollees whose rotations and enrolled bits are computed together (one matrix product).

Floating-point matrix products round each row differently depending on how many
rows they multiply, so the same enrollee batches give the same bits: shards
of work are whole batches of this many distinct enrollees."""
SEED_BYTES = 32
"""Bytes of the random seed of each enrollee's secret rotation."""
_PAIRS_PER_BATCH = 200_000
_PAIRS_PER_SHARD = 1_000_000


def secret_distances(
    psi: SecretSelectBinarizer, x: NDArray[np.float32], pairs: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.int32]:
    """Hamming distances of the secret scheme, each enrollee with its own random rotation.

    Row i of ``pairs`` enrolls image ``pairs[i, 0]`` (with a fresh random seed
    ``rng.bytes(32)`` per enrollee, enrollees visited in increasing order) and
    probes with ``pairs[i, 1]``; the bits are those of
    :class:`~fuzzykey.binarizers.SecretSelectBinarizer` (the projections in
    float64, see the module docstring).
    """
    x = check_embeddings(x, psi.dim, "x")
    pairs = check_pairs(pairs, len(x))
    return _seeded_secret_distances(psi, x, pairs, enrollee_seeds(pairs, len(x), rng))


def enrollee_seeds(pairs: NDArray[np.int64], n_rows: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """The rotation seed of each enrollee of ``pairs``, as :func:`secret_distances` draws them.

    Returns an ``(n_rows, 32)`` array: row ``r`` holds ``rng.bytes(32)`` if
    ``r`` enrolls in some pair (enrollees drawn in increasing row order), zeros
    otherwise.
    """
    pairs = check_pairs(pairs, n_rows)
    rows = np.unique(pairs[:, 0])
    out = np.zeros((n_rows, SEED_BYTES), dtype=np.uint8)
    # one draw of 32 bytes per enrollee in order is the same stream as one draw of all of them
    out[rows] = np.frombuffer(rng.bytes(SEED_BYTES * len(rows)), dtype=np.uint8).reshape(-1, SEED_BYTES)
    return out


def _unit_rows64(psi: SecretSelectBinarizer | SignBinarizer, x: NDArray[np.float32]) -> NDArray[np.float64]:
    """The binarizer's centred, unit-norm rows (in float32, as it computes them), as float64."""
    z = x - psi.center.values
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    return z.astype(np.float64)


def _seeded_secret_distances(
    psi: SecretSelectBinarizer, x: NDArray[np.float32], pairs: NDArray[np.int64], seeds: NDArray[np.uint8]
) -> NDArray[np.int32]:
    out = np.empty(len(pairs), dtype=np.int32)
    if not len(pairs):
        return out
    z = _unit_rows64(psi, x)
    p_all = public_projections(psi.n_candidates, psi.dim).astype(np.float64)
    order = np.argsort(pairs[:, 0], kind="stable")
    sorted_pairs = pairs[order]
    starts = np.flatnonzero(np.r_[True, np.diff(sorted_pairs[:, 0]) != 0])
    ends = np.r_[starts[1:], len(sorted_pairs)]
    for b0 in range(0, len(starts), ENROLLEES_PER_BATCH):
        group = range(b0, min(b0 + ENROLLEES_PER_BATCH, len(starts)))
        enrollees = sorted_pairs[starts[list(group)], 0]
        qs = haar_rotations([seeds[e].tobytes() for e in enrollees], psi.dim).astype(np.float64)
        v = np.einsum("bij,bj->bi", qs, z[enrollees])
        y = v @ p_all.T
        sel = np.argpartition(-np.abs(y), psi.n_bits - 1, axis=1)[:, : psi.n_bits]
        enrolled = np.take_along_axis(y, sel, axis=1) > 0
        for slot, g in enumerate(group):
            s, e = starts[g], ends[g]
            probes = (z[sorted_pairs[s:e, 1]] @ qs[slot].T) @ p_all[sel[slot]].T
            out[order[s:e]] = np.count_nonzero((probes > 0) != enrolled[slot], axis=1)
    return out


def _face_bits(psi: SignBinarizer, x: NDArray[np.float32]) -> NDArray[np.uint8]:
    """The signs of ``psi``'s public projections of each row, packed (8 bits a byte)."""
    z = _unit_rows64(psi, check_embeddings(x, psi.dim, "x"))
    return np.packbits(z @ public_projections(psi.n_bits, psi.dim).astype(np.float64).T > 0, axis=1)


def face_distances(psi: SignBinarizer, x: NDArray[np.float32], pairs: NDArray[np.int64]) -> NDArray[np.int32]:
    """Hamming distances of the face-only scheme's bits of ``x[pairs[:, 0]]`` and ``x[pairs[:, 1]]``."""
    packed = _face_bits(psi, x)
    pairs = check_pairs(pairs, len(packed))
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


# --------------------------------------------------------------------------- seeded distances, histograms
def draw_seeds(
    kg: KeyGen, mode: Mode, pairs: NDArray[np.int64], n_rows: int, rng: np.random.Generator
) -> NDArray[np.uint8] | None:
    """The seeds :func:`key_distances` would draw for ``pairs``: :func:`enrollee_seeds` in secret
    mode, None (``rng`` untouched) in face-only mode."""
    return enrollee_seeds(pairs, n_rows, rng) if _secret_psi(kg, mode) is not None else None


def _secret_psi(kg: KeyGen, mode: Mode) -> SecretSelectBinarizer | None:
    psi = kg.binarizer(mode)
    if mode == "secret" and isinstance(psi, SecretSelectBinarizer):
        return psi
    if mode == "face-only" and isinstance(psi, SignBinarizer):
        return None
    raise InvalidArgument(
        f"distances are computed for SecretSelectBinarizer (secret mode) and SignBinarizer "
        f"(face-only mode); the {mode} mode has {type(psi).__name__}"
    )


def _check_seeds(seeds: NDArray[np.uint8] | None, n_rows: int, secret: bool) -> NDArray[np.uint8]:
    if not secret:
        return np.zeros((n_rows, SEED_BYTES), dtype=np.uint8)
    s = np.asarray(seeds) if seeds is not None else None
    if s is None or s.shape != (n_rows, SEED_BYTES) or s.dtype != np.uint8:
        got = "None" if s is None else f"shape {s.shape}, dtype {s.dtype}"
        raise InvalidArgument(
            f"secret mode needs seeds, a uint8 array of shape ({n_rows}, {SEED_BYTES}); got {got}"
        )
    return s


def seeded_key_distances(
    kg: KeyGen,
    mode: Mode,
    x: NDArray[np.float32],
    pairs: NDArray[np.int64],
    seeds: NDArray[np.uint8] | None,
) -> NDArray[np.int32]:
    """:func:`key_distances` with the rotation seeds given instead of drawn.

    ``seeds`` is an ``(N, 32)`` uint8 array, row ``r`` the seed of enrollee
    ``r``'s rotation (from :func:`enrollee_seeds` or :func:`draw_seeds`); it is
    ignored (may be None) in face-only mode. With the seeds :func:`draw_seeds`
    returns, the distances are those :func:`key_distances` gives.
    """
    psi = _secret_psi(kg, mode)
    if psi is None:
        face = kg.binarizer(mode)
        assert isinstance(face, SignBinarizer)
        return face_distances(face, x, pairs)
    x = check_embeddings(x, psi.dim, "x")
    pairs = check_pairs(pairs, len(x))
    return _seeded_secret_distances(psi, x, pairs, _check_seeds(seeds, len(x), True))


def _histogram(d: NDArray[np.int32], n_bits: int) -> NDArray[np.int64]:
    return np.bincount(d, minlength=n_bits + 1).astype(np.int64)


def pair_shards(
    pairs: NDArray[np.int64], n_rows: int, pairs_per_shard: int = _PAIRS_PER_SHARD
) -> list[NDArray[np.int64]]:
    """``pairs`` cut into shards of whole enrollee batches, about ``pairs_per_shard`` pairs each.

    The pairs are ordered by enrollee (stably); a shard holds every pair of
    the :data:`ENROLLEES_PER_BATCH`-enrollee batches it covers, so that each
    shard's distances are those of the whole (see the module docstring).
    """
    pairs = check_pairs(pairs, n_rows)
    if pairs_per_shard < 1:
        raise InvalidArgument(f"pairs_per_shard must be >= 1, got {pairs_per_shard}")
    if not len(pairs):
        return []
    ordered = pairs[np.argsort(pairs[:, 0], kind="stable")]
    starts = np.flatnonzero(np.r_[True, np.diff(ordered[:, 0]) != 0])
    batch_starts = np.r_[starts[::ENROLLEES_PER_BATCH], len(ordered)]
    shards, begin = [], 0
    for end in batch_starts[1:]:
        if end - begin >= pairs_per_shard or end == len(ordered):
            shards.append(ordered[begin:end])
            begin = int(end)
    return shards


def pair_histogram(
    kg: KeyGen, mode: Mode, x: NDArray[np.float32], pairs: NDArray[np.int64], seeds: NDArray[np.uint8] | None
) -> NDArray[np.int64]:
    """How many ``pairs`` fall at each Hamming distance 0..n: ``(n + 1,)`` int64 counts.

    ``np.bincount`` of :func:`seeded_key_distances`; any shards of
    :func:`pair_shards` summed give the same counts.
    """
    n_bits = kg.binarizer(mode).n_bits
    return _histogram(seeded_key_distances(kg, mode, x, pairs, seeds), n_bits)


def cross_person_shards(labels: NDArray[np.int64], pairs_per_shard: int = _PAIRS_PER_SHARD) -> list[range]:
    """Enrollee rows ``range(a, b)`` covering every row, whole enrollee batches, about
    ``pairs_per_shard`` cross-person pairs each (each enrollee meets every other person's row)."""
    n = len(np.asarray(labels))
    if pairs_per_shard < 1:
        raise InvalidArgument(f"pairs_per_shard must be >= 1, got {pairs_per_shard}")
    per_batch = max(1, pairs_per_shard // max(1, n * ENROLLEES_PER_BATCH))
    step = per_batch * ENROLLEES_PER_BATCH
    return [range(a, min(a + step, n)) for a in range(0, n, step)]


def _enrollee_chunks(labels: NDArray[np.int64], rows: range) -> Iterator[NDArray[np.int64]]:
    """The cross-person pairs of ``rows``, one enrollee batch at a time, in row-major order."""
    for a in range(rows.start, rows.stop, ENROLLEES_PER_BATCH):
        enrollees = np.arange(a, min(a + ENROLLEES_PER_BATCH, rows.stop))
        parts = [np.flatnonzero(labels != labels[e]) for e in enrollees]
        yield np.concatenate(
            [
                np.stack([np.full(len(p), e, dtype=np.int64), p], axis=1)
                for e, p in zip(enrollees, parts, strict=True)
            ]
        )


def cross_person_histogram(
    kg: KeyGen,
    mode: Mode,
    x: NDArray[np.float32],
    labels: NDArray[np.int64],
    seeds: NDArray[np.uint8] | None,
    rows: range | None = None,
) -> NDArray[np.int64]:
    """Counts of the Hamming distances of every ordered pair ``(i, j)`` with ``labels[i] != labels[j]``.

    These are the pairs :func:`~fuzzykey.evaluation.pairs.impostor_pairs`
    returns when it returns all of them, :math:`N^2 - \\sum_p c_p^2`, generated
    one enrollee batch at a time (memory ~ batch x N, not N^2). ``rows``
    restricts the enrollees to a shard (:func:`cross_person_shards`); every row
    by default. Equal to ``pair_histogram`` of all those pairs.
    """
    lab = np.asarray(labels, dtype=np.int64)
    secret = _secret_psi(kg, mode) is not None
    n_bits = kg.binarizer(mode).n_bits
    x = check_embeddings(x, kg.binarizer(mode).dim, "x")
    if lab.shape != (len(x),):
        raise InvalidArgument(f"labels must have shape ({len(x)},), got {lab.shape}")
    seeds = _check_seeds(seeds, len(x), secret)
    rows = range(len(x)) if rows is None else rows
    if rows.step != 1 or not 0 <= rows.start <= rows.stop <= len(x) or rows.start % ENROLLEES_PER_BATCH:
        raise InvalidArgument(
            f"rows must be range(a, b) within 0..{len(x)}, a a multiple of "
            f"{ENROLLEES_PER_BATCH}, got {rows!r}"
        )
    total = np.zeros(n_bits + 1, dtype=np.int64)
    if secret:
        for chunk in _enrollee_chunks(lab, rows):
            total += pair_histogram(kg, mode, x, chunk, seeds)
        return total
    face = kg.binarizer(mode)
    assert isinstance(face, SignBinarizer)
    packed = _face_bits(face, x)
    for e in rows:
        others = np.flatnonzero(lab != lab[e])
        total += _histogram(np.bitwise_count(packed[others] ^ packed[e]).sum(axis=1).astype(np.int32), n_bits)
    return total


def sample_shards(count: int, pairs_per_shard: int = _PAIRS_PER_SHARD) -> list[tuple[int, int]]:
    """``(shard index, pairs)`` of a sample of ``count`` pairs cut into shards of ``pairs_per_shard``."""
    if count < 0 or pairs_per_shard < 1:
        raise InvalidArgument(
            f"count must be >= 0 and pairs_per_shard >= 1, got {count} and {pairs_per_shard}"
        )
    return [(i, min(pairs_per_shard, count - a)) for i, a in enumerate(range(0, count, pairs_per_shard))]


def sampled_histogram(
    kg: KeyGen,
    mode: Mode,
    x: NDArray[np.float32],
    labels: NDArray[np.int64],
    seeds: NDArray[np.uint8] | None,
    count: int,
    seed: int,
    pairs_per_shard: int = _PAIRS_PER_SHARD,
    shards: list[tuple[int, int]] | None = None,
) -> NDArray[np.int64]:
    """Counts of the distances of ``count`` uniform cross-person pairs (with replacement).

    The sample is cut into :func:`sample_shards`; shard ``i`` draws its pairs
    with :func:`~fuzzykey.evaluation.pairs.impostor_pairs` from
    ``numpy.random.default_rng([seed, i])``, so the sample depends on ``seed``
    and ``pairs_per_shard``, not on where the shards run. ``shards`` restricts
    the work to some of them. Every enrollee of a secret-mode sample keeps the
    rotation of its row in ``seeds`` (one rotation per row, all rows seeded,
    e.g. ``np.random.default_rng(s).bytes(32 * N)``).
    """
    lab = np.asarray(labels, dtype=np.int64)
    n_bits = kg.binarizer(mode).n_bits
    total = np.zeros(n_bits + 1, dtype=np.int64)
    for index, size in sample_shards(count, pairs_per_shard) if shards is None else shards:
        pairs, _ = impostor_pairs(lab, size, np.random.default_rng([seed, index]))
        if len(pairs) == size:  # fewer cross-person pairs than asked: impostor_pairs gave all of them
            total += pair_histogram(kg, mode, x, pairs, seeds)
        else:
            raise InvalidArgument(
                f"a shard of {size:,} sampled pairs exceeds the {len(pairs):,} cross-person pairs; "
                f"count them all with cross_person_histogram"
            )
    return total


class DistanceEngine(Protocol):
    """Where impostor comparisons are counted: here (:class:`LocalDistances`) or on a Ray
    cluster (``fuzzykey.distributed.RayDistances``). Both give the same counts."""

    name: str

    def pair_histogram(
        self,
        kg: KeyGen,
        mode: Mode,
        x: NDArray[np.float32],
        pairs: NDArray[np.int64],
        seeds: NDArray[np.uint8] | None,
    ) -> NDArray[np.int64]:
        """:func:`pair_histogram`."""
        ...

    def cross_person_histogram(
        self,
        kg: KeyGen,
        mode: Mode,
        x: NDArray[np.float32],
        labels: NDArray[np.int64],
        seeds: NDArray[np.uint8] | None,
    ) -> NDArray[np.int64]:
        """:func:`cross_person_histogram` over every row."""
        ...


class LocalDistances:
    """The :class:`DistanceEngine` of one process: the functions of this module, shard after shard."""

    name = "local"

    def pair_histogram(
        self,
        kg: KeyGen,
        mode: Mode,
        x: NDArray[np.float32],
        pairs: NDArray[np.int64],
        seeds: NDArray[np.uint8] | None,
    ) -> NDArray[np.int64]:
        total = np.zeros(kg.binarizer(mode).n_bits + 1, dtype=np.int64)
        for shard in pair_shards(pairs, len(x)):
            total += pair_histogram(kg, mode, x, shard, seeds)
        return total

    def cross_person_histogram(
        self,
        kg: KeyGen,
        mode: Mode,
        x: NDArray[np.float32],
        labels: NDArray[np.int64],
        seeds: NDArray[np.uint8] | None,
    ) -> NDArray[np.int64]:
        return cross_person_histogram(kg, mode, x, labels, seeds)
