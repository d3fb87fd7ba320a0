"""How the commands show a long run: click progress bars and lines on stderr.

Stdout keeps only a command's result (a key, a table); progress goes to stderr,
so ``fuzzykey bench > table.txt`` stays clean.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from ..evaluation.progress import Advance, Progress, silent

__all__ = ["progress_bars", "stderr_line"]


@contextmanager
def _bar(label: str, total: int) -> Iterator[Advance]:
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:

        def advance(steps: int) -> None:
            bar.update(steps)

        yield advance


def progress_bars(show: bool = True) -> Progress:
    """A :class:`~fuzzykey.evaluation.progress.Progress` drawing click bars on stderr (or nothing)."""
    return _bar if show else silent


def stderr_line(text: str) -> None:
    """A :data:`~fuzzykey.evaluation.progress.Log` that writes one line to stderr."""
    click.echo(text, err=True)
