"""fuzzykey.face.encoders: SFace on real aligned LFW faces, the torch copy, user ONNX and torch encoders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("cv2")
pytest.importorskip("PIL")

from onnx import TensorProto, helper  # noqa: E402

from fuzzykey.errors import InvalidArgument, ModelError  # noqa: E402
from fuzzykey.face.encoders import (  # noqa: E402
    FaceEncoder,
    OnnxEncoder,
    SFaceEncoder,
    TorchEncoder,
    check_faces,
    normalize_rows,
)

# people with several LFW photos; three photos each
PEOPLE = ["George_W_Bush", "Colin_Powell", "Tony_Blair", "Serena_Williams", "Hugo_Chavez"]
PHOTOS = (1, 2, 3)


@pytest.fixture(autouse=True)
def private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FUZZYKEY_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def faces(yunet, lfw_images: Path) -> tuple[np.ndarray, np.ndarray]:
    """Aligned crops (15, 112, 112, 3) and their person labels."""
    crops, labels = [], []
    for label, name in enumerate(PEOPLE):
        for i in PHOTOS:
            crops.append(yunet.detect_and_align(lfw_images / name / f"{name}_{i:04d}.jpg").crop)
            labels.append(label)
    return np.stack(crops), np.array(labels)


@pytest.fixture(scope="module")
def embeddings(sface: SFaceEncoder, faces) -> np.ndarray:
    return sface.embed(faces[0])


# --------------------------------------------------------------------------- SFace


def test_sface_embeddings_shape_norm_dtype(sface: SFaceEncoder, embeddings: np.ndarray) -> None:
    assert isinstance(sface, FaceEncoder)
    assert (sface.name, sface.dim, sface.input_size) == ("sface-2021dec-int8bq", 128, 112)
    assert embeddings.shape == (len(PEOPLE) * len(PHOTOS), 128)
    assert embeddings.dtype == np.float32 and embeddings.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert len(np.unique(embeddings.round(4), axis=0)) == len(embeddings)  # no two alike


def test_sface_is_deterministic_and_batch_independent(sface: SFaceEncoder, faces,
                                                      embeddings: np.ndarray) -> None:
    assert sface.batch_size == 32
    crops, want = faces[0][:6], embeddings[:6]
    np.testing.assert_array_equal(sface.embed(crops), want)
    for batch_size in (1, 4):  # 4: the last chunk is short
        other = SFaceEncoder(batch_size=batch_size)
        np.testing.assert_allclose(other.embed(crops), want, atol=1e-5, rtol=0)
    # one crop without the batch axis, and a list of crops
    np.testing.assert_allclose(sface.embed(crops[3]), embeddings[3:4], atol=1e-5, rtol=0)
    np.testing.assert_allclose(sface.embed(list(crops[:2])), embeddings[:2], atol=1e-5, rtol=0)
    # a non-contiguous view gives the same as a contiguous copy
    flipped = crops[:2, :, ::-1]
    np.testing.assert_array_equal(sface.embed(flipped), sface.embed(np.ascontiguousarray(flipped)))
    assert sface.embed(np.zeros((0, 112, 112, 3), np.uint8)).shape == (0, 128)


def test_sface_runs_the_fixed_graph_on_rgb_nchw(faces, embeddings: np.ndarray) -> None:
    """embed() feeds the crops as (N, 3, 112, 112) float RGB 0..255, unscaled, and
    L2-normalizes what the graph returns."""
    import onnxruntime as ort

    from fuzzykey.face.models import fixed_sface_model_bytes

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(fixed_sface_model_bytes(), opts, providers=["CPUExecutionProvider"])
    crops = faces[0][:4]
    raw = sess.run(None, {"data": crops.transpose(0, 3, 1, 2).astype(np.float32)})[0]
    want = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    np.testing.assert_allclose(embeddings[:4], want, atol=1e-5, rtol=0)
    bgr = sess.run(None, {"data": crops[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)})[0]
    bgr /= np.linalg.norm(bgr, axis=1, keepdims=True)
    assert np.abs(embeddings[:4] - bgr).max() > 1e-3  # the channel order matters


def test_same_person_is_closer_than_different_people(faces, embeddings: np.ndarray) -> None:
    labels = faces[1]
    sim = embeddings @ embeddings.T
    upper = np.triu_indices(len(labels), k=1)
    same = labels[upper[0]] == labels[upper[1]]
    genuine, impostor = sim[upper][same], sim[upper][~same]
    assert len(genuine) == 15 and len(impostor) == 90
    assert genuine.mean() > impostor.mean() + 0.3, (genuine.mean(), impostor.mean())
    # every photo's nearest other photo is of the same person
    np.fill_diagonal(sim, -np.inf)
    np.testing.assert_array_equal(labels[sim.argmax(axis=1)], labels)


def test_sface_settings_are_checked() -> None:
    for bad in (0, -3, 2.5, "8", None):
        with pytest.raises(InvalidArgument, match="batch_size"):
            SFaceEncoder(batch_size=bad)
    with pytest.raises(InvalidArgument, match="threads"):
        SFaceEncoder(threads=-1)


def test_torch_module_matches_embed_and_has_gradients(sface: SFaceEncoder, faces,
                                                      embeddings: np.ndarray) -> None:
    torch = pytest.importorskip("torch")
    module = sface.torch_module()
    assert not module.training
    assert not any(p.requires_grad for p in module.parameters())
    crops = faces[0][:3]
    x = torch.from_numpy(crops.transpose(0, 3, 1, 2).astype(np.float32)).requires_grad_(True)
    out = module(x)
    assert out.shape == (3, 128)
    np.testing.assert_allclose(out.detach().numpy(), embeddings[:3], atol=1e-4, rtol=0)
    # cosine of photo 0 and photo 1 of the same person, pushed up by the gradient
    score = (out[0] * out[1]).sum()
    score.backward()
    grad = x.grad.numpy()
    assert np.all(np.isfinite(grad))
    assert np.abs(grad[0]).sum() > 0 and np.abs(grad[1]).sum() > 0
    assert np.abs(grad[2]).sum() == 0  # the third crop does not enter the score


# --------------------------------------------------------------------------- check_faces


@pytest.mark.parametrize(
    "shape", [(112, 112), (2, 112, 112), (2, 112, 112, 1), (2, 3, 112, 112), (2, 111, 112, 3),
              (2, 112, 112, 4), (1, 1, 112, 112, 3), (0,)],
)
def test_check_faces_shapes(shape) -> None:
    with pytest.raises(InvalidArgument, match=r"\(N, 112, 112, 3\)"):
        check_faces(np.zeros(shape, np.uint8), 112)


@pytest.mark.parametrize("shape", [(2, 112, 112, 1), (112, 112), (2, 112, 112), (5, 5, 3)])
def test_check_faces_quotes_the_shape_it_was_given(shape) -> None:
    """The message must show the caller's shape, not the one after adding a batch axis."""
    with pytest.raises(InvalidArgument) as info:
        check_faces(np.zeros(shape, np.uint8), 112)
    assert f"got shape {shape}" in str(info.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint16, np.bool_])
