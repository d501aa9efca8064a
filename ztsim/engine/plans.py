"""Plans (attack paths) and their verdicts under a policy (spec §6).

A plan is extracted on demand from a :class:`~ztsim.engine.fixpoint.Solution`: follow the
cheapest derivation of the goal back to the entry, then drop every step the rest
does not need.  That derivation counts shared facts once per use, so on estates
solved exhaustively the first plan listed is the fewest-steps one that
:mod:`ztsim.engine.mincost` finds.  Further distinct plans swap one derivation of a plan
already found for another (sidetracks); candidates are taken cheapest first, in
chunks that do not depend on how many plans are asked for.  A plan is then
judged against each policy: blocked at its first forbidden step (with the rule,
``default``, ``mfa`` or ``encrypt_in_transit`` that forbids it), or open with the
probability that the policy's detection sees it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ztsim.engine.compiled import (
    CompiledPolicy,
    Decision,
    selector_matches_host,
    selector_matches_zone,
)
from ztsim.engine.extraction import (
    Derivations,
    Plan,
    _derive,
    _memo,
    _plan_from,
    _SolutionMemo,
    derivations_of,
    extract_plan,
    minimize,
)
from ztsim.engine.fixpoint import AttackModel, Fact, Solution, Step, solve
from ztsim.engine.mincost import Cheapest, _graph, cheapest, hmax_plan, relaxed_lower_bounds
from ztsim.inputs.loader import LoadedPolicy
from ztsim.model.schema import Detection
from ztsim.model.techniques import technique_matches
from ztsim.perf.profiling import phase

__all__ = [
    "Derivations",
    "Plan",
    "PlanVerdict",
    "StepVerdict",
    "derivations_of",
    "exhaustive_for",
    "extract_plan",
    "first_plan",
    "goal_costs",
    "judge",
    "judge_plans",
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
    (:func:`ztsim.engine.mincost.hmax_plan`).  ``lower``: a proven lower bound on the
    goal's cost, if known; a plan meeting it is kept without looking further (the
    answer is the same: only a strictly cheaper plan replaces it).  Remembered per
    solve and goal: ``check``'s goal plan and ``paths``' first plan are this one.
    """
    if goal not in sol.cost:
        return None
    memo = _memo(sol)
    known = memo.first.get(goal)
    if known is not None:
        return known[0]
    with phase("plans"):
        chosen = _derive(sol, goal, {}, memo)
        assert chosen is not None  # best derivations never loop: costs strictly grow
        got = _plan_from(sol, goal, chosen)
    if got.cost > lower:
        if exhaustive_for(sol.model):
            found = cheapest(sol, goal, got)
            other = found.plan if found is not None else got
        else:
            other = hmax_plan(sol, goal)
        if other.cost < got.cost:
            memo.first[goal] = (other, True)
            return other
    memo.first[goal] = (got, False)
    return got


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
        first_chosen = {f: st for st in reversed(first.steps) for f in st.post}
    seen = {first.key}
    # Overrides already tried: the same set reached twice gives the same plan.
    tried: set[frozenset[tuple[Fact, tuple[str, ...]]]] = set()
    counter = 0
    heap: list[
        tuple[
            tuple[int, tuple[tuple[str, ...], ...]],
            int,
            Plan,
            dict[Fact, Step],
            dict[Fact, Step],
        ]
    ] = [(first.sort_key, counter, first, {}, first_chosen)]
    accepted: list[Plan] = []
    order = sol.order
    while heap and len(accepted) < k:
        _, _, plan, override, chosen = heapq.heappop(heap)
        accepted.append(plan)
        if len(accepted) == k:
            break
        used = plan.key
        for f in sorted(chosen, key=order.__getitem__):
            if chosen[f].key not in used or f in override:
                continue
            for alt in alts.get(f, ())[: MAX_SIDETRACKS + 1]:
                if alt.key == chosen[f].key:
                    continue
                nov = {**override, f: alt}
                ident = frozenset((x, s.key) for x, s in nov.items())
                if ident in tried:
                    continue
                tried.add(ident)
                nchosen = _derive(sol, goal, nov, memo)
                if nchosen is None:
                    continue
                cand = _plan_from(sol, goal, nchosen)
                if cand.key in seen:
                    continue
                seen.add(cand.key)
                counter += 1
                heapq.heappush(heap, (cand.sort_key, counter, cand, nov, nchosen))
    out: list[Plan] = []
    for i in range(0, len(accepted), PLAN_CHUNK):
        # The first plan leads unless a strictly cheaper one was found: ``check``
        # names it when it is proven cheapest, without listing (see goal_costs).
        out.extend(
            sorted(accepted[i : i + PLAN_CHUNK], key=lambda p: (p.cost, p is not first, p.sort_key))
        )
    return out


