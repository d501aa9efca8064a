"""Judging intent assertions under policies, optionally against a baseline policy.

:func:`evaluate` turns a topology, policies and assertions into a :class:`Report`:
one :class:`Outcome` per assertion and policy, each with its violations (a
counter-example plan, or the flows that break the intent) and where in the YAML
each violation should be fixed.  Goal reachability is the engine's exact fixpoint;
costs are those of the cheapest plan the engine finds; detection is judged over
the listed plans (``Analysis.plans``).  With a baseline policy, every violation is
marked new or known debt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ztsim.analysis.analyze import analyze
from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import PlanRow, goal_label
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.decisions import Decision
from ztsim.engine.plans import Plan
from ztsim.engine.steps import Fact
from ztsim.engine.verdicts import judge
from ztsim.inputs.assertions import (
    Assertion,
    EgressDenied,
    GoalAssertion,
    LoadedAssertions,
    MaxUndetected,
    MinAttackCost,
    NoFlow,
    TrafficAllowed,
    egress_destinations,
    flow_sources,
    goal_assertions,
    selected_goals,
    selected_traffic,
)
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.positions import locate
from ztsim.model.matching import selector_matches_host
from ztsim.model.services import parse_port_range, parse_service
from ztsim.whatif.fixes import FixFinder
from ztsim.whatif.outcomes import MAX_FLOWS_SHOWN, Location, Outcome, Report, Violation

# The result types are re-exported: callers import them from here or from .model.
__all__ = ["MAX_FLOWS_SHOWN", "Location", "Outcome", "Report", "Violation", "evaluate"]

#: Tolerance when comparing probabilities (they are rounded to 6 decimals).
_EPS = 1e-9


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class _Item:
    """A raw violation before baseline comparison and grouping."""

    key: tuple[str, ...]
    message: str
    plan: Plan | None = None
    decision: Decision | None = None
    flow: str = ""


class _Context:
    """Analyses shared by all assertions: one per entry-point restriction."""

    def __init__(
        self,
        topo: LoadedTopology,
        policies: Sequence[LoadedPolicy],
        baseline: LoadedPolicy | None,
    ) -> None:
        self.topo = topo
        self.judged = [*policies, *([baseline] if baseline is not None else [])]
        self._analyses: dict[str | None, Analysis] = {}
        self._plans: dict[tuple[str | None, Fact, int], list[PlanRow]] = {}
        data_index = {}
        for i, h in enumerate(topo.model.hosts):
            for j, d in enumerate(h.data):
                data_index[d.id] = (i, j)
        self.data_index = data_index
        self._fixes: dict[int, FixFinder] = {}

    def fixes(self, i: int) -> FixFinder:
        """The fix finder of the ``i``-th judged policy (its harden search runs once, lazily)."""
        f = self._fixes.get(i)
        if f is None:
            policy = self.judged[i]
            compiled = self.analysis(None).results[i].compiled
            top = Location(self.topo.path, 1, 1)
            f = self._fixes[i] = FixFinder(self.topo, policy, compiled, top)
        return f

    def analysis(self, entry: str | None) -> Analysis:
        """The analysis of every judged policy, restricted to one entry point if given."""
        a = self._analyses.get(entry)
        if a is None:
            topo = self.topo
            if entry is not None:
                # Exact: a fixpoint over a topology whose only entry point is this one.
                ep = next(e for e in topo.entry_points if e.id == entry)
                model = topo.model.model_copy(update={"entry_points": [ep]})
                topo = LoadedTopology(model, topo.path, topo.doc)
            a = self._analyses[entry] = analyze(topo, self.judged)
        return a

    def plans(self, entry: str | None, goal: Fact, k: int) -> list[PlanRow]:
        """``Analysis.plans`` of the (restricted) analysis, memoised."""
        key = (entry, goal, k)
        rows = self._plans.get(key)
        if rows is None:
            rows = self._plans[key] = self.analysis(entry).plans(goal, k)
        return rows

    def data_location(self, data_id: str) -> Location:
        """Where a data item is declared in the topology."""
        i, j = self.data_index[data_id]
        path, m = self.topo.place(("hosts", i, "data", j))
        return Location(path, m.line, m.column)


# --------------------------------------------------------------------------- raw items


def _suffix(entry: str | None) -> str:
    return f" from entry point {entry}" if entry else ""


def _goal_items(a: GoalAssertion, ctx: _Context, i: int) -> list[_Item]:
    """Violations of the goal assertions (exfiltration, tampering, cost, detection)."""
    entry = a.entry
    r = ctx.analysis(entry).results[i]
    name = r.policy.name
    items: list[_Item] = []
    for goal in selected_goals(a, ctx.topo):
        gr = next(g for g in r.goals if g.goal == goal)
        if not gr.reachable:
            continue
        label = goal_label(goal)
        key = ("goal", *goal)
        if isinstance(a, MinAttackCost | MaxUndetected):
            rows = [
                row.plan for row in ctx.plans(entry, goal, a.plans) if not row.verdicts[i].blocked
            ]
            if isinstance(a, MinAttackCost):
                cheap = [p for p in [gr.plan, *rows] if p is not None and p.cost < a.steps]
                if cheap:
                    # The goal's plan (check's and paths' first) leads its equals.
                    p = min(cheap, key=lambda q: (q.cost, q is not gr.plan, q.sort_key))
                    msg = (
                        f"{label}: a plan of {p.cost} steps{_suffix(entry)} is open under "
                        f"{name}, fewer than the {a.steps} required"
                    )
                    items.append(_Item(key, msg, p))
                elif (gr.cost_lower_bound or 0) < a.steps:
                    # No cheaper plan found, but none proven impossible: no false pass.
                    msg = (
                        f"{label}: the cheapest plan found under {name} has {gr.cost} "
                        f"steps{_suffix(entry)}, but only {gr.cost_lower_bound or 0} are proven "
                        f"needed, fewer than the {a.steps} required (the exact minimum was "
                        "not worked out on this estate)"
                    )
                    items.append(_Item(key, msg, gr.plan))
                continue
            seen = [(_undetected(p, r.compiled), p) for p in rows]
            bad = [(m, p) for m, p in seen if m > a.probability + _EPS]
            if bad:
                # The counter-example: the least detected plan, the cheapest among equals.
                miss, p = min(bad, key=lambda mp: (-mp[0], mp[1].sort_key))
                msg = (
                    f"{label}: {len(bad)} of {len(rows)} listed plans open under {name} go "
                    f"undetected with probability above {a.probability:g}; the least detected, "
                    f"{p.ident} ({p.cost} steps{_suffix(entry)}), with probability {miss:.2f}"
                )
                items.append(_Item(key, msg, p))
            continue
        msg = f"{label} is reachable under {name} in {gr.cost} steps{_suffix(entry)}"
        items.append(_Item(key, msg, gr.plan))
    return items


def _undetected(plan: Plan, compiled: CompiledPolicy) -> float:
    """P(undetected) of a plan open under the policy: 1 - P(detected)."""
    return 1.0 - (judge(plan, compiled).p_detected or 0.0)


def _covered(services: str | list[str] | None, service: str) -> bool:
    if services is None:
        return True
    ranges = [parse_port_range(s) for s in ([services] if isinstance(services, str) else services)]
    svc = parse_service(service)
    return any(r.covers(svc) for r in ranges)


def _flow_items(a: Assertion, ctx: _Context, compiled: CompiledPolicy) -> list[_Item]:
    """Violations of the flow assertions: one item per offending flow."""
    topo = ctx.topo
    items: list[_Item] = []
    if isinstance(a, NoFlow):
        dsts = [h for h in topo.model.hosts if selector_matches_host(a.to, h)]
        for src in flow_sources(a.source, topo):
            for dst in dsts:
                if dst.id == src:
                    continue  # a host reaching itself is no segmentation question
                for s in dst.services:
                    if not _covered(a.services, s.service):
                        continue
                    d = compiled.flow(src, dst.id, s.service)
                    if d.allowed:
                        flow = f"{src} -> {dst.id} {s.service}"
                        items.append(_Item(("flow", src, dst.id, s.service), "", None, d, flow))
    elif isinstance(a, EgressDenied):
        dests = egress_destinations(a.to, topo)
        for h in topo.model.hosts:
            if not selector_matches_host(a.source, h):
                continue
            for dest in dests:
                for svc in topo.destinations[dest].services:
                    if not _covered(a.services, svc):
                        continue
                    d = compiled.egress(h.id, dest, svc)
                    if d.allowed:
                        flow = f"{h.id} -> {dest} ({topo.destinations[dest].fqdn}) {svc}"
                        items.append(_Item(("egress", h.id, dest, svc), "", None, d, flow))
    elif isinstance(a, TrafficAllowed):
        for src, to, svc in selected_traffic(a, topo):
            d = compiled.traffic(src, to, svc)
            if not d.allowed:
                msg = f"legitimate flow {src} -> {to} {svc} is {d.describe(compiled.loaded)}"
                items.append(_Item(("traffic", src, to, svc), msg, None, d, f"{src} -> {to} {svc}"))
    return items


def _items(a: Assertion, ctx: _Context, i: int) -> list[_Item]:
    if isinstance(a, GoalAssertion):
        return _goal_items(a, ctx, i)
    return _flow_items(a, ctx, ctx.analysis(None).results[i].compiled)


# --------------------------------------------------------------------------- locations


def _decision_location(d: Decision, policy: LoadedPolicy) -> Location | None:
    """The rule (or default, or intra_zone setting) of ``policy`` that decided ``d``."""
    mark = None
    path = policy.path
    if d.reason == "rule":
        mark = policy.rule_mark(d.section, d.rule)
        path = policy.rule_file(d.section, d.rule)
    elif d.reason == "default" and policy.doc is not None:
        mark = locate(policy.doc, (d.section, "default"))
    elif d.reason == "intra_zone" and policy.doc is not None:
        mark = locate(policy.doc, ("segmentation", "intra_zone"))
    return Location(path, mark.line, mark.column) if mark is not None else None


def _plan_fix(plan: Plan, i: int, ctx: _Context) -> tuple[Location, str]:
    """Where the change that closes ``plan`` goes, and that change in words.

    The change ``ztsim harden`` would make (:mod:`ztsim.whatif.fixes`); a policy
    with no file (the reference) points at the data item in the topology.
    """
    finder = ctx.fixes(i)
    fix = finder.fix(plan)
    loc = fix.location
    if ctx.judged[i].doc is None and loc == finder.fallback:
        # Not at one of its rules (a Kubernetes import places each at its manifest).
        loc = ctx.data_location(plan.goal[1])
    return loc, fix.note


# --------------------------------------------------------------------------- evaluate


def _violations(
    a: Assertion,
    items: list[_Item],
    new_flags: list[bool],
    policy: LoadedPolicy,
    compiled: CompiledPolicy,
    ctx: _Context,
    fallback: Location,
    policy_index: int,
) -> list[Violation]:
    """Turn raw items into violations: plans one by one, flows grouped by deciding rule."""
    out: list[Violation] = []
    groups: dict[tuple[bool, str, str, str], list[_Item]] = {}
    for item, new in zip(items, new_flags, strict=True):
        if item.plan is not None:
            v = judge(item.plan, compiled)
            loc, note = _plan_fix(item.plan, policy_index, ctx)
            out.append(Violation(item.message, item.key, loc, new, item.plan, v, fix=note))
        elif isinstance(a, TrafficAllowed) and item.decision is not None:
            loc = _decision_location(item.decision, policy) or fallback
            out.append(Violation(item.message, item.key, loc, new, flows=(item.flow,)))
        elif item.decision is not None:
            d = item.decision
            groups.setdefault((new, d.section, d.reason, d.rule), []).append(item)
    what = "egress flow" if isinstance(a, EgressDenied) else "flow"
    for (new, _s, _r, _rule), group in groups.items():
        gd = group[0].decision
        assert gd is not None
        shown = [g.flow for g in group[:MAX_FLOWS_SHOWN]]
        more = f" and {len(group) - len(shown)} more" if len(group) > len(shown) else ""
        msg = (
            f"{len(group)} {what}{'s' if len(group) > 1 else ''} {gd.describe(policy)}: "
            f"{'; '.join(shown)}{more}"
        )
        loc = _decision_location(gd, policy) or fallback
        key = (group[0].key[0], gd.section, gd.rule, *(k for g in group for k in g.key[1:]))
        out.append(Violation(msg, key, loc, new, flows=tuple(g.flow for g in group)))
    return out


def _new_plans(
    a: Assertion, items: list[_Item], ctx: _Context, i: int, b: int, k: int
) -> list[_Item]:
    """Goals known under the baseline can still have plans that are new.

    New: open now but blocked under the baseline (for ``max-undetected``, also a plan
    the baseline saw often enough and that now goes undetected).
    """
    entry = a.entry if isinstance(a, GoalAssertion) else None
    out: list[_Item] = []
    for item in items:
        if item.key[0] != "goal":
            continue
        goal: Fact = item.key[1:]
        kk = a.plans if isinstance(a, MinAttackCost | MaxUndetected) else k
        results = ctx.analysis(entry).results
        for row in ctx.plans(entry, goal, kk):
            vi, vb = row.verdicts[i], row.verdicts[b]
            if vi.blocked:
                continue
            if isinstance(a, MinAttackCost) and row.plan.cost >= a.steps:
                continue
            why = f"blocked under the baseline ({vb.explanation})"
            if isinstance(a, MaxUndetected):
                miss = _undetected(row.plan, results[i].compiled)
                if miss <= a.probability + _EPS:
                    continue
                # New if the baseline blocked it or saw it often enough.
                if not vb.blocked:
                    was = _undetected(row.plan, results[b].compiled)
                    if was > a.probability + _EPS:
                        continue
                    why = f"undetected with probability {was:.2f} under the baseline"
                why = f"undetected with probability {miss:.2f}, {why}"
            elif not vb.blocked:
                continue
            msg = (
                f"{goal_label(goal)}: plan {row.plan.ident} ({row.plan.cost} steps) is open under "
                f"{vi.policy}, {why}"
            )
            out.append(_Item(("plan", *goal, row.plan.ident), msg, row.plan))
            break  # the cheapest new plan is the counter-example
    return out


def _fallback(
    a: Assertion, index: int | None, source: LoadedAssertions | None, ctx: _Context
) -> Location:
    if source is not None and index is not None:
        m = source.mark(index)
        if m is not None:
            return Location(source.path, m.line, m.column)
    goals = selected_goals(a, ctx.topo) if isinstance(a, GoalAssertion) else []
    if goals:
        return ctx.data_location(goals[0][1])
    return Location(ctx.topo.path, 1, 1)


def evaluate(
    topology: LoadedTopology,
    policies: Sequence[LoadedPolicy],
    assertions: LoadedAssertions | Sequence[Assertion] | None = None,
    *,
    baseline: LoadedPolicy | None = None,
    max_paths: int = 5,
) -> Report:
    """Judge each assertion under each policy.

    Parameters
    ----------
    assertions
        A loaded assertions file, assertion models, or None for one implicit
        assertion per goal (no exfiltration, no tampering of each data item).
    baseline
        Compare with this policy: a violation also present under it is known debt,
        which does not fail the build.
    max_paths
        Plans listed per goal when looking for plans new since the baseline.
    """
    from ztsim.inputs.loaded import reference_policy

    pols = list(policies) or [reference_policy()]
    source = assertions if isinstance(assertions, LoadedAssertions) else None
    if isinstance(assertions, LoadedAssertions):
        listed: Iterable[Assertion] = assertions.model.assertions
    else:
        listed = assertions if assertions is not None else goal_assertions(topology)
    ctx = _Context(topology, pols, baseline)
    b = len(pols) if baseline is not None else None
    outcomes: list[Outcome] = []
    for idx, a in enumerate(listed):
        index = idx if source is not None else None
        fallback = _fallback(a, index, source, ctx)
        base_keys = {it.key for it in _items(a, ctx, b)} if b is not None else set()
        for i, policy in enumerate(pols):
            items = _items(a, ctx, i)
            flags = [b is None or it.key not in base_keys for it in items]
            if b is not None:
                extra = _new_plans(
                    a,
                    [it for it, f in zip(items, flags, strict=True) if not f],
                    ctx,
                    i,
                    b,
                    max_paths,
                )
                items += extra
                flags += [True] * len(extra)
            entry = a.entry if isinstance(a, GoalAssertion) else None
            compiled = ctx.analysis(entry).results[i].compiled
            vs = _violations(a, items, flags, policy, compiled, ctx, fallback, i)
            outcomes.append(Outcome(a, index, policy, tuple(vs), i))
    judged = ctx.analysis(None)
    view = Analysis(judged.topology, judged.model, judged.results[: len(pols)])
    return Report(topology, source, pols, baseline, outcomes, view)
