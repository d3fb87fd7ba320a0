"""Code-offset fuzzy extractor (Dodis, Reyzin, Smith 2004) over a BCH or a linear code.

Enrollment with n bits w:

1. draw a uniformly random codeword c (a uniformly random k-bit message, encoded);
2. publish the sketch :math:`s = w \\oplus c` and a random 32-byte salt;
3. derive the key with HKDF over SHA3-256:
   ``key = HKDF(IKM, salt, info=b"fuzzykey/v1/key\\x00" + info)``;
4. authenticate the helper: ``tag = HMAC-SHA3-256(K_tag, helper fields)`` with
   ``K_tag = HKDF(IKM, salt, info=b"fuzzykey/v1/tag\\x00" + info)``.

The input keying material is ``IKM = packbits(w)``, or, when an optional
``secret`` (a password, a token's key: any non-empty bytes) is given,
``IKM = packbits(w) + b"fuzzykey/v1/secret\\x00" + len(secret).to_bytes(4, "big")
+ secret``: length-prefixed and domain separated, and the same for the key and the
tag key. ``packbits(w)`` has the fixed length ``ceil(n / 8)``, so the split is
unambiguous. Without a secret the derivation is exactly the one above. The
secret is never stored: reproducing needs it again.

Key stretching (``kdf=``): with a :class:`~fuzzykey.kdf.Argon2id`, the IKM is
first stretched to :math:`S = \\mathrm{Argon2id}(\\text{password} = \\mathrm{IKM},
\\text{salt} = \\mathit{salt})`, 32 bytes, and both the key and the tag key are
derived from S in place of the IKM (same HKDF calls, same labels). Every guess of
(w, secret) against a helper then costs one Argon2id: with the default cost,
``Argon2id(time_cost=3, memory_kib=65536, lanes=1)``, a median 0.26 s and 64 MiB
on one core of the machine it was measured on (``benchmarks/argon2_cost.py``).
``kdf=None`` keeps the derivation above, byte for byte. The helper records the
KDF and its parameters under the tag (helper version 2, see
:mod:`fuzzykey.helper`), and reproduction runs the KDF the helper names,
provided its cost is within ``kdf_limits`` (default
:meth:`KdfLimits.default() <fuzzykey.kdf.KdfLimits.default>`, four times the
default cost); a costlier helper is refused with :class:`InvalidHelperData`
before any work.

Reproduction with :math:`w'`: decode :math:`w' \\oplus s = c \\oplus e` to c, set
:math:`w = c \\oplus s`, recompute the tag and compare it in constant time, then
derive the key.

* BCH code: bounded-distance decoding, works when :math:`d_H(w, w') \\le t`.
  Bits known to be unreliable can be passed as ``erasures``: with e errors among
  the other bits and f erased bits, reproduction succeeds whenever
  :math:`2e + f \\le 2t` (see :meth:`BCHCode.decode <fuzzykey.BCHCode.decode>`),
  so an erased bit costs half an error.
* :class:`~fuzzykey.linear.LinearCode` (k <= 24): exact maximum-likelihood
  decoding over all :math:`2^k` codewords. :meth:`FuzzyExtractor.reproduce`
  gives the decoder hard LLRs (+1 for a 0 bit, -1 for a 1 bit), which makes it
  a nearest-codeword decoder: it corrects every pattern of up to
  :math:`\\lfloor (d - 1)/2 \\rfloor` errors (d the minimum distance) and many
  heavier ones. :meth:`FuzzyExtractor.reproduce_soft` takes soft input instead:
  the probe's log-likelihood ratios of the *enrolled* bits,
  :math:`L_i = \\log P(w_i = 0) / P(w_i = 1)` (positive: probably 0). Since
  :math:`c_i = w_i \\oplus s_i`, the LLR of codeword bit i is
  :math:`L'_i = (1 - 2 s_i) L_i`, and the decoder returns

  .. math::

      \\hat c = \\arg\\max_{c \\in C} \\sum_i (1 - 2 c_i)\\, L'_i,

  the most likely codeword for independent bit observations: a few confident
  wrong bits cost more than many unconfident ones. An erased bit is simply
  :math:`L_i = 0`.

A decoding failure, a wrong correction (the decoder landing on another
codeword), a changed helper, another ``info`` or a wrong or missing ``secret``
all end in :class:`KeyMismatch`: a wrong key never comes out.

Security, stated plainly: the sketch reveals :math:`w \\oplus c` for a codeword
c, so an attacker holding the helper needs to guess only which of the
:math:`2^k` codewords was used: :math:`\\tilde H_\\infty(w \\mid \\text{helper}) \\le k`,
and :math:`\\ge H_\\infty(w) - (n - k)`. The key can be no stronger than the
smaller of those and of ``8 * key_bytes``; :attr:`FuzzyExtractor.max_entropy_bits`
reports k, the upper bound. What w's own min-entropy is depends on where the bits
come from (faces: see :mod:`fuzzykey` docs); this module cannot raise it. A
``secret`` adds its own entropy on top: it enters only through HKDF (and
Argon2id), so the helper says nothing about it, but the tag lets anyone holding
the helper test guesses of (w, secret) offline, so a password adds no more than
its own min-entropy. Argon2id adds no entropy either; it makes each offline
guess cost time and memory. With a linear code, k <= 24 bits: without a secret
and a KDF, enumerating all :math:`2^{24}` codewords against a helper is cheap.

Example:
    >>> import numpy as np
    >>> from fuzzykey import BCHCode, FuzzyExtractor, KeyMismatch
    >>> fe = FuzzyExtractor(BCHCode(m=9, t=30), info=b"example")
    >>> rng = np.random.default_rng(1)
    >>> w = rng.integers(0, 2, 511, dtype=np.uint8)
    >>> key, helper = fe.generate(w)
    >>> noisy = w.copy(); noisy[rng.choice(511, 30, replace=False)] ^= 1
    >>> fe.reproduce(noisy, helper) == key
    True
    >>> far = w.copy(); far[:200] ^= 1
    >>> try:
    ...     fe.reproduce(far, helper)
    ... except KeyMismatch:
    ...     print("no key")
    no key

    Erasures: 20 errors and 20 bits marked unreliable (2 * 20 + 20 <= 2t = 60),
    whatever was read at those 20:

    >>> where = rng.permutation(511)
    >>> noisy = w.copy(); noisy[where[:20]] ^= 1; noisy[where[20:40]] = 0
    >>> unreliable = np.zeros(511, dtype=bool); unreliable[where[20:40]] = True
    >>> fe.reproduce(noisy, helper, erasures=unreliable) == key
    True

    A second factor: the key then needs both the bits and the secret.

    >>> key2, helper2 = fe.generate(w, secret=b"correct horse")
    >>> fe.reproduce(w, helper2, secret=b"correct horse") == key2
    True
    >>> for wrong in (b"battery staple", None):
    ...     try:
    ...         fe.reproduce(w, helper2, secret=wrong)
    ...     except KeyMismatch:
    ...         print("no key")
    no key
    no key

    A linear code with soft input and Argon2id stretching (cheap parameters for
    the example; the default is ``Argon2id.default()``). BCH(63, 16) as a linear
    code has minimum distance 23. A probe that gets more than half of the ones
    of a codeword z wrong is closer to the offset of another codeword than to
    the enrolled one, so the nearest-codeword decoder must fail; if those wrong
    bits are the unconfident ones, the soft decoder still finds the key:

    >>> from fuzzykey.kdf import Argon2id
    >>> from fuzzykey.linear import LinearCode
    >>> code = LinearCode.from_bch(BCHCode(m=6, t=11))
    >>> (code.n, code.k)
    (63, 16)
    >>> fe = FuzzyExtractor(code, info=b"example", kdf=Argon2id(1, 64, 1))
    >>> w = rng.integers(0, 2, 63, dtype=np.uint8)
    >>> key, helper = fe.generate(w)
    >>> helper.version, helper.code_kind
    (2, 'linear')
    >>> z = min(code.generator, key=lambda row: int(row.sum()))   # a codeword
    >>> wrong = np.flatnonzero(z)[: int(z.sum()) // 2 + 1]        # over half its ones
    >>> probe = w.copy(); probe[wrong] ^= 1
    >>> try:
    ...     fe.reproduce(probe, helper)
    ... except KeyMismatch:
    ...     print("no key from hard bits")
    no key from hard bits
    >>> llr = 4.0 * (1 - 2 * probe.astype(np.float32))   # LLRs: confident ...
    >>> llr[wrong] *= 0.02                               # ... except where wrong
    >>> fe.reproduce_soft(llr, helper) == key
    True
"""

