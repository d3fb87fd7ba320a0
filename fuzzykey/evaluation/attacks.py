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
from ..header import read_helper_header
from ..helper import HelperData
from ..keygen import KeyGen

__all__ = ["StructuralAttackResult", "DictionaryAttackResult", "structural_attack", "dictionary_attack"]


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
