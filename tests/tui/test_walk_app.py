"""Pilot tests of the walk-through (``w``): stepping, switching policy, back, reload."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import SIZE, TOPOLOGY, copy_scenario, make_app, settle

from ztsim.tui.scenario import Scenario
from ztsim.tui.screens.help import HELP
from ztsim.tui.screens.main import MainScreen
from ztsim.tui.screens.walk import WalkScreen
from ztsim.tui.widgets.matrix import PathsPane


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    """The frozen Pajemploi scenario in a temporary cwd."""
    monkeypatch.chdir(tmp_path)
    return copy_scenario(tmp_path)


def _walk(app) -> WalkScreen:
    assert isinstance(app.screen, WalkScreen)
    return app.screen


async def test_w_walks_the_selected_plan_step_by_step(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down")
        selected = app.main.query_one(PathsPane).selected
        await pilot.press("w")
        await pilot.pause()
        walk = _walk(app)
        assert walk.plan.ident == selected
        assert walk.number == 1 and "step 1 of 7" in walk.text
        assert f"plan {selected}" in walk.text
        await pilot.press("right", "right")
        await pilot.pause()
        assert walk.number == 3
        assert "step 3 of 7  Lateral Movement" in walk.text
        assert "T1210 Exploitation of Remote Services" in walk.text
        assert "it used   user on portal-web (step 2)" in walk.text
        await pilot.press("left")
        assert walk.number == 2
        await pilot.press("end")
        assert walk.number == 7
        await pilot.press("right")  # stays on the last step
        assert walk.number == 7 and "Exfiltration" in walk.text
        await pilot.press("home")
        assert walk.number == 1
        await pilot.press("left")
        assert walk.number == 1


async def test_switching_policy_shows_where_the_plan_is_stopped(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await pilot.pause()
        walk = _walk(app)
        assert walk.policy == 0
        assert "under flat the plan is open" in walk.text
        assert "✗" not in walk.text.splitlines()[1]  # the strip: nothing stopped
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.pause()
        assert walk.policy == 2
        plan = walk.plan
        stop = plan.cells[2].step
        assert stop is not None
        strip = walk.text.splitlines()[1]
        assert f"✗{stop} {plan.steps[stop - 1].technique}" in strip
        await pilot.press("b")
        await pilot.pause()
        assert walk.number == stop
        assert "under zero-trust the plan stops HERE" in walk.text
        assert "✓ stops" in walk.text and "policies/zero-trust.yaml:" in walk.text
        # a step after the stop: never reached, and what zero-trust would do anyway
        await pilot.press("right")
        assert "the attacker never gets here" in walk.text
        # back: the main screen takes the policy walked last
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert app.main.policy == 2


async def test_b_under_a_policy_that_does_not_stop_the_plan_says_so(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("w", "right")
        await pilot.pause()
        walk = _walk(app)
        await pilot.press("b")
        await pilot.pause()
        assert walk.number == 2
        assert any("does not stop" in str(n.message) for n in app._notifications)


async def test_the_palette_walks_a_plan_and_q_closes(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        vm = app.vm
        assert vm is not None
        target = vm.plans[3]
        entry = next(
            e for e in app.palette_entries() if e.title.startswith(f"Walk: {target.ident}")
        )
        entry.run()
        await pilot.pause()
        walk = _walk(app)
        assert walk.plan.ident == target.ident
        assert app.main.query_one(PathsPane).selected == target.ident
        await pilot.press("q")  # closes the walk, not the app
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.is_running


async def test_a_reload_keeps_the_walk_on_the_same_plan(scenario, tmp_path):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("w", "right", "right")
        await pilot.pause()
        walk = _walk(app)
        ident, before = walk.plan.ident, walk.plan
        path = tmp_path / TOPOLOGY
        path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        await pilot.press("r")
        await settle(pilot)
        assert _walk(app) is walk
        assert walk.plan.ident == ident and walk.plan is not before
        assert walk.number == 3


async def test_w_without_a_plan_does_nothing_but_say_so(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.main.query_one(PathsPane).open_filter()
        await pilot.pause()
        await pilot.press(*"nothing-matches", "enter")
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


def test_the_help_and_the_readme_document_the_keys():
    assert "`w`: walk through the selected plan" in HELP
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "walk-through" in readme.lower() and "`w`" in readme
