"""The layer rule is a tested contract: the import-linter contracts of pyproject.toml.

``lint-imports`` runs them in CI; this module runs them too, so the README's test
command checks the layers, and shows that each contract fails on a deliberate
violation (in a copy of the package: imports inside functions and under
``TYPE_CHECKING`` count, as do rich and Textual).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

#: ``lint-imports`` in a fresh interpreter (its console script may not be on PATH).
LINT_IMPORTS = (
    "import sys; from importlinter.cli import lint_imports_command; "
    "sys.exit(lint_imports_command())"
)


def lint_imports(root: Path) -> tuple[int, str]:
    """Run the contracts of ``root``/pyproject.toml on ``root``/ztsim: (status, report)."""
    proc = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache", "--no-logo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,  # lint-imports puts its working directory first on sys.path
        env={**os.environ, "COLUMNS": "400"},  # no wrapped chains in the report
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_the_layer_contracts_hold() -> None:
    """Every contract is kept by the package as it is."""
    status, report = lint_imports(ROOT)
    assert status == 0, report
    assert re.search(r"Contracts: (\d+) kept, 0 broken", report), report


DEFER = "\n\ndef _deferred() -> None:\n    {}  # noqa: F401\n"

#: Deliberate violations, one per contract: file (relative to the package) -> appended text.
VIOLATIONS = {
    # A deferred import in a function counts.
    "model/__init__.py": DEFER.format("import rich"),
    # So does one under TYPE_CHECKING.
    "inputs/__init__.py": (
        "\nfrom typing import TYPE_CHECKING\n\n"
        "if TYPE_CHECKING:\n    from ztsim.engine import fixpoint  # noqa: F401\n"
    ),
    "output/__init__.py": DEFER.format("import textual"),
    "perf/__init__.py": DEFER.format("from ztsim.engine import compiled"),
    # The top layer's siblings are independent.
    "tui/__init__.py": DEFER.format("from ztsim.cli import main"),
    # Every top-level module is in a layer (perf, _version and __main__ apart).
    "stray.py": "",
}

#: What the report of the broken copy names, one line per violation above.
EXPECTED = [
    "ztsim.model -> rich",
    "ztsim.inputs -> ztsim.engine.fixpoint",
    "ztsim.output -> textual",
    "ztsim.perf -> ztsim.engine.compiled",
    "ztsim.tui -> ztsim.cli.main",
    "- ztsim.stray",
]


def test_each_contract_fails_on_a_deliberate_violation(tmp_path: Path) -> None:
    """A copy of the package with one violation per contract: each is reported."""
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "ztsim", tmp_path / "ztsim", ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for rel, text in VIOLATIONS.items():
        path = tmp_path / "ztsim" / rel
        path.write_text(path.read_text() + text if path.exists() else text)
    status, report = lint_imports(tmp_path)
    assert status == 1, report
    missing = [line for line in EXPECTED if line not in report]
    assert not missing, f"not reported: {missing}\n{report}"
    for name in ("Layers", "perf imports", "import rich", "imports Textual"):
        assert re.search(rf"^.*{name}.* BROKEN", report, flags=re.M), report
