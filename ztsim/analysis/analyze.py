"""The headless API: judge policies on a topology, list plans, build JSON results.

This is what the CLI, the TUI and the Python API share::

    >>> from ztsim.analysis.analyze import analyze
    >>> from ztsim.inputs.loader import load_topology, load_policies
    >>> a = analyze(load_topology("topologies/pajemploi.yaml"),
    ...             load_policies(["policies/"]))  # doctest: +SKIP
    >>> [r.policy.name for r in a.results if r.reachable_goals]  # doctest: +SKIP
    ['flat', 'segmented']
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple, cast

from ztsim.engine.compiled import CompiledPolicy, Decision
from ztsim.engine.fixpoint import AttackModel, Fact, Solution, goal_facts, solve
from ztsim.engine.impact import RuleImpact, counts_reference, rows_json_text, rule_impact
from ztsim.engine.plans import (
    Derivations,
    Plan,
    derivations_of,
    exhaustive_for,
    goal_costs,
    merge_plans,
    plan_solve,
    plans_from_solution,
    same_fixpoint,
)
from ztsim.engine.verdicts import PlanVerdict, judge, judge_plans
from ztsim.inputs.loader import (
    LoadedPolicy,
    LoadedTopology,
    check_policies,
    policy_warnings,
    reference_policy,
)
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.output.jsontext import Encoded, dump, dump_json
from ztsim.perf import forking
from ztsim.perf.profiling import phase

__all__ = [
    "PARALLEL_HOSTS",
    "Analysis",
    "GoalResult",
    "PlanRow",
    "PolicyResult",
    "ResultStats",
    "TrafficResult",
    "analyze",
    "check_impact",
    "goal_label",
    "goal_plans",
    "impact_basis",
    "judge_policy",
    "policy_impact",
    "rows_impact",
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
    #: A proven lower bound on the cost of every plan to the goal (None when
    #: unreachable); ``cost`` is exact when it reaches it (see :mod:`ztsim.engine.mincost`).
    cost_lower_bound: int | None = None

    @property
    def cost_exact(self) -> bool:
        """Whether ``cost`` is proven the fewest steps of any plan (unreachable: True)."""
        if self.cost is None:
            return True
        return self.cost_lower_bound is not None and self.cost <= self.cost_lower_bound

    @property
    def cost_text(self) -> str:
        """The cost for tables: ``7`` when exact, ``≤7 (≥5)`` when only bounded."""
        if self.cost is None:
            return ""
        if self.cost_exact:
            return str(self.cost)
        return f"≤{self.cost} (≥{self.cost_lower_bound or 0})"

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


class ResultStats(NamedTuple):
    """Sizes of one policy's solve: facts derived, steps fired, target groups compiled."""

    facts: int
    steps: int
    target_groups: int


