"""Zero-leakage face keys: face-only, and two-factor (face + secret), from embeddings.

Pipeline: unit-norm embeddings → discriminant coordinates
(:mod:`fuzzykey.discriminant`; several enrollment photos averaged) → one
zero-leakage bit per coordinate and its 16-bit position (:mod:`fuzzykey.zeroleak`)
→ code-offset over a [128, k] linear code (:func:`fuzzykey.zeroleak.zero_leakage_code`)
with maximum-likelihood soft decoding, Argon2id stretching and HKDF-SHA3
(:class:`fuzzykey.FuzzyExtractor`) → key. Reproduction decodes the probe's
LLRs, then the verification gate compares the probe with the enrollment that
the decoded bits and the positions describe, and refuses below the threshold
fitted with the transform; the tag decides last.

Modes:

* ``"face-only"``: no secret. The helper holds the sketch (bits XOR a random
  codeword) and the positions, which are independent of the bits. An attacker
  holding the helper faces at most :math:`2^k` candidates, each costing one
  Argon2id; a photo of the person, which is public, opens it.
* ``"two-factor"``: a secret (at least 16 bytes: a device key, or
  :func:`fuzzykey.passwords.password_secret`) and a per-enrollment nonce seed a
  permutation, sign flips and dithers of the coordinates
  (:class:`fuzzykey.zeroleak.SecretTransform`), and the secret enters the key
  derivation. The helper alone is worth the secret; helper and a stolen secret
  are worth the face-only scheme (at most :math:`2^k` candidates, and a photo of
  the person opens it); the face alone opens nothing.

What is measured for each is in ``benchmarks/results/zero_leakage.md`` (LFW-dev
half B: people never used for fitting), from ``benchmarks/zero_leakage.py``.

Example:
    >>> import numpy as np
    >>> from fuzzykey.facekeys import ZeroLeakageKeys
    >>> from fuzzykey.kdf import Argon2id
    >>> zk = ZeroLeakageKeys(kdf=Argon2id(1, 64, 1))          # cheap stretching for the example
    >>> rng = np.random.default_rng(3)
    >>> t = zk.transform
    >>> z = rng.standard_normal(t.n_coords)                   # a person's discriminant coordinates
    >>> enrol = np.linalg.lstsq(t.matrix, z, rcond=None)[0] + t.mean
    >>> key, helper = zk.enroll_embedding(enrol)
    >>> r = t.rho_for(1)
    >>> zp = r * z + np.sqrt(1 - r * r) * rng.standard_normal(t.n_coords)   # another photo
    >>> probe = np.linalg.lstsq(t.matrix, zp, rcond=None)[0] + t.mean
    >>> zk.reproduce_embedding(probe, helper) == key
    True
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ._checks import as_int
from .discriminant import DiscriminantTransform, sface_discriminant
from .errors import InvalidArgument, InvalidHelperData, KeyMismatch, PipelineMismatch
from .extractor import FuzzyExtractor
from .header import check_public, parse_header_json
from .helper import MAX_KEY_BYTES, HelperData
from .kdf import Argon2id, KdfLimits
from .zeroleak import (
    SecretTransform,
    bit_llrs,
    quantize,
    verification_scores,
    zero_leakage_code,
)

__all__ = [
    "ZeroLeakageKeys",
    "check_secret",
    "SECRET_MIN_BYTES",
    "ZlMode",
    "ZL_MODES",
    "ZeroLeakageHeader",
    "read_zero_leakage_header",
    "unit_embeddings",
]

ZlMode = Literal["face-only", "two-factor"]
ZL_MODES: tuple[ZlMode, ...] = ("face-only", "two-factor")
HEADER_FORMAT = "fuzzykey/zeroleak"
HEADER_VERSION = 1
SECRET_MIN_BYTES = 16
NONCE_BYTES = 16
MAX_PHOTOS = 64
_INFO = b"fuzzykey/zeroleak/v1\x00"
DEFAULT_ENCODER = "sface-2021dec-int8bq"
DEFAULT_DETECTOR = "yunet-2023mar-int8bq"
_HEX = re.compile(r"^[0-9a-f]*$")
_MISMATCH = (
    "the key could not be reproduced: another person, too different a photo, a wrong secret, "
    "or a changed helper"
)


@dataclass(frozen=True)
class ZeroLeakageHeader:
    """The public fields of a zero-leakage helper (parsed and checked by :func:`read_zero_leakage_header`)."""

    mode: ZlMode
    transform: str
    transform_digest: str
    k: int
    photos: int
    gate: float
    positions: NDArray[np.uint16]
    nonce: bytes
    encoder: str = DEFAULT_ENCODER
    detector: str = DEFAULT_DETECTOR
    app: dict[str, Any] | None = None

    def to_bytes(self) -> bytes:
        doc: dict[str, Any] = {
            "format": HEADER_FORMAT,
            "version": HEADER_VERSION,
            "mode": self.mode,
            "encoder": self.encoder,
            "detector": self.detector,
            "transform": self.transform,
            "transform_digest": self.transform_digest,
            "k": self.k,
            "images": self.photos,
            "gate": self.gate,
            "positions": base64.b64encode(self.positions.astype("<u2").tobytes()).decode("ascii"),
        }
        if self.mode == "two-factor":
            doc["nonce"] = self.nonce.hex()
        if self.app is not None:
            doc["app"] = self.app
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def read_zero_leakage_header(
    helper: HelperData | bytes, n_coords: int
) -> tuple[HelperData, ZeroLeakageHeader]:
    """Parse a zero-leakage helper and its header; every field is checked before use.

    Raises:
        InvalidHelperData: malformed bytes, another header format or version, a
            missing or malformed field (positions of the wrong length, a nonce that
            is not 16 bytes of hex, photos out of 1..64, a non-finite gate).
    """
    h = helper if isinstance(helper, HelperData) else HelperData.from_bytes(helper)
    doc = parse_header_json(h.metadata)
    if not isinstance(doc, dict) or doc.get("format") != HEADER_FORMAT:
        raise InvalidHelperData("the helper has no zero-leakage header (was it made by ZeroLeakageKeys?)")
    if doc.get("version") != HEADER_VERSION:
        raise InvalidHelperData(f"zero-leakage header version {doc.get('version')!r} is not supported")
    mode = doc.get("mode")
    if mode not in ZL_MODES:
        raise InvalidHelperData(f"unknown zero-leakage mode {mode!r}")
    try:
        transform, digest = doc["transform"], doc["transform_digest"]
        k, photos, gate, positions = doc["k"], doc["images"], doc["gate"], doc["positions"]
        nonce_hex = doc.get("nonce", "")
        encoder, detector, app = doc["encoder"], doc["detector"], doc.get("app")
    except KeyError as exc:
        raise InvalidHelperData(f"the zero-leakage header misses {exc.args[0]!r}") from exc
    if not all(isinstance(v, str) for v in (transform, digest, positions, encoder, detector)):
        raise InvalidHelperData(
            "the zero-leakage header's transform, digest, positions, encoder and detector must be strings"
        )
    if app is not None and not isinstance(app, dict):
        raise InvalidHelperData("the zero-leakage header's app fields must be a JSON object")
    if not (
        type(k) is int and type(photos) is int and 1 <= photos <= MAX_PHOTOS  # bools are ints: not here
    ):
        raise InvalidHelperData(
            f"the zero-leakage header's k and images must be integers, images 1..{MAX_PHOTOS}"
        )
    if not isinstance(gate, (int, float)) or isinstance(gate, bool) or not np.isfinite(gate):
        raise InvalidHelperData(f"the zero-leakage header's gate must be a finite number, got {gate!r}")
    if len(positions) != 4 * ((2 * n_coords + 2) // 3):
        raise InvalidHelperData(f"the zero-leakage header's positions must encode {n_coords} uint16 values")
    try:
        raw = base64.b64decode(positions, validate=True)
    except ValueError as exc:
        raise InvalidHelperData("the zero-leakage header's positions are not base64") from exc
    if len(raw) != 2 * n_coords:
        raise InvalidHelperData(f"the zero-leakage header's positions must be {n_coords} uint16 values")
    if mode == "two-factor":
        if not (isinstance(nonce_hex, str) and len(nonce_hex) == 2 * NONCE_BYTES and _HEX.match(nonce_hex)):
            raise InvalidHelperData(
                f"a two-factor header needs a nonce of {NONCE_BYTES} bytes in lowercase hex"
            )
        nonce = bytes.fromhex(nonce_hex)
    elif "nonce" in doc:
        raise InvalidHelperData("a face-only header has no nonce")
    else:
        nonce = b""
    return h, ZeroLeakageHeader(
        mode,
        transform,
        digest,
        k,
        photos,
        float(gate),
        np.frombuffer(raw, dtype="<u2").astype(np.uint16),
        nonce,
        encoder,
        detector,
        app,
    )


def unit_embeddings(x: Any, dim: int, name: str, *, allow_empty: bool = False) -> NDArray[np.float64]:
    """``x`` as finite ``(N, dim)`` float64 rows scaled to unit norm (a single vector becomes
    N = 1); :class:`InvalidArgument` naming ``name`` for a wrong dtype or shape, NaN or infinity,
    or an all-zero row."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise InvalidArgument(f"{name} must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != dim or (a.shape[0] < 1 and not allow_empty):
        raise InvalidArgument(f"{name} must have shape ({dim},) or (N, {dim}), got {np.shape(x)}")
    if not np.isfinite(a).all():
        raise InvalidArgument(f"{name} must be finite (found NaN or infinity)")
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    if (norms == 0).any():
        raise InvalidArgument(f"{name} has an all-zero row")
    out: NDArray[np.float64] = a / norms
    return out