# --------------------------------------------------------------------------- verdicts


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
    (:func:`ztsim.engine.mincost.cheapest`), exact unless its budget ran out.  Otherwise
    (large estates), the bound is the relaxed one
    (:func:`ztsim.engine.mincost.relaxed_lower_bounds`); a first plan that does not meet it is
    replaced
    by the cheapest of the first chunk of plans listed (sidetracks of it: the
    derivations one fact at a time), which ``paths`` lists too; unless it meets
    the h_max of ``sol``'s graph, which no plan listed from ``sol`` can beat.  A plan not proven
    the cheapest is reported honestly: "at most".
    """
    reachable = [g for g in goals if g in sol.cost]
    if not reachable:
        return {}
    out: dict[Fact, Cheapest] = {}
    if exhaustive:
        for g in reachable:
            plan = first_plan(sol, g)
            searched = cheapest(sol, g)
            assert plan is not None and searched is not None
            out[g] = Cheapest(plan, min(searched.lower, plan.cost))
        return out
    with phase("plans"):
        lower = relaxed_lower_bounds(sol, reachable)
    for g in reachable:
        plan = first_plan(sol, g, lower=lower[g])
        assert plan is not None
        # Listed plans are plans of this solve's graph: none is cheaper than its h_max.
        if plan.cost > lower[g] and plan.cost > _graph(sol).hmax[g]:
            plan = plans_from_solution(sol, g, 1)[0]  # never worse: the first leads ties
        out[g] = Cheapest(plan, min(lower[g], plan.cost))
    return out


class StepVerdict(NamedTuple):
    """What a policy says of one step of a plan (a named tuple, like :class:`PlanVerdict`)."""

    allowed: bool
    blocked_by: str | None
    explanation: str
    decision: Decision | None
    detections: tuple[str, ...]


class PlanVerdict(NamedTuple):
    """What a policy says of a whole plan: blocked where and why, or open.

    A named tuple, cheap to build: a check judges every plan of its basis under
    every policy, and ``paths`` every plan it lists.
    """

    policy: str
    blocked: bool
    step: int | None
    blocked_by: str | None
    explanation: str
    p_detected: float | None
    steps: tuple[StepVerdict, ...]

    @property
    def short(self) -> str:
        """``blocked: RULE`` or ``open P=0.42`` for tables."""
        if self.blocked:
            return f"blocked: {self.blocked_by}"
        return f"open P(det)={self.p_detected:.2f}"


def _describe(d: Decision, policy: CompiledPolicy) -> str:
    """``Decision.describe`` memoised per policy (plans share most of their steps)."""
    cache = _judgements(policy).descriptions
    text = cache.get(d)
    if text is None:
        text = cache[d] = d.describe(policy.loaded)
    return text


def _step_verdict(
    step: Step, policy: CompiledPolicy
) -> tuple[bool, str | None, str, Decision | None]:
    if step.flow is not None:
        d = policy.flow(*step.flow)
        src, host, svc = step.flow
        what = f"flow {src} -> {host}:{svc} {_describe(d, policy)}"
        if not d.allowed:
            return False, d.rule, what, d
        if step.kind == "login" and step.credential in policy.mfa:
            return False, "mfa", f"credential {step.credential} is under MFA", d
        return True, None, what, d
    if step.kind == "sniff":
        if policy.encrypt_in_transit:
            return False, "encrypt_in_transit", "encrypt_in_transit: the flow cannot be read", None
        assert step.traffic is not None
        t = policy.topology.model.traffic[step.traffic]
        d = policy.traffic(t.source, t.to, t.service)
        what = f"traffic {t.source} -> {t.to} {t.service} {_describe(d, policy)}"
        if not d.allowed:
            return False, d.rule, what, d
        return True, None, what, d
    if step.egress is not None:
        d = policy.egress(*step.egress)
        host, dest, svc = step.egress
        what = f"egress {host} -> {dest} {svc} {_describe(d, policy)}"
        if not d.allowed:
            return False, d.rule, what, d
        return True, None, what, d
    return True, None, "no network flow: not a policy decision", None


def _detections(technique: str, where: str | None, policy: CompiledPolicy) -> tuple[str, ...]:
    """Ids of the detection entries that see ``technique`` at ``where`` (a host or zone)."""
    topo = policy.topology
    hits: list[str] = []
    by_technique = _judgements(policy).by_technique
    seeing = by_technique.get(technique)
    if seeing is None:
        seeing = by_technique[technique] = [
            det
            for det in policy.loaded.model.controls.detection
            if any(technique_matches(t, technique) for t in det.techniques)
        ]
    for det in seeing:
        if where in topo.hosts:
            ok = selector_matches_host(det.where, topo.hosts[where])
        elif where is not None:
            ok = selector_matches_zone(det.where, where)
        else:
            ok = det.where.is_any
        if ok:
            hits.append(det.id)
    return tuple(hits)


class _Judgements:
    """What judging plans under one compiled policy has found so far.

    A compiled policy never changes, and the plans judged under it share most of
    their steps, many steps their technique and host: so each step is judged once,
    and each (technique, host) pair looked up against the detection entries once.
    (Kept in the policy's ``judgements`` slot, so dropped with it; the policy is
    not held here.)
    """

    __slots__ = ("by_technique", "descriptions", "detections", "probabilities", "steps")

    def __init__(self, policy: CompiledPolicy) -> None:
        #: Step verdicts by step key, with the step judged: plans found under
        #: different policies come from different solves, whose equal steps are
        #: distinct objects, so a hit is one equal to the step asked about.
        self.steps: dict[tuple[str, ...], tuple[Step, StepVerdict]] = {}
        #: Detection ids by (technique, where the step happens).
        self.detections: dict[tuple[str, str | None], tuple[str, ...]] = {}
        #: Probability of each detection entry, by id (the last entry of an id wins).
        self.probabilities = {d.id: d.probability for d in policy.loaded.model.controls.detection}
        #: ``Decision.describe`` of each decision met (plans share most of their steps).
        self.descriptions: dict[Decision, str] = {}
        #: Detection entries that see each technique.
        self.by_technique: dict[str, list[Detection]] = {}

    def step(self, st: Step, policy: CompiledPolicy) -> StepVerdict:
        """The verdict of ``policy`` on ``st`` (judged on first sight, then remembered)."""
        hit = self.steps.get(st.key)
        if hit is not None and (hit[0] is st or hit[0] == st):
            return hit[1]
        ok, by, why, decision = _step_verdict(st, policy)
        dets: tuple[str, ...] = ()
        if st.technique is not None:
            where = (st.technique, st.host)
            found = self.detections.get(where)
            if found is None:
                found = self.detections[where] = _detections(st.technique, st.host, policy)
            dets = found
        sv = StepVerdict(ok, by, why, decision, dets)
        self.steps[st.key] = (st, sv)
        return sv


def _judgements(policy: CompiledPolicy) -> _Judgements:
    """The judgements of ``policy``, kept in its ``judgements`` slot (which the
    engine's lower modules cannot type: they do not import this one)."""
    memo = policy.judgements
    if not isinstance(memo, _Judgements):
        memo = policy.judgements = _Judgements(policy)
    return memo


def judge(plan: Plan, policy: CompiledPolicy) -> PlanVerdict:
    """Judge ``plan`` against ``policy`` (spec §6).

    Blocked at the first step the policy forbids; otherwise open, with
    ``P(detected) = 1 - prod(1 - p)`` over every detection entry that matches some
    step (each entry counted once, however many steps it sees).
    """
    with phase("judge"):
        return _judge(plan, policy, _judgements(policy))


def judge_plans(
    plans: Iterable[Plan], policy: CompiledPolicy, *, whole: bool = True
) -> list[PlanVerdict]:
    """``[judge(p, policy) for p in plans]``, in one profiling phase.

    ``whole=False``: a blocked plan's verdict stops at its blocking step
    (``steps`` ends with that step's verdict); the steps after it, which never
    happen, are not judged.  Everything else is the same.  For counting rule
    impact, which reads no step after the block: under a strict policy most of
    a basis is blocked early (zero-trust on L: 248 distinct steps judged rather
    than 4,314).
    """
    with phase("judge"):
        memo = _judgements(policy)
        if whole:
            return [_judge(p, policy, memo) for p in plans]
        return [_judge_to_block(p, policy, memo) for p in plans]


def _judge(plan: Plan, policy: CompiledPolicy, memo: _Judgements) -> PlanVerdict:
    known = memo.steps
    # The memo's fast path inlined: most steps of most plans were judged before.
    verdicts = [
        hit[1] if (hit := known.get(st.key)) is not None and hit[0] is st else memo.step(st, policy)
        for st in plan.steps
    ]
    for i, sv in enumerate(verdicts):
        if not sv.allowed:
            return _blocked(policy, i, verdicts)
    return _open(memo, policy, verdicts)


def _judge_to_block(plan: Plan, policy: CompiledPolicy, memo: _Judgements) -> PlanVerdict:
    """:func:`_judge`, stopping at the first step ``policy`` forbids."""
    known = memo.steps
    verdicts: list[StepVerdict] = []
    for st in plan.steps:
        hit = known.get(st.key)
        sv = hit[1] if hit is not None and hit[0] is st else memo.step(st, policy)
        verdicts.append(sv)
        if not sv.allowed:
            return _blocked(policy, len(verdicts) - 1, verdicts)
    return _open(memo, policy, verdicts)


def _blocked(policy: CompiledPolicy, i: int, verdicts: list[StepVerdict]) -> PlanVerdict:
    """The verdict of a plan blocked at step ``i`` (``verdicts``: its steps judged)."""
    sv = verdicts[i]
    why = f"step {i + 1}: {sv.explanation}"
    return PlanVerdict(policy.loaded.name, True, i, sv.blocked_by, why, None, tuple(verdicts))


def _open(memo: _Judgements, policy: CompiledPolicy, verdicts: list[StepVerdict]) -> PlanVerdict:
    """The verdict of an open plan, every step of which ``verdicts`` allow."""
    name = policy.loaded.name
    probs = memo.probabilities
    matched = sorted({d for sv in verdicts for d in sv.detections})
    miss = 1.0
    for d in matched:
        miss *= 1.0 - probs[d]
    p = round(1.0 - miss, 6)
    return PlanVerdict(name, False, None, None, "open", p, tuple(verdicts))


def merge_plans(groups: Iterable[Iterable[Plan]]) -> list[Plan]:
    """Merge plan lists without duplicates, cheapest first, ties in a fixed order."""
    out: dict[frozenset[tuple[str, ...]], Plan] = {}
    for group in groups:
        for p in group:
            out.setdefault(p.key, p)
    return sorted(out.values(), key=lambda p: p.sort_key)
