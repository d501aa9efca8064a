"""The headless API: judge policies on a topology, list plans, build JSON results.

This is what the CLI, the TUI and the Python API share::

    >>> from ztsim.analysis import analyze
    >>> from ztsim.loader import load_topology, load_policies
    >>> a = analyze(load_topology("topologies/pajemploi.yaml"),
    ...             load_policies(["policies/"]))  # doctest: +SKIP
    >>> [r.policy.name for r in a.results if r.reachable_goals]  # doctest: +SKIP
    ['flat', 'segmented']
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

from ztsim import forking
from ztsim.engine import AttackModel, Fact, Solution, goal_facts, solve
from ztsim.loader import LoadedPolicy, LoadedTopology, reference_policy
from ztsim.plans import (
    Derivations,
    Plan,
    PlanVerdict,
    extract_plan,
    judge,
    merge_plans,
    plan_solve,
    plans_from_solution,
    same_fixpoint,
)
from ztsim.policy import CompiledPolicy, Decision
from ztsim.profiling import phase

__all__ = [
    "PARALLEL_HOSTS",
    "Analysis",
    "GoalResult",
    "PlanRow",
    "PolicyResult",
    "TrafficResult",
    "analyze",
    "goal_label",
    "judge_policy",
]


#: From this many hosts on, :func:`analyze` solves policies and
#: :meth:`Analysis.plans_by_goal` lists plans on two cores.
PARALLEL_HOSTS = 2_000


def goal_label(goal: Fact) -> str:
    """``exfiltrate(payroll-records)`` style label of a goal fact."""
    verb = "exfiltrate" if goal[0] == "exfil" else "tamper"
    return f"{verb}({goal[1]})"


@dataclass(frozen=True)
class GoalResult:
    """One goal under one policy."""

    goal: Fact
    reachable: bool
    cost: int | None
    records: int | None
    plan: Plan | None

    @property
    def data(self) -> str:
        """The data item's id."""
        return self.goal[1]


@dataclass(frozen=True)
class TrafficResult:
    """One legitimate flow under one policy: allowed, or broken by a rule."""

    index: int
    source: str
    to: str
    service: str
    credential: str | None
    decision: Decision

    @property
    def allowed(self) -> bool:
        """Whether the policy lets the flow through."""
        return self.decision.allowed


@dataclass
class PolicyResult:
    """Everything one policy yields on the topology."""

    policy: LoadedPolicy
    compiled: CompiledPolicy
    solution: Solution
    goals: list[GoalResult]
    traffic: list[TrafficResult]
    model: AttackModel | None = None

    @cached_property
    def plan_solution(self) -> Solution:
        """The policy's solve for plan listing (see :func:`ztsim.plans.plan_solve`)."""
        model = AttackModel(self.compiled.topology) if self.model is None else self.model
        return plan_solve(model, self.compiled)

    @cached_property
    def derivations(self) -> Derivations:
        """Every derivation of each fact in :attr:`plan_solution` (shared across goals).

        The same lists as ``plan_solution.derivations()``, each sorted when first read.
        """
        return Derivations(self.plan_solution)

    @property
    def reachable_goals(self) -> list[GoalResult]:
        """Goals the attacker reaches under this policy."""
        return [g for g in self.goals if g.reachable]

    @property
    def broken_traffic(self) -> list[TrafficResult]:
        """Legitimate flows this policy denies."""
        return [t for t in self.traffic if not t.allowed]

    @property
    def records_at_risk(self) -> int:
        """Records of the data items whose exfiltration is reachable."""
        return sum(g.records or 0 for g in self.goals if g.reachable and g.goal[0] == "exfil")


@dataclass(frozen=True)
class PlanRow:
    """A plan with the policies it was found under and its verdict under each."""

    plan: Plan
    found_under: tuple[str, ...]
    verdicts: tuple[PlanVerdict, ...]

    def verdict(self, policy: str) -> PlanVerdict | None:
        """The verdict under the policy named ``policy``."""
        return next((v for v in self.verdicts if v.policy == policy), None)


