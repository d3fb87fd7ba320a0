"""The public helper data of the fuzzy extractor, and its binary formats.

Everything in a helper is public: storing it next to the user's record is the
point. It holds no key material, but it does hold the sketch ``w XOR c``, which
leaks up to n - k bits about the enrolled bits w (see :mod:`fuzzykey.extractor`).

Two versions exist. A helper made with a :class:`~fuzzykey.BCHCode` and no key
stretching is written as version 1, byte for byte as before version 2 existed;
every other helper (a :class:`~fuzzykey.linear.LinearCode`, or a KDF) is
version 2. Both are read.

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

Format, version 2 (integers big-endian; C and A depend on the kinds)::

    offset   size        field
    0        4           magic  b"FZKH"
    4        1           version = 2
    5        1           code_kind    1 = BCH, 2 = binary linear code
    6        2           n            code length, 1..65535
    8        2           k            code dimension (BCH: must match BCH(m, t, n);
                                      linear: 1..24, k <= n)
    10       2           key_bytes    length of the derived key, 1..8160
    12       4           meta_len     length of the metadata, <= 2^20
    16       C           code         BCH (C = 3): m (1 byte, 5..16), t (2 bytes);
                                      linear (C = 32): SHA-256 digest of the
                                      generator, LinearCode.digest as raw bytes
    16+C     1           kdf_kind     0 = none, 1 = Argon2id v1.3, 32-byte output
    17+C     A           kdf          none (A = 0); Argon2id (A = 12): time_cost,
                                      memory_kib, lanes, 4 bytes each
    17+C+A   32          salt         HKDF (and Argon2id) salt
    49+C+A   ceil(n/8)   sketch       w XOR c, numpy.packbits order, zero padding
    ...      meta_len    metadata     opaque application bytes (public, authenticated)
    ...      32          tag          HMAC-SHA3-256 over all bytes before it

So a v2 helper is 81 + C + A + ceil(n/8) + meta_len bytes; the code and the KDF
with its parameters all lie under the tag.

The tag's key is derived from w, so only someone who recovers w can make or
check it: :meth:`FuzzyExtractor.reproduce` refuses any helper that was changed.
Parsing is strict and bounds every cost before doing any work: wrong magic, an
unknown version or kind, a length that is not exactly right (checked before any
code is built), parameters that are no BCH code, a k that does not match, a KDF
cost above the reader's :class:`~fuzzykey.kdf.KdfLimits` (default: four times
:meth:`Argon2id.default <fuzzykey.kdf.Argon2id.default>`), invalid Argon2id
parameters or nonzero padding raise :class:`InvalidHelperData`.

Attributes of a linear-code helper: ``m`` and ``t`` have no meaning there and
are 0; ``code_kind`` is ``"linear"`` (``"bch"`` otherwise) and ``code_digest``
holds the generator's 32-byte digest (empty for BCH). The extractor compares
that digest with its own code's and refuses another generator with
:class:`InvalidHelperData`, not :class:`KeyMismatch`: like a helper for another
BCH code, it is a configuration error that is certain before any decoding, the
digest is public so saying so reveals nothing, and no Argon2id is spent on it.
(A helper whose digest field was altered is refused the same way; one whose
other authenticated fields were altered ends in :class:`KeyMismatch`.)

Example:
    >>> import numpy as np
    >>> from fuzzykey import BCHCode, FuzzyExtractor, HelperData, InvalidHelperData
    >>> from fuzzykey.kdf import Argon2id
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

    With key stretching the helper is version 2 and names its KDF:

    >>> fe2 = FuzzyExtractor(BCHCode(m=6, t=3), kdf=Argon2id(1, 8, 1))
    >>> _, helper2 = fe2.generate(np.zeros(63, np.uint8))
    >>> raw2 = helper2.to_bytes()
    >>> helper2.version, helper2.kdf, len(raw2)          # 81 + 3 + 12 + 8 bytes
    (2, Argon2id(time_cost=1, memory_kib=8, lanes=1), 104)
    >>> huge = bytearray(raw2); huge[24:28] = (4 * 1024 * 1024).to_bytes(4, "big")  # 4 GiB
    >>> try:
    ...     HelperData.from_bytes(bytes(huge))
    ... except InvalidHelperData as exc:
    ...     print(exc)
    helper asks for too costly a KDF: Argon2id memory 4194304 KiB exceeds the limit 262144 KiB
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .bch import BCHCode
from .errors import InvalidArgument, InvalidHelperData
from .kdf import Argon2id, KdfLimits, check_limits
from .linear import MAX_K as MAX_LINEAR_K
from .linear import LinearCode

__all__ = ["HelperData", "MAGIC", "VERSION", "VERSION_2", "CODE_KINDS"]

MAGIC = b"FZKH"
VERSION = 1
VERSION_2 = 2
SALT_BYTES = 32
TAG_BYTES = 32
DIGEST_BYTES = 32
MAX_KEY_BYTES = 255 * 32  # HKDF-SHA3-256 output limit
MAX_METADATA_BYTES = 1 << 20
CODE_KINDS = ("bch", "linear")
_HEADER = struct.Struct(">4sBBHHHHI")
_HEADER_V2 = struct.Struct(">4sBBHHHI")
_BCH_PARAMS = struct.Struct(">BH")
_ARGON2ID_PARAMS = struct.Struct(">III")
_CODE_IDS = {"bch": 1, "linear": 2}
_CODE_NAMES = {v: k for k, v in _CODE_IDS.items()}
_KDF_NONE = 0
_KDF_ARGON2ID = 1


def _sketch_bytes(n: int) -> int:
    return (n + 7) // 8


@dataclass(frozen=True, eq=True, repr=False)
class HelperData:
    """Public data that lets :meth:`FuzzyExtractor.reproduce` recover a key.

    Attributes:
        m, n, t, k: the code's parameters. For a linear code (``code_kind ==
            "linear"``) only n and k mean something; m and t are 0.
        key_bytes: length of the key derived from it.
        salt: 32-byte HKDF (and Argon2id) salt.
        sketch: the packed sketch ``w XOR c`` (``ceil(n/8)`` bytes).
        metadata: opaque public bytes, authenticated by the tag.
        tag: 32-byte HMAC-SHA3-256 over the serialized fields.
        version: the format version, 1 or 2 (see the module docstring).
        code_kind: ``"bch"`` or ``"linear"`` (version 1: always ``"bch"``).
        code_digest: a linear code's 32-byte generator digest
            (``bytes.fromhex(LinearCode.digest)``); ``b""`` for BCH.
        kdf: the key-stretching KDF the key was derived with, or None
            (version 1: always None).
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
    code_kind: str = "bch"
    code_digest: bytes = b""
    kdf: Argon2id | None = None

    def __post_init__(self) -> None:
        if self.version not in (VERSION, VERSION_2):
            raise InvalidArgument(f"version must be {VERSION} or {VERSION_2}, got {self.version!r}")
        if self.code_kind not in CODE_KINDS:
            raise InvalidArgument(f"code_kind must be one of {CODE_KINDS}, got {self.code_kind!r}")
        if self.kdf is not None and not isinstance(self.kdf, Argon2id):
            raise InvalidArgument(f"kdf must be an Argon2id or None, got {type(self.kdf).__name__}")
        if self.version == VERSION and (self.code_kind != "bch" or self.kdf is not None):
            raise InvalidArgument(
                "version 1 helper data holds a BCH code without a KDF; use version 2"
            )
        wanted = DIGEST_BYTES if self.code_kind == "linear" else 0
        if not isinstance(self.code_digest, bytes):
            raise InvalidArgument(f"code_digest must be bytes, got {type(self.code_digest).__name__}")
        if len(self.code_digest) != wanted:
            raise InvalidArgument(
                f"code_digest must be {wanted} bytes for a {self.code_kind} code, "
                f"got {len(self.code_digest)}"
            )

    @property
    def sketch_bits(self) -> NDArray[np.uint8]:
        """The sketch as n bits (uint8 0/1)."""
        packed = np.frombuffer(self.sketch, dtype=np.uint8)
        return np.unpackbits(packed, count=self.n)

    @property
    def code(self) -> BCHCode:
        """The BCH code this helper was made with.

        Raises:
            InvalidArgument: a linear-code helper; it names its generator only by
                digest (compare :attr:`code_digest` with the code's).
        """
        if self.code_kind != "bch":
            raise InvalidArgument(
                "a linear-code helper records its generator only by digest; compare "
                "code_digest with bytes.fromhex(LinearCode.digest)"
            )
        return BCHCode(self.m, self.t, self.n)

    def describe_code(self) -> str:
        """The code in words, e.g. ``BCH(m=6, n=63, k=45, t=3)`` or
        ``linear(n=64, k=16, digest=1a2b3c4d...)``."""
        if self.code_kind == "linear":
            return f"linear(n={self.n}, k={self.k}, digest={self.code_digest.hex()[:16]}...)"
        return f"BCH(m={self.m}, n={self.n}, k={self.k}, t={self.t})"

    def signed_bytes(self) -> bytes:
        """The serialized fields that the tag covers (everything but the tag)."""
        if self.version == VERSION:
            header = _HEADER.pack(
                MAGIC, self.version, self.m, self.n, self.t, self.k, self.key_bytes,
                len(self.metadata),
            )
        else:
            header = _HEADER_V2.pack(
                MAGIC, self.version, _CODE_IDS[self.code_kind], self.n, self.k, self.key_bytes,
                len(self.metadata),
            )
            if self.code_kind == "bch":
                header += _BCH_PARAMS.pack(self.m, self.t)
            else:
                header += self.code_digest
            if self.kdf is None:
                header += bytes([_KDF_NONE])
            else:
                header += bytes([_KDF_ARGON2ID]) + _ARGON2ID_PARAMS.pack(
                    self.kdf.time_cost, self.kdf.memory_kib, self.kdf.lanes
                )
        return header + self.salt + self.sketch + self.metadata

    def to_bytes(self) -> bytes:
        """Serialize (formats above)."""
        return self.signed_bytes() + self.tag

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, limits: KdfLimits | None = None
    ) -> HelperData:
        """Parse and validate serialized helper data (version 1 or 2).

        Args:
            data: the serialized helper.
            limits: the most expensive KDF to accept (None:
                :meth:`KdfLimits.default() <fuzzykey.kdf.KdfLimits.default>`);
                a helper naming a costlier one is refused before any work.

        Raises:
            InvalidArgument: ``data`` is not bytes-like, or ``limits`` is no
                :class:`~fuzzykey.kdf.KdfLimits`.
            InvalidHelperData: anything wrong with its content.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidArgument(f"helper data must be bytes, got {type(data).__name__}")
        limits = check_limits(limits)
        raw = bytes(data)
        if len(raw) < 5:
            raise InvalidHelperData(
                f"helper data is truncated: {len(raw)} bytes, too few for a magic and a version"
            )
        if raw[:4] != MAGIC:
            raise InvalidHelperData(f"not fuzzykey helper data: magic {raw[:4]!r}, expected {MAGIC!r}")
        version = raw[4]
        if version == VERSION:
            return cls._parse_v1(raw)
        if version == VERSION_2:
            return cls._parse_v2(raw, limits)
        raise InvalidHelperData(
            f"unsupported helper data version {version}; this fuzzykey reads versions "
            f"{VERSION} and {VERSION_2}"
        )

    @staticmethod
    def _check_common(key_bytes: int, meta_len: int) -> None:
        if not 1 <= key_bytes <= MAX_KEY_BYTES:
            raise InvalidHelperData(f"key length {key_bytes} bytes is outside 1..{MAX_KEY_BYTES}")
        if meta_len > MAX_METADATA_BYTES:
            raise InvalidHelperData(f"metadata length {meta_len} exceeds {MAX_METADATA_BYTES}")

    @staticmethod
    def _check_length(raw: bytes, expected: int, n: int, meta_len: int) -> None:
        if len(raw) != expected:
            state = "truncated" if len(raw) < expected else "extended"
            raise InvalidHelperData(
                f"helper data is {state}: {len(raw)} bytes, expected {expected} for n = {n} "
                f"and {meta_len} bytes of metadata"
            )

    @staticmethod
    def _check_bch(m: int, t: int, n: int, k: int) -> None:
        # Only after the length check: the code (and its tables) is built from
        # numbers that BCHCode bounds itself (m <= 16) and that fit the data.
        try:
            code = BCHCode(m, t, n)
        except InvalidArgument as exc:
            raise InvalidHelperData(f"helper names no valid BCH code: {exc}") from None
        if code.k != k:
            raise InvalidHelperData(
                f"helper says k = {k}, but BCH(m={m}, t={t}, n={n}) has k = {code.k}"
            )

    @classmethod
    def _split_tail(
        cls, raw: bytes, pos: int, n: int, meta_len: int
    ) -> tuple[bytes, bytes, bytes, bytes]:
        """salt, sketch, metadata, tag from ``pos`` on (the length is already exact)."""
        sketch_len = _sketch_bytes(n)
        salt = raw[pos : pos + SALT_BYTES]
        pos += SALT_BYTES
        sketch = raw[pos : pos + sketch_len]
        pos += sketch_len
        metadata = raw[pos : pos + meta_len]
        tag = raw[pos + meta_len :]
        if n % 8 and sketch[-1] & ((1 << (8 - n % 8)) - 1):
            raise InvalidHelperData("the sketch's padding bits after bit n are not zero")
        return salt, sketch, metadata, tag

    @classmethod
    def _parse_v1(cls, raw: bytes) -> HelperData:
        if len(raw) < _HEADER.size:
            raise InvalidHelperData(
                f"helper data is truncated: {len(raw)} bytes, the header alone has {_HEADER.size}"
            )
        _, version, m, n, t, k, key_bytes, meta_len = _HEADER.unpack_from(raw)
        cls._check_common(key_bytes, meta_len)
        cls._check_length(raw, _HEADER.size + SALT_BYTES + _sketch_bytes(n) + meta_len + TAG_BYTES,
                          n, meta_len)
        cls._check_bch(m, t, n, k)
        salt, sketch, metadata, tag = cls._split_tail(raw, _HEADER.size, n, meta_len)
        return cls(
            m=m, n=n, t=t, k=k, key_bytes=key_bytes, salt=salt, sketch=sketch,
            metadata=metadata, tag=tag, version=version,
        )

    @classmethod
    def _parse_v2(cls, raw: bytes, limits: KdfLimits) -> HelperData:
        if len(raw) < _HEADER_V2.size:
            raise InvalidHelperData(
                f"helper data is truncated: {len(raw)} bytes, the version 2 header alone has "
                f"{_HEADER_V2.size}"
            )
        _, version, kind_id, n, k, key_bytes, meta_len = _HEADER_V2.unpack_from(raw)
        kind = _CODE_NAMES.get(kind_id)
        if kind is None:
            raise InvalidHelperData(
                f"unknown code kind {kind_id}; version 2 knows 1 (BCH) and 2 (linear)"
            )
        cls._check_common(key_bytes, meta_len)
        if n < 1:
            raise InvalidHelperData(f"code length n = {n} must be at least 1")
        pos = _HEADER_V2.size
        code_size = _BCH_PARAMS.size if kind == "bch" else DIGEST_BYTES
        if len(raw) < pos + code_size + 1:
            raise InvalidHelperData(
                f"helper data is truncated: {len(raw)} bytes, its header needs {pos + code_size + 1}"
            )
        m = t = 0
        digest = b""
        if kind == "bch":
            m, t = _BCH_PARAMS.unpack_from(raw, pos)
        else:
            if not 1 <= k <= min(n, MAX_LINEAR_K):
                raise InvalidHelperData(
                    f"a linear code needs 1 <= k <= min(n, {MAX_LINEAR_K}); helper says n = {n}, k = {k}"
                )
            digest = raw[pos : pos + DIGEST_BYTES]
        pos += code_size
        kdf_id = raw[pos]
        pos += 1
        params: tuple[int, int, int] | None = None
        if kdf_id == _KDF_ARGON2ID:
            if len(raw) < pos + _ARGON2ID_PARAMS.size:
                raise InvalidHelperData(
                    f"helper data is truncated: {len(raw)} bytes, its header needs "
                    f"{pos + _ARGON2ID_PARAMS.size}"
                )
            params = _ARGON2ID_PARAMS.unpack_from(raw, pos)
            pos += _ARGON2ID_PARAMS.size
            # the cost is bounded first, from the raw numbers
            excess = limits.excess_of(*params)
            if excess is not None:
                raise InvalidHelperData(f"helper asks for too costly a KDF: {excess}")
        elif kdf_id != _KDF_NONE:
            raise InvalidHelperData(
                f"unknown KDF kind {kdf_id}; version 2 knows 0 (none) and 1 (Argon2id)"
            )
        cls._check_length(raw, pos + SALT_BYTES + _sketch_bytes(n) + meta_len + TAG_BYTES, n, meta_len)
        # objects only now: from bounded numbers that fit the data
        kdf: Argon2id | None = None
        if params is not None:
            try:
                kdf = Argon2id(*params)
            except InvalidArgument as exc:
                raise InvalidHelperData(f"helper names invalid Argon2id parameters: {exc}") from None
        if kind == "bch":
            cls._check_bch(m, t, n, k)
        salt, sketch, metadata, tag = cls._split_tail(raw, pos, n, meta_len)
        return cls(
            m=m, n=n, t=t, k=k, key_bytes=key_bytes, salt=salt, sketch=sketch,
            metadata=metadata, tag=tag, version=version, code_kind=kind, code_digest=digest,
            kdf=kdf,
        )

    @classmethod
    def untagged(
        cls,
        code: BCHCode | LinearCode,
        key_bytes: int,
        salt: bytes,
        sketch_bits: NDArray[np.uint8],
        metadata: bytes,
        *,
        kdf: Argon2id | None = None,
    ) -> HelperData:
        """A helper whose tag is still empty: the extractor computes the tag over
        :meth:`signed_bytes` of this draft and fills it in (``dataclasses.replace``).

        The version is 1 for a :class:`~fuzzykey.BCHCode` without ``kdf``
        (exactly the format from before version 2), 2 otherwise."""
        sketch = np.packbits(sketch_bits).tobytes()
        if isinstance(code, BCHCode):
            return cls(
                m=code.m, n=code.n, t=code.t, k=code.k, key_bytes=key_bytes, salt=salt,
                sketch=sketch, metadata=metadata, tag=b"",
                version=VERSION if kdf is None else VERSION_2, kdf=kdf,
            )
        return cls(
            m=0, n=code.n, t=0, k=code.k, key_bytes=key_bytes, salt=salt, sketch=sketch,
            metadata=metadata, tag=b"", version=VERSION_2, code_kind="linear",
            code_digest=bytes.fromhex(code.digest), kdf=kdf,
        )

    def __repr__(self) -> str:
        kdf = "" if self.version == VERSION else f", kdf={self.kdf!r}"
        return (
            f"HelperData(version={self.version}, code={self.describe_code()}, "
            f"key_bytes={self.key_bytes}{kdf}, metadata={len(self.metadata)} bytes)"
        )

    def __reduce__(self) -> tuple[Any, tuple[bytes, KdfLimits]]:
        # unpickling admits the helper's own KDF cost, whatever the default limits
        return (_from_pickle, (self.to_bytes(), KdfLimits.admitting(self.kdf)))


def _from_pickle(raw: bytes, limits: KdfLimits) -> HelperData:
    return HelperData.from_bytes(raw, limits=limits)
