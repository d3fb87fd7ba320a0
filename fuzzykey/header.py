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
attacker-controlled and is validated before use. Parsing is bounded before the
JSON parser runs: at most :data:`MAX_HEADER_BYTES` bytes, nesting at most
:data:`MAX_DEPTH` deep, numbers of at most :data:`MAX_NUMBER_CHARS` characters,
no ``NaN`` or ``Infinity``; anything else is :class:`~fuzzykey.errors.InvalidHelperData`.

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
    >>> key, helper = kg.enroll_embedding(emb, secret=bytes(range(32)))
    >>> h, header = read_helper_header(helper)
    >>> header["mode"], header["images"], header["encoder"]
    ('secret', 1, 'sface-2021dec-int8bq')
    >>> helper_pipeline(h, header) == kg.pipeline("secret")
    True

Zero-leakage helpers ("face-only" and "two-factor" since their introduction) carry
their own header, read by :func:`fuzzykey.facekeys.read_zero_leakage_header`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from .errors import InvalidArgument, InvalidHelperData
from .helper import HelperData
from .kdf import Argon2id

__all__ = [
    "Mode",
    "MODES",
    "KeyMode",
    "KEY_MODES",
    "HEADER_FORMAT",
    "HEADER_VERSION",
    "encode_header",
    "read_helper_header",
    "helper_pipeline",
    "pipeline_fingerprint",
    "check_public",
    "parse_header_json",
    "MAX_HEADER_BYTES",
    "MAX_DEPTH",
    "MAX_NUMBER_CHARS",
]

Mode = Literal["secret", "face-only"]
#: The schemes of KeyGen-format headers (binarizer + BCH): "secret", and the sign-bit
#: face-only scheme of helpers written before the zero-leakage modes.
MODES: tuple[Mode, ...] = ("secret", "face-only")
KeyMode = Literal["secret", "face-only", "two-factor"]
#: The modes :meth:`KeyGen.enroll <fuzzykey.KeyGen.enroll>` offers: "secret" (binarizer + BCH),
#: "face-only" and "two-factor" (zero-leakage, :mod:`fuzzykey.facekeys`).
KEY_MODES: tuple[KeyMode, ...] = ("secret", "face-only", "two-factor")
HEADER_FORMAT = "fuzzykey/keygen"
HEADER_VERSION = 1
MAX_PUBLIC_BYTES = 4096
#: Largest header accepted: a 65,535-bit selection in base64 plus the other fields fits.
MAX_HEADER_BYTES = 256 * 1024
#: Deepest nesting of arrays and objects accepted (KeyGen writes 3 levels; app fields add a few).
MAX_DEPTH = 16
#: Longest number literal accepted (an int64 has 19 digits; a float's repr at most 24 characters).
MAX_NUMBER_CHARS = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")

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


def _depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text, brackets inside strings not counted."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _number(kind: type[int] | type[float]) -> Any:
    def parse(literal: str) -> int | float:
        if len(literal) > MAX_NUMBER_CHARS:
            raise InvalidHelperData(
                f"the KeyGen header holds a number of {len(literal)} characters (at most {MAX_NUMBER_CHARS})"
            )
        return kind(literal)

    return parse


def _no_constant(name: str) -> Any:
    raise InvalidHelperData(f"the KeyGen header holds {name}, which is not JSON")


def parse_header_json(metadata: bytes) -> Any:
    """The JSON value of header bytes, parsed within the bounds in the module docstring.

    Raises:
        InvalidHelperData: not UTF-8 JSON, or over a bound (checked before parsing
            for size and depth, while parsing for numbers).
    """
    if len(metadata) > MAX_HEADER_BYTES:
        raise InvalidHelperData(f"the KeyGen header is {len(metadata)} bytes (at most {MAX_HEADER_BYTES})")
    try:
        text = metadata.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidHelperData(_NO_HEADER) from exc
    if _depth(text) > MAX_DEPTH:
        raise InvalidHelperData(f"the KeyGen header is nested more than {MAX_DEPTH} deep")
    try:
        return json.loads(
            text, parse_int=_number(int), parse_float=_number(float), parse_constant=_no_constant
        )
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidHelperData(_NO_HEADER) from exc


def read_helper_header(helper: HelperData | bytes) -> tuple[HelperData, dict[str, Any]]:
    """Parse helper bytes and their KeyGen header (public; authenticated only by the tag).

    Raises:
        InvalidHelperData: malformed helper bytes, no KeyGen header, an
            unsupported header version, missing fields, or a header over the
            parsing bounds.
    """
    h = helper if isinstance(helper, HelperData) else HelperData.from_bytes(helper)
    header = parse_header_json(h.metadata)
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
    mode: Mode,
    *,
    encoder: str,
    detector: str,
    binarizer: Mapping[str, Any],
    code: tuple[int, int, int],
    kdf: Argon2id | None = None,
) -> dict[str, Any]:
    """The parts that must be equal for a helper to reproduce: ``code`` is ``(m, t, n)``;
    ``kdf``, the key stretching, appears only when there is one."""
    out: dict[str, Any] = {
        "mode": mode,
        "encoder": encoder,
        "detector": detector,
        "binarizer": dict(binarizer),
        "code": list(code),
    }
    if kdf is not None:
        out["kdf"] = {"argon2id": [kdf.time_cost, kdf.memory_kib, kdf.lanes]}
    return out


def helper_pipeline(h: HelperData, header: Mapping[str, Any]) -> dict[str, Any]:
    """The pipeline fingerprint recorded in a helper (see :func:`pipeline_fingerprint`)."""
    binarizer = header["binarizer"]
    return pipeline_fingerprint(
        header["mode"],
        encoder=header["encoder"],
        detector=header["detector"],
        binarizer=binarizer if isinstance(binarizer, Mapping) else {"invalid": binarizer},
        code=(h.m, h.t, h.n),
        kdf=h.kdf,
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
    if _depth(text) > MAX_DEPTH - 2:  # the header puts it two levels down
        raise InvalidArgument(f"public may nest at most {MAX_DEPTH - 2} deep")
    out: dict[str, Any] = json.loads(text)
    return out
