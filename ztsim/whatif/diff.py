"""``ztsim diff``: what a proposed policy changes against a base policy.

Both policies are judged on one topology (:func:`ztsim.analysis.analyze.analyze`).  The
diff reports goals that became reachable or unreachable, attack plans opened and
closed — each with the step and the rule responsible, from
:meth:`ztsim.analysis.judged.Analysis.plans` judged under both — legitimate flows newly
broken or restored, and the edits themselves: rules added, removed, changed or
moved (matched by id within each section; moved means their relative order
changed, which first-match makes significant), and section defaults,
``intra_zone`` and controls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ztsim.analysis.analyze import analyze
from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import PolicyResult
from ztsim.engine.decisions import Decision
from ztsim.engine.plans import Plan
from ztsim.engine.steps import Fact
from ztsim.engine.verdicts import PlanVerdict, StepVerdict
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology

__all__ = [
    "FAIL_ON",
    "GoalChange",
    "PlanChange",
    "PolicyDiff",
    "RuleChange",
    "SettingChange",
    "TrafficChange",
    "diff_policies",
    "lcs_moved",
]

FAIL_ON = ("opened", "broken-traffic", "any")
Section = Literal["segmentation", "egress"]


@dataclass(frozen=True)
class GoalChange:
    """A goal whose reachability differs between the two policies."""

    goal: Fact
    change: Literal["opened", "closed"]
    base_cost: int | None
    proposed_cost: int | None


@dataclass(frozen=True)
class PlanChange:
    """A plan whose verdict differs: opened, closed, or blocked elsewhere (moved)."""

    plan: Plan
    change: Literal["opened", "closed", "moved"]
    base: PlanVerdict
    proposed: PlanVerdict
    step: int  # 0-based index of the responsible step
    why: str
    rule: str  # rule id, ``default``, or ``mfa`` / ``encrypt_in_transit`` (removed or added)
    section: str | None  # segmentation / egress for a rule or default
    location: str | None  # FILE:LINE of the rule in the policy that decides now

    @property
    def responsible(self) -> StepVerdict:
        """The proposed policy's verdict on the responsible step."""
        return self.proposed.steps[self.step]


@dataclass(frozen=True)
class TrafficChange:
    """A legitimate flow newly broken or restored."""

    index: int
    source: str
    to: str
    service: str
    change: Literal["broken", "restored"]
    base: Decision
    proposed: Decision


@dataclass(frozen=True)
class RuleChange:
    """A rule added, removed, changed or moved (matched by id within its section)."""

    section: Section
    rule: str
    change: Literal["added", "removed", "changed", "moved"]
    detail: str
    base_line: int | None
    proposed_line: int | None


@dataclass(frozen=True)
class SettingChange:
    """A section default, ``intra_zone`` or control that differs."""

    setting: str
    base: str
    proposed: str


@dataclass
class PolicyDiff:
    """Everything :func:`diff_policies` found."""

    analysis: Analysis
    base: PolicyResult
    proposed: PolicyResult
    goals: list[GoalChange]
    plans: list[PlanChange]
    plans_compared: int
    traffic: list[TrafficChange]
    rules: list[RuleChange]
    settings: list[SettingChange]

    def opened(self) -> tuple[list[GoalChange], list[PlanChange]]:
        """Goals and plans the proposed policy opens."""
        return (
            [g for g in self.goals if g.change == "opened"],
            [p for p in self.plans if p.change == "opened"],
        )

    def broken(self) -> list[TrafficChange]:
        """Legitimate flows the proposed policy newly breaks."""
        return [t for t in self.traffic if t.change == "broken"]

    def failed(self, fail_on: str) -> bool:
        """Whether the diff fails the ``--fail-on`` criterion."""
        goals, plans = self.opened()
        opened = bool(goals or plans)
        broken = bool(self.broken())
        if fail_on == "opened":
            return opened
        if fail_on == "broken-traffic":
            return broken
        return opened or broken

    @property
    def empty(self) -> bool:
        """No difference at all, in verdicts or in the files."""
        return not (self.goals or self.plans or self.traffic or self.rules or self.settings)


def lcs_moved(before: list[str], after: list[str]) -> set[str]:
    """Ids common to both lists that are not in a longest common subsequence.

    Those are the rules whose relative order changed (``before``/``after`` hold
    only the common ids).  Ties keep the earliest rules of ``before`` in place.

    >>> sorted(lcs_moved(["a", "b", "c"], ["c", "a", "b"]))
    ['c']
    >>> sorted(lcs_moved(["deny", "allow"], ["allow", "deny"]))
    ['allow']
    """
    n, m = len(before), len(after)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if before[i] == after[j]:
                table[i][j] = table[i + 1][j + 1] + 1
            else:
                table[i][j] = max(table[i + 1][j], table[i][j + 1])
    keep: set[str] = set()
    i = j = 0
    while i < n and j < m:
        if before[i] == after[j]:
            keep.add(before[i])
            i += 1
            j += 1
        elif table[i][j + 1] >= table[i + 1][j]:
            j += 1  # keep before[i] if it can stay in a longest subsequence
        else:
            i += 1
    return set(before) - keep


