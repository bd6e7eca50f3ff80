"""Imports point one way: entrypoint -> runner -> operations -> settings and rendering ->
platform clients -> core. Declared here once; the graph comes from the source with `ast`, so
imports under `if TYPE_CHECKING:` and inside functions count like any other."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "promote_action"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("entrypoint", ("cli", "__main__")),
    ("runner", ("runner", "github_delivery")),
    ("operations", ("operations",)),
    ("settings and rendering", ("inputs", "registry", "plans", "report")),
    ("platform clients", ("heroku", "kintone", "connect", "health")),
    ("core", ("http", "waiting", "errors", "context", "status", "urls", "__init__")),
]
"""Top to bottom: a module may import its own layer and the layers below it, never above.
The registry names operations' code as strings and loads it for the runner on demand."""


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every promote_action module `name` imports, resolved to the deepest existing module."""
    targets: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for imported in candidates:
            module = imported
            while module and module not in modules:
                module = module.rpartition(".")[0]
            if module and module != name:
                targets.add(module)
                break
    return targets


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for index, (_, members) in enumerate(LAYERS):
        if top in members:
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_every_module_is_in_a_layer_and_imports_only_downwards():
    upward = [
        f"{module} ({LAYERS[_layer(module)][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
        for module, targets in _graph().items()
        for target in targets
        if _layer(target) < _layer(module)
    ]
    assert not upward


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles


def test_the_product_never_imports_the_fakes():
    for path in (SRC / PACKAGE).rglob("*.py"):
        assert "promote_sandbox" not in path.read_text(), path


def test_platform_clients_know_nothing_of_inputs_or_operations():
    graph = _graph()
    clients = [m for m in graph if _layer(m) == 4]
    assert clients
    for module in clients:
        assert not {
            t
            for t in graph[module]
            if t.startswith(("promote_action.inputs", "promote_action.operations"))
        }, module


def test_the_checker_sees_an_upward_import_and_a_cycle(tmp_path: Path):
    """The graph is built the way the tests above rely on: TYPE_CHECKING and relative imports."""
    package = tmp_path / PACKAGE
    (package / "heroku").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "heroku" / "__init__.py").write_text("")
    (package / "heroku" / "client.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from promote_action.runner import x\n"
    )
    (package / "runner.py").write_text("from .heroku import client\n")
    modules = {
        ".".join(p.relative_to(tmp_path).with_suffix("").parts).removesuffix(".__init__"): p
        for p in package.rglob("*.py")
    }
    assert _imports(
        "promote_action.heroku.client", modules["promote_action.heroku.client"], modules
    ) == {"promote_action.runner"}
    assert _imports("promote_action.runner", modules["promote_action.runner"], modules) == {
        "promote_action.heroku.client"
    }
