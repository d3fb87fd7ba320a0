"""Code-offset fuzzy extractor (Dodis, Reyzin, Smith 2004) over a BCH code.

Enrollment with n bits w:

1. draw a uniformly random codeword c (random message, systematic encoding);
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

Reproduction with :math:`w'`: decode :math:`w' \\oplus s = c \\oplus e` to c (works
when :math:`d_H(w, w') \\le t`), set :math:`w = c \\oplus s`, recompute the tag and
compare it in constant time, then derive the key. Bits known to be unreliable
can be passed as ``erasures``: with e errors among the other bits and f erased
bits, reproduction succeeds whenever :math:`2e + f \\le 2t` (see
:meth:`BCHCode.decode <fuzzykey.BCHCode.decode>`), so an erased bit costs half an
error. A decoding failure, a wrong correction (more than t errors landing on
another codeword), a changed helper, another ``info`` or a wrong or missing
``secret`` all end in :class:`KeyMismatch`: a wrong key never comes out.

Security, stated plainly: the sketch reveals :math:`w \\oplus c` for a codeword
c, so an attacker holding the helper needs to guess only which of the
:math:`2^k` codewords was used: :math:`\\tilde H_\\infty(w \\mid \\text{helper}) \\le k`,
and :math:`\\ge H_\\infty(w) - (n - k)`. The key can be no stronger than the
smaller of those and of ``8 * key_bytes``; :attr:`FuzzyExtractor.max_entropy_bits`
reports k, the upper bound. What w's own min-entropy is depends on where the bits
come from (faces: see :mod:`fuzzykey` docs); this module cannot raise it. A
``secret`` adds its own entropy on top: it enters only through HKDF, so the
helper says nothing about it, but the tag lets anyone holding the helper test
guesses of (w, secret) offline, so a password adds no more than its own
min-entropy.

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
"""

from __future__ import annotations

import dataclasses
import hmac
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from Crypto.Hash import HMAC, SHA3_256
from Crypto.Protocol.KDF import HKDF
from numpy.typing import NDArray

from ._checks import as_bits, as_erasures, as_int, as_threads
from .bch import BCHCode
from .errors import InvalidArgument, InvalidHelperData, KeyMismatch
from .helper import MAX_KEY_BYTES, MAX_METADATA_BYTES, SALT_BYTES, HelperData

__all__ = ["FuzzyExtractor"]

_KEY_LABEL = b"fuzzykey/v1/key\x00"
_TAG_LABEL = b"fuzzykey/v1/tag\x00"
_SECRET_LABEL = b"fuzzykey/v1/secret\x00"
_MAX_SECRET_BYTES = 0xFFFFFFFF  # its length is a 4-byte field of the IKM
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