def _line(p: LoadedPolicy, section: Section, rid: str) -> int | None:
    m = p.rule_mark(section, rid)
    return m.line if m else None


def _show(value: Any) -> str:
    from ztsim.whatif.yamlout import rule_line

    if value is None:
        return "(none)"
    if isinstance(value, dict):
        return rule_line(value) if value else "any"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _rule_changes(base: LoadedPolicy, prop: LoadedPolicy) -> list[RuleChange]:
    """Rules removed, then added or changed, then moved; segmentation before egress."""
    out: list[RuleChange] = []
    sections: tuple[Section, Section] = ("segmentation", "egress")
    for section in sections:
        brules = _dumped_rules(base, section)
        prules = _dumped_rules(prop, section)
        out.extend(_removed_rules(base, section, brules, prules))
        out.extend(_edited_rules(base, prop, section, brules, prules))
        out.extend(_moved_rules(base, prop, section, brules, prules))
    return out


def _dumped_rules(policy: LoadedPolicy, section: Section) -> list[dict[str, Any]]:
    """The section's rules as written (aliases, defaults left out), in order."""
    return [
        r.model_dump(by_alias=True, exclude_defaults=True)
        for r in getattr(policy.model, section).all_rules()  # every layer's (model v1.1)
    ]


def _removed_rules(
    base: LoadedPolicy,
    section: Section,
    brules: list[dict[str, Any]],
    prules: list[dict[str, Any]],
) -> list[RuleChange]:
    """Base rules whose id the proposed section no longer has."""
    pids = {r["id"] for r in prules}
    return [
        RuleChange(section, r["id"], "removed", _show(r), _line(base, section, r["id"]), None)
        for r in brules
        if r["id"] not in pids
    ]


def _edited_rules(
    base: LoadedPolicy,
    prop: LoadedPolicy,
    section: Section,
    brules: list[dict[str, Any]],
    prules: list[dict[str, Any]],
) -> list[RuleChange]:
    """Proposed rules that are new, or whose fields differ from the base rule of that id."""
    out: list[RuleChange] = []
    bmap = {r["id"]: r for r in brules}
    for pos, r in enumerate(prules, 1):
        rid = r["id"]
        pline = _line(prop, section, rid)
        if rid not in bmap:
            out.append(RuleChange(section, rid, "added", f"at #{pos}: {_show(r)}", None, pline))
            continue
        old = bmap[rid]
        fields = [k for k in dict.fromkeys([*old, *r]) if k != "id" and old.get(k) != r.get(k)]
        if fields:
            detail = "; ".join(f"{k}: {_show(old.get(k))} -> {_show(r.get(k))}" for k in fields)
            out.append(
                RuleChange(section, rid, "changed", detail, _line(base, section, rid), pline)
            )
    return out


def _moved_rules(
    base: LoadedPolicy,
    prop: LoadedPolicy,
    section: Section,
    brules: list[dict[str, Any]],
    prules: list[dict[str, Any]],
) -> list[RuleChange]:
    """Rules kept in both whose order relative to the other kept rules changed."""
    bids = [r["id"] for r in brules]
    pids = [r["id"] for r in prules]
    bset, pset = set(bids), set(pids)
    common_b = [rid for rid in bids if rid in pset]
    common_p = [rid for rid in pids if rid in bset]
    moved = lcs_moved(common_b, common_p)
    out: list[RuleChange] = []
    for rid in common_p:
        if rid not in moved:
            continue
        k = common_p.index(rid)
        nxt = common_p[k + 1] if k + 1 < len(common_p) else None
        where = f", now before {nxt}" if nxt else ", now after every other kept rule"
        out.append(
            RuleChange(
                section,
                rid,
                "moved",
                f"#{bids.index(rid) + 1} -> #{pids.index(rid) + 1}{where}",
                _line(base, section, rid),
                _line(prop, section, rid),
            )
        )
    return out


