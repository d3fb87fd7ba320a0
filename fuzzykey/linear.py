"""Binary linear codes with exact soft-decision maximum-likelihood decoding.

A binary linear :math:`[n, k]` code is the row space of a full-rank generator
matrix :math:`G \\in \\mathrm{GF}(2)^{k \\times n}`; message :math:`m` has the
codeword :math:`c = mG`. A soft receiver gives log-likelihood ratios

.. math::

    L_j = \\log \\frac{P(c_j = 0 \\mid y)}{P(c_j = 1 \\mid y)},

positive where a 0 is the likelier bit (BPSK over Gaussian noise, bit
:math:`b \\mapsto (-1)^b`: :math:`L_j = 2 y_j / \\sigma^2`). For independent
bits the maximum-likelihood (ML) message maximises the correlation

.. math::

    S(m) = \\sum_{j=0}^{n-1} L_j (-1)^{(mG)_j}.

Write the message as the integer :math:`a = \\sum_i m_i 2^i` and column j of G as
:math:`g_j = \\sum_i G_{ij} 2^i`; then :math:`(mG)_j = \\operatorname{parity}(a
\\mathbin{\\&} g_j)`, and collecting the columns by value,

.. math::

    S(a) = \\sum_{b=0}^{2^k - 1} V[b] (-1)^{\\operatorname{popcount}(a \\mathbin{\\&} b)},
    \\qquad V[b] = \\sum_{j : g_j = b} L_j,

is the Walsh-Hadamard transform of V. One O(n) scatter and the fast transform
give all :math:`2^k` scores in :math:`O(k 2^k)` operations (against
:math:`O(n 2^k)` for correlating with every codeword), and one more pass finds
the best. The decoder is exact: it returns a message of largest score (the
scores are summed in float32, so "largest" is up to float32 rounding, about
:math:`k \\cdot 2^{-24} \\sum_j |L_j|`), not an approximation such as a
bounded-distance or iterative decoder gives. It costs :math:`2^k` floats of
memory per thread, so k is at most 24 (64 MiB).

Ties are broken deterministically: among the messages whose float32 scores
equal the largest one, the decoder returns the one with the smallest integer
:math:`a` (message bit :math:`m_{k-1}` most significant). The *margin* is the
best score minus the runner-up's, the largest score among all other messages:
0 on a tie, and half of it is the least total amount by which the LLRs must move
(in :math:`\\ell_1`) to change the decision.

The transform runs on the C++ core, with a kernel set per instruction set
chosen at run time (the ``"fwht"`` family of :func:`fuzzykey.ops.kernel_isas`;
every set gives bit-identical results), and on CUDA for torch CUDA tensors when
the build has CUDA kernels.

Example: the [7, 4] Hamming code corrects one hard error; ML decoding of soft
values also recovers a word with two wrong bits when they were received weakly.

    >>> import numpy as np
    >>> from fuzzykey.linear import LinearCode
    >>> G = np.array([[1, 0, 0, 0, 0, 1, 1],
    ...               [0, 1, 0, 0, 1, 0, 1],
    ...               [0, 0, 1, 0, 1, 1, 0],
    ...               [0, 0, 0, 1, 1, 1, 1]])
    >>> code = LinearCode(G)
    >>> code
    LinearCode(n=7, k=4, digest='...')
    >>> word = code.encode([1, 0, 1, 1])
    >>> word.tolist()
    [1, 0, 1, 1, 0, 1, 0]
    >>> llr = np.where(word == 0, 4.0, -4.0).astype(np.float32)
    >>> llr[[0, 5]] = [0.5, 1.0]           # bits 0 and 5 read weakly, and wrongly
    >>> message, margin = code.ml_decode(llr)
    >>> message.tolist(), margin
    ([1, 0, 1, 1], 5.0)

    A hard decision (the signs alone) has two errors, beyond the code's radius:
    ML decoding of the signs lands on another codeword.

    >>> code.ml_decode(np.sign(llr))[0].tolist()
    [0, 0, 1, 1]
"""

from __future__ import annotations

import hashlib
import struct
import sys
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _core
from ._checks import as_bits, as_int, as_threads
from .bch import BCHCode
from .errors import CudaUnavailable, InvalidArgument

__all__ = ["LinearCode", "MAX_K", "MAX_N", "WORKSPACE_BUDGET"]

MAX_K = 24
"""Largest message length: the decoder holds :math:`2^k` float32 scores (64 MiB at k = 24)."""
MAX_N = 65535
"""Largest code length."""
WORKSPACE_BUDGET = 1 << 30
"""Bytes of workspace a batch may hold at once. Each decoding thread holds one workspace of
:math:`2^k` float32 scores (plus a 256 KiB buffer past k = 16), so a batch runs on at most
``WORKSPACE_BUDGET // workspace`` threads (at least one): 15 at k = 24, 63 at k = 22
(:meth:`LinearCode.decode_threads`)."""

