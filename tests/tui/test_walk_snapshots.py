"""SVG snapshots of the walk-through (pytest-textual-snapshot), at 120x40 and 80x24.

The frozen scenario in a temporary cwd, a fixed size, the analysis awaited before
the keys: the same bytes every run.  Regenerate after an intended change with
``pytest tests/tui/test_walk_snapshots.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import SIZE, copy_scenario, make_app, quiet, settle

from ztsim.tui.scenario import Scenario


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    """The frozen Pajemploi scenario in a temporary cwd."""
    monkeypatch.chdir(tmp_path)
    return copy_scenario(tmp_path)


def _keys(*keys: str):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press(*keys)
        await quiet(pilot)

    return run_before


def test_walk_step_stopped_under_segmented(snap_compare, scenario):
    """The first plan under segmented, at step 3 where segmented stops it (✗ in the
    strip, the control with its FILE:LINE, the drawing with the block)."""
    keys = _keys("w", "right_square_bracket", "b")
    assert snap_compare(make_app(scenario), terminal_size=SIZE, run_before=keys)


def test_walk_open_step_under_flat(snap_compare, scenario):
    """Step 5 (a login) under flat: why it was possible, what flat lacks."""
    keys = _keys("w", "right", "right", "right", "right")
    assert snap_compare(make_app(scenario), terminal_size=SIZE, run_before=keys)


def test_walk_small_terminal(snap_compare, scenario):
    """80x24: the last plan (the tamper through the log collector) under zero-trust at
    its stop, the sniff that encryption in transit makes useless."""
    keys = _keys(*["down"] * 11, "w", "right_square_bracket", "right_square_bracket", "b")
    assert snap_compare(make_app(scenario), terminal_size=(80, 24), run_before=keys)
