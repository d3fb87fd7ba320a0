"""The examples in the docstrings and in README.md run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


# Modules with a runnable example in their docstring; every other module of the package is
# listed in WITHOUT_EXAMPLES with the reason (checked below, so a new module must choose).
MODULES = [
    "fuzzykey",
    "fuzzykey.bch",
    "fuzzykey.extractor",
    "fuzzykey.helper",
    "fuzzykey.ops",
    "fuzzykey.linear",
    "fuzzykey.kdf",
    "fuzzykey.face.images",
    "fuzzykey.face.models",
    "fuzzykey.face.detect",
    "fuzzykey.face.encoders",
    "fuzzykey.face._onnx_torch",
    "fuzzykey.binarizers",
    "fuzzykey.discriminant",
    "fuzzykey.zeroleak",
    "fuzzykey.facekeys",
    "fuzzykey.header",
    "fuzzykey.passwords",
    "fuzzykey.security",
    "fuzzykey.keygen",
    "fuzzykey.robust.dvsp",
    "fuzzykey.robust.robustness",
    "fuzzykey.templates.unet",
    "fuzzykey.templates.losses",
    "fuzzykey.templates.train",
    "fuzzykey.evaluation.datasets",
    "fuzzykey.evaluation.attacks",
    "fuzzykey.evaluation.metrics",
    "fuzzykey.evaluation.keybench",
    "fuzzykey.evaluation.linkability",
    "fuzzykey.evaluation.plots",
    "fuzzykey.evaluation.progress",
    "fuzzykey.evaluation.pairs",
    "fuzzykey.evaluation.distances",
    "fuzzykey.evaluation.operating_points",
    "fuzzykey.evaluation.realpath",
    "fuzzykey.evaluation.throughput",
    "fuzzykey.evaluation.robustness_mnist",
    "fuzzykey.evaluation.robustness_lfw",
    "fuzzykey.evaluation.embeddings_file",
    "fuzzykey.evaluation.zlbench",
    "fuzzykey.evaluation.templates_eval",
    "fuzzykey.distributed",
    "fuzzykey.cli",
    "fuzzykey.cli.errors",
]
WITHOUT_EXAMPLES = {
    "fuzzykey.errors": "exception classes; every other example raises them",
    "fuzzykey._checks": "private argument checks, tested through every entry point",
    "fuzzykey.face": "a package index: one line per module",
    "fuzzykey.robust": "a package index: one line per module",
    "fuzzykey.templates": "a package index: one line per module",
    "fuzzykey.evaluation": "a package index: one line per module",
    "fuzzykey.cli.main": "the command group; test_cli.py runs every command",
    "fuzzykey.cli.__main__": "python -m fuzzykey.cli; importing it runs the command",
    "fuzzykey.cli.keys": "enroll, reproduce, info: test_cli.py",
    "fuzzykey.cli.files": "file handling of the commands: test_cli.py",
    "fuzzykey.cli.bench": "the bench command: test_bench_cli.py",
    "fuzzykey.cli.experiments": "the robustness commands: test_robustness_bench.py, test_robustness_lfw.py",
    "fuzzykey.cli.report": "progress bars on stderr: the commands' tests",
    "fuzzykey.cli.embed": "the embed command: test_embed_cli.py",
    "fuzzykey.cli.templates": "the protect and templates commands: test_templates_cli.py",
}


def test_every_module_is_accounted_for() -> None:
    import fuzzykey

    root = Path(fuzzykey.__file__).resolve().parent
    found = set()
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    assert found == set(MODULES) | set(WITHOUT_EXAMPLES)
    assert not set(MODULES) & set(WITHOUT_EXAMPLES)


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
