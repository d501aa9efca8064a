"""The screen as a person reads it: distinct rows at 120 columns, nothing cut at 80x24.

Issue 27, points 5 and 6: rows of the paths matrix that read the same (goal, cost,
verdicts) show what tells them apart in view; on 80 columns a column is in view
whole or not at all (a verdict's step number and rule never cut); the detail pane
draws the plan, its blocking step marked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tui_support import SIZE, copy_scenario, make_app, settle

from ztsim.tui.scenario import Scenario
from ztsim.tui.widgets.detail import PathDetail
from ztsim.tui.widgets.matrix import PAD, Column, PathsPane, fit_columns
from ztsim.tui.widgets.policies import PoliciesTable


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    """The frozen Pajemploi scenario in a temporary cwd."""
    monkeypatch.chdir(tmp_path)
    return copy_scenario(tmp_path)


def _in_view(pane: PathsPane) -> list[tuple[str, int, int]]:
    """(key, first cell, last cell + 1) of each column, in table cells from scroll 0."""
    out, x = [], 0
    for c in pane.table.ordered_columns:
        out.append((c.key.value or "", x, x + c.width + PAD))
        x += c.width + PAD
    return out


def _visible(pane: PathsPane) -> list[str]:
    view = pane._available()
    spans = _in_view(pane)
    # every column is whole in view or out of it
    assert all(end <= view or start >= view for _, start, end in spans), (spans, view)
    return [key for key, _, end in spans if end <= view]


async def test_rows_alike_at_120_columns_differ_in_view(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.main.query_one(PathsPane)
        visible = _visible(pane)
        assert visible == ["goal", "cost", "via", "p0", "p1", "p2"]
        table = pane.table
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        widths = [c.width for c in table.ordered_columns]
        seen = [
            tuple(cell.plain[: widths[k]] for k, cell in enumerate(row[: len(visible)]))
            for row in rows
        ]
        assert len(set(seen)) == len(seen), "two rows read the same on screen"
        # the verdicts are whole
        for row in rows:
            for k in range(3, 6):
                assert len(row[k].plain) <= widths[k]


async def test_80x24_cuts_no_verdict_and_brings_the_hidden_policy_into_view(scenario):
    app = make_app(scenario)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.main.query_one(PathsPane)
        visible = _visible(pane)
        assert visible[:4] == ["goal", "cost", "p0", "p1"] and "p2" not in visible
        assert "→ zero-trust" in str(pane.border_subtitle)
        # choosing the policy scrolls its column in, whole
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.pause()
        t = pane.table
        spans = {k: (s - t.scroll_x, e - t.scroll_x) for k, s, e in _in_view(pane)}
        goal_end = spans["goal"][1] + t.scroll_x
        start, end = spans["p2"]
        assert start >= goal_end - t.scroll_x and end <= pane._available()
        # the Policies pane keeps every count in view with short headers
        policies = app.main.query_one(PoliciesTable)
        labels = [c.label.plain for c in policies.ordered_columns]
        assert labels[:6] == ["policy", "goals", "exfil", "tamper", "blocked", "broken"]
        assert sum(c.get_render_width(policies) for c in policies.ordered_columns[:6]) <= 76


async def test_detail_draws_the_plan_and_marks_the_blocking_step(scenario):
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        detail = app.main.query_one(PathDetail)
        text = detail.text
        assert "╭─ internet" in text and "╭─ dmz" in text and "─2 T1190" in text
        assert "✗" not in text.split(" 1. ")[0]  # open under flat: nothing marked
        await pilot.press("right_square_bracket")  # segmented blocks step 3 by default
        await pilot.pause()
        drawn = detail.text.split(" 1. ")[0]
        assert re.search("─3 T1210─+✗", drawn) and "✗ default" in drawn
        box = drawn.splitlines()[2:]  # after the title and the verdict
        assert box[0].startswith("╭─ internet") and len(box) == 10  # two bands
        assert all(len(line) <= detail.content_region.width for line in box)


@given(
    st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=8),
    st.integers(10, 200),
)
def test_fit_columns_shows_each_column_whole_or_not_at_all(cols, available):
    columns = [Column(f"c{n}", w, flex) for n, (w, flex) in enumerate(cols)]
    widths = fit_columns(columns, available)
    x = 0
    for n, c in enumerate(columns):
        w = widths[c.key] + PAD
        # the first (the goal) is in view whatever its width: cut only when wider than it
        assert x + w <= available or x >= available or n == 0
        # only the one that did not fit changes: shrunk if flexible, else the one before widens
        assert widths[c.key] >= min(c.width, 16) or widths[c.key] == c.width
        x += w


def test_tui_takes_policy_like_every_command(monkeypatch, capsys):
    """``ztsim tui TOPOLOGY --policy FILE|DIR`` (issue 27 point 9); positional policies kept."""
    import importlib

    from ztsim.cli.commands import tui

    cli = importlib.import_module("ztsim.cli.main")  # the package re-exports main()

    opened: list[tuple[str | None, list[str]]] = []
    monkeypatch.setattr("ztsim.tui.run", lambda t, p, watch=False: opened.append((t, p)) or 0)
    parser = cli.build_parser()
    for argv in (
        ["tui", "t.yaml", "--policy", "a.yaml", "-p", "dir/"],
        ["tui", "t.yaml", "a.yaml", "--policy", "dir/"],
    ):
        args = parser.parse_args(argv)
        assert tui.policy_args(args) == ["a.yaml", "dir/"]
        assert args.func(args) == 0
    assert opened == [("t.yaml", ["a.yaml", "dir/"])] * 2
    # a policy without a topology is a usage error (exit 2), not a made-up FILE:1:1
    assert cli.main(["tui", "--policy", "a.yaml"]) == 2
    err = capsys.readouterr().err
    assert "--policy needs a TOPOLOGY" in err and ":1:1" not in err


@pytest.mark.parametrize("size", [SIZE, (80, 24)])
async def test_traffic_tab_shows_each_rule_whole(scenario, size):
    """Traffic (issue 27 point 6, found in tmux: zero-trust's rule ids were cut at
    the right edge at 120 columns): a policy column is in view whole or not at all,
    and the ones past the edge are named under the table."""
    from ztsim.tui.widgets.traffic import TrafficPane

    app = make_app(scenario)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        pane = app.main.query_one(TrafficPane)
        table = pane.query_one("#traffic-table")
        view = pane._available()
        x, hidden = 0, []
        for c in table.ordered_columns:
            end = x + c.width + PAD
            assert end <= view or x >= view, (c.key.value, x, end, view)
            if x >= view and (c.key.value or "").startswith("p"):
                hidden.append(c.label.plain)
            x = end
        # every cell in view holds its whole text
        for row in range(table.row_count):
            for c, cell in zip(table.ordered_columns, table.get_row_at(row), strict=True):
                assert cell.cell_len <= c.width
        if hidden:
            assert str(pane.border_subtitle) == "→ " + ", ".join(hidden)
        if size == SIZE:
            assert not hidden, "at 120 columns every policy's verdict is in view"
