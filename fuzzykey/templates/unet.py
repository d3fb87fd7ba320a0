r"""The template generator: a small U-Net from a face crop to a distorted crop.

:class:`UNetGenerator` takes ``(N, 3, H, W)`` float RGB in 0..255 (the input SFace's
torch copy takes) and returns the same shape and range. Architecture, for ``depth``
levels and base ``width`` w:

* input scaled to :math:`x_n = x / 127.5 - 1`;
* encoder level :math:`\ell = 0 .. depth-1`: 2x2 average pooling (not on level 0)
  then a block of two 3x3 convolutions with :math:`w\,2^\ell` channels, each followed
  by GroupNorm (:math:`\gcd(c, 8)` groups) and SiLU;
* decoder level :math:`\ell = depth-2 .. 0`: nearest 2x upsampling, concatenation with
  the encoder's level-:math:`\ell` features (the skip), and a block with
  :math:`w\,2^\ell` channels;
* a 1x1 convolution to three channels :math:`d`, then :math:`t = \tanh d \in (-1, 1)`
  and the *convex residual*

  .. math:: G(x) = x + t^{+}\,(255 - x) - t^{-}\,x,

  with :math:`t^{+} = \max(t, 0)`, :math:`t^{-} = \max(-t, 0)`: each pixel moves a
  fraction :math:`|t|` of the way to white (t > 0) or black (t < 0). The output stays
  in [0, 255] for an input in [0, 255] without clamping, every value in (0, 255) is
  reachable,
  and since the last convolution starts near zero (weights drawn with standard
  deviation :math:`0.001/\sqrt{w}`, bias 0), an untrained generator is nearly the
  identity: training starts from G(X) close to X, cosine close to 1, and learns to
  distort. (Exactly zero would not do: at G(X) = X the L1 reward's gradient vanishes.)

GroupNorm rather than BatchNorm: a crop's template must not depend on the other
crops of its batch. The spatial sides must be multiples of :math:`2^{depth-1}`
(112 is, for depth <= 5).

Weights are stored as float16 in a NumPy ``.npz`` file with a JSON header
(:func:`save_generator`, :func:`load_generator`), read with ``allow_pickle=False``;
no pickle anywhere. The header holds the architecture, a SHA-256 of the weights and
a caller's JSON provenance dict. The hash catches corrupted or edited files; it is
not a signature (whoever can write the file can rewrite the hash).

Example:
    >>> import torch
    >>> from fuzzykey.templates.unet import UNetGenerator, count_parameters
    >>> net = UNetGenerator(width=4, depth=3, generator=torch.Generator().manual_seed(0))
    >>> count_parameters(net)
    7707
    >>> x = torch.rand(2, 3, 112, 112, generator=torch.Generator().manual_seed(1)) * 255
    >>> y = net(x)
    >>> y.shape, y.dtype, bool((y - x).abs().max() < 5.0)  # untrained: nearly the identity
    (torch.Size([2, 3, 112, 112]), torch.float32, True)
    >>> net(torch.zeros(2, 3, 110, 112))
    Traceback (most recent call last):
    ...
    fuzzykey.errors.InvalidArgument: x must be (N, 3, H, W) with H and W multiples of 4 (depth 3), got ...
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from ..errors import InvalidArgument, ModelError

__all__ = [
    "UNetGenerator",
    "count_parameters",
    "protect_faces",
    "check_crops",
    "crops_to_tensor",
    "save_generator",
    "load_generator",
    "FORMAT",
    "FORMAT_VERSION",
]

#: The ``format`` field of a weight file's JSON header.
FORMAT = "fuzzykey.templates.unet"
#: The header's ``version`` field; :func:`load_generator` reads this version only.
FORMAT_VERSION = 1
_META_KEY = "__meta__"
_MAX_WIDTH = 256
_MAX_DEPTH = 6
_HEAD_STD = 0.001
_FLOAT16_MAX = 65504.0


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return value


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.GroupNorm(math.gcd(c_out, 8), c_out),
        nn.SiLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.GroupNorm(math.gcd(c_out, 8), c_out),
        nn.SiLU(),
    )


class UNetGenerator(nn.Module):
    """The U-Net G: ``(N, 3, H, W)`` float RGB 0..255 in, same shape and range out.

    Args:
        width: channels of the first level (w); level l has w * 2**l (1..256).
        depth: number of levels, so ``depth - 1`` poolings (1..6).
        generator: seeds the initial weights (``None``: torch's global generator).
            The 3x3 convolutions get PyTorch's default (Kaiming-uniform) init drawn from
            it; GroupNorm starts at scale 1, shift 0; the last 1x1 convolution near zero
            (normal weights of standard deviation 0.001 / sqrt(width), bias 0).
    """

    def __init__(self, width: int = 16, depth: int = 4, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.width = _check_int("width", width, 1, _MAX_WIDTH)
        self.depth = _check_int("depth", depth, 1, _MAX_DEPTH)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise InvalidArgument(f"generator must be a torch.Generator or None, "
                                  f"got {type(generator).__name__}")
        chans = [width * 2**level for level in range(depth)]
        self.down = nn.ModuleList(
            [_conv_block(3 if level == 0 else chans[level - 1], chans[level]) for level in range(depth)]
        )
        self.up = nn.ModuleList([_conv_block(chans[level + 1] + chans[level], chans[level])
                                 for level in range(depth - 1)])
        self.head = nn.Conv2d(chans[0], 3, 1)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw the initial weights (see the class docstring) from ``generator``."""
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Conv2d) and module is not self.head:
                    nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                    if module.bias is not None:
                        fan_in = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
                        bound = 1.0 / math.sqrt(fan_in)
                        nn.init.uniform_(module.bias, -bound, bound, generator=generator)
                elif isinstance(module, nn.GroupNorm):
                    nn.init.ones_(module.weight)
                    nn.init.zeros_(module.bias)
            # nearly zero, not zero: at G(X) = X exactly the L1 reward's gradient
            # (sign(0) = 0) would vanish and training could never leave the identity
            std = _HEAD_STD / math.sqrt(self.head.weight.shape[1])
            nn.init.normal_(self.head.weight, 0.0, std, generator=generator)
            if self.head.bias is not None:
                nn.init.zeros_(self.head.bias)

    @property
    def multiple(self) -> int:
        """What the spatial sides must be multiples of: ``2 ** (depth - 1)``."""
        return 1 << (self.depth - 1)

    def config(self) -> dict[str, int]:
        """The constructor arguments that fix the architecture (stored in weight files)."""
        return {"width": self.width, "depth": self.depth}

    def check_input(self, x: Any) -> None:
        """Raise :class:`~fuzzykey.errors.InvalidArgument` unless ``x`` is a float
        ``(N, 3, H, W)`` tensor with N >= 1 and H, W positive multiples of :attr:`multiple`."""
        if not isinstance(x, Tensor):
            raise InvalidArgument(f"x must be a torch.Tensor, got {type(x).__name__}")
        shape = tuple(x.shape)
        m = self.multiple
        if (x.ndim != 4 or shape[0] < 1 or shape[1] != 3 or shape[2] < m or shape[3] < m
                or shape[2] % m or shape[3] % m):
            raise InvalidArgument(f"x must be (N, 3, H, W) with H and W multiples of {m} "
                                  f"(depth {self.depth}), got shape {shape}")
        if not x.is_floating_point():
            raise InvalidArgument(f"x must be a float tensor of RGB values 0..255, got dtype {x.dtype}")

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        h = x / 127.5 - 1.0
        skips: list[Tensor] = []
        for level, block in enumerate(self.down):
            if level:
                h = F.avg_pool2d(h, 2)
            h = cast(Tensor, block(h))
            skips.append(h)
        for level in range(self.depth - 2, -1, -1):
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = cast(Tensor, self.up[level](torch.cat([h, skips[level]], dim=1)))
        t = torch.tanh(cast(Tensor, self.head(h)))
        return x + t.clamp(min=0.0) * (255.0 - x) - (-t).clamp(min=0.0) * x

    def extra_repr(self) -> str:
        return f"width={self.width}, depth={self.depth}"


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """The number of scalar parameters of ``module`` (only those with ``requires_grad``
    if ``trainable_only``)."""
    if not isinstance(module, nn.Module):
        raise InvalidArgument(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def check_crops(faces: Any, multiple: int) -> NDArray[np.uint8]:
    """``faces`` (array or CPU tensor) as a contiguous ``(N, H, W, 3)`` uint8 array with
    N >= 1 and H, W positive multiples of ``multiple`` (one crop may omit N); raises
    :class:`~fuzzykey.errors.InvalidArgument` quoting the shape or dtype given."""
    arr = faces.detach().cpu().numpy() if isinstance(faces, Tensor) else np.asarray(faces)
    given = arr.shape
    if arr.ndim == 3:
        arr = arr[None]
    if (arr.ndim != 4 or arr.shape[3] != 3 or arr.shape[0] < 1 or min(arr.shape[1:3]) < multiple
            or arr.shape[1] % multiple or arr.shape[2] % multiple):
        raise InvalidArgument(f"faces must be (N, H, W, 3) RGB crops with H and W multiples of {multiple}, "
                              f"got shape {given}")
    if arr.dtype != np.uint8:
        raise InvalidArgument(f"faces must be uint8, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)


def crops_to_tensor(faces: NDArray[np.uint8]) -> Tensor:
    """``(N, H, W, 3)`` uint8 crops as the ``(N, 3, H, W)`` float32 tensor G and SFace take."""
    return torch.from_numpy(np.ascontiguousarray(faces.transpose(0, 3, 1, 2))).float()


def protect_faces(generator: UNetGenerator, faces: Any, *, batch_size: int = 32) -> NDArray[np.uint8]:
    """The templates of ``(N, H, W, 3)`` uint8 RGB crops: G's output rounded to uint8.

    Runs without gradients and leaves the generator's mode alone (it has no dropout or
    batch statistics, so train and eval mode give the same output).

    Example:
        >>> import numpy as np
        >>> from fuzzykey.templates.unet import UNetGenerator, protect_faces
        >>> faces = np.random.default_rng(0).integers(0, 256, (3, 112, 112, 3), dtype=np.uint8)
        >>> out = protect_faces(UNetGenerator(width=4, depth=2), faces)
        >>> out.shape, out.dtype, int(np.abs(out.astype(int) - faces).max()) < 5  # untrained
        ((3, 112, 112, 3), dtype('uint8'), True)
    """
    if not isinstance(generator, UNetGenerator):
        raise InvalidArgument(f"generator must be a UNetGenerator, got {type(generator).__name__}")
    _check_int("batch_size", batch_size, 1, 1 << 20)
    arr = check_crops(faces, generator.multiple)
    out = np.empty_like(arr)
    with torch.no_grad():
        for start in range(0, arr.shape[0], batch_size):
            y = generator(crops_to_tensor(arr[start:start + batch_size]))
            y = y.round().clamp(0.0, 255.0).to(torch.uint8)
            out[start:start + len(y)] = y.permute(0, 2, 3, 1).numpy()
    return out


def _half_state(generator: UNetGenerator) -> dict[str, NDArray[np.float16]]:
    return {name: np.ascontiguousarray(value.detach().cpu().numpy().astype(np.float16))
            for name, value in generator.state_dict().items()}


def _digest(state: dict[str, NDArray[np.float16]]) -> str:
    h = hashlib.sha256()
    for name in sorted(state):
        value = state[name]
        h.update(json.dumps([name, list(value.shape)]).encode("utf-8"))
        h.update(value.astype("<f2").tobytes())
    return h.hexdigest()


def save_generator(path: str | os.PathLike[str], generator: UNetGenerator,
                   provenance: dict[str, Any] | None = None) -> None:
    """Write ``generator``'s weights (rounded to float16) and a JSON header to ``path``.

    The file is a NumPy ``.npz``: one float16 array per state-dict entry and a uint8
    array ``__meta__`` holding the UTF-8 JSON header ``{"format", "version", "config",
    "sha256", "provenance"}``. ``provenance`` is any JSON-able dict with string keys
    (data set, split, hyper-parameters, history); it is stored as given. The file is
    written to ``path`` exactly (no ``.npz`` is appended), through a temporary file
    that replaces it at the end.

    Example:
        >>> import os, tempfile, torch
        >>> from fuzzykey.templates.unet import UNetGenerator, save_generator, load_generator
        >>> net = UNetGenerator(width=4, depth=2, generator=torch.Generator().manual_seed(0))
        >>> path = os.path.join(tempfile.mkdtemp(), "g.npz")
        >>> save_generator(path, net, {"data": "none", "epochs": 0})
        >>> again, info = load_generator(path)
        >>> info["config"] == {"width": 4, "depth": 2}, info["provenance"]
        (True, {'data': 'none', 'epochs': 0})
        >>> all(torch.equal(a.half().float(), b) for a, b in zip(net.parameters(), again.parameters()))
        True
    """
    if not isinstance(generator, UNetGenerator):
        raise InvalidArgument(f"generator must be a UNetGenerator, got {type(generator).__name__}")
    provenance = {} if provenance is None else provenance
    if not isinstance(provenance, dict) or not all(isinstance(k, str) for k in provenance):
        raise InvalidArgument(f"provenance must be a dict with str keys, got {provenance!r:.200}")
    for name, value in generator.state_dict().items():
        if not bool(torch.all(value.abs() <= _FLOAT16_MAX)):  # NaN fails too
            raise InvalidArgument(f"the generator's {name} has values that float16 cannot hold "
                                  f"(|w| > {_FLOAT16_MAX:g}, or NaN)")
    state = _half_state(generator)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "config": generator.config(),
            "sha256": _digest(state), "provenance": provenance}
    try:
        header = json.dumps(meta, allow_nan=False, sort_keys=True).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"provenance must be JSON-serializable (no NaN or infinity): {exc}") from exc
    arrays: dict[str, Any] = dict(state)
    arrays[_META_KEY] = np.frombuffer(header, dtype=np.uint8)
    target = os.fspath(path)
    tmp = f"{target}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_generator(path: str | os.PathLike[str]) -> tuple[UNetGenerator, dict[str, Any]]:
    """The generator saved by :func:`save_generator` (float32 module holding the
    float16 weights exactly) and the file's JSON header.

    Raises :class:`~fuzzykey.errors.ModelError` when the file cannot be read, is not a
    generator file of this version, or its weights do not match the header's SHA-256.
    """
    where = os.fspath(path)
    try:
        with open(where, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ModelError(f"cannot read generator file {where!r}: {exc.strerror or exc}") from exc
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError(f"it holds one {type(loaded).__name__}, not a set of named arrays")
        with loaded as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"{where!r} is not a generator file (.npz without pickles): {exc}") from exc
    raw = arrays.pop(_META_KEY, None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelError(f"{where!r} has no {_META_KEY} header; not a generator file")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{where!r} has an unreadable header: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise ModelError(f"{where!r} is not a {FORMAT} file (format {found!r:.100})")
    if meta.get("version") != FORMAT_VERSION:
        raise ModelError(f"{where!r} has format version {meta.get('version')!r}; "
                         f"this fuzzykey reads version {FORMAT_VERSION}")
    config = meta.get("config")
    if not isinstance(config, dict) or set(config) != {"width", "depth"}:
        raise ModelError(f"{where!r} has a bad architecture entry {config!r:.200}")
    try:
        generator = UNetGenerator(width=config["width"], depth=config["depth"])
    except InvalidArgument as exc:
        raise ModelError(f"{where!r} has a bad architecture entry: {exc}") from exc
    expected = {name: tuple(v.shape) for name, v in generator.state_dict().items()}
    found_shapes = {name: tuple(v.shape) for name, v in arrays.items()}
    if found_shapes != expected or not all(v.dtype == np.float16 for v in arrays.values()):
        missing = sorted(set(expected) - set(found_shapes))[:3]
        extra = sorted(set(found_shapes) - set(expected))[:3]
        raise ModelError(f"{where!r} does not hold the weights of {config}: missing {missing}, "
                         f"unexpected {extra}, or shapes/dtypes differ")
    if _digest(arrays) != meta.get("sha256"):
        raise ModelError(f"{where!r}: the weights do not match the header's SHA-256 (file altered)")
    generator.load_state_dict({name: torch.from_numpy(v.astype(np.float32)) for name, v in arrays.items()})
    return generator, meta
