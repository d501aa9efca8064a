"""A topology judged under several policies: :class:`Analysis`, and the plans
``check`` counts each rule's impact over (:func:`impact_basis`).
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

from ztsim.analysis.results import (
    PlanRow,
    PolicyResult,
    ResultWriter,
    goal_plans,
    judge_policy,
    policy_impact,
    result_json,
)
from ztsim.engine.attack import AttackModel
from ztsim.engine.fixpoint import Solution, goal_facts
from ztsim.engine.impact import ImpactBasis, RuleImpact, counts_reference, rule_impact
from ztsim.engine.plans import (
    Plan,
    merge_plans,
    plan_solve,
    plans_from_solution,
    same_fixpoint,
)
from ztsim.engine.steps import Fact
from ztsim.engine.verdicts import PlanVerdict, judge
from ztsim.inputs.loaded import LoadedTopology, reference_policy
from ztsim.model.diagnostics import Diagnostic
from ztsim.perf import forking

__all__ = [
    "PARALLEL_HOSTS",
    "Analysis",
    "check_impact",
    "impact_basis",
    "rows_impact",
]


#: From this many hosts on, :func:`ztsim.analysis.analyze.analyze` solves policies and
#: :meth:`Analysis.plans_by_goal` lists plans on two cores.
PARALLEL_HOSTS = 2_000


@dataclass
class Analysis:
    """A topology judged under several policies."""

    topology: LoadedTopology
    model: AttackModel
    results: list[PolicyResult]
    #: The policies' warnings on the topology (:func:`ztsim.inputs.checks.policy_warnings`),
    #: when :func:`ztsim.analysis.analyze.analyze` was asked for them; ``None`` otherwise.
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
    #: Results' JSON text (:data:`~ztsim.analysis.results.ResultWriter`), written
    #: ahead on two cores or when first asked, by index in ``results``.
    _texts: dict[int, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def goals(self) -> list[Fact]:
        """Every goal of the topology."""
        return goal_facts(self.topology)

    @property
    def exit_code(self) -> int:
        """0 when no goal is reachable under any judged policy, else 1 (spec §7)."""
        return 1 if any(r.reaches_a_goal for r in self.results) else 0

    @cached_property
    def reference(self) -> PolicyResult:
        """The reference policy's result (allow everything, no controls)."""
        for r in self.results:
            if r.policy.path == "<reference>":
                return r
        return judge_policy(self.model, reference_policy())

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
        rows = self.check_rules()
        return self.json_object(
            lambda i: result_json(self.results[i], [x.to_json() for x in rows[i]])
        )

    def json_object(self, result: Callable[[int], Any]) -> dict[str, Any]:
        """:meth:`to_json`'s object, each result's value given by ``result(i)`` (the
        JSON writer passes each result's text, see :mod:`ztsim.output.checkjson`)."""
        plans, found_under = self._check_basis()
        return {
            "topology": self.topology.name,
            "file": self.topology.path,
            "reachable": bool(self.exit_code),
            "results": [result(i) for i in range(len(self.results))],
            "impact_basis": {"plans": len(plans), "found_under": found_under},
        }

    def written_text(self, i: int, write: ResultWriter) -> str:
        """Result ``i``'s JSON text by ``write``: written ahead (on two cores, by the
        process that judged it), or written now and remembered."""
        text = self._texts.get(i)
        if text is None:
            text = self._texts[i] = write(self.results[i], self._rows(i))
        return text

    def check_rules(self) -> list[list[RuleImpact]]:
        """Per judged policy, the impact of each rule over the plans ``check`` counts.

        Those plans are :func:`impact_basis`'s.  Rows are remembered;
        :func:`ztsim.analysis.analyze.analyze` counts them ahead when asked, on two
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
    plans = ImpactBasis(merge_plans([goal_plans(r) for r in sources]))
    return plans, [r.policy.name for r in sources]


def rows_impact(
    a: Analysis, verdicts_by_plan: Sequence[Sequence[PlanVerdict]]
) -> list[tuple[PolicyResult, list[RuleImpact]]]:
    """Impact per judged policy over listed plans (``paths``).

    ``verdicts_by_plan[j][i]`` is plan ``j``'s verdict under ``a.results[i]``
    (the order of :attr:`ztsim.analysis.results.PlanRow.verdicts`).
    """
    out = []
    for i, r in enumerate(a.results):
        verdicts = [vs[i] for vs in verdicts_by_plan]
        out.append((r, rule_impact(r.compiled, verdicts, [t.decision for t in r.traffic])))
    return out


def check_impact(a: Analysis) -> list[tuple[PolicyResult, list[RuleImpact]]]:
    """Impact per judged policy over the :func:`impact_basis` plans (``check``).

    The rows of :meth:`Analysis.check_rules` (remembered there).
    """
    return list(zip(a.results, a.check_rules(), strict=True))
