"""The Diff tab's rows: a base and a proposed policy compared (no Textual here).

:func:`build_diff` runs :func:`ztsim.whatif.diff.diff_policies` (in the app's
worker thread) and copies what the tab shows into immutable rows, with the
Markdown and JSON renderings of :mod:`ztsim.output.diff` ready for export.
Every verdict and explanation comes from the core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ztsim.analysis.results import goal_label
from ztsim.engine.verdicts import PlanVerdict
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.output.console import dump_json
from ztsim.output.diff import diff_json, diff_markdown, verdict_line
from ztsim.output.harden import step_text
from ztsim.output.outfile import write_output
from ztsim.whatif.diff import PlanChange, PolicyDiff, diff_policies

__all__ = [
    "FAIL_ON",
    "DiffView",
    "FlowDiffRow",
    "GoalDiffRow",
    "PlanDiffRow",
    "RuleDiffRow",
    "SettingDiffRow",
    "StepDiffRow",
    "StepSide",
    "build_diff",
    "diff_view",
    "write_diff_export",
]

#: The ``--fail-on`` criterion of the verdict line (as ``ztsim diff``'s default).
FAIL_ON = "opened"


@dataclass(frozen=True)
class GoalDiffRow:
    """A goal opened or closed, with its cost under both policies."""

    change: str
    goal: str
    base: str
    proposed: str


@dataclass(frozen=True)
class StepSide:
    """One step of a plan under one of the two policies."""

    allowed: bool
    reached: bool
    network: bool
    blocked_by: str | None
    explanation: str

    @property
    def text(self) -> str:
        """``BLOCKED by RULE: why``, the allowing decision, or ``not reached``."""
        if not self.reached:
            return "not reached (after the block)"
        if not self.allowed:
            return f"BLOCKED by {self.blocked_by}: {self.explanation}"
        return self.explanation


@dataclass(frozen=True)
class StepDiffRow:
    """One step of a changed plan, judged by the base and the proposed policy."""

    number: int
    technique: str | None
    text: str
    base: StepSide
    proposed: StepSide
    responsible: bool


@dataclass(frozen=True)
class PlanDiffRow:
    """A plan opened, closed or blocked elsewhere, with the step and rule responsible."""

    change: str
    ident: str
    goal: str
    entry: str
    cost: int
    step: int
    step_text: str
    cause: str
    why: str
    base_verdict: str
    proposed_verdict: str
    steps: tuple[StepDiffRow, ...]


@dataclass(frozen=True)
class FlowDiffRow:
    """A legitimate flow newly broken or restored, with both decisions."""

    change: str
    flow: str
    base: str
    proposed: str


@dataclass(frozen=True)
class RuleDiffRow:
    """A rule added, removed, changed or moved, with its ``FILE:LINE``."""

    section: str
    rule: str
    change: str
    location: str
    detail: str


@dataclass(frozen=True)
class SettingDiffRow:
    """A default, ``intra_zone`` or control that differs."""

    setting: str
    base: str
    proposed: str


@dataclass(frozen=True)
class DiffView:
    """Everything the Diff tab shows for one (base, proposed) pair."""

    base: str
    base_path: str
    proposed: str
    proposed_path: str
    verdict: str
    failed: bool
    empty: bool
    goals: tuple[GoalDiffRow, ...]
    plans: tuple[PlanDiffRow, ...]
    plans_compared: int
    traffic: tuple[FlowDiffRow, ...]
    rules: tuple[RuleDiffRow, ...]
    settings: tuple[SettingDiffRow, ...]
    markdown: str
    json: str

    def plan(self, ident: str | None) -> PlanDiffRow | None:
        """The changed plan with id ``ident``."""
        return next((p for p in self.plans if p.ident == ident), None)


def _cost(c: int | None) -> str:
    return "blocked" if c is None else f"reachable (cost {c})"


def _cause(p: PlanChange) -> str:
    # as ztsim diff words it: "segmentation default", "segmentation RULE (FILE:LINE)"
    if p.rule == "default" and p.section:
        return f"{p.section} default"
    section = f"{p.section} " if p.section else ""
    where = f" ({p.location})" if p.location else ""
    return f"{section}{p.rule}{where}"


def _verdict(v: PlanVerdict) -> str:
    if v.blocked:
        return f"BLOCKED at step {(v.step or 0) + 1} by {v.blocked_by}"
    return f"OPEN, P(detected) {v.p_detected or 0.0:.2f}"


def _side(v: PlanVerdict, i: int) -> StepSide:
    sv = v.steps[i]
    return StepSide(
        sv.allowed,
        v.step is None or i <= v.step,
        sv.decision is not None or not sv.allowed,
        sv.blocked_by,
        sv.explanation,
    )


def _plan_row(pc: PlanChange) -> PlanDiffRow:
    plan = pc.plan
    steps = tuple(
        StepDiffRow(
            i + 1,
            st.technique,
            step_text(st),
            _side(pc.base, i),
            _side(pc.proposed, i),
            i == pc.step,
        )
        for i, st in enumerate(plan.steps)
    )
    return PlanDiffRow(
        pc.change,
        plan.ident,
        goal_label(plan.goal),
        plan.entry,
        plan.cost,
        pc.step + 1,
        step_text(plan.steps[pc.step]),
        _cause(pc),
        pc.why,
        _verdict(pc.base),
        _verdict(pc.proposed),
        steps,
    )


def diff_view(d: PolicyDiff, fail_on: str = FAIL_ON) -> DiffView:
    """The rows of the Diff tab for ``d``."""
    b, p = d.base.policy, d.proposed.policy
    rules: list[RuleDiffRow] = []
    for r in d.rules:
        line = r.proposed_line if r.proposed_line is not None else r.base_line
        side = p if r.proposed_line is not None else b
        path = side.rule_file(r.section, r.rule)  # a Kubernetes rule's manifest
        rules.append(
            RuleDiffRow(
                r.section, r.rule, r.change, "" if line is None else f"{path}:{line}", r.detail
            )
        )
    return DiffView(
        b.name,
        b.path,
        p.name,
        p.path,
        verdict_line(d, fail_on),
        d.failed(fail_on),
        d.empty,
        tuple(
            GoalDiffRow(g.change, goal_label(g.goal), _cost(g.base_cost), _cost(g.proposed_cost))
            for g in d.goals
        ),
        tuple(_plan_row(pc) for pc in d.plans),
        d.plans_compared,
        tuple(
            FlowDiffRow(
                t.change,
                f"{t.source} -> {t.to} {t.service}",
                t.base.describe(b),
                t.proposed.describe(p),
            )
            for t in d.traffic
        ),
        tuple(rules),
        tuple(SettingDiffRow(s.setting, s.base, s.proposed) for s in d.settings),
        diff_markdown(d, fail_on),
        dump_json(diff_json(d, fail_on)),
    )


def build_diff(
    topology: LoadedTopology,
    base: LoadedPolicy,
    proposed: LoadedPolicy,
    k: int = 5,
    fail_on: str = FAIL_ON,
) -> DiffView:
    """Compare ``base`` and ``proposed`` on ``topology`` (``k`` plans per goal)."""
    return diff_view(diff_policies(topology, base, proposed, k), fail_on)


def write_diff_export(
    dv: DiffView,
    fmt: Literal["md", "json"],
    directory: Path | None = None,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Write ``ztsim-export-diff.<md|json>`` in ``directory`` (the cwd); return its path.

    Atomically, and never over one of ``inputs`` (:func:`ztsim.output.outfile.write_output`).
    """
    target = (directory or Path.cwd()) / f"ztsim-export-diff.{fmt}"
    write_output(str(target), dv.json if fmt == "json" else dv.markdown, inputs)
    return target
