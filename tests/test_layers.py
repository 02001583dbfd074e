"""The package's shape, checked: where SQL may be written, and which way imports may point."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "monitor"


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in ``path``, lazy ones inside functions included; for
    ``from package import name`` both the package and ``package.name`` (which may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: -node.level]
                yield node.lineno, ".".join([*base, node.module] if node.module else base)
            elif node.module:
                yield node.lineno, node.module
                for alias in node.names:  # `from monitor import delivery` imports monitor.delivery
                    yield node.lineno, f"{node.module}.{alias.name}"


def test_sql_is_written_in_the_store_or_the_web_read_model_never_in_the_faces() -> None:
    """The console and the command line go through the store, the read model and the domain modules."""
    allowed = {PACKAGE / "web" / "readmodel.py"}
    found = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for face in ("web", "cli")
        for path in sorted((PACKAGE / face).rglob("*.py"))
        if path not in allowed
        for line, name in imports(path)
        if name == "sqlalchemy" or name.startswith("sqlalchemy.")
    ]
    assert found == [], "SQL belongs in monitor/store/ or monitor/web/readmodel.py:\n" + "\n".join(found)


# The floors, ground first. A module may import its own floor and the ones below, never one above.
# Intake and the notify transport share a floor: both speak to the outside world and know nothing of
# what the product decides (notify may import config only, see below).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ground", ("config", "clock", "signing", "hygiene", "redaction", "oncall", "priority", "memtrim")),
    ("intake and transports", ("adapters", "fetch", "netguard", "followup", "normalize", "notify")),
    ("analysis", ("analyze",)),
    ("store", ("store",)),
    ("alerting", ("alerting",)),
    ("incidents and reports", ("sop", "reports")),
    ("delivery", ("delivery",)),
    (
        "orchestration",
        (
            "pipeline",
            "catchup",
            "shopauth",
            "observability",
            "outage",
            "cluster",
            "jobs",
            "runtime",
            "admin",
            "testing",
        ),
    ),
    ("console", ("web",)),
    ("daemon", ("daemon",)),
    ("faces", ("cli", "demo", "__main__")),
)
FLOOR = {part: i for i, (_, parts) in enumerate(LAYERS) for part in parts}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _edges() -> Iterator[tuple[str, int, str]]:
    """(importer, line, imported module) for every import of one package module by another."""
    modules = _modules()
    for name, path in sorted(modules.items()):
        found = list(imports(path))
        named_modules = {t for _, t in found if t in modules}
        for line, target in found:
            if any(m.startswith(target + ".") and m in named_modules for m in named_modules):
                continue  # `from monitor.web import api`: an import of monitor.web.api, not of the package
            while target and target not in modules:  # `from monitor.x import name` → monitor.x
                target = target.rpartition(".")[0]
            if target and target != name and target != "monitor":
                yield name, line, target


def _floor(module: str) -> int:
    return FLOOR[module.split(".")[1]]


def test_every_module_has_a_floor() -> None:
    tops = {name.split(".")[1] for name in _modules() if name != "monitor"}
    assert tops <= set(FLOOR), f"add these to LAYERS: {sorted(tops - set(FLOOR))}"


def test_imports_only_point_down_the_layers() -> None:
    """intake → analysis → store → alerting → delivery, config at the ground."""
    upward = [
        f"{importer} (line {line}, {LAYERS[_floor(importer)][0]}) imports {target} ({LAYERS[_floor(target)][0]})"
        for importer, line, target in _edges()
        if _floor(target) > _floor(importer)
    ]
    assert upward == [], "\n".join(upward)


def test_notify_is_a_transport_that_knows_only_the_config() -> None:
    found = [
        f"{importer}:{line} imports {target}"
        for importer, line, target in _edges()
        if importer.startswith("monitor.notify")
        and not target.startswith(("monitor.notify", "monitor.config"))
    ]
    assert found == [], "\n".join(found)


def test_there_are_no_import_cycles_between_packages() -> None:
    """No two top-level parts of ``monitor`` import each other, however indirectly (the circles
    ``farm-studio look`` draws). A package's own modules may (a click group and its commands)."""
    graph: dict[str, set[str]] = {}
    for importer, _, target in _edges():
        a, b = importer.split(".")[1], target.split(".")[1]
        if a != b:
            graph.setdefault(a, set()).add(b)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == [], "\n".join(" → ".join(c) for c in cycles)
