"""Zero-leakage quantization of discriminant coordinates, its soft decoding, and its codes.

Verbitskiy, Tuyls, Obi, Schoenmakers, Skoric, "Key extraction from general
nondiscrete signals" / de Groot, Linnartz et al., zero-leakage helper data
systems. A coordinate :math:`z` with a continuous distribution :math:`F` (here
standard normal, :math:`F = \\Phi`, after :mod:`fuzzykey.discriminant`) is cut
into two equiprobable intervals. With :math:`u = F(z) \\in (0, 1)`:

* the key bit is the interval, :math:`b = \\lfloor 2u \\rfloor`;
* the helper stores the position inside it, :math:`w = 2u - b`, which is
  uniform on [0, 1) and independent of b whatever :math:`F` is (if u is
  uniform): the positions alone say nothing about the bits.

Stored with 16 bits, :math:`w_q = \\lfloor 2^{16} w \\rfloor`, read back as
:math:`(w_q + 1/2)/2^{16}`. Given a position, each bit value s names one
enrolled value, :math:`z_s = F^{-1}((s + w)/2)`, and under the genuine model
:math:`y = \\rho z + \\sqrt{1-\\rho^2}\\,\\varepsilon` a probe coordinate y gives
the log-likelihood ratio of the enrolled bit

.. math::
    L = \\log \\frac{p(y \\mid z_0)}{p(y \\mid z_1)}
      = \\frac{(y - \\rho z_1)^2 - (y - \\rho z_0)^2}{2 (1 - \\rho^2)},

which the code-offset extractor's maximum-likelihood decoder takes
(:meth:`fuzzykey.FuzzyExtractor.reproduce_soft`).

**Verification gate.** After decoding, the bits and positions give back the
enrolled coordinates exactly (to the 16-bit position), so the reproduction can
check the probe against them with the Gaussian log-likelihood ratio

.. math::
    S = \\sum_i \\log \\frac{\\mathcal N(y_i; \\rho_i \\hat z_i, 1 - \\rho_i^2)}{\\mathcal N(y_i; 0, 1)}

and refuse below a public threshold (:func:`verification_scores`). An impostor
whose probe happens to decode to the enrolled codeword (probability about
:math:`2^{-k}`) is then still refused unless the probe also looks like the
person. The gate is a decision of the honest reproduction, not a secret: an
attacker who enumerates codewords skips it, so it lowers the FAR of real faces
but not the guesswork bound of :math:`2^k` candidates.

**Secret transformation** (two-factor mode, :class:`SecretTransform`): a
secret and a per-enrollment nonce seed a permutation of the coordinates, a
sign flip of each, and a dither :math:`\\delta_i` of each quantization offset,
:math:`u = F(\\pm z_{\\pi(i)}) + \\delta_i \\bmod 1`. Every coordinate keeps its
own :math:`\\rho`, and stays independent of the others, so the LLRs above hold
unchanged. Without the secret the bits are unrelated to the face and the
positions are a fresh uniform dither of it.

**Codes** (:func:`zero_leakage_code`): n = 128, one bit per coordinate, k from
15 to 24: nested narrow-sense BCH codes of length 127 from the C++ core, the
(127, 15) code plus rows of the (127, 22) and (127, 29) codes, and an overall
parity bit. k = 16 has minimum distance 48 (a random [128, 16] code measured
41).

Example:
    >>> import numpy as np
    >>> from fuzzykey.zeroleak import quantize, bit_llrs, phi
    >>> z = np.array([-1.0, 0.3, 2.0])
    >>> bits, pos = quantize(z)
    >>> bits.tolist()
    [0, 1, 1]
    >>> rho = np.full(3, 0.9)
    >>> llr = bit_llrs(0.9 * z, pos, rho)           # a clean probe: confident and right
    >>> ((llr > 0) == (bits == 0)).all()
    np.True_
    >>> float(abs(phi(np.array([0.0]))[0] - 0.5)) < 1e-15
    True
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._checks import as_int
from .bch import BCHCode
from .errors import InvalidArgument
from .linear import LinearCode

__all__ = [
    "POSITION_BITS",
    "phi",
    "phi_inv",
    "quantize",
    "candidates",
    "bit_llrs",
    "verification_scores",
    "SecretTransform",
    "zero_leakage_code",
    "ZERO_LEAKAGE_CODE_KS",
]

POSITION_BITS = 16
_STEPS = float(1 << POSITION_BITS)
_ERFC = np.frompyfunc(math.erfc, 1, 1)


def phi(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """The standard normal CDF, :math:`\\Phi(x) = \\tfrac12 \\mathrm{erfc}(-x/\\sqrt2)`,
    elementwise (libm's erfc)."""
    a = np.asarray(x, dtype=np.float64)
    out: NDArray[np.float64] = 0.5 * np.asarray(_ERFC(-a / math.sqrt(2.0)), dtype=np.float64)
    return out


# Acklam's rational approximation of the normal quantile, then one Halley step with libm's erfc.
_A = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_B = (
    -5.447609879822406e01,
    1.615858368580409e02,
    -1.556989798598866e02,
    6.680131188771972e01,
    -1.328068155288572e01,
)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)


