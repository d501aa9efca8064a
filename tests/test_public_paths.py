"""The import paths the README and the docs give users keep working (issue 24: the package
moved to one folder per layer, and these did not move for users)."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

import pytest

PUBLIC = [
    ("ztsim", "analyze"),
    ("ztsim", "Analysis"),
    ("ztsim", "load_topology"),
    ("ztsim", "load_policies"),
    ("ztsim", "load_policy"),
    ("ztsim", "InputError"),
    ("ztsim", "Diagnostic"),
    ("ztsim", "__version__"),
    ("ztsim.testing", "assert_no_exfiltration"),
    ("ztsim.testing", "assert_egress_denied"),
    ("ztsim.testing", "assert_no_flow"),
    ("ztsim.testing", "assert_traffic_allowed"),
    ("ztsim.workspace", "Workspace"),
    ("ztsim.cli", "entry"),
    ("ztsim.cli", "main"),
]


@pytest.mark.parametrize(("module", "name"), PUBLIC)
def test_public_name_imports(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is not None


def test_the_console_script_is_ztsim_cli_entry() -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "ztsim"]
    assert script.value == "ztsim.cli:entry"
    assert callable(script.load())


def test_the_workspace_alias_is_the_class() -> None:
    from ztsim.analysis.workspace import Workspace
    from ztsim.workspace import Workspace as Public

    assert Public is Workspace
