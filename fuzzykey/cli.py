"""The ``fuzzykey`` command line: enroll a face, reproduce its key, inspect a helper.

Usage (shell)::

    fuzzykey enroll alice1.jpg alice2.jpg --out alice.fkh --password   # prints the key in hex
    fuzzykey reproduce alice3.jpg --helper alice.fkh --password          # the same key, or exit 1
    fuzzykey enroll alice1.jpg --out alice.fkh --secret-file device.key --key-out alice.key
    fuzzykey info alice.fkh --json

The helper file is public; the key goes to stdout in hex or, with ``--key-out``,
to a new file of mode 0600. A secret (``--secret-file`` or ``--password``) is
strongly recommended: face-only keys are weak (see :class:`fuzzykey.KeyGen`).
Every error is one line on stderr (``fuzzykey: error: ...``) and a distinct exit
status: 1 key mismatch, 2 usage or bad input, 3 no face found, 4 bad helper
file or pipeline mismatch, 5 face models unavailable.

Example:
    >>> import numpy as np
    >>> from click.testing import CliRunner
    >>> from fuzzykey import KeyGen
    >>> from fuzzykey.cli import main
    >>> emb = np.random.default_rng(0).standard_normal(128).astype(np.float32)
    >>> key, helper = KeyGen().enroll_embedding(emb, secret=bytes(range(32)))
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "alice.fkh")
    ...     _ = open(path, "wb").write(helper)
    ...     result = CliRunner().invoke(main, ["info", path])
    >>> result.exit_code
    0
    >>> print(result.output)  # doctest: +ELLIPSIS
    helper: ...alice.fkh (... bytes)
    format: helper data version 1, KeyGen header version 1
    mode: secret
    encoder: sface-2021dec-int8bq
    ...
    code: BCH(n=1023, k=123, t=155, m=10)
    key: 32 bytes (at most 123 bits of entropy given the helper)
    ...
    >>> key.hex() in result.output
    False
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, ClassVar, TypeVar

import click

from . import __version__
from .bench import bench_command
from .errors import (
    DecodingFailure,
    FuzzyKeyError,
    InvalidArgument,
    InvalidHelperData,
    InvalidImage,
    KeyMismatch,
    NoFaceFound,
    PipelineMismatch,
)
from .keygen import SECRET_MIN_BYTES, KeyGen, password_secret, read_helper_header

__all__ = [
    "main",
    "EXIT_KEY_MISMATCH",
    "EXIT_USAGE",
    "EXIT_NO_FACE",
    "EXIT_HELPER",
    "EXIT_MODEL",
    "SCRYPT_N_DEFAULT",
]

EXIT_KEY_MISMATCH = 1
EXIT_USAGE = 2
EXIT_NO_FACE = 3
EXIT_HELPER = 4
EXIT_MODEL = 5

SCRYPT_N_DEFAULT = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_N_ENV = "FUZZYKEY_SCRYPT_N"
_SCRYPT_N_MAX = 2**20  # with r = 8: 1 GiB of memory, the most a helper may ask for
_SALT_BYTES = 16
_MAX_SECRET_FILE = 1 << 20  # a secret file larger than this is more likely the wrong file
_MAX_HELPER_FILE = 2 << 20  # helper data holds at most 1 MiB of metadata

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------- errors
class CliError(click.ClickException):
    """One line on stderr, ``fuzzykey: error: <message>``; exit status 2 (see :func:`fail`)."""

    exit_code: ClassVar[int] = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()) or "failed")

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"fuzzykey: error: {self.format_message()}", file=file, err=file is None)


_ERROR_TYPES: dict[int, type[CliError]] = {EXIT_USAGE: CliError}


def fail(message: str, exit_code: int = EXIT_USAGE) -> CliError:
    """A :class:`CliError` that exits with ``exit_code`` (raise it)."""
    cls = _ERROR_TYPES.get(exit_code)
    if cls is None:
        cls = type(f"CliError{exit_code}", (CliError,), {"exit_code": exit_code})
        _ERROR_TYPES[exit_code] = cls
    return cls(message)


def _exit_code(exc: FuzzyKeyError) -> int:
    if isinstance(exc, (KeyMismatch, DecodingFailure)):
        return EXIT_KEY_MISMATCH
    if isinstance(exc, NoFaceFound):
        return EXIT_NO_FACE
    if isinstance(exc, (InvalidHelperData, PipelineMismatch)):
        return EXIT_HELPER
    if isinstance(exc, (InvalidArgument, InvalidImage)):
        return EXIT_USAGE
    return EXIT_MODEL  # ModelError, CudaUnavailable


def _message(exc: FuzzyKeyError) -> str:
    text = str(exc)
    if isinstance(exc, KeyMismatch):
        return f"key mismatch: {text}" if text else "key mismatch"
    if isinstance(exc, InvalidHelperData):
        return f"bad helper file: {text}"
    if isinstance(exc, PipelineMismatch):
        return f"pipeline mismatch: {text}"
    return text or type(exc).__name__


class _Group(click.Group):
    """A group that turns fuzzykey's exceptions into one error line and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit):
            raise
        except click.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):
                raise fail("interrupted", 130) from None
            raise fail("aborted: no input", EXIT_USAGE) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except FuzzyKeyError as exc:
            raise fail(_message(exc), _exit_code(exc)) from None
        except OSError as exc:
            where = f" {exc.filename!r}" if exc.filename else ""
            raise fail(f"cannot access{where}: {exc.strerror or exc}", EXIT_USAGE) from None
        except ImportError as exc:
            raise fail(f"a face dependency is missing ({exc}); install fuzzykey[face]", EXIT_MODEL) from None


