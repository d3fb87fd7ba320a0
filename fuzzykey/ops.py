"""Bit-level kernels: packing, binarization, Hamming distances, sphere sampling;
the instruction sets of the native kernels.

One bit layout everywhere: bit j of a string lives in 64-bit word ``j // 64`` at
bit position ``j % 64`` (least significant first), and a batch of n-bit strings
is a C-contiguous ``uint64`` array of shape ``(N, ceil(n / 64))`` whose bits past
n are zero.

Every function takes numpy arrays or torch tensors and returns the same kind, on
the same device: CPU data runs the C++ kernels (multithreaded, GIL released),
CUDA tensors the CUDA kernels when this build has them (:func:`cuda_built`),
otherwise :class:`CudaUnavailable` says so. Non-contiguous inputs are copied
once; wrong dtypes, shapes, NaN, or mismatched word counts raise
:class:`InvalidArgument` (a ``ValueError``) saying what was expected.

Example:
    >>> import numpy as np
    >>> from fuzzykey import ops
    >>> bits = np.array([[1, 0, 1] + [0] * 62 + [1]], dtype=np.uint8)   # 66 bits
    >>> words = ops.pack_bits(bits)
    >>> words.shape, hex(int(words[0, 0])), int(words[0, 1])
    ((1, 2), '0x5', 2)
    >>> bool((ops.unpack_bits(words, 66) == bits).all())
    True
    >>> ops.hamming(words, ops.pack_bits(np.zeros((2, 66), np.uint8))).tolist()
    [[3, 3]]

Kernel sets: each family of CPU kernels, ``"bch"`` (the BCH decoder's bitsliced
syndromes and Chien search), ``"hamming"`` (:func:`hamming`) and ``"fwht"`` (the
Walsh-Hadamard transform of :class:`fuzzykey.linear.LinearCode`), is compiled once
per instruction set, and the best set the processor supports runs, chosen at run
time (never baked in with ``-march=native``). :func:`kernel_isas` says which set
each family runs, :func:`available_kernel_isas` lists the sets this processor can
run, best first, and :func:`use_kernel_isa` switches one family (for tests and
benchmarks: every set gives identical results).

    >>> sorted(ops.kernel_isas())
    ['bch', 'fwht', 'hamming']
    >>> ops.available_kernel_isas()["hamming"][-1]
    'generic'
"""

from __future__ import annotations

import os
import sys
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from . import _core
from ._checks import as_int, as_threads
from .errors import CudaUnavailable, InvalidArgument

__all__ = [
    "pack_bits",
    "unpack_bits",
    "binarize",
    "hamming",
    "sample_sphere",
    "words_for",
    "kernel_isas",
    "available_kernel_isas",
    "use_kernel_isa",
    "cuda_built",
]

_MAX_SAMPLE_VALUES = 1 << 40  # sample_sphere's N * n_samples * d, as the native core bounds it

# Values of x @ projection held at once by binarize (16 MiB of float32): large enough for
# BLAS to run at full speed, small enough to stay in the last-level cache for the packing pass.
_BLOCK_VALUES = 1 << 22


def words_for(n: int) -> int:
    """Number of 64-bit words that hold n bits."""
    return (as_int(n, "n") + 63) // 64


# -- torch interop (torch is optional and never imported here) ------------------
def _torch() -> Any:
    return sys.modules.get("torch")


