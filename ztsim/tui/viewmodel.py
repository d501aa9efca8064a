"""What the TUI shows, as plain immutable rows built from an
:class:`~ztsim.analysis.judged.Analysis`.

No Textual and no logic of its own: every verdict, explanation and probability
comes from the core (:mod:`ztsim.analysis.analyze`, :mod:`ztsim.engine.verdicts`); this module only
copies them into dataclasses the widgets can render without touching the core
objects (which live in the worker thread).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property

from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import PlanRow, PolicyResult, goal_label
from ztsim.engine.verdicts import StepVerdict
from ztsim.model.diagnostics import Diagnostic
from ztsim.model.techniques import technique
from ztsim.output.drawing.text import PlanPicture, picture_of
from ztsim.output.planshort import differences, via
from ztsim.tui.topoview import HostView, TopologyView, ZoneView, topology_view
from ztsim.tui.walkdata import PlanWalkData, plan_walk_data

__all__ = [
    "Cell",
    "FlowCell",
    "FlowView",
    "HostView",
    "PlanView",
    "PolicySummary",
    "StepCheck",
    "StepView",
    "TopologyView",
    "ViewModel",
    "ZoneView",
    "base_view",
    "differences",
    "plan_views",
    "via",
    "with_plans",
]


@dataclass(frozen=True)
class PolicySummary:
    """One policy's verdict at a glance (the Policies pane)."""

    name: str
    path: str
    goals_reachable: int
    goals: int
    records_at_risk: int
    flows_broken: int
    flows: int
    plans_blocked: int | None = None
    plans: int | None = None
    #: Records of the data items whose tampering is reachable (``records_at_risk``
    #: counts exfiltration only: both are shown, side by side).
    records_tamperable: int = 0

    @property
    def records_exfiltrable(self) -> int:
        """Records the attacker can exfiltrate (``records_at_risk``)."""
        return self.records_at_risk

    @property
    def safe(self) -> bool:
        """No goal reachable under this policy."""
        return self.goals_reachable == 0


@dataclass(frozen=True)
class Cell:
    """A plan under one policy: blocked (where, by what) or open (with P(detected))."""

    policy: str
    blocked: bool
    rule: str | None
    step: int | None
    p_detected: float | None
    explanation: str

    @property
    def text(self) -> str:
        """``✓ RULE @STEP`` (blocked there by that rule) or ``✗ OPEN 0.42`` (P(detected))."""
        if self.blocked:
            return f"✓ {self.rule} @{self.step}"
        return f"✗ OPEN {self.p_detected or 0.0:.2f}"


@dataclass(frozen=True)
class StepCheck:
    """One step of a plan under one policy (``network``: a flow the policy decides)."""

    allowed: bool
    blocked_by: str | None
    explanation: str
    detections: tuple[str, ...]
    p_detected: float
    reached: bool
    network: bool = True


@dataclass(frozen=True)
class StepView:
    """One step of a plan, with its check under each policy (policy order)."""

    number: int
    kind: str
    technique: str | None
    technique_name: str | None
    tactic: str | None
    source: str | None
    target: str | None
    service: str | None
    reason: str
    checks: tuple[StepCheck, ...]


@dataclass(frozen=True)
class PlanView:
    """One attack plan: a row of the paths matrix and the content of the path detail."""

    ident: str
    goal: str
    data: str
    entry: str
    cost: int
    records: int | None
    techniques: tuple[str, ...]
    hosts: tuple[str, ...]
    found_under: tuple[str, ...]
    cells: tuple[Cell, ...]
    steps: tuple[StepView, ...]
    rank: int
    via: str = ""
    #: What tells the plan apart from the others of its goal and cost (:func:`differences`).
    differs: str = ""
    #: The plan described for drawing (:mod:`ztsim.output.drawing.text`).
    picture: PlanPicture | None = field(default=None, compare=False, repr=False)
    #: What the walk-through shows beyond the steps (:mod:`ztsim.tui.walkdata`).
    walk: PlanWalkData | None = field(default=None, compare=False, repr=False)

    @property
    def chain(self) -> str:
        """The technique chain in short: ``T1190>T1210>T1041``."""
        return ">".join(self.techniques)

    def cell(self, policy: str) -> Cell | None:
        """The verdict under ``policy``."""
        return next((c for c in self.cells if c.policy == policy), None)

    @cached_property
    def search_text(self) -> str:
        """Lower-case text the free-text filter matches against."""
        names = [s.technique_name or "" for s in self.steps]
        return " ".join(
            [self.ident, self.goal, self.entry, *self.techniques, *names, *self.hosts]
        ).lower()


@dataclass(frozen=True)
class FlowCell:
    """A legitimate flow under one policy."""

    policy: str
    allowed: bool
    rule: str
    explanation: str

    @property
    def text(self) -> str:
        """``✓ RULE`` (allowed) or ``✗ BROKEN RULE``: short, so the rule stays whole."""
        return f"✓ {self.rule}" if self.allowed else f"✗ BROKEN {self.rule}"


@dataclass(frozen=True)
class FlowView:
    """One ``traffic`` flow of the topology, judged by every policy."""

    index: int
    source: str
    to: str
    service: str
    credential: str | None
    cells: tuple[FlowCell, ...]