def _poly(coeffs: tuple[float, ...], x: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        out = out * x + c
    return out


def phi_inv(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """The standard normal quantile :math:`\\Phi^{-1}(p)` for p in (0, 1), elementwise
    (within 1e-12 for p in [2^-18, 1 - 2^-18])."""
    q = np.asarray(p, dtype=np.float64)
    if q.size and not ((q > 0) & (q < 1)).all():
        raise InvalidArgument("phi_inv needs probabilities strictly between 0 and 1")
    lo, hi = 0.02425, 1 - 0.02425
    x = np.empty_like(q)
    mid = (q >= lo) & (q <= hi)
    r = q[mid] - 0.5
    s = r * r
    x[mid] = _poly(_A, s) * r / (_poly(_B, s) * s + 1.0)
    low = q < lo
    t = np.sqrt(-2.0 * np.log(q[low]))
    x[low] = _poly(_C, t) / (_poly(_D, t) * t + 1.0)
    high = q > hi
    t = np.sqrt(-2.0 * np.log1p(-q[high]))
    x[high] = -_poly(_C, t) / (_poly(_D, t) * t + 1.0)
    e = phi(x) - q
    u = e * math.sqrt(2.0 * math.pi) * np.exp(0.5 * x * x)
    out: NDArray[np.float64] = x - u / (1.0 + 0.5 * x * u)
    return out


def _as_coords(z: Any, name: str) -> NDArray[np.float64]:
    a = np.asarray(z, dtype=np.float64)
    if not np.isfinite(a).all():
        raise InvalidArgument(f"{name} must be finite")
    return a


def _as_positions(positions: Any) -> NDArray[np.float64]:
    w = np.asarray(positions)
    if w.dtype != np.uint16:
        raise InvalidArgument(f"positions must be uint16, got dtype {w.dtype}")
    return (w.astype(np.float64) + 0.5) / _STEPS


def quantize(z: Any, dither: Any = None) -> tuple[NDArray[np.uint8], NDArray[np.uint16]]:
    """Bits and 16-bit positions of coordinates ``z`` (any shape): ``u = Phi(z) + dither mod 1``,
    ``b = floor(2u)``, ``w_q = floor(2^16 (2u - b))``. ``dither``: values in [0, 1) or None."""
    a = _as_coords(z, "z")
    u = phi(a)
    if dither is not None:
        u = np.mod(u + np.asarray(dither, dtype=np.float64), 1.0)
    v = 2.0 * u
    bits = np.minimum(np.floor(v), 1.0)
    w = np.minimum(np.floor((v - bits) * _STEPS), _STEPS - 1)
    return bits.astype(np.uint8), w.astype(np.uint16)


def candidates(positions: Any, dither: Any = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The enrolled values :math:`z_0, z_1` that bit values 0 and 1 name at the given positions."""
    w = _as_positions(positions)
    out = []
    for s in (0.0, 1.0):
        u = (s + w) / 2.0
        if dither is not None:
            u = np.mod(u - np.asarray(dither, dtype=np.float64), 1.0)
        out.append(phi_inv(u))
    return out[0], out[1]


def bit_llrs(y: Any, positions: Any, rho: Any, dither: Any = None) -> NDArray[np.float32]:
    """LLRs :math:`\\log p(y|z_0)/p(y|z_1)` of the enrolled bits from probe coordinates ``y``
    (``(..., n)``), the stored positions and each coordinate's decoding correlation ``rho``."""
    yy = _as_coords(y, "y")
    r = np.asarray(rho, dtype=np.float64)
    z0, z1 = candidates(positions, dither)
    llr = ((yy - r * z1) ** 2 - (yy - r * z0) ** 2) / (2.0 * (1.0 - r * r))
    out: NDArray[np.float32] = llr.astype(np.float32)
    return out


def verification_scores(
    y: Any, bits: Any, positions: Any, rho: Any, dither: Any = None
) -> NDArray[np.float64]:
    """The gate's score S (module docs) of probe rows ``y`` (N, n) against enrolled ``bits``
    (N, n) and ``positions`` (n,) or (N, n): the Gaussian log-likelihood ratio genuine vs other."""
    yy = _as_coords(y, "y")
    r = np.asarray(rho, dtype=np.float64)
    z0, z1 = candidates(positions, dither)
    z = np.where(np.asarray(bits) == 1, z1, z0)
    v = 1.0 - r * r
    per = -((yy - r * z) ** 2) / (2.0 * v) - 0.5 * np.log(v) + 0.5 * yy * yy
    out: NDArray[np.float64] = per.sum(axis=-1)
    return out


@dataclass(frozen=True, eq=False)
class SecretTransform:
    """Permutation, sign flips and dithers of n coordinates, drawn from SHAKE256(secret, nonce).

    ``transform(z)`` gives ``signs * z[..., perm]``; the dithers enter :func:`quantize`,
    :func:`candidates` and the functions built on them. Deterministic: the same secret
    and nonce give the same transformation on every machine and numpy version.

    Example:
        >>> import numpy as np
        >>> from fuzzykey.zeroleak import SecretTransform
        >>> t = SecretTransform.derive(b"k" * 32, bytes(16), 5)
        >>> sorted(t.perm.tolist()) == list(range(5)), set(t.signs.tolist()) <= {-1.0, 1.0}
        (True, True)
        >>> bool(np.array_equal(t.perm, SecretTransform.derive(b"k" * 32, bytes(16), 5).perm))
        True
    """

    perm: NDArray[np.int64]
    signs: NDArray[np.float64]
    dither: NDArray[np.float64]

    @classmethod
    def derive(cls, secret: bytes, nonce: bytes, n: int) -> SecretTransform:
        n = as_int(n, "n")
        if n < 1 or n > 1 << 16:
            raise InvalidArgument(f"n must be between 1 and 65536, got {n}")
        label = b"fuzzykey/two-factor/v1\x00"
        stream = hashlib.shake_256(
            label + len(nonce).to_bytes(4, "big") + nonce + len(secret).to_bytes(4, "big") + secret
        ).digest(16 * n + 64)
        words = np.frombuffer(stream, dtype=">u4").astype(np.uint64)
        perm = np.arange(n, dtype=np.int64)
        pos = 0
        for i in range(n - 1, 0, -1):  # Fisher-Yates; 32-bit draws, the modulo bias is below 2^-16
            j = int(words[pos] % np.uint64(i + 1))
            pos += 1
            perm[i], perm[j] = perm[j], perm[i]
        signs = np.where(words[pos : pos + n] & np.uint64(1), -1.0, 1.0)
        pos += n
        dither = (words[pos : pos + n] >> np.uint64(16)).astype(np.float64) / _STEPS
        return cls(perm, signs.astype(np.float64), dither)

    def transform(self, z: Any) -> NDArray[np.float64]:
        a = np.asarray(z, dtype=np.float64)
        out: NDArray[np.float64] = self.signs * a[..., self.perm]
        return out

    def __repr__(self) -> str:
        return f"SecretTransform(n={len(self.perm)}, <secret>)"


#: The dimensions :func:`zero_leakage_code` builds.
ZERO_LEAKAGE_CODE_KS = tuple(range(15, 25))
_NESTED_T = (27, 23, 21)  # BCH(127, t) of dimensions 15, 22, 29: C15 < C22 < C29
_CODES: dict[int, LinearCode] = {}


def _gf2_rank(rows: NDArray[np.uint8]) -> int:
    m = rows.copy()
    rank = 0
    for col in range(m.shape[1]):
        pivots = np.flatnonzero(m[rank:, col])
        if not len(pivots):
            continue
        p = rank + int(pivots[0])
        m[[rank, p]] = m[[p, rank]]
        others = np.flatnonzero(m[:, col])
        others = others[others != rank]
        m[others] ^= m[rank]
        rank += 1
        if rank == m.shape[0]:
            break
    return rank


def zero_leakage_code(k: int) -> LinearCode:
    """The [128, k] code of the zero-leakage schemes (module docs), k in 15..24.

    Rows: the generator of BCH(127, 15) (t = 27), then, in order, each row of
    BCH(127, 22) (t = 23) and then of BCH(127, 29) (t = 21) that raises the rank,
    until k rows; every row then gets an overall parity bit.
    """
    k = as_int(k, "k")
    if k not in ZERO_LEAKAGE_CODE_KS:
        raise InvalidArgument(f"k must be between 15 and 24, got {k}")
    if k not in _CODES:
        gens = [BCHCode(7, t).encode_batch(np.eye(BCHCode(7, t).k, dtype=np.uint8)) for t in _NESTED_T]
        rows = gens[0].copy()
        for g in gens[1:]:
            for row in g:
                if rows.shape[0] == k:
                    break
                candidate = np.vstack([rows, row[None, :]])
                if _gf2_rank(candidate) == candidate.shape[0]:
                    rows = candidate
        parity = rows.sum(axis=1, dtype=np.int64) % 2
        _CODES[k] = LinearCode(np.hstack([rows, parity[:, None].astype(np.uint8)]))
    return _CODES[k]
