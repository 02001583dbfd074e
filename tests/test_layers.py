"""The package's shape, checked: where SQL may be written, and which way imports may point."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "monitor"


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in ``path``, lazy ones inside functions included."""
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
