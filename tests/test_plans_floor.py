"""``rewire.rewired`` stops at a plan meeting a proven bound (issue 26).

``plans._shorter`` gives it the goal's relaxed bound or the graph's h_max, whichever
is higher: no plan of the graph is cheaper, so the round of swaps that would find
nothing better is not tried.  The answers must be those of the search without the
floor (``tests/test_plans_fastpaths`` fails too when the floor is set one too high).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ztsim.engine import mincost
from ztsim.engine.attack import AttackModel
from ztsim.engine.extraction import extract_plan
from ztsim.engine.fixpoint import goal_facts, solve
from ztsim.engine.mincost import _graph, hmax_plan
from ztsim.engine.rewire import rewired
from ztsim.inputs.loader import load_policies, load_topology


@pytest.fixture(scope="module")
def estate(h600: Path) -> Path:
    """The heterogeneous estate of 600 hosts shared by the session (``conftest.h600``)."""
    return h600


def test_rewired_with_a_floor_equals_without(estate: Path) -> None:
    topo = load_topology(estate / "topology.yaml")
    model = AttackModel(topo)
    shorter = stopped = 0
    for pol in load_policies([estate / "policies"]):
        sol = solve(model, model.compile(pol), alternatives=3)
        goals = [g for g in goal_facts(topo) if g in sol.cost]
        lower = mincost.relaxed_lower_bounds(sol, goals)
        g = _graph(sol)
        for goal in goals:
            floor = max(lower[goal], g.hmax[goal])
            extracted = extract_plan(sol, goal)
            assert extracted is not None
            for plan in (hmax_plan(sol, goal), extracted):
                plain = rewired(plan, g.givers)
                assert rewired(plan, g.givers, floor).steps == plain.steps, goal
                shorter += plain.cost < plan.cost
                stopped += plain.cost <= floor < plan.cost
    assert shorter > 50 and stopped > 30
