"""What judging one policy yields: its goals, its flows, its rule impact, its JSON object.

:func:`judge_policy` compiles and solves a policy on a model and gives its
:class:`PolicyResult`; :class:`ztsim.analysis.judged.Analysis` gathers them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, NamedTuple

from ztsim.engine.attack import AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.decisions import Decision
from ztsim.engine.fixpoint import Solution, goal_facts, solve
from ztsim.engine.impact import RuleImpact, basis_impact
from ztsim.engine.plans import (
    Derivations,
    Plan,
    derivations_of,
    exhaustive_for,
    goal_costs,
    plan_solve,
)
from ztsim.engine.replay import same_answers
from ztsim.engine.steps import Fact
from ztsim.engine.verdicts import PlanVerdict
from ztsim.inputs.loaded import LoadedPolicy
from ztsim.perf.profiling import phase

__all__ = [
    "GoalResult",
    "PlanRow",
    "PolicyResult",
    "ResultStats",
    "ResultWriter",
    "TrafficResult",
    "check_solve",
    "goal_label",
    "goal_plans",
    "judge_policy",
    "policy_impact",
    "result_json",
]


#: Writes one result's JSON text, its rule rows given (``check --format json``'s
#: writer, handed down by the caller: the analysis layer writes no JSON text itself).
ResultWriter = Callable[["PolicyResult", list[RuleImpact]], str]


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


class TrafficResult(NamedTuple):
    """One legitimate flow under one policy: allowed, or broken by a rule.

    A named tuple: a check builds one per flow and policy (tens of thousands on
    large estates), and a frozen dataclass sets each field through a call.  Its
    ``index`` field (the flow's place in the topology, as before) hides the
    tuple's ``index()`` method, which nothing calls on a result.
    """

    index: int  # type: ignore[assignment]
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
    forked child (:mod:`ztsim.analysis.twocores`) arrives as its goals, flows and
    sizes only, and is compiled and solved again here if anything asks for more
    (``check`` does not).  Compiling and solving are deterministic, so what comes
    is what the child had.
    """

    def __init__(
        self,
        policy: LoadedPolicy,
        compiled: CompiledPolicy,
        solution: Solution,
        goals: list[GoalResult] | Callable[[], list[GoalResult]],
        traffic: list[TrafficResult],
        model: AttackModel | None = None,
    ) -> None:
        self.policy = policy
        self._compiled: CompiledPolicy | None = compiled
        self._solution: Solution | None = solution
        self._stats: ResultStats | None = None
        self._goals = goals
        self.traffic = traffic
        self.model = model

    @property
    def goals(self) -> list[GoalResult]:
        """Each goal of the topology under this policy, in goal order; worked out when
        first read where the result was made with a function for them (plan listing:
        the goals' cheapest plans are not what ``paths`` shows)."""
        found = self._goals
        if callable(found):
            found = self._goals = found()
        return found

    @property
    def reaches_a_goal(self) -> bool:
        """Whether the attacker reaches some goal: what the exit status asks, read from
        the solve when the goals' plans were not worked out."""
        if not callable(self._goals):
            return any(g.reachable for g in self._goals)
        cost = self.solution.cost
        return any(g in cost for g in goal_facts(self.solution.model.topology))

    @classmethod
    def later(
        cls,
        policy: LoadedPolicy,
        model: AttackModel,
        goals: list[GoalResult],
        traffic: list[TrafficResult],
        stats: ResultStats,
    ) -> PolicyResult:
        """A result known by its goals, flows and sizes; compiled and solved when asked."""
        r = cls.__new__(cls)
        r.policy, r.model, r._goals, r.traffic = policy, model, goals, traffic
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
            self._solution = check_solve(self.model, self.compiled)
        return self._solution

    def bind(self, solution: Solution) -> None:
        """Take ``solution`` (solved elsewhere, bound to this model) as this result's."""
        self._solution = solution

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
            return self.solution  # the same solve (see check_solve)
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


def judge_policy(
    model: AttackModel,
    policy: LoadedPolicy,
    previous: CompiledPolicy | None = None,
    *,
    plan_listing: bool = False,
    earlier: PolicyResult | None = None,
) -> PolicyResult:
    """Judge one policy on the model's topology: its fixpoint, goals and traffic.

    ``previous``: the compiled form of an earlier version of this policy on the same
    model, whose target groups the compilation may reuse (re-checks after an edit).
    ``earlier``: the whole result of that earlier version (``previous`` is then its
    compiled form): when the new version answers every question its solve asked
    alike (:func:`~ztsim.engine.replay.same_answers`), its solve and goals are this
    version's, and only the legitimate flows are judged anew.
    ``plan_listing``: solve once, by :func:`ztsim.engine.plans.plan_solve`, for callers
    that list plans (see :class:`ztsim.analysis.analyze.Needs`).
    """
    if earlier is not None:
        previous = earlier.compiled
    compiled = model.compile(policy, previous=previous)
    if (
        earlier is not None
        and not plan_listing
        and not callable(earlier._goals)
        and same_answers(earlier.compiled, compiled)
    ):
        return _replayed(model, policy, compiled, earlier)
    return _finish(model, policy, compiled, plan_listing)


def _replayed(
    model: AttackModel, policy: LoadedPolicy, compiled: CompiledPolicy, earlier: PolicyResult
) -> PolicyResult:
    """``earlier``'s solves and goals under ``compiled``, which answers their questions
    alike; its legitimate flows judged anew (their deciding rules may have changed),
    but for those going out, whose egress section is the earlier one."""
    sol = replace(earlier.solution, policy=compiled)
    plans_from = earlier.plan_solution
    plans_from = sol if plans_from is earlier.solution else replace(plans_from, policy=compiled)
    traffic = _traffic(model, compiled, earlier.traffic)
    result = PolicyResult(policy, compiled, sol, earlier.goals, traffic, model)
    result.__dict__["plan_solution"] = plans_from  # the cached property, known
    return result


def _traffic(
    model: AttackModel, compiled: CompiledPolicy, same_egress: list[TrafficResult] | None = None
) -> list[TrafficResult]:
    """Each legitimate flow of the topology with the policy's decision on it.

    ``same_egress``: the flows judged by a version of the policy with the same egress
    section (:func:`~ztsim.engine.replay.same_answers` held), whose decisions on flows
    going out are kept (a decision names a rule by id, never by line).
    """
    destinations = model.topology.destinations
    out: list[TrafficResult] = []
    for i, t in enumerate(model.topology.model.traffic):
        if same_egress is not None and t.to in destinations:
            out.append(same_egress[i])
        else:
            decision = compiled.traffic(t.source, t.to, t.service)
            out.append(TrafficResult(i, t.source, t.to, t.service, t.credential, decision))
    return out


def _finish(
    model: AttackModel, policy: LoadedPolicy, compiled: CompiledPolicy, plan_listing: bool
) -> PolicyResult:
    """A compiled policy's result: its fixpoint, goals and legitimate flows."""
    sol = plan_solve(model, compiled) if plan_listing else check_solve(model, compiled)
    # Goals' plans come from the plan solve, so that check and paths name the same
    # plan (paths' first): on small estates the whole attack graph (exact costs),
    # on large ones the policy's own solve (see check_solve).
    small = exhaustive_for(model)
    plans_from = plan_solve(model, compiled) if small and not plan_listing else sol

    def goals() -> list[GoalResult]:
        return _goal_results(model, plans_from, small)

    traffic = _traffic(model, compiled)
    # A plan listing shows the plans it lists, not each goal's cheapest: worked out
    # only if something reads them (`paths` reads what is reachable, from the solve).
    result = PolicyResult(policy, compiled, sol, goals if plan_listing else goals(), traffic, model)
    result.__dict__["plan_solution"] = plans_from  # the cached property, known
    return result


def _goal_results(model: AttackModel, plans_from: Solution, small: bool) -> list[GoalResult]:
    """Each goal of the topology with its cheapest plan found in ``plans_from`` and
    the proven bound (:func:`~ztsim.engine.plans.goal_costs`), in goal order."""
    topo = model.topology
    costs = goal_costs(plans_from, goal_facts(topo), small)
    goals: list[GoalResult] = []
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
    return goals


def check_solve(model: AttackModel, compiled: CompiledPolicy) -> Solution:
    """The fixpoint a policy's result holds: the plain one on small estates; above
    :data:`~ztsim.engine.plans.EXHAUSTIVE_HOSTS` hosts the plan solve (a few alternatives
    per target), whose graph the goals' plans come from and ``paths`` lists from:
    one solve serves both, and they name the same plan."""
    if exhaustive_for(model):
        return solve(model, compiled)
    return plan_solve(model, compiled)


def goal_plans(r: PolicyResult) -> list[Plan]:
    """The cheapest plan of each goal ``r`` reaches, in goal order: its share of
    :func:`ztsim.analysis.judged.impact_basis`."""
    return [g.plan for g in r.goals if g.plan is not None]


def policy_impact(r: PolicyResult, plans: Sequence[Plan]) -> list[RuleImpact]:
    """:func:`~ztsim.engine.impact.rule_impact` of one judged policy over ``plans``,
    each plan judged up to its blocking step (profiled as ``impact``).

    Counted by :func:`~ztsim.engine.impact.basis_impact`, which judges each distinct
    step once and builds no verdicts; given an
    :class:`~ztsim.engine.impact.ImpactBasis`, the policies counted over it share
    its reduction.
    """
    with phase("impact"):
        return basis_impact(r.compiled, plans, [t.decision for t in r.traffic])


def _goals_json(r: PolicyResult, kind: str) -> list[dict[str, Any]]:
    out = []
    for g in r.goals:
        if g.goal[0] != kind:
            continue
        cost, lower = g.cost, g.cost_lower_bound
        out.append(
            {
                "data": g.goal[1],
                "reachable": g.reachable,
                "cost": cost,
                # GoalResult.cost_exact, inlined (a property call per goal)
                "cost_exact": cost is None or (lower is not None and cost <= lower),
                "cost_lower_bound": lower,
                "records": g.records,
            }
        )
    return out


def result_json(r: PolicyResult, rules: Any) -> dict[str, Any]:
    """One policy's object in the spec §7 JSON, its ``rules`` as given."""
    stats = r.stats
    # The verdict in words, each rule at its FILE:LINE (an import's rules live in
    # other files than the policy's path: its manifests), with the decision's other
    # fields: worked out once per decision, as tens of thousands of flows share a
    # few dozen.
    said: dict[Decision, tuple[bool, str, str, str]] = {}
    traffic: list[dict[str, Any]] = []
    append = traffic.append
    broken = 0  # len(r.broken_traffic), counted on the way
    for _, source, to, service, _, d in r.traffic:
        got = said.get(d)
        if got is None:
            got = said[d] = (d.allowed, d.rule, d.reason, d.describe(r.policy))
        allowed, rule, reason, explanation = got
        if not allowed:
            broken += 1
        append(
            {
                "from": source,
                "to": to,
                "service": service,
                "allowed": allowed,
                "rule": rule,
                "decided_by": reason,
                "explanation": explanation,
            }
        )
    return {
        "policy": r.policy.name,
        "file": r.policy.path,
        "exfiltration": _goals_json(r, "exfil"),
        "tampering": _goals_json(r, "tamper"),
        "traffic": traffic,
        "summary": {
            "goals_reachable": len(r.reachable_goals),
            "goals": len(r.goals),
            "records_at_risk": r.records_at_risk,
            "records_exfiltrable": r.records_exfiltrable,
            "records_tamperable": r.records_tamperable,
            "traffic_broken": broken,
        },
        "stats": {
            "facts": stats.facts,
            "steps": stats.steps,
            "target_groups": stats.target_groups,
        },
        "rules": rules,
    }
