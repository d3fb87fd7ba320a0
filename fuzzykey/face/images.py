"""Reading images from what users hand us: a path, bytes, a numpy array or a PIL image.

Every reader returns an ``(H, W, 3)`` ``uint8`` array in RGB order, C-contiguous.
EXIF orientation is applied, so a phone photo stands upright. Anything that
cannot be read raises :class:`~fuzzykey.errors.InvalidImage` naming what came.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidImage

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = ["ImageSource", "load_image", "describe_source"]

#: What the public API accepts as one image.
#: A path, encoded bytes, an ``(H, W)`` / ``(H, W, 3|4)`` array or a PIL image.
ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, NDArray[Any], "PILImage"]

_MAX_PIXELS = 64_000_000  # refuse decompression bombs rather than exhaust memory


def describe_source(source: Any) -> str:
    """A short, safe description of an image argument for messages and metadata."""
    if isinstance(source, (str, os.PathLike)):
        return f"image file {os.fspath(source)!r}"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"image bytes ({len(source)} bytes)"
    if isinstance(source, np.ndarray):
        return f"image array of shape {source.shape} and dtype {source.dtype}"
    return f"image of type {type(source).__name__}"


def _from_pil(img: Any, what: str) -> NDArray[np.uint8]:
    from PIL import ImageOps

    try:
        img = ImageOps.exif_transpose(img)
        if img.width * img.height > _MAX_PIXELS:
            raise InvalidImage(f"{what} has {img.width}x{img.height} pixels, more than {_MAX_PIXELS}")
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


def load_image(source: ImageSource) -> NDArray[np.uint8]:
    """Read one image as an ``(H, W, 3)`` RGB ``uint8`` array.

    Args:
        source: a path (``str`` or ``os.PathLike``), the encoded file's bytes, an
            ``(H, W, 3)`` RGB array (``uint8``, or float with values in
            [0, 255]), or a ``PIL.Image.Image``.

    Raises:
        InvalidImage: missing or unreadable file, undecodable bytes, wrong array
            shape or dtype, NaN pixels, or an unsupported type.
    """
    what = describe_source(source)
    if isinstance(source, np.ndarray):
        return _from_array(source, what)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InvalidImage(f"{what} does not exist or is not a file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidImage(f"{what} cannot be read: {exc.strerror or exc}") from exc
        return _decode(data, what)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(bytes(source), what)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow ships with the [face] extra
        Image = None  # type: ignore[assignment]
    if Image is not None and isinstance(source, Image.Image):
        return _from_pil(source, what)
    raise InvalidImage(f"{what} is not a supported image source (path, bytes, numpy array or PIL image)")


def _decode(data: bytes, what: str) -> NDArray[np.uint8]:
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
        if img.width * img.height > _MAX_PIXELS:  # refuse before decoding, not after
            raise InvalidImage(f"{what} has {img.width}x{img.height} pixels, more than {_MAX_PIXELS}")
        img.load()
    except InvalidImage:
        raise
    except Exception as exc:
        message = str(exc).split(" <_io.BytesIO")[0]
        raise InvalidImage(f"{what} are not a readable image: {message}" if what.startswith("image bytes")
                           else f"{what} is not a readable image: {message}") from exc
    return _from_pil(img, what)