@dataclass(frozen=True)
class ViewModel:
    """Everything on screen for one load of the scenario.

    ``plans`` fill in goal by goal (``goals_done`` of ``goals_total``) while the
    worker computes them; ``complete`` tells when they are all there.
    """

    topology: TopologyView
    policies: tuple[PolicySummary, ...]
    traffic: tuple[FlowView, ...]
    plans: tuple[PlanView, ...] = ()
    goals_done: int = 0
    goals_total: int = 0
    warnings: tuple[str, ...] = ()
    _by_ident: dict[str, PlanView] = field(default_factory=dict, compare=False, repr=False)

    @property
    def complete(self) -> bool:
        """Whether the plans of every goal are in."""
        return self.goals_done >= self.goals_total

    @property
    def policy_names(self) -> tuple[str, ...]:
        """Policy names, in the order given."""
        return tuple(p.name for p in self.policies)

    def plan(self, ident: str | None) -> PlanView | None:
        """The plan with id ``ident``, if listed."""
        if ident is None:
            return None
        if not self._by_ident and self.plans:
            self._by_ident.update((p.ident, p) for p in self.plans)
        return self._by_ident.get(ident)

    def plans_through(self, host: str) -> list[PlanView]:
        """Plans with a step from, to or on ``host``."""
        return [p for p in self.plans if host in p.hosts]


# --------------------------------------------------------------------------- building


def _summary(r: PolicyResult) -> PolicySummary:
    return PolicySummary(
        r.policy.name,
        r.policy.path,
        len(r.reachable_goals),
        len(r.goals),
        r.records_at_risk,
        len(r.broken_traffic),
        len(r.traffic),
        records_tamperable=r.records_tamperable,
    )


def _flows(a: Analysis) -> tuple[FlowView, ...]:
    if not a.results:
        return ()
    out: list[FlowView] = []
    for i, t in enumerate(a.results[0].traffic):
        cells = tuple(
            FlowCell(
                r.policy.name,
                r.traffic[i].allowed,
                r.traffic[i].decision.rule,
                r.traffic[i].decision.describe(r.policy),
            )
            for r in a.results
        )
        out.append(FlowView(t.index, t.source, t.to, t.service, t.credential, cells))
    return tuple(out)


def base_view(a: Analysis, path: str, warnings: Iterable[Diagnostic] = ()) -> ViewModel:
    """Policies, traffic and topology of ``a``; plans come later (:func:`with_plans`)."""
    return ViewModel(
        topology=topology_view(a.topology, path),
        policies=tuple(_summary(r) for r in a.results),
        traffic=_flows(a),
        goals_total=len(a.goals),
        warnings=tuple(str(w) for w in warnings),
    )


def _step_p(sv: StepVerdict, probs: dict[str, float]) -> float:
    miss = 1.0
    for d in sv.detections:
        miss *= 1.0 - probs.get(d, 0.0)
    return round(1.0 - miss, 6)


def plan_views(a: Analysis, rows: Iterable[PlanRow], start: int = 0) -> list[PlanView]:
    """Plan rows of the analysis as views; ``start`` numbers them for stable ties."""
    rows = list(rows)
    differs = differences([r.plan for r in rows], a.topology.hosts)
    probs = [{d.id: d.probability for d in r.policy.model.controls.detection} for r in a.results]
    hosts = a.topology.hosts
    out: list[PlanView] = []
    for n, row in enumerate(rows, start):
        p = row.plan
        _, item = a.topology.data[p.goal[1]]
        cells = tuple(
            Cell(
                v.policy,
                v.blocked,
                v.blocked_by,
                None if v.step is None else v.step + 1,
                v.p_detected,
                v.explanation,
            )
            for v in row.verdicts
        )
        steps: list[StepView] = []
        for i, st in enumerate(p.steps):
            t = technique(st.technique)
            checks = tuple(
                StepCheck(
                    v.steps[i].allowed,
                    v.steps[i].blocked_by,
                    v.steps[i].explanation,
                    v.steps[i].detections,
                    _step_p(v.steps[i], probs[k]),
                    v.step is None or i <= v.step,
                    v.steps[i].decision is not None or not v.steps[i].allowed,
                )
                for k, v in enumerate(row.verdicts)
            )
            steps.append(
                StepView(
                    i + 1,
                    st.kind,
                    st.technique,
                    t.name if t else None,
                    t.tactic if t else None,
                    st.source,
                    st.target,
                    st.service,
                    st.reason,
                    checks,
                )
            )
        touched = sorted(
            {x for st in p.steps for x in (st.source, st.target, st.host) if x in hosts}
        )
        out.append(
            PlanView(
                p.ident,
                goal_label(p.goal),
                p.goal[1],
                p.entry,
                p.cost,
                item.records,
                p.techniques,
                tuple(touched),
                row.found_under,
                cells,
                tuple(steps),
                n,
                via(p.steps, hosts),
                differs[n - start],
                picture_of(p.steps, p.entry, a.topology),
                plan_walk_data(a, row),
            )
        )
    return out


def with_plans(vm: ViewModel, plans: list[PlanView], goals_done: int) -> ViewModel:
    """``vm`` with ``plans`` listed and the per-policy blocked counts filled in."""
    policies = tuple(
        replace(s, plans_blocked=sum(1 for p in plans if p.cells[i].blocked), plans=len(plans))
        for i, s in enumerate(vm.policies)
    )
    return replace(vm, plans=tuple(plans), policies=policies, goals_done=goals_done, _by_ident={})
