"""The walk-through's panes: the kill-chain strip, the policies' verdicts, the step card.

Each is drawn from a :class:`~ztsim.tui.walkmodel.WalkCard` by a function that
returns rich text (escaped: names come from user files), so the tests read the
same lines the screen shows.  Colours follow the main screen: green where a policy
stops the attacker, red where the plan is open, dim after the stop.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ztsim.output.drawing.text import PlanDrawing
from ztsim.tui.safetext import Text
from ztsim.tui.walkdata import StepControl
from ztsim.tui.walkmodel import ChainItem, WalkCard
from ztsim.tui.widgets.detail import TEXT_WIDTH

__all__ = [
    "StepCard",
    "card_blocks",
    "card_text",
    "policies_grid",
    "render_card",
    "render_chain",
    "render_policies",
]

_CHAIN_STYLE = {
    "open": "red",
    "stop": "bold green",
    "denied": "green",
    "after": "dim",
    "after-denied": "dim green",
}


def _chain_item(item: ChainItem) -> Text:
    mark = "✗" if item.state in ("stop", "denied", "after-denied") else ""
    style = _CHAIN_STYLE[item.state]
    if item.current:
        style += " reverse"
    return Text(f"{mark}{item.number} {item.label}", style=style)


def render_chain(card: WalkCard) -> Text:
    """The plan's steps on a line (wrapping): the current one reversed, ``✗`` where the
    policy stops the plan (and, dimmed, later steps it would stop too)."""
    line = Text(" ")
    for n, item in enumerate(card.chain):
        if n:
            line.append(" › ", style="dim")
        line.append(_chain_item(item))
    return line


def render_policies(card: WalkCard) -> list[Text]:
    """One line per policy: its fate for the plan, and what it does with this step."""
    out: list[Text] = []
    width = max((len(p.name) for p in card.policies), default=0)
    for p in card.policies:
        line = Text("▶ " if p.current else "  ", style="bold")
        line.append(p.name.ljust(width), style="bold" if p.current else "")
        line.append("  ")
        line.append(p.fate, style="green" if p.blocked else "red")
        line.append(" · ", style="dim")
        line.append(p.here, style="bold green" if p.here_stops else "dim")
        out.append(line)
    return out


def policies_grid(card: WalkCard) -> Table:
    """:func:`render_policies` as a grid: on a narrow screen a policy's words wrap
    under themselves, never under the names."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    for p in card.policies:
        name = Text("▶ " if p.current else "  ", style="bold")
        name.append(p.name, style="bold" if p.current else "")
        what = Text(p.fate, style="green" if p.blocked else "red")
        what.append(" · ", style="dim")
        what.append(p.here, style="bold green" if p.here_stops else "dim")
        grid.add_row(name, what)
    return grid


def _section(title: str) -> Text:
    return Text(title, style="bold underline")


#: A block of the card: a line, or rows of (label, value) drawn as a two-column grid
#: (long values wrap under themselves, not under the label).
Rows = tuple[tuple[str, Text], ...]
Block = Text | Rows


def _rows(label: str, values: tuple[str, ...] | list[str], style: str = "") -> Rows:
    return tuple((label if n == 0 else "", Text(v, style=style)) for n, v in enumerate(values))


def _head(card: WalkCard) -> list[Block]:
    head = Text(f"step {card.number} of {card.total}  ", style="bold")
    if card.tactic:
        head.append(card.tactic, style="bold magenta")
    tech = Text("")
    if card.technique:
        tech.append(card.technique, style="bold cyan")
        tech.append(f" {card.technique_name}", style="cyan")
    else:
        tech.append("entry point (no ATT&CK technique of its own)", style="cyan")
    if card.url:
        tech.append(f"  {card.url}", style="dim")
    return [head, tech]


def _stop_banner(card: WalkCard) -> Text:
    if card.stop is None:
        return Text(f"under {card.policy} the plan is open: every step goes through", style="red")
    if not card.reached:
        return Text(
            f"under {card.policy} the attacker never gets here: the plan stops at step "
            f"{card.stop} ({card.stop_rule}); were it reached, this step would meet:",
            style="green",
        )
    if card.number == card.stop:
        return Text(f"under {card.policy} the plan stops HERE", style="bold green")
    return Text(
        f"under {card.policy} this step goes through; the plan stops later, at step "
        f"{card.stop} ({card.stop_rule})",
        style="yellow",
    )


