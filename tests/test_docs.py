"""The examples in the docstrings and in README.md run and print what they say."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import fuzzykey
import fuzzykey.bch
import fuzzykey.extractor
import fuzzykey.helper
import fuzzykey.ops

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize(
    "module",
    [fuzzykey, fuzzykey.bch, fuzzykey.extractor, fuzzykey.helper, fuzzykey.ops],
    ids=lambda m: m.__name__,
)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)  # type: ignore[arg-type]
    assert result.failed == 0


def test_docstrings_have_examples() -> None:
    finder = doctest.DocTestFinder()
    examples = sum(len(t.examples) for m in (fuzzykey.bch, fuzzykey.extractor) for t in finder.find(m))
    assert examples >= 10


def test_readme_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "README.md has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