class FuzzyExtractor:
    """Turn noisy bit strings into one stable key (code-offset construction).

    Args:
        code: the BCH code; bit strings have ``code.n`` bits and may differ from
            the enrolled ones in up to ``code.t`` places.
        key_bytes: length of the derived key, 1..8160 (default 32).
        info: application label mixed into the key (HKDF ``info``); reproducing
            with another label raises :class:`KeyMismatch`.
    """

    __slots__ = ("_code", "_key_bytes", "_info")

    def __init__(self, code: BCHCode, key_bytes: int = 32, info: bytes = b"") -> None:
        if not isinstance(code, BCHCode):
            raise InvalidArgument(f"code must be a BCHCode, got {type(code).__name__}")
        key_bytes = as_int(key_bytes, "key_bytes")
        if not 1 <= key_bytes <= MAX_KEY_BYTES:
            raise InvalidArgument(f"key_bytes must be between 1 and {MAX_KEY_BYTES}, got {key_bytes}")
        if not isinstance(info, (bytes, bytearray)):
            raise InvalidArgument(f"info must be bytes, got {type(info).__name__}")
        self._code = code
        self._key_bytes = key_bytes
        self._info = bytes(info)

    @property
    def code(self) -> BCHCode:
        return self._code

    @property
    def key_bytes(self) -> int:
        return self._key_bytes

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
        keys, helpers = self._generate(w[None, :], self._check_metadata(metadata), 0, suffix)
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
        codewords = self._code.encode_batch(random_bits, threads=threads)
        sketches = np.bitwise_xor(w, codewords)
        keys: list[bytes] = []
        helpers: list[HelperData] = []
        for row in range(rows):
            salt = os.urandom(SALT_BYTES)
            ikm = np.packbits(w[row]).tobytes() + suffix
            draft = HelperData.untagged(self._code, self._key_bytes, salt, sketches[row], metadata)
            helpers.append(dataclasses.replace(draft, tag=self._tag(ikm, draft)))
            keys.append(_hkdf(ikm, salt, self._key_bytes, _KEY_LABEL + self._info))
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
            erasures: None, or a mask of the same shape as ``bits`` (bool or 0/1
                integers), 1 where a bit is unknown or unreliable; its value in
                ``bits`` is then ignored. With e differing bits elsewhere and f
                erased bits the key is recovered when :math:`2e + f \\le 2t`
                (without erasures: :math:`e \\le t`).
            secret: the secret given to :meth:`generate`, if any.

        Raises:
            KeyMismatch: too many differing (or erased) bits, a changed helper,
                another ``info`` label, or a wrong or missing secret.
            InvalidHelperData: malformed helper bytes, or a helper made for
                another code or key length.
        """
        suffix = _secret_suffix(secret)
        h = self._check_helper(helper)
        w = as_bits(bits, "bits", ndim=1, length=self._code.n)
        mask = None if erasures is None else as_erasures(erasures, w.shape)[None, :]
        key = self._reproduce(w[None, :], [h], 1, mask, suffix)[0]
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

        ``erasures`` (shape (rows, n), or None) and ``secret`` (one for every
        row) work as in :meth:`reproduce`.
        """
        suffix = _secret_suffix(secret)
        w = as_bits(bits, "bits", ndim=2, length=self._code.n)
        if len(helpers) != w.shape[0]:
            raise InvalidArgument(
                f"helpers must have one entry per row of bits: {w.shape[0]} rows, "
                f"{len(helpers)} helpers"
            )
        mask = None if erasures is None else as_erasures(erasures, w.shape)
        checked = [self._check_helper(h) for h in helpers]
        return self._reproduce(w, checked, as_threads(threads), mask, suffix)

    def _reproduce(
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
        # An erased bit of w' is an erased bit of w' XOR s: the mask carries over.
        codewords, n_errors = self._code.decode_batch(
            np.bitwise_xor(w, sketches), erasures=erasures, threads=threads
        )
        recovered = np.bitwise_xor(codewords, sketches)
        out: list[bytes | None] = []
        for row, h in enumerate(helpers):
            if n_errors[row] < 0:
                out.append(None)
                continue
            ikm = np.packbits(recovered[row]).tobytes() + suffix
            if not hmac.compare_digest(self._tag(ikm, h), h.tag):
                out.append(None)
                continue
            out.append(_hkdf(ikm, h.salt, self._key_bytes, _KEY_LABEL + self._info))
        return out

    # -- internals ----------------------------------------------------------
    def _tag(self, ikm: bytes, helper: HelperData) -> bytes:
        tag_key = _hkdf(ikm, helper.salt, 32, _TAG_LABEL + self._info)
        mac = HMAC.new(tag_key, helper.signed_bytes(), digestmod=SHA3_256)
        return mac.digest()

    def _check_helper(self, helper: HelperData | bytes) -> HelperData:
        if isinstance(helper, (bytes, bytearray, memoryview)):
            helper = HelperData.from_bytes(helper)
        if not isinstance(helper, HelperData):
            raise InvalidArgument(f"helper must be HelperData or bytes, got {type(helper).__name__}")
        c = self._code
        if (helper.m, helper.n, helper.t, helper.key_bytes) != (c.m, c.n, c.t, self._key_bytes):
            raise InvalidHelperData(
                f"helper was made for BCH(m={helper.m}, n={helper.n}, t={helper.t}) and "
                f"{helper.key_bytes}-byte keys; this extractor uses BCH(m={c.m}, n={c.n}, "
                f"t={c.t}) and {self._key_bytes}-byte keys"
            )
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
        return (
            f"FuzzyExtractor({self._code!r}, key_bytes={self._key_bytes}, "
            f"info=<{len(self._info)} bytes>)"
        )