class ZeroLeakageKeys:
    """Face-only and two-factor keys from embeddings (module docs).

    Args:
        transform: the discriminant transform (default: SFace's, fitted on LFW-dev half A).
        k: the code dimension, 15..24 (default 16: the measured operating point of one photo).
        kdf: key stretching (default :meth:`Argon2id.default`, ~0.26 s a guess).
        gate: the verification threshold (default: the one fitted with the transform;
            ``-inf`` turns the gate off).
        key_bytes: key length (default 32).
        info: application label mixed into keys.
        kdf_limits: the largest KDF cost a helper may ask for.
        encoder, detector: the names of the models whose embeddings these are (recorded in
            helpers and checked when reproducing; the shipped transform is for SFace on YuNet crops).
    """

    def __init__(
        self,
        transform: DiscriminantTransform | None = None,
        *,
        k: int = 16,
        kdf: Argon2id | None = None,
        gate: float | None = None,
        key_bytes: int = 32,
        info: bytes = b"",
        kdf_limits: KdfLimits | None = None,
        encoder: str = DEFAULT_ENCODER,
        detector: str = DEFAULT_DETECTOR,
    ) -> None:
        if not isinstance(encoder, str) or not isinstance(detector, str):
            raise InvalidArgument("encoder and detector must be the models' names (str)")
        self.encoder_name, self.detector_name = encoder, detector
        self.transform = transform if transform is not None else sface_discriminant()
        if not isinstance(self.transform, DiscriminantTransform):
            raise InvalidArgument(
                f"transform must be a DiscriminantTransform, got {type(transform).__name__}"
            )
        self.code = zero_leakage_code(k)
        if self.transform.n_coords != self.code.n:
            raise InvalidArgument(
                f"the transform has {self.transform.n_coords} coordinates; the codes take {self.code.n}"
            )
        if gate is None:
            gate = float(self.transform.provenance.get("gate", float("-inf")))
        self.gate = float(gate)
        if np.isnan(self.gate):
            raise InvalidArgument("gate must be a number or -inf, got NaN")
        if not isinstance(info, bytes):
            raise InvalidArgument(f"info must be bytes, got {type(info).__name__}")
        key_bytes = as_int(key_bytes, "key_bytes")
        if not 1 <= key_bytes <= MAX_KEY_BYTES:
            raise InvalidArgument(f"key_bytes must be between 1 and {MAX_KEY_BYTES}, got {key_bytes}")
        self.extractor = FuzzyExtractor(
            self.code,
            key_bytes,
            info=_INFO + info,
            kdf=kdf if kdf is not None else Argon2id.default(),
            kdf_limits=kdf_limits,
        )

    @property
    def k(self) -> int:
        return self.code.k

    def pipeline(self, mode: ZlMode) -> dict[str, Any]:
        """What a helper of ``mode`` must match to reproduce here; it also labels measured figures."""
        if mode not in ZL_MODES:
            raise InvalidArgument(f"mode must be 'face-only' or 'two-factor', got {mode!r}")
        kdf = self.extractor.kdf
        return {
            "mode": mode,
            "encoder": self.encoder_name,
            "detector": self.detector_name,
            "transform": self.transform.digest,
            "code": self.code.digest,
            "gate": self.gate,
            "kdf": None if kdf is None else [kdf.time_cost, kdf.memory_kib, kdf.lanes],
        }

    # -- parts used by benchmarks and attacks --------------------------------------
    def enroll_state(
        self, emb: Any, *, secret: bytes | None = None, nonce: bytes = b""
    ) -> tuple[NDArray[np.uint8], NDArray[np.uint16], int]:
        """Enrolled bits (n,), positions (n,) and the number of photos, without a helper."""
        x = unit_embeddings(emb, self.transform.dim, "emb")
        if x.shape[0] > MAX_PHOTOS:
            raise InvalidArgument(f"enroll takes at most {MAX_PHOTOS} photos, got {x.shape[0]}")
        z, m = self.transform.enroll_coords(x)
        dither = None
        if secret is not None:
            st = SecretTransform.derive(secret, nonce, self.code.n)
            z, dither = st.transform(z), st.dither
        bits, pos = quantize(z, dither)
        return bits, pos, m

    def probe_llrs(
        self,
        embs: Any,
        positions: NDArray[np.uint16],
        photos: int,
        *,
        secret: bytes | None = None,
        nonce: bytes = b"",
    ) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]:
        """LLRs of the enrolled bits for probe rows, with the coordinates, correlations and dither
        that :func:`fuzzykey.zeroleak.verification_scores` needs."""
        y = self.transform.apply(unit_embeddings(embs, self.transform.dim, "embs", allow_empty=True))
        y, rho, dither = self.probe_coords(y, photos, secret=secret, nonce=nonce)
        return bit_llrs(y, positions, rho, dither), y, rho, dither

    def probe_coords(
        self, coords: NDArray[np.float64], photos: int, *, secret: bytes | None = None, nonce: bytes = b""
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]:
        """Probe coordinates (``transform.apply`` of the embeddings, computed once for many
        enrollments) as an enrollment of ``photos`` photos and ``secret`` sees them: the
        coordinates, their correlations and the dither (None without a secret)."""
        rho = self.transform.rho_for(photos)
        if secret is None:
            return coords, rho, None
        st = SecretTransform.derive(secret, nonce, self.code.n)
        return st.transform(coords), rho[st.perm], st.dither

    # -- enrollment and reproduction -------------------------------------------------
    def enroll_embedding(
        self, emb: Any, *, secret: bytes | None = None, public: Mapping[str, Any] | None = None
    ) -> tuple[bytes, bytes]:
        """Enroll one person from ``(dim,)`` or ``(m, dim)`` embeddings (averaged): ``(key, helper)``.

        With ``secret`` the mode is ``"two-factor"``, else ``"face-only"``. ``public``:
        application fields kept in the header (:func:`fuzzykey.header.check_public`).
        """
        app = check_public(public)
        secret = check_secret(secret)
        nonce = os.urandom(NONCE_BYTES) if secret is not None else b""
        bits, pos, m = self.enroll_state(emb, secret=secret, nonce=nonce)
        header = ZeroLeakageHeader(
            "two-factor" if secret is not None else "face-only",
            self.transform.name,
            self.transform.digest,
            self.k,
            m,
            self.gate,
            pos,
            nonce,
            self.encoder_name,
            self.detector_name,
            app,
        )
        key, helper = self.extractor.generate(bits, metadata=header.to_bytes(), secret=secret)
        return key, helper.to_bytes()

    def reproduce_embeddings(
        self,
        embs: Any,
        helper: HelperData | bytes,
        *,
        secret: bytes | None = None,
        threads: int | None = None,
    ) -> list[bytes | None]:
        """Probe rows ``(N, dim)`` against one helper; None where no key comes out.

        Raises:
            PipelineMismatch: the helper names another transform, k or gate, or a
                secret is missing (two-factor) or given (face-only).
            InvalidHelperData: a malformed helper or header.
        """
        secret = check_secret(secret)
        h, header = read_zero_leakage_header(helper, self.code.n)
        if header.mode == "two-factor" and secret is None:
            raise PipelineMismatch("this helper is two-factor; pass secret=")
        if header.mode == "face-only" and secret is not None:
            raise PipelineMismatch("this helper is face-only; do not pass a secret")
        for name, theirs, ours in (
            ("encoder", header.encoder, self.encoder_name),
            ("detector", header.detector, self.detector_name),
            ("transform digest", header.transform_digest, self.transform.digest),
            ("k", header.k, self.k),
            ("gate", header.gate, self.gate),
        ):
            if theirs != ours:
                raise PipelineMismatch(f"the helper was made with {name} {theirs!r}, this one uses {ours!r}")
        llr, y, rho, dither = self.probe_llrs(
            embs, header.positions, header.photos, secret=secret, nonce=header.nonce
        )

        def gate(bits: NDArray[np.uint8]) -> NDArray[np.bool_]:
            out: NDArray[np.bool_] = verification_scores(y, bits, header.positions, rho, dither) >= self.gate
            return out

        return self.extractor.reproduce_soft_batch(
            llr, [h] * llr.shape[0], secret=secret, threads=threads, accept=gate
        )

    def reproduce_embedding(
        self, emb: Any, helper: HelperData | bytes, *, secret: bytes | None = None
    ) -> bytes:
        """The enrolled key from one probe ``(dim,)``; raises :class:`KeyMismatch`."""
        x = np.asarray(emb)
        if x.ndim != 1:
            raise InvalidArgument(f"emb must be one embedding (dim,), got shape {x.shape}")
        key = self.reproduce_embeddings(x, helper, secret=secret)[0]
        if key is None:
            raise KeyMismatch(_MISMATCH)
        return key

    def __repr__(self) -> str:
        return (
            f"ZeroLeakageKeys(transform={self.transform.name!r}, code=[{self.code.n}, {self.k}], "
            f"gate={self.gate:.3g}, kdf={self.extractor.kdf!r})"
        )


def check_secret(secret: Any) -> bytes | None:
    """A secret as bytes (None stays None): bytes-like and at least :data:`SECRET_MIN_BYTES` long.

    The one check of KeyGen's and ZeroLeakageKeys' ``secret=`` arguments."""
    if secret is None:
        return None
    if not isinstance(secret, (bytes, bytearray)):
        raise InvalidArgument(
            f"secret must be bytes (or None for face-only keys), got {type(secret).__name__}"
        )
    if len(secret) < SECRET_MIN_BYTES:
        raise InvalidArgument(
            f"secret must be at least {SECRET_MIN_BYTES} bytes, got {len(secret)} bytes; "
            "derive one from a password with fuzzykey.password_secret"
        )
    return bytes(secret)
