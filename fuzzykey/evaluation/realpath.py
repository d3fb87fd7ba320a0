"""Keys through KeyGen's real path: enroll, reproduce, count the keys that come out.

:mod:`fuzzykey.evaluation.distances` *predicts* from Hamming distances whether
a key would come out; this module makes it come out, through
:meth:`KeyGen.enroll_embedding <fuzzykey.KeyGen.enroll_embedding>` and
:meth:`KeyGen.reproduce_embeddings <fuzzykey.KeyGen.reproduce_embeddings>`
(binarizer, BCH decoding, erasure trials, tag check, HKDF), so that a benchmark
can check the prediction and quote figures of the code users run.

A :class:`Trial` names rows of an embedding array: the rows one enrollment
averages, then genuine and impostor probe rows. :func:`attempts` runs trials
one by one, each enrollment with a fresh random 32-byte secret in the secret
mode (an impostor uses the enrollee's secret: the attacker has stolen it), and
:func:`count_keys` adds them up into :class:`KeyCounts`. A probe either gives
the enrolled key or none: a *different* key would mean the tag check failed,
and raises :class:`~fuzzykey.errors.FuzzyKeyError` instead of being counted.

Example:
    >>> import numpy as np
    >>> from fuzzykey import KeyGen
    >>> from fuzzykey.evaluation.realpath import Trial, count_keys
    >>> x = np.random.default_rng(0).standard_normal((3, 128)).astype(np.float32)
    >>> near = x[0] + 0.05 * x[1]  # the same face, a little changed
    >>> emb = np.vstack([x, near])
    >>> counts = count_keys(KeyGen(), "secret", emb, [Trial(0, genuine=[3], impostors=[1, 2])])
    >>> counts
    KeyCounts(enrollments=1, genuine=1, genuine_keys=1, impostor=2, impostor_keys=0)
    >>> counts.frr, counts.far
    (0.0, 0.0)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..binarizers import check_embeddings
from ..errors import FuzzyKeyError, InvalidArgument
from ..header import Mode
from ..keygen import Enrollment, KeyGen

__all__ = ["SECRET_BYTES", "Rows", "Trial", "Attempt", "KeyCounts", "attempts", "count_keys"]

SECRET_BYTES = 32
"""Length of the random secret each secret-mode enrollment gets."""


Rows = int | Sequence[int] | NDArray[np.integer[Any]]
"""One row index, or several."""


def _rows(value: Rows, name: str) -> NDArray[np.int64]:
    rows = np.atleast_1d(np.asarray(value))
    if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
        raise InvalidArgument(
            f"{name} must be row indices (ints), got shape {rows.shape}, dtype {rows.dtype}"
        )
    return rows.astype(np.int64)


class Trial:
    """One enrollment and the probes tried against it, as row indices of an embedding array.

    ``enroll`` is a row or several (one enrollment from their average, as
    :meth:`KeyGen.enroll_embedding <fuzzykey.KeyGen.enroll_embedding>` does);
    ``genuine`` and ``impostors`` are probe rows, tried in that order.
    """

    __slots__ = ("enroll", "genuine", "impostors")

    def __init__(self, enroll: Rows, genuine: Rows = (), impostors: Rows = ()) -> None:
        self.enroll = _rows(enroll, "enroll")
        self.genuine = _rows(genuine, "genuine")
        self.impostors = _rows(impostors, "impostors")
        if not len(self.enroll):
            raise InvalidArgument("a trial needs at least one enrollment row, got none")

    @property
    def probes(self) -> NDArray[np.int64]:
        """Genuine then impostor probe rows."""
        return np.concatenate([self.genuine, self.impostors])

    def __repr__(self) -> str:
        return (
            f"Trial(enroll={self.enroll.tolist()}, genuine={self.genuine.tolist()}, "
            f"impostors={self.impostors.tolist()})"
        )


@dataclass(frozen=True)
class Attempt:
    """What came out of one :class:`Trial`."""

    trial: Trial
    enrollment: Enrollment
    """The key and the helper."""
    secret: bytes | None
    """The enrollment's secret (None in the face-only mode)."""
    reproduced: NDArray[np.bool_]
    """Per probe of ``trial.probes``: the enrolled key came out."""

    @property
    def genuine_keys(self) -> int:
        """Genuine probes that reproduced the key."""
        return int(np.count_nonzero(self.reproduced[: len(self.trial.genuine)]))

    @property
    def impostor_keys(self) -> int:
        """Impostor probes that reproduced the key (false accepts)."""
        return int(np.count_nonzero(self.reproduced[len(self.trial.genuine) :]))


@dataclass(frozen=True)
class KeyCounts:
    """Probes tried and keys reproduced, over many :class:`Attempt` s."""

    enrollments: int = 0
    genuine: int = 0
    genuine_keys: int = 0
    impostor: int = 0
    impostor_keys: int = 0

    def add(self, attempt: Attempt) -> KeyCounts:
        """These counts and one more attempt's."""
        return KeyCounts(
            self.enrollments + 1,
            self.genuine + len(attempt.trial.genuine),
            self.genuine_keys + attempt.genuine_keys,
            self.impostor + len(attempt.trial.impostors),
            self.impostor_keys + attempt.impostor_keys,
        )

    @property
    def frr(self) -> float:
        """1 - genuine_keys / genuine (NaN without genuine probes)."""
        return 1.0 - self.genuine_keys / self.genuine if self.genuine else math.nan

    @property
    def far(self) -> float:
        """impostor_keys / impostor (NaN without impostor probes)."""
        return self.impostor_keys / self.impostor if self.impostor else math.nan


def attempts(kg: KeyGen, mode: Mode, emb: Any, trials: Iterable[Trial]) -> Iterator[Attempt]:
    """Run each trial through ``kg`` in ``mode``, in order, and yield what came out.

    ``emb`` is the ``(N, dim)`` embedding array the trials index. In the secret
    mode every enrollment draws its secret from :func:`os.urandom`, and every
    probe of the trial uses it.

    Raises:
        FuzzyKeyError: a probe reproduced a key other than the enrolled one.
    """
    x = check_embeddings(emb, kg.binarizer(mode).dim, "emb")
    for trial in trials:
        secret = os.urandom(SECRET_BYTES) if mode == "secret" else None
        enrollment = kg.enroll_scheme(x[trial.enroll], mode, secret=secret)
        probes = trial.probes
        keys = kg.reproduce_embeddings(x[probes], enrollment.helper, secret=secret) if len(probes) else []
        wrong = [int(row) for row, key in zip(probes, keys, strict=True) if key not in (None, enrollment.key)]
        if wrong:
            raise FuzzyKeyError(
                f"KeyGen gave probe row {wrong[0]} a key other than the one enrolled from rows "
                f"{trial.enroll.tolist()}; the tag check should make this impossible: a bug"
            )
        reproduced = np.array([key is not None for key in keys], dtype=np.bool_)
        yield Attempt(trial, enrollment, secret, reproduced)


def count_keys(kg: KeyGen, mode: Mode, emb: Any, trials: Iterable[Trial]) -> KeyCounts:
    """:class:`KeyCounts` of :func:`attempts` over ``trials``."""
    counts = KeyCounts()
    for attempt in attempts(kg, mode, emb, trials):
        counts = counts.add(attempt)
    return counts