def _is_tensor(x: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def _is_cuda(x: Any) -> bool:
    return _is_tensor(x) and bool(x.is_cuda)


def _require_cuda() -> None:
    if not _core.cuda_built():
        raise CudaUnavailable(
            "got a CUDA tensor, but this fuzzykey build has no CUDA kernels "
            "(built with FUZZYKEY_CUDA=OFF or without nvcc); move the data to the CPU "
            "or rebuild with FUZZYKEY_CUDA=ON"
        )


def _stream(x: Any) -> int:
    return int(_torch().cuda.current_stream(x.device).cuda_stream)


def _to_numpy(x: Any) -> NDArray[Any]:
    """A CPU tensor's memory as numpy (no copy), or ``np.asarray`` of anything else."""
    if _is_tensor(x):
        t = x.detach()
        if t.dtype == _torch().bool:
            return cast(NDArray[Any], t.numpy().view(np.uint8))
        return cast(NDArray[Any], t.numpy())
    return np.asarray(x)


def _like(result: NDArray[Any], template: Any) -> Any:
    """``result`` as the kind of ``template``: numpy stays numpy, a tensor becomes a tensor."""
    if _is_tensor(template):
        return _torch().from_numpy(np.ascontiguousarray(result))
    return result


def _dtype_name(x: Any) -> str:
    return str(x.dtype).replace("torch.", "")


def _check_dtype(x: Any, name: str, allowed: tuple[str, ...]) -> str:
    dt = _dtype_name(x)
    if dt not in allowed:
        raise InvalidArgument(f"{name} must have dtype {' or '.join(allowed)}, got {dt}")
    return dt


def _check_finite(x: Any, name: str) -> None:
    if _is_tensor(x):
        bad = bool(_torch().isnan(x).any()) or bool(_torch().isinf(x).any())
    else:
        bad = not bool(np.isfinite(x).all())
    if bad:
        raise InvalidArgument(f"{name} contains NaN or infinite values")


def _contiguous(x: Any) -> Any:
    if _is_tensor(x):
        return x.contiguous()
    return np.ascontiguousarray(x)


def _same_kind(**arrays: Any) -> list[Any]:
    """The non-None arguments, all torch tensors or all numpy arrays (``np.asarray``
    of anything else), in order; mixing the two kinds is refused."""
    given = {name: a for name, a in arrays.items() if a is not None}
    kinds = {_is_tensor(a) for a in given.values()}
    if len(kinds) > 1:
        raise InvalidArgument(f"{', '.join(given)} must be all numpy arrays or all torch tensors")
    return [a if _is_tensor(a) else np.asarray(a) for a in given.values()]


def _check_same_dtype(x: Any, name: str, dtype: str, reference: str) -> None:
    if _dtype_name(x) != dtype:
        raise InvalidArgument(f"{name} must have the dtype of {reference} ({dtype}), got {_dtype_name(x)}")


# -- packing --------------------------------------------------------------------
def pack_bits(bits: Any, *, threads: int | None = None) -> Any:
    """Pack 0/1 bits, shape ``(..., n)``, uint8 or bool, into ``(..., ceil(n/64))`` uint64."""
    threads_ = as_threads(threads)
    x: Any = bits if _is_tensor(bits) else np.asarray(bits)
    _check_dtype(x, "bits", ("uint8", "bool"))
    if x.ndim < 1:
        raise InvalidArgument(f"bits must have at least one dimension (..., n), got shape {tuple(x.shape)}")
    lead, n = tuple(x.shape[:-1]), int(x.shape[-1])
    size = int(x.numel()) if _is_tensor(x) else int(x.size)
    if _dtype_name(x) == "uint8" and size:
        top = int(x.max())
        if top > 1:
            raise InvalidArgument(f"bits must contain only 0 and 1, found {top}")
    rows = int(np.prod(lead, dtype=np.int64))
    if _is_cuda(x):
        _require_cuda()
        torch = _torch()
        src = x.contiguous().view(torch.uint8) if x.dtype == torch.bool else x.contiguous()
        out = torch.empty((*lead, words_for(n)), dtype=torch.uint64, device=x.device)
        _core.cuda_pack_bits(src.data_ptr(), rows, n, out.data_ptr(), _stream(x))
        return out
    arr = np.ascontiguousarray(_to_numpy(x).reshape(rows, n).view(np.uint8))
    packed = _core.pack_bits(arr, threads_).reshape(*lead, words_for(n))
    return _like(packed, bits)


def unpack_bits(words: Any, n: int, *, threads: int | None = None) -> Any:
    """Inverse of :func:`pack_bits`: ``(..., ceil(n/64))`` uint64 to ``(..., n)`` uint8 0/1."""
    threads_ = as_threads(threads)
    n = as_int(n, "n")
    if n < 0:
        raise InvalidArgument(f"n must be >= 0, got {n}")
    x: Any = words if _is_tensor(words) else np.asarray(words)
    _check_dtype(x, "words", ("uint64",))
    if x.ndim < 1 or int(x.shape[-1]) != words_for(n):
        raise InvalidArgument(
            f"words must have shape (..., {words_for(n)}) for n = {n}, got {tuple(x.shape)}"
        )
    lead = tuple(x.shape[:-1])
    rows = int(np.prod(lead, dtype=np.int64))
    if _is_cuda(x):
        _require_cuda()
        torch = _torch()
        src = x.contiguous()  # held until the call returns
        out = torch.empty((*lead, n), dtype=torch.uint8, device=x.device)
        _core.cuda_unpack_bits(src.data_ptr(), rows, n, out.data_ptr(), _stream(x))
        return out
    arr = np.ascontiguousarray(_to_numpy(x).reshape(rows, words_for(n)))
    return _like(_core.unpack_bits(arr, n, threads_).reshape(*lead, n), words)


# -- binarization ---------------------------------------------------------------
def binarize(
    x: Any,
    projection: Any,
    thresholds: Any = None,
    *,
    threads: int | None = None,
) -> Any:
    """Packed sign bits of a projection: bit j of row i is ``(x @ projection - thresholds)[i, j] > 0``.

    Args:
        x: embeddings, shape (N, d), float32 or float64.
        projection: shape (d, n), the same dtype.
        thresholds: shape (n,), the same dtype, or None (zero).

    Returns:
        ``(N, ceil(n / 64))`` uint64. The projection runs through numpy's BLAS (or
        torch's matmul for tensors) one block of rows at a time, and the threshold,
        comparison and packing are fused in one native pass, so the (N, n) float
        product is never materialized. That pass also finds NaN or infinity in x
        or the projection (they reach the product) without a separate scan.

    Raises:
        InvalidArgument: wrong dtypes or shapes, or NaN / infinity in x, the
            projection or the thresholds (or a product that overflows).
    """
    threads_ = as_threads(threads)
    xs, ps, *rest = _same_kind(x=x, projection=projection, thresholds=thresholds)
    dt = _check_dtype(xs, "x", ("float32", "float64"))
    _check_same_dtype(ps, "projection", dt, "x")
    if xs.ndim != 2 or ps.ndim != 2 or int(ps.shape[0]) != int(xs.shape[1]):
        raise InvalidArgument(
            f"x must be (N, d) and projection (d, n); got x {tuple(xs.shape)}, "
            f"projection {tuple(ps.shape)}"
        )
    N, n = int(xs.shape[0]), int(ps.shape[1])
    ts: Any = rest[0] if rest else None
    if ts is not None:
        if _dtype_name(ts) != dt or ts.ndim != 1 or int(ts.shape[0]) != n:
            raise InvalidArgument(
                f"thresholds must be ({n},) {dt}, got {tuple(ts.shape)} {_dtype_name(ts)}"
            )
        _check_finite(ts, "thresholds")
    if _is_tensor(xs) and (xs.device != ps.device or (ts is not None and ts.device != xs.device)):
        raise InvalidArgument("x, projection and thresholds must be on the same device")
    block = max(64, _BLOCK_VALUES // max(n, 1))
    W = words_for(n)
    if _is_cuda(xs):
        _require_cuda()
        _check_finite(xs, "x")
        _check_finite(ps, "projection")
        torch = _torch()
        out = torch.empty((N, W), dtype=torch.uint64, device=xs.device)
        p = ps.contiguous()
        tc = ts.contiguous() if ts is not None else None  # held while the kernels run
        t_ptr = tc.data_ptr() if tc is not None else 0
        for start in range(0, N, block):
            y = (xs[start : start + block] @ p).contiguous()
            _core.cuda_threshold_pack(
                y.data_ptr(), y.shape[0], n, t_ptr, out[start : start + block].data_ptr(),
                dt == "float64", _stream(xs),
            )
        return out
    xn, pn = _to_numpy(xs), np.ascontiguousarray(_to_numpy(ps))
    tn = None if ts is None else np.ascontiguousarray(_to_numpy(ts))
    out_np = np.empty((N, W), dtype=np.uint64)
    # One product buffer, reused: no page faults on a fresh block per iteration.
    y = np.empty((min(block, N), n), dtype=xn.dtype)
    for start in range(0, N, block):
        rows = min(block, N - start)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite products are reported below
            np.matmul(xn[start : start + rows], pn, out=y[:rows])
        _, finite = _core.threshold_pack(y[:rows], tn, out_np[start : start + rows], threads_)
        if not finite:  # NaN or inf in x or the projection reaches x @ projection
            _check_finite(xn, "x")
            _check_finite(pn, "projection")
            raise InvalidArgument("x @ projection overflows to infinity")
    if N == 0:
        _check_finite(pn, "projection")
    return _like(out_np, x)


# -- Hamming distances ----------------------------------------------------------
def hamming(queries: Any, gallery: Any, *, out: Any = None, threads: int | None = None) -> Any:
    """All Hamming distances between packed strings: ``(Q, W)`` x ``(G, W)`` -> ``(Q, G)`` int32.

    CPU: vectorized popcount (AVX-512 VPOPCNTDQ, AVX2, POPCNT or portable,
    chosen at run time), threads over the gallery rows. ``out`` (numpy only):
    a C-contiguous (Q, G) int32 array to fill and return; reusing one across
    searches spares the page faults of a fresh result.
    """
    threads_ = as_threads(threads)
    q, g = _same_kind(queries=queries, gallery=gallery)
    _check_dtype(q, "queries", ("uint64",))
    _check_dtype(g, "gallery", ("uint64",))
    if q.ndim != 2 or g.ndim != 2:
        raise InvalidArgument(
            f"queries and gallery must be 2-D (rows, words); got {tuple(q.shape)} and {tuple(g.shape)}"
        )
    if int(q.shape[1]) != int(g.shape[1]):
        raise InvalidArgument(
            f"queries have {int(q.shape[1])} words per row but gallery has {int(g.shape[1])}"
        )
    if _is_cuda(q):
        _require_cuda()
        if g.device != q.device:
            raise InvalidArgument("queries and gallery must be on the same device")
        torch = _torch()
        Q, G, W = int(q.shape[0]), int(g.shape[0]), int(q.shape[1])
        out = torch.empty((Q, G), dtype=torch.int32, device=q.device)
        qc, gc = q.contiguous(), g.contiguous()
        for start in range(0, Q, 65535):  # one grid row per query
            stop = min(Q, start + 65535)
            _core.cuda_hamming(
                qc[start:stop].data_ptr(), stop - start, gc.data_ptr(), G, W,
                out[start:stop].data_ptr(), _stream(q),
            )
        return out
    qn = np.ascontiguousarray(_to_numpy(q))
    gn = np.ascontiguousarray(_to_numpy(g))
    if out is not None:
        shape = (qn.shape[0], gn.shape[0])
        if (
            _is_tensor(out) or not isinstance(out, np.ndarray) or out.dtype != np.int32
            or out.shape != shape or not out.flags.c_contiguous or not out.flags.writeable
        ):
            raise InvalidArgument(f"out must be a writable C-contiguous int32 numpy array of shape {shape}")
        return _core.hamming(qn, gn, out, threads_)
    return _like(_core.hamming(qn, gn, None, threads_), queries)


# -- sphere sampling ------------------------------------------------------------
def _seed(seed: int | None) -> int:
    if seed is None:
        return int.from_bytes(os.urandom(8), "little")
    value = as_int(seed, "seed")
    if not 0 <= value < 1 << 64:
        raise InvalidArgument(f"seed must be in [0, 2^64), got {value}")
    return value


def _sample_native(centers: Any, radii: Any, n_samples: int, seed: int) -> tuple[Any, Any]:
    """z and u for validated, contiguous inputs of one kind (no autograd)."""
    if _is_cuda(centers):
        _require_cuda()
        torch = _torch()
        N, d = int(centers.shape[0]), int(centers.shape[1])
        z = torch.empty((N, n_samples, d), dtype=centers.dtype, device=centers.device)
        u = torch.empty_like(z)
        _core.cuda_sample_sphere(
            centers.data_ptr(), radii.data_ptr(), N, d, n_samples, seed, z.data_ptr(), u.data_ptr(),
            centers.dtype == torch.float64, _stream(centers),
        )
        return z, u
    z_np, u_np = _core.sample_sphere(
        np.ascontiguousarray(_to_numpy(centers)), np.ascontiguousarray(_to_numpy(radii)),
        n_samples, seed, 0,
    )
    return _like(z_np, centers), _like(u_np, centers)


_SPHERE_FUNCTION: Any = None


def _sphere_function() -> Any:
    """The torch.autograd.Function of sample_sphere, made on first use (torch is optional)."""
    global _SPHERE_FUNCTION
    if _SPHERE_FUNCTION is None:
        torch = _torch()

        class SampleSphere(torch.autograd.Function):  # type: ignore[misc, name-defined]
            """z = c + r u with u fixed by the seed: dz/dc = I, dz/dr = u."""

            @staticmethod
            def forward(ctx: Any, centers: Any, radii: Any, n_samples: int, seed: int) -> Any:
                z, u = _sample_native(centers.detach(), radii.detach(), n_samples, seed)
                ctx.save_for_backward(u)
                return z

            @staticmethod
            def backward(ctx: Any, grad_z: Any) -> tuple[Any, Any, None, None]:
                (u,) = ctx.saved_tensors
                grad_c = grad_z.sum(dim=1) if ctx.needs_input_grad[0] else None
                grad_r = (grad_z * u).sum(dim=(1, 2)) if ctx.needs_input_grad[1] else None
                return grad_c, grad_r, None, None

        _SPHERE_FUNCTION = SampleSphere
    return _SPHERE_FUNCTION


def sample_sphere(centers: Any, radii: Any, n_samples: int, seed: int | None = None) -> Any:
    """Points on spheres: ``z[i, s] = centers[i] + radii[i] * u[i, s]``, ``u`` uniform on the unit sphere.

    Args:
        centers: (N, d) float32 or float64.
        radii: (N,), the same dtype.
        n_samples: samples per row, >= 1.
        seed: 64-bit seed; the same seed gives the same samples (u is a Gaussian
            vector drawn with Philox4x32-10, counter (row, sample, block), then
            normalized). None draws a fresh seed from the OS.

    Returns:
        (N, n_samples, d), same kind and device as ``centers``. For torch tensors
        the result is differentiable with respect to ``centers`` and ``radii``
        (dz/dc = I, dz/dr = u).

    Example:
        >>> import numpy as np
        >>> from fuzzykey import ops
        >>> c = np.zeros((2, 3)); r = np.array([1.0, 2.0])
        >>> z = ops.sample_sphere(c, r, 4, seed=7)
        >>> z.shape, np.allclose(np.linalg.norm(z, axis=-1), [[1.0] * 4, [2.0] * 4])
        ((2, 4, 3), True)
        >>> bool((z == ops.sample_sphere(c, r, 4, seed=7)).all())
        True
    """
    n_samples = as_int(n_samples, "n_samples")
    if n_samples < 1:
        raise InvalidArgument(f"n_samples must be >= 1, got {n_samples}")
    seed_ = _seed(seed)
    c, r = _same_kind(centers=centers, radii=radii)
    dt = _check_dtype(c, "centers", ("float32", "float64"))
    _check_same_dtype(r, "radii", dt, "centers")
    if c.ndim != 2 or r.ndim != 1 or int(r.shape[0]) != int(c.shape[0]):
        raise InvalidArgument(
            f"centers must be (N, d) and radii (N,); got {tuple(c.shape)} and {tuple(r.shape)}"
        )
    if int(c.shape[1]) < 1:
        raise InvalidArgument("centers must have at least one dimension (d >= 1)")
    values = int(c.shape[0]) * n_samples * int(c.shape[1])
    if values > _MAX_SAMPLE_VALUES:
        raise InvalidArgument(
            f"N * n_samples * d = {values} values is too many (at most 2^40); got n_samples={n_samples}"
        )
    _check_finite(c, "centers")
    _check_finite(r, "radii")
    if _is_tensor(c):
        if c.device != r.device:
            raise InvalidArgument("centers and radii must be on the same device")
        return _sphere_function().apply(c.contiguous(), r.contiguous(), n_samples, seed_)
    z, _ = _sample_native(_contiguous(c), _contiguous(r), n_samples, seed_)
    return z


# -- kernel sets ----------------------------------------------------------------
def kernel_isas() -> dict[str, str]:
    """The instruction set each kernel family runs, e.g. ``{"bch": "avx2", "hamming": "avx512"}``.

    The families are ``"bch"`` (the BCH decoder's bitsliced syndromes and Chien
    search), ``"hamming"`` (:func:`hamming` on CPU data) and ``"fwht"`` (the
    Walsh-Hadamard transform of ML decoding, :mod:`fuzzykey.linear`). Unless
    :func:`use_kernel_isa` chose another, each runs the first of
    :func:`available_kernel_isas`.
    """
    return _core.kernel_isas()


def available_kernel_isas() -> dict[str, list[str]]:
    """The kernel sets this processor can run, per family, best first.

    ``"bch"``: ``"avx2"``, ``"generic"``; ``"hamming"``: ``"avx512"`` (AVX-512
    VPOPCNTDQ), ``"avx2"``, ``"popcnt"``, ``"generic"``; ``"fwht"``: ``"avx"``,
    ``"generic"``; each as far as this build
    has it and the processor supports it. ``"generic"`` runs anywhere and is
    always last.
    """
    return _core.available_kernel_isas()


def use_kernel_isa(family: str, isa: str) -> None:
    """Run the kernels of ``family`` with the set ``isa``, one of ``available_kernel_isas()[family]``.

    For tests and benchmarks: every set of a family gives identical results, only
    the speed differs. The switch is process-wide and holds for every call that
    starts after it.

    Raises:
        InvalidArgument: ``family`` is not a kernel family, or ``isa`` is a set
            this build does not have or this processor cannot run; the family
            keeps the set it had.
    """
    for name, value in (("family", family), ("isa", isa)):
        if not isinstance(value, str):
            raise InvalidArgument(f"{name} must be a string, got {type(value).__name__} {value!r}")
    try:
        _core.use_kernel_isa(family, isa)
    except ValueError as exc:  # the native registry names the bad value and the valid ones
        raise InvalidArgument(str(exc)) from None


def cuda_built() -> bool:
    """Whether this build of the native module has the CUDA kernels (a GPU may still be absent)."""
    return bool(_core.cuda_built())
