"""Export what a TUI view shows, as Markdown or JSON (no Textual here).

Exports are deterministic (no timestamps, paths as shown on screen) so they can
be committed next to a design document or diffed between two policy versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ztsim.output.escape import markdown_text, text_lines
from ztsim.output.jsontext import dump_json
from ztsim.output.outfile import write_output
from ztsim.tui.query import PlanQuery
from ztsim.tui.viewmodel import PlanView, ViewModel

__all__ = ["ExportState", "export_json", "export_markdown", "write_export"]

View = Literal["paths", "topology", "traffic", "diff"]
Format = Literal["md", "json"]


@dataclass(frozen=True)
class ExportState:
    """Which view is shown and what is selected in it."""

    view: View = "paths"
    query: PlanQuery = field(default_factory=PlanQuery)
    policy: int = 0
    plan: str | None = None
    host: str | None = None


def _policy_name(vm: ViewModel, i: int) -> str | None:
    return vm.policies[i].name if 0 <= i < len(vm.policies) else None


def _plan_json(p: PlanView, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "id": p.ident,
        "goal": p.goal,
        "entry": p.entry,
        "via": p.via,
        "cost": p.cost,
        "records": p.records,
        "techniques": list(p.techniques),
        "found_under": list(p.found_under),
        "verdicts": [
            {
                "policy": names[i],
                "blocked": c.blocked,
                "rule": c.rule,
                "step": c.step,
                "p_detected": c.p_detected,
                "explanation": c.explanation,
            }
            for i, c in enumerate(p.cells)
        ],
    }


def _detail_json(p: PlanView, policy: int) -> dict[str, Any]:
    steps = []
    for s in p.steps:
        c = s.checks[policy] if 0 <= policy < len(s.checks) else None
        steps.append(
            {
                "step": s.number,
                "kind": s.kind,
                "technique": s.technique,
                "technique_name": s.technique_name,
                "source": s.source,
                "target": s.target,
                "service": s.service,
                "because": s.reason,
                "allowed": None if c is None else c.allowed,
                "blocked_by": None if c is None else c.blocked_by,
                "verdict": None if c is None else c.explanation,
                "detections": [] if c is None else list(c.detections),
                "p_detected": None if c is None else c.p_detected,
                "reached": None if c is None else c.reached,
            }
        )
    return {"id": p.ident, "goal": p.goal, "steps": steps}


def export_json(vm: ViewModel, state: ExportState) -> dict[str, Any]:
    """The current view as one JSON object."""
    names = vm.policy_names
    out: dict[str, Any] = {
        "view": state.view,
        "topology": vm.topology.name,
        "file": vm.topology.path,
        "policy": _policy_name(vm, state.policy),
        "policies": [
            {
                "policy": s.name,
                "file": s.path,
                "goals_reachable": s.goals_reachable,
                "goals": s.goals,
                "records_at_risk": s.records_at_risk,
                "records_exfiltrable": s.records_exfiltrable,
                "records_tamperable": s.records_tamperable,
                "plans_blocked": s.plans_blocked,
                "plans": s.plans,
                "traffic_broken": s.flows_broken,
                "traffic": s.flows,
            }
            for s in vm.policies
        ],
    }
    if state.view == "paths":
        shown = state.query.apply(vm.plans, state.policy)
        out["sort"] = state.query.sort
        out["filter"] = state.query.text
        out["plans"] = [_plan_json(p, names) for p in shown]
        sel = vm.plan(state.plan)
        out["selected"] = None if sel is None else _detail_json(sel, state.policy)
    elif state.view == "traffic":
        out["traffic"] = [
            {
                "from": f.source,
                "to": f.to,
                "service": f.service,
                "credential": f.credential,
                "verdicts": [
                    {"policy": c.policy, "allowed": c.allowed, "rule": c.rule} for c in f.cells
                ],
            }
            for f in vm.traffic
        ]
    else:
        out["zones"] = [
            {"zone": z.id, "external": z.external, "hosts": list(z.hosts)}
            for z in vm.topology.zones
        ]
        host = vm.topology.hosts.get(state.host or "")
        out["host"] = None
        if host is not None:
            out["host"] = {
                "id": host.id,
                "zone": host.zone,
                "labels": list(host.labels),
                "services": list(host.services),
                "vulnerabilities": list(host.vulnerabilities),
                "credentials": list(host.credentials),
                "logins": list(host.logins),
                "data": list(host.data),
                "plans": [_plan_json(p, names) for p in vm.plans_through(host.id)],
            }
    return out


def _md(text: object) -> str:
    """A table cell: escaped (control characters, pipes, HTML tags), on one line."""
    return markdown_text(str(text), every_special=False)


def _table(head: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    return lines


def _plans_md(plans: list[PlanView], names: tuple[str, ...]) -> list[str]:
    return _table(
        ["plan", "goal", "entry", "cost", "records", *names, "via", "techniques"],
        [
            [
                p.ident,
                p.goal,
                p.entry,
                p.cost,
                "" if p.records is None else f"{p.records:,}",
                *[c.text for c in p.cells],
                p.via,
                p.chain,
            ]
            for p in plans
        ],
    )


def export_markdown(vm: ViewModel, state: ExportState) -> str:
    """The current view as a Markdown document."""
    names = vm.policy_names
    lines = [f"# ztsim {state.view}: {vm.topology.name}", "", f"Topology `{vm.topology.path}`."]
    lines += ["", "## Policies", ""]
    lines += _table(
        [
            "policy",
            "file",
            "goals reachable",
            "records exfiltrable",
            "records tamperable",
            "plans blocked",
            "flows broken",
        ],
        [
            [
                s.name,
                s.path,
                f"{s.goals_reachable}/{s.goals}",
                f"{s.records_exfiltrable:,}",
                f"{s.records_tamperable:,}",
                "" if s.plans is None else f"{s.plans_blocked}/{s.plans}",
                f"{s.flows_broken}/{s.flows}",
            ]
            for s in vm.policies
        ],
    )
    policy = _policy_name(vm, state.policy)
    if state.view == "paths":
        shown = state.query.apply(vm.plans, state.policy)
        lines += ["", f"## Paths ({len(shown)} of {len(vm.plans)}, {state.query.describe()})", ""]
        lines += _plans_md(shown, names)
        sel = vm.plan(state.plan)
        if sel is not None and policy is not None:
            cell = sel.cells[state.policy]
            lines += ["", f"## Plan {sel.ident} under {policy}: {cell.text}", ""]
            lines += [f"{sel.goal} from {sel.entry}, cost {sel.cost}.", ""]
            for s in sel.steps:
                c = s.checks[state.policy]
                tech = f"{s.technique} {s.technique_name}" if s.technique else s.kind
                svc = f" {s.service}" if s.service else ""
                mark = "allowed" if c.allowed else "**BLOCKED**"
                lines.append(f"{s.number}. **{tech}**: {s.source or 'start'} -> {s.target}{svc}")
                lines.append(f"   - because {s.reason}")
                lines.append(f"   - {mark}: {c.explanation}; P(detected) {c.p_detected:.2f}")
    elif state.view == "traffic":
        lines += ["", "## Legitimate traffic", ""]
        lines += _table(
            ["from", "to", "service", "credential", *names],
            [
                [f.source, f.to, f.service, f.credential or "", *[c.text for c in f.cells]]
                for f in vm.traffic
            ],
        )
    else:
        lines += ["", "## Zones", ""]
        for z in vm.topology.zones:
            kind = " (external)" if z.external else ""
            lines.append(f"- **{z.id}**{kind}: {', '.join(z.hosts) or 'no host'}")
        host = vm.topology.hosts.get(state.host or "")
        if host is not None:
            lines += ["", f"## Host {host.id} (zone {host.zone})", ""]
            for title, items in (
                ("labels", host.labels),
                ("services", host.services),
                ("vulnerabilities", host.vulnerabilities),
                ("credentials stored", host.credentials),
                ("logins", host.logins),
                ("data", host.data),
            ):
                if items:
                    lines.append(f"- {title}: {'; '.join(items)}")
            through = vm.plans_through(host.id)
            lines += ["", f"### Plans through {host.id} ({len(through)})", ""]
            lines += _plans_md(through, names)
    # the export's own lines hold no "<": no line may open an HTML tag
    return text_lines(lines, markdown=True)


def write_export(
    vm: ViewModel,
    state: ExportState,
    fmt: Format,
    directory: Path | None = None,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Write ``ztsim-export-<view>.<md|json>`` in ``directory`` (the cwd); return its path.

    Atomically, and never over one of ``inputs`` (:func:`ztsim.output.outfile.write_output`:
    raises ``InputError`` or ``OutputError``).
    """
    target = (directory or Path.cwd()) / f"ztsim-export-{state.view}.{fmt}"
    text = dump_json(export_json(vm, state)) if fmt == "json" else export_markdown(vm, state)
    write_output(str(target), text, inputs)
    return target
