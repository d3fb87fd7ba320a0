"""The KeyGen header: the JSON that :class:`~fuzzykey.KeyGen` keeps in a helper's metadata.

A :class:`~fuzzykey.helper.HelperData` carries opaque, authenticated metadata;
KeyGen fills it with a compact JSON object, parsed and checked here and nowhere
else. Version 1::

    {"format": "fuzzykey/keygen", "version": 1,
     "mode": "secret" | "face-only",
     "encoder": str, "detector": str,        # names of the models that made the embedding
     "binarizer": {...},                     # the binarizer's describe()
     "images": int,                          # enrollment photos averaged
     "nonce": hex, "selection": base64,      # secret mode only (the binarizer's state)
     "app": {...}}                           # optional public application fields

Everything in it is public. It is authenticated by the helper's tag, which only
someone who reproduces the key can check: before that, every field is
attacker-controlled and is validated before use.

The *pipeline* of a helper (:func:`helper_pipeline`) is what must match the
reproducing KeyGen's (:meth:`KeyGen.pipeline <fuzzykey.KeyGen.pipeline>`) for
the key to come out: mode, encoder, detector, binarizer description and code.
The same fingerprint labels the measured figures shipped in
``fuzzykey/data/security_v1.json``.

Example:
    >>> import numpy as np
    >>> from fuzzykey import KeyGen
    >>> from fuzzykey.header import helper_pipeline, read_helper_header
    >>> emb = np.random.default_rng(1).standard_normal(128).astype(np.float32)
    >>> kg = KeyGen()
    >>> key, helper = kg.enroll_embedding(emb)
    >>> h, header = read_helper_header(helper)
    >>> header["mode"], header["images"], header["encoder"]
    ('face-only', 1, 'sface-2021dec-int8bq')
    >>> helper_pipeline(h, header) == kg.pipeline("face-only")
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from .errors import InvalidArgument, InvalidHelperData
from .helper import HelperData

__all__ = [
    "Mode",
    "MODES",
    "HEADER_FORMAT",
    "HEADER_VERSION",
    "encode_header",
    "read_helper_header",
    "helper_pipeline",
    "pipeline_fingerprint",
    "check_public",
]

Mode = Literal["secret", "face-only"]
MODES: tuple[Mode, ...] = ("secret", "face-only")
HEADER_FORMAT = "fuzzykey/keygen"
HEADER_VERSION = 1
MAX_PUBLIC_BYTES = 4096

_REQUIRED = frozenset({"mode", "encoder", "detector", "binarizer", "images"})
_REQUIRED_BY_MODE: dict[str, frozenset[str]] = {
    "secret": frozenset({"nonce", "selection"}),
    "face-only": frozenset(),
}
_NO_HEADER = "the helper has no KeyGen header (was it made by FuzzyExtractor directly?)"


def encode_header(fields: Mapping[str, Any]) -> bytes:
    """The header bytes for ``fields`` (format and version added): compact, sorted JSON."""
    doc = {"format": HEADER_FORMAT, "version": HEADER_VERSION, **fields}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def read_helper_header(helper: HelperData | bytes) -> tuple[HelperData, dict[str, Any]]:
    """Parse helper bytes and their KeyGen header (public; authenticated only by the tag).

    Raises:
        InvalidHelperData: malformed helper bytes, no KeyGen header, an
            unsupported header version, or missing fields.
    """
    h = helper if isinstance(helper, HelperData) else HelperData.from_bytes(helper)
    try:
        header = json.loads(h.metadata.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidHelperData(_NO_HEADER) from exc
    if not isinstance(header, dict) or header.get("format") != HEADER_FORMAT:
        raise InvalidHelperData(_NO_HEADER)
    if header.get("version") != HEADER_VERSION:
        raise InvalidHelperData(
            f"KeyGen header version {header.get('version')!r} is not supported "
            f"(this fuzzykey reads version {HEADER_VERSION})"
        )
    mode = header.get("mode")
    required = _REQUIRED | _REQUIRED_BY_MODE.get(mode if isinstance(mode, str) else "", frozenset())
    missing = sorted(required - header.keys())
    if missing or mode not in MODES:
        raise InvalidHelperData(f"KeyGen header is incomplete or has an unknown mode (missing {missing})")
    return h, header


def pipeline_fingerprint(
    mode: Mode, *, encoder: str, detector: str, binarizer: Mapping[str, Any], code: tuple[int, int, int]
) -> dict[str, Any]:
    """The parts that must be equal for a helper to reproduce: ``code`` is ``(m, t, n)``."""
    return {
        "mode": mode,
        "encoder": encoder,
        "detector": detector,
        "binarizer": dict(binarizer),
        "code": list(code),
    }


def helper_pipeline(h: HelperData, header: Mapping[str, Any]) -> dict[str, Any]:
    """The pipeline fingerprint recorded in a helper (see :func:`pipeline_fingerprint`)."""
    binarizer = header["binarizer"]
    return pipeline_fingerprint(
        header["mode"],
        encoder=header["encoder"],
        detector=header["detector"],
        binarizer=binarizer if isinstance(binarizer, Mapping) else {"invalid": binarizer},
        code=(h.m, h.t, h.n),
    )


def check_public(public: Any) -> dict[str, Any] | None:
    """Application fields for the header: a mapping of JSON values, at most 4 KiB as JSON."""
    if public is None:
        return None
    if not isinstance(public, Mapping) or not all(isinstance(k, str) for k in public):
        raise InvalidArgument(f"public must be a mapping with str keys, got {type(public).__name__}")
    try:
        text = json.dumps(dict(public), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"public must hold JSON values only: {exc}") from exc
    if len(text) > MAX_PUBLIC_BYTES:
        raise InvalidArgument(f"public takes at most {MAX_PUBLIC_BYTES} bytes as JSON, got {len(text)}")
    out: dict[str, Any] = json.loads(text)
    return out
