"""Attacks on our own helper data: what an attacker holding a helper can get.

:func:`structural_attack`
    Uses the helper alone (and the secret, when the attacker has stolen it).

    - Secret mode: the helper lists the n selected rows S of the public matrix
      P. They were chosen for large :math:`|p_i \\cdot v|` with
      :math:`v = Q(x - \\mu)/\\lVert x-\\mu \\rVert`, so the top eigenvector of
      :math:`\\sum_{i \\in S} p_i p_i^T` points along ±v, and
      :math:`\\operatorname{sign}(P_S v)` gives back the enrolled bits. That
      needs neither the secret nor the face. The key also needs the secret
      (it is mixed into the derivation): with the secret the attack returns
      the key; without it, the recovered bits are those of the secretly rotated
      v, which is uniformly distributed whatever the face, so nothing about the
      face is learned and no key comes out.
    - Face-only mode: nothing face-dependent is stored; the code-offset sketch
      :math:`s = w \\oplus c` leaves 2^k candidates for w. The attack enumerates
      codewords (each candidate checked against the tag) while 2^k fits the
      budget, and otherwise reports the work 2^k it would take.

:func:`dictionary_attack`
    Tries a list of other people's embeddings against each helper, in order,
    and reports after how many guesses each helper fell: the zero-effort
    impostor attack as a function of the number of guesses.

:func:`guesswork_attack`
    Zero-leakage helpers (:mod:`fuzzykey.facekeys`): the attacker holds the
    helper (and, in two-factor mode, the stolen secret) and a population of
    faces, and guesses the enrolled codeword. From the population it learns
    :math:`P(b_j \\mid q_j)`, the chance of each enrolled bit given the bin of its
    stored position; the sketch :math:`s = w \\oplus c` turns every codeword c
    into bits :math:`w = s \\oplus c`, scored
    :math:`\\sum_j \\log P(w_j \\mid q_j)`; candidates are tried from the best
    score down. The rank of the true codeword is the guesswork; with zero
    leakage every order is as good as another and the mean rank is
    :math:`(2^k + 1)/2`.

:func:`position_leakage`
    Whether the stored positions say anything about the key bits: the plug-in
    mutual information between each bit and its position's bin (Miller-Madow
    bias correction) and a Kolmogorov-Smirnov test of the positions' uniformity.

Example:
    >>> import numpy as np
    >>> from fuzzykey import KeyGen
    >>> from fuzzykey.evaluation.attacks import structural_attack
    >>> kg = KeyGen.from_pretrained()
    >>> emb = np.random.default_rng(3).standard_normal(128).astype(np.float32)
    >>> secret = bytes(range(32))
    >>> key, helper = kg.enroll_embedding(emb, secret=secret)
    >>> structural_attack(kg, helper).key is None          # helper alone
    True
    >>> structural_attack(kg, helper, secret=secret).key == key   # helper + stolen secret
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..binarizers import SecretSelectBinarizer, check_embeddings, decode_selection, public_projections
from ..errors import InvalidArgument
from ..facekeys import ZeroLeakageKeys
from ..header import read_helper_header
from ..helper import HelperData
from ..keygen import KeyGen
from ..zeroleak import quantize

__all__ = [
    "StructuralAttackResult",
    "DictionaryAttackResult",
    "GuessworkResult",
    "LeakageResult",
    "structural_attack",
    "dictionary_attack",
    "guesswork_attack",
    "position_leakage",
    "ks_uniform",
    "mutual_information_bits",
]


@dataclass(frozen=True, repr=False)
class StructuralAttackResult:
    """Outcome of :func:`structural_attack` on one helper."""

    mode: str
    key: bytes | None
    """The recovered key, or None."""
    bits: NDArray[np.uint8] | None
    """The attacker's estimate of the enrolled bits (None if it made none)."""
    guesses: int
    """Candidate keys checked against the tag."""
    work_bits: float
    """log2 of the work the attack needs to be sure (tag checks)."""
    method: str

    def __repr__(self) -> str:
        return (
            f"StructuralAttackResult(mode={self.mode!r}, key={'recovered' if self.key else None}, "
            f"guesses={self.guesses}, work_bits={self.work_bits:.1f}, method={self.method!r})"
        )


