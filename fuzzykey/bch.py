"""Binary BCH codes over GF(2^m), 5 <= m <= 16, on the native core.

A word of length n is the polynomial :math:`w(x) = \\sum_i w_i x^i`: index ``i``
of an array holds the coefficient of :math:`x^i`. For :math:`N = 2^m - 1` and a
correction capability t, the narrow-sense BCH code has the generator

.. math::

    g(x) = \\operatorname{lcm}(M_1(x), M_2(x), \\dots, M_{2t}(x)),

:math:`M_i` the minimal polynomial of :math:`\\alpha^i` over GF(2), :math:`\\alpha`
a root of the Conway polynomial of GF(2^m): the field of ``galois.GF(2**m)``.
(``galois.BCH`` picks another primitive polynomial unless it is given
``extension_field=galois.GF(2**m)``.) It has dimension :math:`k = N - \\deg g` and designed distance
:math:`2t + 1`. A code shortened to :math:`n < N` drops the :math:`N - n` highest
message positions, so :math:`k_n = k - (N - n)`.

Encoding is systematic: the codeword of message :math:`u` (k bits) is
:math:`c(x) = x^{n-k} u(x) + (x^{n-k} u(x) \\bmod g(x))`, so ``c[:n-k]`` is the
parity and ``c[n-k:]`` is ``u``. Decoding computes syndromes, runs binary
Berlekamp-Massey and a Chien search; it corrects up to t errors and reports a
failure whenever the error locator of degree L does not have exactly L roots
among the n positions. With more than t errors it may still land on another
codeword (that is inherent to any bounded-distance decoder); the fuzzy
extractor's tag catches that case.

Errors and erasures: ``decode(word, erasures=mask)`` takes a mask of positions
whose bits are unknown (1 = erased; the word's bits there are ignored). With e
errors among the non-erased positions and f erasures it returns the sent codeword
whenever

.. math::

    2e + f \\le 2t = d - 1, \\qquad d = 2t + 1 \\text{ the designed distance},

so an erasure costs half an error. The decoder makes two trials, reading every
erased bit as 0 and then as 1. One of them has at most :math:`e + \\lfloor f/2
\\rfloor \\le t` errors and decodes to the sent codeword c. Any other codeword c'
differs from c in at least :math:`2t + 1` places, of which at most f are erased
and at most e are places off the erasures where the word differs from c, so c'
differs from the word in at least :math:`2t + 1 - f - e > e` non-erased places:
the candidate closest to the word on the non-erased positions is c. Beyond the
bound the decoder returns the closer candidate (always a codeword), or reports a
failure when neither trial decodes or two different codewords are equally close.
``n_errors`` then counts the non-erased positions that were corrected; erased
positions are not counted.

Example:
    >>> import numpy as np
    >>> from fuzzykey import BCHCode
    >>> code = BCHCode(m=10, t=102)
    >>> (code.n, code.k, code.t)
    (1023, 278, 102)
    >>> msg = np.random.default_rng(0).integers(0, 2, code.k, dtype=np.uint8)
    >>> word = code.encode(msg)
    >>> word[[3, 70, 900]] ^= 1
    >>> codeword, n_errors = code.decode(word)
    >>> n_errors, bool((code.message(codeword) == msg).all())
    (3, True)

    With erasures, 2e + f <= 2t: 60 errors and 84 erased bits (2 * 60 + 84 = 204):

    >>> rng = np.random.default_rng(1)
    >>> sent = code.encode(msg)
    >>> where = rng.permutation(code.n)
    >>> erasures = np.zeros(code.n, dtype=bool); erasures[where[:84]] = True
    >>> word = sent.copy(); word[where[84:144]] ^= 1          # 60 errors off the erasures
    >>> word[erasures] = rng.integers(0, 2, 84)              # whatever was read there
    >>> codeword, n_errors = code.decode(word, erasures=erasures)
    >>> n_errors, bool((codeword == sent).all())
    (60, True)
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _core
from ._checks import as_bits, as_erasures, as_int, as_threads
from .errors import DecodingFailure, InvalidArgument

__all__ = ["BCHCode"]

MIN_M = 5
MAX_M = 16


_CACHE_BUDGET_BYTES = 256 << 20  # table memory the native code cache may keep: 256 MiB
_cache: OrderedDict[tuple[int, int, int], _core.BchCode] = OrderedDict()
_cache_bytes = 0
_cache_lock = threading.Lock()


def _native(m: int, t: int, n: int) -> _core.BchCode:
    """The native code of (m, t, n), shared through a cache bounded by table memory.

    Codes are kept least recently used first; a new code evicts the oldest ones
    until the tables of all kept codes (``table_bytes``: those they hold once they
    have decoded) fit ``_CACHE_BUDGET_BYTES``. The newest code is always kept, so
    one code above the budget still works. An evicted code lives on in every
    BCHCode that holds it; the cache only stops keeping it alive."""
    global _cache_bytes
    key = (m, t, n)
    with _cache_lock:
        code = _cache.get(key)
        if code is not None:
            _cache.move_to_end(key)
            return code
    code = _core.BchCode(m, t, n)  # outside the lock: large codes take a while
    with _cache_lock:
        if key in _cache:  # another thread built it meanwhile
            _cache.move_to_end(key)
            return _cache[key]
        _cache[key] = code
        _cache_bytes += int(code.table_bytes)
        while _cache_bytes > _CACHE_BUDGET_BYTES and len(_cache) > 1:
            _, old = _cache.popitem(last=False)
            _cache_bytes -= int(old.table_bytes)
    return code


def _cache_info() -> tuple[int, int]:
    """(codes kept, their table bytes): for tests."""
    with _cache_lock:
        return len(_cache), _cache_bytes


@functools.cache
def _generator_degrees(m: int) -> NDArray[np.uint32]:
    degrees: NDArray[np.uint32] = _core.generator_degrees(m)
    degrees.setflags(write=False)
    return degrees


def _check_m(m: Any) -> int:
    value = as_int(m, "m")
    if not MIN_M <= value <= MAX_M:
        raise InvalidArgument(f"m must be between {MIN_M} and {MAX_M}, got {value}")
    return value


def _log_binomial_tails(n: int, p: float) -> NDArray[np.float64]:
    """``out[t] = log P[Binomial(n, p) > t]`` for t = 0..n, in O(n), in log space
    so that tails far below 1e-308 are still ordered correctly."""
    out = np.full(n + 1, -np.inf)
    if p <= 0.0:
        return out
    i = np.arange(1, n + 1, dtype=np.float64)
    log_choose = np.concatenate(([0.0], np.cumsum(np.log((n - i + 1) / i))))
    k = np.arange(n + 1, dtype=np.float64)
    log_pmf = log_choose + k * math.log(p) + (n - k) * math.log1p(-p)
    from_top = np.logaddexp.accumulate(log_pmf[::-1])[::-1]  # log P[X >= i]
    out[:n] = from_top[1:]
    return out


class BCHCode:
    """A binary narrow-sense BCH code, possibly shortened.

    Args:
        m: field degree, 5..16; the full length is :math:`2^m - 1`.
        t: number of bit errors the decoder corrects, 1..(2^(m-1) - 1); the code
            must keep at least one message bit.
        n: shortened length, 1..2^m - 1 (default: the full length).

    Raises:
        InvalidArgument: m, t or n out of range, or no message bit left.
    """

    __slots__ = ("_code",)

    def __init__(self, m: int, t: int, n: int | None = None) -> None:
        m = _check_m(m)
        full = (1 << m) - 1
        t = as_int(t, "t")
        if not 1 <= t <= (full - 1) // 2:
            raise InvalidArgument(
                f"t must be between 1 and {(full - 1) // 2} for m = {m}, got {t}"
            )
        n = full if n is None else as_int(n, "n")
        if not 1 <= n <= full:
            raise InvalidArgument(f"n must be between 1 and 2^{m} - 1 = {full}, got {n}")
        k = full - int(_generator_degrees(m)[t]) - (full - n)
        if k < 1:
            raise InvalidArgument(
                f"BCH code with m = {m}, t = {t}, n = {n} has no message bits "
                f"(k = {k}); lower t or raise n"
            )
        self._code = _native(m, t, n)

    # -- parameters ---------------------------------------------------------
    @property
    def m(self) -> int:
        """Degree of the field GF(2^m)."""
        return int(self._code.m)

    @property
    def n(self) -> int:
        """Code length in bits (after shortening)."""
        return int(self._code.n)

    @property
    def k(self) -> int:
        """Message length in bits (the dimension)."""
        return int(self._code.k)

    @property
    def t(self) -> int:
        """Number of bit errors the decoder corrects."""
        return int(self._code.t)

    @property
    def full_length(self) -> int:
        """Length :math:`2^m - 1` of the unshortened code."""
        return int(self._code.full_length)

    @property
    def designed_distance(self) -> int:
        """:math:`2t + 1`, a lower bound on the minimum distance."""
        return 2 * self.t + 1

    @property
    def primitive_poly(self) -> int:
        """The field's primitive (Conway) polynomial, bit i = coefficient of x^i."""
        return int(_core.primitive_poly(self.m))

    @property
    def generator(self) -> NDArray[np.uint8]:
        """Coefficients of g(x), lowest degree first (length n - k + 1)."""
        g: NDArray[np.uint8] = self._code.generator()
        return g

    # -- coding -------------------------------------------------------------
    def encode(self, msg: Any) -> NDArray[np.uint8]:
        """Systematic codeword (n bits) of a k-bit message (uint8/bool 0/1)."""
        bits = as_bits(msg, "msg", ndim=1, length=self.k)
        out: NDArray[np.uint8] = self._code.encode_batch(bits[None, :], 1)[0]
        return out

    def encode_batch(self, msgs: Any, *, threads: int | None = None) -> NDArray[np.uint8]:
        """Codewords, shape (rows, n), of messages of shape (rows, k)."""
        bits = as_bits(msgs, "msgs", ndim=2, length=self.k)
        out: NDArray[np.uint8] = self._code.encode_batch(bits, as_threads(threads))
        return out

    def decode(self, word: Any, *, erasures: Any = None) -> tuple[NDArray[np.uint8], int]:
        """Correct an n-bit word, optionally with erased (unknown) positions.

        Args:
            word: shape (n,), uint8/bool 0/1.
            erasures: None, or a mask of the same shape (bool or 0/1 integers),
                1 where the bit is unknown; the word's bits there are ignored.
                e errors off the erasures and f erasures are corrected whenever
                :math:`2e + f \\le 2t` (see the module docstring).

        Returns:
            ``(codeword, n_errors)``: the codeword found and how many bits were
            flipped to reach it (at most t without erasures). With erasures,
            ``n_errors`` counts only the non-erased positions that differ from
            ``word``.

        Raises:
            DecodingFailure: the decoder detected more than t errors (with
                erasures: neither trial decoded, or two codewords were equally
                close off the erasures).
            InvalidArgument: ``word`` or ``erasures`` has the wrong shape, dtype
                or values.
        """
        bits = as_bits(word, "word", ndim=1, length=self.n)
        if erasures is None:
            codewords, n_errors = self._code.decode_batch(bits[None, :], 1)
        else:
            mask = as_erasures(erasures, bits.shape)
            codewords, n_errors = self._code.decode_erasures_batch(bits[None, :], mask[None, :], 1)
        if n_errors[0] < 0:
            if erasures is None:
                why = f"more than t = {self.t} errors in a word of {self.n} bits"
            else:
                why = (
                    f"too many errors and erasures in a word of {self.n} bits "
                    f"(corrected when 2 * errors + erasures <= 2t = {2 * self.t})"
                )
            raise DecodingFailure(f"{why} (detected by {self!r})")
        return codewords[0], int(n_errors[0])

    def decode_batch(
        self, words: Any, *, erasures: Any = None, threads: int | None = None
    ) -> tuple[NDArray[np.uint8], NDArray[np.int32]]:
        """Correct many words at once (multithreaded, GIL released).

        Args:
            words: shape (rows, n), uint8/bool 0/1.
            erasures: None, or a mask of shape (rows, n) (bool or 0/1 integers),
                1 where a bit is unknown; as in :meth:`decode`.
            threads: worker threads; None or 0 = all cores.

        Returns:
            ``(codewords, n_errors)``: shape (rows, n) and (rows,). A row whose
            decoding failed has ``n_errors == -1`` and its input left unchanged.
            With erasures, ``n_errors`` counts the corrected non-erased positions;
            a row without erasures decodes exactly as it would without a mask.
        """
        bits = as_bits(words, "words", ndim=2, length=self.n)
        if erasures is None:
            codewords, n_errors = self._code.decode_batch(bits, as_threads(threads))
        else:
            mask = as_erasures(erasures, bits.shape)
            codewords, n_errors = self._code.decode_erasures_batch(bits, mask, as_threads(threads))
        return codewords, n_errors

    def message(self, codeword: Any) -> NDArray[np.uint8]:
        """The k message bits of a codeword, or of each row of a batch."""
        arr = np.asarray(codeword)
        bits = as_bits(arr, "codeword", ndim=max(arr.ndim, 1), length=self.n)
        return bits[..., self.n - self.k :].copy()

    # -- choosing a code ----------------------------------------------------
    @staticmethod
    def max_t(m: int, n: int | None = None) -> int:
        """Largest t for which BCH(m, t, n) keeps at least one message bit."""
        m = _check_m(m)
        full = (1 << m) - 1
        n = full if n is None else as_int(n, "n")
        if not 1 <= n <= full:
            raise InvalidArgument(f"n must be between 1 and 2^{m} - 1 = {full}, got {n}")
        ks = full - _generator_degrees(m).astype(np.int64) - (full - n)
        valid = np.nonzero(ks[1:] >= 1)[0]
        if valid.size == 0:
            raise InvalidArgument(f"no BCH code over GF(2^{m}) of length {n} keeps a message bit")
        return int(valid[-1]) + 1

    @classmethod
    def for_error_rate(
        cls,
        n_bits: int,
        error_rate: float,
        *,
        failure_rate: float | None = None,
    ) -> BCHCode:
        """The best code of length ``n_bits`` for a bit-error rate.

        The field is the smallest GF(2^m) with :math:`2^m - 1 \\ge` ``n_bits``
        (shortening a larger field only costs parity). The required t is
        ``ceil(error_rate * n_bits)``, or with ``failure_rate`` the smallest t
        with :math:`P[\\mathrm{Bin}(n, p) > t] \\le` ``failure_rate`` (independent
        errors). Among the codes that correct at least that many errors it
        returns the one with the most message bits and, for that k, the largest t.

        Raises:
            InvalidArgument: bad arguments, or no code of that length corrects
                that many errors.

        Example:
            >>> BCHCode.for_error_rate(511, 0.05)
            BCHCode(m=9, n=511, k=295, t=26)
        """
        n_bits = as_int(n_bits, "n_bits")
        if not 1 <= n_bits <= (1 << MAX_M) - 1:
            raise InvalidArgument(f"n_bits must be between 1 and {(1 << MAX_M) - 1}, got {n_bits}")
        p = float(error_rate)
        if not 0.0 <= p < 0.5 or math.isnan(p):
            raise InvalidArgument(f"error_rate must be in [0, 0.5), got {error_rate!r}")
        m = max(MIN_M, n_bits.bit_length())
        if failure_rate is None:
            need = max(1, math.ceil(p * n_bits - 1e-9))
        else:
            f = float(failure_rate)
            if not 0.0 < f < 1.0:
                raise InvalidArgument(f"failure_rate must be in (0, 1), got {failure_rate!r}")
            log_tails = _log_binomial_tails(n_bits, p)
            need = max(1, int(np.argmax(log_tails <= math.log(f))))
        degrees = _generator_degrees(m)
        valid = np.nonzero(n_bits - degrees[1:].astype(np.int64) >= 1)[0]
        t_top = int(valid[-1]) + 1 if valid.size else 0
        if need > t_top:
            raise InvalidArgument(
                f"no BCH code of length {n_bits} corrects {need} errors "
                f"(error_rate={p}); the most any corrects is t = {t_top}"
            )
        t = need
        while t + 1 <= t_top and degrees[t + 1] == degrees[need]:
            t += 1
        return cls(m, t, n_bits)

    # -- dunder -------------------------------------------------------------
    def __repr__(self) -> str:
        return f"BCHCode(m={self.m}, n={self.n}, k={self.k}, t={self.t})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BCHCode):
            return NotImplemented
        return (self.m, self.n, self.t) == (other.m, other.n, other.t)

    def __hash__(self) -> int:
        return hash((BCHCode, self.m, self.n, self.t))
