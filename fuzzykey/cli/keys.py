"""``fuzzykey enroll``, ``reproduce`` and ``info``: keys and helper files from photos.

The helper file is public; the key goes to stdout in hex or, with ``--key-out``,
to a new file of mode 0600. A secret (``--secret-file`` or ``--password``) is
strongly recommended: face-only keys are weak (see :class:`fuzzykey.KeyGen`).
With ``--password`` the scrypt salt and cost are kept in the helper as a
:class:`~fuzzykey.passwords.PasswordRecord`.

The commands use the :class:`~fuzzykey.KeyGen` found in the click context's
``obj`` when there is one (``CliRunner().invoke(main, args, obj=kg)`` shares
loaded models between invocations) and :meth:`KeyGen.from_pretrained` otherwise.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from ..errors import PipelineMismatch
from ..facekeys import read_zero_leakage_header
from ..header import KeyMode, read_helper_header
from ..helper import HelperData
from ..keygen import SECRET_MIN_BYTES, KeyGen, helper_format
from ..passwords import SCRYPT_N_DEFAULT, PasswordRecord, valid_scrypt_n
from ..security import security_notes
from .errors import fail, warn
from .files import (
    check_distinct,
    check_images,
    check_new_file,
    emit_key,
    public_file_mode,
    read_helper_file,
    read_secret_file,
    write_atomic,
    write_new_key,
)

__all__ = ["enroll", "reproduce", "info", "SCRYPT_N_ENV"]

SCRYPT_N_ENV = "FUZZYKEY_SCRYPT_N"

F = TypeVar("F", bound=Callable[..., Any])


def _secret_options(f: F) -> F:
    f = click.option(
        "--password",
        is_flag=True,
        help="Prompt for a password (never echoed; Unicode NFC-normalized) and derive the secret "
        "from it with scrypt.",
    )(f)
    f = click.option(
        "--secret-file",
        type=click.Path(path_type=Path),
        default=None,
        metavar="PATH",
        help=f"Use this file's bytes, as they are, as the secret (at least {SECRET_MIN_BYTES} bytes).",
    )(f)
    return f


def _key_out_option(f: F) -> F:
    return click.option(
        "--key-out",
        type=click.Path(path_type=Path),
        default=None,
        metavar="PATH",
        help="Write the raw key to this new file (mode 0600) instead of printing it in hex.",
    )(f)


def _scrypt_n() -> int:
    """The scrypt cost for a new password enrollment: ``$FUZZYKEY_SCRYPT_N`` or the default."""
    raw = os.environ.get(SCRYPT_N_ENV)
    if raw is None or not raw.strip():
        return SCRYPT_N_DEFAULT
    try:
        n = int(raw.strip(), 0)
    except ValueError:
        n = -1
    if not valid_scrypt_n(n):
        raise fail(f"{SCRYPT_N_ENV} must be a power of two from 2^14 to 2^20, got {raw!r}")
    return n


def _prompt_password(confirm: bool) -> str:
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=confirm, err=True, type=str)
    # the same password typed on another terminal or input method gives the same bytes
    return unicodedata.normalize("NFC", password)


def _keygen() -> KeyGen:
    """The KeyGen in the click context's ``obj``, or the pretrained one."""
    obj = click.get_current_context().obj
    return obj if isinstance(obj, KeyGen) else KeyGen.from_pretrained()


