"""The shape of harness/, read from its source: one package per stage, dependencies pointing one
way, pytest only in the plugin package, torch only where a model is touched, no private names
borrowed across modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from paths import REPO

HARNESS = REPO / "harness"
#: packages by layer: a module may import from its own layer or from lower layers. The stages
#: share a layer with the config (which validates gate.toml against the metric and data-format
#: names of harness.quality); among them, the module graph must not circle.
LAYERS = {
    "harness.errors": 0,
    "harness.toml_table": 1,
    "harness.analysis_config": 2,
    "harness.config": 2,
    "harness.checkpoint": 2,
    "harness.embedding": 2,
    "harness.quality": 2,
    "harness.throughput": 2,
    "harness.run": 3,
    "harness.report": 4,
    "harness.runs": 5,
    "harness.pytest_plugin": 6,
    "harness.__main__": 6,
}
HEAVY = ("torch", "peft", "sentence_transformers", "transformers", "safetensors.torch")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module
    names: tuple[str, ...]  # names taken from it (from-imports)
    lazy: bool  # inside a function or under TYPE_CHECKING


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def imports_of(path: Path) -> list[Import]:
    name = module_name(path)
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = True
            if isinstance(child, ast.ImportFrom) and child.module and not child.level:
                names = tuple(a.name for a in child.names)
                found.append(Import(name, child.module, names, inner))
            elif isinstance(child, ast.Import):
                found.extend(Import(name, a.name, (), inner) for a in child.names)
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


MODULES = sorted(HARNESS.rglob("*.py"))
IMPORTS = [i for path in MODULES for i in imports_of(path)]


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def test_every_module_is_in_a_layer():
    assert {package_of(module_name(p)) for p in MODULES} - {"harness"} <= set(LAYERS)


def test_only_the_plugin_package_imports_pytest():
    offenders = sorted(
        i.module
        for i in IMPORTS
        if i.target.split(".")[0] in ("pytest", "_pytest", "pytest_benchmark", "xdist")
        and package_of(i.module) != "harness.pytest_plugin"
    )
    assert offenders == []


def test_dependencies_point_down():
    upward = sorted(
        f"{i.module} -> {i.target}"
        for i in IMPORTS
        if i.target.startswith("harness.")
        and package_of(i.module) in LAYERS
        and LAYERS[package_of(i.target)] > LAYERS[package_of(i.module)]
    )
    assert upward == []


def test_no_import_circles_between_modules():
    graph: dict[str, set[str]] = {module_name(p): set() for p in MODULES}
    for i in IMPORTS:
        for target in [f"{i.target}.{n}" for n in i.names] + [i.target]:
            if target in graph and target != i.module:
                graph[i.module].add(target)
                break
    circles = []
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            node = todo.pop()
            if node == start:
                circles.append(start)
                break
            if node not in seen:
                seen.add(node)
                todo += graph[node]
    assert circles == []


def test_no_module_imports_another_modules_private_name():
    private = sorted(
        f"{i.module}: {n} from {i.target}"
        for i in IMPORTS
        if i.target.startswith("harness")
        for n in i.names
        if n.startswith("_") and not n.startswith("__")
    )
    assert private == []


@pytest.mark.parametrize(
    "modules",
    [
        pytest.param("harness", id="the package (assert_adapter_applied)"),
        pytest.param("harness.pytest_plugin", id="the plugin"),
        pytest.param("harness.quality.metrics, harness.quality.pairs", id="metrics and readers"),
        pytest.param("harness.report.document, harness.report.html", id="results and report"),
        pytest.param("harness.runs.cli, harness.runs.combine, harness.runs.diff", id="run tools"),
        pytest.param("harness.checkpoint.discover, harness.checkpoint.preflight", id="preflight"),
    ],
)
def test_importing_never_imports_torch(modules):
    code = (
        f"import sys, {modules}\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr


def test_a_unit_test_run_of_a_reader_never_imports_torch():
    code = (
        "import sys, pytest\n"
        "code = pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/unit/test_data.py', "
        "'-k', 'stsb'])\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert code == 0 and not heavy, (code, heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