# --------------------------------------------------------------------------- group
@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="fuzzykey")
def main() -> None:
    """Stable cryptographic keys from face photos.

    Enroll one or more photos of a person to get a key and a public helper
    file; reproduce the key later from another photo and the helper. Use a
    secret (--secret-file or --password): face-only keys are weak.

    \b
    Exit status:
        0  success
        1  key mismatch (another person, too different a photo, wrong secret
           or password, or a changed helper)
        2  usage error or bad input (missing or unreadable image or secret
           file, short secret, output file exists)
        3  no face found in a photo
        4  bad helper file (missing, unreadable, malformed) or pipeline mismatch
           (helper made with another model or mode, secret missing or superfluous)
        5  the face models cannot be loaded
      130  interrupted
    """
    # OpenCV's native log would add lines to stderr around our one-line errors
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


main.add_command(bench_command)


class _RobustnessGroup(click.Group):
    """``fuzzykey robustness``: loaded on use, so the other commands work without torch."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return ["lfw", "mnist"]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        try:
            from .robustness_bench import robustness_group
        except ImportError as exc:
            raise fail(
                f"fuzzykey robustness needs torch ({exc}): pip install 'fuzzykey[torch]'", EXIT_MODEL
            ) from None
        return robustness_group.get_command(ctx, cmd_name)


@main.group(cls=_RobustnessGroup, name="robustness")
def robustness() -> None:
    """Adversarial robustness experiments (DVSP and baselines; needs torch)."""


# --------------------------------------------------------------------------- helpers
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


def _warn(message: str) -> None:
    click.echo(f"fuzzykey: warning: {' '.join(message.split())}", err=True)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _check_distinct(paths: Sequence[tuple[str, Path | None]]) -> None:
    named = [(what, p) for what, p in paths if p is not None]
    for i, (what_a, a) in enumerate(named):
        for what_b, b in named[i + 1 :]:
            if _same_file(a, b):
                raise fail(f"{what_a} and {what_b} are the same file {str(a)!r}")


def _check_images(images: Sequence[Path]) -> None:
    for image in images:
        if not image.is_file():
            raise fail(f"image {str(image)!r} does not exist or is not a file", EXIT_USAGE)


def _check_new_file(path: Path | None, what: str, force: bool) -> None:
    if path is None:
        return
    if path.is_dir():
        raise fail(f"{what} {str(path)!r} is a directory")
    if (path.exists() or path.is_symlink()) and not force:
        raise fail(f"{what} {str(path)!r} exists; pass --force to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise fail(f"cannot write {what} {str(path)!r}: folder {str(parent)!r} does not exist")


def _read_secret_file(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise fail(f"cannot read secret file {str(path)!r}: {exc.strerror or exc}") from None
    if len(data) > _MAX_SECRET_FILE:
        raise fail(f"secret file {str(path)!r} is larger than 1 MiB; is it the right file?")
    if len(data) < SECRET_MIN_BYTES:
        raise fail(
            f"secret file {str(path)!r} holds {len(data)} bytes; a secret needs at least "
            f"{SECRET_MIN_BYTES} (e.g. head -c 32 /dev/urandom > {path})"
        )
    return data


def _read_helper_file(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_HELPER_FILE + 1)
    except OSError as exc:
        raise fail(f"cannot read helper file {str(path)!r}: {exc.strerror or exc}", EXIT_HELPER) from None
    if len(data) > _MAX_HELPER_FILE:
        raise fail(f"helper file {str(path)!r} is larger than any helper data", EXIT_HELPER)
    return data


def _scrypt_n() -> int:
    raw = os.environ.get(_SCRYPT_N_ENV)
    if raw is None or not raw.strip():
        return SCRYPT_N_DEFAULT
    try:
        n = int(raw.strip(), 0)
    except ValueError:
        n = -1
    if not _valid_n(n):
        raise fail(f"{_SCRYPT_N_ENV} must be a power of two from 2 to 2^20, got {raw!r}")
    return n


def _valid_n(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and 2 <= n <= _SCRYPT_N_MAX and n & (n - 1) == 0


def _small_int(v: Any, top: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= top


def _password_record(header: dict[str, Any]) -> dict[str, Any] | None:
    """The checked scrypt parameters a helper records, or None if it records no password."""
    app = header.get("app")
    if not isinstance(app, dict) or "password" not in app:
        return None
    rec = app["password"]
    bad = InvalidHelperData("the helper's password parameters (salt, n, r, p) are malformed")
    if not isinstance(rec, dict):
        raise bad
    values: list[Any] = [rec.get(name) for name in ("salt", "n", "r", "p")]
    salt_hex, n, r, p = values
    if not isinstance(salt_hex, str) or not re.fullmatch(r"(?:[0-9a-f]{2}){16,64}", salt_hex):
        raise bad
    if not (_valid_n(n) and _small_int(r, 32) and _small_int(p, 16)):
        raise bad
    if 128 * n * r > 2**30:  # scrypt memory
        raise bad
    return {"salt": bytes.fromhex(salt_hex), "n": n, "r": r, "p": p}


def _prompt_password(confirm: bool) -> str:
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=confirm, err=True, type=str)
    # the same password typed on another terminal or input method gives the same bytes
    return unicodedata.normalize("NFC", password)


def _write_new_key(path: Path, key: bytes, force: bool) -> None:
    """The raw key in a new file of mode 0600 (atomically replacing an old one with ``force``)."""
    if force and (path.exists() or path.is_symlink()):
        _write_atomic(path, key, 0o600, replace=True)
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise fail(f"key file {str(path)!r} exists; pass --force to replace it") from None
    except OSError as exc:
        raise fail(f"cannot create key file {str(path)!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)  # exactly 0600, whatever the umask
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise fail(f"cannot write key file {str(path)!r}: {exc.strerror or exc}") from None


def _write_atomic(path: Path, data: bytes, mode: int, *, replace: bool) -> None:
    """Write ``data`` to a temporary file beside ``path``, then move it into place.

    Without ``replace`` an existing ``path`` is an error, checked atomically
    where the file system has hard links.
    """
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise fail(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), mode)
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if replace:
                os.replace(tmp, path)
            else:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise fail(f"{str(path)!r} exists; pass --force to replace it") from None
                except OSError:  # no hard links here: check, then move
                    if path.exists() or path.is_symlink():
                        raise fail(f"{str(path)!r} exists; pass --force to replace it") from None
                    os.replace(tmp, path)
        except OSError as exc:
            raise fail(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _public_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _emit_key(key: bytes, key_out: Path | None, force: bool) -> None:
    if key_out is None:
        click.echo(key.hex())
    else:
        _write_new_key(key_out, key, force)


def _make_keygen() -> KeyGen:
    """The pipeline every command uses (tests replace this to share loaded models)."""
    return KeyGen.from_pretrained()


# --------------------------------------------------------------------------- enroll
@main.command(short_help="Enroll photos of one person: print the key, write the helper.")
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
@click.option("--force", is_flag=True, help="Replace existing --out / --key-out files.")
def enroll(
    images: tuple[Path, ...],
    out: Path,
    key_out: Path | None,
    secret_file: Path | None,
    password: bool,
    force: bool,
) -> None:
    """Enroll IMAGE... (photos of one person, averaged) and print the key.

    Writes the public helper data to --out and prints the key in hex on
    stdout, or writes the raw key to --key-out (mode 0600). With
    --password the scrypt salt and cost are stored in the helper; set
    FUZZYKEY_SCRYPT_N (a power of two, default 2^17) to change the cost.
    Without --secret-file or --password the key comes from the face
    alone and is weak (few bits, most genuine photos rejected).
    """
    if secret_file is not None and password:
        raise fail("pass either --secret-file or --password, not both")
    _check_images(images)
    _check_new_file(out, "helper file", force)
    _check_new_file(key_out, "key file", force)
    _check_distinct(
        [("--out", out), ("--key-out", key_out), ("--secret-file", secret_file)]
        + [(f"image {i + 1}", image) for i, image in enumerate(images)]
    )

    secret: bytes | None = None
    public: dict[str, Any] | None = None
    if secret_file is not None:
        secret = _read_secret_file(secret_file)
    elif password:
        n = _scrypt_n()
        pw = _prompt_password(confirm=True)
        salt = os.urandom(_SALT_BYTES)
        secret = password_secret(pw, salt, n=n, r=SCRYPT_R, p=SCRYPT_P)
        public = {"password": {"salt": salt.hex(), "n": n, "r": SCRYPT_R, "p": SCRYPT_P}}

    enrollment = _make_keygen().enroll(list(images), secret=secret, public=public)
    for image, face in zip(images, enrollment.faces, strict=False):
        if face.n_faces > 1:
            _warn(f"{face.n_faces} faces found in {str(image)!r}; the largest was used")
    if secret is None:
        sec = enrollment.security
        frr = sec.measured.get("frr")
        measured = ""
        if isinstance(frr, float):
            measured = f", and ~{frr:.0%} of genuine photos fail to reproduce it"
        _warn(
            f"face-only key: at most {sec.code_k_bits} bits of entropy given the helper{measured}; "
            "use --secret-file or --password"
        )

    _write_atomic(out, enrollment.helper, _public_file_mode(), replace=force)
    _emit_key(enrollment.key, key_out, force)


# --------------------------------------------------------------------------- reproduce
@main.command(short_help="Reproduce the key from another photo and the helper.")
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
    helper = _read_helper_file(helper_path)
    _, header = read_helper_header(helper)
    record = _password_record(header)
    if header["mode"] == "face-only":
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
    _check_images([image])
    _check_new_file(key_out, "key file", force)
    _check_distinct(
        [
            ("--key-out", key_out),
            ("--helper", helper_path),
            ("--secret-file", secret_file),
            ("the image", image),
        ]
    )

    secret: bytes | None = None
    if secret_file is not None:
        secret = _read_secret_file(secret_file)
    elif record is not None:
        pw = _prompt_password(confirm=False)
        secret = password_secret(pw, record["salt"], n=record["n"], r=record["r"], p=record["p"])

    key = _make_keygen().reproduce(image, helper, secret=secret)
    _emit_key(key, key_out, force)


# --------------------------------------------------------------------------- info
def _describe(path: Path, raw: bytes) -> dict[str, Any]:
    h, header = read_helper_header(raw)
    record = _password_record(header)
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
        "code": {"n": h.n, "k": h.k, "t": h.t, "m": h.m},
        "key_bytes": h.key_bytes,
        "images": header["images"],
        "password": None
        if record is None
        else {"salt_bytes": len(record["salt"]), "n": record["n"], "r": record["r"], "p": record["p"]},
        "app_fields": sorted(app) if isinstance(app, dict) else [],
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
    c = d["code"]
    if d["mode"] == "face-only":
        secret = "none (face-only key)"
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
        f"code: BCH(n={c['n']}, k={c['k']}, t={c['t']}, m={c['m']})",
        f"key: {d['key_bytes']} bytes (at most {c['k']} bits of entropy given the helper)",
        f"enrollment images: {d['images']}",
        f"secret: {secret}",
    ]
    others = [name for name in d["app_fields"] if name != "password"]
    if others:
        lines.append(f"application fields: {', '.join(others)}")
    return "\n".join(lines)


@main.command(short_help="Show what a helper file records (nothing secret).")
@click.argument("helper_path", metavar="HELPER", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the same as a JSON object.")
def info(helper_path: Path, as_json: bool) -> None:
    """Show what the helper file HELPER records (nothing in it is secret).

    The header is authenticated only when a key is reproduced from it.
    """
    raw = _read_helper_file(helper_path)
    d = _describe(helper_path, raw)
    click.echo(json.dumps(d, indent=2, sort_keys=True) if as_json else _info_text(d))


if __name__ == "__main__":
    main()
