"""The examples in the docstrings and in README.md run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


# Every public module; each has a runnable example in its docstring.
MODULES = [
    "fuzzykey",
    "fuzzykey.bch",
    "fuzzykey.extractor",
    "fuzzykey.helper",
    "fuzzykey.ops",
    "fuzzykey.face.images",
    "fuzzykey.face.models",
    "fuzzykey.face.detect",
    "fuzzykey.face.encoders",
    "fuzzykey.evaluation.datasets",
    "fuzzykey.binarizers",
    "fuzzykey.keygen",
    "fuzzykey.evaluation.attacks",
    "fuzzykey.evaluation.metrics",
    "fuzzykey.face._onnx_torch",
    "fuzzykey.cli",
    "fuzzykey.evaluation.keybench",
    "fuzzykey.evaluation.linkability",
    "fuzzykey.evaluation.plots",
    "fuzzykey.robust.dvsp",
    "fuzzykey.robust.robustness",
    "fuzzykey.evaluation.robustness_mnist",
    "fuzzykey.evaluation.robustness_lfw",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no docstring example"


def test_docstrings_have_examples() -> None:
    finder = doctest.DocTestFinder()
    mods = [importlib.import_module(n) for n in ("fuzzykey.bch", "fuzzykey.extractor")]
    examples = sum(len(t.examples) for m in mods for t in finder.find(m))
    assert examples >= 10


def test_readme_python_example_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from conftest import shared_data_dir

    # The README's face example reads photos from the shared data wherever this checkout keeps it.
    monkeypatch.setenv("FUZZYKEY_DATA", str(shared_data_dir()))
    monkeypatch.setenv("FUZZYKEY_CACHE", str(tmp_path / "cache"))
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "README.md has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
