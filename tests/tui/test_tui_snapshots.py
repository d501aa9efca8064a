"""SVG snapshots of the TUI (pytest-textual-snapshot): main screen, detail, help, errors, diff.

Deterministic by construction: a frozen copy of the scenario in a temporary cwd
(relative paths only), a fixed terminal size, the analysis worker awaited before
the shot, no clock, no blinking cursor on screen.  Regenerate after an intended
change with ``pytest tests/tui --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import (
    SIZE,
    break_topology,
    copy_scenario,
    make_app,
    quiet,
    settle,
    settle_diff,
)

from ztsim.tui.scenario import Scenario


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    """The frozen Pajemploi scenario in a temporary cwd."""
    monkeypatch.chdir(tmp_path)
    return copy_scenario(tmp_path)


def test_main_screen(snap_compare, scenario):
    """Policies, the paths matrix and the detail of the first plan under flat."""
    assert snap_compare(make_app(scenario), terminal_size=SIZE, run_before=settle)


def test_main_screen_small_terminal(snap_compare, scenario):
    """Usable at 80x24: the verdict columns stay in view."""
    assert snap_compare(make_app(scenario), terminal_size=(80, 24), run_before=settle)


def test_path_detail(snap_compare, scenario):
    """A plan zoomed, under the segmented policy: the step that policy blocks."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("right_square_bracket", "down", "enter")
        await quiet(pilot)

    assert snap_compare(make_app(scenario), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare, scenario):
    """The ``?`` screen."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await quiet(pilot)

    assert snap_compare(make_app(scenario), terminal_size=SIZE, run_before=run_before)


def test_error_panel(snap_compare, scenario, tmp_path):
    """A broken file after a reload: FILE:LINE:COL in the panel, old results kept."""

    async def run_before(pilot):
        await settle(pilot)
        break_topology(tmp_path)
        await pilot.press("r")
        await settle(pilot)

    assert snap_compare(make_app(scenario), terminal_size=SIZE, run_before=run_before)


def test_diff_tab(snap_compare, scenario):
    """The Diff tab, flat against zero-trust: goals and plans closed, rules, the detail."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("4")
        await settle_diff(pilot)
        await pilot.press("p")
        await settle_diff(pilot)

    assert snap_compare(make_app(scenario), terminal_size=SIZE, run_before=run_before)


def test_path_detail_small_terminal(snap_compare, scenario):
    """80x24, the detail zoomed under segmented: the plan drawn in bands, step 3 marked."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("right_square_bracket", "d")
        await quiet(pilot)

    assert snap_compare(make_app(scenario), terminal_size=(80, 24), run_before=run_before)


def test_diff_tab_small_terminal(snap_compare, scenario):
    """80x24, the Diff tab: one frame around the sections (its scrollbar inside), the
    rule before the step text, the footer's keys whole."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("4")
        await settle_diff(pilot)

    assert snap_compare(make_app(scenario), terminal_size=(80, 24), run_before=run_before)
