"""The import layering (docs/architecture.md), checked with import-linter and the AST.

* The import-linter contracts in `.importlinter` (layers top -> bottom: cli, batch, pipeline,
  exporters, rigs, engine, phonemes, core; the core imports nothing else; the runtime never
  imports tools/) run on the package as it installs: the repository's top-level folders are
  mapped to `voxface.*` subpackages by pyproject's package-dir, so the test lays out that
  mapping with symlinks in a temporary folder and points import-linter there.
* Imports of project modules inside functions are only for modules that need an optional heavy
  dependency (torch, bpy, pyrender, ray, matplotlib, ...) at import time; every other project
  import is at module level.
* No import cycles between project modules.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Optional dependencies that are imported lazily, on first use (pyproject's extras).
HEAVY = {"torch", "bpy", "pyrender", "ray", "matplotlib", "onnx", "onnxruntime", "coremltools",
         "OpenGL", "imageio", "imageio_ffmpeg", "PIL", "trimesh", "websockets"}


def _package_dirs() -> dict[str, Path]:
    """voxface.* package -> folder, from pyproject's package-dir (the one source of truth)."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = {pkg: ROOT / d for pkg, d in conf["package-dir"].items()}
    for pkg in conf["packages"]:
        if pkg not in dirs:
            parent, _, leaf = pkg.rpartition(".")
            dirs[pkg] = dirs[parent] / leaf
    return dirs


def _modules() -> dict[str, Path]:
    """Every runtime module name -> file."""
    out: dict[str, Path] = {}
    for pkg, folder in _package_dirs().items():
        for f in folder.glob("*.py"):
            out[pkg if f.stem == "__init__" else f"{pkg}.{f.stem}"] = f
    return out


def _staged_tree(tmp: Path) -> Path:
    """The installed layout (voxface/engine, voxface/rigs, ...) as symlinks, plus tools/."""
    top = tmp / "voxface"
    top.mkdir()
    dirs = _package_dirs()
    for f in dirs["voxface"].iterdir():
        if f.name != "__pycache__":
            (top / f.name).symlink_to(f)
    for pkg, folder in dirs.items():
        parts = pkg.split(".")
        if len(parts) == 2 and not (top / parts[1]).exists():
            (top / parts[1]).symlink_to(folder)
    (tmp / "tools").symlink_to(ROOT / "tools")
    return tmp


def test_import_linter_contracts(tmp_path):
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    staged = _staged_tree(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(staged))
    run = subprocess.run([str(lint), str(ROOT / ".importlinter"), "--no-cache"],
                         cwd=staged, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "BROKEN" not in run.stdout


def _imports(tree: ast.AST, module: str, *, top_level: bool) -> list[tuple[str, int]]:
    """Project modules imported by `tree` (absolute names), at module level or inside
    functions. `from voxface.x import y` counts y when y is itself a module."""
    mods = _modules()
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, (ast.Import, ast.ImportFrom)) and in_function != top_level:
                names: list[str] = []
                if isinstance(child, ast.Import):
                    names = [a.name for a in child.names]
                elif child.module and child.level == 0:
                    names = [child.module] + [f"{child.module}.{a.name}" for a in child.names]
                elif child.level:
                    base = module.rsplit(".", child.level)[0] if module in mods else module
                    stem = f"{base}.{child.module}" if child.module else base
                    names = [stem] + [f"{stem}.{a.name}" for a in child.names]
                for n in names:
                    if n in mods:
                        found.append((n, child.lineno))
            # `if TYPE_CHECKING:` blocks are not run: skip them.
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            visit(child, inner)

    visit(tree, False)
    return found


def _heavy_modules() -> set[str]:
    """Modules that import an optional heavy dependency at module level, and the modules that
    import those at module level (importing them costs the dependency)."""
    mods = _modules()
    trees = {m: ast.parse(p.read_text(), str(p)) for m, p in mods.items()}
    heavy = set()
    for m, tree in trees.items():
        for node in tree.body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            if any(n.split(".")[0] in HEAVY for n in names):
                heavy.add(m)
    changed = True
    while changed:
        changed = False
        for m, tree in trees.items():
            if m not in heavy and any(t in heavy for t, _ in _imports(tree, m, top_level=True)):
                heavy.add(m)
                changed = True
    return heavy


def test_function_level_imports_are_for_heavy_dependencies_only():
    heavy = _heavy_modules()
    bad = []
    for m, path in sorted(_modules().items()):
        tree = ast.parse(path.read_text(), str(path))
        for target, line in _imports(tree, m, top_level=False):
            # The root package's `voxface.say` must stay lazy: importing any voxface module
            # runs voxface/__init__ first, and the core must not pull in the pipeline.
            if m == "voxface":
                continue
            if target not in heavy and not target.startswith("voxface.assets"):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {target} inside a function")
    assert not bad, f"{len(bad)} function-level project imports:\n" + "\n".join(bad)


def test_no_import_cycles():
    mods = _modules()
    graph = {m: sorted({t for t, _ in _imports(ast.parse(p.read_text(), str(p)), m,
                                               top_level=True) if t != m})
             for m, p in mods.items()}
    # A package's __init__ importing its own submodule is how packages work, not a cycle.
    for m in graph:
        graph[m] = [t for t in graph[m] if not t.startswith(m + ".")]
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def walk(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in graph.get(m, ()):
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                walk(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