def test_check_faces_dtypes(dtype) -> None:
    with pytest.raises(InvalidArgument, match="uint8") as info:
        check_faces(np.zeros((1, 112, 112, 3), dtype), 112)
    assert str(np.dtype(dtype)) in str(info.value)


def test_check_faces_accepts() -> None:
    one = np.zeros((32, 32, 3), np.uint8)
    assert check_faces(one, 32).shape == (1, 32, 32, 3)
    view = np.zeros((2, 32, 32, 3), np.uint8)[:, ::-1]
    out = check_faces(view, 32)
    assert out.flags.c_contiguous and out.shape == (2, 32, 32, 3)


def test_encoders_check_their_input(sface: SFaceEncoder) -> None:
    with pytest.raises(InvalidArgument):
        sface.embed(np.zeros((1, 112, 112, 3), np.float32))
    with pytest.raises(InvalidArgument):
        sface.embed(np.zeros((1, 3, 112, 112), np.uint8))


def test_normalize_rows() -> None:
    out = normalize_rows(np.array([[3.0, 4.0], [0.0, -2.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, -1.0]])
    assert out.dtype == np.float32
    for bad in ([[0.0, 0.0]], [[np.nan, 1.0]], [[np.inf, 1.0]]):
        with pytest.raises(ModelError, match="zero or non-finite"):
            normalize_rows(np.array(bad))


# --------------------------------------------------------------------------- OnnxEncoder


def channel_mean_onnx(path: Path, size: int | None = None) -> bytes:
    """(N, 3, H, W) -> GlobalAveragePool -> Flatten -> (N, 3): the mean colour."""
    f = TensorProto.FLOAT
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["embedding"], axis=1)]
    graph = helper.make_graph(nodes, "mean-colour",
                              [helper.make_tensor_value_info("input", f, ["N", 3, size, size])],
                              [helper.make_tensor_value_info("embedding", f, ["N", 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    path.write_bytes(data)
    return data


def mean_colour(crops: np.ndarray) -> np.ndarray:
    m = crops.reshape(len(crops), -1, 3).astype(np.float64).mean(axis=1)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_onnx_encoder(tmp_path: Path) -> None:
    path = tmp_path / "mean.onnx"
    data = channel_mean_onnx(path)
    enc = OnnxEncoder(path, input_size=32, threads=1, batch_size=3)
    assert isinstance(enc, FaceEncoder)
    assert enc.name == "onnx-" + hashlib.sha256(data).hexdigest()[:16]
    assert enc.dim == 3 and enc.input_size == 32
    assert enc.name in repr(enc)
    crops = np.random.default_rng(4).integers(1, 256, (7, 32, 32, 3), dtype=np.uint8)
    crops[0] = (200, 10, 10)
    out = enc.embed(crops)
    assert out.shape == (7, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, mean_colour(crops), atol=1e-6)
    np.testing.assert_allclose(out[0], mean_colour(crops[:1])[0], atol=1e-6)
    assert enc.embed(np.zeros((0, 32, 32, 3), np.uint8)).shape == (0, 3)
    with pytest.raises(InvalidArgument):
        enc.embed(np.zeros((1, 112, 112, 3), np.uint8))  # wrong crop size for this encoder
    named = OnnxEncoder(str(path), name="mean-colour-v1", input_size=32)
    assert named.name == "mean-colour-v1"
    np.testing.assert_array_equal(named.embed(crops), out)


def test_onnx_encoder_zero_embedding_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "mean.onnx"
    channel_mean_onnx(path, 16)
    enc = OnnxEncoder(path, input_size=16)
    crops = np.full((2, 16, 16, 3), 50, np.uint8)
    crops[1] = 0  # black: mean colour (0, 0, 0)
    with pytest.raises(ModelError, match="zero"):
        enc.embed(crops)


def test_onnx_encoder_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read") as info:
        OnnxEncoder(tmp_path / "missing.onnx")
    assert "missing.onnx" in str(info.value)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"definitely not protobuf")
    with pytest.raises(ModelError, match="onnxruntime cannot load"):
        OnnxEncoder(garbage)


# --------------------------------------------------------------------------- TorchEncoder


def test_torch_encoder() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    linear = torch.nn.Linear(3, 4)
    module = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Dropout(0.5),
                                 linear)
    module.train()
    enc = TorchEncoder(module, name="tiny-v1", dim=4, input_size=24, batch_size=2)
    assert isinstance(enc, FaceEncoder)
    assert not module.training  # put in eval mode: dropout off
    crops = np.random.default_rng(8).integers(0, 256, (5, 24, 24, 3), dtype=np.uint8)
    out = enc.embed(crops)
    mean = crops.reshape(5, -1, 3).astype(np.float64).mean(axis=1)
    w, b = linear.weight.detach().numpy().astype(np.float64), linear.bias.detach().numpy()
    want = mean @ w.T + b
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    assert out.shape == (5, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out, want, atol=1e-5)
    np.testing.assert_array_equal(enc.embed(crops), out)
    assert enc.embed(np.zeros((0, 24, 24, 3), np.uint8)).shape == (0, 4)
    assert "tiny-v1" in repr(enc)


def test_torch_encoder_errors() -> None:
    torch = pytest.importorskip("torch")

    class Const(torch.nn.Module):
        def __init__(self, value: float, dim: int) -> None:
            super().__init__()
            self.value, self.dim = value, dim

        def forward(self, x):
            return torch.full((x.shape[0], self.dim), self.value)

    crops = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ModelError, match="zero"):
        TorchEncoder(Const(0.0, 4), name="zero", dim=4, input_size=8).embed(crops)
    with pytest.raises(ModelError, match="non-finite"):
        TorchEncoder(Const(float("nan"), 4), name="nan", dim=4, input_size=8).embed(crops)
    with pytest.raises(ModelError, match=r"expected \(N, 5\)"):
        TorchEncoder(Const(1.0, 4), name="dim", dim=5, input_size=8).embed(crops)
    with pytest.raises(InvalidArgument, match="name"):
        TorchEncoder(Const(1.0, 4), name="", dim=4)
