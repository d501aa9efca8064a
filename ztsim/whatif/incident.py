"""The incident analysis, written before the incident: a renderer-neutral data model.

:func:`incident_analysis` turns a judged report (:func:`ztsim.whatif.intent.evaluate`)
into an :class:`IncidentAnalysis`: per policy, the sections an analyst publishes
after a breach, every sentence built from the model and the knowledge files
(:mod:`ztsim.inputs.knowledge`), none written per scenario:

- **executive summary**: the goals reached, from which entry points, the records
  of which classifications, the cheapest cost and the chance of detection;
- **attack path analysis**: the studied plans, each step as a sentence;
- **kill chain**: their steps grouped by ATT&CK tactic, in the matrix's order;
- **compliance exposure**: the framework controls the reached goals put at stake;
- **mitigations and controls**: for each distinct step, the ATT&CK mitigations and
  the ztsim controls that would stop it, and whether the policy has them;
- **impact at a glance**: records by classification and goal kind, hosts traversed;
- **recommended actions**: ``harden``'s verified proposal.

The *studied* plans of a policy are the plans ``paths`` lists (the cheapest few
per goal) open under it; when none is, those blocked under it, each with the
step and the control that stops it.  The HTML and Markdown renderers
(``ztsim/output/reports/incident_{html,markdown}.py``) and the TUI walk-through
read only this model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ztsim.analysis.results import PlanRow, PolicyResult, goal_label
from ztsim.engine.plans import Plan
from ztsim.engine.steps import Fact, Step
from ztsim.engine.verdicts import PlanVerdict
from ztsim.inputs.knowledge import AttackData, LoadedCompliance, attack_data, default_compliance
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.whatif.harden import Hardening, harden
from ztsim.whatif.incident_facts import (
    ComplianceItem,
    Finding,
    StepControl,
    TechniqueInfo,
    compliance_items,
    findings_of,
    plan_stop,
    step_controls,
    step_sentence,
    step_technique,
)
from ztsim.whatif.outcomes import Report

__all__ = [
    "ComplianceItem",
    "Finding",
    "ImpactRow",
    "IncidentAnalysis",
    "IncidentPlan",
    "IncidentStep",
    "KillChainEntry",
    "PolicyIncident",
    "Recommendation",
    "Recommendations",
    "StepControl",
    "TacticGroup",
    "TechniqueInfo",
    "incident_analysis",
]


@dataclass(frozen=True)
class IncidentStep:
    """One distinct step of the studied plans, as the analysis tells it."""

    #: The engine's step (its key tells it apart from the others).
    step: Step
    #: The step in one sentence: "the attacker exploits CVE-... on portal-web over 443/tcp".
    sentence: str
    #: The fact of the topology that made it possible (the engine's reason).
    why: str
    technique: TechniqueInfo | None
    #: The ztsim controls that would stop it (or see it), each present or not.
    controls: tuple[StepControl, ...]
    #: The control of this policy that stops it, if any.
    stopped_by: StepControl | None
    #: Ids of this policy's detection entries that see it.
    detections: tuple[str, ...]


@dataclass(frozen=True)
class IncidentPlan:
    """A studied plan: its steps (indexes into :attr:`PolicyIncident.steps`) and fate."""

    plan: Plan
    ident: str
    goal: str
    entry: str
    cost: int
    open: bool
    #: P(detected) under this policy when open.
    p_detected: float | None
    #: The judged policies under which the plan is open.
    open_under: tuple[str, ...]
    #: Index of each of its steps in :attr:`PolicyIncident.steps`.
    steps: tuple[int, ...]
    #: When blocked: the step number (1-based) and the control that stops it there.
    stop_step: int | None
    stop: StepControl | None
    #: The hosts it goes through, in order.
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class KillChainEntry:
    """A technique in a tactic of the kill chain, and where the studied plans use it."""

    technique: TechniqueInfo
    hosts: tuple[str, ...]
    #: ``(plan ident, step number)`` of each use.
    uses: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class TacticGroup:
    """One tactic of the kill chain: ``TA0001 Initial Access`` and its techniques."""

    tactic_id: str
    shortname: str
    name: str
    entries: tuple[KillChainEntry, ...]


@dataclass(frozen=True)
class ImpactRow:
    """A data item: its records, classification and which goals on it are reached."""

    data: str
    host: str
    classification: str | None
    records: int | None
    exfiltrable: bool
    tamperable: bool


@dataclass(frozen=True)
class Recommendation:
    """One change of ``harden``'s proposal, with what it closes and the flows it keeps."""

    text: str
    kind: str
    note: str | None
    #: The settings it makes: ``controls.mfa: + db-app-password``.
    settings: tuple[str, ...]
    #: ``(section, rule)`` of each rule it adds, in order (render with
    #: :func:`ztsim.whatif.yamlout.rule_line`).
    rules: tuple[tuple[str, dict[str, object]], ...]
    #: The attack steps it forbids, in words.
    forbids: tuple[str, ...]
    #: The goals that reopen without it (verified by the fixpoint).
    closes: tuple[str, ...]
    #: The legitimate flows its allow rules keep, in words.
    keeps: tuple[str, ...]


