"""The core is headless: importing it (and every command module) never loads Textual."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

import ztsim
import ztsim.commands

CORE = [
    "ztsim",
    "ztsim.model",
    "ztsim.yamlio",
    "ztsim.loader",
    "ztsim.diagnostics",
    "ztsim.policy",
    "ztsim.engine",
    "ztsim.plans",
    "ztsim.analysis",
    "ztsim.graph",
    "ztsim.render",
    "ztsim.techniques",
    "ztsim.cli",
]


def _commands() -> list[str]:
    return sorted(f"ztsim.commands.{m.name}" for m in pkgutil.iter_modules(ztsim.commands.__path__))


def _all_but_tui() -> list[str]:
    """Every module of the package outside ``ztsim.tui`` (found without importing them)."""
    found: list[str] = []

    def walk(path: list[str], prefix: str) -> None:
        for m in pkgutil.iter_modules(path):
            name = prefix + m.name
            if name == "ztsim.tui" or name == "ztsim.__main__":
                continue  # the face that may use Textual; __main__ runs the CLI
            found.append(name)
            if m.ispkg:
                walk([str(Path(path[0]) / m.name)], name + ".")

    walk(list(ztsim.__path__), "ztsim.")
    return sorted(found)


def test_core_and_commands_do_not_import_textual():
    """In a fresh interpreter: import everything but ztsim.tui, build the parser, check."""
    modules = CORE + _commands() + [m for m in _all_but_tui() if m not in CORE]
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "from ztsim.cli import build_parser\n"
        "build_parser()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_the_module_lists_cover_the_known_modules():
    """The hygiene test above really imports the command modules and the core."""
    assert {"ztsim.commands.check", "ztsim.commands.tui"} <= set(_commands())
    assert set(CORE) - {"ztsim"} <= set(_all_but_tui())
    assert not [m for m in _all_but_tui() if m.startswith("ztsim.tui")]


def test_a_check_run_does_not_import_textual():
    """Running ``check`` end to end in a fresh process does not load Textual either."""
    code = (
        "import sys\n"
        "from ztsim.cli import main\n"
        "rc = main(['check', 'topologies/pajemploi.yaml', '--format', 'json'])\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'textual'], 'textual loaded'\n"
        "sys.stderr.write(f'rc={rc}')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.endswith("rc=1")
    assert ztsim.__version__
