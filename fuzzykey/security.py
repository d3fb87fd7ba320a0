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
from .header import KeyMode, Mode

__all__ = ["SecurityEstimate", "measured_figures", "estimate", "zero_leakage_estimate", "security_notes"]

_NOTES: dict[str, str] = {
    "secret": (
        "Helper stolen: as strong as the secret (a password: one scrypt per offline guess). "
        "Secret stolen too: the key falls without the face (the helper's selection gives the "
        "enrolled bits; fuzzykey.evaluation.attacks.structural_attack). A photo of the person "
        "adds nothing without the secret: the face is a presence factor, not secrecy."
    ),
    "face-only": (
        "Helper stolen: at most 2^k candidates, one Argon2id each. A photo of the person, which "
        "is public, reproduces the key; so does a look-alike's, at the measured FAR (far_bits_95: "
        "every other person's photo tried). There is no secret to steal."
    ),
    "two-factor": (
        "Helper stolen: as strong as the secret. Secret stolen too: as face-only, at most 2^k "
        "candidates, one Argon2id each, and look-alikes' photos at the measured FAR. A photo of "
        "the person: nothing without the secret, the key with it."
    ),
}
_SIGN_BIT_NOTES = (
    "Sign-bit face-only helper (older scheme): at most k bits given the helper, no key stretching; "
    "a photo of the person reproduces the key. Re-enroll for a zero-leakage face-only key."
)


def security_notes(mode: str, *, sign_bits: bool = False) -> str:
    """What a mode withstands (helper stolen, secret stolen, both, a photo of the person), in words.

    ``sign_bits``: the face-only helpers of the older sign-bit scheme."""
    if sign_bits and mode == "face-only":
        return _SIGN_BIT_NOTES
    return _NOTES.get(mode, "unknown mode")


@dataclass(frozen=True)
class SecurityEstimate:
    """What a key from one mode is worth, each figure labelled for what it means."""

    mode: KeyMode
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
    code_name: str = ""
    """The code in words (``BCH(n=1023, t=155)``, ``linear [128, 16] ...``)."""

    def __str__(self) -> str:
        code = self.code_name or f"BCH(n={self.code_n}, t={self.code_t})"
        lines = [
            f"mode: {self.mode}",
            f"code: {code}, k = {self.code_k_bits} bits (upper bound on key entropy given the helper)",
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
    """The :class:`SecurityEstimate` of a binarizer + BCH mode using ``code`` in ``pipeline``."""
    return SecurityEstimate(
        mode, code.n, code.t, code.k, code.n - code.k, measured_figures(pipeline),
        security_notes(mode, sign_bits=True), f"BCH(n={code.n}, t={code.t})",
    )


@functools.cache
def _shipped_zero_leakage() -> dict[str, Any]:
    try:
        text = resources.files("fuzzykey").joinpath("data/security_zl_v1.json").read_text("utf-8")
    except (FileNotFoundError, OSError):
        return {}
    doc = json.loads(text)
    return doc if isinstance(doc, dict) else {}


def zero_leakage_estimate(mode: KeyMode, n: int, k: int, pipeline: Mapping[str, Any]) -> SecurityEstimate:
    """The :class:`SecurityEstimate` of a zero-leakage mode ("face-only" or "two-factor") with an
    [n, k] code; measured figures (``benchmarks/zero_leakage.py --write-security``) when
    ``pipeline`` is the one measured."""
    doc = _shipped_zero_leakage()
    entry = doc.get("schemes", {}).get(mode) if isinstance(doc.get("schemes"), dict) else None
    measured: dict[str, Any] = {}
    if isinstance(entry, dict) and entry.get("pipeline") == dict(pipeline):
        measured = dict(entry.get("figures", {}))
        measured["measured_on"] = doc.get("data", "")
        measured["command"] = doc.get("command", "")
    return SecurityEstimate(
        mode, n, 0, k, n - k, measured, _NOTES[mode], f"linear [{n}, {k}] (nested BCH, ML soft decoding)"
    )
