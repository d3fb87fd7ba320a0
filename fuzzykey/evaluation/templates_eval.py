r"""Measuring a template generator on a face set ("unrecognizable yet identifiable").

A template generator G (:class:`fuzzykey.templates.unet.UNetGenerator`) turns an aligned
112x112 crop x into G(x). This module measures, on people the generator never saw
(half B of :func:`fuzzykey.evaluation.datasets.lfw_half`), the four properties the
issue asks for, and it holds the data plumbing the commands ``fuzzykey templates
train|eval`` and ``fuzzykey protect`` need. It needs torch.

**Data.** :func:`template_split` puts each person in one of three splits by the
SHA-256 of the UTF-8 name: half A (first byte < 128) is ``"train"`` unless the second
byte is below 26 (about 10 % of half A), which makes it ``"validation"``; half B is
``"test"``. :func:`select_photos` picks photos of some splits deterministically (people
in the order of their name's SHA-256, at most ``max_per_person`` photos each, until
``max_photos``). :func:`aligned_crops` detects and aligns every photo once (YuNet,
largest face) and keeps each crop in the cache folder
(:func:`fuzzykey.face.models.cache_dir`) as ``crops/<size>-<detector tag>/<ab>/<sha256>.npy``,
keyed by the SHA-256 of the file's bytes; a photo without a face is stored as an empty
array, so a second run neither detects nor fails again. ``.npy`` files are read with
``allow_pickle=False``; an unreadable one is recomputed.

**Identifiable.** For genuine pairs (i, j) (same person) and impostor pairs (different
people), the SFace cosine scores of three comparisons, all on the same pairs:
``sface`` :math:`\cos(F(x_i), F(x_j))` (no protection, the reference),
``protected_vs_original`` :math:`\cos(F(G(x_i)), F(x_j))` (a template against a plain
photo) and ``protected_vs_protected`` :math:`\cos(F(G(x_i)), F(G(x_j)))` (two templates).
Each gives its EER and FNMR at FMR :math:`10^{-3}` (:mod:`fuzzykey.evaluation.metrics`).

**Unrecognisable.** Mean SSIM and PSNR of G(x) to x (:func:`ssim`, :func:`psnr`), and
``face_detected_rate``: the share of templates in which YuNet still finds a face. The
detector runs on the 112x112 crop padded by ``detection_pad`` pixels on every side
with its edge pixels repeated (a 160x160 image for the default 24), so a face that
fills the crop is not cut by the image border; ``face_detected_rate_original`` is the
same test on the plain crops (1.0 on LFW crops), the baseline the rate drops from.

**Irreversible.** An attacker who can run G (or has pairs of it) trains an inversion
network I, another :class:`~fuzzykey.templates.unet.UNetGenerator`, on the pairs
(G(x), x) of half-A photos with the L1 loss :math:`\frac{1}{N}\sum|I(G(x)) - x|/255`
and Adam (:func:`train_inverter`). On half B, the reconstruction :math:`r_i = I(G(x_i))`
is judged by its SSIM to :math:`x_i` and by ``match_rate``, the share of genuine
pairs (i, j) with :math:`\cos(F(r_i), F(x_j)) \ge \tau`, where τ is SFace's threshold
at FMR :math:`10^{-3}` on half-A photo pairs (fitted on the attacker's side, as a
deployed matcher would be). Since G is trained so that F still matches G(x),
``protected_match_rate`` (the same test with :math:`G(x_i)` in place of :math:`r_i`)
is the baseline: the inversion's image quality (SSIM, the figure) says more about
irreversibility than its SFace match.

**Unlinkable.** :math:`D_{\leftrightarrow}^{sys}`
(:func:`fuzzykey.evaluation.linkability.dsys`) of the ``protected_vs_protected`` scores:
mated pairs G(x1), G(x2) of one person stored in two databases, non-mated pairs of two
people. The plain generator has no per-database key, so this is as linkable as the
templates are identifiable. Giving each database its own generator (a new seed, new
training: the "keyed" or revoked template) does not change that while templates must
match plain photos through the public encoder: both G1(x) and G2(x') are close to F(x)
and F(x'), hence to each other. ``second_generator`` measures it: with a second
generator G2, ``cross_generator`` holds the rates of :math:`\cos(F(G(x_i)), F(G_2(x_j)))`
on the same pairs and its :math:`D_{\leftrightarrow}^{sys}` (one person's templates in
two databases with different generators, or before and after a revocation).

**Speed.** ``images_per_s``: templates per second of :func:`~fuzzykey.templates.unet.protect_faces`
on the test crops (batches of 32, the torch threads of the process, after a one-crop
warm-up), G alone: detection and alignment (about 80 photos/s on one core) come on top.

**Pairs.** Without a pairs list: every same-person pair (i, j), i < j, of the selected
test photos (at most ``max_per_person`` each, 10 by default, so that a person with
hundreds of photos does not dominate) and ``impostors`` ordered pairs of two people
drawn with replacement (all of them when there are fewer). With an LFW pairs list: its
pairs whose two people are both test people, in the file's order (i = first image).
Pairs with a photo where no face was found are dropped.

**SSIM** (Wang, Bovik, Sheikh and Simoncelli, IEEE TIP 13(4), 2004) is the training loss's
:func:`fuzzykey.templates.losses.ssim_rows`, formula there: a Gaussian window (11 taps,
σ = 1.5) over the positions inside the image, each RGB channel on its own, then averaged;
scikit-image's ``structural_similarity(x, y, channel_axis=-1, gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=255)``.
**PSNR** is :math:`10\log_{10}(255^2/\mathrm{MSE})` per image (infinite for identical
images); reported means are over images.

Example:
    >>> import numpy as np
    >>> from fuzzykey.evaluation.templates_eval import psnr, ssim, template_split
    >>> x = np.random.default_rng(0).integers(10, 246, (2, 32, 32, 3), dtype=np.uint8)
    >>> ssim(x, x).tolist(), psnr(x, x).tolist()
    ([1.0, 1.0], [inf, inf])
    >>> y = x + np.uint8(10)                  # every value 10 higher: MSE = 100
    >>> [round(float(v), 2) for v in psnr(x, y)], bool(np.all(ssim(x, y) < 1.0))
    ([28.13, 28.13], True)
    >>> [template_split(p) for p in ("Aaron_Eckhart", "Abdel_Nasser_Assidi", "Aaron_Peirsol")]
    ['train', 'validation', 'test']
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
from numpy.typing import NDArray

from .. import __version__
from ..errors import FuzzyKeyError, InvalidArgument, ModelError, NoFaceFound
from ..face.models import cache_dir
from ..templates import (
    SSIM_WINDOW,
    TrainConfig,
    TrainResult,
    UNetGenerator,
    protect_faces,
    ssim_rows,
    train_generator,
)
from ..templates.unet import check_crops, count_parameters, crops_to_tensor, load_generator
from .datasets import ImageFolder, LfwPair, lfw_half, lfw_pair_paths, read_image_folder
from .linkability import dsys
from .metrics import det_curve, eer, eer_threshold, fnmr_at_fmr, threshold_at_fmr
from .pairs import genuine_pairs, impostor_pairs
from .plots import probit
from .progress import Log, Progress, quiet, silent

__all__ = [
    "DEFAULT_WEIGHTS",
    "CROP_SIZE",
    "VALIDATION_BYTE",
    "Split",
    "template_split",
    "select_photos",
    "ssim",
    "psnr",
    "face_detected",
    "CropSet",
    "aligned_crops",
    "protect_photos",
    "load_weights",
    "train_templates",
    "InversionConfig",
    "train_inverter",
    "reconstruct",
    "EvalConfig",
    "EvalFigures",
    "evaluate_templates",
    "plot_templates",
    "format_eval_table",
]

Split = Literal["train", "validation", "test"]

CROP_SIZE = 112
"""Side of the aligned crops G works on (SFace's input)."""
VALIDATION_BYTE = 26
"""Half-A people whose name's second SHA-256 byte is below this validate (about 10 %)."""
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "data" / "templates_unet_v1.npz"
"""The packaged generator: trained by ``fuzzykey templates train`` with its defaults on
LFW-dev half A (its provenance is in the file; README, "Cancelable face templates")."""


# --------------------------------------------------------------------------- splits
def _name_digest(person: str) -> bytes:
    return hashlib.sha256(person.encode("utf-8")).digest()


def template_split(person: str) -> Split:
    """``"test"`` for half-B people, ``"validation"`` for about 10 % of half A
    (second byte of SHA-256(name) < :data:`VALIDATION_BYTE`), ``"train"`` for the rest."""
    if not isinstance(person, str):
        raise InvalidArgument(f"person must be a str, got {type(person).__name__}")
    if lfw_half(person) == "b":
        return "test"
    return "validation" if _name_digest(person)[1] < VALIDATION_BYTE else "train"


def _optional_count(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"{name} must be a positive int or None, got {value!r}")
    return value


def select_photos(folder: ImageFolder, splits: Collection[Split], *, max_photos: int | None = None,
                  max_per_person: int | None = None) -> NDArray[np.int64]:
    """Indices into ``folder.files`` of the photos of people in ``splits``.

    People are taken in the order of SHA-256(name) (a fixed pseudo-random order that
    does not depend on which other people the folder holds), each with their first
    ``max_per_person`` photos (by file name), until ``max_photos`` photos are taken
    (the last person may be cut short). The indices come back sorted.
    """
    wanted = set(splits)
    if not wanted or not wanted <= {"train", "validation", "test"}:
        raise InvalidArgument(f"splits must be a non-empty set of 'train', 'validation', 'test', "
                              f"got {sorted(wanted)!r}")
    max_photos = _optional_count("max_photos", max_photos)
    max_per_person = _optional_count("max_per_person", max_per_person)
    people = sorted((p for p, name in enumerate(folder.people) if template_split(name) in wanted),
                    key=lambda p: _name_digest(folder.people[p]))
    chosen: list[int] = []
    for person in people:
        rows = np.flatnonzero(folder.labels == person)[:max_per_person].tolist()
        if max_photos is not None:
            rows = rows[:max_photos - len(chosen)]
        chosen.extend(rows)
        if max_photos is not None and len(chosen) >= max_photos:
            break
    return np.array(sorted(chosen), dtype=np.int64)


# --------------------------------------------------------------------------- image metrics
def _image_pair(a: Any, b: Any, min_side: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        raise InvalidArgument(f"the two image sets must have one shape, got {x.shape} and {y.shape}")
    if x.ndim == 3:
        x, y = x[None], y[None]
    if x.ndim != 4 or x.shape[0] < 1 or min(x.shape[1:3]) < min_side or x.shape[3] < 1:
        raise InvalidArgument(f"images must be (N, H, W, C) or (H, W, C) with H, W >= {min_side}, "
                              f"got shape {np.asarray(a).shape}")
    if x.dtype.kind not in "uif" or y.dtype.kind not in "uif":
        raise InvalidArgument(f"images must be numeric (0..255), got dtypes {x.dtype} and {y.dtype}")
    return x.astype(np.float64), y.astype(np.float64)


def ssim(a: Any, b: Any, *, data_range: float = 255.0, chunk: int = 64) -> NDArray[np.float64]:
    """Mean SSIM of each image pair (see the module docstring), shape ``(N,)``.

    ``a`` and ``b``: ``(N, H, W, C)`` or one ``(H, W, C)`` image, values on a scale of
    ``data_range`` (255 for uint8), sides at least 11. Computed in float64, ``chunk``
    images at a time, by :func:`fuzzykey.templates.losses.ssim_rows` (the training loss's
    SSIM, so what is trained for and what is reported are one formula).
    """
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float)) or not data_range > 0:
        raise InvalidArgument(f"data_range must be a positive number, got {data_range!r}")
    _check_int("chunk", chunk, 1, 1 << 20)
    x_all, y_all = _image_pair(a, b, SSIM_WINDOW)
    out = np.empty(x_all.shape[0], dtype=np.float64)
    with torch.no_grad():
        for s in range(0, x_all.shape[0], chunk):
            x = torch.from_numpy(x_all[s:s + chunk]).permute(0, 3, 1, 2)
            y = torch.from_numpy(y_all[s:s + chunk]).permute(0, 3, 1, 2)
            out[s:s + len(x)] = ssim_rows(x, y, data_range=float(data_range)).numpy()
    return out


