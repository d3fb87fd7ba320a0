"""Binarizers ψ: face embeddings to bit strings for the fuzzy extractor.

Both binarizers start from the centred embedding :math:`x - \\mu` (μ: the mean
SFace embedding shipped in ``fuzzykey/data/sface_mean.json``, estimated on people
disjoint from those fuzzykey's figures are measured on) and the same public
Gaussian matrix :math:`P \\in \\mathbb{R}^{C \\times m}`, generated from a fixed
label with SHAKE-256 and Box–Muller (so it is identical on every machine and
every numpy version: helper data refers to its rows).

:class:`SecretSelectBinarizer` (with a secret, the recommended mode)
    A secret, per-enrollment rotation :math:`Q` (Haar-random, seeded by
    HMAC(secret, nonce)) turns P into :math:`PQ`, whose rows are again i.i.d.
    Gaussian. Enrollment computes :math:`y = PQ(x - \\mu)` and keeps the n
    coordinates of largest :math:`|y_i|` (the reliable bits); the bits are their
    signs and the selection goes into the helper. Without the secret the
    selection is independent of the face (the rows of PQ are exchangeable and
    Q is unknown); with the secret it reveals :math:`x` (the top eigenvector of
    the selected rows points at it: :func:`fuzzykey.evaluation.attacks.structural_attack`).
:class:`SignBinarizer` (face only)
    The signs of the first n rows of P applied to :math:`x - \\mu`: nothing
    face-dependent is stored, so the helper leaks only the code-offset's n - k
    bits, and the bits are as noisy as the face (~27 % genuine bit errors on LFW).

Reliabilities :math:`|y_i| / \\lVert x - \\mu \\rVert` come with the probe's bits:
soft information for errors-and-erasures decoding, never stored.

Both implement :class:`Binarizer`, the interface :class:`~fuzzykey.KeyGen` uses:
``enroll_bits`` gives the enrolled bits and the public fields the helper keeps
(for the secret binarizer the nonce and the selection, encoded by
:func:`encode_selection` and checked by :func:`decode_selection`), and
``probe_bits`` gives a probe's bits and reliabilities from those fields.

Example:
    >>> import numpy as np
    >>> from fuzzykey.binarizers import SecretSelectBinarizer
    >>> psi = SecretSelectBinarizer(n_bits=255, n_candidates=2048)
    >>> x = np.random.default_rng(0).standard_normal((1, 128)).astype(np.float32)
    >>> seed = psi.rotation_seed(b"device key", b"0123456789abcdef")
    >>> bits, selection = psi.enroll(x, [seed])
    >>> probe_bits, reliability = psi.reproduce(x, [seed], selection)
    >>> bool((probe_bits == bits).all()), bits.shape, selection.dtype
    (True, (1, 255), dtype('uint16'))
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ._checks import as_int
from .errors import InvalidArgument, InvalidHelperData

__all__ = [
    "Binarizer",
    "PROJECTION_LABEL",
    "NONCE_BYTES",
    "Center",
    "default_center",
    "shake_normals",
    "public_projections",
    "haar_rotation",
    "rotate",
    "haar_rotations",
    "check_embeddings",
    "encode_selection",
    "decode_selection",
    "SecretSelectBinarizer",
    "SignBinarizer",
    "binarizer_from_description",
]

PROJECTION_LABEL = b"fuzzykey/v1/projections"
_ROTATION_LABEL = b"fuzzykey/v1/rotation\x00"
_MAX_CANDIDATES = 65535  # selections are stored as uint16
NONCE_BYTES = 16


@runtime_checkable
class Binarizer(Protocol):
    """What :class:`~fuzzykey.KeyGen` needs of a binarizer (both below implement it).

    ``uses_secret`` says which KeyGen mode it serves: a secret binarizer gets
    the enrollee's secret in both calls, a face-only one gets None.
    """

    uses_secret: ClassVar[bool]

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        ...

    @property
    def n_bits(self) -> int:
        """Bits per string: the code length n."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-able description recorded in helper data; equal descriptions mean equal bits."""
        ...

    def enroll_bits(
        self, emb: NDArray[np.float32], secret: bytes | None
    ) -> tuple[NDArray[np.uint8], dict[str, Any]]:
        """Bits ``(n_bits,)`` of one ``(1, dim)`` embedding, and the public helper fields they need."""
        ...

    def probe_bits(
        self, emb: NDArray[np.float32], fields: Mapping[str, Any], secret: bytes | None
    ) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """Bits and reliabilities ``(N, n_bits)`` of probes, given the enrolled helper fields.

        Raises :class:`~fuzzykey.errors.InvalidHelperData` when the fields are malformed."""
        ...


