"""The public helper data of the fuzzy extractor, and its binary format.

Everything in a helper is public: storing it next to the user's record is the
point. It holds no key material, but it does hold the sketch ``w XOR c``, which
leaks up to n - k bits about the enrolled bits w (see :mod:`fuzzykey.extractor`).

Format, version 1 (integers big-endian)::

    offset  size         field
    0       4            magic  b"FZKH"
    4       1            version = 1
    5       1            m            field degree, 5..16
    6       2            n            code length (after shortening)
    8       2            t            corrected errors
    10      2            k            code dimension (must match BCH(m, t, n))
    12      2            key_bytes    length of the derived key, 1..8160
    14      4            meta_len     length of the metadata
    18      32           salt         HKDF salt
    50      ceil(n/8)    sketch       w XOR c, numpy.packbits order, zero padding
    ...     meta_len     metadata     opaque application bytes (public, authenticated)
    ...     32           tag          HMAC-SHA3-256 over all bytes before it

The tag's key is derived from w, so only someone who recovers w can make or
check it: :meth:`FuzzyExtractor.reproduce` refuses any helper that was changed.
Parsing is strict: wrong magic, unknown version, parameters that are no BCH
code, a k that does not match, nonzero padding, or a length that is not exactly
right raise :class:`InvalidHelperData`.

Example:
    >>> import numpy as np
    >>> from fuzzykey import BCHCode, FuzzyExtractor, HelperData, InvalidHelperData
    >>> fe = FuzzyExtractor(BCHCode(m=6, t=3))
    >>> _, helper = fe.generate(np.zeros(63, np.uint8), metadata=b"public note")
    >>> raw = helper.to_bytes()
    >>> len(raw), raw[:4], HelperData.from_bytes(raw).metadata   # 50 + 8 + 11 + 32 bytes
    (101, b'FZKH', b'public note')
    >>> try:
    ...     HelperData.from_bytes(raw[:-1])
    ... except InvalidHelperData:
    ...     print("truncated")
    truncated
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .bch import BCHCode
from .errors import InvalidArgument, InvalidHelperData

__all__ = ["HelperData", "MAGIC", "VERSION"]

MAGIC = b"FZKH"
VERSION = 1
SALT_BYTES = 32
TAG_BYTES = 32
MAX_KEY_BYTES = 255 * 32  # HKDF-SHA3-256 output limit
MAX_METADATA_BYTES = 1 << 20
_HEADER = struct.Struct(">4sBBHHHHI")


def _sketch_bytes(n: int) -> int:
    return (n + 7) // 8


@dataclass(frozen=True, eq=True, repr=False)
class HelperData:
    """Public data that lets :meth:`FuzzyExtractor.reproduce` recover a key.

    Attributes:
        m, n, t, k: the BCH code's parameters.
        key_bytes: length of the key derived from it.
        salt: 32-byte HKDF salt.
        sketch: the packed sketch ``w XOR c`` (``ceil(n/8)`` bytes).
        metadata: opaque public bytes, authenticated by the tag.
        tag: 32-byte HMAC-SHA3-256 over the serialized fields.
        version: the format version (1).
    """

    m: int
    n: int
    t: int
    k: int
    key_bytes: int
    salt: bytes
    sketch: bytes
    metadata: bytes
    tag: bytes
    version: int = VERSION

    @property
    def sketch_bits(self) -> NDArray[np.uint8]:
        """The sketch as n bits (uint8 0/1)."""
        packed = np.frombuffer(self.sketch, dtype=np.uint8)
        return np.unpackbits(packed, count=self.n)

    @property
    def code(self) -> BCHCode:
        """The BCH code this helper was made with."""
        return BCHCode(self.m, self.t, self.n)

    def signed_bytes(self) -> bytes:
        """The serialized fields that the tag covers (everything but the tag)."""
        header = _HEADER.pack(
            MAGIC, self.version, self.m, self.n, self.t, self.k, self.key_bytes,
            len(self.metadata),
        )
        return header + self.salt + self.sketch + self.metadata

    def to_bytes(self) -> bytes:
        """Serialize (format above)."""
        return self.signed_bytes() + self.tag

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> HelperData:
        """Parse and validate serialized helper data.

        Raises:
            InvalidArgument: ``data`` is not bytes-like.
            InvalidHelperData: anything wrong with its content.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidArgument(f"helper data must be bytes, got {type(data).__name__}")
        raw = bytes(data)
        if len(raw) < _HEADER.size:
            raise InvalidHelperData(
                f"helper data is truncated: {len(raw)} bytes, the header alone has {_HEADER.size}"
            )
        magic, version, m, n, t, k, key_bytes, meta_len = _HEADER.unpack_from(raw)
        if magic != MAGIC:
            raise InvalidHelperData(f"not fuzzykey helper data: magic {magic!r}, expected {MAGIC!r}")
        if version != VERSION:
            raise InvalidHelperData(
                f"unsupported helper data version {version}; this fuzzykey reads version {VERSION}"
            )
        if not 1 <= key_bytes <= MAX_KEY_BYTES:
            raise InvalidHelperData(f"key length {key_bytes} bytes is outside 1..{MAX_KEY_BYTES}")
        if meta_len > MAX_METADATA_BYTES:
            raise InvalidHelperData(f"metadata length {meta_len} exceeds {MAX_METADATA_BYTES}")
        try:
            code = BCHCode(m, t, n)
        except InvalidArgument as exc:
            raise InvalidHelperData(f"helper names no valid BCH code: {exc}") from None
        if code.k != k:
            raise InvalidHelperData(
                f"helper says k = {k}, but BCH(m={m}, t={t}, n={n}) has k = {code.k}"
            )
        sketch_len = _sketch_bytes(n)
        expected = _HEADER.size + SALT_BYTES + sketch_len + meta_len + TAG_BYTES
        if len(raw) != expected:
            state = "truncated" if len(raw) < expected else "extended"
            raise InvalidHelperData(
                f"helper data is {state}: {len(raw)} bytes, expected {expected} for n = {n} "
                f"and {meta_len} bytes of metadata"
            )
        pos = _HEADER.size
        salt = raw[pos : pos + SALT_BYTES]
        pos += SALT_BYTES
        sketch = raw[pos : pos + sketch_len]
        pos += sketch_len
        metadata = raw[pos : pos + meta_len]
        pos += meta_len
        tag = raw[pos:]
        if n % 8 and sketch[-1] & ((1 << (8 - n % 8)) - 1):
            raise InvalidHelperData("the sketch's padding bits after bit n are not zero")
        return cls(
            m=m, n=n, t=t, k=k, key_bytes=key_bytes, salt=salt, sketch=sketch,
            metadata=metadata, tag=tag, version=version,
        )

    @classmethod
    def untagged(
        cls,
        code: BCHCode,
        key_bytes: int,
        salt: bytes,
        sketch_bits: NDArray[np.uint8],
        metadata: bytes,
    ) -> HelperData:
        """A helper whose tag is still empty: the extractor computes the tag over
        :meth:`signed_bytes` of this draft and fills it in (``dataclasses.replace``)."""
        return cls(
            m=code.m, n=code.n, t=code.t, k=code.k, key_bytes=key_bytes, salt=salt,
            sketch=np.packbits(sketch_bits).tobytes(), metadata=metadata, tag=b"",
        )

    def __repr__(self) -> str:
        return (
            f"HelperData(version={self.version}, code=BCH(m={self.m}, n={self.n}, k={self.k}, "
            f"t={self.t}), key_bytes={self.key_bytes}, metadata={len(self.metadata)} bytes)"
        )

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (HelperData.from_bytes, (self.to_bytes(),))
