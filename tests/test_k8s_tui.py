"""``ztsim tui --k8s PATH... --overlay FILE``: the TUI on Kubernetes manifests (issue 25 point 6).

The shipped example (``examples/k8s/``) opened in the app through Textual's
Pilot: the paths matrix lists the plans to the customers' data, each blocked by
a NetworkPolicy named in its cell, and the detail names the policy's manifest
and line; without the policies the plans are open.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT
from textual.pilot import Pilot

from ztsim.cli.main import main
from ztsim.tui.app import ZtsimApp
from ztsim.tui.scenario import Scenario
from ztsim.tui.widgets.detail import PathDetail
from ztsim.tui.widgets.errors import ErrorPanel
from ztsim.tui.widgets.matrix import PathsPane

WORKLOADS = "examples/k8s/workloads"
POLICIES = "examples/k8s/policies"
OVERLAY = "examples/k8s/attack.yaml"
SIZE = (160, 45)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # relative paths on screen, as a user types them


async def _settle(pilot: Pilot[object]) -> None:
    """Wait until the analysis worker is done and its results are on screen."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def _cells(pane: PathsPane) -> list[list[str]]:
    table = pane.table
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


async def test_matrix_names_the_network_policy_that_blocks() -> None:
    app = ZtsimApp(Scenario.from_k8s([WORKLOADS, POLICIES], OVERLAY))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        assert not app.main.query_one(ErrorPanel).display, app.errors
        vm = app.vm
        assert vm is not None and vm.complete
        assert vm.policy_names == ("k8s",)  # the folder the manifests share
        assert vm.policies[0].safe
        rows = _cells(app.main.query_one(PathsPane))
        assert rows and all(r[0] == "exfiltrate(customers)" for r in rows)
        # Each plan's cell under the policy: blocked, by a rule compiled from the
        # default-deny NetworkPolicy of the namespace the blocked flow leaves.
        verdicts = [next(c for c in r if c.startswith("✓ ")) for r in rows]
        assert all("/default-deny-" in v for v in verdicts), verdicts
        assert "✓ egress-side/np-shop/default-deny-eg-isolate @4" in verdicts
        # The selected plan's detail: the NetworkPolicy and its manifest's line.
        detail = " ".join(app.main.query_one(PathDetail).text.split())
        assert (
            "denied by segmentation layer egress-side rule np-shop/default-deny-eg-isolate at "
            "NetworkPolicy shop/default-deny at examples/k8s/policies/default-deny.yaml:3"
        ) in detail
        assert WORKLOADS in str(app.sub_title)


async def test_without_the_policies_the_plans_are_open() -> None:
    app = ZtsimApp(Scenario.from_k8s([WORKLOADS], OVERLAY))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        vm = app.vm
        assert vm is not None and vm.complete and not app.errors
        assert vm.policy_names == ("workloads",) and not vm.policies[0].safe
        rows = _cells(app.main.query_one(PathsPane))
        assert rows and not any(c.startswith("✓ ") for r in rows for c in r)


async def test_a_bad_manifest_shows_its_place_and_the_app_keeps_running(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: 3}\n")
    app = ZtsimApp(Scenario.from_k8s([str(bad)], None))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        assert app.errors and all(d.path == str(bad) for d in app.errors)
        assert app.errors[0].line == 4
        assert app.main.query_one(ErrorPanel).display


def test_scenario_files_are_the_manifests_and_the_overlay() -> None:
    """What ``--watch`` polls and an export may never write over."""
    files = Scenario.from_k8s([WORKLOADS, POLICIES], OVERLAY).files()
    assert [f.as_posix() for f in files] == [
        f"{WORKLOADS}/data.yaml",
        f"{WORKLOADS}/namespaces.yaml",
        f"{WORKLOADS}/shop.yaml",
        f"{POLICIES}/api-fqdn.yaml",
        f"{POLICIES}/default-deny.yaml",
        f"{POLICIES}/shop.yaml",
        OVERLAY,
    ]


def test_the_command_line_opens_the_manifests(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opened: list[Scenario] = []
    monkeypatch.setattr(ZtsimApp, "run", lambda self: opened.append(self.scenario))
    argv = ["tui", "--k8s", WORKLOADS, "--k8s", POLICIES, "--overlay", OVERLAY]
    assert main(argv) == 0
    assert opened == [Scenario(WORKLOADS, (), (WORKLOADS, POLICIES), OVERLAY)]
    # usage errors, exit 2, nothing opened
    assert main(["tui", "topologies/pajemploi.yaml", "--k8s", WORKLOADS]) == 2
    assert "--k8s replaces TOPOLOGY" in capsys.readouterr().err
    assert main(["tui", "--overlay", OVERLAY]) == 2
    assert "--overlay goes with --k8s" in capsys.readouterr().err
    assert main(["tui", "--k8s", "examples/k8s/nowhere"]) == 2
    assert "examples/k8s/nowhere:1:1: error: no such file or folder" in capsys.readouterr().err
    assert len(opened) == 1