def psnr(a: Any, b: Any, *, data_range: float = 255.0) -> NDArray[np.float64]:
    """Peak signal-to-noise ratio in dB of each image pair, :math:`10\\log_{10}(L^2/\\mathrm{MSE})`,
    shape ``(N,)``; ``inf`` where the images are equal."""
    if not isinstance(data_range, (int, float)) or not float(data_range) > 0.0:
        raise InvalidArgument(f"data_range must be a positive number, got {data_range!r}")
    x, y = _image_pair(a, b, 1)
    mse = ((x - y) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return cast(NDArray[np.float64], 10.0 * np.log10(float(data_range) ** 2 / mse))


def face_detected(images: Any, detector: Any, *, pad: int = 24) -> NDArray[np.bool_]:
    """Whether ``detector.detect`` finds a face in each ``(N, H, W, 3)`` uint8 image
    padded by ``pad`` pixels on every side (edge pixels repeated)."""
    arr = check_crops(images, 1)
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise InvalidArgument(f"pad must be an int >= 0, got {pad!r}")
    out = np.zeros(arr.shape[0], dtype=np.bool_)
    for i, img in enumerate(arr):
        padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="edge") if pad else img
        out[i] = len(detector.detect(np.ascontiguousarray(padded))) > 0
    return out


