"""Exit codes, and the one place where fuzzykey's exceptions become them.

Every failure of a ``fuzzykey`` command is one line on stderr
(``fuzzykey: error: <message>``) and an exit status: 1 key mismatch, 2 usage
or bad input, 3 no face, 4 bad or foreign helper, 5 model problem, 130
interrupted. Commands raise library exceptions (or :func:`fail` for their own
checks); :class:`FuzzyKeyGroup`, the class of every command group, maps them.

Example:
    >>> from fuzzykey.errors import NoFaceFound
    >>> from fuzzykey.cli.errors import EXIT_HELPER, exit_code, fail
    >>> exit_code(NoFaceFound("no face in 'a.jpg'"))
    3
    >>> err = fail("the helper is  too\\n  long", EXIT_HELPER)
    >>> err.exit_code, err.format_message()
    (4, 'the helper is too long')
"""

from __future__ import annotations

from typing import IO, Any, ClassVar

import click

from ..errors import (
    DecodingFailure,
    FuzzyKeyError,
    InvalidArgument,
    InvalidHelperData,
    InvalidImage,
    KeyMismatch,
    NoFaceFound,
    PipelineMismatch,
)

__all__ = [
    "EXIT_KEY_MISMATCH",
    "EXIT_USAGE",
    "EXIT_NO_FACE",
    "EXIT_HELPER",
    "EXIT_MODEL",
    "EXIT_INTERRUPTED",
    "CliError",
    "fail",
    "exit_code",
    "message",
    "FuzzyKeyGroup",
    "warn",
]

EXIT_KEY_MISMATCH = 1
EXIT_USAGE = 2
EXIT_NO_FACE = 3
EXIT_HELPER = 4
EXIT_MODEL = 5
EXIT_INTERRUPTED = 130


class CliError(click.ClickException):
    """One line on stderr, ``fuzzykey: error: <message>``; exit status 2 (see :func:`fail`)."""

    exit_code: ClassVar[int] = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()) or "failed")

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"fuzzykey: error: {self.format_message()}", file=file, err=file is None)


_ERROR_TYPES: dict[int, type[CliError]] = {EXIT_USAGE: CliError}


def fail(message: str, code: int = EXIT_USAGE) -> CliError:
    """A :class:`CliError` that exits with ``code`` (raise it)."""
    cls = _ERROR_TYPES.get(code)
    if cls is None:
        cls = type(f"CliError{code}", (CliError,), {"exit_code": code})
        _ERROR_TYPES[code] = cls
    return cls(message)


def exit_code(exc: FuzzyKeyError) -> int:
    """The exit status of a library exception."""
    if isinstance(exc, (KeyMismatch, DecodingFailure)):
        return EXIT_KEY_MISMATCH
    if isinstance(exc, NoFaceFound):
        return EXIT_NO_FACE
    if isinstance(exc, (InvalidHelperData, PipelineMismatch)):
        return EXIT_HELPER
    if isinstance(exc, (InvalidArgument, InvalidImage)):
        return EXIT_USAGE
    return EXIT_MODEL  # ModelError, CudaUnavailable


def message(exc: FuzzyKeyError) -> str:
    """The error line's text for a library exception."""
    text = str(exc)
    if isinstance(exc, KeyMismatch):
        return f"key mismatch: {text}" if text else "key mismatch"
    if isinstance(exc, InvalidHelperData):
        return f"bad helper file: {text}"
    if isinstance(exc, PipelineMismatch):
        return f"pipeline mismatch: {text}"
    return text or type(exc).__name__


def warn(text: str) -> None:
    """One ``fuzzykey: warning:`` line on stderr."""
    click.echo(f"fuzzykey: warning: {' '.join(text.split())}", err=True)


class FuzzyKeyGroup(click.Group):
    """A group that turns fuzzykey's exceptions into one error line and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit):
            raise
        except click.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):
                raise fail("interrupted", EXIT_INTERRUPTED) from None
            raise fail("aborted: no input", EXIT_USAGE) from None
        except KeyboardInterrupt:
            raise fail("interrupted", EXIT_INTERRUPTED) from None
        except FuzzyKeyError as exc:
            raise fail(message(exc), exit_code(exc)) from None
        except OSError as exc:
            where = f" {exc.filename!r}" if exc.filename else ""
            raise fail(f"cannot access{where}: {exc.strerror or exc}", EXIT_USAGE) from None
        except ImportError as exc:
            raise fail(f"a face dependency is missing ({exc}); install fuzzykey[face]", EXIT_MODEL) from None
