"""Pilot tests of the TUI: selection, filtering, policy switching, reload, watch, export."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from tui_support import SIZE, TOPOLOGY, break_topology, copy_scenario, make_app, settle

from ztsim.tui.scenario import Scenario, Session
from ztsim.tui.screens.help import HelpScreen
from ztsim.tui.widgets.detail import PathDetail
from ztsim.tui.widgets.errors import ErrorPanel
from ztsim.tui.widgets.matrix import PathsPane
from ztsim.tui.widgets.policies import PoliciesTable
from ztsim.tui.widgets.topology import TopologyPane
from ztsim.tui.widgets.traffic import TrafficPane


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    """The frozen Pajemploi scenario in a temporary cwd."""
    monkeypatch.chdir(tmp_path)
    return copy_scenario(tmp_path)


def _detail_text(app) -> str:
    detail = app.main.query_one(PathDetail)
    return detail.text + " " + str(detail.border_title)


async def test_loads_policies_plans_and_traffic(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        vm = app.vm
        assert vm is not None and vm.complete
        assert vm.policy_names == ("flat", "segmented", "zero-trust")
        table = app.main.query_one(PoliciesTable)
        assert table.row_count == 3
        # zero-trust reaches no goal, the other two do (the scenario's lesson)
        assert [p.safe for p in vm.policies] == [False, False, True]
        assert all(p.plans == len(vm.plans) for p in vm.policies)
        paths = app.main.query_one(PathsPane)
        assert paths.table.row_count == len(vm.plans) > 0
        assert app.main.query_one(TrafficPane).query_one("#traffic-table").row_count == 27
        assert not app.main.query_one(ErrorPanel).display
        # relative paths only: nothing machine-specific on screen
        assert vm.topology.path == TOPOLOGY
        assert {p.path for p in vm.policies} == {
            "policies/flat.yaml",
            "policies/segmented.yaml",
            "policies/zero-trust.yaml",
        }


async def test_selection_moves_the_detail(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        paths = app.main.query_one(PathsPane)
        first = paths.selected
        assert first == paths.shown[0].ident
        assert first in _detail_text(app)
        await pilot.press("down", "down")
        await pilot.pause()
        third = paths.shown[2].ident
        assert paths.selected == third
        assert third in _detail_text(app)
        assert first not in _detail_text(app)


async def test_enter_zooms_the_detail_and_escape_restores(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert app.main.maximized is app.main.query_one(PathDetail)
        await pilot.press("escape")
        await pilot.pause()
        assert app.main.maximized is None


async def test_filter_by_technique_and_text(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        paths = app.main.query_one(PathsPane)
        total = len(paths.shown)
        await pilot.press("slash", *"T1557")  # free text matches technique ids too
        await pilot.pause()
        assert paths.query_state.text == "T1557"
        free = paths.shown
        assert 0 < len(free) < total
        app.main.query_one("#filter").value = "tech:T1557"
        await pilot.pause()
        shown = paths.shown
        assert shown == free
        assert all(any(t.startswith("T1557") for t in p.techniques) for p in shown)
        assert paths.table.row_count == len(shown)
        await pilot.press("enter")  # keeps the filter, back to the matrix
        await pilot.pause()
        assert paths.table.has_focus
        assert paths.query_state.text == "tech:T1557"
        await pilot.press("slash", "escape")  # clears it
        await pilot.pause()
        assert len(paths.shown) == total
        await pilot.press("slash")
        app.main.query_one("#filter").value = "goal:tamper"
        await pilot.press("enter")
        await pilot.pause()
        assert paths.shown and all(p.goal.startswith("tamper(") for p in paths.shown)


async def test_filter_is_open_follows_the_current_policy(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        paths = app.main.query_one(PathsPane)
        await pilot.press("slash")
        app.main.query_one("#filter").value = "is:open"
        await pilot.press("enter")
        await pilot.pause()
        assert len(paths.shown) == len(app.vm.plans)  # flat blocks nothing
        await pilot.press("right_square_bracket", "right_square_bracket")  # zero-trust
        await pilot.pause()
        assert app.main.policy == 2
        assert paths.shown == []  # zero-trust blocks every plan


async def test_sort_by_records_then_goal(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        paths = app.main.query_one(PathsPane)
        costs = [p.cost for p in paths.shown]
        assert costs == sorted(costs)
        await pilot.press("s")
        await pilot.pause()
        assert paths.query_state.sort == "records"
        records = [p.records or 0 for p in paths.shown]
        assert records == sorted(records, reverse=True)
        await pilot.press("s")
        await pilot.pause()
        goals = [p.goal for p in paths.shown]
        assert goals == sorted(goals)


async def test_policy_switching_from_keys_and_the_policies_pane(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "under flat" in _detail_text(app)
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.main.policy == 1
        assert "under segmented" in _detail_text(app)
        assert app.main.query_one(PoliciesTable).cursor_row == 1
        # the first plan is blocked by segmented at a step, with the rule named
        plan = app.vm.plan(app.main.query_one(PathsPane).selected)
        cell = plan.cells[1]
        assert cell.blocked and f"BLOCKED at step {cell.step} by {cell.rule}" in _detail_text(app)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await pilot.pause()
        assert app.main.policy == 2  # wraps around to zero-trust
        # moving the cursor in the policies pane chooses the policy too
        app.main.query_one(PoliciesTable).focus()
        await pilot.press("up")
        await pilot.pause()
        assert app.main.policy == 1
        assert "under segmented" in _detail_text(app)


async def test_detail_names_rule_locations_and_detection(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.main.choose_policy(2)
        await pilot.pause()
        text = _detail_text(app)
        assert "policies/zero-trust.yaml:" in text  # allowed by rule X at FILE:LINE
        assert "P(det)" in text


async def test_reload_with_a_broken_file_keeps_the_last_results(scenario, tmp_path):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = app.vm
        paths = app.main.query_one(PathsPane)
        await pilot.press("down")
        await pilot.pause()
        selected = paths.selected
        line, col = break_topology(tmp_path)
        await pilot.press("r")
        await settle(pilot)
        panel = app.main.query_one(ErrorPanel)
        assert panel.display
        body = panel.text
        assert f"{TOPOLOGY}:{line}:{col}:" in body
        assert "lables" in body
        assert "last good result" in str(panel.border_title)
        # the previous results stay on screen, selection included
        assert app.vm is before
        assert paths.table.row_count == len(before.plans)
        assert paths.selected == selected
        # fix the file: the panel goes away, the selection is kept
        path = tmp_path / TOPOLOGY
        path.write_text(path.read_text().replace("lables:", "labels:"))
        await pilot.press("r")
        await settle(pilot)
        assert not panel.display
        assert app.vm is not before
        assert paths.selected == selected


async def test_watch_reloads_when_a_policy_changes(scenario, tmp_path):
    app = make_app(scenario, watch=True, poll=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = app.vm
        app.main.choose_policy(1)
        await pilot.press("down")
        await pilot.pause()
        selected = app.main.query_one(PathsPane).selected
        policy = tmp_path / "policies" / "segmented.yaml"
        policy.write_text(policy.read_text() + "\n# touched\n")
        deadline = time.monotonic() + 10
        while app.vm is first and time.monotonic() < deadline:
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
        await settle(pilot)
        assert app.vm is not first
        assert app.main.policy == 1
        assert app.main.query_one(PathsPane).selected == selected


async def test_export_markdown_and_json(scenario, tmp_path):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        selected = app.main.query_one(PathsPane).selected
        await pilot.press("e")
        await pilot.pause()
        md = tmp_path / "ztsim-export-paths.md"
        assert md.is_file()
        text = md.read_text()
        assert text.startswith("# ztsim paths: pajemploi")
        assert f"## Plan {selected} under flat" in text
        assert any("ztsim-export-paths.md" in n.message for n in app._notifications)
        assert str(tmp_path) not in " ".join(n.message for n in app._notifications)
        await pilot.press("E")
        await pilot.pause()
        data = json.loads((tmp_path / "ztsim-export-paths.json").read_text())
        assert data["view"] == "paths" and data["selected"]["id"] == selected
        assert len(data["plans"]) == len(app.vm.plans)
        await pilot.press("3", "e")
        await pilot.pause()
        assert "## Legitimate traffic" in (tmp_path / "ztsim-export-traffic.md").read_text()


async def test_topology_host_lists_plans_and_jumps_to_one(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await pilot.pause()
        pane = app.main.query_one(TopologyPane)
        assert pane.topo_tree.has_focus
        assert app.main.jump_to_host("payroll-db")
        await pilot.pause()
        await pilot.pause()
        assert pane.host == "payroll-db"
        assert pane.topo_tree.cursor_node is not None
        assert pane.topo_tree.cursor_node.data == ("host", "payroll-db")
        through = app.vm.plans_through("payroll-db")
        assert through
        table = pane.query_one("#host-plans")
        assert table.row_count == len(through)
        table.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.main.view == "paths"
        ident = app.main.query_one(PathsPane).selected
        assert ident in {p.ident for p in through}


async def test_topology_tree_opens_zones_on_demand(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2", "down", "down", "enter")
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        pane = app.main.query_one(TopologyPane)
        assert pane.host == "portal-web"


async def test_help_screen_and_quit(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        assert app.is_running
        await pilot.press("q")
        await pilot.pause()
        # `q` ended the app itself (leaving run_test's block would end it anyway).
        assert not app.is_running
        assert app.return_code == 0


async def test_bindings_have_ids_and_descriptions():
    from ztsim.tui.app import ZtsimApp
    from ztsim.tui.screens.main import MainScreen

    for binding in [*ZtsimApp.BINDINGS, *MainScreen.BINDINGS]:
        assert binding.id, binding  # type: ignore[union-attr]
        assert binding.description, binding  # type: ignore[union-attr]


async def test_command_palette_jumps_to_a_policy(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"zero")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.main.policy == 2
        titles = [e.title for e in app.palette_entries()]
        assert "Host: payroll-db" in titles
        assert any(t.startswith("Plan: ") for t in titles)


async def test_the_ui_answers_while_the_worker_computes(scenario, monkeypatch):
    """Heavy work runs in a thread: the screen answers keys while the analysis runs."""
    release = threading.Event()
    original = Session.analyze

    def slow_analyze(self):
        release.wait(10)
        return original(self)

    monkeypatch.setattr(Session, "analyze", slow_analyze)
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.vm is None and app.main.query_one(PathsPane).loading
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)  # answered while the worker waits
        await pilot.press("escape")
        release.set()
        await settle(pilot)
        assert app.vm is not None and not app.main.query_one(PathsPane).loading


async def test_a_core_error_is_reported_not_fatal(scenario, monkeypatch):
    import ztsim.analysis.workspace

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(ztsim.analysis.workspace, "judge_policy", boom)
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert any("kaboom" in n.message for n in app._notifications)
        assert app.is_running


async def test_initial_errors_show_the_panel(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_scenario(tmp_path)
    line, col = break_topology(tmp_path)
    app = make_app(Scenario(TOPOLOGY, ("policies",)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        panel = app.main.query_one(ErrorPanel)
        assert panel.display
        assert f"{TOPOLOGY}:{line}:{col}:" in panel.text
        assert "nothing to show yet" in str(panel.border_title)
        assert not app.main.query_one(PathsPane).loading


async def test_streamed_plans_are_appended_in_order(scenario):
    """Plans arrive goal by goal on big topologies: appending keeps order and selection."""
    from ztsim.tui.viewmodel import with_plans

    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        full = app.vm
        paths = app.main.query_one(PathsPane)
        await pilot.press("s")  # by records: the appended plans interleave
        tamper = [p for p in full.plans if p.goal.startswith("tamper")]
        exfil = [p for p in full.plans if not p.goal.startswith("tamper")]
        part = with_plans(full, tamper, 1)
        app.main.show(part, "plans: 1/2 goals…")
        await pilot.pause()
        await pilot.press("down")
        chosen = paths.selected
        app.main.show(with_plans(part, tamper + exfil, 2))
        await pilot.pause()
        order = [row.key.value for row in paths.table.ordered_rows]
        assert order == [p.ident for p in paths.shown]
        assert len(order) == len(full.plans)
        assert paths.selected == chosen
