"""``python -m fuzzykey.cli``: the ``fuzzykey`` command."""

from .main import main

main(prog_name="fuzzykey")
