"""The Diff tab: a base and a proposed policy side by side, opened and closed plans highlighted."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from ztsim.tui.diffview import DiffView, PlanDiffRow, StepSide
from ztsim.tui.safetext import Text

__all__ = ["DiffPane", "render_plan_diff"]

#: Colour of a change: what the proposed policy opens or breaks is red.
CHANGE_STYLE = {
    "opened": "bold red",
    "closed": "green",
    "moved": "yellow",
    "broken": "bold red",
    "restored": "green",
    "added": "cyan",
    "removed": "magenta",
    "changed": "yellow",
}

SECTIONS = ("goals", "plans", "traffic", "rules", "settings")


def _change(change: str) -> Text:
    return Text(change, style=CHANGE_STYLE.get(change, ""))


def _side(s: StepSide) -> Text:
    if not s.reached:
        return Text("· " + s.text, style="dim")
    if not s.allowed:
        return Text("✗ " + s.text, style="bold green")
    if not s.network:
        return Text("– " + s.text, style="dim")
    return Text("✓ " + s.text, style="yellow")


def render_plan_diff(plan: PlanDiffRow, base: str, proposed: str) -> list[RenderableType]:
    """A changed plan: a summary, then each step under both policies side by side."""
    head = Text(f"plan {plan.ident} ", style="bold")
    head.append(plan.change, style=CHANGE_STYLE.get(plan.change, ""))
    head.append(f": {plan.goal} from {plan.entry}, cost {plan.cost}")
    cause = Text(f"step {plan.step} ({plan.step_text}), by ", style="bold")
    cause.append(plan.cause, style="bold cyan")
    why = Text(plan.why, style="dim")
    table = Table(expand=True, show_edge=False, pad_edge=False, box=None, show_lines=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("step", ratio=2)
    # headers as Text: a str would be read as markup, and names are user text
    table.add_column(Text(f"base {base}: {plan.base_verdict}"), ratio=3)
    table.add_column(Text(f"proposed {proposed}: {plan.proposed_verdict}"), ratio=3)
    for s in plan.steps:
        mark = "▶" if s.responsible else " "
        step = Text(f"{s.technique} ", style="cyan") if s.technique else Text()
        step.append(s.text)
        table.add_row(
            Text(f"{mark}{s.number}", style="bold"),
            step,
            _side(s.base),
            _side(s.proposed),
            style="on grey23" if s.responsible else None,
        )
    return [head, cause, why, table]


class DiffTable(DataTable[Text]):
    """One section of the diff (goals, plans, traffic, rules or settings)."""

    def scroll_visible(self, *args: Any, **kwargs: Any) -> None:
        """Bring the section into view with its title line above it (on focus)."""
        parent = self.parent
        titles = parent.query(f"#{self.id}-title") if parent is not None and self.id else None
        if titles:
            kwargs.update(top=True)
            titles.first().scroll_visible(*args, **kwargs)
            return
        super().scroll_visible(*args, **kwargs)


class DiffDetail(VerticalScroll):
    """The selected changed plan, step by step under both policies."""

    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Plan under both policies"
        self.can_focus = True
        self.text = ""

    def compose(self) -> ComposeResult:
        """One static holding the rendered plan."""
        yield Static(id="diff-detail-body")

    def show(self, plan: PlanDiffRow | None, base: str, proposed: str) -> None:
        """Show ``plan`` (or a hint when none is selected)."""
        body = self.query_one("#diff-detail-body", Static)
        if plan is None:
            hint = Text("Select an opened or closed plan above.", style="dim")
            self.text = hint.plain
            body.update(hint)
            self.border_title = "Plan under both policies"
            return
        parts = render_plan_diff(plan, base, proposed)
        lines = [p.plain for p in parts if isinstance(p, Text)]
        lines.append(
            f"# | step | base {base}: {plan.base_verdict} | "
            f"proposed {proposed}: {plan.proposed_verdict}"
        )
        lines += [
            f"{'▶' if s.responsible else ' '}{s.number} | {s.text} | {s.base.text} | "
            f"{s.proposed.text}"
            for s in plan.steps
        ]
        self.text = "\n".join(lines)
        body.update(Group(*parts))
        self.border_title = f"Plan {plan.ident} ({plan.change}): {base} vs {proposed}"


class DiffPane(Vertical):
    """Base and proposed policy (``b`` / ``p`` cycle them), the verdict, then what changed."""

    BINDINGS = [
        Binding(
            "b", "cycle('base')", "Base", id="diff.base", tooltip="Compare from the next policy"
        ),
        Binding(
            "p",
            "cycle('proposed')",
            "Proposed",
            id="diff.proposed",
            tooltip="Compare to the next policy",
        ),
        Binding("x", "swap", "Swap", id="diff.swap", tooltip="Swap base and proposed"),
    ]

    class Requested(Message):
        """The tab needs the diff of policy ``base`` against policy ``proposed`` (to the app)."""

        def __init__(self, base: int, proposed: int) -> None:
            self.base = base
            self.proposed = proposed
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.names: tuple[str, ...] = ()
        self.base = 0
        self.proposed = 1
        self.view: DiffView | None = None
        self.active = False
        self._stale = True
        #: The header as shown (the pair, then the verdict line once computed).
        self.head_text = Text()
        self.border_title = "Diff"

    def compose(self) -> ComposeResult:
        """Header, the sections, the plan detail."""
        yield Static(id="diff-head")
        # one frame around every section, its scrollbar inside it: sections are
        # told apart by a title line, not by frames of their own (which the
        # scrolling cut, and whose borders met the detail's)
        body = VerticalScroll(id="diff-body")
        body.border_title = "What changes"
        with body:
            yield Static(id="diff-none")
            for name in SECTIONS:
                title = Static(id=f"diff-{name}-title", classes="diff-title")
                title.display = False
                yield title
                table = DiffTable(id=f"diff-{name}", cursor_type="row", zebra_stripes=True)
                table.display = False
                yield table
        yield DiffDetail(id="diff-detail")

    # ------------------------------------------------------------------ from the screen

    @property
    def pair(self) -> tuple[int, int]:
        """Indexes of the base and proposed policies."""
        return self.base, self.proposed

    def set_policies(self, names: tuple[str, ...]) -> None:
        """New results: keep base and proposed by name, and ask for a fresh diff."""
        old = self.names
        if old and 0 <= self.base < len(old) and 0 <= self.proposed < len(old):
            b, p = old[self.base], old[self.proposed]
            self.base = names.index(b) if b in names else 0
            self.proposed = names.index(p) if p in names else 1
        self.names = names
        if len(names) >= 2 and (self.base == self.proposed or self.proposed >= len(names)):
            self.base, self.proposed = 0, 1
        self._stale = True
        self._head()
        self.request()

    def set_active(self, active: bool) -> None:
        """The tab is shown (or hidden): compute the diff when first shown."""
        self.active = active
        if active:
            self.request()

    def request(self) -> None:
        """Ask the app for the diff when the tab is shown and the diff is out of date."""
        if not (self.active and self._stale):
            return
        if len(self.names) < 2:
            self._only_one()
            return
        self._stale = False
        # the first time only: covering the tables later would take their focus away
        self.loading = self.view is None
        # straight to the app: bubbling stops at the sender, which may be the screen or
        # the app itself when this runs from one of their handlers
        self.app.post_message(self.Requested(self.base, self.proposed))

    def show(self, view: DiffView) -> None:
        """Show a computed diff, keeping the selected plan."""
        keep = self.selected
        self.view = view
        self.loading = False
        self._head()
        none = self.query_one("#diff-none", Static)
        none.display = view.empty or not (view.goals or view.plans or view.traffic)
        if view.empty:
            none.update(Text("No difference: same rules, settings and verdicts.", style="bold"))
        else:
            none.update(Text("No difference in verdicts (the files differ).", style="dim"))
        self._fill(view)
        if self.query_one("#diff-body").has_focus:
            # the tab was opened before the diff was in: focus its first section
            self.focus_first()
        if keep is not None and view.plan(keep) is not None:
            rows = [p.ident for p in view.plans]
            self.query_one("#diff-plans", DiffTable).move_cursor(row=rows.index(keep))
        self._detail()

    def focus_first(self) -> None:
        """Focus the Plans section (else the first section shown, else the body)."""
        shown = [t for t in self.query(DiffTable) if t.display]
        plans = [t for t in shown if t.id == "diff-plans"]
        target: Widget = (plans or shown)[0] if shown else self.query_one("#diff-body")
        # not scrolled by the screen (it centres a table taller than the body, its
        # title out of view, and not always the same way): its title at the top
        target.focus(scroll_visible=False)
        if isinstance(target, DiffTable):
            self.call_after_refresh(target.scroll_visible, animate=False)

    @property
    def selected(self) -> str | None:
        """The id of the plan under the cursor of the Plans section."""
        if self.view is None or not self.view.plans:
            return None
        row = self.query_one("#diff-plans", DiffTable).cursor_row
        return self.view.plans[row].ident if 0 <= row < len(self.view.plans) else None

    # ------------------------------------------------------------------ drawing

    def _head(self) -> None:
        head = self.query_one("#diff-head", Static)
        if len(self.names) < 2:
            return
        text = Text("base ", style="dim")
        text.append(self.names[self.base], style="bold")
        text.append(" (b)  →  proposed ", style="dim")
        text.append(self.names[self.proposed], style="bold")
        text.append(" (p)   x swaps", style="dim")
        v = self.view
        if v is not None and (v.base, v.proposed) == (
            self.names[self.base],
            self.names[self.proposed],
        ):
            text.append("\n")
            text.append(v.verdict, style="bold red" if v.failed else "bold green")
        elif self.active:
            text.append("\ncomputing the diff…", style="dim italic")
        self.head_text = text
        head.update(text)

    def _only_one(self) -> None:
        self.view = None
        self.loading = False
        self.head_text = Text(
            "Load two policies to compare them: ztsim tui TOPOLOGY BASE PROPOSED", style="bold"
        )
        self.query_one("#diff-head", Static).update(self.head_text)
        self.query_one("#diff-none", Static).display = False
        for name in SECTIONS:
            self.query_one(f"#diff-{name}", DiffTable).display = False
            self.query_one(f"#diff-{name}-title", Static).display = False
        self.query_one(DiffDetail).display = False

    def _fill(self, v: DiffView) -> None:
        sections: dict[str, tuple[str, tuple[str, ...], list[tuple[Text, ...]]]] = {
            "goals": (
                f"Goals: {len(v.goals)} changed",
                ("change", "goal", f"base {v.base}", f"proposed {v.proposed}"),
                [
                    (_change(g.change), Text(g.goal), Text(g.base), Text(g.proposed))
                    for g in v.goals
                ],
            ),
            "plans": (
                f"Plans: {len(v.plans)} changed of {v.plans_compared} compared",
                # the rule before the step's text, which is long: on 80 columns it
                # is the text that runs past the edge, not the rule
                ("change", "plan", "goal", "cost", "rule", "responsible step"),
                [
                    (
                        _change(p.change),
                        Text(p.ident, style=CHANGE_STYLE.get(p.change, "")),
                        Text(p.goal),
                        Text(str(p.cost), justify="right"),
                        Text(p.cause, style="cyan"),
                        Text(f"{p.step}. {p.step_text}"),
                    )
                    for p in v.plans
                ],
            ),
            "traffic": (
                f"Legitimate traffic: {len(v.traffic)} changed",
                ("change", "flow", f"base {v.base}", f"proposed {v.proposed}"),
                [
                    (_change(t.change), Text(t.flow), Text(t.base), Text(t.proposed))
                    for t in v.traffic
                ],
            ),
            "rules": (
                f"Rules: {len(v.rules)} changed",
                ("change", "section", "rule", "where", "detail"),
                [
                    (
                        _change(r.change),
                        Text(r.section),
                        Text(r.rule, style="bold"),
                        Text(r.location, style="dim"),
                        Text(r.detail),
                    )
                    for r in v.rules
                ],
            ),
            "settings": (
                f"Settings: {len(v.settings)} changed",
                ("setting", f"base {v.base}", f"proposed {v.proposed}"),
                [
                    (Text(s.setting, style="bold"), Text(s.base), Text(s.proposed))
                    for s in v.settings
                ],
            ),
        }
        for name, (title, columns, rows) in sections.items():
            table = self.query_one(f"#diff-{name}", DiffTable)
            with self.prevent(DataTable.RowHighlighted):
                table.clear(columns=True)
                # Explicit widths: DataTable otherwise sizes columns on a later idle
                # event, and a screen drawn before it shows them header-wide.
                for i, c in enumerate(columns):
                    width = max([cell_len(c), *(row[i].cell_len for row in rows)])
                    table.add_column(c, width=width)
                for n, row in enumerate(rows):
                    table.add_row(*row, key=str(n))
            table.border_title = title
            table.display = bool(rows)
            label = self.query_one(f"#diff-{name}-title", Static)
            label.update(Text(title, style="bold"))
            label.display = bool(rows)
        self.query_one(DiffDetail).display = bool(v.plans)

    def _detail(self) -> None:
        v = self.view
        if v is None:
            return
        self.query_one(DiffDetail).show(v.plan(self.selected), v.base, v.proposed)

    # ------------------------------------------------------------------ actions

    def action_cycle(self, which: str) -> None:
        """Move the base or the proposed policy to the next one (never both the same)."""
        n = len(self.names)
        if n < 2:
            return
        other = self.proposed if which == "base" else self.base
        current = self.base if which == "base" else self.proposed
        nxt = (current + 1) % n
        if nxt == other:
            nxt = (nxt + 1) % n
        if which == "base":
            self.base = nxt
        else:
            self.proposed = nxt
        self._changed()

    def action_swap(self) -> None:
        """Swap base and proposed."""
        self.base, self.proposed = self.proposed, self.base
        self._changed()

    def choose(self, base: int, proposed: int) -> None:
        """Compare policy ``base`` to policy ``proposed``."""
        n = len(self.names)
        if base != proposed and 0 <= base < n and 0 <= proposed < n:
            self.base, self.proposed = base, proposed
            self._changed()

    def _changed(self) -> None:
        self._stale = True
        self._head()
        self.request()

    def zoom(self) -> None:
        """Zoom the plan detail to the whole screen (``escape`` restores)."""
        detail = self.query_one(DiffDetail)
        if detail.display:
            detail.focus()
            self.screen.maximize(detail, container=False)

    @on(DataTable.RowSelected, "#diff-plans")
    def _plan_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.zoom()

    @on(DataTable.RowHighlighted, "#diff-plans")
    def _plan_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._detail()
