"""Memory-hard key stretching for the fuzzy extractor: Argon2id (RFC 9106).

Why: the helper's tag lets anyone who holds a helper test a guess of the
enrolled bits w (and of a secret) offline, one HKDF and one HMAC per guess. With
a :class:`Argon2id` passed as ``FuzzyExtractor(..., kdf=...)`` every guess costs
one Argon2id evaluation first: the extractor stretches its input keying material

.. math::

    \\mathrm{IKM} = \\mathrm{packbits}(w) \\,\\|\\, \\mathrm{suffix}(\\mathit{secret}),
    \\qquad S = \\mathrm{Argon2id}_{t, m, p}(\\text{password} = \\mathrm{IKM},
    \\ \\text{salt} = \\mathit{salt},\\ \\text{tag length} = 32)

and derives both the key and the tag's key from S with HKDF (see
:mod:`fuzzykey.extractor`). Argon2id with t passes over m KiB in p lanes makes an
attacker fill and read m KiB of memory t times per guess, which caps how many
guesses a GPU or an ASIC can run in parallel. It does not add entropy: a
code with k message bits still leaves at most :math:`2^k` candidates for w given
the helper; it multiplies the price of each one.

Argon2id is argon2-cffi's binding of the reference implementation
(:func:`argon2.low_level.hash_secret_raw` with ``Type.ID``, version 1.3 = 0x13);
this module only validates parameters and calls it.

The default cost, :meth:`Argon2id.default`, is ``Argon2id(time_cost=3,
memory_kib=65536, lanes=1)``: 64 MiB, three passes (RFC 9106's second
recommended option, t = 3 and 64 MiB), on one lane. Measured with
``benchmarks/argon2_cost.py`` (run recorded in
``benchmarks/results/argon2_cost.md``) on one pinned core of a 2-core AMD EPYC,
one evaluation took a median 0.26 s (time_cost 1: 0.11 s, 2: 0.17 s, 4:
0.35 s). Every time_cost from 1 up meets the target of at least 0.1 s and
64 MiB on one core, time_cost 1 only just; three passes keep the default above
0.1 s on a processor twice as fast. That is the price of every enrollment and
reproduction, and of every guess.

Reading a helper runs the KDF it names, so a hostile helper could name an
enormous cost. :class:`KdfLimits` bounds what a reader accepts; the default,
:meth:`KdfLimits.default`, is four times the default cost in time and in memory
(time_cost <= 12, memory <= 256 MiB) and at most 8 lanes, so the costliest
helper a default reader accepts takes about 16 times the default evaluation.
Parsing refuses anything above the limits at once, before any work (about
10 microseconds in the benchmark).

Example:
    >>> from fuzzykey.kdf import Argon2id, KdfLimits
    >>> Argon2id.default()
    Argon2id(time_cost=3, memory_kib=65536, lanes=1)
    >>> cheap = Argon2id(time_cost=1, memory_kib=8, lanes=1)   # for tests only
    >>> out = cheap.derive(b"input keying material", b"a salt of 8+ bytes")
    >>> len(out), out == cheap.derive(b"input keying material", b"a salt of 8+ bytes")
    (32, True)
    >>> KdfLimits.default().allows(Argon2id(12, 4 * 65536, 8))
    True
    >>> KdfLimits.default().allows(Argon2id(1, 4 * 1024 * 1024, 1))   # 4 GiB
    False
    >>> try:
    ...     Argon2id(time_cost=0, memory_kib=65536, lanes=1)
    ... except ValueError as exc:
    ...     print(exc)
    time_cost must be between 1 and 4294967295 passes, got 0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from argon2.exceptions import HashingError
from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw

from ._checks import as_int
from .errors import FuzzyKeyError, InvalidArgument

__all__ = ["Argon2id", "KdfLimits", "STRETCHED_BYTES"]

STRETCHED_BYTES = 32
"""Length of the stretched value S that HKDF takes as input keying material."""

# The reference implementation's bounds (argon2.h).
_MAX_U32 = 0xFFFFFFFF
_MAX_LANES = 0xFFFFFF
_MIN_SALT_BYTES = 8
_MIN_MEMORY_PER_LANE = 8  # KiB: 2 * ARGON2_SYNC_POINTS blocks of 1 KiB

_DEFAULT_TIME_COST = 3
_DEFAULT_MEMORY_KIB = 64 * 1024
_DEFAULT_LANES = 1
_LIMIT_FACTOR = 4
_DEFAULT_MAX_LANES = 8


@dataclass(frozen=True)
class Argon2id:
    """Argon2id parameters (RFC 9106), version 1.3, 32-byte output.

    Args:
        time_cost: passes over the memory, t >= 1.
        memory_kib: memory in KiB (1 KiB blocks), at least 8 per lane and at
            most :math:`2^{32} - 1`.
        lanes: degree of parallelism p, 1..:math:`2^{24} - 1`; argon2-cffi
            runs p threads per evaluation. An attacker gains from lanes as much
            as a defender, so the default is one lane.

    Raises:
        InvalidArgument: a parameter is not an integer or out of range.
    """

    time_cost: int
    memory_kib: int
    lanes: int

    def __post_init__(self) -> None:
        time_cost = as_int(self.time_cost, "time_cost")
        memory_kib = as_int(self.memory_kib, "memory_kib")
        lanes = as_int(self.lanes, "lanes")
        if not 1 <= time_cost <= _MAX_U32:
            raise InvalidArgument(
                f"time_cost must be between 1 and {_MAX_U32} passes, got {time_cost}"
            )
        if not 1 <= lanes <= _MAX_LANES:
            raise InvalidArgument(f"lanes must be between 1 and {_MAX_LANES}, got {lanes}")
        floor = _MIN_MEMORY_PER_LANE * lanes
        if not floor <= memory_kib <= _MAX_U32:
            raise InvalidArgument(
                f"memory_kib must be between 8 * lanes = {floor} and {_MAX_U32} KiB, got {memory_kib}"
            )
        # numpy integers become plain ints, so equal parameters compare and hash equal
        object.__setattr__(self, "time_cost", time_cost)
        object.__setattr__(self, "memory_kib", memory_kib)
        object.__setattr__(self, "lanes", lanes)

    @classmethod
    def default(cls) -> Argon2id:
        """The default cost: ``Argon2id(time_cost=3, memory_kib=65536, lanes=1)``,
        a median 0.26 s on one core of the machine it was measured on (see the
        module docstring)."""
        return cls(_DEFAULT_TIME_COST, _DEFAULT_MEMORY_KIB, _DEFAULT_LANES)

    def derive(self, password: bytes, salt: bytes, length: int = STRETCHED_BYTES) -> bytes:
        """Argon2id(password, salt) with these parameters: ``length`` raw bytes.

        Args:
            password: the input to stretch (any bytes, at most :math:`2^{32} - 1`).
            salt: at least 8 bytes (the extractor passes the helper's 32-byte salt).
            length: output length, 4..:math:`2^{32} - 1` bytes (default 32).

        Raises:
            InvalidArgument: wrong types or lengths (messages give lengths only).
            FuzzyKeyError: the Argon2 library failed (e.g. it could not allocate
                the memory).
        """
        if not isinstance(password, (bytes, bytearray)):
            raise InvalidArgument(f"password must be bytes, got {type(password).__name__}")
        if not isinstance(salt, (bytes, bytearray)):
            raise InvalidArgument(f"salt must be bytes, got {type(salt).__name__}")
        if len(password) > _MAX_U32:
            raise InvalidArgument(f"password must be at most {_MAX_U32} bytes, got {len(password)}")
        if not _MIN_SALT_BYTES <= len(salt) <= _MAX_U32:
            raise InvalidArgument(f"salt must be at least {_MIN_SALT_BYTES} bytes, got {len(salt)}")
        length = as_int(length, "length")
        if not 4 <= length <= _MAX_U32:
            raise InvalidArgument(f"length must be between 4 and {_MAX_U32} bytes, got {length}")
        try:
            return hash_secret_raw(
                bytes(password), bytes(salt), self.time_cost, self.memory_kib, self.lanes, length,
                Type.ID, ARGON2_VERSION,
            )
        except HashingError as exc:  # the library's message names the error code, nothing secret
            raise FuzzyKeyError(f"Argon2id({self._params()}) failed: {exc}") from None

    def _params(self) -> str:
        return f"time_cost={self.time_cost}, memory_kib={self.memory_kib}, lanes={self.lanes}"

    def __repr__(self) -> str:
        return f"Argon2id({self._params()})"


@dataclass(frozen=True)
class KdfLimits:
    """The most expensive KDF a reader of helper data agrees to run.

    A helper names its own KDF parameters; parsing refuses (with
    :class:`~fuzzykey.errors.InvalidHelperData`) one whose cost exceeds these
    limits before doing any work. The default is four times
    :meth:`Argon2id.default` in time and memory and at most 8 lanes.

    Args:
        max_time_cost: largest Argon2id time_cost accepted, >= 1.
        max_memory_kib: largest Argon2id memory in KiB accepted, >= 8.
        max_lanes: largest number of lanes accepted, >= 1.
    """

    max_time_cost: int = _LIMIT_FACTOR * _DEFAULT_TIME_COST
    max_memory_kib: int = _LIMIT_FACTOR * _DEFAULT_MEMORY_KIB
    max_lanes: int = _DEFAULT_MAX_LANES

    def __post_init__(self) -> None:
        for name, low, high in (
            ("max_time_cost", 1, _MAX_U32),
            ("max_memory_kib", _MIN_MEMORY_PER_LANE, _MAX_U32),
            ("max_lanes", 1, _MAX_LANES),
        ):
            value = as_int(getattr(self, name), name)
            if not low <= value <= high:
                raise InvalidArgument(f"{name} must be between {low} and {high}, got {value}")
            object.__setattr__(self, name, value)

    @classmethod
    def default(cls) -> KdfLimits:
        """Four times the default cost: time_cost <= 12, memory <= 256 MiB, lanes <= 8."""
        return cls()

    @classmethod
    def admitting(cls, kdf: Argon2id | None, base: KdfLimits | None = None) -> KdfLimits:
        """``base`` (default limits if None), raised where needed to admit ``kdf``."""
        base = cls() if base is None else base
        if kdf is None:
            return base
        return cls(
            max(base.max_time_cost, kdf.time_cost),
            max(base.max_memory_kib, kdf.memory_kib),
            max(base.max_lanes, kdf.lanes),
        )

    def allows(self, kdf: Argon2id | None) -> bool:
        """Whether a helper naming ``kdf`` (None: no stretching) is within the limits."""
        return self.excess(kdf) is None

    def excess(self, kdf: Argon2id | None) -> str | None:
        """Why ``kdf`` is over the limits (a sentence), or None when it is within them."""
        if kdf is None:
            return None
        return self.excess_of(kdf.time_cost, kdf.memory_kib, kdf.lanes)

    def excess_of(self, time_cost: int, memory_kib: int, lanes: int) -> str | None:
        """As :meth:`excess`, for raw Argon2id parameters (no object is built)."""
        if time_cost > self.max_time_cost:
            return f"Argon2id time_cost {time_cost} exceeds the limit {self.max_time_cost}"
        if memory_kib > self.max_memory_kib:
            return f"Argon2id memory {memory_kib} KiB exceeds the limit {self.max_memory_kib} KiB"
        if lanes > self.max_lanes:
            return f"Argon2id lanes {lanes} exceeds the limit {self.max_lanes}"
        return None


def check_kdf(kdf: Any, name: str = "kdf") -> Argon2id | None:
    """``kdf`` if it is None or an :class:`Argon2id`; InvalidArgument otherwise."""
    if kdf is not None and not isinstance(kdf, Argon2id):
        raise InvalidArgument(f"{name} must be an Argon2id or None, got {type(kdf).__name__}")
    return kdf


def check_limits(limits: Any, name: str = "limits") -> KdfLimits:
    """``limits`` as a :class:`KdfLimits` (None: the default); InvalidArgument otherwise."""
    if limits is None:
        return KdfLimits()
    if not isinstance(limits, KdfLimits):
        raise InvalidArgument(f"{name} must be a KdfLimits or None, got {type(limits).__name__}")
    return limits
