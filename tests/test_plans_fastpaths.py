"""``check``'s goal costs take shortcuts that must not change a single answer (issue 26).

Each shortcut of :func:`ztsim.engine.plans.goal_costs` is compared here with the plain
way written out as it was before it, on a heterogeneous estate planned as a large one
(a pruned solve, three alternatives per target):

* ``mincost._hmax_plan`` picks each fact's step among the steps meeting its h_max,
  worked out once per graph and fact (``mincost._tight``), not again for every goal;
* ``plans._shorter`` tries the h_max plan before proving the first plan the cheapest,
  and asks for that proof only when the h_max plan is no cheaper;
* ``extraction.Derivations`` reads the solve's givers (``extraction.givers_of``),
  each list priced and sorted when first read.

Breaking any of them (say, keeping a step that misses its fact's h_max, or returning
the first plan unproven) fails these tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ztsim.engine import mincost
from ztsim.engine.attack import AttackModel
from ztsim.engine.extraction import Plan, derivations_of, extract_plan
from ztsim.engine.fixpoint import Solution, goal_facts, solve
from ztsim.engine.mincost import _as_plan, _graph, hmax_plan
from ztsim.engine.plans import first_plan, goal_costs
from ztsim.engine.rewire import rewired
from ztsim.engine.steps import Fact, Step, StepKey
from ztsim.inputs.loader import load_policies, load_topology


@pytest.fixture(scope="module")
def estate(h600: Path) -> Path:
    """The heterogeneous estate of 600 hosts shared by the session (``conftest.h600``)."""
    return h600


def _solves(estate: Path) -> Iterator[tuple[Solution, list[Fact]]]:
    """A fresh pruned solve of each policy (nothing remembered yet), with its goals
    reached."""
    topo = load_topology(estate / "topology.yaml")
    model = AttackModel(topo)
    for pol in load_policies([estate / "policies"]):
        sol = solve(model, model.compile(pol), alternatives=3)
        yield sol, [g for g in goal_facts(topo) if g in sol.cost]


def _plain_hmax_plan(sol: Solution, goal: Fact) -> Plan:
    """The h_max plan with each fact's steps filtered by its h_max anew every time."""
    g = _graph(sol)
    hm = g.hmax
    chosen: dict[Fact, Step] = {}
    needed: set[Fact] = {goal}
    stack = [goal]
    while stack:
        f = stack.pop()
        if f in chosen:
            continue
        best: tuple[int, StepKey] | None = None
        pick: Step | None = None
        for st in g.givers.get(f, ()):
            if 1 + max((hm[p] for p in st.pre), default=0) != hm[f]:
                continue
            rank = (sum(p not in needed for p in st.pre), st.key)
            if best is None or rank < best:
                best, pick = rank, st
        assert pick is not None
        chosen[f] = pick
        for p in pick.pre:
            if p not in needed:
                needed.add(p)
                stack.append(p)
    return _as_plan(list({st.key: st for st in chosen.values()}.values()), goal, hm)


def _plain_first_plan(sol: Solution, goal: Fact, lower: int) -> Plan:
    """``first_plan`` on a pruned solve as it was: the proof of the extracted plan
    first, then the h_max plan and the rewired ones."""
    got = extract_plan(sol, goal)
    assert got is not None
    if got.cost <= lower:
        return got
    g = _graph(sol)
    if g.proves(goal, got.cost):
        return got
    best = _plain_hmax_plan(sol, goal)
    for again in (best, got):
        if best.cost <= lower or g.proves(goal, best.cost):
            break
        tried = rewired(again, g.givers)
        if tried.cost < best.cost:
            best = tried
    return best if best.cost < got.cost else got


def test_hmax_plans_equal_the_plain_choice(estate: Path) -> None:
    compared = 0
    for sol, goals in _solves(estate):
        for goal in goals:
            got, want = hmax_plan(sol, goal), _plain_hmax_plan(sol, goal)
            assert got.steps == want.steps, goal
            compared += 1
    assert compared > 300


def test_first_plans_equal_the_plain_tries(estate: Path) -> None:
    """Every goal's first plan, with its relaxed bound, as the plain tries make it;
    many goals need the tries, and some get a cheaper plan from them."""
    tried = cheaper = 0
    for sol, goals in _solves(estate):
        lower = mincost.relaxed_lower_bounds(sol, goals)
        for goal in goals:
            plain = _plain_first_plan(sol, goal, lower[goal])
            got = first_plan(sol, goal, lower=lower[goal])
            assert got is not None
            assert got.steps == plain.steps, goal
            extracted = extract_plan(sol, goal)
            assert extracted is not None
            tried += extracted.cost > lower[goal]
            cheaper += got.cost < extracted.cost
    assert tried > 100 and cheaper > 20


def test_goal_costs_read_derivations_of_the_givers(estate: Path) -> None:
    """The derivations goal costs list from are the solve's own, and goal costs do not
    depend on whether the derivations (and the givers they read) were made first."""
    for sol, goals in _solves(estate):
        first = {g: (c.plan.steps, c.lower) for g, c in goal_costs(sol, goals, False).items()}
        assert dict(derivations_of(sol)) == sol.derivations()
        again = solve(sol.model, sol.policy, alternatives=3)
        assert len(derivations_of(again)) == len(sol.derivations())
        second = {g: (c.plan.steps, c.lower) for g, c in goal_costs(again, goals, False).items()}
        assert second == first


def test_derivations_of_a_stopped_solve_leave_out_what_it_did_not_derive(estate: Path) -> None:
    """A solve stopped at a goal fired steps whose outputs it never finalised: the
    givers of a complete solve take every output, those of a stopped one only the
    derived ones."""
    for sol, goals in _solves(estate):
        stopped = solve(sol.model, sol.policy, alternatives=3, stop_at=goals[len(goals) // 2])
        assert not stopped.complete
        assert any(f not in stopped.cost for st in stopped.fired.values() for f in st.post)
        assert dict(derivations_of(stopped)) == stopped.derivations()
