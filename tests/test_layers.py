"""The imports follow the flow: base -> simulate -> data -> models -> train -> interpret ->
experiments -> report -> cli. No cycles, no upward imports (function-local ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "motiflens"

#: Layer of each module (longest matching prefix wins); docs/DESIGN.md names the same layers.
LAYERS = {
    "motiflens.errors": 0, "motiflens._io": 0, "motiflens._machine": 0, "motiflens._malloc": 0,
    "motiflens._numba": 0, "motiflens.motifs": 0, "motiflens.jaspar": 0, "motiflens.ops": 0,
    "motiflens.jaspar_snapshot": 0, "motiflens.jaspar_pyjaspar": 0,
    "motiflens.metrics": 0, "motiflens.tables": 0,
    "motiflens.data.dataset": 0,  # the one owner of the HDF5 format: every layer reads it
    "motiflens.simulate": 1,
    "motiflens.data": 2,
    "motiflens.models": 3,
    "motiflens.train": 4, "motiflens.vectorized": 4,
    "motiflens.interpret": 5,
    "motiflens.experiments": 6,
    "motiflens.report": 7,
    "motiflens.cli": 8, "motiflens.cli_commands": 8, "motiflens.demo": 8, "motiflens": 8,
}


def layer_of(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path) -> list[tuple[str, bool, int]]:
    """(imported motiflens module, at module level?, line) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:  # relative: resolve against the package
            base = package[: len(package) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module if isinstance(node, ast.ImportFrom) else None
        if isinstance(node, ast.ImportFrom) and module and module.startswith("motiflens"):
            node_module = module
            names = [f"{node_module}.{a.name}" for a in node.names]
            target = next((n for n in names if (PACKAGE.parent / n.replace(".", "/")).with_suffix(".py").is_file()
                           or (PACKAGE.parent / n.replace(".", "/")).is_dir()), node_module)
            found.append((target, id(node) in top, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("motiflens"):
                    found.append((alias.name, id(node) in top, node.lineno))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_upward_import(path):
    here = module_name(path)
    if here == "motiflens":  # the lazy front door re-exports every layer by name only
        return
    upward = [(target, line) for target, _, line in imports(path)
              if layer_of(target) > layer_of(here)]
    assert not upward, f"{here} (layer {layer_of(here)}) imports upward: {upward}"


def test_no_import_cycles():
    """Between modules, function-local imports included (the front door excepted)."""
    graph = {module_name(p): {t for t, _, _ in imports(p)} for p in MODULES
             if module_name(p) != "motiflens"}
    graph = {k: {t for t in v if t in graph and t != k} for k, v in graph.items()}
    seen, stack, cycles = set(), [], []

    def visit(node: str) -> None:
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        stack.pop()

    for node in sorted(graph):
        visit(node)
    assert not cycles, cycles


def test_relative_imports_are_resolved():
    """A relative import counts like its absolute spelling (else ``from ..train import x``
    inside a package would slip past the layer check)."""
    found = {target for target, _, _ in imports(PACKAGE / "motifs" / "meme.py")}
    assert "motiflens.motifs.ppm" in found