@dataclass(frozen=True)
class Recommendations:
    """``harden``'s verified proposal for one policy."""

    needed: bool
    complete: bool
    proven: bool
    proof: str
    items: tuple[Recommendation, ...]
    #: Goals still reachable with every change made.
    after: tuple[str, ...]
    #: Legitimate flows the changes break (none when traffic is kept).
    broken: int
    traffic: int


@dataclass(frozen=True)
class PolicyIncident:
    """The analysis of one policy."""

    policy: str
    path: str
    #: Executive summary, one sentence each.
    summary: tuple[str, ...]
    #: Whether the studied plans are open here (else: blocked here, open elsewhere).
    attacked: bool
    plans: tuple[IncidentPlan, ...]
    #: Every distinct step of the studied plans, in order of first use.
    steps: tuple[IncidentStep, ...]
    kill_chain: tuple[TacticGroup, ...]
    #: Tactics of the matrix no studied step uses (for "nothing here" lines).
    unused_tactics: tuple[str, ...]
    compliance: tuple[ComplianceItem, ...]
    impact: tuple[ImpactRow, ...]
    records_exfiltrable: int
    records_tamperable: int
    hosts_traversed: tuple[str, ...]
    recommendations: Recommendations


@dataclass(frozen=True)
class IncidentAnalysis:
    """The analysis of a topology under each policy, and its sources."""

    topology: str
    topology_path: str
    attack_version: str
    attack_attribution: str
    attack_licence: str
    compliance_name: str
    compliance_path: str
    policies: tuple[PolicyIncident, ...]


# --------------------------------------------------------------------------- building


def _studied(rows: dict[Fact, list[PlanRow]], pi: int) -> tuple[list[PlanRow], bool]:
    """The plans open under policy ``pi``; if none is, those blocked under it."""
    every = [row for goal_rows in rows.values() for row in goal_rows]
    open_here = [row for row in every if not row.verdicts[pi].blocked]
    if open_here:
        return open_here, True
    return every, False


def _hosts(plan: Plan, topo: LoadedTopology) -> tuple[str, ...]:
    return tuple(dict.fromkeys(st.host for st in plan.steps if st.host and st.host in topo.hosts))


