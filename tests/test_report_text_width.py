"""Text reports fit the terminal (issue 27 point 7): tables at 80 columns, names whole.

Found as a user: at ``COLUMNS=80`` (and below 88) ``check``'s goal table was wider
than the terminal, which then wrapped its box lines into noise, because the plan
column kept each ``T1190 portal-web`` whole and the goal column
``exfiltrate(payroll-records)`` could not break.  Now a goal breaks after its ``(``
and, when the table still does not fit, a step breaks between its technique and
its host: never inside a name.
"""

from __future__ import annotations

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from ztsim.cli.main import main
from ztsim.output.tables import MIN_WRAP, Column, box_table

SCENARIOS = [
    ("topologies/pajemploi.yaml", "policies"),
    ("topologies/k8s-shop.yaml", "policies/k8s-shop"),
    ("topologies/corporate.yaml", "policies/corporate"),
]


@pytest.mark.parametrize(("topo", "pols"), SCENARIOS)
@pytest.mark.parametrize("command", ["check", "paths", "check --rules"])
def test_check_and_paths_fit_80_columns(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    topo: str,
    pols: str,
    command: str,
) -> None:
    """The rule-impact table too: a table per section when the section column
    would not fit (its counts cannot wrap)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "80")
    name, *flags = command.split()
    main([name, topo, "-p", pols, *flags])
    out = capsys.readouterr().out
    assert out and max(len(line) for line in out.splitlines()) <= 80


_NAME = st.text(alphabet="abcdefgh-", min_size=1, max_size=12)
_STEP = st.tuples(st.from_regex(r"T1[0-9]{3}", fullmatch=True), _NAME).map(" ".join)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.tuples(st.sampled_from(["exfiltrate", "tamper"]), _NAME).map(
                lambda g: f"{g[0]}({g[1]})"
            ),
            st.lists(_STEP, min_size=1, max_size=6).map(" > ".join),
        ),
        min_size=1,
        max_size=4,
    ),
    width=st.integers(30, 120),
)
def test_goal_table_fits_when_it_can_and_breaks_no_name(
    rows: list[tuple[str, str]], width: int
) -> None:
    columns = [
        Column("goal", soft="("),
        Column("verdict", wrap=False),
        Column("cheapest plan", sep=" > "),
    ]
    body = [[goal, "REACHABLE", plan] for goal, plan in rows]
    table = box_table(columns, body, width)
    # the narrowest a table can be without breaking a name: a goal after its "(",
    # a step between technique and host (the "> " lead kept)
    goal_min = max(len(p) for g, _ in rows for p in g.replace("(", "(\0").split("\0"))
    plan_min = max(len(w) for _, plan in rows for w in plan.split(" ")) + 2
    floor = (
        max(goal_min, MIN_WRAP, len("goal"))
        + len("REACHABLE")
        + max(plan_min, MIN_WRAP, len("cheapest"))
        + 3 * 3
        + 1
    )
    drawn = table.lines
    if width >= floor:
        assert max(len(line) for line in drawn) <= width
    body_lines = [line for line in drawn if line.startswith("│")]
    goal_cells = [line.split("│")[1].strip() for line in body_lines]
    plan_cells = [line.split("│")[3].strip() for line in body_lines]
    # names whole: joining the goal pieces gives the goals back, each plan piece is a
    # run of whole words of the plan
    assert "".join(goal_cells) == "".join(g for g, _ in rows)
    words = {w for _, plan in rows for w in plan.split(" ")}
    assert {w for cell in plan_cells for w in cell.split(" ") if w} <= words
