"""``ztsim init`` (issue 27, point 11): a bundled scenario copied, never over a user's file,
and shipped whole in the wheel (assertions included)."""

from __future__ import annotations

import fnmatch
import runpy
from pathlib import Path
from typing import Any

import pytest
import setuptools

from tests.conftest import ROOT
from ztsim.cli.main import main
from ztsim.inputs.bundled import SCENARIOS, scenario_files


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize("name", SCENARIOS)
def test_init_copies_a_scenario_that_checks_as_shipped(name, tmp_path, capsys, monkeypatch) -> None:
    dest = tmp_path / "project"
    assert main(["init", str(dest), "--scenario", name]) == 0
    out = capsys.readouterr().out
    copied = _files(dest)
    kinds = {rel.split("/")[0] for rel in copied}
    assert kinds == {"topologies", "policies", "assertions"}
    for rel, data in copied.items():
        assert data == (ROOT / rel).read_bytes()  # the repository's files, byte for byte
    # The commands it prints work as printed, from the folder.
    monkeypatch.chdir(dest)
    command = out.splitlines()[2].split()  # "ztsim check TOPO --policy POLS --assert A"
    assert command[:2] == ["ztsim", "check"]
    assert main(command[1:]) in (0, 1)
    assert "error" not in capsys.readouterr().err


def test_init_never_overwrites_without_force(tmp_path, capsys) -> None:
    dest = tmp_path / "p"
    (dest / "policies").mkdir(parents=True)
    mine = dest / "policies" / "flat.yaml"
    mine.write_text("# my own policy\n")
    assert main(["init", str(dest)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ztsim init: error: would overwrite policies/flat.yaml in ")
    assert mine.read_text() == "# my own policy\n"
    assert sorted(_files(dest)) == ["policies/flat.yaml"]  # nothing else written either
    assert main(["init", str(dest), "--force"]) == 0
    assert mine.read_bytes() == (ROOT / "policies/flat.yaml").read_bytes()


def test_init_into_a_file_is_refused(tmp_path, capsys) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    assert main(["init", str(f)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_the_wheel_ships_every_file_init_copies(monkeypatch) -> None:
    """setup.py's package data covers each scenario file (topology, policies, assertions)."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: seen.update(kw))
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "setup.py"))
    dirs: dict[str, str] = seen["package_dir"]
    data: dict[str, list[str]] = seen["package_data"]
    for name in SCENARIOS:
        for rel, _ in scenario_files(name):
            top, _, rest = rel.partition("/")
            pkg = next(p for p, d in dirs.items() if d == top)
            assert pkg in seen["packages"]
            assert any(fnmatch.fnmatch(rest, pat) for pat in data[pkg]), rel