# --------------------------------------------------------------------------- crops
@dataclass(frozen=True)
class CropSet:
    """Aligned crops of a list of files (result of :func:`aligned_crops`)."""

    crops: NDArray[np.uint8]
    """``(N, size, size, 3)`` RGB; rows of failed files are zero."""
    ok: NDArray[np.bool_]
    failures: dict[int, str] = field(default_factory=dict)
    """File index -> one-line reason (no face, unreadable)."""
    n_computed: int = 0
    """How many files were detected now rather than read from the cache."""
    seconds: float = 0.0


def _crop_dir(detector: Any, size: int) -> Path:
    key = str(getattr(detector, "cache_key", detector.name))
    return cache_dir() / "crops" / f"{size}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _read_crop(path: Path, size: int) -> NDArray[np.uint8] | None:
    """The cached crop (an empty array: no face), or None when absent or unusable."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1:] != (
            size, size, 3) or arr.shape[0] > 1:
        return None
    return arr


def _write_crop(path: Path, arr: NDArray[np.uint8]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs time


def aligned_crops(files: Sequence[str | os.PathLike[str]], detector: Any, *, size: int = CROP_SIZE,
                  cache: bool = True, progress: Callable[[int], None] | None = None) -> CropSet:
    """Detect and align the largest face of each file, with the on-disk crop cache.

    Args:
        files: image paths.
        detector: a :class:`~fuzzykey.face.detect.YuNetDetector` (anything with
            ``name`` or ``cache_key`` and ``detect_and_align``).
        size: side of the crops.
        cache: read and update the cache (module docstring).
        progress: called with 1 after each file.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise InvalidArgument(f"size must be an int >= 16, got {size!r}")
    paths = [Path(f) for f in files]
    crops = np.zeros((len(paths), size, size, 3), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=np.bool_)
    failures: dict[int, str] = {}
    folder = _crop_dir(detector, size)
    computed = 0
    t0 = time.perf_counter()
    for idx, path in enumerate(paths):
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            failures[idx] = f"{path}: cannot be read ({exc.strerror or exc})"
        else:
            where = folder / digest[:2] / f"{digest}.npy"
            hit = _read_crop(where, size) if cache else None
            if hit is None:
                computed += 1
                try:
                    hit = detector.detect_and_align(path, size).crop[None]
                except NoFaceFound:
                    hit = np.zeros((0, size, size, 3), dtype=np.uint8)
                except FuzzyKeyError as exc:
                    failures[idx] = str(exc)
                if hit is not None and cache:
                    _write_crop(where, np.ascontiguousarray(hit, dtype=np.uint8))
            if hit is not None and len(hit):
                crops[idx], ok[idx] = hit[0], True
            elif idx not in failures:
                failures[idx] = f"{path}: no face found"
        if progress is not None:
            progress(1)
    return CropSet(crops, ok, failures, computed, time.perf_counter() - t0)


def protect_photos(images: Sequence[Any], generator: UNetGenerator, *, detector: Any = None,
                   aligned: bool = False, batch_size: int = 32) -> NDArray[np.uint8]:
    """Templates of photos: detect and align the largest face of each (``detector``,
    e.g. a :class:`~fuzzykey.face.detect.YuNetDetector`), then G; ``(N, 112, 112, 3)`` uint8.

    With ``aligned=True`` the images are already aligned ``(112, 112, 3)`` uint8 crops
    (arrays) and go to G as they are. A photo without a face raises
    :class:`~fuzzykey.errors.NoFaceFound` naming it.
    """
    if not isinstance(generator, UNetGenerator):
        raise InvalidArgument(f"generator must be a UNetGenerator, got {type(generator).__name__}")
    if isinstance(images, (str, bytes, os.PathLike, np.ndarray)) and not (
            isinstance(images, np.ndarray) and images.ndim == 4):
        images = [images]
    if len(images) == 0:
        raise InvalidArgument("images must not be empty")
    if aligned:
        if isinstance(images, np.ndarray):
            stacked = images
        else:
            arrays = [np.asarray(i) for i in images]
            shapes = sorted({a.shape for a in arrays})
            if len(shapes) != 1:
                raise InvalidArgument(f"aligned crops must all have one shape, got shapes {shapes}")
            stacked = np.stack(arrays)
        crops = check_crops(stacked, generator.multiple)
        if crops.shape[1:3] != (CROP_SIZE, CROP_SIZE):
            raise InvalidArgument(f"aligned crops must be {CROP_SIZE}x{CROP_SIZE}, got shape {crops.shape}")
    else:
        if detector is None:
            raise InvalidArgument("a detector is needed to align photos (or pass aligned=True for crops)")
        crops = np.stack([detector.detect_and_align(image, CROP_SIZE).crop for image in images])
    return protect_faces(generator, crops, batch_size=batch_size)


