"""Pilot tests of the Diff tab and of reloads through the Workspace."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from tui_support import SIZE, copy_scenario, make_app, settle, settle_diff

from ztsim.tui.scenario import Reuse, Scenario
from ztsim.tui.widgets.diff import DiffDetail, DiffPane, DiffTable
from ztsim.tui.widgets.errors import ErrorPanel


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    """The frozen Pajemploi scenario in a temporary cwd."""
    monkeypatch.chdir(tmp_path)
    return copy_scenario(tmp_path)


def _table(app, name: str) -> DiffTable:
    return app.main.query_one(f"#diff-{name}", DiffTable)


def _column(table: DiffTable, label: str, row: int) -> str:
    labels = [c.label.plain for c in table.ordered_columns]
    return table.get_row_at(row)[labels.index(label)].plain


async def test_diff_tab_shows_closed_then_opened_plans(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle_diff(pilot)
        pane = app.main.query_one(DiffPane)
        assert app.main.view == "diff"
        # the first two policies by default; p moves the proposed one to zero-trust
        assert (app.diff_view.base, app.diff_view.proposed) == ("flat", "segmented")
        await pilot.press("p")
        await settle_diff(pilot)
        v = app.diff_view
        assert (v.base, v.proposed) == ("flat", "zero-trust")
        assert v.verdict.startswith("PASS") and not v.failed
        assert "bold green" in str(pane.head_text.spans)
        goals = _table(app, "goals")
        assert goals.display and goals.row_count == 2
        assert {_column(goals, "change", i) for i in range(2)} == {"closed"}
        plans = _table(app, "plans")
        assert plans.has_focus
        assert plans.row_count == len(v.plans) == 10
        assert all(_column(plans, "change", i) == "closed" for i in range(10))
        # the responsible step and rule, as ztsim diff names them
        assert _column(plans, "responsible step", 0).startswith("3. exploit portal-web")
        assert _column(plans, "rule", 0) == "segmentation default"
        assert _table(app, "rules").display and _table(app, "settings").display
        assert not _table(app, "traffic").display  # no legitimate flow changes
        # the detail: the plan's steps under both policies, the responsible one marked
        await pilot.press("down")
        await pilot.pause()
        detail = app.main.query_one(DiffDetail)
        assert pane.selected == v.plans[1].ident
        assert v.plans[1].ident in detail.text
        assert "BLOCKED by default" in detail.text and "base flat: OPEN" in detail.text
        assert [s.responsible for s in v.plans[1].steps].index(True) == 2
        assert "\n▶3 | exploit portal-web -> api-01 8081/tcp | flow" in detail.text
        # swap: zero-trust -> flat opens what was closed, and the verdict fails
        await pilot.press("x")
        await settle_diff(pilot)
        v = app.diff_view
        assert (v.base, v.proposed) == ("zero-trust", "flat")
        assert v.failed and v.verdict.startswith("FAIL")
        assert "bold red" in str(pane.head_text.spans)
        assert plans.row_count == 10
        assert all(_column(plans, "change", i) == "opened" for i in range(10))
        assert all(g.change == "opened" for g in v.goals)
        # enter zooms the plan detail, escape restores
        await pilot.press("enter")
        await pilot.pause()
        assert app.main.maximized is detail
        await pilot.press("escape")
        await pilot.pause()
        assert app.main.maximized is None


async def test_diff_export_writes_the_markdown_diff(scenario, tmp_path):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle_diff(pilot)
        await pilot.press("e")
        await pilot.pause()
        text = (tmp_path / "ztsim-export-diff.md").read_text()
        assert text == app.diff_view.markdown
        assert text.startswith("### ztsim diff: `flat` → `segmented` on `pajemploi`")
        assert "#### Attack plans (10 changed of 12 compared)" in text
        await pilot.press("E")
        await pilot.pause()
        assert '"base": {' in (tmp_path / "ztsim-export-diff.json").read_text()


async def test_diff_of_identical_policies_says_no_difference(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_scenario(tmp_path)
    flat = tmp_path / "policies" / "flat.yaml"
    twin = tmp_path / "twin.yaml"
    twin.write_text(flat.read_text().replace("name: flat", "name: twin"))
    app = make_app(Scenario("topologies/pajemploi.yaml", ("policies/flat.yaml", "twin.yaml")))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle_diff(pilot)
        assert app.diff_view.empty
        none = app.main.query_one("#diff-none")
        assert none.display
        assert not any(t.display for t in app.main.query(DiffTable))


async def test_diff_needs_two_policies(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_scenario(tmp_path)
    app = make_app(Scenario("topologies/pajemploi.yaml", ("policies/flat.yaml",)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        assert app.diff_view is None
        assert "two policies" in app.main.query_one(DiffPane).head_text.plain


async def test_diff_is_recomputed_on_reload(scenario, tmp_path):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle_diff(pilot)
        before = app.diff_view
        assert all(s.setting != "egress.default" for s in before.settings)
        policy = tmp_path / "policies" / "segmented.yaml"
        text = policy.read_text()
        policy.write_text(text.replace("egress:\n  default: allow", "egress:\n  default: deny"))
        await pilot.press("r")
        for _ in range(200):
            await settle(pilot)
            if app.diff_view is not before:
                break
        after = app.diff_view
        assert after is not before
        assert ("egress.default", "allow", "deny") in {
            (s.setting, s.base, s.proposed) for s in after.settings
        }
        # egress denied by default breaks the payroll batch's bank flow
        traffic = _table(app, "traffic")
        assert traffic.display and [t.change for t in after.traffic] == ["broken"]
        assert _column(traffic, "change", 0) == "broken"
        # nothing changed: the diff is kept as it is
        await pilot.press("r")
        await settle(pilot)
        assert app.diff_view is after


async def test_reload_after_editing_one_policy_reuses_the_others(scenario, tmp_path):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        stats = app.session.workspace().stats
        assert (stats.topology_loads, stats.policy_loads, stats.solves) == (1, 3, 3)
        assert app.reuse == Reuse(True, 3, 3, 0)
        policy = tmp_path / "policies" / "segmented.yaml"
        policy.write_text(policy.read_text() + "\n# one more comment\n")
        await pilot.press("r")
        await settle(pilot)
        assert (stats.topology_loads, stats.policy_loads, stats.solves) == (1, 4, 4)
        assert app.reuse == Reuse(False, 1, 1, 2)
        notes = [n.message for n in app._notifications]
        assert any(re.fullmatch(r"reloaded 1 policy, reused 2 in \d+\.\d\d s", m) for m in notes)
        assert app.sub_title.endswith("reloaded 1 policy, reused 2")  # no time: stable bytes
        # a bad edit: the error panel, the workspace and the screen keep the last good state
        policy.write_text(policy.read_text().replace("default: deny", "default: maybe"))
        await pilot.press("r")
        await settle(pilot)
        panel = app.main.query_one(ErrorPanel)
        assert panel.display and "policies/segmented.yaml:" in panel.text
        assert stats.solves == 4 and app.vm.policy_names == ("flat", "segmented", "zero-trust")
        # the topology changes: everything is judged again
        topo = tmp_path / "topologies" / "pajemploi.yaml"
        topo.write_text(topo.read_text() + "\n# touched\n")
        policy.write_text(policy.read_text().replace("default: maybe", "default: deny"))
        await pilot.press("r")
        await settle(pilot)
        assert not panel.display
        assert app.reuse.topology_parsed and stats.topology_loads == 2
        assert "topology changed: judged 3 policies" in app.sub_title


async def test_a_policy_added_to_the_folder_is_judged_alone(scenario, tmp_path):
    app = make_app(scenario, watch=True, poll=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shutil.copy(tmp_path / "policies" / "flat.yaml", tmp_path / "policies" / "zz.yaml")
        path = tmp_path / "policies" / "zz.yaml"
        path.write_text(path.read_text().replace("name: flat", "name: z-flat"))
        for _ in range(100):
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
            if app.vm is not None and len(app.vm.policies) == 4:
                break
        await settle(pilot)
        assert app.vm.policy_names[-1] == "z-flat"
        assert app.reuse == Reuse(False, 1, 1, 3)


async def test_palette_opens_the_diff_tab(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        entry = next(e for e in app.palette_entries() if e.title == "Diff base vs proposed")
        assert entry.discover
        entry.run()
        await settle(pilot)
        assert app.main.view == "diff" and app.diff_view is not None