class PolicyResult:
    """Everything one policy yields on the topology.

    ``compiled`` and ``solution`` may come when first read: a policy judged in a
    forked child (:func:`analyze` with ``for_check``) arrives as its goals, flows
    and sizes only, and is compiled and solved again here if anything asks for
    more (``check`` does not).  Compiling and solving are deterministic, so what
    comes is what the child had.
    """

    def __init__(
        self,
        policy: LoadedPolicy,
        compiled: CompiledPolicy,
        solution: Solution,
        goals: list[GoalResult],
        traffic: list[TrafficResult],
        model: AttackModel | None = None,
    ) -> None:
        self.policy = policy
        self._compiled: CompiledPolicy | None = compiled
        self._solution: Solution | None = solution
        self._stats: ResultStats | None = None
        self.goals = goals
        self.traffic = traffic
        self.model = model

    @classmethod
    def _later(
        cls,
        policy: LoadedPolicy,
        model: AttackModel,
        goals: list[GoalResult],
        traffic: list[TrafficResult],
        stats: ResultStats,
    ) -> PolicyResult:
        """A result known by its goals, flows and sizes; compiled and solved when asked."""
        r = cls.__new__(cls)
        r.policy, r.model, r.goals, r.traffic = policy, model, goals, traffic
        r._compiled, r._solution, r._stats = None, None, stats
        return r

    def __repr__(self) -> str:
        return f"PolicyResult({self.policy.name!r}, goals reachable: {len(self.reachable_goals)})"

    @property
    def compiled(self) -> CompiledPolicy:
        """The policy compiled against the topology."""
        if self._compiled is None:
            assert self.model is not None
            self._compiled = self.model.compile(self.policy)
        return self._compiled

    @property
    def solution(self) -> Solution:
        """The policy's fixpoint (above :data:`~ztsim.engine.plans.EXHAUSTIVE_HOSTS` hosts,
        its plan solve: the one its goals' costs and plans come from)."""
        if self._solution is None:
            assert self.model is not None
            self._solution = _check_solve(self.model, self.compiled)
        return self._solution

    @property
    def stats(self) -> ResultStats:
        """Facts derived, steps fired and target groups, without solving again."""
        if self._stats is None:
            sol, compiled = self.solution, self.compiled
            self._stats = ResultStats(sol.facts, len(sol.fired), len(compiled.targets.keys))
        return self._stats

    @cached_property
    def plan_solution(self) -> Solution:
        """The policy's solve for plan listing (see :func:`ztsim.engine.plans.plan_solve`):
        its goals' plans are the first ones listed from it."""
        model = AttackModel(self.compiled.topology) if self.model is None else self.model
        if not exhaustive_for(model):
            return self.solution  # the same solve (see _check_solve)
        return plan_solve(model, self.compiled)

    @cached_property
    def derivations(self) -> Derivations:
        """Every derivation of each fact in :attr:`plan_solution` (shared across goals).

        The same lists as ``plan_solution.derivations()``, each sorted when first read.
        """
        return derivations_of(self.plan_solution)

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

    @property
    def records_exfiltrable(self) -> int:
        """Records the attacker can exfiltrate (the same as :attr:`records_at_risk`)."""
        return self.records_at_risk

    @property
    def records_tamperable(self) -> int:
        """Records of the data items whose tampering is reachable (integrity goals)."""
        return sum(g.records or 0 for g in self.goals if g.reachable and g.goal[0] == "tamper")


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
    #: The policies' warnings on the topology (:func:`ztsim.inputs.loader.policy_warnings`),
    #: when :func:`analyze` was asked for them (``warnings``); ``None`` otherwise.
    warnings: list[Diagnostic] | None = None
    #: Rule-impact rows of :meth:`check_rules` known so far, by index in ``results``.
    _rules: dict[int, list[RuleImpact]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    #: The plans and policy names of :meth:`_check_basis`, once worked out.
    _basis: tuple[list[Plan], list[str]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    #: Rule-impact rows a forked child counted, as :mod:`marshal` bytes of plain
    #: tuples, by index in ``results``: read when asked (``check`` JSON never does).
    _blobs: dict[int, bytes] = field(default_factory=dict, init=False, repr=False, compare=False)
    #: Results' JSON text as :func:`ztsim.output.jsontext.dump` writes it at depth 0, written
    #: ahead (:func:`analyze` with ``for_json``), by index in ``results``.
    _texts: dict[int, str] = field(default_factory=dict, init=False, repr=False, compare=False)

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
        :func:`ztsim.engine.plans.same_fixpoint`) share one, and the reference needs no
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
        # Cheapest first; among equals, a policy's first plan (its goal's plan in
        # check) leads, as it does in its own listing: the first row is then the
        # same whatever k.
        firsts = {plans[0].key for plans in groups if plans}
        merged = sorted(merge_plans(groups), key=lambda p: (p.cost, p.key not in firsts))
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
        other goal (:func:`ztsim.perf.forking.fork_map`).  The rows are those
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

        Each result carries ``rules``: per-rule impact (:mod:`ztsim.engine.impact`)
        over the plans ``impact_basis`` describes.
        """
        return self._json(
            lambda i: _result_json(self.results[i], [x.to_json() for x in self._rows(i)])
        )

    def json_text(self) -> str:
        """``dump_json(self.to_json())``: the JSON text ``check`` prints.

        Each result's text is written once (:meth:`_result_text`), ahead and on
        two cores when :func:`analyze` was asked ``for_json``.
        """
        return dump_json(self._json(lambda i: Encoded(self._result_text(i))))

    def _result_text(self, i: int) -> str:
        """The JSON text of result ``i`` at depth 0; its rule rows, most of the text
        on large estates, written by :func:`ztsim.engine.impact.rows_json_text`."""
        text = self._texts.get(i)
        if text is None:
            text = self._texts[i] = _result_text(self.results[i], self._rows(i))
        return text

    def _json(self, result: Callable[[int], Any]) -> dict[str, Any]:
        plans, found_under = self._check_basis()
        return {
            "topology": self.topology.name,
            "file": self.topology.path,
            "reachable": bool(self.exit_code),
            "results": [result(i) for i in range(len(self.results))],
            "impact_basis": {"plans": len(plans), "found_under": found_under},
        }

    def check_rules(self) -> list[list[RuleImpact]]:
        """Per judged policy, the impact of each rule over the plans ``check`` counts.

        Those plans are :func:`impact_basis`'s.  Rows are
        remembered; :func:`analyze` with ``for_check`` counts them ahead, on two
        cores on large estates.
        """
        return [self._rows(i) for i in range(len(self.results))]

    def _rows(self, i: int) -> list[RuleImpact]:
        """:meth:`check_rules` of result ``i``: known, sent by the child, or counted now."""
        rows = self._rules.get(i)
        if rows is None:
            blob = self._blobs.pop(i, None)
            if blob is not None:
                try:
                    rows = [RuleImpact._make(x) for x in marshal.loads(blob)]
                except Exception:  # unreadable: counted here instead
                    rows = None
            if rows is None:
                rows = policy_impact(self.results[i], self._check_basis()[0])
            self._rules[i] = rows
        return rows

    def _check_basis(self) -> tuple[list[Plan], list[str]]:
        """:func:`impact_basis`, worked out once (rules and JSON)."""
        if self._basis is None:
            self._basis = impact_basis(self)
        return self._basis


def impact_basis(a: Analysis) -> tuple[list[Plan], list[str]]:
    """The plans ``check`` counts impact over, and the policies they were found under."""
    sources = list(a.results)
    if counts_reference(len(a.topology.hosts), [r.policy.path for r in sources]):
        sources = [a.reference, *sources]
    return merge_plans([goal_plans(r) for r in sources]), [r.policy.name for r in sources]


def goal_plans(r: PolicyResult) -> list[Plan]:
    """The cheapest plan of each goal ``r`` reaches, in goal order: its share of
    :func:`impact_basis`."""
    return [g.plan for g in r.goals if g.plan is not None]


def policy_impact(r: PolicyResult, plans: Sequence[Plan]) -> list[RuleImpact]:
    """:func:`rule_impact` of one judged policy over ``plans`` (profiled as judging).

    Blocked plans are judged up to their blocking step only (``whole=False``):
    :func:`rule_impact` reads no step after it.
    """
    with phase("judge"):
        verdicts = judge_plans(plans, r.compiled, whole=False)
        return rule_impact(r.compiled, verdicts, [t.decision for t in r.traffic])


def rows_impact(
    a: Analysis, verdicts_by_plan: Sequence[Sequence[PlanVerdict]]
) -> list[tuple[PolicyResult, list[RuleImpact]]]:
    """Impact per judged policy over listed plans (``paths``).

    ``verdicts_by_plan[j][i]`` is plan ``j``'s verdict under ``a.results[i]``
    (the order of :attr:`ztsim.analysis.analyze.PlanRow.verdicts`).
    """
    out = []
    for i, r in enumerate(a.results):
        verdicts = [vs[i] for vs in verdicts_by_plan]
        out.append((r, rule_impact(r.compiled, verdicts, [t.decision for t in r.traffic])))
    return out


def check_impact(a: Analysis) -> list[tuple[PolicyResult, list[RuleImpact]]]:
    """Impact per judged policy over the :func:`impact_basis` plans (``check``).

    The rows of :meth:`ztsim.analysis.analyze.Analysis.check_rules` (remembered there).
    """
    return list(zip(a.results, a.check_rules(), strict=True))


def _result_json(r: PolicyResult, rules: Any) -> dict[str, Any]:
    stats = r.stats
    exfil = [
        {
            "data": g.data,
            "reachable": g.reachable,
            "cost": g.cost,
            "cost_exact": g.cost_exact,
            "cost_lower_bound": g.cost_lower_bound,
            "records": g.records,
        }
        for g in r.goals
        if g.goal[0] == "exfil"
    ]
    tamper = [
        {
            "data": g.data,
            "reachable": g.reachable,
            "cost": g.cost,
            "cost_exact": g.cost_exact,
            "cost_lower_bound": g.cost_lower_bound,
            "records": g.records,
        }
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
            "records_exfiltrable": r.records_exfiltrable,
            "records_tamperable": r.records_tamperable,
            "traffic_broken": len(r.broken_traffic),
        },
        "stats": {
            "facts": stats.facts,
            "steps": stats.steps,
            "target_groups": stats.target_groups,
        },
        "rules": rules,
    }


def _result_text(r: PolicyResult, rows: list[RuleImpact]) -> str:
    """``dump(_result_json(r, rows as JSON))``, the rows written by ``rows_json_text``."""
    with phase("output"):
        return dump(_result_json(r, Encoded(rows_json_text(rows))))


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
    sol = plan_solve(model, compiled) if for_plans else _check_solve(model, compiled)
    topo = model.topology
    goals: list[GoalResult] = []
    # Goals' plans come from the plan solve, so that check and paths name the same
    # plan (paths' first): on small estates the whole attack graph (exact costs),
    # on large ones the policy's own solve (see _check_solve).
    small = exhaustive_for(model)
    plans_from = plan_solve(model, compiled) if small and not for_plans else sol
    costs = goal_costs(plans_from, goal_facts(topo), small)
    for g in goal_facts(topo):
        found = costs.get(g)
        plan = found.plan if found is not None else None
        _, item = topo.data[g[1]]
        goals.append(
            GoalResult(
                g,
                plan is not None,
                plan.cost if plan is not None else None,
                item.records,
                plan,
                found.lower if found is not None else None,
            )
        )
    traffic = [
        TrafficResult(
            i, t.source, t.to, t.service, t.credential, compiled.traffic(t.source, t.to, t.service)
        )
        for i, t in enumerate(topo.model.traffic)
    ]
    result = PolicyResult(policy, compiled, sol, goals, traffic, model)
    result.__dict__["plan_solution"] = plans_from  # the cached property, known
    return result


def _check_solve(model: AttackModel, compiled: CompiledPolicy) -> Solution:
    """The fixpoint a policy's result holds: the plain one on small estates; above
    :data:`~ztsim.engine.plans.EXHAUSTIVE_HOSTS` hosts the plan solve (a few alternatives
    per target), whose graph the goals' plans come from and ``paths`` lists from:
    one solve serves both, and they name the same plan."""
    if exhaustive_for(model):
        return solve(model, compiled)
    return plan_solve(model, compiled)


def _on_two_cores(model: AttackModel, policies: Sequence[LoadedPolicy], for_plans: bool) -> bool:
    """Whether :func:`analyze` shares the policies with a forked child."""
    return (
        not for_plans
        and 2 <= len(policies) < forking.Tickets.MOST  # one more ticket: the warnings
        and len(model.topology.hosts) >= PARALLEL_HOSTS
        and forking.enabled()
    )


#: What the child sends of each policy it judged: its tables (unless ``for_check``),
#: goals, flows and sizes.
_Sent = tuple[tuple[Any, ...] | None, list[GoalResult], list[TrafficResult], ResultStats]


def _warnings_of(topology: LoadedTopology, policies: Sequence[LoadedPolicy]) -> list[Diagnostic]:
    """Every policy's warnings on ``topology``, in order."""
    return [w for p in policies for w in policy_warnings(p, topology)]


def _analyze_on_two_cores(
    topology: LoadedTopology,
    model: AttackModel,
    policies: Sequence[LoadedPolicy],
    for_check: bool,
    warnings: bool,
    for_json: bool,
) -> Analysis:
    """:func:`analyze` with a forked child judging some of the policies.

    The policies are tickets (:class:`ztsim.perf.forking.Tickets`) that this process
    and the child take in turn: each compiles and solves the policies it takes,
    the faster taking more.  With ``warnings``, one more ticket, last, stands for
    working out the policies' warnings.  The child then sends what it found: of
    each policy, the solution's tables, goals and flow decisions, bound here to
    this process's model and a compilation of the policy, so the results are
    those a solve here gives.  With ``for_check`` it sends no tables (``check``
    reads none; they are solved again here if asked), and then counts the rule
    impact of its policies (:meth:`Analysis.check_rules`), while this process
    counts its own, over the plans of the impact basis: this process sends its
    own policies' plans, and the child merges them with its own.  With
    ``for_json``, each process also writes the JSON of the results it counted.

    A child that fails, or sends what cannot be read, leaves its policies (or
    their rule impact, or the warnings) to this process: the results do not change.
    """
    with phase("compile"):
        _ = model.layout  # shared by every compilation: built once, before the fork
    n = len(policies)
    tickets = forking.Tickets(n + 1 if warnings else n)

    def work() -> tuple[dict[int, PolicyResult], list[Diagnostic] | None]:
        """Take tickets until none is left: judge each policy, or work out the warnings."""
        judged: dict[int, PolicyResult] = {}
        found: list[Diagnostic] | None = None
        while (i := tickets.take()) is not None:
            if i == n:
                found = _warnings_of(topology, policies)
            else:
                judged[i] = _judge_policy(model, policies[i])
        return judged, found

    def serve(receive: Callable[[], object], send: Callable[[object], bool]) -> None:
        mine, found = work()
        sent: dict[int, _Sent] = {}
        for i, r in mine.items():
            s = r.solution
            tables = None if for_check else (s.cost, s.order, s.best, s.fired, s.complete)
            sent[i] = (tables, r.goals, r.traffic, r.stats)
        if not send((sent, found)) or not for_check:
            return
        # While the parent finishes: judge each policy's own plans (a share of the
        # basis, their verdicts remembered) and find its rules' lines, as counting
        # its rule impact will.
        for r in mine.values():
            judge_plans(goal_plans(r), r.compiled, whole=False)
            r.policy.rule_marks()
        plans = _basis_from(receive(), mine, n)
        if plans is None:
            return
        counted: dict[int, tuple[bytes, str | None]] = {}
        for i, r in mine.items():
            rows = policy_impact(r, plans)
            text = _result_text(r, rows) if for_json else None
            counted[i] = (marshal.dumps([tuple(x) for x in rows]), text)
        send(counted)

    helper = forking.Helper(serve)
    try:
        results, found = work()
        with phase("fixpoint"):  # the child's solves, as far as this process waits
            got = helper.receive()
        sent, their_warnings = got if isinstance(got, tuple) and len(got) == 2 else (None, None)
        theirs = _received(model, policies, sent, set(results))
        results.update(theirs)
        for i, p in enumerate(policies):
            if i not in results:  # the child failed: judged here
                results[i] = _judge_policy(model, p)
        if warnings and found is None:
            ok = isinstance(their_warnings, list) and all(
                isinstance(w, Diagnostic) for w in their_warnings
            )
            found = their_warnings if ok else _warnings_of(topology, policies)
        a = Analysis(topology, model, [results[i] for i in range(n)], found)
        if for_check and theirs:
            _rules_on_two_cores(a, helper, set(theirs), for_json)
        return a
    finally:
        tickets.close()
        helper.close(wait=False)  # the child's teardown overlaps this process's output


def _received(
    model: AttackModel, policies: Sequence[LoadedPolicy], got: object, known: set[int]
) -> dict[int, PolicyResult]:
    """The results the child sent (``{}`` if unreadable), bound to this process."""
    if not isinstance(got, dict):
        return {}
    try:
        out: dict[int, PolicyResult] = {}
        for i, (tables, goals, traffic, stats) in cast(dict[int, _Sent], got).items():
            if i in known or not 0 <= i < len(policies):
                return {}
            if not (isinstance(stats, ResultStats) and isinstance(goals, list)):
                return {}
            r = PolicyResult._later(policies[i], model, goals, traffic, stats)
            if tables is not None:
                cost, order, best, fired, complete = tables
                r._solution = Solution(model, r.compiled, cost, order, best, fired, complete)
            out[i] = r
        return out
    except Exception:  # an unreadable answer: judged here instead
        return {}


def _basis_from(got: object, mine: dict[int, PolicyResult], n: int) -> list[Plan] | None:
    """In the child: the plans rule impact is counted over, from what the parent sent
    (the merged basis, or its own policies' goal plans to merge with the child's as
    :func:`impact_basis` does); ``None`` if unreadable."""
    if isinstance(got, list):
        return got
    if not isinstance(got, dict) or set(got) | set(mine) != set(range(n)) or set(got) & set(mine):
        return None
    groups = {**got, **{i: goal_plans(r) for i, r in mine.items()}}
    return merge_plans(groups[i] for i in range(n))


def _rules_on_two_cores(
    a: Analysis, helper: forking.Helper, theirs: set[int], for_json: bool
) -> None:
    """Count :meth:`Analysis.check_rules` here and, for the policies ``theirs``, in the
    child; with ``for_json``, each process writes the JSON of the results it counted."""
    mine = [i for i in range(len(a.results)) if i not in theirs]
    message: object
    if counts_reference(len(a.topology.hosts), [r.policy.path for r in a.results]):
        message = a._check_basis()[0]  # with the reference's plans, which the child lacks
    else:  # the child merges the basis itself, from its own plans and these
        message = {i: goal_plans(a.results[i]) for i in mine}
    if not helper.send(message):
        return  # counted here when asked
    plans, _ = a._check_basis()
    for i in mine:
        a._rules[i] = policy_impact(a.results[i], plans)
    if for_json:
        for i in mine:
            a._result_text(i)  # written while the child counts
    with phase("judge"):  # the child's counts, as far as this process waits
        got = helper.receive()
    if not isinstance(got, dict) or set(got) != theirs:
        return  # counted here when asked
    if not all(
        isinstance(x, tuple)
        and len(x) == 2
        and isinstance(x[0], bytes)
        and isinstance(x[1], str | None)
        for x in got.values()
    ):
        return
    for i, (blob, text) in got.items():
        a._blobs[i] = blob  # read when asked (:meth:`Analysis._rows`)
        if text is not None:
            a._texts[i] = text


def analyze(
    topology: LoadedTopology,
    policies: Sequence[LoadedPolicy] | None = None,
    *,
    for_plans: bool = False,
    for_check: bool = False,
    warnings: bool = False,
    for_json: bool = False,
) -> Analysis:
    """Judge ``policies`` on ``topology`` (the reference policy when none is given).

    Each policy gets an exact fixpoint: a goal is reachable if and only if the
    fixpoint derives it; its cost is that of the cheapest plan found.

    ``for_plans``: for callers that list plans (:meth:`Analysis.plans`) rather
    than report each goal's cheapest plan.  Each policy is solved once, by
    :func:`ztsim.engine.plans.plan_solve`, and that solve serves as its result too:
    what is reachable is the same (every solve derives the same facts), so the
    verdicts, the exit status and the plans listed are unchanged, and no policy
    is solved twice.  The cost and plan of each :class:`GoalResult` are then
    that solve's, which need not be the ones plain ``analyze`` reports.

    ``for_check``: for callers that report what ``check`` does (verdicts, flows,
    :meth:`Analysis.to_json`, :meth:`Analysis.check_rules`).  The rule impact is
    then counted here, and, on two cores, the child does not send the
    solutions of its policies (they are solved again if asked).

    ``for_json``: as ``for_check``, for callers that print
    :meth:`Analysis.json_text`: on two cores, each process also writes the JSON
    of the results it judged.

    ``warnings``: also work out each policy's warnings on the topology
    (:attr:`Analysis.warnings`, as :func:`ztsim.inputs.loader.policy_warnings` gives
    them), on two cores by whichever process is free first.

    From :data:`PARALLEL_HOSTS` hosts and two policies on, unless ``for_plans``,
    a forked child judges some of the policies (see :func:`_analyze_on_two_cores`);
    the results are the same.

    Policies may be pending (:func:`ztsim.inputs.loader.read_policies`): each is then
    validated by the process that judges it.  If one is invalid, this raises
    :class:`~ztsim.model.diagnostics.InputError` with every policy's errors, in order,
    as :func:`ztsim.inputs.loader.load_policies` would have.
    """
    model = AttackModel(topology)
    chosen = list(policies) if policies else [reference_policy()]
    try:
        if _on_two_cores(model, chosen, for_plans):
            return _analyze_on_two_cores(
                topology, model, chosen, for_check or for_json, warnings, for_json
            )
        results = [_judge_policy(model, p, for_plans=for_plans) for p in chosen]
        found = _warnings_of(topology, chosen) if warnings else None
        a = Analysis(topology, model, results, found)
        if for_check or for_json:
            a.check_rules()
        return a
    except InputError:
        # A policy validated on first use (PendingPolicy) is invalid: every policy's
        # errors, in file order, as loading them all up front reports them.
        check_policies(chosen)
        raise
