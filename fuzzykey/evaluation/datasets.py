"""Face sets on disk: image folders, LFW pairs files, and cached embeddings.

- :func:`read_image_folder`: one subfolder per person (LFW's layout), images
  sorted by name; returns the people and their files.
- :func:`read_lfw_pairs`: LFW's pairs format (a count line, then ``name i j`` for
  a same-person pair or ``name1 i name2 j`` for a different-person pair; image
  numbers start at 1 and name ``<name>/<name>_<i:04d>.jpg``).
- :func:`embed_files`: detect, align and embed every file once, keeping the
  embeddings in a cache keyed by the detector and encoder names and by the
  SHA-256 of each file's contents, so a second run reads them back at once.
  Files without a readable face are reported, not fatal.

Example:
    >>> from fuzzykey.evaluation.datasets import parse_lfw_pairs
    >>> parse_lfw_pairs("1\\nAbel_Pacheco 1 4\\nAbel_Pacheco 1 Abdullah 2\\n")
    [LfwPair(name1='Abel_Pacheco', index1=1, name2='Abel_Pacheco', index2=4), \
LfwPair(name1='Abel_Pacheco', index1=1, name2='Abdullah', index2=2)]
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..errors import FuzzyKeyError, InvalidArgument, NoFaceFound
from ..face.models import cache_dir

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageFolder",
    "LfwPair",
    "EmbeddedFiles",
    "default_data_dir",
    "lfw_half",
    "read_image_folder",
    "parse_lfw_pairs",
    "read_lfw_pairs",
    "lfw_pair_paths",
    "embed_files",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def default_data_dir() -> Path:
    """``$FUZZYKEY_DATA``, else ``../shared/data`` beside the current directory's project.

    Searched upwards from the working directory, then from the installed
    package, for a ``shared/data`` folder next to a parent, which is where the
    team's checkouts keep it.
    """
    env = os.environ.get("FUZZYKEY_DATA")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    # from the working directory up, then from this package's files up (a source checkout,
    # or a virtual environment inside one)
    for start in (here, Path(__file__).resolve().parent):
        for parent in (start, *start.parents):
            candidate = parent.parent / "shared" / "data"
            if candidate.is_dir():
                return candidate
    return here.parent / "shared" / "data"


def lfw_half(person: str) -> Literal["a", "b"]:
    """The half of a face set a person belongs to: ``"a"`` if the first byte of
    SHA-256(UTF-8 name) is below 128, else ``"b"``.

    fuzzykey fits things (the binarizers' mean vector, the default t, DVSP heads)
    on half A and measures on half B, so figures come from people never used for
    fitting. The split depends on the name alone, so it is the same on every
    machine and for every subset of a folder.

    Example:
        >>> from fuzzykey.evaluation.datasets import lfw_half
        >>> lfw_half("Aaron_Eckhart"), lfw_half("Aaron_Peirsol")
        ('a', 'b')
    """
    return "a" if hashlib.sha256(person.encode("utf-8")).digest()[0] < 128 else "b"


@dataclass(frozen=True)
class ImageFolder:
    """Images grouped by person."""

    root: Path
    people: list[str]
    files: list[Path]
    labels: NDArray[np.int64]
    """``labels[i]`` indexes ``people`` for ``files[i]``."""


def read_image_folder(root: str | os.PathLike[str]) -> ImageFolder:
    """Every image under ``root/<person>/``; raises :class:`InvalidArgument` if none."""
    base = Path(root)
    if not base.is_dir():
        raise InvalidArgument(f"image folder {str(base)!r} does not exist or is not a folder")
    people: list[str] = []
    files: list[Path] = []
    labels: list[int] = []
    for person_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        images = sorted(f for f in person_dir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        if not images:
            continue
        people.append(person_dir.name)
        files.extend(images)
        labels.extend([len(people) - 1] * len(images))
    if not files:
        raise InvalidArgument(f"image folder {str(base)!r} has no images in per-person subfolders "
                              f"(expected {base}/<person>/<image>{IMAGE_SUFFIXES[0]})")
    return ImageFolder(base, people, files, np.asarray(labels, dtype=np.int64))


class LfwPair(NamedTuple):
    name1: str
    index1: int
    name2: str
    index2: int

    @property
    def genuine(self) -> bool:
        return self.name1 == self.name2


def parse_lfw_pairs(text: str, *, source: str = "pairs text") -> list[LfwPair]:
    """Parse LFW's pairs format; a malformed line raises :class:`InvalidArgument`."""
    pairs: list[LfwPair] = []
    numbered = [(no, line.strip()) for no, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not numbered:
        raise InvalidArgument(f"{source} is empty")
    head_no, head_line = numbered[0]
    if not all(part.isdigit() for part in head_line.split()):
        raise InvalidArgument(f"{source} line {head_no}: expected the pair count(s), got {head_line[:60]!r}")
    for lineno, line in numbered[1:]:
        parts = line.split()
        try:
            if len(parts) == 3:
                pairs.append(LfwPair(parts[0], int(parts[1]), parts[0], int(parts[2])))
            elif len(parts) == 4:
                pairs.append(LfwPair(parts[0], int(parts[1]), parts[2], int(parts[3])))
            else:
                raise ValueError
        except ValueError:
            raise InvalidArgument(f"{source} line {lineno}: expected 'name i j' or 'name1 i name2 j', "
                                  f"got {line[:60]!r}") from None
        if pairs[-1].index1 < 1 or pairs[-1].index2 < 1:
            raise InvalidArgument(f"{source} line {lineno}: image numbers start at 1, got {line[:60]!r}")
    return pairs


def read_lfw_pairs(path: str | os.PathLike[str]) -> list[LfwPair]:
    """:func:`parse_lfw_pairs` on a file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"pairs file {str(p)!r} cannot be read: {exc}") from exc
    return parse_lfw_pairs(text, source=f"pairs file {str(p)!r}")


def lfw_pair_paths(root: Path, pair: LfwPair) -> tuple[Path, Path]:
    """The two image files of a pair under an LFW-style folder."""
    return (root / pair.name1 / f"{pair.name1}_{pair.index1:04d}.jpg",
            root / pair.name2 / f"{pair.name2}_{pair.index2:04d}.jpg")


@dataclass
class EmbeddedFiles:
    """Result of :func:`embed_files`."""

    embeddings: NDArray[np.float32]
    """``(N, dim)``; rows of failed files are NaN."""
    ok: NDArray[np.bool_]
    failures: dict[int, str] = field(default_factory=dict)
    """File index -> one-line reason (no face, unreadable)."""
    n_faces: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    seconds: dict[str, float] = field(default_factory=dict)
    """Time spent in ``detection`` (incl. decoding and alignment) and ``embedding`` for uncached files."""
    n_computed: int = 0
    """How many files were not in the cache."""
    digests: list[str | None] = field(default_factory=list)
    """Hex SHA-256 of each file's bytes (None: the file could not be read)."""


def _digest(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def _cache_file(detector_name: str, encoder_name: str) -> Path:
    tag = hashlib.sha256(f"{detector_name}\0{encoder_name}".encode()).hexdigest()[:16]
    return cache_dir() / "embeddings" / f"{encoder_name}-{tag}.npz"


def _load_cache(path: Path, dim: int) -> dict[bytes, tuple[NDArray[np.float32], int]]:
    if not path.is_file():
        return {}
    try:
        with np.load(path) as data:
            digests, emb, faces = data["digests"], data["embeddings"], data["n_faces"]
        if emb.ndim != 2 or emb.shape[1] != dim or len(digests) != len(emb):
            return {}
        return {bytes(d): (emb[i], int(faces[i])) for i, d in enumerate(digests)}
    except Exception:  # an unreadable cache is rebuilt, never trusted
        return {}


def _save_cache(path: Path, cache: dict[bytes, tuple[NDArray[np.float32], int]], dim: int) -> None:
    digests = np.array(list(cache.keys()), dtype="S32")
    emb = (np.stack([v[0] for v in cache.values()]).astype(np.float32) if cache
           else np.zeros((0, dim), np.float32))
    faces = np.array([v[1] for v in cache.values()], dtype=np.int32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, digests=digests, embeddings=emb, n_faces=faces)
        os.replace(tmp, path)
    except OSError:
        pass


def embed_files(files: Sequence[str | os.PathLike[str]], detector: Any, encoder: Any, *,
                cache: bool = True, batch_size: int = 64,
                progress: Callable[[int], None] | None = None) -> EmbeddedFiles:
    """Detect, align and embed each file (largest face), with an on-disk cache.

    Args:
        files: image paths.
        detector: a :class:`fuzzykey.face.detect.YuNetDetector` (anything with
            ``name`` and ``detect_and_align``).
        encoder: a :class:`fuzzykey.face.encoders.FaceEncoder`.
        cache: read and update the embedding cache.
        progress: called with the number of files just finished.
    """
    paths = [Path(f) for f in files]
    dim = int(encoder.dim)
    out = np.full((len(paths), dim), np.nan, dtype=np.float32)
    n_faces = np.zeros(len(paths), dtype=np.int32)
    failures: dict[int, str] = {}
    cache_path = _cache_file(str(getattr(detector, "cache_key", detector.name)), str(encoder.name))
    store = _load_cache(cache_path, dim) if cache else {}
    seconds = {"detection": 0.0, "embedding": 0.0}
    pending: list[tuple[int, bytes, NDArray[np.uint8], int]] = []
    digests: list[str | None] = [None] * len(paths)
    computed = 0

    def flush() -> None:
        if not pending:
            return
        t0 = time.perf_counter()
        emb = encoder.embed(np.stack([p[2] for p in pending]))
        seconds["embedding"] += time.perf_counter() - t0
        for (idx, digest, _, faces), row in zip(pending, emb, strict=True):
            out[idx] = row
            n_faces[idx] = faces
            store[digest] = (row, faces)
        if progress is not None:
            progress(len(pending))
        pending.clear()

    for idx, path in enumerate(paths):
        try:
            digest = _digest(path)
        except OSError as exc:
            failures[idx] = f"{path}: cannot be read ({exc.strerror or exc})"
            if progress is not None:
                progress(1)
            continue
        digests[idx] = digest.hex()
        hit = store.get(digest)
        if hit is not None:
            out[idx], n_faces[idx] = hit
            if progress is not None:
                progress(1)
            continue
        t0 = time.perf_counter()
        try:
            aligned = detector.detect_and_align(path)
        except NoFaceFound:
            failures[idx] = f"{path}: no face found"
        except FuzzyKeyError as exc:
            failures[idx] = str(exc)
        else:
            pending.append((idx, digest, aligned.crop, aligned.n_faces))
            computed += 1
        seconds["detection"] += time.perf_counter() - t0
        if idx in failures and progress is not None:
            progress(1)
        if len(pending) >= batch_size:
            flush()
    flush()
    if cache and computed:
        _save_cache(cache_path, store, dim)
    ok = ~np.isnan(out[:, 0])
    return EmbeddedFiles(out, ok, failures, n_faces, seconds, computed, digests)
