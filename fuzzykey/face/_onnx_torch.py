"""A small ONNX → torch converter: one ONNX graph becomes a differentiable ``nn.Module``.

fuzzykey uses it to make the "differentiable copy" of the SFace encoder
(:func:`fuzzykey.face.models.fixed_sface_model`), through which heads are trained
and gradient attacks run. It needs only ``onnx``, ``torch`` and ``numpy``.

How the module is built:

* every initializer (and every ``Constant`` node, evaluated once) is stored on
  the module: floating-point ones as ``nn.Parameter``, integer and boolean ones
  as buffers; the running mean and variance of ``BatchNormalization`` are
  buffers too, as in ``torch.nn.BatchNorm2d``. Their names are the ONNX names
  with characters other than letters, digits and ``_`` replaced by ``_`` (see
  :meth:`OnnxModule.initializer`);
* every other node becomes a small Python callable, chosen from a table by
  ``op_type`` and bound to the node's attributes; ``forward(*inputs)`` runs
  them in topological order and returns the graph's output (a tuple when the
  graph has several). No source code is generated or ``exec``-uted;
* an operator, attribute or attribute value this converter does not handle is
  a :class:`~fuzzykey.errors.ModelError` at conversion time, naming the
  operator type and the node.

The returned module is in ``eval()`` mode and its parameters have
``requires_grad=False`` (a frozen encoder); gradients still flow to the
inputs. For fine-tuning, call ``module.train()`` and
``module.requires_grad_(True)``. Two operators ignore the module's mode on
purpose or follow it:

* ``BatchNormalization`` always uses the stored running statistics (the
  inference form), also in ``train()`` mode: batch statistics are never
  computed and the running statistics never updated (a frozen-BN fine-tune);
* ``Dropout`` is the identity in ``eval()`` mode (ONNX inference semantics);
  in ``train()`` mode it drops with the graph's ratio, like ``nn.Dropout``.
  Its optional ``training_mode`` input is ignored: the module's mode decides.

Speed: on CPU, torch's convolutions run faster in channels-last layout; for
SFace ``module.to(memory_format=torch.channels_last)`` with inputs made
``.contiguous(memory_format=torch.channels_last)`` was about 1.6 times faster
than the default layout (same outputs to ~1e-6). The module itself does not
change layouts.

Supported operators: Add, AveragePool, BatchNormalization, Concat, Constant,
Conv (1-D, 2-D, 3-D; groups, dilations, strides, symmetric or asymmetric pads,
every ``auto_pad``), Div, Dropout, Flatten, Gemm, GlobalAveragePool,
GlobalMaxPool, Identity, LeakyRelu, MatMul, MaxPool, Mul, PRelu, Relu, Reshape,
Sigmoid, Softmax, Sub, Tanh, Transpose, all from the default ONNX domain at
opset 7 or later.

Example:
    >>> import numpy as np, torch
    >>> from onnx import TensorProto, helper, numpy_helper
    >>> from fuzzykey.face._onnx_torch import onnx_to_torch
    >>> w = numpy_helper.from_array(np.full((4, 3), 0.5, dtype=np.float32), "w")
    >>> graph = helper.make_graph(
    ...     [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1),
    ...      helper.make_node("Relu", ["h"], ["y"])],
    ...     "tiny",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
    ...     initializer=[w])
    >>> net = onnx_to_torch(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    >>> x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]], requires_grad=True)
    >>> y = net(x)
    >>> y.tolist()
    [[3.0, 3.0, 3.0, 3.0], [0.0, 0.0, 0.0, 0.0]]
    >>> y.sum().backward()
    >>> x.grad.tolist()
    [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]
    >>> net.training, net.initializer("w").requires_grad
    (False, False)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from onnx import helper, numpy_helper
from torch import Tensor, nn

from ..errors import InvalidArgument, ModelError

__all__ = ["OnnxModule", "onnx_to_torch", "SUPPORTED_OPS"]

_MIN_OPSET = 7

# A node's computation: (its inputs, None where an optional one is absent; whether
# the module is training) -> its outputs, one per ONNX output.
_OpFn = Callable[[Sequence[Tensor | None], bool], tuple[Tensor, ...]]


# --------------------------------------------------------------------------- node context


class _Node:
    """What a converter sees of one node: attributes (each one must be read, or
    the conversion fails), constant inputs, and the default-domain opset."""

    def __init__(self, node: onnx.NodeProto, consts: Mapping[str, NDArray[Any]], opset: int) -> None:
        self.proto = node
        self.opset = opset
        self._consts = consts
        self._attrs: dict[str, Any] = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        self._read: set[str] = set()

    @property
    def label(self) -> str:
        return f"{self.proto.op_type} (node {self.proto.name!r})"

    def error(self, what: str) -> ModelError:
        return ModelError(f"ONNX operator {self.label}: {what}")

    def n_inputs(self) -> int:
        """Number of inputs, trailing absent ('') ones not counted."""
        names = list(self.proto.input)
        while names and not names[-1]:
            names.pop()
        return len(names)

    def n_outputs(self) -> int:
        names = list(self.proto.output)
        while names and not names[-1]:
            names.pop()
        return len(names)

    def require_outputs(self, most: int) -> None:
        if self.n_outputs() > most:
            raise self.error(f"only the first {most} output(s) are supported, got {self.n_outputs()}")

    def const(self, index: int) -> NDArray[Any] | None:
        """The value of input ``index`` when it is an initializer or a Constant, else None."""
        if index >= len(self.proto.input) or not self.proto.input[index]:
            return None
        return self._consts.get(self.proto.input[index])

    def has(self, name: str) -> bool:
        return name in self._attrs

    def _get(self, name: str, default: Any) -> Any:
        self._read.add(name)
        return self._attrs.get(name, default)

    def get_int(self, name: str, default: int) -> int:
        return int(self._get(name, default))

    def get_float(self, name: str, default: float) -> float:
        return float(self._get(name, default))

    def get_ints(self, name: str, default: Sequence[int] | None = None) -> list[int] | None:
        value = self._get(name, default)
        return None if value is None else [int(v) for v in value]

    def get_floats(self, name: str) -> list[float]:
        return [float(v) for v in self._get(name, [])]

    def get_str(self, name: str, default: str) -> str:
        value = self._get(name, default)
        return value.decode() if isinstance(value, bytes) else str(value)

    def get_tensor(self, name: str) -> Any:
        return self._get(name, None)

    def ignore(self, *names: str) -> None:
        """Mark attributes as read that have no effect here (e.g. ``momentum``)."""
        self._read.update(names)

    def check_all_read(self) -> None:
        unread = sorted(set(self._attrs) - self._read)
        if unread:
            raise self.error(f"unsupported attribute(s) {', '.join(unread)}")


# --------------------------------------------------------------------------- helpers


def _one(fn: Callable[..., Tensor]) -> _OpFn:
    """Wrap ``fn(*tensors)`` (no optional inputs, one output) as an :data:`_OpFn`."""

    def run(args: Sequence[Tensor | None], training: bool) -> tuple[Tensor, ...]:
        return (fn(*args),)

    return run


def _split_pads(pads: Sequence[int], nd: int) -> tuple[list[int], list[int] | None]:
    """ONNX pads ``[b1..bn, e1..en]`` -> (symmetric padding, None) or ([0]*n, F.pad list)."""
    begins, ends = list(pads[:nd]), list(pads[nd:])
    if begins == ends:
        return begins, None
    return [0] * nd, _torch_pad(pads, nd)


def _torch_pad(pads: Sequence[int], nd: int) -> list[int]:
    """ONNX pads ``[b1..bn, e1..en]`` as an ``F.pad`` list (last dimension first)."""
    return [p for b, e in zip(reversed(pads[:nd]), reversed(pads[nd:]), strict=True) for p in (b, e)]


def _same_pads(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
               dilations: Sequence[int], upper: bool) -> list[int]:
    """The ONNX pads of ``auto_pad=SAME_UPPER``/``SAME_LOWER`` for these spatial sizes."""
    begins, ends = [], []
    for size, k, s, d in zip(spatial, kernel, strides, dilations, strict=True):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        begins.append(small if upper else big)
        ends.append(big if upper else small)
    return begins + ends


def _spatial_attrs(node: _Node, nd: int) -> tuple[list[int], list[int], list[int]]:
    strides = node.get_ints("strides") or [1] * nd
    dilations = node.get_ints("dilations") or [1] * nd
    pads = node.get_ints("pads") or [0] * (2 * nd)
    if len(strides) != nd or len(dilations) != nd or len(pads) != 2 * nd:
        raise node.error(f"strides/dilations/pads do not fit a {nd}-D kernel")
    return strides, dilations, pads


# --------------------------------------------------------------------------- converters


def _conv(node: _Node) -> _OpFn:
    weight = node.const(1)
    kernel = node.get_ints("kernel_shape")
    if kernel is None:
        if weight is None:
            raise node.error("kernel_shape is needed when the weight is not a constant")
        kernel = list(weight.shape[2:])
    elif weight is not None and list(weight.shape[2:]) != kernel:
        raise node.error(f"kernel_shape {kernel} disagrees with the weight's shape {list(weight.shape)}")
    nd = len(kernel)
    convs: dict[int, Callable[..., Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
    if nd not in convs:
        raise node.error(f"{nd}-D convolution is not supported")
    conv = convs[nd]
    strides, dilations, pads = _spatial_attrs(node, nd)
    group = node.get_int("group", 1)
    auto_pad = node.get_str("auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise node.error(f"auto_pad={auto_pad!r} is not supported")
    if auto_pad == "VALID":
        pads = [0] * (2 * nd)
    padding, torch_pad = _split_pads(pads, nd)

    def run(args: Sequence[Tensor | None], training: bool) -> tuple[Tensor, ...]:
        x, w = args[0], args[1]
        assert x is not None and w is not None
        bias = args[2] if len(args) > 2 else None
        pad, extra = padding, torch_pad
        if auto_pad.startswith("SAME"):
            pad, extra = _split_pads(
                _same_pads(x.shape[2:], kernel, strides, dilations, auto_pad == "SAME_UPPER"), nd)
        if extra is not None:
            x = F.pad(x, extra)
        return (conv(x, w, bias, strides, pad, dilations, group),)

    return run


def _batch_norm(node: _Node) -> _OpFn:
    eps = node.get_float("epsilon", 1e-5)
    node.ignore("momentum")  # only used to update statistics in training mode
    if node.get_int("training_mode", 0) != 0:
        raise node.error("training_mode=1 is not supported (inference form only)")
    if node.get_int("spatial", 1) != 1:
        raise node.error("spatial=0 is not supported")
    node.require_outputs(1)

    def run(args: Sequence[Tensor | None], training: bool) -> tuple[Tensor, ...]:
        x, scale, bias, mean, var = args
        assert x is not None and scale is not None and bias is not None
        assert mean is not None and var is not None
        if mean.requires_grad or var.requires_grad:  # F.batch_norm has no gradient for them
            shape = (-1,) + (1,) * (x.dim() - 2)
            factor = (scale * torch.rsqrt(var + eps)).reshape(shape)
            return ((x - mean.reshape(shape)) * factor + bias.reshape(shape),)
        return (F.batch_norm(x, mean, var, scale, bias, False, 0.0, eps),)

    return run


def _prelu(node: _Node) -> _OpFn:
    def run(args: Sequence[Tensor | None], training: bool) -> tuple[Tensor, ...]:
        x, slope = args
        assert x is not None and slope is not None
        if slope.numel() == 1:
            return (F.prelu(x, slope.reshape(1)),)
        if (x.dim() >= 2 and slope.dim() == x.dim() - 1 and slope.shape[0] == x.shape[1]
                and all(s == 1 for s in slope.shape[1:])):  # one slope per channel
            return (F.prelu(x, slope.reshape(-1)),)
        return (torch.where(x >= 0, x, x * slope),)  # general (numpy) broadcasting

    return run


def _leaky_relu(node: _Node) -> _OpFn:
    alpha = node.get_float("alpha", 0.01)
    return _one(lambda x: F.leaky_relu(x, alpha))


def _div(a: Tensor, b: Tensor) -> Tensor:
    if a.is_floating_point() or b.is_floating_point():
        return a / b
    return torch.div(a, b, rounding_mode="trunc")  # ONNX integer division truncates


def _gemm(node: _Node) -> _OpFn:
    alpha = node.get_float("alpha", 1.0)
    beta = node.get_float("beta", 1.0)
    trans_a = node.get_int("transA", 0)
    trans_b = node.get_int("transB", 0)

    def run(args: Sequence[Tensor | None], training: bool) -> tuple[Tensor, ...]:
        a, b = args[0], args[1]
        assert a is not None and b is not None
        c = args[2] if len(args) > 2 else None
        if trans_a:
            a = a.t()
        if trans_b:
            b = b.t()
        if c is not None and beta != 0.0 and a.is_floating_point():
            return (torch.addmm(c, a, b, beta=beta, alpha=alpha),)
        y = a @ b
        if alpha != 1.0:
            y = y * alpha
        if c is not None and beta != 0.0:
            y = y + (c if beta == 1.0 else c * beta)
        return (y,)

    return run


def _flatten(node: _Node) -> _OpFn:
    axis = node.get_int("axis", 1)

    def run(x: Tensor) -> Tensor:
        ax = axis + x.dim() if axis < 0 else axis
        return x.reshape(math.prod(x.shape[:ax]), math.prod(x.shape[ax:]))

    return _one(run)


def _reshape(node: _Node) -> _OpFn:
    allow_zero = node.get_int("allowzero", 0)
    known = node.const(1)
    fixed = None if known is None else [int(v) for v in known.reshape(-1)]

    def run(args: Sequence[Tensor | None], training: bool) -> tuple[Tensor, ...]:
        x, shape_t = args
        assert x is not None and shape_t is not None
        shape = fixed if fixed is not None else [int(v) for v in shape_t.reshape(-1).tolist()]
        if not allow_zero:
            shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
        return (x.reshape(shape),)

    return run


def _transpose(node: _Node) -> _OpFn:
    perm = node.get_ints("perm")
    return _one(lambda x: x.permute(perm if perm is not None else list(range(x.dim() - 1, -1, -1))))


def _concat(node: _Node) -> _OpFn:
    if not node.has("axis"):
        raise node.error("the axis attribute is required")
    axis = node.get_int("axis", 0)

    def run(args: Sequence[Tensor | None], training: bool) -> tuple[Tensor, ...]:
        return (torch.cat([a for a in args if a is not None], dim=axis),)

    return run


def _dropout(node: _Node) -> _OpFn:
    node.require_outputs(2)
    node.ignore("seed")  # torch's generator decides
    attr_ratio = node.get_float("ratio", 0.5) if node.opset < 12 else 0.5
    known = node.const(1) if node.opset >= 12 else None
    fixed = float(known.reshape(-1)[0]) if known is not None else None
    want_mask = node.n_outputs() == 2

    def run(args: Sequence[Tensor | None], training: bool) -> tuple[Tensor, ...]:
        x = args[0]
        assert x is not None
        if node.opset >= 12:
            given = args[1] if len(args) > 1 else None
            ratio = fixed if fixed is not None else float(given) if given is not None else 0.5
        else:
            ratio = attr_ratio
        if not training or ratio == 0.0:
            y, mask = x, torch.ones(x.shape, dtype=torch.bool, device=x.device)
        elif ratio >= 1.0:
            y, mask = torch.zeros_like(x), torch.zeros(x.shape, dtype=torch.bool, device=x.device)
        else:
            mask = torch.rand(x.shape, device=x.device) >= ratio
            y = x * mask / (1.0 - ratio)
        return (y, mask) if want_mask else (y,)

    return run


def _global_pool(reduce: str) -> Callable[[_Node], _OpFn]:
    def convert(node: _Node) -> _OpFn:
        def run(x: Tensor) -> Tensor:
            dims = tuple(range(2, x.dim()))
            if reduce == "mean":
                return x.mean(dim=dims, keepdim=True)
            return x.amax(dim=dims, keepdim=True)

        return _one(run)

    return convert


def _pool(kind: str) -> Callable[[_Node], _OpFn]:
    def convert(node: _Node) -> _OpFn:
        kernel = node.get_ints("kernel_shape")
        if kernel is None:
            raise node.error("kernel_shape is required")
        nd = len(kernel)
        if not 1 <= nd <= 3:
            raise node.error(f"{nd}-D pooling is not supported")
        strides, dilations, pads = _spatial_attrs(node, nd)
        auto_pad = node.get_str("auto_pad", "NOTSET")
        if auto_pad == "VALID":
            pads = [0] * (2 * nd)
        elif auto_pad != "NOTSET":
            raise node.error(f"auto_pad={auto_pad!r} is not supported")
        ceil_mode = bool(node.get_int("ceil_mode", 0))
        node.require_outputs(1)
        padding, torch_pad = _split_pads(pads, nd)
        if kind == "max":
            node.ignore("storage_order")  # only matters for the Indices output
            if torch_pad is not None or any(2 * p > k for p, k in zip(padding, kernel, strict=True)):
                if ceil_mode:
                    raise node.error("ceil_mode=1 with large or asymmetric pads is not supported")
                torch_pad = _torch_pad(pads, nd)
                padding = [0] * nd
            max_pools: dict[int, Callable[..., Tensor]] = {
                1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
            pool = max_pools[nd]
            final_pad = torch_pad

            def run_max(x: Tensor) -> Tensor:
                if final_pad is not None:
                    x = F.pad(x, final_pad, value=-math.inf)
                return pool(x, kernel, strides, padding, dilations, ceil_mode=ceil_mode)

            return _one(run_max)

        if any(d != 1 for d in dilations):
            raise node.error("dilated average pooling is not supported")
        include_pad = bool(node.get_int("count_include_pad", 0))
        if torch_pad is not None or any(2 * p > k for p, k in zip(padding, kernel, strict=True)):
            if not include_pad or ceil_mode:
                raise node.error("large or asymmetric pads need count_include_pad=1 and ceil_mode=0")
            torch_pad = _torch_pad(pads, nd)
            padding = [0] * nd
        avg_pools: dict[int, Callable[..., Tensor]] = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
        avg = avg_pools[nd]
        final_avg_pad = torch_pad

        def run_avg(x: Tensor) -> Tensor:
            if final_avg_pad is not None:
                x = F.pad(x, final_avg_pad)
            return avg(x, kernel, strides, padding, ceil_mode, include_pad)

        return _one(run_avg)

    return convert


def _softmax(node: _Node) -> _OpFn:
    if node.opset >= 13:
        axis = node.get_int("axis", -1)
        return _one(lambda x: torch.softmax(x, dim=axis))
    axis = node.get_int("axis", 1)

    def run(x: Tensor) -> Tensor:  # before opset 13: softmax of the input coerced to 2-D
        ax = axis + x.dim() if axis < 0 else axis
        flat = x.reshape(math.prod(x.shape[:ax]), math.prod(x.shape[ax:]))
        return torch.softmax(flat, dim=1).reshape(x.shape)

    return _one(run)


def _simple(fn: Callable[..., Tensor]) -> Callable[[_Node], _OpFn]:
    return lambda node: _one(fn)


_CONVERTERS: dict[str, Callable[[_Node], _OpFn]] = {
    "Add": _simple(torch.add),
    "AveragePool": _pool("avg"),
    "BatchNormalization": _batch_norm,
    "Concat": _concat,
    "Conv": _conv,
    "Div": _simple(_div),
    "Dropout": _dropout,
    "Flatten": _flatten,
    "Gemm": _gemm,
    "GlobalAveragePool": _global_pool("mean"),
    "GlobalMaxPool": _global_pool("max"),
    "Identity": _simple(lambda x: x),
    "LeakyRelu": _leaky_relu,
    "MatMul": _simple(torch.matmul),
    "MaxPool": _pool("max"),
    "Mul": _simple(torch.mul),
    "PRelu": _prelu,
    "Relu": _simple(torch.relu),
    "Reshape": _reshape,
    "Sigmoid": _simple(torch.sigmoid),
    "Softmax": _softmax,
    "Sub": _simple(torch.sub),
    "Tanh": _simple(torch.tanh),
    "Transpose": _transpose,
}

SUPPORTED_OPS: frozenset[str] = frozenset(_CONVERTERS) | {"Constant"}
"""The ONNX operator types (default domain) :func:`onnx_to_torch` converts."""


def _constant_value(node: _Node) -> NDArray[Any]:
    """The value of a ``Constant`` node."""
    node.require_outputs(1)
    present = [a.name for a in node.proto.attribute]
    if len(present) != 1:
        raise node.error("exactly one value attribute is expected")
    name = present[0]
    if name == "value":
        return np.array(numpy_helper.to_array(node.get_tensor("value")))
    if name == "value_float":
        return np.array(node.get_float(name, 0.0), dtype=np.float32)
    if name == "value_floats":
        return np.array(node.get_floats(name), dtype=np.float32)
    if name == "value_int":
        return np.array(node.get_int(name, 0), dtype=np.int64)
    if name == "value_ints":
        return np.array(node.get_ints(name, []), dtype=np.int64)
    raise node.error(f"the {name} attribute is not supported")


# --------------------------------------------------------------------------- the module


@dataclass(frozen=True)
class _Step:
    """One node to run: where its inputs come from and where its outputs go."""

    op_type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    fn: _OpFn
    release: tuple[str, ...]  # values no later step (nor the output) needs


def _attribute_name(onnx_name: str, taken: set[str]) -> str:
    base = "c_" + re.sub(r"\W", "_", onnx_name)
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


class OnnxModule(nn.Module):
    """An ONNX graph as a torch module (made by :func:`onnx_to_torch`).

    ``forward`` takes the graph's inputs positionally, in the order of
    :attr:`input_names`, and returns its output, or a tuple of outputs in the
    order of :attr:`output_names` when there are several.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        super().__init__()
        graph = model.graph
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        if opset is None or opset < _MIN_OPSET:
            raise ModelError(f"ONNX default-domain opset {opset} is not supported (need {_MIN_OPSET}+)")
        if len(graph.sparse_initializer):
            raise ModelError("sparse initializers are not supported")

        unsupported = [f"{n.op_type} (node {n.name!r})" for n in graph.node
                       if n.domain not in ("", "ai.onnx") or n.op_type not in SUPPORTED_OPS]
        if unsupported:
            raise ModelError("unsupported ONNX operator(s): " + ", ".join(unsupported))

        consts: dict[str, NDArray[Any]] = {
            init.name: np.array(numpy_helper.to_array(init)) for init in graph.initializer}
        nodes = []
        for proto in graph.node:
            if proto.op_type == "Constant":
                ctx = _Node(proto, consts, opset)
                consts[proto.output[0]] = _constant_value(ctx)
                ctx.check_all_read()
            else:
                nodes.append(proto)

        self.input_names: tuple[str, ...] = tuple(i.name for i in graph.input if i.name not in consts)
        self.output_names: tuple[str, ...] = tuple(o.name for o in graph.output)

        # running statistics of BatchNormalization are buffers, as in nn.BatchNorm*d
        stats = {name for n in nodes if n.op_type == "BatchNormalization" for name in n.input[3:5]}
        stats -= {name for n in nodes if n.op_type != "BatchNormalization" for name in n.input}
        stats -= {name for n in nodes if n.op_type == "BatchNormalization" for name in n.input[:3]}
        self._const_attr: dict[str, str] = {}
        taken = {name for name, _ in self.named_modules()} | set(dir(self))
        for name, value in consts.items():
            attr = _attribute_name(name, taken)
            tensor = torch.from_numpy(value)
            if tensor.is_floating_point() and name not in stats:
                self.register_parameter(attr, nn.Parameter(tensor, requires_grad=False))
            else:
                self.register_buffer(attr, tensor)
            self._const_attr[name] = attr

        self._steps = self._plan(nodes, consts, opset)
        self.eval()

    def _plan(self, nodes: Sequence[onnx.NodeProto], consts: Mapping[str, NDArray[Any]],
              opset: int) -> tuple[_Step, ...]:
        """Sort the nodes topologically and bind each to its callable."""
        available = set(consts) | set(self.input_names) | {""}
        pending = list(nodes)
        ordered: list[onnx.NodeProto] = []
        while pending:
            ready = [n for n in pending if all(i in available for i in n.input)]
            if not ready:
                missing = sorted({i for n in pending for i in n.input} - available
                                 - {o for n in pending for o in n.output})
                node = pending[0]
                raise ModelError(f"the graph is not computable: node {node.op_type} (node {node.name!r}) "
                                 f"waits on {', '.join(missing) or 'a cycle'}")
            ordered += ready
            for n in ready:
                available.update(n.output)
            pending = [n for n in pending if n not in ready]
        missing_outputs = [o for o in self.output_names if o not in available]
        if missing_outputs:
            raise ModelError(f"graph output(s) {', '.join(missing_outputs)} are never computed")

        last_use: dict[str, int] = {}
        for index, proto in enumerate(ordered):
            for name in proto.input:
                if name and name not in consts:
                    last_use[name] = index
        keep = set(self.output_names)
        steps = []
        for index, proto in enumerate(ordered):
            ctx = _Node(proto, consts, opset)
            fn = _CONVERTERS[proto.op_type](ctx)
            ctx.check_all_read()
            release = tuple(name for name, last in last_use.items() if last == index and name not in keep)
            inputs = list(proto.input)
            while inputs and not inputs[-1]:
                inputs.pop()
            steps.append(_Step(proto.op_type, proto.name, tuple(inputs), tuple(proto.output), fn, release))
        return tuple(steps)

    def initializer(self, onnx_name: str) -> Tensor:
        """The parameter or buffer that holds the initializer (or Constant) ``onnx_name``."""
        try:
            attr = self._const_attr[onnx_name]
        except KeyError:
            raise KeyError(f"no initializer named {onnx_name!r}") from None
        value = getattr(self, attr)
        assert isinstance(value, Tensor)
        return value

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        if len(inputs) != len(self.input_names):
            raise InvalidArgument(
                f"the graph takes {len(self.input_names)} input(s) "
                f"({', '.join(self.input_names)}), got {len(inputs)}")
        env: dict[str, Tensor] = {name: self.initializer(name) for name in self._const_attr}
        env.update(zip(self.input_names, inputs, strict=True))
        training = self.training
        for step in self._steps:
            args = [env[name] if name else None for name in step.inputs]
            results = step.fn(args, training)
            for name, value in zip(step.outputs, results, strict=False):  # trailing '' outputs
                if name:
                    env[name] = value
            for name in step.release:
                env.pop(name, None)
        outputs = tuple(env[name] for name in self.output_names)
        return outputs[0] if len(outputs) == 1 else outputs

    def extra_repr(self) -> str:
        return (f"inputs={list(self.input_names)}, outputs={list(self.output_names)}, "
                f"nodes={len(self._steps)}")


def onnx_to_torch(model: onnx.ModelProto) -> OnnxModule:
    """Convert an ONNX model to a differentiable torch module (see the module docstring).

    The module is returned in ``eval()`` mode with every parameter frozen
    (``requires_grad=False``); gradients flow to the inputs. Raises
    :class:`~fuzzykey.errors.ModelError` naming the operator and node when the
    graph uses an operator, attribute or attribute value that is not supported.
    """
    if not isinstance(model, onnx.ModelProto):
        raise InvalidArgument(f"model must be an onnx.ModelProto, got {type(model).__name__}")
    return OnnxModule(model)