def load_weights(path: str | os.PathLike[str] | None) -> tuple[UNetGenerator, dict[str, Any], Path]:
    """The generator in ``path`` (default :data:`DEFAULT_WEIGHTS`), its header and its path."""
    where = DEFAULT_WEIGHTS if path is None else Path(path)
    if path is None and not where.is_file():
        raise ModelError(f"the packaged template generator {str(where)!r} is missing (a broken install?); "
                         f"reinstall fuzzykey or pass a weight file ('fuzzykey templates train' makes one)")
    generator, meta = load_generator(where)
    return generator, meta, where


# --------------------------------------------------------------------------- training
def _folder_crops(folder: ImageFolder, rows: NDArray[np.int64], detector: Any, progress: Progress,
                  label: str) -> tuple[NDArray[np.uint8], NDArray[np.int64], int]:
    """Crops of ``rows`` with a face, their rows, and how many had none."""
    with progress(label, len(rows)) as advance:
        got = aligned_crops([folder.files[i] for i in rows], detector, progress=advance)
    return got.crops[got.ok], rows[got.ok], int((~got.ok).sum())


def train_templates(images: str | os.PathLike[str], config: TrainConfig, encoder: torch.nn.Module,
                    detector: Any, *, max_photos: int | None = None,
                    max_validation_photos: int | None = 256, max_per_person: int | None = None,
                    encoder_name: str | None = None, command: str | None = None, progress: Progress = silent,
                    log: Log = quiet) -> tuple[TrainResult, dict[str, Any]]:
    """Train G on the ``"train"`` people of an image folder, validating on ``"validation"``.

    Args:
        images: a folder with one subfolder per person (LFW-dev's ``images``).
        config: the hyper-parameters.
        encoder: the frozen differentiable face encoder
            (:meth:`SFaceEncoder.torch_module <fuzzykey.face.encoders.SFaceEncoder.torch_module>`).
        detector: aligns the photos (:func:`aligned_crops`).
        max_photos, max_per_person: limit the training photos (:func:`select_photos`).
        max_validation_photos: limit the validation photos (None: all).
        encoder_name: names the encoder in the provenance (default: its class name).
        command: the command line, recorded in the provenance.

    Returns:
        The training result and the provenance dict to store with the weights: data
        (folder, split rule, people and photo counts, photos without a face), encoder,
        detector, hyper-parameters, per-epoch history, timings, versions, command.
    """
    started = time.perf_counter()
    folder = read_image_folder(images)
    train_rows = select_photos(folder, {"train"}, max_photos=max_photos, max_per_person=max_per_person)
    val_rows = select_photos(folder, {"validation"}, max_photos=max_validation_photos,
                             max_per_person=max_per_person)
    if len(train_rows) == 0:
        raise InvalidArgument(f"image folder {str(folder.root)!r} has no photos of training people "
                              f"(half A, not validation)")
    train, train_rows, train_missing = _folder_crops(folder, train_rows, detector, progress, "crops (train)")
    val, val_rows, val_missing = _folder_crops(folder, val_rows, detector, progress, "crops (validation)")
    if len(train) == 0:
        raise InvalidArgument(f"no face found in any training photo of {str(folder.root)!r}")
    log(f"training on {len(train)} crops of {len(np.unique(folder.labels[train_rows]))} people, "
        f"validating on {len(val)}")

    def on_epoch(stats: Any) -> None:
        val_text = "" if stats.val_cosine is None else \
            f", validation cosine {stats.val_cosine:.3f} L1 {stats.val_distortion:.3f} " \
            f"SSIM {stats.val_ssim:.3f}"
        log(f"epoch {stats.epoch}/{config.epochs}: loss {stats.loss:.4f}, cosine {stats.cosine:.3f} "
            f"(min {stats.min_cosine:.3f}), L1 {stats.l1:.3f}, SSIM {stats.ssim:.3f}{val_text} "
            f"({stats.seconds:.0f} s)")

    result = train_generator(train, encoder, config, validation=val if len(val) else None,
                             on_epoch=on_epoch)
    provenance: dict[str, Any] = {
        "data": {
            "images": str(folder.root),
            "split": (f"people of half A (SHA-256(name)[0] < 128) train, except those with "
                      f"SHA-256(name)[1] < {VALIDATION_BYTE}, who validate; half B is never used"),
            "train_people": int(len(np.unique(folder.labels[train_rows]))),
            "train_photos": int(len(train)),
            "train_without_face": train_missing,
            "validation_people": int(len(np.unique(folder.labels[val_rows]))),
            "validation_photos": int(len(val)),
            "validation_without_face": val_missing,
            "max_photos": max_photos,
            "max_validation_photos": max_validation_photos,
            "max_per_person": max_per_person,
        },
        "encoder": encoder_name if encoder_name is not None else type(encoder).__name__,
        "detector": str(getattr(detector, "cache_key", getattr(detector, "name", type(detector).__name__))),
        "hyper_parameters": config.to_dict(),
        "history": [s.to_dict() for s in result.history],
        "parameters": count_parameters(result.generator),
        "seconds": round(time.perf_counter() - started, 3),
        "torch_threads": torch.get_num_threads(),
        "fuzzykey": __version__,
        "torch": torch.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
    }
    return result, provenance