from __future__ import annotations

import dataclasses
import hmac
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from Crypto.Hash import HMAC, SHA3_256
from Crypto.Protocol.KDF import HKDF
from numpy.typing import NDArray

from ._checks import as_bits, as_erasures, as_int, as_threads
from .bch import BCHCode
from .errors import InvalidArgument, InvalidHelperData, KeyMismatch
from .helper import MAX_KEY_BYTES, MAX_METADATA_BYTES, SALT_BYTES, HelperData
from .kdf import Argon2id, KdfLimits, check_kdf, check_limits
from .linear import LinearCode

__all__ = ["FuzzyExtractor"]

_KEY_LABEL = b"fuzzykey/v1/key\x00"
_TAG_LABEL = b"fuzzykey/v1/tag\x00"
_SECRET_LABEL = b"fuzzykey/v1/secret\x00"
_MAX_SECRET_BYTES = 0xFFFFFFFF  # its length is a 4-byte field of the IKM
_LLR_SUM_LIMIT = 2.0**126  # LinearCode.ml_decode's bound on sum |L_j|
_KDF_MEMORY_BUDGET_KIB = 1 << 20  # Argon2id memory that a batch may hold at once: 1 GiB
_MISMATCH = (
    "the bits do not match the enrolled ones, or the helper data, info label or secret differ"
)