@dataclass
class Analysis:
    """A topology judged under several policies."""

    topology: LoadedTopology
    model: AttackModel
    results: list[PolicyResult]

    @property
    def goals(self) -> list[Fact]:
        """Every goal of the topology."""
        return goal_facts(self.topology)

    @property
    def exit_code(self) -> int:
        """0 when no goal is reachable under any judged policy, else 1 (spec §7)."""
        return 1 if any(r.reachable_goals for r in self.results) else 0

    @cached_property
    def reference(self) -> PolicyResult:
        """The reference policy's result (allow everything, no controls)."""
        for r in self.results:
            if r.policy.path == "<reference>":
                return r
        return _judge_policy(self.model, reference_policy())

    def plans(self, goal: Fact, k: int = 5) -> list[PlanRow]:
        """Distinct plans for ``goal``, merged from the reference and every policy.

        The ``k`` cheapest of the merge are kept, plus the cheapest plan under each
        policy that reaches the goal (so every open goal shows how), cheapest first.
        Each is judged against every policy.

        Plans are listed from each policy's :attr:`PolicyResult.plan_solution`;
        policies that surely give the same fixpoint (see
        :func:`ztsim.plans.same_fixpoint`) share one, and the reference needs no
        solve of its own beyond that one (its exact fixpoint is not needed here).
        Listings and verdicts are remembered, so asking again is cheap.
        """
        found: dict[frozenset[tuple[str, ...]], set[str]] = {}
        groups: list[list[Plan]] = []
        must_keep: set[frozenset[tuple[str, ...]]] = set()
        for i, (name, r, exact) in enumerate(self._plan_sources()):
            if not exact.reachable(goal):
                continue
            plans = plans_from_solution(r.plan_solution, goal, k, derivations=r.derivations)
            groups.append(plans)
            if plans and i > 0:
                must_keep.add(plans[0].key)
            for p in plans:
                found.setdefault(p.key, set()).add(name)
        merged = merge_plans(groups)
        kept = [p for i, p in enumerate(merged) if i < k or p.key in must_keep]
        return [
            PlanRow(
                p,
                tuple(sorted(found[p.key])),
                tuple(judge(p, r.compiled) for r in self.results),
            )
            for p in kept
        ]

    def plans_by_goal(self, goals: Sequence[Fact], k: int = 5) -> dict[Fact, list[PlanRow]]:
        """:meth:`plans` of each goal, in the order given, on two cores on large estates.

        The solves plans are listed from are computed first; then, from
        :data:`PARALLEL_HOSTS` hosts on, a forked child lists the plans of every
        other goal (:func:`ztsim.forking.fork_map`).  The rows are those
        :meth:`plans` gives; the child's listings are not remembered here.
        """
        chosen = list(goals)
        if len(self.topology.hosts) < PARALLEL_HOSTS:
            return {g: self.plans(g, k) for g in chosen}
        for _, r, exact in self._plan_sources():
            if any(exact.reachable(g) for g in chosen):
                _ = r.derivations  # computes the plan solve too: shared by both processes
        rows = forking.fork_map(lambda g: self.plans(g, k), chosen)
        return dict(zip(chosen, rows, strict=True))

    def _plan_sources(self) -> list[tuple[str, PolicyResult, Solution]]:
        """What :meth:`plans` lists from: name, result, solve that says what is reachable.

        The reference first.  A source whose policy gives surely the same fixpoint
        as an earlier one lists from that one's result (same plans, listed once).
        When no policy is the reference, the reference gets a plan solve only (its
        reachability is that solve's: every solve derives the same facts), unless
        :attr:`reference` was computed already.
        """
        known = self.__dict__.get("_plan_sources_memo")
        if known is not None:
            return cast(list[tuple[str, PolicyResult, Solution]], known)
        out: list[tuple[str, PolicyResult, Solution]] = []
        reference = self.__dict__.get("reference") or next(
            (r for r in self.results if r.policy.path == "<reference>"), None
        )
        if reference is None:
            ref_policy = reference_policy()
            twin = next((r for r in self.results if same_fixpoint(r.policy, ref_policy)), None)
            if twin is not None:
                out.append((ref_policy.name, twin, twin.solution))
            else:
                compiled = self.model.compile(ref_policy)
                sol = plan_solve(self.model, compiled)
                light = PolicyResult(ref_policy, compiled, sol, [], [], self.model)
                light.__dict__["plan_solution"] = sol  # the cached property, known
                out.append((ref_policy.name, light, sol))
        else:
            out.append((reference.policy.name, reference, reference.solution))
        for r in self.results:
            if r is reference:
                continue
            twin = next((t for _, t, _ in out if same_fixpoint(t.policy, r.policy)), r)
            out.append((r.policy.name, twin, r.solution))
        self.__dict__["_plan_sources_memo"] = out
        return out

    def to_json(self) -> dict[str, Any]:
        """The spec §7 JSON object (keys may be added, never renamed).

        Each result carries ``rules``: per-rule impact (:mod:`ztsim.whatif.impact`)
        over the plans ``impact_basis`` describes.
        """
        from ztsim.whatif.impact import impact_basis

        plans, found_under = impact_basis(self)
        return {
            "topology": self.topology.name,
            "file": self.topology.path,
            "reachable": bool(self.exit_code),
            "results": [_result_json(r, plans) for r in self.results],
            "impact_basis": {"plans": len(plans), "found_under": found_under},
        }


