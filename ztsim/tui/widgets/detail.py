"""The path detail: the selected plan drawn, then its kill chain step by step, under one policy.

The drawing (:class:`~ztsim.output.drawing.text.PlanDrawing`) shows the zones
and hosts the plan crosses, its arrows labelled with step numbers and ATT&CK ids,
and the step the current policy blocks (``✗`` and the rule); it is drawn at the
pane's width each time the pane renders.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ztsim.output.drawing.text import PlanDrawing
from ztsim.tui.safetext import Text
from ztsim.tui.viewmodel import PlanView, StepCheck, StepView

__all__ = ["PathDetail", "plan_drawing", "render_plan"]

#: The width the drawing is given in :attr:`PathDetail.text` before the pane has one.
TEXT_WIDTH = 116


def _verdict_line(c: StepCheck) -> Text:
    if not c.reached:
        mark, style = "·", "dim"
    elif not c.allowed:
        mark, style = "✗", "bold green"
    elif c.network:
        mark, style = "✓", "yellow"
    else:
        mark, style = "–", "dim"
    line = Text(f"    {mark} ", style=style)
    if c.allowed:
        line.append(c.explanation, style="" if c.network and c.reached else "dim")
    else:
        line.append(f"BLOCKED by {c.blocked_by}: ", style=style)
        line.append(c.explanation)
    if c.detections:
        line.append(f"  P(det) {c.p_detected:.2f} ({', '.join(c.detections)})", style="magenta")
    if not c.reached:
        line.append("  (after the block)", style="dim italic")
    return line


def _step(s: StepView, policy: int) -> list[Text]:
    head = Text(f"{s.number:>2}. ", style="bold")
    if s.technique:
        head.append(s.technique, style="bold cyan")
        head.append(f" {s.technique_name}", style="cyan")
    else:
        head.append(s.kind, style="bold cyan")
    head.append("  ")
    head.append(s.source or "start", style="bold")
    head.append(" -> ")
    head.append(s.target or "-", style="bold")
    if s.service:
        head.append(f" {s.service}")
    if s.tactic:
        head.append(f"  {s.kind}, {s.tactic}", style="dim")
    why = Text("    because ", style="dim")
    why.append(s.reason)
    lines = [head, why]
    if 0 <= policy < len(s.checks):
        lines.append(_verdict_line(s.checks[policy]))
    return lines


def plan_drawing(plan: PlanView, policy: int) -> PlanDrawing | None:
    """The plan's drawing under policy number ``policy`` (its blocking step marked)."""
    if plan.picture is None:
        return None
    cell = plan.cells[policy] if 0 <= policy < len(plan.cells) else None
    if cell is None or not cell.blocked:
        return PlanDrawing(plan.picture)
    return PlanDrawing(plan.picture, blocked=cell.step, rule=cell.rule)


def render_plan(plan: PlanView, policy: int, policy_name: str) -> list[Text]:
    """The plan as lines of rich text: a summary, then each step and its verdict.

    The drawing (:func:`plan_drawing`) goes between the two in the pane.
    """
    title = Text(f"plan {plan.ident}: ", style="bold")
    title.append(plan.goal, style="bold")
    title.append(f" from {plan.entry}, cost {plan.cost}")
    if plan.records is not None:
        title.append(f", {plan.records:,} records")
    title.append(f"  (found under {', '.join(plan.found_under)})", style="dim")
    verdict = Text(f"under {policy_name}: ", style="bold")
    cell = plan.cells[policy] if 0 <= policy < len(plan.cells) else None
    if cell is None:
        verdict.append("no verdict")
    elif cell.blocked:
        verdict.append(f"BLOCKED at step {cell.step} by {cell.rule}", style="bold green")
    else:
        verdict.append(f"OPEN, P(detected) {cell.p_detected or 0.0:.2f}", style="bold red")
    lines = [title, verdict]
    for s in plan.steps:
        lines.extend(_step(s, policy))
    return lines


class PathDetail(VerticalScroll):
    """Scrollable detail of the selected plan under the current policy."""

    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Path detail"
        self.can_focus = True
        self.tooltip = "The kill chain step by step; enter on a plan zooms, escape restores"
        self.text = ""

    def compose(self) -> ComposeResult:
        """One static holding the rendered plan."""
        yield Static("Select a plan in the matrix.", id="detail-body")

    def show(self, plan: PlanView | None, policy: int, policy_name: str) -> None:
        """Show ``plan`` under policy number ``policy`` (or a hint when none)."""
        body = self.query_one("#detail-body", Static)
        if plan is None:
            hint = Text("No plan selected: pick one in the matrix.", style="dim")
            self.text = hint.plain
            body.update(hint)
            self.border_title = "Path detail"
            return
        lines = render_plan(plan, policy, policy_name)
        drawing = plan_drawing(plan, policy)
        width = self.content_region.width or TEXT_WIDTH
        drawn = drawing.lines(width) if drawing is not None else []
        self.text = "\n".join(t.plain for t in [*lines[:2], *drawn, *lines[2:]])
        parts: list[RenderableType] = [*lines[:2], *([drawing] if drawing else []), *lines[2:]]
        body.update(Group(*parts))
        # as Text: a str title is read as markup, and the names are user text
        self.border_title = Text(f"Path detail: {plan.goal} under {policy_name}")
