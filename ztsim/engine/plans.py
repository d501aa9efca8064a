"""Plans (attack paths): the first plan of a goal, and further distinct ones.

A plan is extracted on demand from a :class:`~ztsim.engine.fixpoint.Solution`: follow the
cheapest derivation of the goal back to the entry, then drop every step the rest
does not need.  That derivation counts shared facts once per use, so on estates
solved exhaustively the first plan listed is the fewest-steps one that
:mod:`ztsim.engine.mincost` finds.  Further distinct plans swap one derivation of a plan
already found for another (sidetracks); candidates are taken cheapest first, in
chunks that do not depend on how many plans are asked for.  A plan is then
judged against each policy by :mod:`ztsim.engine.verdicts` (spec §6).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ztsim.engine.attack import AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.extraction import (
    Derivations,
    Plan,
    _closure,
    _derive,
    _memo,
    _plan_from,
    _SolutionMemo,
    derivations_of,
    extract_plan,
    minimize,
)
from ztsim.engine.fixpoint import Solution, solve
from ztsim.engine.mincost import (
    Cheapest,
    _graph,
    _hmax_plan,
    cheapest,
    graph_for,
    relaxed_lower_bounds,
)
from ztsim.engine.rewire import rewired
from ztsim.engine.steps import Fact, Step, StepKey
from ztsim.inputs.loaded import LoadedPolicy
from ztsim.perf.profiling import phase

__all__ = [
    "Derivations",
    "Plan",
    "derivations_of",
    "exhaustive_for",
    "extract_plan",
    "first_plan",
    "goal_costs",
    "k_plans",
    "minimize",
    "plan_solve",
    "plans_from_solution",
    "same_fixpoint",
]


def first_plan(sol: Solution, goal: Fact, *, lower: int = 0) -> Plan | None:
    """The plan a listing of ``goal`` in ``sol`` starts from (None if not derived).

    The extracted plan (:func:`extract_plan`), unless a strictly cheaper one is
    found in the solve's graph: on an exhaustive solve the fewest-steps plan
    (:func:`ztsim.engine.mincost.cheapest`), otherwise the h_max plan
    (:func:`ztsim.engine.mincost.hmax_plan`) or a plan re-launched from footholds
    it holds (:func:`ztsim.engine.rewire.rewired`, see :func:`_shorter`).
    ``lower``: a proven lower bound on the goal's cost, if known; a plan meeting
    it is kept without looking further (the answer is the same: only a strictly
    cheaper plan replaces it).  Remembered per solve and goal: ``check``'s goal
    plan and ``paths``' first plan are this one.
    """
    if goal not in sol.cost:
        return None
    known = _memo(sol).first.get(goal)
    if known is not None:
        return known[0]
    with phase("plans"):
        return _first_plan(sol, goal, lower)


def _first_plan(sol: Solution, goal: Fact, lower: int) -> Plan:
    """:func:`first_plan` of a derived goal not asked before (in the caller's phase)."""
    memo = _memo(sol)
    got = memo.extracted.pop(goal, None)
    if got is None:
        got = _extracted(sol, goal, memo)
    if got.cost > lower:
        if exhaustive_for(sol.model):
            found = cheapest(sol, goal, got)
            other = found.plan if found is not None else got
        else:
            other = _shorter(sol, goal, got, lower)
        if other.cost < got.cost:
            memo.first[goal] = (other, True)
            return other
    memo.first[goal] = (got, False)
    return got


def _extracted(sol: Solution, goal: Fact, memo: _SolutionMemo) -> Plan:
    """The plan of ``goal``'s best derivation (derived in ``sol``)."""
    chosen = _derive(sol, goal, {}, memo)
    assert chosen is not None  # best derivations never loop: costs strictly grow
    return _plan_from(sol, goal, chosen)


def _shorter(sol: Solution, goal: Fact, got: Plan, lower: int) -> Plan:
    """:func:`first_plan`'s other tries on a pruned solve, the first shortest kept.

    In order: the h_max plan, the h_max plan re-launched from footholds it holds,
    ``got`` re-launched so; the tries stop at a plan the graph proves the cheapest
    (:meth:`~ztsim.engine.mincost._Graph.proves`) or meeting ``lower``, which no
    later try can beat: the answer does not depend on ``lower``.
    """
    g = _graph(sol, goal)
    best = _hmax_plan(g, goal)
    # A proof that nothing beats ``got`` fails when the h_max plan does: it is not
    # searched for then.
    if best.cost >= got.cost and g.at_least(goal, got.cost):
        return got  # no try can be strictly shorter
    floor = max(lower, g.hmax[goal])  # (every plan of the graph costs at least this)
    for again in (best, got):
        if best.cost <= lower or g.at_least(goal, best.cost):
            break
        tried = rewired(again, g.givers, floor)
        if tried.cost < best.cost:
            best = tried
    return best


#: How many alternative derivations of one fact are tried per plan.
MAX_SIDETRACKS = 4


#: Up to this many hosts, plans are listed from a full attack graph.
EXHAUSTIVE_HOSTS = 300

#: Plans of a goal are listed in chunks of this many (see :func:`_enumerate`): a
#: listing of any length is a prefix of every longer one.
PLAN_CHUNK = 8


def k_plans(
    model: AttackModel,
    policy: CompiledPolicy,
    goal: Fact,
    k: int,
    *,
    solution: Solution | None = None,
) -> list[Plan]:
    """Up to ``k`` distinct plans for ``goal`` under ``policy``, cheapest first.

    Solves once (every step instance on small topologies, a few alternatives per
    target on large ones) unless ``solution`` is given, then enumerates plans with
    :func:`plans_from_solution`.
    """
    if solution is None:
        solution = plan_solve(model, policy)
    return plans_from_solution(solution, goal, k)


def exhaustive_for(model: AttackModel) -> bool:
    """Whether :func:`plan_solve` fires every step instance on ``model``'s topology
    (at most :data:`EXHAUSTIVE_HOSTS` hosts): its solve is then the whole attack graph."""
    return len(model.topology.hosts) <= EXHAUSTIVE_HOSTS


def plan_solve(model: AttackModel, policy: CompiledPolicy) -> Solution:
    """A solve rich in alternative derivations, for listing several plans per goal.

    Small topologies get every step instance (exhaustive); large ones a few
    alternatives per target, which keeps plan listing fast.
    """
    if exhaustive_for(model):
        return solve(model, policy, exhaustive=True)
    return solve(model, policy, alternatives=3)


def same_fixpoint(a: LoadedPolicy, b: LoadedPolicy) -> bool:
    """Whether two policies surely give the same attack fixpoint (and plan solve).

    True when they are equal but for their names, descriptions and detection
    entries: detection judges plans, it never changes what the attacker can do.
    """
    ma, mb = a.model, b.model
    if len(ma.segmentation.rules) != len(mb.segmentation.rules) or len(ma.egress.rules) != len(
        mb.egress.rules
    ):
        return False
    skip: dict[str, Any] = {"name": True, "description": True, "controls": {"detection": True}}
    return bool(ma.model_dump(exclude=skip) == mb.model_dump(exclude=skip))


def plans_from_solution(
    sol: Solution,
    goal: Fact,
    k: int,
    *,
    derivations: Mapping[Fact, Sequence[Step]] | None = None,
) -> list[Plan]:
    """Up to ``k`` distinct plans for ``goal`` in ``sol``, cheapest first.

    The first is the cheapest derivation.  Further plans swap the derivation of
    one fact of a plan already found for another step that derives it (a
    *sidetrack*, as in Eppstein's k-shortest paths), keeping the other choices;
    candidates are taken cheapest first.  No solve is repeated: alternatives come
    from the steps the solve fired, so solve with ``exhaustive=True`` (every step
    instance) or ``alternatives > 1`` for a richer choice.

    The answer is remembered per solve and goal (a solve is never changed), and
    so are the best-step derivation trees of facts, which goals share.

    Parameters
    ----------
    sol
        A complete solve under the policy.
    derivations
        ``sol.derivations()`` or :class:`Derivations` of ``sol``, when already
        computed (it is shared across goals).
    """
    if k <= 0 or goal not in sol.cost:
        return []
    memo = _memo(sol)
    # Plans are found in chunks of PLAN_CHUNK, whatever k: the first k of a longer
    # listing are the listing of k (``paths -k 1`` names the first plan of ``-k 5``).
    n = -(-k // PLAN_CHUNK) * PLAN_CHUNK
    known = memo.plans.get((goal, n))
    if known is None:
        with phase("plans"):
            alts = derivations if derivations is not None else derivations_of(sol)
            known = memo.plans[(goal, n)] = _enumerate(sol, goal, n, alts, memo)
    return known[:k]


#: A candidate of the sidetrack search: its sort key, a counter that breaks ties in
#: the order found, the plan, the derivations overridden to reach it, and the step
#: chosen for each fact of its derivation.
_Candidate = tuple[tuple[int, tuple[StepKey, ...]], int, Plan, dict[Fact, Step], dict[Fact, Step]]


def _enumerate(
    sol: Solution,
    goal: Fact,
    k: int,
    alts: Mapping[Fact, Sequence[Step]],
    memo: _SolutionMemo,
) -> list[Plan]:
    """The sidetrack search of :func:`plans_from_solution`.

    Plans are accepted from a heap, cheapest candidate first; each accepted plan's
    sidetracks join the heap.  The process does not depend on ``k`` (it only
    stops after ``k`` plans), so the accepted plans of a smaller ``k`` are the
    first of a larger one.  They are listed in chunks of :data:`PLAN_CHUNK`,
    each sorted cheapest first (a sidetrack may be cheaper than the plan it
    came from, once its needless steps are dropped).
    """
    first_chosen = _derive(sol, goal, {}, memo)
    assert first_chosen is not None
    first = first_plan(sol, goal)
    assert first is not None
    if memo.first[goal][1]:
        # A plan cheaper than the best derivation's (shared facts: the fewest-steps
        # or the h_max plan); it comes with its own choice of step per fact.
        first_chosen = {fact: step for step in reversed(first.steps) for fact in step.post}
    seen = {first.key}
    # Overrides already tried (the same set reached twice gives the same plan), and
    # whether a plan was made of them (its key is then in ``seen``).
    tried: dict[frozenset[tuple[Fact, StepKey]], bool] = {}
    counter = 0
    heap: list[_Candidate] = [(first.sort_key, counter, first, {}, first_chosen)]
    accepted: list[Plan] = []
    while heap and len(accepted) < k:
        _, _, plan, override, chosen = heapq.heappop(heap)
        accepted.append(plan)
        if len(accepted) == k:
            break
        # Whether ``chosen`` is what _derive walked (the first plan's may be another's).
        walked = chosen is not first_chosen or not memo.first[goal][1]
        found = _sidetracks(sol, goal, alts, memo, plan, override, chosen, tried, seen, walked)
        for candidate, overrides, derivation in found:
            counter += 1
            heapq.heappush(heap, (candidate.sort_key, counter, candidate, overrides, derivation))
    out: list[Plan] = []
    for i in range(0, len(accepted), PLAN_CHUNK):
        # The first plan leads unless a strictly cheaper one was found: ``check``
        # names it when it is proven cheapest, without listing (see goal_costs).
        out.extend(
            sorted(accepted[i : i + PLAN_CHUNK], key=lambda p: (p.cost, p is not first, p.sort_key))
        )
    return out


def _sidetracks(
    sol: Solution,
    goal: Fact,
    alts: Mapping[Fact, Sequence[Step]],
    memo: _SolutionMemo,
    plan: Plan,
    override: dict[Fact, Step],
    chosen: dict[Fact, Step],
    tried: dict[frozenset[tuple[Fact, StepKey]], bool],
    seen: set[frozenset[StepKey]],
    walked: bool = True,
) -> Iterator[tuple[Plan, dict[Fact, Step], dict[Fact, Step]]]:
    """The plans not ``seen`` yet that one more overridden derivation of ``plan`` gives.

    ``override`` and ``chosen``: the derivations overridden to reach ``plan``, and
    the step chosen for each fact.  Each fact ``plan`` uses, and not overridden
    yet, is derived by up to :data:`MAX_SIDETRACKS` other steps, facts in
    ``sol``'s order; yields each new plan with its overrides and choices, and
    records them in ``tried`` and ``seen``.

    A derivation that never reaches one of its overridden facts is that of the
    other overrides alone (:func:`_derive` never asked for it): when those were
    derived before, their plan is in ``seen`` already, and is not made again.
    """
    used = plan.key
    base = frozenset([(f, step.key) for f, step in override.items()])
    for fact in sorted(chosen, key=sol.order.__getitem__):
        current = chosen[fact].key
        if current not in used or fact in override or fact not in alts:
            continue
        for alt in alts[fact][: MAX_SIDETRACKS + 1]:
            if alt.key == current:
                continue
            ident = base.union(((fact, alt.key),))
            if ident in tried:
                continue
            tried[ident] = False
            if walked and _surely_loops(sol, memo, fact, alt, override):
                continue  # what _derive would answer, without walking the tree
            overrides = {**override, fact: alt}
            derivation = _derive(sol, goal, overrides, memo)
            if derivation is None:
                continue
            if not overrides.keys() <= derivation.keys():
                reached = frozenset((f, st.key) for f, st in overrides.items() if f in derivation)
                if tried.get(reached, False):
                    continue  # the same derivation: a plan in ``seen``
            tried[ident] = True
            candidate = _plan_from(sol, goal, derivation)
            if candidate.key in seen:
                continue
            seen.add(candidate.key)
            yield candidate, overrides, derivation


def _surely_loops(
    sol: Solution, memo: _SolutionMemo, fact: Fact, alt: Step, override: Mapping[Fact, Step]
) -> bool:
    """Whether deriving ``fact`` by ``alt`` (besides ``override``) needs ``fact`` itself.

    It does when the best-step tree of a precondition of ``alt`` holds ``fact`` and
    no overridden fact: that tree is then walked as it is, down to ``fact``, and
    :func:`_derive` answers None, provided its walk reaches ``fact`` at all, which it
    does when ``fact`` is in a derivation :func:`_derive` made with ``override``
    (``walked`` in :func:`_sidetracks`).  Four sidetracks in ten end so on large
    estates; this tells them from the trees already built.
    """
    keys = override.keys()
    trees = memo.closure
    for p in alt.pre:
        tree = trees.get(p)
        if tree is None:
            tree = _closure(sol, memo, p)
        if fact in tree and keys.isdisjoint(tree.keys()):
            return True
    return False


# --------------------------------------------------------------------------- costs


def goal_costs(
    sol: Solution,
    goals: Sequence[Fact],
    exhaustive: bool,
) -> dict[Fact, Cheapest]:
    """The cheapest plan found and a proven lower bound for each reachable goal.

    ``sol`` is the solve the policy's plans are listed from (its plan solve), so
    the plan answered is the first one ``paths`` lists (:func:`first_plan`,
    or the first of :func:`plans_from_solution`): ``check`` and
    ``paths`` name the same counter-example.

    ``exhaustive``: ``sol`` is the whole attack graph (an exhaustive solve,
    affordable on small estates): the fewest-steps plan of that graph is searched
    (:func:`ztsim.engine.mincost.cheapest`), exact unless its budget ran out.
    Otherwise (large estates), the bound is the relaxed one
    (:func:`ztsim.engine.mincost.relaxed_lower_bounds`); a first plan that does not
    meet it is replaced by the cheapest of the first chunk of plans listed
    (sidetracks of it: the derivations one fact at a time), which ``paths`` lists
    too; unless ``sol``'s graph proves it the cheapest (its h_max, or h² over pairs of
    facts: :mod:`ztsim.engine.pairs`), which no plan listed from ``sol`` can beat.
    A plan not proven the cheapest is reported honestly: "at most".
    """
    reachable = [goal for goal in goals if goal in sol.cost]
    if not reachable:
        return {}
    if exhaustive:
        return {goal: _searched_cost(sol, goal) for goal in reachable}
    with phase("plans"):
        lower = relaxed_lower_bounds(sol, reachable)
        # The graph is asked only about goals whose extracted plan misses the bound:
        # it is built for them alone (their first plans, once known, are remembered).
        memo = _memo(sol)
        asked: list[Fact] = []
        for goal in reachable:
            if goal not in memo.first:
                got = memo.extracted[goal] = _extracted(sol, goal, memo)
                if got.cost > lower[goal]:
                    asked.append(goal)
        if asked:
            graph_for(sol, asked)
        return {goal: _bounded_cost(sol, goal, lower[goal]) for goal in reachable}


def _searched_cost(sol: Solution, goal: Fact) -> Cheapest:
    """:func:`goal_costs` of ``goal`` on an exhaustive solve: the first plan, and the
    bound of the fewest-steps search of the whole graph."""
    plan = first_plan(sol, goal)
    searched = cheapest(sol, goal)
    assert plan is not None and searched is not None
    return Cheapest(plan, min(searched.lower, plan.cost))


def _bounded_cost(sol: Solution, goal: Fact, lower: int) -> Cheapest:
    """:func:`goal_costs` of ``goal`` on a partial solve, ``lower`` its relaxed bound
    (in the caller's phase)."""
    known = _memo(sol).first.get(goal)
    plan = known[0] if known is not None else _first_plan(sol, goal, lower)
    # Listed plans are plans of this solve's graph: none is cheaper than its bound.
    if plan.cost > lower and not _graph(sol, goal).at_least(goal, plan.cost):
        plan = plans_from_solution(sol, goal, 1)[0]  # never worse: the first leads ties
    return Cheapest(plan, min(lower, plan.cost))


def merge_plans(groups: Iterable[Iterable[Plan]]) -> list[Plan]:
    """Merge plan lists without duplicates, cheapest first, ties in a fixed order."""
    out: dict[frozenset[StepKey], Plan] = {}
    for group in groups:
        for p in group:
            out.setdefault(p.key, p)
    return sorted(out.values(), key=lambda p: p.sort_key)
