"""Progress and log reporting for long evaluation runs: strategies passed in, silent by default.

The experiment runners (:func:`fuzzykey.evaluation.keybench.run_bench`,
:func:`fuzzykey.evaluation.robustness_mnist.run_mnist`,
:func:`fuzzykey.evaluation.robustness_lfw.run_lfw`) report what they do through
two callables they are given: a :class:`Progress` factory for counted steps and
a :data:`Log` for lines of text. The library passes :func:`silent` and
:func:`quiet`, so a run prints nothing; the command line passes progress bars
and stderr.

Example:
    >>> from fuzzykey.evaluation.progress import silent
    >>> with silent("embedding", 3) as advance:
    ...     for _ in range(3):
    ...         advance(1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

__all__ = ["Advance", "Progress", "Log", "silent", "quiet"]

Advance = Callable[[int], None]
"""Called with the number of steps just done."""

Log = Callable[[str], None]
"""Receives one line of text about the run."""


class Progress(Protocol):
    """``progress(label, total)``: a context manager around ``total`` steps that yields an :data:`Advance`."""

    def __call__(self, label: str, total: int) -> AbstractContextManager[Advance]: ...


@contextmanager
def silent(label: str, total: int) -> Iterator[Advance]:
    """A :class:`Progress` that shows nothing."""

    def advance(steps: int) -> None:
        del steps

    yield advance


def quiet(text: str) -> None:
    """A :data:`Log` that drops every line."""
    del text
