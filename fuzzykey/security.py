"""What a key is worth: the code bound and the figures measured for the shipped pipeline.

:class:`SecurityEstimate` is what :meth:`KeyGen.security <fuzzykey.KeyGen.security>`
and :attr:`Enrollment.security <fuzzykey.keygen.Enrollment.security>` report for a
mode: the code-offset bound k (with code-offset, :math:`H(w \\mid helper) \\le k`,
so 2^k guesses suffice) and, when the KeyGen's pipeline is the one measured, the
figures ``benchmarks/keys.py --write-security`` wrote to
``fuzzykey/data/security_v1.json`` (FRR, FAR, −log2 FAR, impostor degrees of
freedom, attacks), each with the command and data that produced it.

Example:
    >>> from fuzzykey import BCHCode
    >>> from fuzzykey.security import estimate
    >>> est = estimate("face-only", BCHCode(10, 223), {"mode": "not the shipped pipeline"})
    >>> est.code_k_bits, est.entropy_loss_bits, est.measured
    (36, 987, {})
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .bch import BCHCode
from .header import Mode

__all__ = ["SecurityEstimate", "measured_figures", "estimate"]

_NOTES: dict[str, str] = {
    "secret": (
        "The face adds no secrecy against someone holding both the helper and the secret "
        "(fuzzykey.evaluation.attacks.structural_attack recovers the key then)."
    ),
    "face-only": (
        "Face-only: at most k bits of entropy given the helper; a determined attacker "
        "enumerates 2^k codewords. Prefer a secret."
    ),
}


@dataclass(frozen=True)
class SecurityEstimate:
    """What a key from one mode is worth, each figure labelled for what it means."""

    mode: Mode
    code_n: int
    code_t: int
    code_k_bits: int
    """Upper bound: with code-offset, H(w | helper) <= k, so 2^k guesses suffice."""
    entropy_loss_bits: int
    """n - k: the most the sketch reveals about the enrolled bits."""
    measured: dict[str, Any] = field(default_factory=dict)
    """Figures measured by ``benchmarks/keys.py`` on LFW people disjoint from any
    fitting (FRR, FAR, -log2 FAR, impostor degrees of freedom, attacks), with the
    command and data that produced them; empty if not measured for this pipeline."""
    notes: str = ""

    def __str__(self) -> str:
        lines = [
            f"mode: {self.mode}",
            f"code: BCH(n={self.code_n}, t={self.code_t}), "
            f"k = {self.code_k_bits} bits (upper bound on key entropy given the helper)",
        ]
        for name, value in self.measured.items():
            lines.append(f"{name}: {value}")
        if self.notes:
            lines.append(self.notes)
        return "\n".join(lines)


@functools.cache
def _shipped() -> dict[str, Any]:
    try:
        text = resources.files("fuzzykey").joinpath("data/security_v1.json").read_text("utf-8")
    except (FileNotFoundError, OSError):
        return {}
    doc = json.loads(text)
    return doc if isinstance(doc, dict) else {}


def measured_figures(pipeline: Mapping[str, Any]) -> dict[str, Any]:
    """The shipped figures of the scheme whose pipeline fingerprint equals ``pipeline``
    (see :func:`fuzzykey.header.pipeline_fingerprint`); empty when none was measured."""
    doc = _shipped()
    schemes = doc.get("schemes", {})
    entry = schemes.get(pipeline.get("mode")) if isinstance(schemes, dict) else None
    if not isinstance(entry, dict) or entry.get("pipeline") != dict(pipeline):
        return {}
    out = dict(entry.get("figures", {}))
    out["measured_on"] = doc.get("data", "")
    out["command"] = doc.get("command", "")
    return out


def estimate(mode: Mode, code: BCHCode, pipeline: Mapping[str, Any]) -> SecurityEstimate:
    """The :class:`SecurityEstimate` of a mode using ``code`` in the pipeline ``pipeline``."""
    return SecurityEstimate(
        mode, code.n, code.t, code.k, code.n - code.k, measured_figures(pipeline), _NOTES[mode]
    )
