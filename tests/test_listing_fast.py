"""Plan listing's shortcuts give the listing the plain search gives (issue 26).

:func:`ztsim.engine.plans.plans_from_solution` takes two shortcuts over the plain
sidetrack search: :func:`ztsim.engine.extraction._plan_from` schedules a tree whose
every step alone gives one of its facts without trying to drop any, and
``_sidetracks`` makes no plan of a derivation that never reaches one of its
overridden facts when the other overrides were derived before (the same tree).
The plain search is written here as it was before them: every plan made by
:func:`~ztsim.engine.extraction.minimize` of the steps in rank order, every
derivation made into a plan.  On a heterogeneous estate planned as a large one,
every goal's listing of 16 plans must be the same, plan for plan and step for step.
Breaking either shortcut (say, keeping the tree's order without scheduling it, or
skipping a derivation whose other overrides were only tried) fails this.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from conftest import ROOT

import ztsim.engine.plans
from ztsim.engine.attack import AttackModel
from ztsim.engine.extraction import Derivations, Plan, _derive, _memo, derivations_of, minimize
from ztsim.engine.fixpoint import Solution, goal_facts, solve
from ztsim.engine.plans import MAX_SIDETRACKS, PLAN_CHUNK, first_plan, plans_from_solution
from ztsim.engine.steps import Fact, Step, StepKey
from ztsim.inputs.loader import load_policies, load_topology


def _plain_plan(sol: Solution, goal: Fact, chosen: dict[Fact, Step]) -> Plan:
    """A derivation's plan: its steps by the first of their facts derived, minimised."""
    rank: dict[StepKey, int] = {}
    steps: dict[StepKey, Step] = {}
    for f, st in chosen.items():
        rank[st.key] = min(rank.get(st.key, sol.order[f]), sol.order[f])
        steps[st.key] = st
    ordered = sorted(steps.values(), key=lambda s: rank[s.key])
    return Plan(goal, tuple(minimize(ordered, goal)))


def _plain_listing(
    sol: Solution, goal: Fact, k: int, alts: Mapping[Fact, Sequence[Step]]
) -> list[Plan]:
    """The sidetrack search of ``plans._enumerate`` with no shortcut at all."""
    first = first_plan(sol, goal)
    assert first is not None
    chosen0 = _derive(sol, goal, {})
    assert chosen0 is not None
    if _memo(sol).first[goal][1]:
        chosen0 = {fact: step for step in reversed(first.steps) for fact in step.post}
    seen = {first.key}
    tried: set[frozenset[tuple[Fact, StepKey]]] = set()
    heap: list[tuple[object, int, Plan, dict[Fact, Step], dict[Fact, Step]]]
    heap = [(first.sort_key, 0, first, {}, chosen0)]
    counter = 0
    accepted: list[Plan] = []
    while heap and len(accepted) < k:
        _, _, plan, override, chosen = heapq.heappop(heap)
        accepted.append(plan)
        if len(accepted) == k:
            break
        for fact in sorted(chosen, key=sol.order.__getitem__):
            current = chosen[fact].key
            if current not in plan.key or fact in override:
                continue
            for alt in list(alts.get(fact, ()))[: MAX_SIDETRACKS + 1]:
                if alt.key == current:
                    continue
                overrides = {**override, fact: alt}
                ident = frozenset((f, s.key) for f, s in overrides.items())
                if ident in tried:
                    continue
                tried.add(ident)
                derivation = _derive(sol, goal, overrides)
                if derivation is None:
                    continue
                candidate = _plain_plan(sol, goal, derivation)
                if candidate.key in seen:
                    continue
                seen.add(candidate.key)
                counter += 1
                heapq.heappush(
                    heap, (candidate.sort_key, counter, candidate, overrides, derivation)
                )
    out: list[Plan] = []
    for i in range(0, len(accepted), PLAN_CHUNK):
        out.extend(
            sorted(accepted[i : i + PLAN_CHUNK], key=lambda p: (p.cost, p is not first, p.sort_key))
        )
    return out


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A heterogeneous estate of 400 hosts (benchmarks/hfamily.py) and its policies."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import hfamily  # (benchmarks/ is not a package)

    path = tmp_path_factory.mktemp("hfamily")
    hfamily.write(400, 80, 3, path)
    return path


def _reachable_goals(estate: Path) -> Iterator[tuple[Solution, Derivations, Fact]]:
    """Each policy's plan solve of the estate (three alternatives per target, as
    large estates get), its derivations, and each goal it reaches."""
    topo = load_topology(estate / "topology.yaml")
    model = AttackModel(topo)
    for pol in load_policies([estate / "policies"]):
        sol = solve(model, model.compile(pol), alternatives=3)
        alts = derivations_of(sol)
        for goal in goal_facts(topo):
            if goal in sol.cost:
                yield sol, alts, goal


def test_listing_equals_the_plain_search(estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ztsim.engine.plans, "EXHAUSTIVE_HOSTS", 0)
    listed = 0
    for sol, alts, goal in _reachable_goals(estate):
        got = plans_from_solution(sol, goal, 2 * PLAN_CHUNK, derivations=alts)
        want = _plain_listing(sol, goal, 2 * PLAN_CHUNK, alts)
        assert [p.steps for p in got] == [p.steps for p in want], goal
        assert [(p.key, p.sort_key) for p in got] == [(p.key, p.sort_key) for p in want]
        listed += len(got)
    assert listed > 1000  # the estate gives the search something to do


def test_a_fast_plan_is_the_minimised_one(estate: Path) -> None:
    """``_plan_from``'s plans, keys and sort keys, against the plain construction, for
    every derivation one override away from each goal's best one."""
    from ztsim.engine.extraction import _plan_from

    made = 0
    for sol, alts, goal in _reachable_goals(estate):
        best = _derive(sol, goal, {})
        assert best is not None
        for fact in best:
            for alt in alts.get(fact, ()):
                chosen = _derive(sol, goal, {fact: alt})
                if chosen is None:
                    continue
                got, want = _plan_from(sol, goal, chosen), _plain_plan(sol, goal, chosen)
                assert got.steps == want.steps
                assert (got.key, got.sort_key) == (
                    frozenset(s.key for s in want.steps),
                    (want.cost, tuple(s.key for s in want.steps)),
                )
                made += 1
    assert made > 1000
