"""The package's import graph: no cycles, and the layers point one way (tools → ros → core).

Every module under ``hand_pose_ros/`` is parsed with ``ast`` (nothing is imported, so the
test needs neither rclpy nor torch). Two kinds of import are told apart:

- **module-level**: executed when the module is imported — statements at the top of the
  module, including those inside top-level ``if``/``try`` blocks and class bodies. A cycle
  among these is the kind that breaks at import time (a partially initialised module) or
  depends on which module happens to be imported first.
- **lazy**: inside a function or method body (``def``), executed only when it is called.
  A lazy import cannot break start-up, but a cycle through one still means two modules each
  need the other, i.e. one concern split in two. Lazy imports are therefore checked
  separately: the graph with them counted must be acyclic too — for the core modules
  (everything outside ``tools/`` and ``ros/``) on their own, and for the whole package.

Imports under ``if TYPE_CHECKING:`` never run and are ignored.

An import of ``hand_pose_ros.a.b`` also runs ``hand_pose_ros/a/__init__.py``, so it counts as
an edge to the package ``hand_pose_ros.a`` as well — except from a module inside that
package (a submodule importing a sibling by absolute name finds its package already
initialising; that is not a cycle).

The layer rules hold for both kinds: the core never imports ``hand_pose_ros.tools`` or
``hand_pose_ros.ros``; ``hand_pose_ros.ros`` never imports ``hand_pose_ros.tools``.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator

import pytest

PACKAGE = "hand_pose_ros"
PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent / PACKAGE
TOOLS = f"{PACKAGE}.tools"
ROS = f"{PACKAGE}.ros"


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, pathlib.Path] = {
    _module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py")) if "__pycache__" not in path.parts
}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement in the module with whether it is lazy (inside a ``def``)."""

    def walk(node: ast.AST, lazy: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, lazy
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for orelse in child.orelse:
                    yield from walk(ast.Module(body=[orelse], type_ignores=[]), lazy)
            else:
                inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                yield from walk(child, inner)

    yield from walk(tree, False)


def _targets(importer: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The package modules one import statement runs, by dotted name."""
    if isinstance(node, ast.Import):
        named = [alias.name for alias in node.names]
    else:
        if node.level:
            base = importer.split(".")
            if not _is_package(importer):
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            stem = ".".join(base + ([node.module] if node.module else []))
        else:
            stem = node.module or ""
        # `from a import b` imports the module a.b when there is one, else a name from a.
        named = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in MODULES else stem for alias in node.names]
    targets: set[str] = set()
    for name in named:
        if not (name == PACKAGE or name.startswith(PACKAGE + ".")):
            continue
        parts = name.split(".")
        # The named module and every package above it run; the ones enclosing the importer
        # are already initialising.
        for depth in range(2, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            if prefix in MODULES and prefix != importer and not importer.startswith(prefix + "."):
                targets.add(prefix)
    return targets


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, lazy edges): importer → imported package modules."""
    eager: dict[str, set[str]] = {name: set() for name in MODULES}
    lazy: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, is_lazy in _imports(tree):
            (lazy if is_lazy else eager)[name] |= _targets(name, node)
    return eager, lazy


EAGER, LAZY = _graph()


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def _in_layer(name: str, layer: str) -> bool:
    return name == layer or name.startswith(layer + ".")


def _is_core(name: str) -> bool:
    return name != PACKAGE and not _in_layer(name, TOOLS) and not _in_layer(name, ROS)


def test_the_package_is_found() -> None:
    # Guards the other tests against passing on an empty graph.
    assert f"{PACKAGE}.detection.detector" in MODULES
    assert f"{PACKAGE}.fusion.fusion" in EAGER[f"{PACKAGE}.fusion"]


def test_the_parser_sees_both_kinds_of_import() -> None:
    # mesh/fitter.py imports its articulation models inside the factory (lazily: MANO needs
    # its file only when chosen), and at the top imports the mesh config.
    fitter = f"{PACKAGE}.mesh.fitter"
    assert f"{PACKAGE}.mesh.config" in EAGER[fitter]
    assert f"{PACKAGE}.mesh.mano" in LAZY[fitter]
    assert f"{PACKAGE}.mesh.mano" not in EAGER[fitter]


def test_no_cycle_among_module_level_imports() -> None:
    assert _cycles(EAGER) == []


def test_no_cycle_among_core_modules_with_lazy_imports_counted() -> None:
    core = {
        name: {t for t in EAGER[name] | LAZY[name] if _is_core(t)} for name in MODULES if _is_core(name)
    }
    assert _cycles(core) == []


def test_no_cycle_in_the_whole_package_with_lazy_imports_counted() -> None:
    assert _cycles({name: EAGER[name] | LAZY[name] for name in MODULES}) == []


@pytest.mark.parametrize(
    ("importers", "forbidden"),
    [("core", TOOLS), ("core", ROS), (ROS, TOOLS)],
    ids=["core-imports-no-tools", "core-imports-no-ros", "ros-imports-no-tools"],
)
def test_layers_point_one_way(importers: str, forbidden: str) -> None:
    offenders = sorted(
        f"{name} -> {target}"
        for name in MODULES
        if (_is_core(name) if importers == "core" else _in_layer(name, importers))
        for target in EAGER[name] | LAZY[name]
        if _in_layer(target, forbidden)
    )
    assert offenders == []


def test_the_cycle_finder_finds_cycles() -> None:
    # The check above is only as good as this: a two-module cycle and a three-module one.
    edges = {"a": {"b"}, "b": {"a", "c"}, "c": set(), "x": {"y"}, "y": {"z"}, "z": {"x"}}
    assert _cycles(edges) == [["a", "b"], ["x", "y", "z"]]