def _result_json(r: PolicyResult, plans: Sequence[Plan] = ()) -> dict[str, Any]:
    from ztsim.whatif.impact import policy_impact

    exfil = [
        {"data": g.data, "reachable": g.reachable, "cost": g.cost, "records": g.records}
        for g in r.goals
        if g.goal[0] == "exfil"
    ]
    tamper = [
        {"data": g.data, "reachable": g.reachable, "cost": g.cost}
        for g in r.goals
        if g.goal[0] == "tamper"
    ]
    traffic = [
        {
            "from": t.source,
            "to": t.to,
            "service": t.service,
            "allowed": t.allowed,
            "rule": t.decision.rule,
            "decided_by": t.decision.reason,
        }
        for t in r.traffic
    ]
    return {
        "policy": r.policy.name,
        "file": r.policy.path,
        "exfiltration": exfil,
        "tampering": tamper,
        "traffic": traffic,
        "summary": {
            "goals_reachable": len(r.reachable_goals),
            "goals": len(r.goals),
            "records_at_risk": r.records_at_risk,
            "traffic_broken": len(r.broken_traffic),
        },
        "stats": {
            "facts": r.solution.facts,
            "steps": len(r.solution.fired),
            "target_groups": len(r.compiled.targets.keys),
        },
        "rules": [x.to_json() for x in policy_impact(r, plans)],
    }


def judge_policy(
    model: AttackModel, policy: LoadedPolicy, previous: CompiledPolicy | None = None
) -> PolicyResult:
    """Judge one policy on the model's topology: its fixpoint, goals and traffic.

    ``previous``: the compiled form of an earlier version of this policy on the same
    model, whose target groups the compilation may reuse (re-checks after an edit).
    """
    return _judge_policy(model, policy, previous)


def _judge_policy(
    model: AttackModel,
    policy: LoadedPolicy,
    previous: CompiledPolicy | None = None,
    *,
    for_plans: bool = False,
) -> PolicyResult:
    return _finish(model, policy, model.compile(policy, previous=previous), for_plans)


def _finish(
    model: AttackModel, policy: LoadedPolicy, compiled: CompiledPolicy, for_plans: bool
) -> PolicyResult:
    """A compiled policy's result: its fixpoint, goals and legitimate flows."""
    sol = plan_solve(model, compiled) if for_plans else solve(model, compiled)
    topo = model.topology
    goals: list[GoalResult] = []
    for g in goal_facts(topo):
        plan = extract_plan(sol, g)
        _, item = topo.data[g[1]]
        goals.append(
            GoalResult(
                g,
                plan is not None,
                plan.cost if plan is not None else None,
                item.records,
                plan,
            )
        )
    traffic = [
        TrafficResult(
            i, t.source, t.to, t.service, t.credential, compiled.traffic(t.source, t.to, t.service)
        )
        for i, t in enumerate(topo.model.traffic)
    ]
    result = PolicyResult(policy, compiled, sol, goals, traffic, model)
    if for_plans:
        result.__dict__["plan_solution"] = sol  # the cached property, known
    return result


