"""The house's rule, checked by walking every import with the standard library (ast): apps import
only downward, and no modules import each other (DESIGN.md, "Layout").

Bottom to top: the foundation (portal's modules but the wiring), meters, billing, the LDC's pages
(ldc) beside the customers' (customers), the coordinators' pages (ldc.sme) beside Connect My Data
(connect). The wiring (settings,
URL confs, the Celery app, the home page, the demo seeding) sits on top and may import anything;
nothing imports it. Imports inside functions count like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("portal", "meters", "billing", "ldc", "customers", "connect")
WIRING = (
    "portal",  # the package itself: it starts the Celery app
    "portal.settings",
    "portal.urls",
    "portal.api_urls",
    "portal.wsgi",
    "portal.celery",
    "portal.views",
    "portal.demo",
    "portal.management.commands.seed_demo",
    "portal.management.commands.demo_totp",
)
TOP = 9
# (layer, group) of a module by its longest matching prefix; two groups of one layer (siblings)
# import each other not.
LAYERS = {
    "portal": (0, "foundation"),
    "meters": (1, "meters"),
    "billing": (2, "billing"),
    "ldc": (3, "ldc"),
    "customers": (3, "customers"),
    "ldc.sme": (4, "coordinators"),
    "ldc.management.commands.rollout_snapshot": (4, "coordinators"),
    # Green Button Connect My Data: over customers (their links, the ESPI writer) and holding the
    # LDC administrator's third-party pages, which neither customers nor ldc could hold.
    "connect": (4, "connect"),
}


def modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # history: a migration names the code of its day
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(module, line) of every project module ``name`` imports, wherever the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target in known and target != name:
                yield target, node.lineno


def layer_of(name: str) -> tuple[int, str]:
    """(layer, group) of a module: its group tells siblings of one layer apart."""
    if name in WIRING:
        return TOP, "wiring"
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[best]


def edges() -> dict[str, set[tuple[str, int]]]:
    known = modules()
    return {name: set(imported(name, path, known)) for name, path in known.items()}


def test_every_import_points_down_or_stays_in_its_group() -> None:
    wrong = []
    for name, targets in edges().items():
        level, group = layer_of(name)
        for target, line in targets:
            their_level, their_group = layer_of(target)
            if their_level > level or (their_level == level and their_group != group):
                wrong.append(f"{name}:{line} imports {target} ({their_group} above {group})")
    assert not wrong, "\n".join(sorted(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_modules_import_each_other() -> None:
    graph = {name: {target for target, _ in targets} for name, targets in edges().items()}
    assert _cycles(graph) == []


def test_the_walk_sees_a_circle_and_an_upward_import() -> None:
    """The checks above can fail: a made-up circle is found, and meters above billing is wrong."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("meters.reads.ingest") < layer_of("billing.services")
    assert layer_of("ldc.sme.rollout")[0] > layer_of("ldc.dashboard")[0]
    assert layer_of("portal.tenancy")[0] == 0 and layer_of("portal.urls")[0] == TOP