def encode_selection(selection: Any) -> str:
    """A selection (increasing uint16 row indices) as the helper stores it: base64 of little-endian uint16."""
    return base64.b64encode(np.asarray(selection).astype("<u2").tobytes()).decode("ascii")


def decode_selection(text: Any, n_bits: int, n_candidates: int) -> NDArray[np.int64]:
    """Parse and check a stored selection: ``n_bits`` strictly increasing rows below ``n_candidates``.

    Raises:
        InvalidHelperData: anything else (the field is unauthenticated until the key comes out).
    """
    try:
        raw = base64.b64decode(text, validate=True)
        sel = np.frombuffer(raw, dtype="<u2").astype(np.int64)
    except (ValueError, TypeError) as exc:
        raise InvalidHelperData("the helper's selection is malformed") from exc
    if sel.shape != (n_bits,) or np.any(np.diff(sel) <= 0) or sel[-1] >= n_candidates:
        raise InvalidHelperData("the helper's selection is malformed")
    return sel


def shake_normals(label: bytes, count: int) -> NDArray[np.float64]:
    """``count`` standard normals from SHAKE-256(label) by Box–Muller.

    Each pair of normals uses 8 output bytes as two little-endian uint32 a, b:
    :math:`u_1 = (a + 1) / 2^{32} \\in (0, 1]`, :math:`u_2 = b / 2^{32}`,
    :math:`r = \\sqrt{-2 \\ln u_1}`, normals :math:`r \\cos 2\\pi u_2` and
    :math:`r \\sin 2\\pi u_2`. Depends only on hashlib and IEEE float64 maths.
    """
    count = as_int(count, "count")
    if count < 0:
        raise InvalidArgument(f"count must be >= 0, got {count}")
    pairs = (count + 1) // 2
    raw = np.frombuffer(hashlib.shake_256(label).digest(8 * pairs), dtype="<u4").reshape(pairs, 2)
    u1 = (raw[:, 0].astype(np.float64) + 1.0) / 4294967296.0
    u2 = raw[:, 1].astype(np.float64) / 4294967296.0
    r = np.sqrt(-2.0 * np.log(u1))
    out = np.empty((pairs, 2), dtype=np.float64)
    out[:, 0] = r * np.cos(2.0 * np.pi * u2)
    out[:, 1] = r * np.sin(2.0 * np.pi * u2)
    return out.reshape(-1)[:count]


