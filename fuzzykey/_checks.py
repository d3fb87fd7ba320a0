"""Argument checks shared by the public entry points.

Every check names the argument and says what was expected and what came.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgument


def as_int(value: Any, name: str) -> int:
    """``value`` as a Python int; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgument(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    return operator.index(value)


#: The most threads one call may ask for (the native core never starts more).
MAX_THREADS = 256


def as_threads(threads: int | None) -> int:
    """Thread count for the native core; ``None`` (or 0) means all cores, at most :data:`MAX_THREADS`."""
    if threads is None:
        return 0
    value = as_int(threads, "threads")
    if not 0 <= value <= MAX_THREADS:
        raise InvalidArgument(
            f"threads must be from 0 to {MAX_THREADS} (0 or None: all cores), got {value}"
        )
    return value


def as_bits(value: Any, name: str, *, ndim: int, length: int) -> NDArray[np.uint8]:
    """``value`` as a C-contiguous uint8 array of 0/1 with ``ndim`` dimensions
    whose last one is ``length``. Accepts bool and integer dtypes."""
    arr = np.asarray(value)
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidArgument(
            f"{name} must hold bits as uint8 or bool, got dtype {arr.dtype}"
        )
    if arr.ndim != ndim:
        expected = f"({length},)" if ndim == 1 else f"(rows, {length})"
        raise InvalidArgument(
            f"{name} must be {ndim}-D with shape {expected}, got shape {arr.shape}"
        )
    if arr.shape[-1] != length:
        raise InvalidArgument(
            f"{name} must have {length} bits per row, got shape {arr.shape}"
        )
    if arr.dtype == np.bool_:
        return np.ascontiguousarray(arr, dtype=np.uint8)
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        bad = arr[(arr < 0) | (arr > 1)].flat[0]
        raise InvalidArgument(f"{name} must contain only 0 and 1, found {int(bad)}")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def as_erasures(value: Any, shape: tuple[int, ...]) -> NDArray[np.uint8]:
    """An erasure mask of exactly ``shape`` as C-contiguous 0/1 uint8."""
    arr = np.asarray(value)
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidArgument(f"erasures must be a bool or 0/1 integer mask, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise InvalidArgument(f"erasures must have the shape of the word(s), {shape}, got shape {arr.shape}")
    return as_bits(arr, "erasures", ndim=len(shape), length=shape[-1])
