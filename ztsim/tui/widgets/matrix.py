"""The paths matrix: one row per plan, one column per policy (the heart of the TUI).

Columns: goal, cost, ``via`` (what tells the plan apart from the others of its
goal and cost, :func:`~ztsim.tui.viewmodel.differences`), one verdict per
policy, then the entry, the technique chain and the records at risk.  ``via``
gets the room the verdicts leave, and moves after them when that is too little
(:func:`fit_columns`).  A column the screen cannot show whole starts past its
right edge rather than cut: a verdict's step number and rule stay whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input
from textual.widgets.data_table import ColumnKey

from ztsim.tui.query import SORTS, PlanQuery, parse_filter
from ztsim.tui.safetext import Text
from ztsim.tui.viewmodel import Cell, PlanView

__all__ = ["Column", "PathsPane", "fit_columns"]

#: The fewest cells ``via`` is given before the verdicts; with less it goes after them.
VIA_MIN = 16
#: Cells around each column's content (the table's ``cell_padding`` on both sides).
PAD = 2


@dataclass(frozen=True)
class Column:
    """A column of the matrix: its key, and the cells its header and rows need."""

    key: str
    width: int
    flexible: bool = False


def fit_columns(columns: list[Column], available: int) -> dict[str, int]:
    """Content widths for ``columns`` in a table ``available`` cells wide.

    Columns keep their width while they fit.  The first that does not fit is
    shrunk when it is ``flexible`` (to the room left, at least ``VIA_MIN``);
    otherwise the column before it widens so that it starts past the right edge:
    on screen a column is whole or absent, never cut (scrolling shows the rest).

    >>> fit_columns([Column("a", 10), Column("b", 10), Column("c", 10)], 30)
    {'a': 10, 'b': 16, 'c': 10}
    >>> fit_columns([Column("a", 10), Column("v", 40, True), Column("c", 4)], 40)
    {'a': 10, 'v': 26, 'c': 4}
    """
    out = {c.key: c.width for c in columns}
    x = 0
    for n, c in enumerate(columns):
        w = c.width + PAD
        if x + w <= available:
            x += w
            continue
        room = available - x - PAD
        if c.flexible and room >= VIA_MIN:
            out[c.key] = room
        elif n and available > x:
            prev = columns[n - 1].key
            out[prev] += available - x
        break
    return out


def _cell(c: Cell) -> Text:
    if c.blocked:
        return Text(c.text, style="green")
    return Text(c.text, style="bold red")


class _Goal(Text):
    """The goal cell, which also knows its plan (to sort the table in place)."""

    def __init__(self, text: str, ident: str) -> None:
        super().__init__(text)
        self.ident = ident


class FilterInput(Input):
    """The ``/`` filter line above the matrix."""

    BINDINGS = [
        Binding("escape", "clear", "Clear filter", id="filter.clear", tooltip="Clear and close"),
    ]

    class Closed(Message):
        """The user left the filter (``enter`` keeps it, ``escape`` clears it)."""

    def action_clear(self) -> None:
        """Clear the filter and go back to the matrix."""
        self.value = ""
        self.post_message(self.Closed())

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Closed())


class PathsTable(DataTable[Text]):
    """The matrix itself; ``enter`` opens the path detail."""


class PathsPane(Vertical):
    """The filter line and the matrix, and what is selected in it."""

    class PlanHighlighted(Message):
        """The cursor is on plan ``ident`` (None when the matrix is empty)."""

        def __init__(self, ident: str | None) -> None:
            self.ident = ident
            super().__init__()

    class PlanOpened(Message):
        """The user pressed ``enter`` on plan ``ident``."""

        def __init__(self, ident: str) -> None:
            self.ident = ident
            super().__init__()

    class PolicyChosen(Message):
        """The user clicked the header of policy number ``index``."""

        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.query_state = PlanQuery()
        self.policy = 0
        self._plans: tuple[PlanView, ...] = ()
        self._names: tuple[str, ...] = ()
        self._shown: list[PlanView] = []
        self._progress = ""
        # the plan the user chose last: reselected when it comes back after a reload
        self._wanted: str | None = None
        # the width and column order last laid out (a resize that changes them redraws)
        self._widths: tuple[int, tuple[str, ...]] | None = None
        self.border_title = "Paths"

    def compose(self) -> ComposeResult:
        """The filter line (hidden while empty) over the matrix."""
        yield FilterInput(
            placeholder="filter: text, goal:, entry:, tech:, host:, is:open|blocked",
            id="filter",
        )
        table = PathsTable(id="matrix", cursor_type="row", zebra_stripes=True)
        table.fixed_columns = 1
        table.tooltip = "enter: path detail; click a policy header to switch policy"
        yield table

    @property
    def table(self) -> PathsTable:
        """The matrix."""
        return self.query_one(PathsTable)

    @property
    def shown(self) -> list[PlanView]:
        """Plans listed, in order (after filter and sort)."""
        return list(self._shown)

    @property
    def selected(self) -> str | None:
        """The id of the plan under the cursor."""
        t = self.table
        if not self._shown or not 0 <= t.cursor_row < len(self._shown):
            return None
        return self._shown[t.cursor_row].ident

    # ------------------------------------------------------------------ updates

    def show(self, plans: tuple[PlanView, ...], names: tuple[str, ...], progress: str = "") -> None:
        """New plans (a reload, or more goals done): redraw, keeping the selection.

        While the worker streams plans in, the new ones are only appended and the
        table re-sorted: re-adding every row each time would stall the UI on big
        topologies.
        """
        old = self._plans
        grows = (
            names == self._names
            and len(plans) > len(old) > 0
            and plans[0] is old[0]
            and plans[len(old) - 1] is old[-1]
        )
        self._plans = plans
        self._names = names
        self._progress = progress
        if grows:
            self._append(plans[len(old) :])
        elif plans != old or not self.table.columns:
            self._redraw(self.selected or self._wanted)
        else:
            self._titles()

    def set_policy(self, index: int) -> None:
        """Mark policy ``index`` as current (and re-filter for ``is:``)."""
        if index == self.policy:
            return
        self.policy = index
        if any(f == "is" for f, _ in parse_filter(self.query_state.text)):
            self._redraw(self.selected)
            return
        for i in range(len(self._names)):
            column = self.table.columns.get(ColumnKey(f"p{i}"))
            if column is not None:
                column.label = self._policy_label(i)
        self.table.refresh()
        self._reveal(f"p{index}")
        self._titles()

    def _reveal(self, key: str) -> None:
        """Scroll the matrix sideways so column ``key`` is in view, whole."""
        t = self.table
        columns = t.ordered_columns
        if not columns or columns[0].key.value == key:
            return
        fixed = columns[0].width + PAD
        start = fixed
        for c in columns[1:]:
            end = start + c.width + PAD
            if c.key.value == key:
                view = self._available()
                # unscrolled when it fits so (the layout cuts no column there), else
                # first after the goal: no column cut before it
                if end <= view:
                    t.scroll_to(x=0, animate=False)
                elif end - t.scroll_x > view or start - t.scroll_x < fixed:
                    t.scroll_to(x=start - fixed, animate=False)
                return
            start = end

    def set_filter(self, text: str) -> None:
        """Filter the rows."""
        self.query_state = PlanQuery(text, self.query_state.sort)
        self._redraw(self.selected)

    def set_sort(self, sort: str) -> None:
        """Sort by ``cost``, ``records`` or ``goal``."""
        if sort in SORTS:
            self.query_state = PlanQuery(self.query_state.text, sort)
            self._redraw(self.selected)

    def cycle_sort(self) -> str:
        """Switch to the next sort order; returns it."""
        self.set_sort(self.query_state.next_sort().sort)
        return self.query_state.sort

    def select(self, ident: str) -> bool:
        """Put the cursor on plan ``ident``, clearing a filter that hides it."""
        if all(p.ident != ident for p in self._shown):
            if all(p.ident != ident for p in self._plans):
                return False
            self.query_one(FilterInput).value = ""
            self.set_filter("")
        self._wanted = ident
        self._move_to(ident)
        self.post_message(self.PlanHighlighted(self.selected))
        return True

    def open_filter(self) -> None:
        """Show the filter line and focus it."""
        f = self.query_one(FilterInput)
        f.display = True
        f.focus()

    # ------------------------------------------------------------------ drawing

    def _label(self, key: str) -> str:
        return key + (" ▾" if key == self.query_state.sort else "")

    def _policy_label(self, i: int) -> Text:
        # the marker's place is kept on every column so widths never change
        if i == self.policy:
            return Text("▸" + self._names[i], style="bold reverse")
        return Text(" " + self._names[i])

    def _available(self) -> int:
        """Cells the table shows across (its scrollbar kept aside)."""
        t = self.table
        width = t.size.width or max(self.app.size.width - 2, 0)
        return max(width - t.styles.scrollbar_size_vertical, 0)

    def _layout(self) -> tuple[list[str], dict[str, int]]:
        """Column keys in order, and their widths, for the plans shown and the width."""
        names = self._names
        plans = self._shown

        def need(header: str, cells: list[str]) -> int:
            return max([cell_len(header), *(cell_len(x) for x in cells)])

        cols = {
            "goal": need(self._label("goal"), [p.goal for p in plans]),
            "cost": need(self._label("cost"), [str(p.cost) for p in plans]),
            "via": need("via", [p.differs for p in plans]),
            "entry": need("entry", [p.entry for p in plans]),
            "chain": need("techniques", [p.chain for p in plans]),
            "records": need(
                self._label("records"),
                ["" if p.records is None else f"{p.records:,}" for p in plans],
            ),
        }
        for i, name in enumerate(names):
            cols[f"p{i}"] = need(" " + name, [p.cells[i].text for p in plans])
        verdicts = [f"p{i}" for i in range(len(names))]
        available = self._available()
        room = available - sum(cols[k] + PAD for k in ("goal", "cost", *verdicts))
        # via before the verdicts when it gets enough room there, else after them
        before = room - PAD >= min(cols["via"], VIA_MIN)
        if before:
            cols["via"] = min(cols["via"], room - PAD)  # the verdicts keep their room
        middle = ["via", *verdicts] if before else [*verdicts, "via"]
        order = ["goal", "cost", *middle, "entry", "chain", "records"]
        widths = fit_columns([Column(k, cols[k], k == "via") for k in order], available)
        return order, widths

    def _add_rows(self, plans: list[PlanView]) -> None:
        t = self.table
        order = [c.key.value for c in t.ordered_columns]
        for p in plans:
            cells: dict[str | None, Text] = {
                "goal": _Goal(p.goal, p.ident),
                "cost": Text(str(p.cost), justify="right"),
                "via": Text(p.differs, style="magenta", overflow="ellipsis", no_wrap=True),
                "entry": Text(p.entry),
                "chain": Text(p.chain, style="cyan"),
                "records": Text("" if p.records is None else f"{p.records:,}", justify="right"),
            }
            for i, c in enumerate(p.cells):
                cells[f"p{i}"] = _cell(c)
            t.add_row(*(cells[k] for k in order), key=p.ident)

    def _move_to(self, ident: str | None) -> None:
        row = next((n for n, p in enumerate(self._shown) if p.ident == ident), 0)
        if self._shown:
            with self.prevent(DataTable.RowHighlighted):
                self.table.move_cursor(row=row, column=0, scroll=True)

    def _redraw(self, keep: str | None) -> None:
        t = self.table
        self._shown = self.query_state.apply(self._plans, self.policy)
        order, widths = self._layout()
        self._widths = (self._available(), tuple(order))
        labels = {
            "goal": self._label("goal"),
            "cost": self._label("cost"),
            "via": "via",
            "entry": "entry",
            "chain": "techniques",
            "records": self._label("records"),
        }
        with self.prevent(DataTable.RowHighlighted):
            t.clear(columns=True)
            for key in order:
                if key.startswith("p") and key[1:].isdigit():
                    label: str | Text = self._policy_label(int(key[1:]))
                else:
                    label = labels[key]
                t.add_column(label, key=key, width=widths[key])
            self._add_rows(self._shown)
        self._move_to(keep)
        self._titles()
        self.post_message(self.PlanHighlighted(self.selected))

    def _append(self, new: tuple[PlanView, ...]) -> None:
        keep = self.selected
        if self._wanted is not None and self._wanted in {p.ident for p in new}:
            keep = self._wanted
        shown = self.query_state.apply(self._plans, self.policy)
        fresh = {p.ident for p in new}
        self._shown = shown
        order, widths = self._layout()
        current = {c.key.value: c.width for c in self.table.ordered_columns}
        if [c.key.value for c in self.table.ordered_columns] != order or current != widths:
            # longer names came in: the columns are laid out again
            self._redraw(keep)
            return
        with self.prevent(DataTable.RowHighlighted):
            self._add_rows([p for p in shown if p.ident in fresh])
            rank = {p.ident: n for n, p in enumerate(shown)}
            self.table.sort("goal", key=lambda goal: rank[goal.ident])
        self._move_to(keep)
        self._titles()
        if keep is None:
            self.post_message(self.PlanHighlighted(self.selected))

    def _offscreen(self) -> list[str]:
        """Names of the policies whose column starts past the right edge."""
        t = self.table
        x, view, out = 0, self._available() + t.scroll_x, []
        for c in t.ordered_columns:
            key = c.key.value or ""
            if x >= view and key.startswith("p") and key[1:].isdigit():
                out.append(self._names[int(key[1:])])
            x += c.width + PAD
        return out

    def _titles(self) -> None:
        self.border_title = f"Paths {len(self._shown)}/{len(self._plans)}"
        hidden = self._offscreen()
        # a policy whose verdicts are out of view: say where ([ ] brings it in)
        more = f" · → {', '.join(hidden)}" if hidden else ""
        self.border_subtitle = (
            self.query_state.describe() + more + (f" · {self._progress}" if self._progress else "")
        )
        f = self.query_one(FilterInput)
        f.display = f.has_focus or bool(self.query_state.text.strip())

    # ------------------------------------------------------------------ events

    def on_resize(self) -> None:
        """A new width lays the columns out again."""
        if self._widths is not None and self._widths[0] != self._available():
            self._redraw(self.selected)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.set_filter(event.value)

    @on(FilterInput.Closed)
    def _filter_closed(self, event: FilterInput.Closed) -> None:
        event.stop()
        self.table.focus()
        f = self.query_one(FilterInput)
        f.display = bool(f.value.strip())

    @on(DataTable.RowHighlighted, "#matrix")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._wanted = event.row_key.value
        self.post_message(self.PlanHighlighted(event.row_key.value))

    @on(DataTable.RowSelected, "#matrix")
    def _opened(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.PlanOpened(event.row_key.value))

    @on(DataTable.HeaderSelected, "#matrix")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = event.column_key.value or ""
        if key.startswith("p") and key[1:].isdigit():
            self.post_message(self.PolicyChosen(int(key[1:])))
        elif key in SORTS:
            self.set_sort(key)