class _Builder:
    """Builds one :class:`PolicyIncident` (shared look-ups kept on the instance)."""

    def __init__(
        self,
        report: Report,
        pi: int,
        rows: dict[Fact, list[PlanRow]],
        attack: AttackData,
        compliance: LoadedCompliance,
    ) -> None:
        self.report = report
        self.pi = pi
        self.rows = rows
        self.attack = attack
        self.compliance = compliance
        self.topo = report.topology
        self.result: PolicyResult = report.analysis.results[pi]
        self.policy: LoadedPolicy = report.policies[pi]
        self.steps: list[IncidentStep] = []
        self.index: dict[tuple[str, ...], int] = {}

    def step_index(self, st: Step, verdict: PlanVerdict, i: int) -> int:
        """The index of ``st`` in :attr:`steps`, added on first use."""
        known = self.index.get(st.key)
        if known is not None:
            return known
        sv = verdict.steps[i] if i < len(verdict.steps) else None
        controls = step_controls(st, sv, self.policy, self.result.compiled, self.topo)
        stopped = next((c for c in controls if c.stops), None)
        self.steps.append(
            IncidentStep(
                st,
                step_sentence(st, self.topo),
                st.reason,
                step_technique(st, self.attack, self.topo),
                controls,
                stopped,
                sv.detections if sv is not None else (),
            )
        )
        self.index[st.key] = len(self.steps) - 1
        return len(self.steps) - 1

    def plan(self, row: PlanRow) -> IncidentPlan:
        """A studied plan under this policy."""
        v = row.verdicts[self.pi]
        names = [p.name for p in self.report.policies]
        open_under = tuple(n for n, w in zip(names, row.verdicts, strict=False) if not w.blocked)
        idx = tuple(self.step_index(st, v, i) for i, st in enumerate(row.plan.steps))
        stop = plan_stop(v, self.policy) if v.blocked else None
        p = row.plan
        return IncidentPlan(
            p,
            p.ident,
            goal_label(p.goal),
            p.entry,
            p.cost,
            not v.blocked,
            v.p_detected,
            open_under,
            idx,
            None if v.step is None else v.step + 1,
            stop,
            _hosts(p, self.topo),
        )

    def kill_chain(self, plans: Sequence[IncidentPlan]) -> tuple[list[TacticGroup], list[str]]:
        """The studied steps grouped by tactic, in the matrix's order."""
        groups: dict[str, dict[str, tuple[TechniqueInfo, list[str], list[tuple[str, int]]]]] = {}
        for p in plans:
            for n, si in enumerate(p.steps, 1):
                s = self.steps[si]
                t = s.technique
                if t is None:
                    continue
                by_tech = groups.setdefault(t.tactic, {})
                entry = by_tech.setdefault(t.id, (t, [], []))
                if s.step.host and s.step.host not in entry[1]:
                    entry[1].append(s.step.host)
                entry[2].append((p.ident, n))
        out = []
        for shortname in sorted(groups, key=lambda s: (self.attack.tactic_rank(s), s)):
            tactic = self.attack.tactic(shortname)
            entries = tuple(
                KillChainEntry(t, tuple(hosts), tuple(uses))
                for t, hosts, uses in sorted(groups[shortname].values(), key=lambda e: e[0].id)
            )
            tid, name = (tactic.id, tactic.name) if tactic else ("", shortname or "unknown")
            out.append(TacticGroup(tid, shortname, name, entries))
        unused = [t.name for t in self.attack.tactics if t.shortname not in groups]
        return out, unused

    def impact(self) -> list[ImpactRow]:
        reached = {g.goal for g in self.result.reachable_goals}
        out = []
        for data_id in sorted(self.topo.data):
            host, item = self.topo.data[data_id]
            out.append(
                ImpactRow(
                    data_id,
                    host.id,
                    item.classification,
                    item.records,
                    ("exfil", data_id) in reached,
                    ("tamper", data_id) in reached,
                )
            )
        return out

    def findings(self) -> dict[Fact, list[Finding]]:
        """Per reachable goal, what its open plans show (for the compliance mapping)."""
        out: dict[Fact, list[Finding]] = {}
        for g in self.result.reachable_goals:
            plans = [row for row in self.rows.get(g.goal, []) if not row.verdicts[self.pi].blocked]
            pairs = [(row.plan, row.verdicts[self.pi]) for row in plans]
            out[g.goal] = findings_of(pairs, self.topo)
        return out


def _summary(b: _Builder, plans: Sequence[IncidentPlan], attacked: bool) -> list[str]:
    """The executive summary's sentences."""
    r, name = b.result, b.policy.name
    reached = r.reachable_goals
    out = []
    if reached:
        labels = ", ".join(goal_label(g.goal) for g in reached)
        out.append(f"Under {name}, {len(reached)} of {len(r.goals)} goals are reachable: {labels}.")
        entries = sorted({p.entry for p in plans if p.open})
        out.append(f"The open plans start from entry point(s) {', '.join(entries)}.")
        for kind, word, total in (
            ("exfil", "exfiltrated", r.records_exfiltrable),
            ("tamper", "tampered with", r.records_tamperable),
        ):
            items = [g for g in reached if g.goal[0] == kind]
            if items:
                parts = []
                for g in items:
                    _, item = b.topo.data[g.goal[1]]
                    cls = item.classification or "unclassified"
                    parts.append(f"{g.goal[1]} ({cls}, {g.records or 0:,} records)")
                out.append(f"{total:,} records can be {word}: {', '.join(parts)}.")
        cheapest = min(reached, key=lambda g: (g.cost or 0, g.goal))
        plan = next(
            (p for p in plans if p.open and p.plan.key == getattr(cheapest.plan, "key", None)), None
        )
        p_det = plan.p_detected if plan is not None else None
        seen = (
            f"; the policy's detection sees it with probability {p_det:.2f}"
            if p_det is not None
            else ""
        )
        out.append(
            f"The cheapest plan, to {goal_label(cheapest.goal)}, takes {cheapest.cost_text} "
            f"steps{seen}."
        )
        least = min((p for p in plans if p.open), key=lambda p: (p.p_detected or 0, p.cost))
        out.append(
            f"The least watched open plan ({least.ident}, {least.cost} steps) goes unseen "
            f"with probability {1 - (least.p_detected or 0):.2f}."
        )
    else:
        out.append(f"Under {name}, none of the {len(r.goals)} goals is reachable.")
        if plans and not attacked:
            first = plans[0]
            where = first.stop.location if first.stop and first.stop.location else b.policy.path
            by = first.stop.rule_name if first.stop else "?"
            elsewhere = ", ".join(first.open_under) or "the reference policy only"
            out.append(
                f"Every studied plan is stopped; the cheapest ({first.ident}, {first.cost} "
                f"steps, open under {elsewhere}) stops at step {first.stop_step} by {by} "
                f"({where})."
            )
    broken = len(r.broken_traffic)
    out.append(f"{broken} of {len(r.traffic)} legitimate flows are broken by the policy.")
    return out


