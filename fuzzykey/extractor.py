"""Code-offset fuzzy extractor (Dodis, Reyzin, Smith 2004) over a BCH code.

Enrollment with n bits w:

1. draw a uniformly random codeword c (random message, systematic encoding);
2. publish the sketch :math:`s = w \\oplus c` and a random 32-byte salt;
3. derive the key with HKDF over SHA3-256:
   ``key = HKDF(IKM=packbits(w), salt, info=b"fuzzykey/v1/key\\x00" + info)``;
4. authenticate the helper: ``tag = HMAC-SHA3-256(K_tag, helper fields)`` with
   ``K_tag = HKDF(IKM=packbits(w), salt, info=b"fuzzykey/v1/tag\\x00" + info)``.

Reproduction with :math:`w'`: decode :math:`w' \\oplus s = c \\oplus e` to c (works
when :math:`d_H(w, w') \\le t`), set :math:`w = c \\oplus s`, recompute the tag and
compare it in constant time, then derive the key. A decoding failure, a wrong
correction (more than t errors landing on another codeword), a changed helper
or another ``info`` all end in :class:`KeyMismatch`: a wrong key never comes out.

Security, stated plainly: the sketch reveals :math:`w \\oplus c` for a codeword
c, so an attacker holding the helper needs to guess only which of the
:math:`2^k` codewords was used: :math:`\\tilde H_\\infty(w \\mid \\text{helper}) \\le k`,
and :math:`\\ge H_\\infty(w) - (n - k)`. The key can be no stronger than the
smaller of those and of ``8 * key_bytes``; :attr:`FuzzyExtractor.max_entropy_bits`
reports k, the upper bound. What w's own min-entropy is depends on where the bits
come from (faces: see :mod:`fuzzykey` docs); this module cannot raise it.

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
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from Crypto.Hash import HMAC, SHA3_256
from Crypto.Protocol.KDF import HKDF
from numpy.typing import NDArray

from ._checks import as_bits, as_int, as_threads
from .bch import BCHCode
from .errors import InvalidArgument, InvalidHelperData, KeyMismatch
from .helper import MAX_KEY_BYTES, MAX_METADATA_BYTES, SALT_BYTES, HelperData

__all__ = ["FuzzyExtractor"]

_KEY_LABEL = b"fuzzykey/v1/key\x00"
_TAG_LABEL = b"fuzzykey/v1/tag\x00"
_MISMATCH = "the bits do not match the enrolled ones, or the helper data or info label differ"


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
    def generate(self, bits: Any, *, metadata: bytes = b"") -> tuple[bytes, HelperData]:
        """Enroll one bit string.

        Args:
            bits: 1-D uint8/bool 0/1 array of ``code.n`` bits.
            metadata: public bytes stored in (and authenticated by) the helper.

        Returns:
            ``(key, helper)``.
        """
        w = as_bits(bits, "bits", ndim=1, length=self._code.n)
        keys, helpers = self._generate(w[None, :], self._check_metadata(metadata), 0)
        return keys[0], helpers[0]

    def generate_batch(
        self, bits: Any, *, metadata: bytes = b"", threads: int | None = None
    ) -> tuple[list[bytes], list[HelperData]]:
        """Enroll each row of a (rows, n) array; returns keys and helpers in row order."""
        w = as_bits(bits, "bits", ndim=2, length=self._code.n)
        return self._generate(w, self._check_metadata(metadata), as_threads(threads))

    def _generate(
        self, w: NDArray[np.uint8], metadata: bytes, threads: int
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
            ikm = np.packbits(w[row]).tobytes()
            draft = HelperData._build(self._code, self._key_bytes, salt, sketches[row], metadata)
            helpers.append(draft._with_tag(self._tag(ikm, draft)))
            keys.append(_hkdf(ikm, salt, self._key_bytes, _KEY_LABEL + self._info))
        return keys, helpers

    # -- reproduction -------------------------------------------------------
    def reproduce(self, bits: Any, helper: HelperData | bytes) -> bytes:
        """Recover the key from bits within distance t of the enrolled ones.

        Raises:
            KeyMismatch: too many differing bits, a changed helper, or another
                ``info`` label.
            InvalidHelperData: malformed helper bytes, or a helper made for
                another code or key length.
        """
        h = self._check_helper(helper)
        w = as_bits(bits, "bits", ndim=1, length=self._code.n)
        key = self._reproduce(w[None, :], [h], 1)[0]
        if key is None:
            raise KeyMismatch(_MISMATCH)
        return key

    def reproduce_batch(
        self,
        bits: Any,
        helpers: Sequence[HelperData | bytes],
        *,
        threads: int | None = None,
    ) -> list[bytes | None]:
        """Row i of ``bits`` against ``helpers[i]``; None where the key is not recovered."""
        w = as_bits(bits, "bits", ndim=2, length=self._code.n)
        if len(helpers) != w.shape[0]:
            raise InvalidArgument(
                f"helpers must have one entry per row of bits: {w.shape[0]} rows, "
                f"{len(helpers)} helpers"
            )
        checked = [self._check_helper(h) for h in helpers]
        return self._reproduce(w, checked, as_threads(threads))

    def _reproduce(
        self, w: NDArray[np.uint8], helpers: list[HelperData], threads: int
    ) -> list[bytes | None]:
        if not helpers:
            return []
        sketches = np.stack([h.sketch_bits for h in helpers])
        codewords, n_errors = self._code.decode_batch(np.bitwise_xor(w, sketches), threads=threads)
        recovered = np.bitwise_xor(codewords, sketches)
        out: list[bytes | None] = []
        for row, h in enumerate(helpers):
            if n_errors[row] < 0:
                out.append(None)
                continue
            ikm = np.packbits(recovered[row]).tobytes()
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