def _setting_changes(base: LoadedPolicy, prop: LoadedPolicy) -> list[SettingChange]:
    b, p = base.model, prop.model
    out: list[SettingChange] = []
    pairs = [
        ("segmentation.default", b.segmentation.default, p.segmentation.default),
        ("segmentation.intra_zone", b.segmentation.intra_zone, p.segmentation.intra_zone),
        ("egress.default", b.egress.default, p.egress.default),
        (
            "controls.encrypt_in_transit",
            str(b.controls.encrypt_in_transit).lower(),
            str(p.controls.encrypt_in_transit).lower(),
        ),
    ]
    out.extend(SettingChange(k, x, y) for k, x, y in pairs if x != y)
    bm, pm = set(b.controls.mfa), set(p.controls.mfa)
    for c in sorted(bm ^ pm):
        out.append(
            SettingChange(
                f"controls.mfa[{c}]", "on" if c in bm else "off", "on" if c in pm else "off"
            )
        )
    bd = {d.id: d for d in b.controls.detection}
    pd = {d.id: d for d in p.controls.detection}
    for did in sorted(set(bd) | set(pd)):
        x, y = bd.get(did), pd.get(did)
        if x != y:
            show_x = _show(x.model_dump(exclude_defaults=True)) if x else "(none)"
            show_y = _show(y.model_dump(exclude_defaults=True)) if y else "(none)"
            out.append(SettingChange(f"controls.detection {did}", show_x, show_y))
    return out


def _cause(sv: StepVerdict, policy: LoadedPolicy) -> tuple[str, str | None, str | None]:
    """The rule (or control) behind a step verdict, its section and FILE:LINE."""
    if sv.blocked_by in ("mfa", "encrypt_in_transit"):
        return sv.blocked_by, None, None
    d = sv.decision
    if d is None:
        return "-", None, None
    loc = policy.rule_location(d.section, d.rule) if d.reason == "rule" else None
    return d.rule, d.section if d.reason in ("rule", "default") else None, loc


def _plan_change(
    plan: Plan, vb: PlanVerdict, vp: PlanVerdict, base: LoadedPolicy, prop: LoadedPolicy
) -> PlanChange | None:
    if vb.blocked and not vp.blocked:
        assert vb.step is not None
        k = vb.step
        why = f"step {k + 1}: base {vb.steps[k].explanation}; proposed {vp.steps[k].explanation}"
        rule, section, loc = _cause(vp.steps[k], prop)
        if vb.blocked_by in ("mfa", "encrypt_in_transit"):
            rule, section, loc = f"{vb.blocked_by} removed", None, None
        return PlanChange(plan, "opened", vb, vp, k, why, rule, section, loc)
    if vp.blocked and not vb.blocked:
        assert vp.step is not None
        rule, section, loc = _cause(vp.steps[vp.step], prop)
        return PlanChange(plan, "closed", vb, vp, vp.step, vp.explanation, rule, section, loc)
    if vb.blocked and vp.blocked and (vb.step, vb.blocked_by) != (vp.step, vp.blocked_by):
        assert vp.step is not None
        why = f"base {vb.explanation}; proposed {vp.explanation}"
        rule, section, loc = _cause(vp.steps[vp.step], prop)
        return PlanChange(plan, "moved", vb, vp, vp.step, why, rule, section, loc)
    return None


def diff_policies(
    topology: LoadedTopology, base: LoadedPolicy, proposed: LoadedPolicy, k: int = 5
) -> PolicyDiff:
    """Judge ``base`` and ``proposed`` on ``topology`` and report what differs.

    ``k`` plans per goal are compared (merged from the reference and both
    policies; every goal reachable under either keeps its cheapest plan there).
    """
    a = analyze(topology, [base, proposed])
    rb, rp = a.results
    goals: list[GoalChange] = []
    for gb, gp in zip(rb.goals, rp.goals, strict=True):
        if gb.reachable != gp.reachable:
            change: Literal["opened", "closed"] = "opened" if gp.reachable else "closed"
            goals.append(GoalChange(gb.goal, change, gb.cost, gp.cost))
    plans: list[PlanChange] = []
    compared = 0
    for g in a.goals:
        for row in a.plans(g, k):
            compared += 1
            pc = _plan_change(row.plan, row.verdicts[0], row.verdicts[1], base, proposed)
            if pc is not None:
                plans.append(pc)
    traffic: list[TrafficChange] = []
    for tb, tp in zip(rb.traffic, rp.traffic, strict=True):
        if tb.allowed != tp.allowed:
            traffic.append(
                TrafficChange(
                    tb.index,
                    tb.source,
                    tb.to,
                    tb.service,
                    "broken" if tb.allowed else "restored",
                    tb.decision,
                    tp.decision,
                )
            )
    return PolicyDiff(
        a,
        rb,
        rp,
        goals,
        plans,
        compared,
        traffic,
        _rule_changes(base, proposed),
        _setting_changes(base, proposed),
    )
