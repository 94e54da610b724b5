"""The layout is the architecture: no import cycle, no import upwards, listing stays light.

Imports are read from the source with `ast`, function-level ones included (a lazy import is still
a dependency). `if TYPE_CHECKING:` imports never run, so they count for the layering, not for
cycles.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: package folders as setup.cfg maps them
PACKAGES = {"audioprobe": ROOT / "harness", "audioprobe.models": ROOT / "models",
            "audioprobe.leaderboard": ROOT / "leaderboard", "audioprobe.tasks": ROOT / "tasks"}

#: which group of modules each group may import (besides itself); the docs/architecture.md layers
ALLOWED = {
    "base": set(),                                      # errors, files, registry (the Registry type), the root
    "studies": {"base"},                                # study folders: declarative data, read and validated
    "metrics": {"base"},                                # arrays in, arrays out
    "signal": {"base"},                                 # front end, pooling
    "stimuli": {"base", "metrics"},
    "models": {"base", "signal"},
    "tasktypes": {"base", "metrics", "stimuli", "signal"},
    "engine": {"base", "metrics", "signal", "stimuli", "models", "tasktypes", "results", "studies"},
    # reads result files only; asks task types how to present them (their Presentation) and studies
    "leaderboard": {"base", "results", "metrics", "tasktypes", "studies"},
    # results.py, summaries.py (set summary, RDMs), suites.py; models: the model registry's preset args
    "results": {"base", "engine", "tasktypes", "metrics", "models"},
    "data": set(),
}


def group(module: str) -> str:
    parts = module.split(".")
    if module in ("audioprobe", "audioprobe.errors", "audioprobe.files", "audioprobe.registry"):
        return "base"
    if module == "audioprobe.studies":
        return "studies"
    if module in ("audioprobe.frontend", "audioprobe.pooling"):
        return "signal"
    if module in ("audioprobe.results", "audioprobe.summaries", "audioprobe.suites") or module.startswith(
            "audioprobe.results."):
        return "results"
    if len(parts) > 1 and parts[1] in ("metrics", "stimuli", "models", "tasktypes", "leaderboard"):
        return parts[1]
    if len(parts) > 1 and parts[1] == "tasks":
        return "data"
    return "engine"


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def imports(path: Path, known: set[str], module: str) -> list[tuple[str, bool]]:
    """(imported audioprobe module, runs at run time) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    static_only = _type_checking_nodes(tree)
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".")[: -node.level or None] if path.name != "__init__.py" else module.split(".")
                if path.name == "__init__.py" and node.level > 1:
                    pkg = pkg[: -(node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("audioprobe") and name != module:
                out.append((name, id(node) not in static_only))
    return out


def graph(runtime_only: bool) -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: {t for t, runs in imports(p, known, m) if runs or not runtime_only} for m, p in mods.items()}


def test_no_import_cycle():
    edges = graph(runtime_only=True)
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_upward_import():
    bad = []
    for m, targets in graph(runtime_only=False).items():
        g = group(m)
        for t in targets:
            tg = group(t)
            if tg != g and tg not in ALLOWED[g]:
                bad.append(f"{m} ({g}) imports {t} ({tg})")
    assert not bad, "imports against the layering (tests/test_architecture.py ALLOWED):\n" + "\n".join(sorted(bad))


def test_the_checker_sees_function_level_imports(tmp_path):
    src = tmp_path / "x.py"
    src.write_text("def f():\n    from audioprobe.runner import Runner\n")
    assert imports(src, {"audioprobe.runner"}, "audioprobe.metrics.x") == [("audioprobe.runner", True)]


@pytest.mark.parametrize("argv", [["--help"], ["list", "models"], ["list", "tasks"], ["list", "datasets"]])
def test_listing_imports_no_heavy_library(argv):
    code = ("import sys; from audioprobe.cli import main; sys.stdout = open('/dev/null', 'w'); rc = main(%r); "
            "sys.stdout = sys.__stdout__; heavy = [m for m in ('torch', 'sklearn', 'transformers', 'datasets', "
            "'h5py', 'matplotlib') if m in sys.modules]; print(rc, ','.join(heavy))" % (argv,))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rc, _, heavy = done.stdout.strip().partition(" ")
    assert rc == "0" and heavy == "", f"{' '.join(argv)} imported {heavy}"