# --------------------------------------------------------------------------- inversion attack
def _check_positive(name: str, value: Any, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= high:
        raise InvalidArgument(f"{name} must be a number in (0, {high:g}], got {value!r}")


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{name} must be an int in [{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class InversionConfig:
    """The attacker's inversion network and its training (validated on construction)."""

    width: int = 16
    """Base width of the inversion U-Net."""
    depth: int = 4
    """Its levels."""
    epochs: int = 5
    """Passes over the half-A pairs."""
    batch_size: int = 16
    learning_rate: float = 1e-3
    max_photos: int | None = 2000
    """Half-A photos the attacker trains on (None: all)."""
    seed: int = 0

    def __post_init__(self) -> None:
        _check_int("width", self.width, 1, 256)
        _check_int("depth", self.depth, 1, 6)
        _check_int("epochs", self.epochs, 1, 10_000)
        _check_int("batch_size", self.batch_size, 1, 4096)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_positive("learning_rate", self.learning_rate, 1.0)
        _optional_count("max_photos", self.max_photos)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_inverter(protected: Any, originals: Any, config: InversionConfig = InversionConfig(), *,
                   on_epoch: Callable[[int, float, float], None] | None = None
                   ) -> tuple[UNetGenerator, list[dict[str, float]]]:
    """Train I to map templates back to photos: Adam on :math:`\\mathrm{mean}|I(G(x)) - x|/255`.

    Args:
        protected: ``(N, H, W, 3)`` uint8 templates G(x).
        originals: the photos' crops x, same shape.
        config: the network and its training; ``config.seed`` draws the initial weights
            and each epoch's order.
        on_epoch: called with ``(epoch, mean L1, seconds)`` after each epoch.

    Returns:
        I and its history, one ``{"epoch", "l1", "seconds"}`` per epoch (L1 the
        batch-size-weighted mean over the epoch, before each step).
    """
    if not isinstance(config, InversionConfig):
        raise InvalidArgument(f"config must be an InversionConfig, got {type(config).__name__}")
    multiple = 2 ** (config.depth - 1)
    src, dst = check_crops(protected, multiple), check_crops(originals, multiple)
    if src.shape != dst.shape:
        raise InvalidArgument(f"protected and originals must have one shape, got {src.shape} and {dst.shape}")
    rng = torch.Generator().manual_seed(config.seed)
    net = UNetGenerator(config.width, config.depth, generator=rng)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    history: list[dict[str, float]] = []
    n = src.shape[0]
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        total = 0.0
        order = torch.randperm(n, generator=rng).numpy()
        for s in range(0, n, config.batch_size):
            idx = order[s:s + config.batch_size]
            x, y = crops_to_tensor(src[idx]), crops_to_tensor(dst[idx])
            loss = (net(x) - y).abs().mean() / 255.0
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        seconds = time.perf_counter() - t0
        history.append({"epoch": epoch, "l1": total / n, "seconds": seconds})
        if on_epoch is not None:
            on_epoch(epoch, total / n, seconds)
    net.eval()
    return net, history


def reconstruct(inverter: UNetGenerator, protected: Any, *, batch_size: int = 32) -> NDArray[np.uint8]:
    """The attacker's reconstructions I(G(x)) as uint8 crops."""
    return protect_faces(inverter, protected, batch_size=batch_size)


# --------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class EvalConfig:
    """What :func:`evaluate_templates` measures on (validated on construction)."""

    max_photos: int | None = None
    """Test photos at most (None: every half-B photo, within ``max_per_person``)."""
    max_per_person: int | None = 10
    """Photos per person at most (a person with hundreds would dominate the genuine pairs)."""
    impostors: int = 200_000
    """Impostor pairs sampled (ordered, with replacement) when there are more."""
    target_fmr: float = 1e-3
    """The FMR of the FNMR figures and of the inversion's threshold."""
    detection_pad: int = 24
    """Pixels of repeated edge around a crop before YuNet looks for a face."""
    inversion: InversionConfig | None = field(default_factory=InversionConfig)
    """The attack; None skips it."""
    examples: int = 6
    """Test faces shown in the figure."""
    seed: int = 0
    """Seeds the impostor sampling."""
    batch_size: int = 32

    def __post_init__(self) -> None:
        _optional_count("max_photos", self.max_photos)
        _optional_count("max_per_person", self.max_per_person)
        _check_int("impostors", self.impostors, 1, 1 << 40)
        _check_positive("target_fmr", self.target_fmr, 1.0)
        _check_int("detection_pad", self.detection_pad, 0, 4096)
        _check_int("examples", self.examples, 0, 64)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_int("batch_size", self.batch_size, 1, 4096)
        if self.inversion is not None and not isinstance(self.inversion, InversionConfig):
            raise InvalidArgument(f"inversion must be an InversionConfig or None, "
                                  f"got {type(self.inversion).__name__}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["inversion"] = None if self.inversion is None else self.inversion.to_dict()
        return out


@dataclass(frozen=True)
class EvalFigures:
    """What :func:`plot_templates` draws (kept out of the JSON document)."""

    originals: NDArray[np.uint8]
    protected: NDArray[np.uint8]
    reconstructed: NDArray[np.uint8] | None
    curves: list[dict[str, Any]]
    """DET curves: ``{"label", "fmr", "fnmr"}``."""


def _rates(genuine: NDArray[np.float64], impostor: NDArray[np.float64], target: float) -> dict[str, Any]:
    return {
        "eer": eer(genuine, impostor),
        "eer_threshold": eer_threshold(genuine, impostor),
        f"fnmr_at_fmr_{target:g}": fnmr_at_fmr(genuine, impostor, target),
        "genuine_pairs": int(len(genuine)),
        "impostor_pairs": int(len(impostor)),
    }


def _pair_scores(a: NDArray[np.float32], b: NDArray[np.float32],
                 pairs: NDArray[np.int64]) -> NDArray[np.float64]:
    return cast(NDArray[np.float64],
                np.einsum("ij,ij->i", a[pairs[:, 0]].astype(np.float64), b[pairs[:, 1]].astype(np.float64)))


def _curve(label: str, genuine: NDArray[np.float64], impostor: NDArray[np.float64],
           points: int = 2000) -> dict[str, Any]:
    _, fmr, fnmr = det_curve(genuine, impostor)
    keep = np.unique(np.linspace(0, len(fmr) - 1, min(points, len(fmr))).astype(np.int64))
    return {"label": label, "fmr": fmr[keep], "fnmr": fnmr[keep]}


def _mean(v: NDArray[np.float64]) -> float | None:
    f = v[np.isfinite(v)]
    return float(f.mean()) if f.size == v.size and v.size else None


def _test_set(folder: ImageFolder, pairs: Sequence[LfwPair] | None,
              config: EvalConfig) -> tuple[list[Path], NDArray[np.int64], NDArray[np.int64] | None,
                                           NDArray[np.int64] | None]:
    """Files and labels of the test people; with an LFW pairs list, its genuine and impostor pairs."""
    if pairs is None:
        rows = select_photos(folder, {"test"}, max_photos=config.max_photos,
                             max_per_person=config.max_per_person)
        return [folder.files[i] for i in rows], folder.labels[rows], None, None
    index: dict[Path, int] = {}
    names: dict[str, int] = {}
    gen: list[tuple[int, int]] = []
    imp: list[tuple[int, int]] = []
    labels: list[int] = []
    for pair in pairs:
        if template_split(pair.name1) != "test" or template_split(pair.name2) != "test":
            continue
        paths = lfw_pair_paths(folder.root, pair)
        new = [p for p in paths if p not in index]
        if config.max_photos is not None and len(index) + len(set(new)) > config.max_photos:
            break
        ids = []
        for path, name in zip(paths, (pair.name1, pair.name2), strict=True):
            if path not in index:
                if not path.is_file():
                    raise InvalidArgument(f"the pairs list names {str(path)!r}, which does not exist")
                index[path] = len(index)
                labels.append(names.setdefault(name, len(names)))
            ids.append(index[path])
        (gen if pair.genuine else imp).append((ids[0], ids[1]))
    files = sorted(index, key=lambda p: index[p])
    return (files, np.array(labels, dtype=np.int64), np.array(gen, dtype=np.int64).reshape(-1, 2),
            np.array(imp, dtype=np.int64).reshape(-1, 2))


def _keep_pairs(pairs: NDArray[np.int64], ok: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Pairs whose both rows have a crop, re-indexed to the rows kept."""
    new = np.cumsum(ok) - 1
    kept = pairs[ok[pairs[:, 0]] & ok[pairs[:, 1]]]
    return new[kept].astype(np.int64).reshape(-1, 2)


def evaluate_templates(images: str | os.PathLike[str], generator: UNetGenerator, encoder: Any, detector: Any,
                       config: EvalConfig = EvalConfig(), *, pairs: Sequence[LfwPair] | None = None,
                       second_generator: UNetGenerator | None = None,
                       progress: Progress = silent, log: Log = quiet) -> tuple[dict[str, Any], EvalFigures]:
    """Measure ``generator`` on the test people (half B) of an image folder (module docstring).

    Args:
        images: a folder with one subfolder per person.
        generator: G.
        encoder: the face encoder (:class:`~fuzzykey.face.encoders.SFaceEncoder`:
            ``embed`` of uint8 crops to unit-norm rows, ``name``).
        detector: a :class:`~fuzzykey.face.detect.YuNetDetector` (alignment and the
            detection rate).
        config: sizes, the FMR target, the attack.
        pairs: an LFW pairs list: its pairs of two test people, instead of every
            same-person pair and sampled impostor pairs of the selected photos.
        second_generator: another generator (another database's, or the one after a
            revocation): adds ``cross_generator``, G(x) against G2(x') (module docstring).

    Returns:
        The JSON-ready document and the images and curves for :func:`plot_templates`.
    """
    if not isinstance(generator, UNetGenerator):
        raise InvalidArgument(f"generator must be a UNetGenerator, got {type(generator).__name__}")
    if not isinstance(config, EvalConfig):
        raise InvalidArgument(f"config must be an EvalConfig, got {type(config).__name__}")
    if second_generator is not None and not isinstance(second_generator, UNetGenerator):
        raise InvalidArgument(f"second_generator must be a UNetGenerator or None, "
                              f"got {type(second_generator).__name__}")
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    folder = read_image_folder(images)
    files, labels, gen, imp = _test_set(folder, pairs, config)
    if not files:
        raise InvalidArgument(f"image folder {str(folder.root)!r} has no test (half-B) photos"
                              + (" in the pairs list" if pairs is not None else ""))
    with progress("crops (test)", len(files)) as advance:
        got = aligned_crops(files, detector, progress=advance)
    seconds["crops"] = got.seconds
    crops, labels = got.crops[got.ok], labels[got.ok]
    if gen is None or imp is None:
        gen = genuine_pairs(labels)
        imp, _ = impostor_pairs(labels, config.impostors, np.random.default_rng(config.seed))
    else:
        gen, imp = _keep_pairs(gen, got.ok), _keep_pairs(imp, got.ok)
    if len(gen) == 0 or len(imp) == 0:
        raise InvalidArgument(f"the test photos give {len(gen)} genuine and {len(imp)} impostor pairs; "
                              f"both must be non-empty (more people or photos per person)")
    log(f"test set: {len(crops)} crops of {len(np.unique(labels))} people, {len(gen)} genuine and "
        f"{len(imp)} impostor pairs ({len(got.failures)} photos without a face)")

    protect_faces(generator, crops[:1])  # warm-up: one-time costs stay out of the speed figure
    t0 = time.perf_counter()
    protected = protect_faces(generator, crops, batch_size=config.batch_size)
    seconds["protect"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with progress("embedding", 2 * len(crops)) as advance:
        e_x = encoder.embed(crops)
        advance(len(crops))
        e_g = encoder.embed(protected)
        advance(len(crops))
    seconds["embedding"] = time.perf_counter() - t0
    target = config.target_fmr
    scores = {
        "sface": (_pair_scores(e_x, e_x, gen), _pair_scores(e_x, e_x, imp)),
        "protected_vs_original": (_pair_scores(e_g, e_x, gen), _pair_scores(e_g, e_x, imp)),
        "protected_vs_protected": (_pair_scores(e_g, e_g, gen), _pair_scores(e_g, e_g, imp)),
    }
    t0 = time.perf_counter()
    with progress("detection", 2 * len(crops)) as advance:
        found_orig = face_detected(crops, detector, pad=config.detection_pad)
        advance(len(crops))
        found_prot = face_detected(protected, detector, pad=config.detection_pad)
        advance(len(crops))
    seconds["detection"] = time.perf_counter() - t0
    s_val, p_val = ssim(protected, crops), psnr(protected, crops)
    mated, non_mated = scores["protected_vs_protected"]

    doc: dict[str, Any] = {
        "experiment": "templates",
        "config": config.to_dict(),
        "generator": {"config": generator.config(), "parameters": count_parameters(generator)},
        "data": {
            "images": str(folder.root),
            "pairs": "LFW pairs list" if pairs is not None else "all same-person pairs, sampled impostors",
            "split": "test: half B (SHA-256(name)[0] >= 128)",
            "people": int(len(np.unique(labels))),
            "photos": int(len(crops)),
            "without_face": len(got.failures),
        },
        "encoder": str(getattr(encoder, "name", type(encoder).__name__)),
        **{name: _rates(g, i, target) for name, (g, i) in scores.items()},
        "ssim": _mean(s_val),
        "ssim_std": float(s_val.std()),
        "psnr": _mean(p_val),
        "psnr_std": float(p_val[np.isfinite(p_val)].std()) if np.isfinite(p_val).any() else None,
        "face_detected_rate": float(found_prot.mean()),
        "face_detected_rate_original": float(found_orig.mean()),
        "detection_pad": config.detection_pad,
        "dsys": dsys(mated, non_mated),
        "linkability": {"mated": int(len(mated)), "non_mated": int(len(non_mated)),
                        "scores": "protected_vs_protected"},
        "images_per_s": len(crops) / max(seconds["protect"], 1e-9),
        "torch_threads": torch.get_num_threads(),
    }
    curves = [_curve("SFace x vs x'", *scores["sface"]),
              _curve("G(x) vs x'", *scores["protected_vs_original"]),
              _curve("G(x) vs G(x')", *scores["protected_vs_protected"])]
    if second_generator is None:
        doc["cross_generator"] = None
    else:
        e_g2 = encoder.embed(protect_faces(second_generator, crops, batch_size=config.batch_size))
        cross = (_pair_scores(e_g, e_g2, gen), _pair_scores(e_g, e_g2, imp))
        doc["cross_generator"] = {**_rates(*cross, target), "dsys": dsys(*cross),
                                  "generator": {"config": second_generator.config(),
                                                "parameters": count_parameters(second_generator)}}
        curves.append(_curve("G(x) vs G2(x')", *cross))
    reconstructed: NDArray[np.uint8] | None = None
    if config.inversion is None:
        doc["inversion"] = None
    else:
        inv, reconstructed, r_scores = _inversion(folder, generator, encoder, detector, config,
                                                  config.inversion, crops, protected, e_x, e_g, gen, imp,
                                                  progress, log, seconds)
        inv["protected_ssim"] = doc["ssim"]  # the baseline: the templates' own SSIM, measured above
        doc["inversion"] = inv
        curves.append(_curve("I(G(x)) vs x'", *r_scores))
    seconds["total"] = time.perf_counter() - started
    doc["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    shown = _examples(labels, config.examples)
    figures = EvalFigures(crops[shown], protected[shown],
                          None if reconstructed is None else reconstructed[shown], curves)
    return doc, figures


def _examples(labels: NDArray[np.int64], count: int) -> NDArray[np.int64]:
    """The first photo of the first ``count`` people (others' photos if too few people)."""
    _, first = np.unique(labels, return_index=True)
    rest = np.setdiff1d(np.arange(len(labels)), first)
    return np.concatenate([np.sort(first), rest])[:count].astype(np.int64)


def _inversion(folder: ImageFolder, generator: UNetGenerator, encoder: Any, detector: Any, config: EvalConfig,
               inv: InversionConfig, crops: NDArray[np.uint8], protected: NDArray[np.uint8],
               e_x: NDArray[np.float32], e_g: NDArray[np.float32], gen: NDArray[np.int64],
               imp: NDArray[np.int64], progress: Progress, log: Log,
               seconds: dict[str, float]
               ) -> tuple[dict[str, Any], NDArray[np.uint8], tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Train the attacker on half A, reconstruct half B: the ``inversion`` entry, the
    reconstructions and their genuine and impostor scores against the photos."""
    rows = select_photos(folder, {"train", "validation"}, max_photos=inv.max_photos,
                         max_per_person=config.max_per_person)
    if len(rows) == 0:
        raise InvalidArgument(f"image folder {str(folder.root)!r} has no half-A photos to train "
                              f"the inversion attack on (or skip it)")
    train, train_rows, _ = _folder_crops(folder, rows, detector, progress, "crops (attacker, half A)")
    if len(train) == 0:
        raise InvalidArgument(f"no face found in any half-A photo of {str(folder.root)!r}")
    t0 = time.perf_counter()
    a_labels = folder.labels[train_rows]
    e_a = encoder.embed(train)
    a_gen = genuine_pairs(a_labels)
    a_imp, _ = impostor_pairs(a_labels, config.impostors, np.random.default_rng(config.seed + 1))
    if len(a_imp) == 0:
        raise InvalidArgument("the half-A photos come from one person; the attack's threshold needs more")
    a_imp_scores = _pair_scores(e_a, e_a, a_imp)
    a_gen_scores = _pair_scores(e_a, e_a, a_gen) if len(a_gen) else a_imp_scores[:1]
    tau = threshold_at_fmr(a_gen_scores, a_imp_scores, config.target_fmr)
    seconds["threshold"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    a_protected = protect_faces(generator, train, batch_size=config.batch_size)

    def on_epoch(epoch: int, l1: float, secs: float) -> None:
        log(f"inversion epoch {epoch}/{inv.epochs}: L1 {l1:.4f} ({secs:.0f} s)")

    inverter, history = train_inverter(a_protected, train, inv, on_epoch=on_epoch)
    seconds["inversion_train"] = time.perf_counter() - t0
    recon = reconstruct(inverter, protected, batch_size=config.batch_size)
    e_r = encoder.embed(recon)
    r_gen, r_imp = _pair_scores(e_r, e_x, gen), _pair_scores(e_r, e_x, imp)
    g_gen = _pair_scores(e_g, e_x, gen)
    x_gen = _pair_scores(e_x, e_x, gen)
    s_val, p_val = ssim(recon, crops), psnr(recon, crops)
    return {
        "match_rate": float(np.mean(r_gen >= tau)),
        "false_match_rate": float(np.mean(r_imp >= tau)),
        "ssim": _mean(s_val),
        "psnr": _mean(p_val),
        "threshold": tau,
        "threshold_fmr": config.target_fmr,
        "threshold_from": (f"SFace x vs x' on the attacker's half-A photos: {len(a_gen)} genuine, "
                           f"{len(a_imp)} impostor pairs"),
        "protected_match_rate": float(np.mean(g_gen >= tau)),
        "original_match_rate": float(np.mean(x_gen >= tau)),
        "train_photos": int(len(train)),
        "train_people": int(len(np.unique(a_labels))),
        "loss": "mean |I(G(x)) - x| / 255 (L1), Adam",
        "history": history,
        "parameters": count_parameters(inverter),
    }, recon, (r_gen, r_imp)


# --------------------------------------------------------------------------- report
def format_eval_table(doc: Mapping[str, Any]) -> str:
    """The document of :func:`evaluate_templates` as a short text table."""
    target = float(doc["config"]["target_fmr"])
    key = f"fnmr_at_fmr_{target:g}"

    def num(value: Any, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    data = doc["data"]
    lines = [f"test set: {data['photos']} photos of {data['people']} people "
             f"({data['without_face']} without a face)",
             f"{'comparison':<26}{'EER':>8}{'FNMR@FMR' + format(target, 'g'):>18}"
             f"{'genuine':>9}{'impostor':>10}"]
    for name in ("sface", "protected_vs_original", "protected_vs_protected"):
        row = doc[name]
        lines.append(f"{name:<26}{row['eer']:>8.2%}{row[key]:>18.2%}{row['genuine_pairs']:>9}"
                     f"{row['impostor_pairs']:>10}")
    lines.append(f"SSIM(G(x), x) {num(doc['ssim'], '.3f')}, PSNR {num(doc['psnr'], '.2f')} dB, "
                 f"face detected in {doc['face_detected_rate']:.1%} of templates "
                 f"({doc['face_detected_rate_original']:.1%} of originals)")
    inv = doc.get("inversion")
    if inv is not None:
        lines.append(f"inversion: SFace match {inv['match_rate']:.1%} at threshold {inv['threshold']:.3f} "
                     f"(templates themselves {inv['protected_match_rate']:.1%}), "
                     f"SSIM {num(inv['ssim'], '.3f')}, PSNR {num(inv['psnr'], '.2f')} dB")
    cross = doc.get("cross_generator")
    if cross is not None:
        lines.append(f"second generator G2: G(x) vs G2(x') EER {cross['eer']:.2%}, "
                     f"FNMR@FMR{target:g} {cross[key]:.2%}, D<->sys {cross['dsys']:.3f}")
    lines.append(f"D<->sys {doc['dsys']:.3f}, {doc['images_per_s']:.1f} templates/s")
    return "\n".join(lines)


def plot_templates(figures: EvalFigures, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """A PNG: the example originals, templates and reconstructions in rows, DET curves beside.

    The DET panel uses probit axes from 1e-5 to 0.5 (rates outside are drawn at the
    ends), as :func:`fuzzykey.evaluation.plots.plot_det`.
    """
    if not isinstance(figures, EvalFigures):
        raise InvalidArgument(f"figures must be an EvalFigures, got {type(figures).__name__}")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise InvalidArgument("--plot needs matplotlib: pip install 'fuzzykey[bench]'") from exc
    rows = [("original x", figures.originals), ("template G(x)", figures.protected)]
    if figures.reconstructed is not None:
        rows.append(("inversion I(G(x))", figures.reconstructed))
    n = max(1, len(figures.originals))
    fig = Figure(figsize=(1.3 * n + 4.8, max(4.0, 1.45 * len(rows) + 0.5)), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(rows), n + 2, width_ratios=[1.0] * n + [0.75, 3.3])
    for r, (label, imgs) in enumerate(rows):
        for c in range(n):
            ax = fig.add_subplot(grid[r, c])
            if c < len(imgs):
                ax.imshow(imgs[c])
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    det = fig.add_subplot(grid[:, n + 1])
    lo, hi = 1e-5, 0.5
    for curve in figures.curves:
        det.plot(probit(np.clip(curve["fmr"], lo, hi)), probit(np.clip(curve["fnmr"], lo, 0.995)),
                 label=curve["label"], linewidth=1.4)
    ticks = [1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5]
    det.set_xticks(probit(ticks), [f"{100 * t:g}%" for t in ticks], rotation=45)
    yticks = [*ticks, 0.8, 0.95, 0.99]
    det.set_yticks(probit(yticks), [f"{100 * t:g}%" for t in yticks])
    det.set_xlim(float(probit(lo)), float(probit(hi)))
    det.set_ylim(float(probit(lo)), float(probit(0.995)))
    det.tick_params(labelsize=7)
    det.set_xlabel("FMR", fontsize=8)
    det.set_ylabel("FNMR", fontsize=8)
    det.grid(True, linestyle=":", linewidth=0.7)
    det.legend(loc="upper right", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.04, right=0.98, bottom=0.17, top=0.9 if title else 0.95, wspace=0.08,
                        hspace=0.08)
    out = Path(path)
    fig.savefig(out, format="png", dpi=100)
    return out