def _recommendations(report: Report, pi: int) -> Recommendations:
    """``harden``'s proposal for policy ``pi`` (not run when no goal is reachable)."""
    r = report.analysis.results[pi]
    if not r.reachable_goals:
        return Recommendations(False, True, True, "no goal is reachable", (), (), 0, len(r.traffic))
    h: Hardening = harden(report.topology, report.policies[pi])
    items = []
    for c in h.changes:
        settings = []
        if c.intra_zone_rules:
            settings.append("segmentation.intra_zone: rules")
        if c.egress_default_deny:
            settings.append("egress.default: deny")
        if c.mfa is not None:
            settings.append(f"controls.mfa: + {c.mfa}")
        if c.encrypt:
            settings.append("controls.encrypt_in_transit: true")
        rules = tuple((s, dict(rule)) for s, rule in c.rules())
        keeps = tuple(
            str(rule.get("description", "")).removeprefix("ztsim harden: ")
            for _, rule in c.rules()
            if rule.get("action") == "allow"
        )
        forbids = tuple(
            step_sentence(st, report.topology).rstrip(".") for st in h.blocks.get(c.key, [])
        )
        closes = tuple(goal_label(g) for g in h.necessary.get(c.key, []))
        items.append(
            Recommendation(c.text, c.kind, c.note, tuple(settings), rules, forbids, closes, keeps)
        )
    return Recommendations(
        True,
        h.complete,
        h.proven,
        h.proof,
        tuple(items),
        tuple(goal_label(g) for g in h.after),
        len(h.broken),
        len(r.traffic),
    )


def _policy_incident(
    report: Report,
    pi: int,
    rows: dict[Fact, list[PlanRow]],
    attack: AttackData,
    compliance: LoadedCompliance,
) -> PolicyIncident:
    b = _Builder(report, pi, rows, attack, compliance)
    studied, attacked = _studied(rows, pi)
    plans = [b.plan(row) for row in studied]
    chain, unused = b.kill_chain(plans)
    items = compliance_items(compliance, b.findings(), b.result, report.topology)
    hosts = tuple(dict.fromkeys(h for p in plans if p.open or not attacked for h in p.hosts))
    return PolicyIncident(
        b.policy.name,
        b.policy.path,
        tuple(_summary(b, plans, attacked)),
        attacked,
        tuple(plans),
        tuple(b.steps),
        tuple(chain),
        tuple(unused),
        tuple(items),
        tuple(b.impact()),
        b.result.records_exfiltrable,
        b.result.records_tamperable,
        hosts,
        _recommendations(report, pi),
    )


def incident_analysis(
    report: Report,
    *,
    max_paths: int = 5,
    compliance: LoadedCompliance | None = None,
    attack: AttackData | None = None,
) -> IncidentAnalysis:
    """The incident analysis of every policy of ``report``.

    ``max_paths``: plans listed per goal (as ``paths`` and the HTML report);
    ``compliance``: the mapping (default: the one shipped); ``attack``: the ATT&CK
    knowledge (default: the subset shipped).
    """
    attack = attack or attack_data()
    compliance = compliance or default_compliance()
    a = report.analysis
    rows = a.plans_by_goal(a.goals, max_paths)
    pols = tuple(
        _policy_incident(report, pi, rows, attack, compliance) for pi in range(len(report.policies))
    )
    return IncidentAnalysis(
        report.topology.name,
        report.topology.path,
        attack.version,
        attack.attribution,
        attack.licence,
        compliance.name,
        compliance.path,
        pols,
    )
