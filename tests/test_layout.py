"""The package's layout rules, checked on the installed sources.

- Layers, each a folder or a set of modules: the crypto core (no faces, torch or
  click) <- the face pipeline and the robust-embedding library <- the key
  pipeline <- the public API <- evaluation <- the Ray engine
  (``fuzzykey.distributed``) <- the command line. A module imports
  only from its own layer and the layers below (imports inside functions count).
- The import graph has no cycle.
- A private name (leading underscore) defined in one module is used by no other
  module of the package, nor by ``benchmarks/``, which use public names only
  (private modules such as ``fuzzykey._core`` included).
- Only ``fuzzykey.cli`` imports click; the core and the key pipeline import no
  torch, OpenCV, onnxruntime or PIL.
- ``import fuzzykey`` and the key pipeline load none of torch, click, cv2 or
  onnxruntime (they are optional or belong to other layers).
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

import fuzzykey

PACKAGE = Path(fuzzykey.__file__).resolve().parent
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

LAYERS = {"core": 0, "face": 1, "robust": 1, "templates": 1, "keys": 2, "api": 3, "evaluation": 4,
          "distributed": 5, "cli": 6}
CORE = {"errors", "_checks", "_core", "bch", "helper", "extractor", "ops", "linear", "kdf"}
KEYS = {"binarizers", "header", "passwords", "security", "keygen", "discriminant", "zeroleak", "facekeys"}
HEAVY = ("torch", "cv2", "onnxruntime", "onnx", "PIL")


def layer(module: str) -> str:
    parts = module.split(".")
    if parts == ["fuzzykey"]:
        return "api"
    top = parts[1]
    if top in ("face", "robust", "templates", "evaluation", "distributed", "cli"):
        return top
    if top in CORE:
        return "core"
    if top in KEYS:
        return "keys"
    raise AssertionError(f"{module} belongs to no layer; add it to the layout rules")


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = modules()
KNOWN = set(MODULES) | {"fuzzykey._core"}


@functools.cache
def parse(path: Path) -> ast.Module:
    """The syntax tree of a file, parsed once. Everything is parsed at import (collection) time:
    CPython 3.11's ast.parse can fail with "AST constructor recursion depth mismatch" when other
    tests have left the interpreter's recursion bookkeeping changed (seen after the Ray tests)."""
    return ast.parse(path.read_text(encoding="utf-8"))


for _path in [*MODULES.values(), *sorted(BENCHMARKS.glob("*.py"))]:
    parse(_path)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str, path: Path) -> list[tuple[str, str]]:
    """``(target module, imported name or "")`` for every import in ``path``, nested ones too."""
    tree = parse(path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            for alias in node.names:
                full = f"{target}.{alias.name}"
                out.append((full, "") if full in KNOWN else (target, alias.name))
    return out


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, _ in imports(module, path):
            if target in KNOWN and target != module:
                edges[module].add(target)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if state.get(w) == 1:
                return stack[stack.index(w) :] + [w]
            if w not in state and (found := visit(w)) is not None:
                return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(edges):
        if v not in state and (found := visit(v)) is not None:
            return found
    return None


def test_every_module_has_a_layer_and_the_graph_is_the_real_one() -> None:
    edges = graph()
    assert {layer(m) for m in MODULES} == set(LAYERS)
    # the checker sees imports inside functions (KeyGen loads SFace lazily)
    assert "fuzzykey.face.encoders" in edges["fuzzykey.keygen"]
    assert "fuzzykey.evaluation.keybench" in edges["fuzzykey.cli.bench"]


def test_no_import_cycle() -> None:
    assert find_cycle(graph()) is None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module: str) -> None:
    mine = LAYERS[layer(module)]
    for target in graph()[module]:
        if target == "fuzzykey._core" or (target == "fuzzykey" and layer(module) == "cli"):
            continue  # the native module; the CLI reads __version__
        theirs = LAYERS[layer(target)]
        same_peer = layer(target) == layer(module)
        assert theirs < mine or same_peer, f"{module} ({layer(module)}) imports {target} ({layer(target)})"


def _private_definitions(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _private_uses(tree: ast.AST) -> set[str]:
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
    }


def private_violations(paths: dict[str, Path], *, outside: bool) -> list[str]:
    trees = {m: parse(p) for m, p in MODULES.items()}
    defined = {m: _private_definitions(t) for m, t in trees.items()}
    everywhere = set().union(*defined.values())
    bad = []
    for module, path in paths.items():
        tree = trees[module] if module in trees else parse(path)
        own = set() if outside else defined[module]
        for target, name in imports(module, path):
            if not target.startswith("fuzzykey"):
                continue
            if name.startswith("_") and not name.startswith("__"):
                bad.append(f"{module} imports {name} from {target}")
            if outside and any(part.startswith("_") for part in target.split(".")):
                bad.append(f"{module} imports the private module {target}")
        for attr in _private_uses(tree) - own:
            if attr in everywhere:
                bad.append(f"{module} uses {attr}, which another module defines")
    return bad


def test_no_private_name_crosses_a_module() -> None:
    assert private_violations(MODULES, outside=False) == []


def test_benchmarks_use_public_names_only() -> None:
    scripts = {f"benchmarks.{p.stem}": p for p in sorted(BENCHMARKS.glob("*.py"))}
    assert scripts, f"no benchmark scripts found in {BENCHMARKS}"
    assert private_violations(scripts, outside=True) == []


def test_the_private_name_check_catches_a_violation(tmp_path: Path) -> None:
    script = tmp_path / "peek.py"
    script.write_text(
        "from fuzzykey import KeyGen\nfrom fuzzykey.binarizers import _MAX_CANDIDATES\n"
        "import fuzzykey._core\nprint(KeyGen()._detector)\n"
    )
    found = private_violations({"benchmarks.peek": script}, outside=True)
    assert any("_MAX_CANDIDATES" in line for line in found)
    assert any("fuzzykey._core" in line for line in found)
    assert any("_detector" in line for line in found)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_third_party_imports_stay_in_their_layer(module: str) -> None:
    tops = {target.split(".")[0] for target, _ in imports(module, MODULES[module])}
    if layer(module) != "cli":
        assert "click" not in tops, f"{module} imports click; only fuzzykey.cli may"
    if layer(module) in ("core", "keys", "api"):
        assert not tops & set(HEAVY), f"{module} imports {sorted(tops & set(HEAVY))}"


def test_importing_the_key_pipeline_loads_no_optional_dependency() -> None:
    code = (
        "import sys, fuzzykey, fuzzykey.keygen, fuzzykey.header, fuzzykey.passwords\n"
        "names = ('torch', 'click', 'cv2', 'onnxruntime', 'onnx', 'PIL')\n"
        "print(sorted(m for m in names if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    )
    assert out.stdout.strip() == "[]", out.stdout
    assert out.stderr == ""
