"""Unlinkability of helper data: can two helpers be told to come from one person?

The metric is that of M. Gomez-Barrero, J. Galbally, C. Rathgeb and C. Busch,
"General Framework to Evaluate Unlinkability in Biometric Template Protection
Systems", IEEE Trans. Inf. Forensics Security 13(6), 2018
(doi:10.1109/TIFS.2017.2788000). An attacker computes a *linkage score* s for a
pair of protected templates (here: helpers); mated pairs (H_m: one person) and
non-mated pairs (H_nm: two people) give two score distributions, and

- the local measure, for each score s,
  :math:`D_{\\leftrightarrow}(s) = 2\\,\\frac{LR(s)\\,\\omega}{1 + LR(s)\\,\\omega} - 1`
  where :math:`LR(s) = p(s|H_m) / p(s|H_{nm})`, and 0 where
  :math:`LR(s)\\,\\omega \\le 1`; ω = P(H_m)/P(H_nm) is the prior ratio (1: the
  paper's default, "as many mated as non-mated pairs");
- the global measure :math:`D_{\\leftrightarrow}^{sys} = \\int p(s|H_m)\\, D_{\\leftrightarrow}(s)\\, ds`
  in [0, 1]: 0 = fully unlinkable (the scores say nothing), 1 = fully
  linkable (for every mated score no non-mated score looks alike).

Estimation follows the authors' reference implementation
(https://github.com/dasec/unlinkability-metric, ``evaluateUnlinkability.py``):
histograms with 100 equal bins over the pooled range [min, max] of both score
sets, :math:`D = 1` where a bin has mated but no non-mated scores (LR = ∞),
:math:`D = 0` where it has no mated scores. The one difference: the reference
integrates :math:`D \\cdot p(s|H_m)` with the trapezoid rule over the bin
centres, which gives the two end bins half weight (two point masses at either
end of the range give 0.5, not 1); :func:`dsys` sums
:math:`D \\cdot P(\\text{bin}|H_m)` over the bins, the exact integral of the
histogram estimate. ``rule="trapezoid"`` reproduces the reference's number.

Which way the scores point does not matter (the metric uses only the
likelihood ratio); fuzzykey's linkage scores are similarities, higher = more
alike. The histogram estimate is biased upwards for small samples (noise in a
bin's likelihood ratio counts only when it favours H_m). Two samples of one
normal distribution, 100 bins, give ≈ 0.007 with 100,000 scores each,
≈ 0.02 with 10,000, and with 20,000 non-mated scores ≈ 0.055 for 1,000
mated, ≈ 0.1 for 300 and ≈ 0.2 for 100: keep ≳ 100 mated scores per bin or
pass fewer ``bins``.

Linkage scores for the two :class:`~fuzzykey.keygen.KeyGen` modes
(attacker: anyone holding two helpers, no secret, no face):

:func:`face_only_linkage_scores` (face-only helpers)
    The *decodability attack* on code-offset sketches (E. J. C. Kelkboom et
    al., "Preventing the Decodability Attack Based Cross-Matching in a Fuzzy
    Commitment Scheme", IEEE TIFS 6(1), 2011): for sketches
    :math:`s_a = w_a \\oplus c_a` and :math:`s_b = w_b \\oplus c_b`,
    :math:`s_a \\oplus s_b = (w_a \\oplus w_b) \\oplus (c_a \\oplus c_b)` and
    :math:`c_a \\oplus c_b` is a codeword (the code is linear), so decoding
    :math:`s_a \\oplus s_b` finds :math:`d(w_a, w_b)` whenever it is at most
    t. Score: minus the number of corrected bits; −(t + 1) when decoding fails
    (the distance is then > t and the bounded-distance decoder says no more).
    Non-mated pairs (~n/2 bits apart) never decode, so :math:`D^{sys}` is about
    the fraction of mated pairs whose enrolled strings are within t of each
    other: 1 for nearly identical captures; for SFace, whose bits differ in
    ~28 % of places for one person against t/n = 22 % for the default code,
    roughly the share of one person's enrollments that would reproduce each
    other's key (not measured on faces here).
:func:`secret_linkage_scores` (secret-mode helpers)
    The first step of :func:`fuzzykey.evaluation.attacks.structural_attack`: the top
    eigenvector of the selected public projections gives back, up to sign, the
    enrolled embedding direction under that enrollment's secret rotation Q
    (its signs on the selected rows are the enrolled bits). Score: the
    :math:`|\\cos|` of the two helpers' directions (the sign is unknown). Q is
    Haar-random per enrollment (seeded by the secret and a fresh nonce), so
    without the secret the two directions are independent uniform unit
    vectors whoever enrolled. The rest of the helper is functions of that
    direction (the selection, the bits), fresh randomness (nonce, salt,
    codeword, hence the sketch given the bits) and a tag keyed with the
    secret. Expect :math:`D^{sys} \\approx 0`, up to the estimate's bias below
    ~1,000 mated scores.

Each is one cheap, natural attack, so its :math:`D^{sys}` is a lower bound on
linkability: for face-only helpers, an attacker who enumerates the 2^k
codewords (:func:`fuzzykey.evaluation.attacks.structural_attack`) gets w itself and links
by Hamming distance directly; for secret-mode helpers, one who also holds the
secret undoes the rotations and compares faces.

Example:
    >>> import numpy as np
    >>> from fuzzykey.evaluation.linkability import dsys, local_dsys
    >>> rng = np.random.default_rng(0)
    >>> same = dsys(rng.normal(0, 1, 100_000), rng.normal(0, 1, 100_000))
    >>> bool(same < 0.05)                          # one distribution: unlinkable
    True
    >>> dsys([0.9, 0.95, 1.0], [0.0, 0.1, 0.2])    # disjoint: fully linkable
    1.0
    >>> dsys([1.0, 1.0], [0.0, 0.0]), round(dsys([1.0, 1.0], [0.0, 0.0], rule="trapezoid"), 6)  # reference
    (1.0, 0.5)
    >>> centres, d = local_dsys([1.5, 2.0], [0.0, 0.5], bins=2)
    >>> centres.tolist(), d.tolist()
    ([0.5, 1.5], [0.0, 1.0])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .._checks import as_int
from ..binarizers import SecretSelectBinarizer, decode_selection, public_projections
from ..errors import InvalidArgument, InvalidHelperData, PipelineMismatch
from ..facekeys import ZeroLeakageKeys, read_zero_leakage_header
from ..header import read_helper_header
from ..helper import HelperData
from ..keygen import KeyGen
from ..zeroleak import SecretTransform, candidates

__all__ = [
    "DEFAULT_BINS",
    "local_dsys",
    "dsys",
    "face_only_linkage_score",
    "face_only_linkage_scores",
    "secret_helper_directions",
    "secret_linkage_score",
    "secret_linkage_scores",
    "zero_leakage_linkage_scores",
]

DEFAULT_BINS = 100
"""Histogram bins when ``bins=None``: the reference implementation's default."""

