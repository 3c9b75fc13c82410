"""The import-direction contract, checked over the source's AST (no import runs).

- the core (everything outside ``tui/`` and the CLI modules) never imports ``textual``, ``tui``
  or the CLI;
- ``tui`` never imports the CLI modules;
- ``formats`` never imports ``store`` (formats are pure converters over ``Example``);
- only ``store/`` holds SQL: no SQL statement in a string and no ``.execute(`` call elsewhere.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "annotator"
CLI_MODULES = {"annotator.cli", "annotator.__main__"}
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|BEGIN|COMMIT|ROLLBACK|WITH)\b")

# Places that broke the contract when it was written; each is to be moved into its owner and
# removed from here (the test fails when an entry is no longer needed, so the list only shrinks).
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Absolute names of every module ``name`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            out.add(prefix)
            out.update(f"{prefix}.{alias.name}" for alias in node.names)
    return out


def _violations() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for name, path in MODULES.items():
        imports = _imports(name, path)
        in_tui = name.startswith("annotator.tui")
        is_cli = any(name == m or name.startswith(m + ".") for m in CLI_MODULES)

        def uses(prefix: str) -> bool:
            return any(i == prefix or i.startswith(prefix + ".") for i in imports)

        if not in_tui and not is_cli and (uses("textual") or uses("annotator.tui")):
            found.add((name, "core imports the TUI"))
        if not is_cli and any(uses(m) for m in CLI_MODULES):
            found.add((name, "imports the CLI"))
        if name.startswith("annotator.formats") and uses("annotator.store"):
            found.add((name, "formats import the store"))
        if not name.startswith("annotator.store"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                    found.add((name, "sql"))
                elif isinstance(node, ast.Attribute) and node.attr in {"execute", "executemany", "executescript"}:
                    found.add((name, "sql"))
    return found


def test_the_contract_holds():
    broken = _violations() - KNOWN_VIOLATIONS
    assert not broken, "import-direction contract broken: " + "; ".join(f"{m}: {why}" for m, why in sorted(broken))


def test_known_violations_are_still_real():
    """An entry that no longer breaks the contract must leave KNOWN_VIOLATIONS."""
    stale = KNOWN_VIOLATIONS - _violations()
    assert not stale, f"remove from KNOWN_VIOLATIONS: {sorted(stale)}"


@pytest.mark.parametrize("snippet", ["import textual", "from .tui import app", "from . import cli"])
def test_the_checker_sees_a_violation(tmp_path, monkeypatch, snippet):
    """The checker is not vacuous: a core module importing the TUI or the CLI is caught."""
    fake = tmp_path / "annotator" / "labels_extra.py"
    fake.parent.mkdir()
    fake.write_text(snippet + "\n", encoding="utf-8")
    monkeypatch.setitem(MODULES, "annotator.labels_extra", fake)
    assert any(m == "annotator.labels_extra" for m, _ in _violations())


def test_the_checker_sees_sql_outside_the_store(tmp_path, monkeypatch):
    fake = tmp_path / "x.py"
    fake.write_text('def f(conn):\n    return conn.execute("SELECT 1")\n', encoding="utf-8")
    monkeypatch.setitem(MODULES, "annotator.labels_extra", fake)
    assert ("annotator.labels_extra", "sql") in _violations()