def _judge_all(
    model: AttackModel, policies: Sequence[LoadedPolicy], for_plans: bool
) -> list[PolicyResult]:
    """:func:`_judge_policy` of each policy; on large estates, on two cores.

    From :data:`PARALLEL_HOSTS` hosts and two policies on, every policy is compiled
    here, then a forked child solves every other one (the second, the fourth...)
    while this process solves the rest.  The child sends back what its solves
    found (the solution's tables, goals and flows, pickled), which is bound here
    to this process's model and compiled policy: the results are those a solve
    here gives, so the output does not change.  A child that fails, or sends
    what cannot be read, leaves its policies to be solved here.

    Not for plan listing (``for_plans``): its solves are larger to send back, and
    listing judges every plan under every policy, which goes faster where the
    policy was solved (its flow decisions are known); measured on L, ``paths``
    gained nothing from the split.
    """
    if (
        for_plans
        or len(policies) < 2
        or len(model.topology.hosts) < PARALLEL_HOSTS
        or not forking.enabled()
    ):
        return [_judge_policy(model, p, for_plans=for_plans) for p in policies]
    compiled = [model.compile(p) for p in policies]
    theirs = list(range(1, len(policies), 2))

    def produce() -> bytes:  # in the child
        tables = []
        for i in theirs:
            r = _finish(model, policies[i], compiled[i], False)
            s = r.solution
            tables.append((s.cost, s.order, s.best, s.fired, s.complete, r.goals, r.traffic))
        return pickle.dumps(tables, pickle.HIGHEST_PROTOCOL)

    child = forking.Forked(produce)
    results: list[PolicyResult | None] = [None] * len(policies)
    try:
        for i in range(0, len(policies), 2):
            results[i] = _finish(model, policies[i], compiled[i], False)
        with phase("fixpoint"):  # the child's solves, as far as this process waits
            blob = child.result()
            received = _received(model, policies, compiled, theirs, blob)
    finally:
        child.close()
    for i, r in zip(theirs, received, strict=True):
        results[i] = r
    return [
        r if r is not None else _finish(model, policies[i], compiled[i], False)
        for i, r in enumerate(results)
    ]


def _received(
    model: AttackModel,
    policies: Sequence[LoadedPolicy],
    compiled: Sequence[CompiledPolicy],
    theirs: Sequence[int],
    blob: bytes | None,
) -> list[PolicyResult | None]:
    """The results the child sent for the policies ``theirs``, or ``None`` each."""
    if blob is None:
        return [None] * len(theirs)
    try:
        tables = pickle.loads(blob)
        out: list[PolicyResult | None] = []
        for i, (cost, order, best, fired, complete, goals, traffic) in zip(
            theirs, tables, strict=True
        ):
            sol = Solution(model, compiled[i], cost, order, best, fired, complete)
            out.append(PolicyResult(policies[i], compiled[i], sol, goals, traffic, model))
        return out
    except Exception:  # an unreadable answer: solved here instead
        return [None] * len(theirs)


def analyze(
    topology: LoadedTopology,
    policies: Sequence[LoadedPolicy] | None = None,
    *,
    for_plans: bool = False,
) -> Analysis:
    """Judge ``policies`` on ``topology`` (the reference policy when none is given).

    Each policy gets an exact fixpoint: a goal is reachable if and only if the
    fixpoint derives it; its cost is that of the cheapest plan found.

    ``for_plans``: for callers that list plans (:meth:`Analysis.plans`) rather
    than report each goal's cheapest plan.  Each policy is solved once, by
    :func:`ztsim.plans.plan_solve`, and that solve serves as its result too:
    what is reachable is the same (every solve derives the same facts), so the
    verdicts, the exit status and the plans listed are unchanged, and no policy
    is solved twice.  The cost and plan of each :class:`GoalResult` are then
    that solve's, which need not be the ones plain ``analyze`` reports.

    From :data:`PARALLEL_HOSTS` hosts and two policies on, every other policy is
    solved in a forked child, unless ``for_plans`` (see :func:`_judge_all`); the
    results are the same.
    """
    model = AttackModel(topology)
    chosen = list(policies) if policies else [reference_policy()]
    results = _judge_all(model, chosen, for_plans)
    return Analysis(topology, model, results)