# --------------------------------------------------------------------------- enroll
@click.command(short_help="Enroll photos of one person: print the key, write the helper.")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Write the helper data (public) to this file.",
)
@_key_out_option
@_secret_options
@click.option(
    "--mode",
    type=click.Choice(["secret", "two-factor", "face-only"]),
    default=None,
    help="secret (with a secret: the face is a presence factor), two-factor (with a secret: "
    "zero-leakage face bits that still hold k bits if the secret is stolen), face-only (no secret). "
    "Default: face-only without a secret, secret with one.",
)
@click.option("--force", is_flag=True, help="Replace existing --out / --key-out files.")
def enroll(
    images: tuple[Path, ...],
    out: Path,
    key_out: Path | None,
    secret_file: Path | None,
    password: bool,
    mode: str | None,
    force: bool,
) -> None:
    """Enroll IMAGE... (photos of one person, averaged) and print the key.

    Writes the public helper data to --out and prints the key in hex on
    stdout, or writes the raw key to --key-out (mode 0600). With
    --password the scrypt salt and cost are stored in the helper; set
    FUZZYKEY_SCRYPT_N (a power of two, default 2^17) to change the cost.
    Without --secret-file or --password the key comes from the face
    alone: at most k = 16 bits given the helper (each guess one Argon2id),
    and anyone with a photo of the person can reproduce it.
    """
    if secret_file is not None and password:
        raise fail("pass either --secret-file or --password, not both")
    check_images(images)
    check_new_file(out, "helper file", force)
    check_new_file(key_out, "key file", force)
    check_distinct(
        [("--out", out), ("--key-out", key_out), ("--secret-file", secret_file)]
        + [(f"image {i + 1}", image) for i, image in enumerate(images)]
    )

    secret: bytes | None = None
    public: dict[str, Any] | None = None
    if secret_file is not None:
        secret = read_secret_file(secret_file)
    elif password:
        record = PasswordRecord.new(_scrypt_n())
        secret = record.secret(_prompt_password(confirm=True))
        public = {"password": record.to_json()}

    enrollment = _keygen().enroll(
        list(images), secret=secret, public=public, mode=cast(KeyMode | None, mode)
    )
    for image, face in zip(images, enrollment.faces, strict=False):
        if face.n_faces > 1:
            warn(f"{face.n_faces} faces found in {str(image)!r}; the largest was used")
    if secret is None:
        sec = enrollment.security
        frr = sec.measured.get("frr")
        measured = ""
        if isinstance(frr, float):
            measured = f", and ~{frr:.0%} of genuine photos fail to reproduce it"
        warn(
            f"face-only key: at most {sec.code_k_bits} bits of entropy given the helper{measured}, and "
            "a photo of the person reproduces it; use --secret-file or --password"
        )

    # Both outputs or neither: the key file first (the likelier to fail: new, 0600,
    # never through a symlink), then the helper; if the helper fails, the key goes.
    if key_out is not None:
        write_new_key(key_out, enrollment.key, force)
        try:
            write_atomic(out, enrollment.helper, public_file_mode(), replace=force)
        except BaseException:
            key_out.unlink(missing_ok=True)
            raise
        return
    write_atomic(out, enrollment.helper, public_file_mode(), replace=force)
    emit_key(enrollment.key, None, force)


# --------------------------------------------------------------------------- reproduce
@click.command(short_help="Reproduce the key from another photo and the helper.")
@click.argument("image", type=click.Path(path_type=Path))
@click.option(
    "--helper",
    "helper_path",
    required=True,
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="The helper file written by enroll.",
)
@_key_out_option
@_secret_options
@click.option("--force", is_flag=True, help="Replace an existing --key-out file.")
def reproduce(
    image: Path,
    helper_path: Path,
    key_out: Path | None,
    secret_file: Path | None,
    password: bool,
    force: bool,
) -> None:
    """Reproduce the enrolled key from IMAGE and the helper file.

    Prints the key in hex on stdout, or writes the raw key to --key-out
    (mode 0600). Give the secret the helper was enrolled with
    (--secret-file, or --password if the helper records a password).
    Exits 1 if the key cannot be reproduced; a wrong key never comes out.
    """
    if secret_file is not None and password:
        raise fail("pass either --secret-file or --password, not both")
    helper = read_helper_file(helper_path)
    mode, app = _mode_and_app(helper)
    record = PasswordRecord.from_public(app)
    if mode == "face-only":
        if secret_file is not None or password:
            raise PipelineMismatch(
                "this helper was enrolled from the face alone; do not pass --secret-file or --password"
            )
    elif record is not None and not password:
        raise PipelineMismatch("this helper was enrolled with a password; pass --password")
    elif record is None and password:
        raise PipelineMismatch(
            "this helper records no password (it was enrolled with a secret file); pass --secret-file"
        )
    elif record is None and secret_file is None:
        raise PipelineMismatch("this helper was enrolled with a secret; pass --secret-file")
    check_images([image])
    check_new_file(key_out, "key file", force)
    check_distinct(
        [
            ("--key-out", key_out),
            ("--helper", helper_path),
            ("--secret-file", secret_file),
            ("the image", image),
        ]
    )

    secret: bytes | None = None
    if secret_file is not None:
        secret = read_secret_file(secret_file)
    elif record is not None:
        secret = record.secret(_prompt_password(confirm=False))

    key = _keygen().reproduce(image, helper, secret=secret)
    emit_key(key, key_out, force)


# --------------------------------------------------------------------------- info
def _mode_and_app(raw: bytes) -> tuple[str, Any]:
    """The mode and the application fields a helper of either format records."""
    h, zero_leakage = helper_format(raw)
    if zero_leakage:
        _, zl = read_zero_leakage_header(h, h.n)
        return zl.mode, zl.app
    _, header = read_helper_header(h)
    return str(header["mode"]), header.get("app")