@functools.cache
def public_projections(rows: int, dim: int) -> NDArray[np.float32]:
    """The public ``(rows, dim)`` Gaussian matrix P (read-only, cached per process).

    Row i is the same for every ``rows`` > i: P is one infinite sequence of rows.
    """
    if as_int(rows, "rows") < 1 or as_int(dim, "dim") < 1:
        raise InvalidArgument(f"rows and dim must be >= 1, got rows={rows}, dim={dim}")
    seeds = [
        PROJECTION_LABEL + b"/" + str(dim).encode() + b"/" + str(block).encode()
        for block in range((rows + 1023) // 1024)
    ]
    blocks = [shake_normals(seed, 1024 * dim).reshape(1024, dim) for seed in seeds]
    out = np.ascontiguousarray(np.concatenate(blocks)[:rows], dtype=np.float32)
    out.setflags(write=False)
    return out


def _householder_vectors(seed: bytes, dim: int) -> list[tuple[float, NDArray[np.float64]]]:
    """The (sign, unit-scaled vector) pairs of Stewart's reflections for ``seed``."""
    normals = shake_normals(_ROTATION_LABEL + seed, dim * (dim + 1) // 2)
    out = []
    offset = 0
    for j in range(dim):
        x = normals[offset : offset + dim - j].copy()
        offset += dim - j
        norm2 = float((x * x).sum())
        x0 = float(x[0])
        d = 1.0 if x0 >= 0.0 else -1.0
        x[0] += d * np.sqrt(norm2)
        x /= np.sqrt((norm2 - x0 * x0 + x[0] * x[0]) / 2.0)
        out.append((d, x))
    return out


def haar_rotation(seed: bytes, dim: int) -> NDArray[np.float64]:
    """A Haar-distributed (uniformly random) orthogonal matrix of size ``dim`` from ``seed``.

    Stewart's product of Householder reflections (G. W. Stewart, SIAM J. Numer.
    Anal. 17(3), 1980; the construction of ``scipy.stats.ortho_group``): for
    j = 0..dim-1 draw a standard normal x of length dim - j, reflect it onto
    :math:`-\\operatorname{sign}(x_0) \\lVert x \\rVert e_0` and apply that reflection to
    columns j.. of the running product: :math:`Q = R_0 R_1 \\cdots R_{dim-1}`. The
    normals are the first :math:`\\sum_j (dim - j)` of :func:`shake_normals` on the
    seed. Written with elementwise numpy only: LAPACK's QR, the textbook route,
    took ~0.3 s instead of ~3 ms for dim = 128 when OpenBLAS threads competed
    for busy cores. :func:`rotate` applies Q without forming it.
    """
    dim = as_int(dim, "dim")
    if dim < 1:
        raise InvalidArgument(f"dim must be >= 1, got {dim}")
    h = np.eye(dim)
    for j, (d, x) in enumerate(_householder_vectors(seed, dim)):
        block = h[:, j:]
        proj = (block * x).sum(axis=1)
        h[:, j:] = -d * (block - proj[:, None] * x)
    return h


def rotate(seed: bytes, rows: Any) -> NDArray[np.float64]:
    """``rows @ Q.T`` (each row z mapped to Qz) for Q = :func:`haar_rotation` (seed, dim),
    in O(N dim^2) by applying the reflections last to first."""
    z = np.array(rows, dtype=np.float64, ndmin=2)
    dim = z.shape[1]
    for j, (d, x) in reversed(list(enumerate(_householder_vectors(seed, dim)))):
        block = z[:, j:]
        z[:, j:] = -d * (block - (block * x).sum(axis=1)[:, None] * x)
    return z


def haar_rotations(seeds: Sequence[bytes], dim: int) -> NDArray[np.float32]:
    """:func:`haar_rotation` for many seeds at once, ``(len(seeds), dim, dim)``, in float32.

    The same reflections applied to a batch of identity matrices (one numpy
    operation per reflection instead of one per seed and reflection); equal to
    stacking :func:`haar_rotation` up to float32 rounding.
    """
    dim = as_int(dim, "dim")
    if dim < 1:
        raise InvalidArgument(f"dim must be >= 1, got {dim}")
    vectors = [_householder_vectors(seed, dim) for seed in seeds]
    h = np.broadcast_to(np.eye(dim, dtype=np.float32), (len(seeds), dim, dim)).copy()
    for j in range(dim):
        d = np.array([v[j][0] for v in vectors], dtype=np.float32)
        x = np.stack([v[j][1] for v in vectors]).astype(np.float32)
        block = h[:, :, j:]
        proj = np.matmul(block, x[:, :, None])  # (B, dim, 1)
        block -= proj * x[:, None, :]
        block *= -d[:, None, None]
    return h


class Center:
    """A named mean vector subtracted from embeddings before binarization."""

    def __init__(self, name: str, values: Any) -> None:
        vec = np.array(values, dtype=np.float32)  # a copy: freezing must not touch the caller's array
        if vec.ndim != 1 or not np.all(np.isfinite(vec)):
            raise InvalidArgument(f"center values must be a finite 1-D vector, got shape {vec.shape}")
        self.name = name
        self.values = vec
        self.values.setflags(write=False)

    @property
    def dim(self) -> int:
        return int(self.values.shape[0])

    def __repr__(self) -> str:
        return f"Center({self.name!r}, dim={self.dim})"


@functools.cache
def default_center() -> Center:
    """The mean SFace embedding shipped with fuzzykey (see ``data/sface_mean.json``)."""
    doc = json.loads(resources.files("fuzzykey").joinpath("data/sface_mean.json").read_text("utf-8"))
    return Center(str(doc["name"]), doc["values"])


def check_embeddings(emb: Any, dim: int, name: str = "embeddings") -> NDArray[np.float32]:
    """``emb`` as a finite ``(N, dim)`` float32 array (a single vector becomes N = 1)."""
    arr = np.asarray(emb)
    if arr.dtype.kind not in "fiu":
        raise InvalidArgument(f"{name} must be a float array, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise InvalidArgument(f"{name} must have shape (N, {dim}) or ({dim},), got {np.asarray(emb).shape}")
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise InvalidArgument(f"{name} contain NaN or infinity")
    return out


class _Base:
    kind: str
    dim: int
    n_bits: int
    center: Center

    def _centred(self, emb: Any) -> NDArray[np.float32]:
        x = check_embeddings(emb, self.dim) - self.center.values
        norms = np.linalg.norm(x, axis=1)
        if np.any(norms < 1e-6):
            raise InvalidArgument("an embedding equals the centre vector; it carries no bits")
        return np.ascontiguousarray(x / norms[:, None], dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        """JSON-able description recorded in helper data; equal descriptions mean equal bits."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Base) and self.describe() == other.describe()

    def __hash__(self) -> int:
        return hash(json.dumps(self.describe(), sort_keys=True))


class SecretSelectBinarizer(_Base):
    """Reliable-bit selection under a secret rotation (see the module docstring).

    Args:
        n_bits: bits per string (the code length n).
        n_candidates: rows of P to choose the n most reliable from (<= 65535).
        center: mean vector subtracted first (default: :func:`default_center`).
    """

    kind: Literal["secret-select"] = "secret-select"
    uses_secret: ClassVar[bool] = True

    def __init__(
        self, n_bits: int = 1023, n_candidates: int = 32768, *, dim: int = 128, center: Center | None = None
    ) -> None:
        self.n_bits = as_int(n_bits, "n_bits")
        self.n_candidates = as_int(n_candidates, "n_candidates")
        self.dim = as_int(dim, "dim")
        if not 1 <= self.n_bits <= self.n_candidates <= _MAX_CANDIDATES:
            raise InvalidArgument(
                f"need 1 <= n_bits <= n_candidates <= {_MAX_CANDIDATES}, got "
                f"n_bits={self.n_bits}, n_candidates={self.n_candidates}"
            )
        self.center = center if center is not None else default_center()
        if self.center.dim != self.dim:
            raise InvalidArgument(f"center has dimension {self.center.dim}, embeddings have {self.dim}")

    @staticmethod
    def rotation_seed(secret: bytes, nonce: bytes) -> bytes:
        """The per-enrollment rotation seed HMAC-SHA3-256(secret, label || nonce)."""
        return hmac.new(secret, _ROTATION_LABEL + nonce, hashlib.sha3_256).digest()

    def _project(
        self, x: NDArray[np.float32], seed: bytes, rows: NDArray[Any] | None = None
    ) -> NDArray[np.float32]:
        """:math:`PQx` for all candidate rows, or for ``rows`` of P only."""
        p = public_projections(self.n_candidates, self.dim)
        if rows is not None:
            p = p[rows]
        return np.asarray(rotate(seed, x).astype(np.float32) @ p.T, dtype=np.float32)

    def enroll(self, emb: Any, seeds: Sequence[bytes]) -> tuple[NDArray[np.uint8], NDArray[np.uint16]]:
        """Bits and selections for each embedding row under its rotation seed.

        Returns ``(bits (N, n_bits) uint8, selection (N, n_bits) uint16)``; the
        selection lists candidate rows in increasing order.
        """
        x = self._centred(emb)
        if len(seeds) != x.shape[0]:
            raise InvalidArgument(f"need one seed per embedding: {x.shape[0]} embeddings, {len(seeds)} seeds")
        bits = np.empty((x.shape[0], self.n_bits), dtype=np.uint8)
        sel = np.empty((x.shape[0], self.n_bits), dtype=np.uint16)
        for i, seed in enumerate(seeds):
            y = self._project(x[i : i + 1], seed)[0]
            idx = np.sort(np.argpartition(-np.abs(y), self.n_bits - 1)[: self.n_bits])
            sel[i] = idx
            bits[i] = y[idx] > 0
        return bits, sel

    def reproduce(
        self, emb: Any, seeds: Sequence[bytes], selection: Any
    ) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """Bits and reliabilities of probe embeddings on enrolled selections.

        ``seeds`` and ``selection`` may hold one entry (used for every probe row,
        the batched case of many probes against one helper) or one per row.
        """
        x = self._centred(emb)
        sel = np.asarray(selection)
        if sel.ndim == 1:
            sel = sel[None, :]
        if sel.ndim != 2 or sel.shape[1] != self.n_bits or sel.dtype.kind not in "ui":
            raise InvalidArgument(
                f"selection must be integer (rows, {self.n_bits}), got "
                f"{sel.dtype} {np.asarray(selection).shape}"
            )
        if sel.size and (sel.min() < 0 or sel.max() >= self.n_candidates):
            raise InvalidArgument(f"selection indexes rows 0..{self.n_candidates - 1}")
        rows = x.shape[0]
        if len(seeds) not in (1, rows) or sel.shape[0] not in (1, rows):
            raise InvalidArgument(
                f"seeds and selection need 1 or {rows} rows, got {len(seeds)} and {sel.shape[0]}"
            )
        bits = np.empty((rows, self.n_bits), dtype=np.uint8)
        rel = np.empty((rows, self.n_bits), dtype=np.float32)
        if len(seeds) == 1 and sel.shape[0] == 1:
            y = self._project(x, seeds[0], sel[0])
            bits[:] = y > 0
            rel[:] = np.abs(y)
            return bits, rel
        for i in range(rows):
            seed = seeds[0] if len(seeds) == 1 else seeds[i]
            s = sel[0] if sel.shape[0] == 1 else sel[i]
            y = self._project(x[i : i + 1], seed, s)[0]
            bits[i] = y > 0
            rel[i] = np.abs(y)
        return bits, rel

    def enroll_bits(
        self, emb: NDArray[np.float32], secret: bytes | None
    ) -> tuple[NDArray[np.uint8], dict[str, Any]]:
        """:class:`Binarizer`: a fresh nonce seeds the rotation; the helper keeps nonce and selection."""
        if secret is None:
            raise InvalidArgument("the secret binarizer needs the enrollee's secret")
        nonce = os.urandom(NONCE_BYTES)
        bits, selection = self.enroll(emb, [self.rotation_seed(secret, nonce)])
        return bits[0], {"nonce": nonce.hex(), "selection": encode_selection(selection[0])}

    def probe_bits(
        self, emb: NDArray[np.float32], fields: Mapping[str, Any], secret: bytes | None
    ) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """:class:`Binarizer`: the probes' bits on the enrolled selection under the enrolled rotation."""
        if secret is None:
            raise InvalidArgument("the secret binarizer needs the enrollee's secret")
        try:
            nonce = bytes.fromhex(fields["nonce"])
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidHelperData("the helper's selection or nonce is malformed") from exc
        if len(nonce) != NONCE_BYTES:
            raise InvalidHelperData("the helper's selection or nonce is malformed")
        selection = decode_selection(fields.get("selection"), self.n_bits, self.n_candidates)
        return self.reproduce(emb, [self.rotation_seed(secret, nonce)], selection)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": 1,
            "dim": self.dim,
            "n_bits": self.n_bits,
            "n_candidates": self.n_candidates,
            "center": self.center.name,
        }

    def __repr__(self) -> str:
        return (
            f"SecretSelectBinarizer(n_bits={self.n_bits}, n_candidates={self.n_candidates}, "
            f"center={self.center.name!r})"
        )


class SignBinarizer(_Base):
    """Face-only binarizer: signs of the first ``n_bits`` public projections."""

    kind: Literal["sign"] = "sign"
    uses_secret: ClassVar[bool] = False

    def __init__(self, n_bits: int = 255, *, dim: int = 128, center: Center | None = None) -> None:
        self.n_bits = as_int(n_bits, "n_bits")
        self.dim = as_int(dim, "dim")
        if not 1 <= self.n_bits <= _MAX_CANDIDATES:
            raise InvalidArgument(f"n_bits must be in 1..{_MAX_CANDIDATES}, got {self.n_bits}")
        self.center = center if center is not None else default_center()
        if self.center.dim != self.dim:
            raise InvalidArgument(f"center has dimension {self.center.dim}, embeddings have {self.dim}")

    def bits(self, emb: Any) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """``(bits (N, n_bits) uint8, reliabilities (N, n_bits) float32)``."""
        y = self._centred(emb) @ public_projections(self.n_bits, self.dim).T
        return np.ascontiguousarray(y > 0, dtype=np.uint8), np.abs(y).astype(np.float32)

    def enroll_bits(
        self, emb: NDArray[np.float32], secret: bytes | None
    ) -> tuple[NDArray[np.uint8], dict[str, Any]]:
        """:class:`Binarizer`: public signs; nothing face-dependent goes into the helper."""
        return self.bits(emb)[0][0], {}

    def probe_bits(
        self, emb: NDArray[np.float32], fields: Mapping[str, Any], secret: bytes | None
    ) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """:class:`Binarizer`: the same public signs of each probe."""
        return self.bits(emb)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": 1,
            "dim": self.dim,
            "n_bits": self.n_bits,
            "center": self.center.name,
        }

    def __repr__(self) -> str:
        return f"SignBinarizer(n_bits={self.n_bits}, center={self.center.name!r})"


def binarizer_from_description(desc: Any) -> SecretSelectBinarizer | SignBinarizer:
    """Rebuild a binarizer from :meth:`describe` output (default centre only)."""
    if not isinstance(desc, dict) or desc.get("version") != 1:
        raise InvalidArgument(f"unknown binarizer description {desc!r}")
    center = default_center()
    if desc.get("center") != center.name:
        raise InvalidArgument(f"binarizer centre {desc.get('center')!r} is not the shipped {center.name!r}")
    if desc.get("kind") == "secret-select":
        return SecretSelectBinarizer(desc["n_bits"], desc["n_candidates"], dim=desc["dim"])
    if desc.get("kind") == "sign":
        return SignBinarizer(desc["n_bits"], dim=desc["dim"])
    raise InvalidArgument(f"unknown binarizer kind {desc.get('kind')!r}")