def _secret_suffix(secret: bytes | None) -> bytes:
    """What a secret appends to the IKM (nothing for None). Messages never show
    the secret itself, only its type or length."""
    if secret is None:
        return b""
    if not isinstance(secret, (bytes, bytearray)):
        raise InvalidArgument(f"secret must be bytes or None, got {type(secret).__name__}")
    if not secret:
        raise InvalidArgument("secret must be non-empty bytes (or None for no secret), got b''")
    if len(secret) > _MAX_SECRET_BYTES:
        raise InvalidArgument(
            f"secret must be at most {_MAX_SECRET_BYTES} bytes, got {len(secret)} bytes"
        )
    return _SECRET_LABEL + len(secret).to_bytes(4, "big") + bytes(secret)


def _hkdf(ikm: bytes, salt: bytes, length: int, info: bytes) -> bytes:
    # One key requested: pycryptodome returns bytes (a tuple only for num_keys > 1).
    key = HKDF(ikm, length, salt, SHA3_256, 1, info)
    return key if isinstance(key, bytes) else b"".join(key)


def _as_llrs(value: Any, name: str, *, ndim: int, length: int) -> NDArray[np.float32]:
    """Finite LLRs as a C-contiguous float32 array of ``ndim`` dimensions, last ``length``.
    Messages give shapes and dtypes, never values (LLRs describe the probe's bits)."""
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise InvalidArgument(f"{name} must be real numbers (float32 preferred), got dtype {arr.dtype}")
    if arr.ndim != ndim or arr.shape[-1] != length:
        expected = f"({length},)" if ndim == 1 else f"(rows, {length})"
        raise InvalidArgument(f"{name} must have shape {expected}, got shape {arr.shape}")
    finite = True
    if arr.size and np.issubdtype(arr.dtype, np.floating):
        magnitudes = np.abs(arr)  # NaN stays NaN and fails the comparison
        finite = bool((magnitudes <= np.finfo(np.float32).max).all())
    if not finite:
        raise InvalidArgument(
            f"{name} must be finite float32 values (NaN or infinity found, or a value beyond "
            "float32's range); give a certain bit a large finite magnitude instead"
        )
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if out.size and (np.abs(out).sum(axis=-1, dtype=np.float64) >= _LLR_SUM_LIMIT).any():
        raise InvalidArgument(
            f"the absolute values of each row of {name} must sum to less than 2^126 (the "
            "decoder's float32 scores could overflow); scale the LLRs down"
        )
    return out


