"""``extraction.minimize`` drops steps without rescheduling the plan each time (issue 26).

:class:`ztsim.engine.extraction._Dropping` keeps the positions of each fact's givers
and users, and drops a step in place when the plan stays a schedule without it; it
falls back to :func:`~ztsim.engine.extraction._schedule` otherwise.  Every answer must
be the plain greedy's, written out here as it was: on a heterogeneous estate's
derivation trees, with steps of another fact's tree mixed in (steps to drop), in
order and reversed (steps to reorder).  Breaking the in-place test (say, letting a
step that needs the fact it gives stand in for the step dropped) fails it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ztsim.engine import extraction, mincost, rewire
from ztsim.engine.attack import AttackModel
from ztsim.engine.extraction import (
    _closure,
    _memo,
    _schedule,
    _sole_givers,
    extract_plan,
    givers_of,
    minimize,
)
from ztsim.engine.fixpoint import Solution, goal_facts, solve
from ztsim.engine.plans import goal_costs, plans_from_solution
from ztsim.engine.steps import Fact, Step
from ztsim.inputs.loader import load_policies, load_topology


@pytest.fixture(scope="module")
def estate(h600: Path) -> Path:
    """The heterogeneous estate of 600 hosts shared by the session (``conftest.h600``)."""
    return h600


_MINIMIZE = minimize  # (the tests below stand in for the module's name)


def _plain(steps: Sequence[Step], goal: Fact) -> list[Step] | None:
    """The greedy as it was: reschedule the rest for every step tried, last first."""
    current = _schedule(steps, goal)
    if current is None:
        return None
    sole = _sole_givers(current, goal)
    i = len(current) - 1
    while i >= 0:
        if not sole[i]:
            ordered = _schedule(current[:i] + current[i + 1 :], goal)
            if ordered is not None:
                current = ordered
                sole = _sole_givers(current, goal)
        i -= 1
    return current


def _fast(steps: Sequence[Step], goal: Fact) -> list[Step] | None:
    try:
        return _MINIMIZE(steps, goal)
    except ValueError:
        return None


def test_minimize_equals_the_plain_greedy(estate: Path) -> None:
    topo = load_topology(estate / "topology.yaml")
    model = AttackModel(topo)
    compared = dropped = reordered = swapped = 0
    for pol in load_policies([estate / "policies"]):
        sol = solve(model, model.compile(pol), alternatives=3)
        memo = _memo(sol)
        goals = [g for g in goal_facts(topo) if g in sol.cost]
        facts = sorted(sol.cost, key=sol.order.__getitem__)
        for n, goal in enumerate(goals):
            other = facts[(n * 7919) % len(facts)]
            tree = {**_closure(sol, memo, other), **_closure(sol, memo, goal)}
            steps = list({st.key: st for st in tree.values()}.values())
            steps.sort(key=lambda st: min(sol.order[f] for f in st.post))
            for order in (steps, steps[::-1]):
                want, got = _plain(order, goal), _fast(order, goal)
                assert got == want, goal
                compared += 1
                if want is not None:
                    dropped += len(want) < len(order)
                    reordered += [s for s in order if s in want] != want
            swapped += _compare_swaps(sol, goal)
    assert compared > 600 and dropped > 500 and reordered > 200
    assert swapped > 1000


def test_goal_costs_minimize_as_the_plain_greedy(
    estate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every plan ``check``'s goal costs and ``paths``' listings minimize (extracted,
    h_max, rewired, listed) comes out as the plain greedy makes it."""
    seen: list[int] = []

    def both(
        steps: Sequence[Step], goal: Fact, *, tree: dict[Fact, Step] | None = None
    ) -> list[Step]:
        want = _plain(steps, goal)
        got = _fast(steps, goal)
        assert got == want, goal
        seen.append(len(steps) - len(want or ()))
        if got is None:
            raise ValueError("not a valid plan")
        return got

    for module in (extraction, mincost, rewire):
        monkeypatch.setattr(module, "minimize", both)
    topo = load_topology(estate / "topology.yaml")
    model = AttackModel(topo)
    for pol in load_policies([estate / "policies"]):
        sol = solve(model, model.compile(pol), alternatives=3)
        goals = [g for g in goal_facts(topo) if g in sol.cost]
        goal_costs(sol, goals, False)
        for goal in goals[::4]:  # and listed as paths lists them
            plans_from_solution(sol, goal, 8)
    assert len(seen) > 300 and sum(1 for d in seen if d > 0) > 200


def _compare_swaps(sol: Solution, goal: Fact) -> int:
    """Compare the two on the plans ``rewire`` tries for ``goal``: each step of its
    extracted plan swapped, in place, for another giver of one of its outputs whose
    preconditions the plan holds (such a giver may need the very fact it gives)."""
    plan = extract_plan(sol, goal)
    assert plan is not None
    steps = plan.steps
    held = {f for st in steps for f in st.post}
    n = 0
    for i, st in enumerate(steps):
        for fact in st.post:
            for alt in givers_of(sol).get(fact, ()):
                if alt.key == st.key or not held.issuperset(alt.pre):
                    continue
                candidate = [*steps[:i], alt, *steps[i + 1 :]]
                assert _fast(candidate, goal) == _plain(candidate, goal), (goal, alt.key)
                n += 1
    return n
