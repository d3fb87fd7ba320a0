"""Reading images from what users hand us: a path, bytes, a numpy array or a PIL image.

Every reader returns an ``(H, W, 3)`` ``uint8`` array in RGB order, C-contiguous.
EXIF orientation is applied, so a phone photo stands upright. Anything that
cannot be read raises :class:`~fuzzykey.errors.InvalidImage` naming what came.

Images come from users and may be hostile, so :class:`ImageLimits` bounds what
is decoded, checked before decoding from the file size and the dimensions the
file declares: by default at most 64 MiB of file, 50 million pixels, 30,000
pixels a side and an aspect ratio of 20:1 (a 48-megapixel phone photo passes; a
7999x7999 bomb or a 1x64,000,000 strip does not). Pass other limits to
:func:`load_image` or to :class:`~fuzzykey.face.detect.YuNetDetector`.
32-bit integer and floating-point images (TIFF modes ``I`` and ``F``) are
refused: their value range is not known, and guessing would turn faces black.

Example:
    >>> import numpy as np
    >>> from fuzzykey.face.images import load_image
    >>> load_image(np.zeros((4, 5, 3), np.uint8)).shape
    (4, 5, 3)
    >>> load_image(b"not an image")
    Traceback (most recent call last):
    ...
    fuzzykey.errors.InvalidImage: image bytes (12 bytes) are not a readable image: cannot identify image file
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidArgument, InvalidImage

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = ["ImageSource", "ImageLimits", "DEFAULT_LIMITS", "load_image", "describe_source"]

#: What the public API accepts as one image.
#: A path, encoded bytes, an ``(H, W)`` / ``(H, W, 3|4)`` array or a PIL image.
ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, NDArray[Any], "PILImage"]



@dataclass(frozen=True)
class ImageLimits:
    """What :func:`load_image` agrees to decode; each bound is checked before decoding."""

    max_file_bytes: int = 64 << 20
    """Largest encoded file (or bytes object) read."""
    max_pixels: int = 50_000_000
    """Largest width x height."""
    max_side: int = 30_000
    """Largest width or height."""
    max_aspect: float = 20.0
    """Largest ratio of the longer side to the shorter."""

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_pixels", "max_side"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"ImageLimits.{name} must be a positive int, got {value!r}")
        if not isinstance(self.max_aspect, (int, float)) or not self.max_aspect >= 1.0:
            raise InvalidArgument(f"ImageLimits.max_aspect must be a number >= 1, got {self.max_aspect!r}")

    def check_size(self, width: int, height: int, what: str) -> None:
        """Refuse ``width`` x ``height`` if it is over a bound."""
        if width < 1 or height < 1:
            raise InvalidImage(f"{what} is empty ({width}x{height} pixels)")
        if max(width, height) > self.max_side:
            raise InvalidImage(f"{what} is {width}x{height} pixels; a side may have at most {self.max_side}")
        if width * height > self.max_pixels:
            raise InvalidImage(f"{what} has {width}x{height} pixels, more than {self.max_pixels}")
        if max(width, height) > self.max_aspect * min(width, height):
            raise InvalidImage(
                f"{what} is {width}x{height} pixels; the aspect ratio may be at most {self.max_aspect:g}:1"
            )


DEFAULT_LIMITS = ImageLimits()
_WIDE_MODES = {"I": "32-bit integer", "F": "32-bit floating-point"}


def describe_source(source: Any) -> str:
    """A short, safe description of an image argument for messages and metadata."""
    if isinstance(source, (str, os.PathLike)):
        return f"image file {os.fspath(source)!r}"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"image bytes ({len(source)} bytes)"
    if isinstance(source, np.ndarray):
        return f"image array of shape {source.shape} and dtype {source.dtype}"
    return f"image of type {type(source).__name__}"


def _from_pil(img: Any, what: str, limits: ImageLimits) -> NDArray[np.uint8]:
    from PIL import ImageOps

    try:
        limits.check_size(img.width, img.height, what)
        if img.mode in _WIDE_MODES:
            raise InvalidImage(
                f"{what} has {_WIDE_MODES[img.mode]} pixels (mode {img.mode!r}), whose range is unknown; "
                "convert it to 8- or 16-bit first"
            )
        img = ImageOps.exif_transpose(img)
        if img.mode in ("I;16", "I;16L", "I;16B", "I;16N"):  # 16-bit grey: scale, do not clip
            grey16 = np.asarray(img).astype(np.uint32)
            grey = ((grey16 * 255 + 32767) // 65535).astype(np.uint8)
            return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
        rgb = img.convert("RGB")
        return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    except InvalidImage:
        raise
    except Exception as exc:  # PIL raises many types for broken files
        raise InvalidImage(f"{what} is not a readable image: {exc}") from exc


def _from_array(arr: NDArray[Any], what: str) -> NDArray[np.uint8]:
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InvalidImage(f"{what}: expected an (H, W, 3) RGB array, got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InvalidImage(f"{what}: the image is empty")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise InvalidImage(f"{what}: contains NaN or infinity")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 255.0:
            raise InvalidImage(f"{what}: float pixels must lie in [0, 255], found [{lo:g}, {hi:g}]")
        return np.ascontiguousarray(np.rint(arr).astype(np.uint8))
    raise InvalidImage(f"{what}: expected dtype uint8 (or float in [0, 255]), got {arr.dtype}")


def load_image(source: ImageSource, *, limits: ImageLimits = DEFAULT_LIMITS) -> NDArray[np.uint8]:
    """Read one image as an ``(H, W, 3)`` RGB ``uint8`` array.

    Args:
        source: a path (``str`` or ``os.PathLike``), the encoded file's bytes, an
            ``(H, W, 3)`` RGB array (``uint8``, or float with values in
            [0, 255]), or a ``PIL.Image.Image``.
        limits: what may be decoded (:class:`ImageLimits`; checked before decoding).

    Raises:
        InvalidImage: missing or unreadable file, undecodable bytes, an image
            over the limits, wrong array shape or dtype, NaN pixels, or an
            unsupported type.
    """
    if not isinstance(limits, ImageLimits):
        raise InvalidArgument(f"limits must be an ImageLimits, got {type(limits).__name__}")
    what = describe_source(source)
    if isinstance(source, np.ndarray):
        return _from_array(source, what)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InvalidImage(f"{what} does not exist or is not a file")
        try:
            with open(path, "rb") as fh:
                data = fh.read(limits.max_file_bytes + 1)
        except OSError as exc:
            raise InvalidImage(f"{what} cannot be read: {exc.strerror or exc}") from exc
        return _decode(data, what, limits)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(bytes(source), what, limits)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow ships with the [face] extra
        Image = None  # type: ignore[assignment]
    if Image is not None and isinstance(source, Image.Image):
        return _from_pil(source, what, limits)
    raise InvalidImage(f"{what} is not a supported image source (path, bytes, numpy array or PIL image)")


def _decode(data: bytes, what: str, limits: ImageLimits) -> NDArray[np.uint8]:
    from PIL import Image

    if len(data) > limits.max_file_bytes:
        raise InvalidImage(f"{what} is larger than {limits.max_file_bytes} bytes")
    try:
        img = Image.open(io.BytesIO(data))
        limits.check_size(img.width, img.height, what)  # the declared size: before decoding
        if img.mode in _WIDE_MODES:
            raise InvalidImage(
                f"{what} has {_WIDE_MODES[img.mode]} pixels (mode {img.mode!r}), whose range is unknown; "
                "convert it to 8- or 16-bit first"
            )
        img.load()
    except InvalidImage:
        raise
    except Exception as exc:
        message = str(exc).split(" <_io.BytesIO")[0]
        raise InvalidImage(f"{what} are not a readable image: {message}" if what.startswith("image bytes")
                           else f"{what} is not a readable image: {message}") from exc
    return _from_pil(img, what, limits)