_POWER_STEPS = 300  # power-iteration steps before falling back to eigh
_PAIR_BLOCK = 16384  # pairs decoded per batch (bounds memory at ~16 MiB of words for n = 1023)


# -- the metric ---------------------------------------------------------------


def _score_array(value: Any, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise InvalidArgument(f"{name} must be numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InvalidArgument(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise InvalidArgument(f"{name} must not be empty")
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise InvalidArgument(f"{name} contain NaN or infinity")
    return out


def _check_omega(omega: Any) -> float:
    if isinstance(omega, bool) or not isinstance(omega, (int, float, np.integer, np.floating)):
        raise InvalidArgument(f"omega must be a positive number, got {type(omega).__name__} {omega!r}")
    value = float(omega)
    if not (math.isfinite(value) and value > 0.0):
        raise InvalidArgument(f"omega must be a positive finite number, got {omega!r}")
    return value


def _histograms(
    mated_scores: Any, nonmated_scores: Any, bins: Any
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``(edges, centres, P(bin | H_m), P(bin | H_nm))`` over the pooled range."""
    m = _score_array(mated_scores, "mated_scores")
    nm = _score_array(nonmated_scores, "nonmated_scores")
    n_bins = DEFAULT_BINS if bins is None else as_int(bins, "bins")
    if n_bins < 1:
        raise InvalidArgument(f"bins must be >= 1, got {n_bins}")
    lo = float(min(m.min(), nm.min()))
    hi = float(max(m.max(), nm.max()))
    if not hi > lo:  # every score equal: one distribution, centre the bins on it
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, n_bins + 1)
    centres = (edges[1:] + edges[:-1]) / 2.0
    pm = np.histogram(m, bins=edges)[0] / m.size
    pnm = np.histogram(nm, bins=edges)[0] / nm.size
    return edges, centres, pm.astype(np.float64), pnm.astype(np.float64)


def _local(pm: NDArray[np.float64], pnm: NDArray[np.float64], omega: float) -> NDArray[np.float64]:
    d = np.zeros_like(pm)
    finite = (pm > 0) & (pnm > 0)
    x = omega * pm[finite] / pnm[finite]  # LR * omega (equal bin widths: ratio of densities)
    d[finite] = np.where(x > 1.0, (x - 1.0) / (x + 1.0), 0.0)  # = 2x/(1+x) - 1
    d[(pm > 0) & (pnm == 0)] = 1.0  # LR = infinity
    return d


def local_dsys(
    mated_scores: Any, nonmated_scores: Any, *, omega: float = 1.0, bins: int | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The local measure :math:`D_{\\leftrightarrow}(s)` on the histogram's bins.

    Args:
        mated_scores: linkage scores of mated pairs (1-D, finite, non-empty).
        nonmated_scores: linkage scores of non-mated pairs (likewise).
        omega: prior ratio P(H_m)/P(H_nm), > 0 (default 1).
        bins: equal-width bins over the pooled score range (default
            :data:`DEFAULT_BINS` = 100, as in the reference implementation).

    Returns:
        ``(centres, d)``: the bin centres (increasing) and
        :math:`D_{\\leftrightarrow}` in [0, 1] at each.

    Raises:
        InvalidArgument: a score set is empty, not 1-D, not numeric or not
            finite; ``omega`` or ``bins`` is out of range.
    """
    w = _check_omega(omega)
    _, centres, pm, pnm = _histograms(mated_scores, nonmated_scores, bins)
    return centres, _local(pm, pnm, w)


def dsys(
    mated_scores: Any,
    nonmated_scores: Any,
    *,
    omega: float = 1.0,
    bins: int | None = None,
    rule: Literal["sum", "trapezoid"] = "sum",
) -> float:
    """The global measure :math:`D_{\\leftrightarrow}^{sys}` in [0, 1] (0: unlinkable).

    Arguments as in :func:`local_dsys`; ``rule``: ``"sum"`` (default) integrates
    the histogram estimate exactly, :math:`\\sum_{bins} P(bin|H_m) D(bin)`;
    ``"trapezoid"`` integrates :math:`D(s)\\,p(s|H_m)` over the bin centres with
    the trapezoid rule as the reference implementation does (end bins count
    half; 0 with one bin).
    """
    w = _check_omega(omega)
    edges, centres, pm, pnm = _histograms(mated_scores, nonmated_scores, bins)
    d = _local(pm, pnm, w)
    if rule == "sum":
        return float(np.clip(np.sum(pm * d), 0.0, 1.0))
    if rule == "trapezoid":
        y = d * pm / (edges[1] - edges[0])  # D times the mated density
        return float(np.clip(np.sum((y[1:] + y[:-1]) / 2.0 * np.diff(centres)), 0.0, 1.0))
    raise InvalidArgument(f"rule must be 'sum' or 'trapezoid', got {rule!r}")


# -- linkage scores -------------------------------------------------------------


def _parse_helpers(
    kg: KeyGen, helpers: Sequence[HelperData | bytes], mode: str, name: str
) -> list[tuple[HelperData, dict[str, Any]]]:
    if not isinstance(kg, KeyGen):
        raise InvalidArgument(f"kg must be a KeyGen, got {type(kg).__name__}")
    if isinstance(helpers, (bytes, bytearray, HelperData)) or not isinstance(helpers, Sequence):
        raise InvalidArgument(f"{name} must be a sequence of helpers, got {type(helpers).__name__}")
    if mode == "secret":
        psi_desc, code = kg.secret_binarizer.describe(), kg.secret_code
        other = "face_only_linkage_scores"
    else:
        psi_desc, code = kg.face_binarizer.describe(), kg.face_code
        other = "secret_linkage_scores"
    out = []
    for i, helper in enumerate(helpers):
        where = f"{name}[{i}]"
        try:
            h, header = read_helper_header(helper)
        except (InvalidHelperData, InvalidArgument) as exc:
            raise type(exc)(f"{where}: {exc}") from exc
        if header["mode"] != mode:
            raise PipelineMismatch(f"{where} is a {header['mode']} helper; score it with {other}")
        if header["binarizer"] != psi_desc or (h.m, h.t, h.n) != (code.m, code.t, code.n):
            raise PipelineMismatch(
                f"{where} was made with binarizer {header['binarizer']!r} and BCH(m={h.m}, t={h.t}, "
                f"n={h.n}); this KeyGen's {mode} mode uses {psi_desc!r} and {code!r}"
            )
        out.append((h, header))
    return out


def _pairs(pairs: Any, count: int) -> NDArray[np.int64]:
    arr = np.asarray(pairs)
    if arr.size == 0:
        raise InvalidArgument("pairs must not be empty")
    if arr.dtype.kind not in "iu" or arr.ndim != 2 or arr.shape[1] != 2:
        raise InvalidArgument(f"pairs must be integer indices of shape (P, 2), got {arr.dtype} {arr.shape}")
    if arr.min() < 0 or arr.max() >= count:
        raise InvalidArgument(f"pairs must index helpers 0..{count - 1}, got values {arr.min()}..{arr.max()}")
    return arr.astype(np.int64)


def face_only_linkage_scores(
    kg: KeyGen, helpers: Sequence[HelperData | bytes], pairs: Any, *, threads: int | None = None
) -> NDArray[np.float64]:
    """Decodability-attack linkage scores of face-only helpers (see the module docstring).

    Args:
        kg: the KeyGen whose face-only pipeline made the helpers.
        helpers: face-only helpers (bytes or HelperData).
        pairs: ``(P, 2)`` integer indices into ``helpers``.
        threads: decoder threads (None: all cores).

    Returns:
        ``(P,)`` float64 similarities: ``-d`` where ``d`` ≤ t is the number of
        bits the decoder corrected in :math:`s_a \\oplus s_b` (an estimate of
        :math:`d(w_a, w_b)`), ``-(t + 1)`` where decoding failed.

    Raises:
        InvalidArgument: malformed arguments (a helper that is not bytes or HelperData).
        InvalidHelperData: malformed helper bytes, or a helper without a KeyGen header.
        PipelineMismatch: a secret-mode helper, or one of another code or binarizer.
    """
    parsed = _parse_helpers(kg, helpers, "face-only", "helpers")
    idx = _pairs(pairs, len(parsed))
    code = kg.face_code
    sketches = np.stack([h.sketch_bits for h, _ in parsed])
    out = np.empty(len(idx), dtype=np.float64)
    for start in range(0, len(idx), _PAIR_BLOCK):
        block = idx[start : start + _PAIR_BLOCK]
        words = np.bitwise_xor(sketches[block[:, 0]], sketches[block[:, 1]])
        _, n_errors = code.decode_batch(words, threads=threads)
        dist = np.where(n_errors >= 0, n_errors, code.t + 1)
        out[start : start + len(block)] = -dist.astype(np.float64)
    return out


def face_only_linkage_score(kg: KeyGen, helper_a: HelperData | bytes, helper_b: HelperData | bytes) -> float:
    """:func:`face_only_linkage_scores` of one pair: minus the corrected bits, or −(t + 1)."""
    return float(face_only_linkage_scores(kg, [helper_a, helper_b], [[0, 1]], threads=1)[0])


def _selection(header: dict[str, Any], psi: SecretSelectBinarizer, where: str) -> NDArray[np.int64]:
    try:
        return decode_selection(header["selection"], psi.n_bits, psi.n_candidates)
    except InvalidHelperData as exc:
        raise InvalidHelperData(f"{where}: {exc}") from exc


def secret_helper_directions(kg: KeyGen, helpers: Sequence[HelperData | bytes]) -> NDArray[np.float64]:
    """Each secret-mode helper's recovered direction: ``(N, dim)`` unit rows, sign arbitrary.

    The top eigenvector of :math:`\\sum_{i \\in S} p_i p_i^T` over the helper's
    selected public rows S (the step of
    :func:`fuzzykey.evaluation.attacks.structural_attack` that needs no secret): ± the
    enrolled, secretly rotated, centred embedding direction.
    """
    parsed = _parse_helpers(kg, helpers, "secret", "helpers")
    psi = kg.secret_binarizer
    if not isinstance(psi, SecretSelectBinarizer):
        raise InvalidArgument(f"secret linkage scores need a SecretSelectBinarizer, got {type(psi).__name__}")
    p = public_projections(psi.n_candidates, psi.dim)
    grams = np.empty((len(parsed), psi.dim, psi.dim), dtype=np.float64)
    for i, (_, header) in enumerate(parsed):
        rows = p[_selection(header, psi, f"helpers[{i}]")].astype(np.float64)
        grams[i] = rows.T @ rows
    return _top_eigenvectors(grams)


def _top_eigenvectors(grams: NDArray[np.float64]) -> NDArray[np.float64]:
    """Unit top eigenvectors of symmetric PSD matrices ``(N, d, d)``, by batched power iteration.

    The selected rows' Gram matrix has a wide gap (~6n along the enrolled
    direction, < 2n across it), so ~30 steps converge; matrices still moving
    after :data:`_POWER_STEPS` steps get LAPACK's ``eigh``. Power iteration in
    ``einsum`` instead of one ``eigh`` per helper: ``eigh`` of a small matrix
    makes hundreds of small BLAS calls, each of which waits for OpenBLAS's
    threads, and took ~40 ms instead of ~2 ms when another process kept the
    cores busy.
    """
    n = grams.shape[0]
    start = np.argmax(np.linalg.norm(grams, axis=1), axis=1)  # the longest column of each
    v = grams[np.arange(n), :, start]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    todo = np.arange(n)
    for _ in range(_POWER_STEPS):
        w = np.einsum("nij,nj->ni", grams[todo], v[todo])
        w /= np.linalg.norm(w, axis=1, keepdims=True)
        moved = np.linalg.norm(w - v[todo], axis=1)
        v[todo] = w
        todo = todo[moved > 1e-13]
        if not todo.size:
            break
    for i in todo.tolist():
        v[i] = np.linalg.eigh(grams[i])[1][:, -1]
    return v


def secret_linkage_scores(
    kg: KeyGen, helpers: Sequence[HelperData | bytes], pairs: Any
) -> NDArray[np.float64]:
    """:math:`|\\cos|` between the recovered directions of secret-mode helper pairs.

    Each helper's eigenvector is computed once (:func:`secret_helper_directions`).

    Args:
        kg: the KeyGen whose secret-mode pipeline made the helpers.
        helpers: secret-mode helpers (bytes or HelperData).
        pairs: ``(P, 2)`` integer indices into ``helpers``.

    Returns:
        ``(P,)`` float64 similarities in [0, 1] (1 for a helper against itself).

    Raises:
        InvalidArgument, InvalidHelperData, PipelineMismatch: as
        :func:`face_only_linkage_scores` (here a face-only helper mismatches).
    """
    if isinstance(helpers, (bytes, bytearray, HelperData)) or not isinstance(helpers, Sequence):
        raise InvalidArgument(f"helpers must be a sequence of helpers, got {type(helpers).__name__}")
    idx = _pairs(pairs, len(helpers))
    v = secret_helper_directions(kg, helpers)
    cos = np.einsum("ij,ij->i", v[idx[:, 0]], v[idx[:, 1]])
    return np.asarray(np.clip(np.abs(cos), 0.0, 1.0), dtype=np.float64)


def secret_linkage_score(kg: KeyGen, helper_a: HelperData | bytes, helper_b: HelperData | bytes) -> float:
    """:func:`secret_linkage_scores` of one pair: the :math:`|\\cos|` of the two directions."""
    return float(secret_linkage_scores(kg, [helper_a, helper_b], [[0, 1]])[0])


def _log_normal2(
    a: NDArray[np.float64], b: NDArray[np.float64], rho: NDArray[np.float64]
) -> NDArray[np.float64]:
    """log density of (a, b) standard bivariate normal with correlation rho, less log N(a) N(b)."""
    v = 1.0 - rho * rho
    out: NDArray[np.float64] = (
        -(a * a - 2 * rho * a * b + b * b) / (2 * v) - 0.5 * np.log(v) + 0.5 * (a * a + b * b)
    )
    return out


def zero_leakage_linkage_scores(
    zk: ZeroLeakageKeys,
    helpers_a: Sequence[HelperData | bytes],
    helpers_b: Sequence[HelperData | bytes],
    *,
    secrets_a: Sequence[bytes | None] | None = None,
    secrets_b: Sequence[bytes | None] | None = None,
) -> NDArray[np.float64]:
    """Linkage scores of zero-leakage helper pairs (a[i], b[i]): higher = more likely one person.

    Each helper's positions name two candidate values per coordinate
    (:func:`fuzzykey.zeroleak.candidates`), and two enrollments of one person
    correlate by :math:`\\rho_i` in coordinate i. Per coordinate that gives
    the log-likelihood ratio, one person vs two, of the candidates with
    :math:`d_i = b^a_i \\oplus b^b_i = 0` ("same") and with :math:`d_i = 1`.

    * Helpers in the same coordinate order (face-only; two-factor ones whose
      secrets the attacker lacks are scored as such, the best he can do):
      :math:`s_a \\oplus s_b = d \\oplus (c_a \\oplus c_b)` with a codeword
      :math:`c_a \\oplus c_b`, so ML decoding of the sketches' XOR finds the
      most likely d (the decodability attack, with soft information); score:
      the sum over coordinates of the log-likelihood ratio given that d.
    * With ``secrets_a``/``secrets_b`` (two-factor, secrets stolen) each
      helper's transformation is undone first; the two permutations differ, so
      the sketches' XOR is no codeword and the score sums the ratio over both
      values of each :math:`d_i` (positions only).
    """
    if len(helpers_a) != len(helpers_b):
        raise InvalidArgument(
            f"helpers_a and helpers_b differ in length: {len(helpers_a)} and {len(helpers_b)}"
        )
    n = zk.code.n
    sa = list(secrets_a) if secrets_a is not None else [None] * len(helpers_a)
    sb = list(secrets_b) if secrets_b is not None else [None] * len(helpers_b)
    rho = np.minimum(zk.transform.rho * zk.transform.rho_scale, 0.995)

    def values(
        helper: HelperData | bytes, secret: bytes | None
    ) -> tuple[NDArray[np.float64], NDArray[np.uint8]]:
        h, header = read_zero_leakage_header(helper, n)
        if secret is None or header.mode != "two-factor":
            z0, z1 = candidates(header.positions)
            return np.stack([z0, z1]), h.sketch_bits
        st = SecretTransform.derive(secret, header.nonce, n)
        z0, z1 = candidates(header.positions, st.dither)
        back = np.empty((2, n))
        back[:, st.perm] = np.stack([z0, z1]) * st.signs  # z'[i] = sign[i] z[perm[i]]
        return back, h.sketch_bits

    coded: list[int] = []
    llrs: list[NDArray[np.float32]] = []
    out = np.empty(len(helpers_a))
    terms = []
    for i, (ha, hb) in enumerate(zip(helpers_a, helpers_b, strict=True)):
        ca, ska = values(ha, sa[i])
        cb, skb = values(hb, sb[i])
        same = np.logaddexp(_log_normal2(ca[0], cb[0], rho), _log_normal2(ca[1], cb[1], rho))
        diff = np.logaddexp(_log_normal2(ca[0], cb[1], rho), _log_normal2(ca[1], cb[0], rho))
        if sa[i] is None and sb[i] is None:
            xor = ska ^ skb
            coded.append(i)
            llrs.append(np.where(xor == 1, diff - same, same - diff).astype(np.float32))
            terms.append((same, diff, xor))
        else:
            out[i] = float(np.logaddexp(same, diff).sum() - math.log(4.0) * n)
    if coded:
        messages, _ = zk.code.ml_decode_batch(np.stack(llrs))
        words = zk.code.encode_batch(messages)
        for row, i in enumerate(coded):
            same, diff, xor = terms[row]
            d = words[row] ^ xor
            out[i] = float(np.where(d == 0, same, diff).sum() - math.log(2.0) * n)
    return out
