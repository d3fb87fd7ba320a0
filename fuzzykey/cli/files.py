"""Files of the command line: images, secrets and helpers read with limits, keys and helpers written safely.

Reads are bounded (a secret file of at most 1 MiB, a helper file of at most 2 MiB),
keys go to new files of mode 0600 that are never followed through symlinks, and
helpers are written to a temporary file and moved into place. Every failure is a
:func:`~fuzzykey.cli.errors.fail` with a one-line message.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click

from ..keygen import SECRET_MIN_BYTES
from .errors import EXIT_HELPER, EXIT_USAGE, fail, warn

__all__ = [
    "MAX_SECRET_FILE",
    "MAX_HELPER_FILE",
    "same_file",
    "check_distinct",
    "check_images",
    "check_new_file",
    "read_secret_file",
    "read_helper_file",
    "write_new_key",
    "write_atomic",
    "public_file_mode",
    "emit_key",
]

MAX_SECRET_FILE = 1 << 20  # a secret file larger than this is more likely the wrong file
MAX_HELPER_FILE = 2 << 20  # helper data holds at most 1 MiB of metadata


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def check_distinct(paths: Sequence[tuple[str, Path | None]]) -> None:
    named = [(what, p) for what, p in paths if p is not None]
    for i, (what_a, a) in enumerate(named):
        for what_b, b in named[i + 1 :]:
            if same_file(a, b):
                raise fail(f"{what_a} and {what_b} are the same file {str(a)!r}")


def check_images(images: Sequence[Path]) -> None:
    for image in images:
        if not image.is_file():
            raise fail(f"image {str(image)!r} does not exist or is not a file", EXIT_USAGE)


def check_new_file(path: Path | None, what: str, force: bool) -> None:
    if path is None:
        return
    if path.is_dir():
        raise fail(f"{what} {str(path)!r} is a directory")
    if (path.exists() or path.is_symlink()) and not force:
        raise fail(f"{what} {str(path)!r} exists; pass --force to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise fail(f"cannot write {what} {str(path)!r}: folder {str(parent)!r} does not exist")


def _read_regular(path: Path, limit: int) -> tuple[bytes, os.stat_result]:
    """At most ``limit + 1`` bytes of a regular file, and its status.

    Opened without blocking and checked with fstat before reading, so a FIFO,
    a device or a directory is refused at once instead of blocking or reading
    without end.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, device or folder)", str(path))
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(limit + 1), st
    finally:
        os.close(fd)


def read_secret_file(path: Path) -> bytes:
    """The secret file's bytes: a regular file of 16 bytes to 1 MiB (warns if others may read it)."""
    try:
        data, st = _read_regular(path, MAX_SECRET_FILE)
    except OSError as exc:
        raise fail(f"cannot read secret file {str(path)!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_SECRET_FILE:
        raise fail(f"secret file {str(path)!r} is larger than 1 MiB; is it the right file?")
    if len(data) < SECRET_MIN_BYTES:
        raise fail(
            f"secret file {str(path)!r} holds {len(data)} bytes; a secret needs at least "
            f"{SECRET_MIN_BYTES} (e.g. head -c 32 /dev/urandom > {path})"
        )
    if st.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        warn(
            f"secret file {str(path)!r} is readable by other users (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"chmod 600 it"
        )
    return data


def read_helper_file(path: Path) -> bytes:
    """The helper file's bytes: a regular file of at most 2 MiB."""
    try:
        data, _ = _read_regular(path, MAX_HELPER_FILE)
    except OSError as exc:
        raise fail(f"cannot read helper file {str(path)!r}: {exc.strerror or exc}", EXIT_HELPER) from None
    if len(data) > MAX_HELPER_FILE:
        raise fail(f"helper file {str(path)!r} is larger than any helper data", EXIT_HELPER)
    return data


def write_new_key(path: Path, key: bytes, force: bool) -> None:
    """The raw key in a new file of mode 0600 (atomically replacing an old one with ``force``)."""
    if force and (path.exists() or path.is_symlink()):
        write_atomic(path, key, 0o600, replace=True)
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


def write_atomic(path: Path, data: bytes, mode: int, *, replace: bool) -> None:
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


def public_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def emit_key(key: bytes, key_out: Path | None, force: bool) -> None:
    if key_out is None:
        click.echo(key.hex())
    else:
        write_new_key(key_out, key, force)