def _stretch_all(
    ikms: list[bytes], salts: list[bytes], kdfs: list[Argon2id | None], threads: int
) -> list[bytes]:
    """The HKDF input of each row: its IKM, or Argon2id(IKM, salt) where it has a KDF.

    Rows with a KDF run on ``threads`` worker threads (0: all cores) when there
    are several; argon2-cffi releases the GIL, so they run side by side, each
    with its own memory, and no more of them than fit in ``_KDF_MEMORY_BUDGET_KIB``
    together. Without any KDF no thread is started."""
    out = list(ikms)
    todo = [row for row, kdf in enumerate(kdfs) if kdf is not None]

    def one(row: int) -> bytes:
        kdf = kdfs[row]
        return ikms[row] if kdf is None else kdf.derive(ikms[row], salts[row])

    workers = min((os.cpu_count() or 1) if threads == 0 else threads, len(todo))
    if todo:
        largest = max(kdf.memory_kib for kdf in kdfs if kdf is not None)
        workers = min(workers, max(1, _KDF_MEMORY_BUDGET_KIB // largest))
    if workers <= 1:
        for row in todo:
            out[row] = one(row)
        return out
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for row, stretched in zip(todo, pool.map(one, todo), strict=True):
            out[row] = stretched
    return out


class FuzzyExtractor:
    """Turn noisy bit strings into one stable key (code-offset construction).

    Args:
        code: a :class:`~fuzzykey.BCHCode` (bit strings have ``code.n`` bits and
            may differ from the enrolled ones in up to ``code.t`` places) or a
            :class:`~fuzzykey.linear.LinearCode` (maximum-likelihood decoding,
            hard or soft input; see the module docstring).
        key_bytes: length of the derived key, 1..8160 (default 32).
        info: application label mixed into the key (HKDF ``info``); reproducing
            with another label raises :class:`KeyMismatch`.
        kdf: None (no stretching: the key derivation from before ``kdf``
            existed) or an :class:`~fuzzykey.kdf.Argon2id` that :meth:`generate`
            stretches the enrolled bits with. Reproduction runs the KDF that the
            helper names (authenticated by its tag), so an extractor reads the
            helpers of earlier or later cost settings alike; changing the KDF
            of a helper only makes its tag fail.
        kdf_limits: the costliest KDF a helper may name (None:
            :meth:`KdfLimits.default() <fuzzykey.kdf.KdfLimits.default>`); a
            helper above it raises :class:`InvalidHelperData` before any work.
            ``kdf`` itself must be within it.

    A :class:`~fuzzykey.BCHCode` without ``kdf`` writes helper version 1,
    exactly as before version 2 existed; anything else writes version 2.

    Raises:
        InvalidArgument: a bad argument, or ``kdf`` above ``kdf_limits``.
    """

    __slots__ = ("_code", "_key_bytes", "_info", "_kdf", "_kdf_limits")

    def __init__(
        self,
        code: BCHCode | LinearCode,
        key_bytes: int = 32,
        info: bytes = b"",
        *,
        kdf: Argon2id | None = None,
        kdf_limits: KdfLimits | None = None,
    ) -> None:
        if not isinstance(code, (BCHCode, LinearCode)):
            raise InvalidArgument(f"code must be a BCHCode or a LinearCode, got {type(code).__name__}")
        key_bytes = as_int(key_bytes, "key_bytes")
        if not 1 <= key_bytes <= MAX_KEY_BYTES:
            raise InvalidArgument(f"key_bytes must be between 1 and {MAX_KEY_BYTES}, got {key_bytes}")
        if not isinstance(info, (bytes, bytearray)):
            raise InvalidArgument(f"info must be bytes, got {type(info).__name__}")
        kdf = check_kdf(kdf)
        limits = check_limits(kdf_limits, "kdf_limits")
        excess = limits.excess(kdf)
        if excess is not None:
            raise InvalidArgument(
                f"kdf is above kdf_limits ({excess}): this extractor would refuse its own helpers; "
                "raise kdf_limits"
            )
        self._code = code
        self._key_bytes = key_bytes
        self._info = bytes(info)
        self._kdf = kdf
        self._kdf_limits = limits

    @property
    def code(self) -> BCHCode | LinearCode:
        """The error-correcting code (a BCHCode or a LinearCode)."""
        return self._code

    @property
    def key_bytes(self) -> int:
        return self._key_bytes

    @property
    def kdf(self) -> Argon2id | None:
        """The KDF :meth:`generate` stretches with (None: none)."""
        return self._kdf

    @property
    def kdf_limits(self) -> KdfLimits:
        """The costliest KDF a helper may name."""
        return self._kdf_limits

    @property
    def max_entropy_bits(self) -> int:
        """k: upper bound on the key's entropy given the helper (2^k candidates)."""
        return self._code.k

    @property
    def entropy_loss_bits(self) -> int:
        """n - k: the most the sketch can reveal about the enrolled bits."""
        return self._code.n - self._code.k

    # -- enrollment ---------------------------------------------------------
    def generate(
        self, bits: Any, *, metadata: bytes = b"", secret: bytes | None = None
    ) -> tuple[bytes, HelperData]:
        """Enroll one bit string.

        Args:
            bits: 1-D uint8/bool 0/1 array of ``code.n`` bits.
            metadata: public bytes stored in (and authenticated by) the helper.
            secret: optional non-empty bytes mixed into the key and the tag key
                (see the module docstring); not stored, so :meth:`reproduce`
                needs the same secret.

        Returns:
            ``(key, helper)``.
        """
        suffix = _secret_suffix(secret)
        w = as_bits(bits, "bits", ndim=1, length=self._code.n)
        keys, helpers = self._generate(w[None, :], self._check_metadata(metadata), 1, suffix)
        return keys[0], helpers[0]

    def generate_batch(
        self,
        bits: Any,
        *,
        metadata: bytes = b"",
        secret: bytes | None = None,
        threads: int | None = None,
    ) -> tuple[list[bytes], list[HelperData]]:
        """Enroll each row of a (rows, n) array; returns keys and helpers in row order.

        ``secret``, if given, is used for every row (as in :meth:`generate`).
        ``threads`` (None or 0: all cores) also runs the rows' Argon2id
        evaluations side by side, each with its own ``memory_kib``, as many
        at once as fit in 1 GiB (16 at the default 64 MiB).
        """
        suffix = _secret_suffix(secret)
        w = as_bits(bits, "bits", ndim=2, length=self._code.n)
        return self._generate(w, self._check_metadata(metadata), as_threads(threads), suffix)

    def _generate(
        self, w: NDArray[np.uint8], metadata: bytes, threads: int, suffix: bytes
    ) -> tuple[list[bytes], list[HelperData]]:
        rows, k = w.shape[0], self._code.k
        if rows == 0:
            return [], []
        random_bits = np.unpackbits(
            np.frombuffer(os.urandom(rows * ((k + 7) // 8)), dtype=np.uint8).reshape(rows, -1),
            axis=1, count=k,
        )
        codewords = self._code.encode_batch(random_bits, threads=threads or None)
        sketches = np.bitwise_xor(w, codewords)
        salts = [os.urandom(SALT_BYTES) for _ in range(rows)]
        ikms = [np.packbits(w[row]).tobytes() + suffix for row in range(rows)]
        stretched = _stretch_all(ikms, salts, [self._kdf] * rows, threads)
        keys: list[bytes] = []
        helpers: list[HelperData] = []
        for row in range(rows):
            draft = HelperData.untagged(
                self._code, self._key_bytes, salts[row], sketches[row], metadata, kdf=self._kdf
            )
            helpers.append(dataclasses.replace(draft, tag=self._tag(stretched[row], draft)))
            keys.append(_hkdf(stretched[row], salts[row], self._key_bytes, _KEY_LABEL + self._info))
        return keys, helpers

    # -- reproduction -------------------------------------------------------
    def reproduce(
        self,
        bits: Any,
        helper: HelperData | bytes,
        *,
        erasures: Any = None,
        secret: bytes | None = None,
    ) -> bytes:
        """Recover the key from bits close to the enrolled ones.

        Args:
            bits: 1-D uint8/bool 0/1 array of ``code.n`` bits.
            helper: the helper from :meth:`generate`, or its bytes.
            erasures: BCH codes only: None, or a mask of the same shape as
                ``bits`` (bool or 0/1 integers), 1 where a bit is unknown or
                unreliable; its value in ``bits`` is then ignored. With e
                differing bits elsewhere and f erased bits the key is recovered
                when :math:`2e + f \\le 2t` (without erasures: :math:`e \\le t`).
                With a linear code, use :meth:`reproduce_soft` with LLR 0 there.
            secret: the secret given to :meth:`generate`, if any.

        Raises:
            KeyMismatch: too many differing (or erased) bits, a changed helper,
                another ``info`` label, or a wrong or missing secret.
            InvalidHelperData: malformed helper bytes, a helper made for another
                code (another generator, for a linear code) or key length, or
                one naming a KDF above ``kdf_limits``.
            InvalidArgument: bad bits, or ``erasures`` with a linear code.
        """
        suffix = _secret_suffix(secret)
        h = self._check_helper(helper)
        w = as_bits(bits, "bits", ndim=1, length=self._code.n)
        mask = None if erasures is None else self._erasures(erasures, w.shape)[None, :]
        key = self._reproduce_hard(w[None, :], [h], 1, mask, suffix)[0]
        if key is None:
            raise KeyMismatch(_MISMATCH)
        return key

    def reproduce_batch(
        self,
        bits: Any,
        helpers: Sequence[HelperData | bytes],
        *,
        erasures: Any = None,
        secret: bytes | None = None,
        threads: int | None = None,
    ) -> list[bytes | None]:
        """Row i of ``bits`` against ``helpers[i]``; None where the key is not recovered.

        ``erasures`` (shape (rows, n), or None; BCH codes only) and ``secret``
        (one for every row) work as in :meth:`reproduce`. ``threads`` (None or
        0: all cores) is used by the decoder and, for helpers with a KDF, by
        the Argon2id evaluations (as in :meth:`generate_batch`).
        """
        suffix = _secret_suffix(secret)
        w = as_bits(bits, "bits", ndim=2, length=self._code.n)
        self._check_count(w.shape[0], helpers)
        mask = None if erasures is None else self._erasures(erasures, w.shape)
        checked = [self._check_helper(h) for h in helpers]
        return self._reproduce_hard(w, checked, as_threads(threads), mask, suffix)

    def reproduce_soft(
        self, llr: Any, helper: HelperData | bytes, *, secret: bytes | None = None
    ) -> bytes:
        """Recover the key from soft information about the enrolled bits (linear codes).

        Args:
            llr: shape (n,), real: the probe's log-likelihood ratio of each
                enrolled bit, :math:`L_i = \\log P(w_i = 0) / P(w_i = 1)`
                (positive: probably 0; 0: no idea). Finite; float32 is used.
            helper: the helper from :meth:`generate`, or its bytes.
            secret: the secret given to :meth:`generate`, if any.

        The decoder gets :math:`L'_i = (1 - 2 s_i) L_i` for the codeword bits and
        returns the maximum-likelihood codeword (module docstring).

        Raises:
            KeyMismatch: the most likely codeword is not the enrolled one, a
                changed helper, another ``info`` label, or a wrong or missing
                secret.
            InvalidHelperData: as in :meth:`reproduce`.
            InvalidArgument: a BCH code (soft input needs a LinearCode), or
                ``llr`` of the wrong shape or dtype, or not finite.
        """
        self._need_linear("reproduce_soft")
        suffix = _secret_suffix(secret)
        h = self._check_helper(helper)
        llrs = _as_llrs(llr, "llr", ndim=1, length=self._code.n)
        key = self._reproduce_soft(llrs[None, :], [h], 1, suffix)[0]
        if key is None:
            raise KeyMismatch(_MISMATCH)
        return key

    def reproduce_soft_batch(
        self,
        llrs: Any,
        helpers: Sequence[HelperData | bytes],
        *,
        secret: bytes | None = None,
        threads: int | None = None,
        accept: Callable[[NDArray[np.uint8]], Any] | None = None,
    ) -> list[bytes | None]:
        """Row i of ``llrs`` (shape (rows, n)) against ``helpers[i]``, as
        :meth:`reproduce_soft`; None where the key is not recovered.

        ``accept``: an optional gate, called once with the recovered bits of
        every row, shape (rows, n) uint8, and returning one bool per row; a row
        it refuses gets no key, after the same stretching and tag work as any
        other (a biometric check on the decoded enrollment, for instance
        :func:`fuzzykey.zeroleak.verification_scores` against a threshold).
        """
        self._need_linear("reproduce_soft_batch")
        suffix = _secret_suffix(secret)
        x = _as_llrs(llrs, "llrs", ndim=2, length=self._code.n)
        self._check_count(x.shape[0], helpers)
        checked = [self._check_helper(h) for h in helpers]
        return self._reproduce_soft(x, checked, as_threads(threads), suffix, accept)

    def _reproduce_hard(
        self,
        w: NDArray[np.uint8],
        helpers: list[HelperData],
        threads: int,
        erasures: NDArray[np.uint8] | None,
        suffix: bytes,
    ) -> list[bytes | None]:
        if not helpers:
            return []
        sketches = np.stack([h.sketch_bits for h in helpers])
        words = np.bitwise_xor(w, sketches)
        if isinstance(self._code, BCHCode):
            # An erased bit of w' is an erased bit of w' XOR s: the mask carries over.
            codewords, n_errors = self._code.decode_batch(words, erasures=erasures, threads=threads)
            decoded = n_errors >= 0
        else:
            # Hard LLRs (+1 for 0, -1 for 1): ML decoding is nearest-codeword decoding.
            codewords = self._ml_decode(1.0 - 2.0 * words.astype(np.float32), threads)
            decoded = np.ones(len(helpers), dtype=bool)
        return self._finish(np.bitwise_xor(codewords, sketches), decoded, helpers, threads, suffix)

    def _reproduce_soft(
        self,
        llrs: NDArray[np.float32],
        helpers: list[HelperData],
        threads: int,
        suffix: bytes,
        accept: Callable[[NDArray[np.uint8]], Any] | None = None,
    ) -> list[bytes | None]:
        if not helpers:
            return []
        sketches = np.stack([h.sketch_bits for h in helpers])
        # c_i = w_i XOR s_i: where s_i = 1 the codeword bit is w_i's complement.
        codeword_llrs = np.where(sketches == 1, -llrs, llrs).astype(np.float32)
        codewords = self._ml_decode(codeword_llrs, threads)
        recovered = np.bitwise_xor(codewords, sketches)
        decoded = np.ones(len(helpers), dtype=bool)
        if accept is not None:
            verdict = np.asarray(accept(recovered.copy()))
            if verdict.shape != (len(helpers),) or verdict.dtype != np.bool_:
                raise InvalidArgument(
                    f"accept must return one bool per row, shape ({len(helpers)},); got "
                    f"shape {verdict.shape}, dtype {verdict.dtype}"
                )
            decoded &= verdict
        return self._finish(recovered, decoded, helpers, threads, suffix)

    def _ml_decode(self, llrs: NDArray[np.float32], threads: int) -> NDArray[np.uint8]:
        code = self._code
        if not isinstance(code, LinearCode):  # callers make sure; kept for the type checker
            raise InvalidArgument("maximum-likelihood decoding needs a LinearCode")
        messages, _ = code.ml_decode_batch(np.ascontiguousarray(llrs), threads=threads or None)
        codewords: NDArray[np.uint8] = code.encode_batch(messages, threads=threads or None)
        return codewords

    def _finish(
        self,
        recovered: NDArray[np.uint8],
        decoded: NDArray[np.bool_],
        helpers: list[HelperData],
        threads: int,
        suffix: bytes,
    ) -> list[bytes | None]:
        """Stretch, check the tag and derive the key of every row.

        A row that did not decode does the same work as one that did (timing):
        its IKM is a fixed dummy of the same length (zero bits and the same
        secret suffix), stretched with the helper's KDF, and its tag is computed
        and compared; the comparison's result is then ignored and the row gets no
        key. An attacker who alters a helper and times reproduction thus sees a
        tag computed whether or not the decoder succeeded."""
        dummy = np.zeros(recovered.shape[1], dtype=np.uint8)
        stretched = _stretch_all(
            [
                np.packbits(recovered[row] if decoded[row] else dummy).tobytes() + suffix
                for row in range(len(helpers))
            ],
            [h.salt for h in helpers],
            [h.kdf for h in helpers],
            threads,
        )
        out: list[bytes | None] = [None] * len(helpers)
        for row, ikm in enumerate(stretched):
            h = helpers[row]
            same = hmac.compare_digest(self._tag(ikm, h), h.tag)
            key = _hkdf(ikm, h.salt, self._key_bytes, _KEY_LABEL + self._info)
            if same and decoded[row]:
                out[row] = key
        return out

    # -- internals ----------------------------------------------------------
    def _tag(self, ikm: bytes, helper: HelperData) -> bytes:
        tag_key = _hkdf(ikm, helper.salt, 32, _TAG_LABEL + self._info)
        mac = HMAC.new(tag_key, helper.signed_bytes(), digestmod=SHA3_256)
        return mac.digest()

    def _need_linear(self, method: str) -> None:
        if not isinstance(self._code, LinearCode):
            raise InvalidArgument(
                f"{method} needs a LinearCode (soft-decision maximum-likelihood decoding); this "
                f"extractor uses {self._code!r}: pass hard bits, and erasures, to reproduce"
            )

    def _erasures(self, erasures: Any, shape: tuple[int, ...]) -> NDArray[np.uint8]:
        if not isinstance(self._code, BCHCode):
            raise InvalidArgument(
                "erasures= works with a BCHCode only; with a LinearCode call reproduce_soft "
                "and give the unreliable bits an LLR of 0"
            )
        return as_erasures(erasures, shape)

    @staticmethod
    def _check_count(rows: int, helpers: Sequence[HelperData | bytes]) -> None:
        if len(helpers) != rows:
            raise InvalidArgument(
                f"helpers must have one entry per row of bits: {rows} rows, {len(helpers)} helpers"
            )

    def _describe(self) -> str:
        c = self._code
        if isinstance(c, BCHCode):
            return f"BCH(m={c.m}, n={c.n}, t={c.t})"
        return f"linear(n={c.n}, k={c.k}, digest={c.digest[:16]}...)"

    def _check_helper(self, helper: HelperData | bytes) -> HelperData:
        if isinstance(helper, (bytes, bytearray, memoryview)):
            helper = HelperData.from_bytes(helper, limits=self._kdf_limits)
        if not isinstance(helper, HelperData):
            raise InvalidArgument(f"helper must be HelperData or bytes, got {type(helper).__name__}")
        c = self._code
        if helper.code_kind == "bch":
            theirs = f"BCH(m={helper.m}, n={helper.n}, t={helper.t})"
        else:
            theirs = helper.describe_code()
        if isinstance(c, BCHCode):
            same = helper.code_kind == "bch" and (helper.m, helper.n, helper.t) == (c.m, c.n, c.t)
        else:
            same = (
                helper.code_kind == "linear"
                and (helper.n, helper.k) == (c.n, c.k)
                and helper.code_digest == bytes.fromhex(c.digest)
            )
        if not same or helper.key_bytes != self._key_bytes:
            raise InvalidHelperData(
                f"helper was made for {theirs} and {helper.key_bytes}-byte keys; this extractor "
                f"uses {self._describe()} and {self._key_bytes}-byte keys"
            )
        excess = self._kdf_limits.excess(helper.kdf)
        if excess is not None:
            raise InvalidHelperData(f"helper asks for too costly a KDF: {excess}")
        return helper

    @staticmethod
    def _check_metadata(metadata: bytes) -> bytes:
        if not isinstance(metadata, (bytes, bytearray)):
            raise InvalidArgument(f"metadata must be bytes, got {type(metadata).__name__}")
        if len(metadata) > MAX_METADATA_BYTES:
            raise InvalidArgument(
                f"metadata must be at most {MAX_METADATA_BYTES} bytes, got {len(metadata)}"
            )
        return bytes(metadata)

    def __repr__(self) -> str:
        kdf = "" if self._kdf is None else f", kdf={self._kdf!r}"
        return (
            f"FuzzyExtractor({self._code!r}, key_bytes={self._key_bytes}, "
            f"info=<{len(self._info)} bytes>{kdf})"
        )
