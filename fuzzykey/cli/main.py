"""The ``fuzzykey`` command group: its commands, and where errors become exit codes.

``main`` is a :class:`~fuzzykey.cli.errors.FuzzyKeyGroup`, so every library
exception raised by a command below becomes one ``fuzzykey: error:`` line and
its exit status. ``fuzzykey robustness`` loads its commands (and torch) only
when one of them runs; ``fuzzykey protect`` and ``fuzzykey templates`` load
torch only when they run.
"""

from __future__ import annotations

import os

import click

from .. import __version__
from .bench import bench_command
from .embed import embed_command
from .errors import EXIT_MODEL, FuzzyKeyGroup, fail
from .keys import enroll, info, reproduce
from .templates import protect_command, templates_group

__all__ = ["main"]


@click.group(cls=FuzzyKeyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


class _RobustnessGroup(FuzzyKeyGroup):
    """``fuzzykey robustness``: its commands load on use, so the others work without torch."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return ["lfw", "mnist"]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.list_commands(ctx):
            return None
        try:
            from .experiments import lfw_command, mnist_command
        except ImportError as exc:
            raise fail(
                f"fuzzykey robustness needs torch ({exc}): pip install 'fuzzykey[torch]'", EXIT_MODEL
            ) from None
        command: click.Command = lfw_command if cmd_name == "lfw" else mnist_command
        return command


@click.group(cls=_RobustnessGroup, name="robustness")
def robustness() -> None:
    """Adversarial robustness experiments (DVSP and baselines; needs torch)."""


for command in (enroll, reproduce, info, bench_command, embed_command, robustness, protect_command,
                templates_group):
    main.add_command(command)