def _describe(path: Path, raw: bytes) -> dict[str, Any]:
    h, zero_leakage = helper_format(raw)
    if zero_leakage:
        return _describe_zero_leakage(path, raw, h)
    h, header = read_helper_header(raw)
    record = PasswordRecord.from_public(header.get("app"))
    psi = header["binarizer"] if isinstance(header["binarizer"], dict) else {}
    binarizer = {
        name: psi[name] for name in ("kind", "n_bits", "n_candidates", "center", "dim") if name in psi
    }
    app = header.get("app")
    return {
        "file": str(path),
        "size_bytes": len(raw),
        "helper_version": h.version,
        "header_version": header["version"],
        "mode": header["mode"],
        "encoder": header["encoder"],
        "detector": header["detector"],
        "binarizer": binarizer,
        "code": {"kind": h.code_kind, "n": h.n, "k": h.k, "t": h.t, "m": h.m},
        "kdf": None if h.kdf is None else repr(h.kdf),
        "key_bytes": h.key_bytes,
        "images": header["images"],
        "password": None
        if record is None
        else {"salt_bytes": len(record.salt), "n": record.n, "r": record.r, "p": record.p},
        "app_fields": sorted(app) if isinstance(app, dict) else [],
        "withstands": security_notes(header["mode"], sign_bits=True),
    }


def _describe_zero_leakage(path: Path, raw: bytes, h: HelperData) -> dict[str, Any]:
    _, header = read_zero_leakage_header(h, h.n)
    record = PasswordRecord.from_public(header.app)
    return {
        "file": str(path),
        "size_bytes": len(raw),
        "helper_version": h.version,
        "header_version": 1,
        "mode": header.mode,
        "encoder": header.encoder,
        "detector": header.detector,
        "binarizer": {
            "kind": "zero-leakage",
            "transform": header.transform,
            "n_bits": h.n,
            "position_bits": 16,
            "gate": header.gate,
        },
        "code": {"kind": h.code_kind, "n": h.n, "k": h.k, "digest": h.code_digest.hex()},
        "kdf": None if h.kdf is None else repr(h.kdf),
        "key_bytes": h.key_bytes,
        "images": header.photos,
        "password": None
        if record is None
        else {"salt_bytes": len(record.salt), "n": record.n, "r": record.r, "p": record.p},
        "app_fields": sorted(header.app) if header.app else [],
        "withstands": security_notes(header.mode),
    }


def _info_text(d: dict[str, Any]) -> str:
    b = d["binarizer"]
    psi = str(b.get("kind", "?"))
    if "n_candidates" in b:
        psi += f", {b.get('n_bits')} bits selected of {b['n_candidates']} projections"
    elif "n_bits" in b:
        psi += f", {b['n_bits']} bits"
    if "center" in b:
        psi += f", center {b['center']}"
    if "transform" in b:
        psi += f", transform {b['transform']}, {b['position_bits']}-bit positions, gate {b['gate']:.3g}"
    c = d["code"]
    if c["kind"] == "linear":
        code = f"linear [{c['n']}, {c['k']}] (ML soft decoding), generator digest {str(c['digest'])[:16]}..."
    else:
        code = f"BCH(n={c['n']}, k={c['k']}, t={c['t']}, m={c['m']})"
    if d["mode"] == "face-only":
        secret = "none (face-only key)"
    elif d["mode"] == "two-factor" and d["password"] is None:
        secret = "secret file or device key (not recorded), mixed into the face bits and the key"
    elif d["password"] is not None:
        pw = d["password"]
        secret = (
            f"password (scrypt salt of {pw['salt_bytes']} bytes recorded, "
            f"n={pw['n']}, r={pw['r']}, p={pw['p']})"
        )
    else:
        secret = "secret file or device key (not recorded)"
    lines = [
        f"helper: {d['file']} ({d['size_bytes']} bytes)",
        f"format: helper data version {d['helper_version']}, KeyGen header version {d['header_version']}",
        f"mode: {d['mode']}",
        f"encoder: {d['encoder']}",
        f"detector: {d['detector']}",
        f"binarizer: {psi}",
        f"code: {code}",
        f"key stretching: {d['kdf'] or 'none'}",
        f"key: {d['key_bytes']} bytes (at most {c['k']} bits of entropy given the helper)",
        f"enrollment images: {d['images']}",
        f"secret: {secret}",
        f"withstands: {d['withstands']}",
    ]
    others = [name for name in d["app_fields"] if name != "password"]
    if others:
        lines.append(f"application fields: {', '.join(others)}")
    return "\n".join(lines)


@click.command(short_help="Show what a helper file records (nothing secret).")
@click.argument("helper_path", metavar="HELPER", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the same as a JSON object.")
def info(helper_path: Path, as_json: bool) -> None:
    """Show what the helper file HELPER records (nothing in it is secret).

    The header is authenticated only when a key is reproduced from it.
    """
    raw = read_helper_file(helper_path)
    d = _describe(helper_path, raw)
    if as_json:  # strict JSON; ensure_ascii escapes every control character
        click.echo(json.dumps(d, indent=2, sort_keys=True, allow_nan=False))
    else:
        click.echo(_info_text(_printable(d)))


def _printable(value: Any) -> Any:
    """``value`` with every non-printable character of its strings escaped (``\\x1b``, ``\\u202e``).

    A helper's header is attacker-controlled until a key is reproduced from it:
    terminal escape sequences or bidirectional overrides in it must not reach a terminal.
    """
    if isinstance(value, str):
        return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value)
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value