# Absolute LLRs of one word must sum to less than this: every intermediate value of
# the transform is then below 2^126 in magnitude, far from float32's 2^128.
_LLR_SUM_LIMIT = 2.0**126
_DIGEST_TAG = b"fuzzykey.LinearCode.v1\x00"


def _rank(rows: NDArray[np.uint8]) -> int:
    """Rank over GF(2) of a 0/1 matrix, by Gaussian elimination on rows held as integers."""
    pivots: dict[int, int] = {}
    for row in rows:
        r = int.from_bytes(np.packbits(row, bitorder="little").tobytes(), "little")
        while r:
            top = r.bit_length() - 1
            if top not in pivots:
                pivots[top] = r
                break
            r ^= pivots[top]
    return len(pivots)


def _cuda_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")  # never imported here: torch is optional
    return torch is not None and isinstance(x, torch.Tensor) and bool(x.is_cuda)


class LinearCode:
    """A binary linear [n, k] code given by its generator matrix, with exact ML decoding.

    Args:
        generator: the (k, n) generator matrix G, 0/1 entries of a bool or
            integer dtype, full rank over GF(2); 1 <= k <= 24, k <= n <= 65,535.
            Row i is the codeword of message bit i; message m encodes to
            :math:`mG \\bmod 2`.

    Raises:
        InvalidArgument: not a 2-D array, a dtype other than bool or integer,
            entries other than 0 and 1, k or n out of range, or a matrix of rank
            below k (quoted).

    Example:
        >>> import numpy as np
        >>> code = LinearCode(np.array([[1, 1, 1, 0], [0, 1, 1, 1]], dtype=bool))
        >>> code.encode_batch([[0, 0], [1, 0], [0, 1], [1, 1]]).tolist()
        [[0, 0, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 0, 1]]
        >>> LinearCode([[1, 1, 0], [1, 1, 0]])
        Traceback (most recent call last):
        ...
        fuzzykey.errors.InvalidArgument: generator has rank 1 over GF(2), below its k = 2 rows: ...
    """

    __slots__ = ("_generator", "_columns", "_native", "_digest")

    def __init__(self, generator: Any) -> None:
        arr = np.asarray(generator)
        if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer):
            raise InvalidArgument(
                f"generator must hold 0/1 as a bool or integer dtype, got dtype {arr.dtype}"
            )
        if arr.ndim != 2:
            raise InvalidArgument(f"generator must be a 2-D (k, n) matrix, got shape {arr.shape}")
        k, n = (int(s) for s in arr.shape)
        if not 1 <= k <= MAX_K:
            raise InvalidArgument(
                f"generator must have 1 to {MAX_K} rows (k; the decoder holds 2^k scores), "
                f"got shape {arr.shape}"
            )
        if not k <= n <= MAX_N:
            raise InvalidArgument(
                f"generator must have k = {k} to {MAX_N} columns (n), got shape {arr.shape}"
            )
        bits = as_bits(arr, "generator", ndim=2, length=n)
        rank = _rank(bits)
        if rank < k:
            raise InvalidArgument(
                f"generator has rank {rank} over GF(2), below its k = {k} rows: some messages would "
                "share a codeword; drop the dependent rows"
            )
        bits.setflags(write=False)
        self._generator = bits
        weights = np.left_shift(np.uint32(1), np.arange(k, dtype=np.uint32))
        self._columns = np.ascontiguousarray(bits.T.astype(np.uint32) @ weights, dtype=np.uint32)
        self._columns.setflags(write=False)
        self._native = _core.LinearDecoder(self._columns, k)
        packed = np.packbits(bits, axis=1, bitorder="little")
        self._digest = hashlib.sha256(_DIGEST_TAG + struct.pack("<II", k, n) + packed.tobytes()).hexdigest()

    @classmethod
    def from_bch(cls, code: BCHCode) -> LinearCode:
        """The generator matrix of a BCH code: row i is ``code.encode(e_i)``.

        ``BCHCode`` encodes systematically and linearly, so this code has the
        same codewords, the same message for each (``code.message(codeword)``),
        and the BCH code's minimum distance. ML decoding then corrects every
        pattern the BCH decoder corrects, and uses soft values besides.

        Raises:
            InvalidArgument: ``code`` is not a :class:`~fuzzykey.BCHCode`, or has
                more than 24 message bits.

        Example:
            >>> from fuzzykey import BCHCode
            >>> bch = BCHCode(m=6, t=7)
            >>> code = LinearCode.from_bch(bch)
            >>> code.n, code.k
            (63, 24)
            >>> msg = np.arange(24) % 3 == 0
            >>> bool((code.encode(msg) == bch.encode(msg)).all())
            True
        """
        if not isinstance(code, BCHCode):
            raise InvalidArgument(f"code must be a BCHCode, got {type(code).__name__} {code!r}")
        if code.k > MAX_K:
            raise InvalidArgument(
                f"{code!r} has k = {code.k} message bits; ML decoding takes k <= {MAX_K} "
                "(2^k scores): raise t or shorten the code"
            )
        return cls(code.encode_batch(np.eye(code.k, dtype=np.uint8)))

    # -- parameters ---------------------------------------------------------
    @property
    def n(self) -> int:
        """Code length in bits."""
        return int(self._generator.shape[1])

    @property
    def k(self) -> int:
        """Message length in bits (the dimension)."""
        return int(self._generator.shape[0])

    @property
    def generator(self) -> NDArray[np.uint8]:
        """The (k, n) generator matrix, uint8 0/1 (a read-only copy)."""
        g = self._generator.copy()
        g.setflags(write=False)
        return g

    @property
    def digest(self) -> str:
        """SHA-256 (hex) naming this code: equal generators, equal digests.

        The hash of the ASCII tag ``fuzzykey.LinearCode.v1``, one zero byte, k and
        n as 32-bit little-endian unsigned integers, then the k rows of G, each
        packed into :math:`\\lceil n/8 \\rceil` bytes with bit j in byte ``j // 8``
        at position ``j % 8`` (least significant first; the bits past n zero).
        """
        return self._digest

    # -- coding -------------------------------------------------------------
    def encode(self, msg: Any) -> NDArray[np.uint8]:
        """The codeword (n,) uint8 of a (k,) message (0/1, bool or integer dtype)."""
        bits = as_bits(msg, "msg", ndim=1, length=self.k)
        out: NDArray[np.uint8] = self._native.encode_batch(bits[None, :], 1)[0]
        return out

    def encode_batch(self, msgs: Any, *, threads: int | None = None) -> NDArray[np.uint8]:
        """Codewords (B, n) uint8 of messages (B, k); ``threads``: None or 0 = all cores."""
        bits = as_bits(msgs, "msgs", ndim=2, length=self.k)
        out: NDArray[np.uint8] = self._native.encode_batch(bits, as_threads(threads))
        return out

    def decode_threads(self, rows: int, threads: int | None = None) -> int:
        """The number of threads :meth:`ml_decode_batch` runs ``rows`` words on.

        At most ``threads`` (None or 0: all cores), at most ``rows``, and at most
        as many workspaces as fit in :data:`WORKSPACE_BUDGET`.

        Example:
            >>> code = LinearCode(np.eye(24, dtype=np.uint8))
            >>> code.decode_threads(1000, threads=64)  # 64.25 MiB per thread
            15
        """
        rows = as_int(rows, "rows")
        if rows < 0:
            raise InvalidArgument(f"rows must be >= 0, got {rows}")
        return int(self._native.decode_threads(rows, as_threads(threads)))

    def _llrs(self, value: Any, name: str, ndim: int) -> NDArray[np.float32]:
        """``value`` as C-contiguous float32 of shape (n,) or (B, n), checked."""
        arr = np.asarray(value)
        if arr.dtype not in (np.float32, np.float64):
            raise InvalidArgument(f"{name} must be float32 (or float64) LLRs, got dtype {arr.dtype}")
        if arr.ndim != ndim or arr.shape[-1] != self.n:
            expected = f"({self.n},)" if ndim == 1 else f"(rows, {self.n})"
            raise InvalidArgument(f"{name} must have shape {expected}, got shape {arr.shape}")
        with np.errstate(over="ignore"):  # float64 beyond float32's range: reported just below
            x = np.ascontiguousarray(arr, dtype=np.float32)
        finite = np.isfinite(x)
        if not finite.all():
            where = np.unravel_index(int(np.argmin(finite)), x.shape)
            raise InvalidArgument(
                f"{name} must be finite float32 values, found {float(arr[where])!r} at index "
                f"{tuple(int(i) for i in where)}"
            )
        if x.size:
            sums = np.abs(x).sum(axis=-1, dtype=np.float64).reshape(-1)
            row = int(np.argmax(sums))
            if sums[row] >= _LLR_SUM_LIMIT:
                which = "" if ndim == 1 else f" of row {row}"
                raise InvalidArgument(
                    f"the absolute values{which} of {name} sum to {sums[row]:.3g}, at least 2^126: "
                    "the float32 scores could overflow; scale the LLRs down"
                )
        return x

    def ml_decode(self, llr: Any) -> tuple[NDArray[np.uint8], float]:
        """The maximum-likelihood message of one word's LLRs.

        Args:
            llr: (n,) float32 LLRs, :math:`L_j = \\log P(c_j = 0) / P(c_j = 1)`
                (float64 is accepted and rounded to float32), finite, with
                :math:`\\sum_j |L_j| < 2^{126}`.

        Returns:
            ``(message, margin)``: the (k,) uint8 message whose codeword has the
            largest correlation :math:`S(m) = \\sum_j L_j (-1)^{(mG)_j}`
            (the smallest as an integer :math:`\\sum_i m_i 2^i` on a tie of the
            float32 scores), and the best score minus the runner-up's as a
            float (0.0 on a tie).

        Raises:
            InvalidArgument: wrong shape or dtype, NaN or infinity, or LLRs so
                large that the scores could overflow float32.
        """
        x = self._llrs(llr, "llr", 1)
        messages, margins = self._native.ml_decode_batch(x[None, :], 1)
        message: NDArray[np.uint8] = messages[0]
        return message, float(margins[0])

    def ml_decode_batch(self, llrs: Any, *, threads: int | None = None) -> tuple[Any, Any]:
        """:meth:`ml_decode` of every row: (B, n) LLRs -> ((B, k) uint8, (B,) float32).

        CPU arrays decode on the C++ core, one word per thread at a time (GIL
        released), on :meth:`decode_threads` threads: at most ``threads`` (None
        or 0: all cores), and no more than fit their workspaces (:math:`2^k`
        float32 scores each) in :data:`WORKSPACE_BUDGET`. A torch CUDA tensor
        decodes on its GPU (results are CUDA tensors, bit-identical to the
        CPU's) when this build has CUDA kernels; ``threads`` is then ignored.

        Raises:
            InvalidArgument: as :meth:`ml_decode`, naming the row.
            CudaUnavailable: a CUDA tensor reached a build without CUDA kernels.
        """
        threads_ = as_threads(threads)
        if _cuda_tensor(llrs):
            return self._ml_decode_cuda(llrs)
        x = self._llrs(llrs, "llrs", 2)
        messages, margins = self._native.ml_decode_batch(x, threads_)
        return messages, margins

    def _ml_decode_cuda(self, llrs: Any) -> tuple[Any, Any]:
        if not _core.cuda_built():
            raise CudaUnavailable(
                "got a CUDA tensor, but this fuzzykey build has no CUDA kernels "
                "(built with FUZZYKEY_CUDA=OFF or without nvcc); move the LLRs to the CPU "
                "or rebuild with FUZZYKEY_CUDA=ON"
            )
        torch = sys.modules["torch"]
        if llrs.dtype not in (torch.float32, torch.float64):
            raise InvalidArgument(f"llrs must be float32 (or float64) LLRs, got dtype {llrs.dtype}")
        if llrs.ndim != 2 or int(llrs.shape[1]) != self.n:
            raise InvalidArgument(f"llrs must have shape (rows, {self.n}), got shape {tuple(llrs.shape)}")
        x = llrs.detach().to(torch.float32).contiguous()
        if not bool(torch.isfinite(x).all()):
            raise InvalidArgument("llrs must be finite float32 values, found NaN or infinity")
        rows, k, device = int(x.shape[0]), self.k, x.device
        if rows and float(x.abs().sum(dim=1, dtype=torch.float64).max()) >= _LLR_SUM_LIMIT:
            raise InvalidArgument("the absolute LLRs of a row sum to at least 2^126: scale the LLRs down")
        messages = torch.empty((rows, k), dtype=torch.uint8, device=device)
        margins = torch.empty((rows,), dtype=torch.float32, device=device)
        if rows == 0:
            return messages, margins
        columns = torch.from_numpy(self._columns.view(np.int32).copy()).to(device)
        chunk = max(1, WORKSPACE_BUDGET // (4 << k))
        work = torch.empty((min(chunk, rows) << k,), dtype=torch.float32, device=device)
        stream = int(torch.cuda.current_stream(device).cuda_stream)
        for start in range(0, rows, chunk):
            stop = min(rows, start + chunk)
            _core.cuda_ml_decode(
                x[start:stop].data_ptr(), stop - start, self.n, columns.data_ptr(), k,
                messages[start:stop].data_ptr(), margins[start:stop].data_ptr(), work.data_ptr(), stream,
            )
        return messages, margins

    # -- dunder -------------------------------------------------------------
    def __repr__(self) -> str:
        return f"LinearCode(n={self.n}, k={self.k}, digest='{self._digest[:16]}')"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LinearCode):
            return NotImplemented
        return self._digest == other.digest and bool(np.array_equal(self._generator, other.generator))

    def __hash__(self) -> int:
        return hash((LinearCode, self._digest))
