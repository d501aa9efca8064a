"""One scenario loader (:mod:`ztsim.inputs.scenario`) behind the CLI and the TUI.

A bad scenario gets the same diagnostics from ``ztsim check`` and from the TUI's
:meth:`~ztsim.tui.scenario.Scenario.load`; a good one the same warnings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ztsim.cli.main import main
from ztsim.inputs.scenario import load_scenario
from ztsim.model.diagnostics import InputError
from ztsim.tui.scenario import Scenario

TOPO = """\
ztsim: 1
kind: topology
name: t
zones:
  - {id: internet, external: true}
  - {id: dmz}
hosts:
  - id: web
    zone: dmz
    services: [{service: 443/tcp}]
    data: [{id: d, classification: pii, records: 1}]
"""

POLICY = """\
ztsim: 1
kind: policy
name: p
segmentation:
  default: deny
  rules:
    - {id: r1, action: allow, from: {zone: internet}, to: {host: ghost}, services: [443/tcp]}
"""


def _cli_stderr(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["check", *argv])
    err = capsys.readouterr().err.splitlines()
    return code, [line for line in err if not line.startswith("ztsim: ")]


def _tui_diagnostics(topology: str, *policies: str) -> list[str]:
    try:
        _, _, warnings = Scenario(topology, policies).load()
    except InputError as exc:
        return [str(d) for d in exc.diagnostics]
    return [str(w) for w in warnings]


@pytest.mark.parametrize(
    "case",
    ["bad-topology-and-policy", "empty-folder", "missing", "warnings"],
)
def test_cli_and_tui_report_alike(
    case: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("t.yaml").write_text(TOPO)
    Path("p.yaml").write_text(POLICY)
    Path("empty").mkdir()
    Path("bad.yaml").write_text(TOPO.replace("zone: dmz", "zone: nowhere"))
    Path("badp.yaml").write_text(POLICY.replace("default: deny", "default: maybe"))
    args = {
        "bad-topology-and-policy": ("bad.yaml", "badp.yaml"),
        "empty-folder": ("t.yaml", "empty"),
        "missing": ("nope.yaml", "p.yaml"),
        "warnings": ("t.yaml", "p.yaml"),
    }[case]
    topology, *policies = args
    code, cli = _cli_stderr(capsys, topology, *[a for p in policies for a in ("-p", p)])
    tui = _tui_diagnostics(topology, *policies)
    assert cli == tui and cli
    assert code == (0 if case == "warnings" else 2)


def test_the_warnings_can_be_left_to_the_caller(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(TOPO)
    (tmp_path / "p.yaml").write_text(POLICY)
    loaded = load_scenario(tmp_path / "t.yaml", [str(tmp_path / "p.yaml")])
    assert [w.level for w in loaded.warnings] == ["warning"]
    quiet = load_scenario(tmp_path / "t.yaml", [str(tmp_path / "p.yaml")], warnings=False)
    assert quiet.warnings == [] and [p.name for p in quiet.policies] == ["p"]
