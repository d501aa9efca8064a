"""The command line's modules: main imports the commands, nothing imports main.

``ztsim.cli.main`` imports every command module by name (``importlib``, which no
static import graph sees); so the commands, and the helpers they share
(``ztsim.cli.common``, ``ztsim.cli.exitcodes``), must never import main, nor the
``ztsim.cli`` package that re-exports it: that would be an import cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

CLI = ROOT / "ztsim" / "cli"
BELOW_MAIN = sorted([CLI / "common.py", CLI / "exitcodes.py", *(CLI / "commands").glob("*.py")])


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import is (functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


@pytest.mark.parametrize("path", BELOW_MAIN, ids=lambda p: str(p.relative_to(CLI)))
def test_nothing_below_main_imports_it(path: Path) -> None:
    bad = {m for m in _imported(path) if m in ("ztsim.cli", "ztsim.cli.main")}
    assert not bad, f"{path.name} imports {bad}: main imports the commands"


def test_main_finds_every_command() -> None:
    """The parser built by main has one command per module of ``ztsim.cli.commands``."""
    from ztsim.cli.exitcodes import EXIT_STATUSES
    from ztsim.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    modules = {p.stem for p in (CLI / "commands").glob("*.py") if p.stem != "__init__"}
    assert set(sub.choices) == modules == set(EXIT_STATUSES)  # type: ignore[arg-type]


def test_entry_points_stay() -> None:
    """``ztsim.cli:entry`` (the console script) and ``ztsim.cli.main.main`` keep working."""
    import ztsim.cli
    from ztsim.cli.main import entry, main

    assert ztsim.cli.entry is entry and ztsim.cli.main is main
    assert main(["schema", "policy"]) == 0