def _stop_title(card: WalkCard) -> str:
    if any(c.stops for c in card.controls):
        return f"What in {card.policy} stops it"
    if all(c.kind in ("none", "detection") for c in card.controls):
        return "What would stop it"
    return f"What would stop it ({card.policy} lacks it)"


def _control(c: StepControl) -> tuple[str, Text]:
    """``✓ stops`` / ``✓ has`` / ``✓ sees`` / ``✗ lacks`` / ``– none`` and the control."""
    if c.kind == "none":
        return "– none", Text(c.text, style="dim")
    if c.kind == "detection":
        label, style = ("✓ sees", "magenta") if c.present else ("✗ lacks", "dim")
        return label, Text(c.text, style=style)
    if c.stops or c.present:
        # a rule's own words name the flow and the rule; a setting's name is clearer
        words = c.decision if c.kind in ("segmentation", "egress") and c.decision else c.text
        value = Text(words, style="bold green" if c.stops else "green")
        label = "✓ stops" if c.stops else "✓ has"
    else:
        value = Text(c.text, style="yellow")
        label = "✗ lacks"
    if c.location and (not c.decision or c.location not in c.decision or not c.present):
        value.append(f"  ({c.location})", style="dim")
    return label, value


def card_blocks(card: WalkCard) -> list[Block]:
    """The step in full: technique, why it was possible, mitigations, what stops it."""
    blocks = _head(card)
    if card.sentence:
        blocks.append(Text(card.sentence, style="italic"))
    if card.allowed:
        why = f"Why it was possible under {card.policy}"
    else:
        why = f"What it needed (possible under {', '.join(card.found_under)})"
    decision = Text(card.policy_decision, style="" if card.allowed else "bold green")
    blocks += [
        Text(""),
        _section(why),
        (
            *_rows("it used", card.needs),
            ("topology", Text(card.topology)),
            ("policy", decision),
            *_rows("it gave", card.gives, "bold"),
        ),
        Text(""),
        _section("ATT&CK mitigations"),
    ]
    if card.mitigations:
        blocks.append((("", Text(" · ".join(card.mitigations))),))
    else:
        blocks.append(Text("  none listed for this step", style="dim"))
    blocks += [
        Text(""),
        _section(_stop_title(card)),
        _stop_banner(card),
        tuple(_control(c) for c in card.controls),
    ]
    return blocks


def _renderable(block: Block) -> RenderableType:
    if isinstance(block, Text):
        return block
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=9, style="dim", no_wrap=True)
    grid.add_column(ratio=1)
    for label, value in block:
        grid.add_row(Text(label), value)
    return Padding(grid, (0, 0, 0, 2))


def _plain(block: Block) -> list[str]:
    if isinstance(block, Text):
        return [block.plain]
    return [f"  {label:<9} {value.plain}".rstrip() for label, value in block]


def render_card(card: WalkCard) -> list[RenderableType]:
    """The card's blocks as rich renderables (grids for the labelled rows)."""
    return [_renderable(b) for b in card_blocks(card)]


def card_text(card: WalkCard) -> str:
    """The card as plain text, one labelled row a line (tests, exports)."""
    return "\n".join(line for b in card_blocks(card) for line in _plain(b))


class StepCard(VerticalScroll):
    """The current step, scrollable (``up`` / ``down`` scroll it)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.can_focus = True
        self.text = ""

    def compose(self) -> ComposeResult:
        """One static holding the card."""
        yield Static("", id="walk-card-body")

    def show(self, card: WalkCard, drawing: PlanDrawing | None = None) -> None:
        """Show ``card`` (then ``drawing``, the plan drawn), scrolled to its top."""
        parts = render_card(card)
        self.text = card_text(card)
        if drawing is not None:
            title = _section(f"The plan drawn, under {card.policy}")
            width = self.content_region.width or TEXT_WIDTH
            self.text += "\n\n" + "\n".join(t.plain for t in [title, *drawing.lines(width)])
            parts += [Text(""), title, drawing]
        self.query_one("#walk-card-body", Static).update(Group(*parts))
        self.border_title = Text(f"Step {card.number}/{card.total}: {card.action}")
        self.scroll_home(animate=False)
