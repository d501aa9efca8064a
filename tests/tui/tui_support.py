"""Shared helpers of the TUI tests: a scenario copied to a temporary cwd, and settling.

Tests run in a temporary working directory holding a frozen copy of the Pajemploi
scenario (``tests/tui/scenario``), so every path on screen is relative
(``topologies/pajemploi.yaml``) and snapshots do not depend on the machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.pilot import Pilot

from ztsim.tui.app import ZtsimApp
from ztsim.tui.scenario import Scenario

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "scenario"
TOPOLOGY = "topologies/pajemploi.yaml"
POLICIES = "policies"
SIZE = (120, 40)


def copy_scenario(dest: Path) -> Scenario:
    """Copy the frozen scenario into ``dest`` (the test's cwd); return it, with relative paths."""
    shutil.copytree(SCENARIO / "topologies", dest / "topologies")
    shutil.copytree(SCENARIO / "policies", dest / "policies")
    return Scenario(TOPOLOGY, (POLICIES,))


def make_app(scenario: Scenario, **kwargs: object) -> ZtsimApp:
    """The app on ``scenario`` (keyword arguments go to :class:`ZtsimApp`)."""
    return ZtsimApp(scenario, **kwargs)  # type: ignore[arg-type]


async def settle(pilot: Pilot[object]) -> None:
    """Wait until the analysis worker is done and its results are on screen.

    A DataTable sizes its columns on the next idle event after rows change; a
    snapshot taken before that shows columns as wide as their headers only, so
    wait until no table has a size update pending.
    """
    from textual.widgets import DataTable

    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()
    for _ in range(100):
        pending = [
            t
            for t in pilot.app.screen.query(DataTable)
            if t._require_update_dimensions or t._new_rows
        ]
        if not pending:
            break
        await pilot.pause(0.02)
    await quiet(pilot)


#: Screens alike in a row, a pause apart, before the screen counts as drawn.
QUIET = 3


async def quiet(pilot: Pilot[object], limit: int = 200) -> None:
    """Wait until the screen stops changing: ``QUIET`` identical renders in a row.

    ``pilot.pause()`` waits for an idle event loop by timing, which a loaded
    machine defeats: a table sized, a layout refreshed or a scrollbar shown after
    it returns made the snapshots of the help, the walk-through and the small
    Diff tab differ from run to run.  What the screen shows settles for good once
    the messages are handled, so compare what it shows (and keep waiting while a
    worker runs).
    """
    app = pilot.app
    last, same = None, 0
    for _ in range(limit):
        await pilot.pause(0.03)
        if any(w.is_running for w in app.workers):
            last, same = None, 0
            continue
        shot = app.export_screenshot()
        same = same + 1 if shot == last else 0
        if same >= QUIET:
            return
        last = shot


def break_topology(root: Path) -> tuple[int, int]:
    """Put a typo'd key in the copied topology; return the (line, column) of that key."""
    path = root / TOPOLOGY
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for n, line in enumerate(lines):
        if line.strip() == "labels: {tier: data, app: postgres}":
            col = line.index("labels") + 1
            lines[n] = line.replace("labels:", "lables:")
            path.write_text("".join(lines), encoding="utf-8")
            return n + 1, col
    raise AssertionError("the line to break is not in the scenario any more")


async def settle_diff(pilot: Pilot[object]) -> None:
    """Settle, then wait until the Diff tab shows the diff of the pair it names."""
    from ztsim.tui.widgets.diff import DiffPane

    await settle(pilot)
    pane = pilot.app.screen_stack[0].query_one(DiffPane)
    for _ in range(200):
        v, names = pane.view, pane.names
        pair = (names[pane.base], names[pane.proposed]) if len(names) > 1 else None
        if v is not None and (v.base, v.proposed) == pair:
            break
        await pilot.pause(0.02)
        await pilot.app.workers.wait_for_complete()
    await settle(pilot)
