"""Pieces shared by every report format: wording, plan tables, counts, paths.

Everything here is plain text built deterministically (no terminal styling), so
JUnit, SARIF, annotations and Markdown all say the same thing in the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ztsim.engine.plans import Plan
from ztsim.engine.verdicts import PlanVerdict
from ztsim.inputs.assertions import (
    Assertion,
    GoalAssertion,
    MaxUndetected,
    MinAttackCost,
    NoExfiltration,
    NoFlow,
    NoTampering,
    TrafficAllowed,
)
from ztsim.inputs.loaded import LoadedPolicy
from ztsim.model.techniques import technique
from ztsim.model.textsafe import safe
from ztsim.whatif.intent import MAX_FLOWS_SHOWN, Outcome, Report, Violation

__all__ = [
    "Counts",
    "assertions_label",
    "counts",
    "describe",
    "fix_line",
    "plan_rows",
    "plan_steps",
    "plan_table",
    "relative_path",
    "relative_uri",
    "status_label",
    "verdict_line",
    "violation_text",
]


def _one_or_many(v: str | list[str] | None) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else ", ".join(v)


def _data_words(a: GoalAssertion) -> str:
    parts = []
    if a.data is not None:
        parts.append(f"data {_one_or_many(a.data)}")
    if a.classification is not None:
        parts.append(f"classification {_one_or_many(a.classification)}")
    what = " with ".join(parts) if parts else "any data"
    return what + (f", from entry point {a.entry}" if a.entry else "")


def describe(a: Assertion) -> str:
    """What an assertion requires, in one line of words."""
    if isinstance(a, NoExfiltration):
        return f"no exfiltration of {_data_words(a)}"
    if isinstance(a, NoTampering):
        return f"no tampering with {_data_words(a)}"
    if isinstance(a, MinAttackCost):
        goal = "" if a.goal == "any" else f" ({a.goal})"
        return f"no plan cheaper than {a.steps} steps to {_data_words(a)}{goal}"
    if isinstance(a, MaxUndetected):
        goal = "" if a.goal == "any" else f" ({a.goal})"
        return (
            f"no plan to {_data_words(a)}{goal} undetected with probability above "
            f"{a.probability:g} (over {a.plans} listed plans per goal)"
        )
    if isinstance(a, TrafficAllowed):
        return (
            f"legitimate traffic {a.source or 'any'} -> {a.to or 'any'} "
            f"{a.service or 'any service'} allowed"
        )
    on = f" on {_one_or_many(a.services)}" if a.services else " on any service"
    if isinstance(a, NoFlow):
        return f"no flow from {a.source} to {a.to}{on}"
    return f"egress from {a.source} to {_one_or_many(a.to)}{on} denied"


def status_label(o: Outcome) -> str:
    """``PASS``, ``FAIL``, ``WARN`` (a failing warning) or ``KNOWN`` (baseline debt)."""
    if o.status == "pass":
        return "PASS"
    if o.status == "known":
        return "KNOWN"
    return "FAIL" if o.assertion.severity == "error" else "WARN"


def plan_rows(plan: Plan, verdict: PlanVerdict | None, policy: LoadedPolicy) -> list[list[str]]:
    """One row per step: number, kind, technique, from, to, service, policy decision."""
    rows = []
    for i, st in enumerate(plan.steps):
        t = technique(st.technique)
        tech = f"{t.id} {t.name}" if t else (st.technique or "-")
        decision = "-"
        if verdict is not None:
            sv = verdict.steps[i]
            decision = sv.decision.describe(policy) if sv.decision is not None else "-"
        rows.append(
            [
                str(i + 1),
                st.kind,
                tech,
                st.source or "-",
                st.target or "-",
                st.service or "-",
                decision,
            ]
        )
    return rows


def plan_steps(plan: Plan, verdict: PlanVerdict | None, policy: LoadedPolicy) -> list[str]:
    """One compact line per step, for proportional fonts (annotations, SARIF messages)."""
    out = []
    for num, kind, tech, src, dst, svc, decision in plan_rows(plan, verdict, policy):
        line = f"{num}. {kind}"
        if tech != "-":
            line += f" [{tech}]"
        line += (f" {dst}" if src == "-" else f" {src} -> {dst}") + (
            "" if svc == "-" else f" {svc}"
        )
        if decision != "-":
            line += f" ({decision})"
        out.append(line)
    return out


PLAN_HEADER = ["#", "step", "technique", "from", "to", "service", "policy decision"]


def plan_table(
    plan: Plan, verdict: PlanVerdict | None, policy: LoadedPolicy, indent: str = ""
) -> str:
    """The plan as an aligned plain-text table (like pybatfish's answer frames)."""
    # names escaped cell by cell (a newline in a rule id must not start a row)
    rows = [PLAN_HEADER, *([safe(c) for c in r] for r in plan_rows(plan, verdict, policy))]
    widths = [max(len(r[c]) for r in rows) for c in range(len(PLAN_HEADER))]
    lines = [
        indent + "  ".join(cell.ljust(widths[c]) for c, cell in enumerate(r)).rstrip() for r in rows
    ]
    return "\n".join(lines)


def violation_text(v: Violation, policy: LoadedPolicy, indent: str = "") -> str:
    """A violation in words, with its counter-example plan table or its flows."""
    head = safe(v.message)
    if not v.new:
        head += " [known debt: also under the baseline]"
    lines = [indent + head, f"{indent}  {safe(fix_line(v))}"]
    if v.plan is not None:
        lines.append(
            f"{indent}  counter-example: {v.plan.cost} steps from entry {v.plan.entry}, "
            f"techniques {' > '.join(v.plan.techniques)}"
        )
        lines.append(plan_table(v.plan, v.verdict, policy, indent + "    "))
    elif len(v.flows) > MAX_FLOWS_SHOWN:
        lines.append(f"{indent}  all {len(v.flows)}:")
        lines.extend(f"{indent}    {safe(f)}" for f in v.flows)
    return "\n".join(lines)


def fix_line(v: Violation) -> str:
    """``fix at FILE:LINE``, and the change that closes the counter-example when known."""
    where = f"fix at {v.location.path}:{v.location.line}"
    return f"{where}: {safe(v.fix)}" if v.fix else where


@dataclass(frozen=True)
class Counts:
    """How many outcomes pass, fail (error or warning) or are known debt."""

    total: int
    passed: int
    failed: int
    warned: int
    known: int


def counts(outcomes: Sequence[Outcome]) -> Counts:
    """Count outcomes by :func:`status_label`."""
    labels = [status_label(o) for o in outcomes]
    return Counts(
        len(labels),
        labels.count("PASS"),
        labels.count("FAIL"),
        labels.count("WARN"),
        labels.count("KNOWN"),
    )


def verdict_line(report: Report) -> str:
    """``PASS``/``FAIL`` and the counts, one line."""
    c = counts(report.outcomes)
    word = "FAIL" if report.exit_code else "PASS"
    n_pol = len(report.policies)
    n_as = c.total // n_pol if n_pol else 0
    known = f", {c.known} known debt" if report.baseline is not None else ""
    return (
        f"{word}: {n_as} assertion(s) x {n_pol} polic{'y' if n_pol == 1 else 'ies'}: "
        f"{c.passed} pass, {c.failed} fail, {c.warned} warn{known}"
    )


def relative_path(path: str) -> str:
    """A forward-slash path, relative to the working folder when inside it."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            return p.as_posix()
    return p.as_posix()


def relative_uri(path: str) -> str:
    """A path as a URI reference: relative (to the repository root) or ``file://``."""
    from urllib.parse import quote

    rel = relative_path(path)
    # a file name's bytes that are not UTF-8 arrive as lone surrogates: quoted as bytes
    return Path(rel).as_uri() if Path(rel).is_absolute() else quote(rel, errors="surrogateescape")


def assertions_label(report: Report) -> str:
    """``name (file)`` of the assertions, or the implicit goal assertions."""
    if report.source is not None:
        return f"assertions {report.source.name} ({report.source.path})"
    return "assertions: one per goal (no exfiltration, no tampering)"