def _selection_attack(
    kg: KeyGen, h: HelperData, header: dict[str, Any], secret: bytes | None
) -> StructuralAttackResult:
    psi = kg.secret_binarizer
    if not isinstance(psi, SecretSelectBinarizer):
        raise InvalidArgument(f"the selection attack needs a SecretSelectBinarizer, got {type(psi).__name__}")
    selection = decode_selection(header["selection"], psi.n_bits, psi.n_candidates)
    rows = public_projections(psi.n_candidates, psi.dim)[selection].astype(np.float64)
    _, vecs = np.linalg.eigh(rows.T @ rows)
    v = vecs[:, -1]
    fe = kg.extractor("secret")
    guesses, key, best = 0, None, None
    for sign in (1.0, -1.0):
        bits = (rows @ (sign * v) > 0).astype(np.uint8)
        best = bits if best is None else best
        if secret is None:
            continue
        guesses += 1
        found = fe.reproduce_batch(bits[None, :], [h], secret=secret)[0]
        if found is not None:
            key, best = found, bits
            break
    work = 1.0 if secret is not None else math.inf
    return StructuralAttackResult(
        "secret", key, best, guesses, work, "top eigenvector of the selected public projections"
    )


def _enumeration_attack(kg: KeyGen, h: HelperData, budget: int) -> StructuralAttackResult:
    code = kg.face_code
    fe = kg.extractor("face-only")
    if code.k > 62 or (1 << code.k) > budget:
        return StructuralAttackResult(
            "face-only",
            None,
            None,
            0,
            float(code.k),
            f"codeword enumeration needs 2^{code.k} tag checks, over the budget",
        )
    sketch = h.sketch_bits
    guesses = 0
    batch = 4096
    total = 1 << code.k
    for start in range(0, total, batch):
        msgs = ((np.arange(start, min(total, start + batch))[:, None] >> np.arange(code.k)) & 1).astype(
            np.uint8
        )
        candidates = np.bitwise_xor(code.encode_batch(msgs), sketch)
        keys = fe.reproduce_batch(candidates, [h] * len(candidates))
        guesses += len(candidates)
        for row, key in enumerate(keys):
            if key is not None:
                return StructuralAttackResult(
                    "face-only", key, candidates[row], guesses, float(code.k), "codeword enumeration"
                )
    return StructuralAttackResult("face-only", None, None, guesses, float(code.k), "codeword enumeration")


def structural_attack(
    kg: KeyGen, helper: HelperData | bytes, *, secret: bytes | None = None, budget: int = 1 << 20
) -> StructuralAttackResult:
    """Attack one helper with no face at all (see the module docstring).

    Args:
        kg: the KeyGen whose pipeline made the helper.
        helper: the helper (bytes or HelperData).
        secret: the enrollee's secret if the attacker has it (secret mode).
        budget: most tag checks spent enumerating codewords (face-only mode).
    """
    h, header = read_helper_header(helper)
    if header["mode"] == "secret":
        return _selection_attack(kg, h, header, secret)
    if not isinstance(budget, int) or budget < 1:
        raise InvalidArgument(f"budget must be a positive int, got {budget!r}")
    return _enumeration_attack(kg, h, budget)


@dataclass(frozen=True)
class DictionaryAttackResult:
    """Outcome of :func:`dictionary_attack` over many helpers."""

    guesses_to_success: NDArray[np.int64]
    """Per helper: the 1-based number of the first dictionary entry that gave the
    key, or 0 if none did."""
    dictionary_size: int

    def success_rate(self, guesses: int) -> float:
        """Fraction of helpers broken within ``guesses`` tries."""
        g = self.guesses_to_success
        return float(np.mean((g > 0) & (g <= guesses))) if len(g) else 0.0

    def curve(self, points: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """``[(guesses, success rate)]`` at powers of two up to the dictionary size."""
        if points is None:
            points = [1 << i for i in range(int(math.log2(max(1, self.dictionary_size))) + 1)]
            if points[-1] != self.dictionary_size:
                points.append(self.dictionary_size)
        return [(int(p), self.success_rate(int(p))) for p in points]


def dictionary_attack(
    kg: KeyGen,
    helpers: Sequence[HelperData | bytes],
    dictionary: Any,
    *,
    secrets: Sequence[bytes | None] | None = None,
    exclude: Sequence[Any] | None = None,
    dictionary_labels: Any = None,
) -> DictionaryAttackResult:
    """Try every dictionary embedding, in order, against every helper.

    Args:
        kg: the KeyGen whose pipeline made the helpers.
        helpers: the helpers under attack.
        dictionary: ``(D, dim)`` embeddings of other people, in guessing order.
        secrets: per helper, the secret the attacker holds (stolen), or None.
        exclude: per helper, a label whose dictionary entries are skipped (the
            enrollee's own photos), with ``dictionary_labels`` labelling entries.
    """
    emb = check_embeddings(dictionary, kg.secret_binarizer.dim, "dictionary")
    secrets = list(secrets) if secrets is not None else [None] * len(helpers)
    if len(secrets) != len(helpers):
        raise InvalidArgument(
            f"secrets needs one entry per helper: {len(helpers)} helpers, {len(secrets)} secrets"
        )
    labels = None if dictionary_labels is None else np.asarray(dictionary_labels)
    if exclude is not None and (labels is None or len(labels) != len(emb) or len(exclude) != len(helpers)):
        raise InvalidArgument("exclude needs dictionary_labels (one per entry) and one label per helper")
    out = np.zeros(len(helpers), dtype=np.int64)
    for i, (helper, secret) in enumerate(zip(helpers, secrets, strict=True)):
        order = np.arange(len(emb))
        if exclude is not None and labels is not None:
            order = order[labels != exclude[i]]
        keys = kg.reproduce_embeddings(emb[order], helper, secret=secret)
        hits = [j for j, key in enumerate(keys) if key is not None]
        out[i] = hits[0] + 1 if hits else 0
    return DictionaryAttackResult(out, len(emb))


# --------------------------------------------------------------------------- zero-leakage helpers
_CODEWORD_CHUNK = 1 << 16
_CACHED_K = 18  # up to 2^18 codewords (128 MB as +-1 floats at n = 128) are encoded once
_POSITION_STEPS = 1 << 16


@dataclass(frozen=True)
class GuessworkResult:
    """Outcome of :func:`guesswork_attack`: the true codeword's rank per attacked helper."""

    k: int
    ranks: NDArray[np.float64]
    """1-based ranks (ties count half), one per helper."""

    def summary(self) -> dict[str, Any]:
        """Median, 1st and 10th percentile rank, log2 of the mean guesswork, and what zero
        leakage would give, as JSON-ready numbers."""
        r = self.ranks
        if not len(r):
            raise InvalidArgument("no helper was attacked")
        return {
            "k": self.k,
            "helpers": len(r),
            "rank_median": float(np.median(r)),
            "rank_p1": float(np.quantile(r, 0.01)),
            "rank_p10": float(np.quantile(r, 0.10)),
            "log2_mean_guesswork": float(np.log2(r.mean())),
            "uniform_would_be": 2.0 ** (self.k - 1) + 0.5,
        }


def _bins(positions: NDArray[np.uint16], bins: int) -> NDArray[np.int64]:
    return (positions.astype(np.int64) * bins) // _POSITION_STEPS


def _check_bins(bins: Any) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 1024:
        raise InvalidArgument(f"bins must be an int from 2 to 1024, got {bins!r}")
    return bins


def guesswork_attack(
    zk: ZeroLeakageKeys,
    enrolled: Sequence[Any],
    population: Any,
    *,
    secrets: Sequence[bytes | None] | None = None,
    bins: int = 16,
    seed: int = 0,
) -> GuessworkResult:
    """Rank the true codeword among all 2^k, as an attacker with the helper and a population model.

    Args:
        zk: the zero-leakage pipeline of the helpers.
        enrolled: per attacked helper, the ``(dim,)`` or ``(m, dim)`` embeddings enrolled.
        population: ``(P, dim)`` embeddings of other people, one photo each: the attacker's
            model, :math:`P(b_j \\mid q_j)` per coordinate and position bin, with add-one
            smoothing (for helpers of several photos it is an approximation: their averaged
            coordinates are closer to Gaussian than one photo's).
        secrets: per helper, the stolen secret (two-factor), or None (face-only). With a
            secret the population is enrolled under the same secret and nonce, so the model
            matches the helper's transformed coordinates.
        bins: position bins of the model.
        seed: draws each helper's message (the key material behind the codeword).

    Each helper's enrolled bits and positions come from
    :meth:`~fuzzykey.facekeys.ZeroLeakageKeys.enroll_state` with a fixed nonce, and the
    sketch from a random message, exactly as enrollment stores them; all 2^k
    codewords are scored in chunks of 2^16, so k up to 24 fits in memory.

    Example:
        >>> import numpy as np
        >>> from fuzzykey.facekeys import ZeroLeakageKeys
        >>> from fuzzykey.evaluation.attacks import guesswork_attack
        >>> rng = np.random.default_rng(0)
        >>> faces = rng.standard_normal((300, 128))
        >>> result = guesswork_attack(ZeroLeakageKeys(k=15), list(faces[:20]), faces[20:])
        >>> s = result.summary()
        >>> s["helpers"], s["uniform_would_be"], 1 <= s["rank_median"] <= 2**15
        (20, 16384.5, True)
    """
    bins = _check_bins(bins)
    n, k = zk.code.n, zk.k
    secrets = list(secrets) if secrets is not None else [None] * len(enrolled)
    if len(secrets) != len(enrolled):
        raise InvalidArgument(f"secrets needs one entry per helper: {len(enrolled)} helpers, {len(secrets)}")
    pop = np.asarray(population, dtype=np.float64)
    if pop.ndim != 2 or len(pop) < 2:
        raise InvalidArgument(f"population must be (P, dim) embeddings with P >= 2, got shape {pop.shape}")
    pop_coords = zk.transform.apply(pop / np.linalg.norm(pop, axis=1, keepdims=True))
    rng = np.random.default_rng(seed)
    nonce = bytes(16)
    ranks = []
    cols = np.arange(n)
    face_only_leak: NDArray[np.float64] | None = None
    codebook: dict[int, NDArray[np.float32]] = {}  # +-1 codewords by chunk, kept while k is small
    for emb, secret in zip(enrolled, secrets, strict=True):
        bits, pos, _ = zk.enroll_state(emb, secret=secret, nonce=nonce if secret is not None else b"")
        if secret is not None or face_only_leak is None:
            leak = _population_leak(zk, pop_coords, secret, nonce, bins)
            if secret is None:
                face_only_leak = leak
        else:
            leak = face_only_leak
        l_bits = leak[cols, _bins(pos, bins)]
        message = rng.integers(0, 2, k, dtype=np.uint8)
        sketch = bits ^ zk.code.encode(message)
        l_code = np.where(sketch == 1, -l_bits, l_bits).astype(np.float32)  # w = sketch XOR c
        true = float((1.0 - 2.0 * zk.code.encode(message).astype(np.float32)) @ l_code)
        above = ties = 0
        for start in range(0, 1 << k, _CODEWORD_CHUNK):
            if start not in codebook:
                words = np.arange(start, min(1 << k, start + _CODEWORD_CHUNK))
                msgs = ((words[:, None] >> np.arange(k)) & 1).astype(np.uint8)
                signs = 1.0 - 2.0 * zk.code.encode_batch(msgs).astype(np.float32)
                if k <= _CACHED_K:
                    codebook[start] = signs
            scores = (codebook[start] if k <= _CACHED_K else signs) @ l_code
            above += int((scores > true).sum())
            ties += int((scores == true).sum())
        ranks.append(above + 0.5 * (ties - 1) + 1)
    return GuessworkResult(k, np.array(ranks, dtype=np.float64))


def _population_leak(
    zk: ZeroLeakageKeys, coords: NDArray[np.float64], secret: bytes | None, nonce: bytes, bins: int
) -> NDArray[np.float64]:
    """The attacker's model, (n, bins): log P(bit 0 | bin) / P(bit 1 | bin) per coordinate, from
    the population's photos enrolled one each (under the helper's secret when it has one),
    with add-one smoothing."""
    n = zk.code.n
    y, _, dither = zk.probe_coords(coords, 1, secret=secret, nonce=nonce if secret is not None else b"")
    pb, pp = quantize(y, dither)
    table = np.ones((n, bins, 2))
    np.add.at(table, (np.broadcast_to(np.arange(n), pb.shape), _bins(pp, bins), pb), 1.0)
    out: NDArray[np.float64] = np.log(table[..., 0] / table[..., 1])
    return out


@dataclass(frozen=True)
class LeakageResult:
    """Outcome of :func:`position_leakage`."""

    enrollments: int
    mi_bits: NDArray[np.float64]
    """Per coordinate: the Miller-Madow corrected plug-in mutual information (bits) between the
    enrolled bit and its position's bin; can be slightly negative when there is none."""
    ks_statistic: float
    ks_p: float
    bits_mean: float

    def summary(self) -> dict[str, Any]:
        return {
            "enrollments": self.enrollments,
            "mi_bits_per_coordinate_mean": float(self.mi_bits.mean()),
            "mi_bits_total": float(self.mi_bits.sum()),
            "mi_bits_max": float(self.mi_bits.max()),
            "ks_statistic": self.ks_statistic,
            "ks_p": self.ks_p,
            "bits_mean": self.bits_mean,
        }


def ks_uniform(u: Any) -> tuple[float, float]:
    """Kolmogorov-Smirnov test of samples ``u`` against the uniform law on [0, 1]: ``(D, p)``.

    :math:`D = \\sup_x |F_n(x) - x|`; the p-value is the asymptotic Kolmogorov
    law at :math:`\\lambda = (\\sqrt{n} + 0.12 + 0.11/\\sqrt{n})\\,D` (Stephens'
    correction), :math:`p = 2\\sum_{j \\ge 1} (-1)^{j-1} e^{-2 j^2 \\lambda^2}`,
    within 0.02 of the exact p-value for n >= 35 and a few per mille for n >= 500 (checked
    against scipy in the tests).

    Example:
        >>> import numpy as np
        >>> from fuzzykey.evaluation.attacks import ks_uniform
        >>> d, p = ks_uniform(np.random.default_rng(0).random(10_000))
        >>> d < 0.02, p > 0.01
        (True, True)
    """
    x = np.sort(np.asarray(u, dtype=np.float64).ravel())
    if not len(x) or not np.isfinite(x).all() or x[0] < 0 or x[-1] > 1:
        raise InvalidArgument("ks_uniform takes a non-empty array of numbers in [0, 1]")
    n = len(x)
    i = np.arange(1, n + 1)
    d = float(max((i / n - x).max(), (x - (i - 1) / n).max()))
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    if lam < 0.2:
        return d, 1.0
    j = np.arange(1, 101)
    p = float(2.0 * np.sum((-1.0) ** (j - 1) * np.exp(-2.0 * j * j * lam * lam)))
    return d, min(1.0, max(0.0, p))


def position_leakage(
    zk: ZeroLeakageKeys, enrolled: Sequence[Any], *, bins: int = 16
) -> LeakageResult:
    """Mutual information between enrolled bits and their stored positions, and the positions'
    uniformity, over face-only enrollments of ``enrolled`` (one entry per person).

    MI per coordinate: the plug-in estimate from the (bit, bin) counts less the
    Miller-Madow bias :math:`(C - 1)/(2N \\ln 2)` with C the occupied cells net of the
    margins; KS: :func:`ks_uniform` of all positions (their cell centres).

    Example:
        >>> import numpy as np
        >>> from fuzzykey.facekeys import ZeroLeakageKeys
        >>> from fuzzykey.evaluation.attacks import position_leakage
        >>> faces = np.random.default_rng(1).standard_normal((400, 128))
        >>> leak = position_leakage(ZeroLeakageKeys(), list(faces))
        >>> leak.enrollments, leak.mi_bits.shape, 0.0 <= leak.ks_p <= 1.0
        (400, (128,), True)
    """
    bins = _check_bins(bins)
    if len(enrolled) < 2:
        raise InvalidArgument(f"position_leakage needs at least 2 enrollments, got {len(enrolled)}")
    states = [zk.enroll_state(e) for e in enrolled]
    bits = np.stack([s[0] for s in states])
    pos = np.stack([s[1] for s in states])
    mi = mutual_information_bits(bits, _bins(pos, bins), bins)
    d, p = ks_uniform((pos.astype(np.float64).ravel() + 0.5) / _POSITION_STEPS)
    return LeakageResult(len(bits), mi, d, p, float(bits.mean()))


def mutual_information_bits(bits: Any, cells: Any, bins: int) -> NDArray[np.float64]:
    """Per column j: the Miller-Madow corrected plug-in mutual information (bits) between
    ``bits[:, j]`` (0/1) and ``cells[:, j]`` (0..bins-1), from N rows.

    :math:`\\hat I = \\sum_{b,q} \\hat p(b,q) \\log_2 \\frac{\\hat p(b,q)}{\\hat p(b)\\hat p(q)}
    - \\frac{K_{bq} - K_b - K_q + 1}{2N \\ln 2}`, with K the occupied cells of the joint
    table and of its two margins.

    Example:
        >>> import numpy as np
        >>> from fuzzykey.evaluation.attacks import mutual_information_bits
        >>> cells = np.arange(1000).reshape(-1, 1) % 4
        >>> round(float(mutual_information_bits(cells >= 2, cells, 4)[0]), 3)   # the bit is in the cell
        1.001
    """
    b = np.asarray(bits)
    q = np.asarray(cells)
    if b.ndim != 2 or b.shape != q.shape or not len(b):
        raise InvalidArgument(f"bits and cells must be equal (N, n) arrays, got {b.shape} and {q.shape}")
    if not np.isin(b, (0, 1)).all() or q.dtype.kind not in "iu" or q.min() < 0 or q.max() >= bins:
        raise InvalidArgument(f"bits must be 0/1 and cells integers in [0, {bins})")
    big_n, n = b.shape
    b = b.astype(np.int64)
    mi = np.empty(n)
    for j in range(n):
        joint = np.zeros((2, bins))
        np.add.at(joint, (b[:, j], q[:, j]), 1.0)
        pj = joint / big_n
        pb, pw = pj.sum(1, keepdims=True), pj.sum(0, keepdims=True)
        nz = pj > 0
        plug = float((pj[nz] * np.log2(pj[nz] / (pb @ pw)[nz])).sum())
        occupied = int(nz.sum()) - int((pb > 0).sum()) - int((pw > 0).sum()) + 1
        mi[j] = plug - occupied / (2 * big_n * math.log(2))
    return mi
