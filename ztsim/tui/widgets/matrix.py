"""The paths matrix: one row per plan, one column per policy (the heart of the TUI).

Columns: goal, entry, cost, one verdict per policy, then ``via`` (the hosts the
plan moves through, which tells apart plans whose technique chains read the
same), the technique chain and the records at risk.  Below ``NARROW`` columns
the entry moves after the verdicts, so they stay in view on 80 columns.
"""

from __future__ import annotations

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

__all__ = ["NARROW", "PathsPane"]

#: Below this width (in cells) the entry column goes after the verdicts.
NARROW = 100


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
        self._narrow: bool | None = None
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

    @property
    def narrow(self) -> bool:
        """Whether the screen is too narrow for the entry column before the verdicts."""
        return self.app.size.width < NARROW

    def _add_rows(self, plans: list[PlanView]) -> None:
        t = self.table
        narrow = bool(self._narrow)
        for p in plans:
            entry = Text(p.entry)
            cells = [
                Text(str(p.cost), justify="right"),
                *[_cell(c) for c in p.cells],
            ]
            t.add_row(
                _Goal(p.goal, p.ident),
                *([*cells, entry] if narrow else [entry, *cells]),
                Text(p.via, style="magenta"),
                Text(p.chain, style="cyan"),
                Text("" if p.records is None else f"{p.records:,}", justify="right"),
                key=p.ident,
            )

    def _move_to(self, ident: str | None) -> None:
        row = next((n for n, p in enumerate(self._shown) if p.ident == ident), 0)
        if self._shown:
            with self.prevent(DataTable.RowHighlighted):
                self.table.move_cursor(row=row, column=0, scroll=True)

    def _redraw(self, keep: str | None) -> None:
        t = self.table
        self._shown = self.query_state.apply(self._plans, self.policy)
        self._narrow = self.narrow
        with self.prevent(DataTable.RowHighlighted):
            t.clear(columns=True)
            # verdicts right after goal, entry and cost (after goal and cost only when
            # narrow), so they stay in view; then the hosts and techniques, which
            # tell plans of one goal apart
            t.add_column(self._label("goal"), key="goal")
            if not self._narrow:
                t.add_column("entry", key="entry")
            t.add_column(self._label("cost"), key="cost")
            for i in range(len(self._names)):
                t.add_column(self._policy_label(i), key=f"p{i}")
            if self._narrow:
                t.add_column("entry", key="entry")
            t.add_column("via", key="via")
            t.add_column("techniques", key="chain")
            t.add_column(self._label("records"), key="records")
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
        with self.prevent(DataTable.RowHighlighted):
            self._add_rows([p for p in shown if p.ident in fresh])
            order = {p.ident: n for n, p in enumerate(shown)}
            self.table.sort("goal", key=lambda goal: order[goal.ident])
        self._move_to(keep)
        self._titles()
        if keep is None:
            self.post_message(self.PlanHighlighted(self.selected))

    def _titles(self) -> None:
        self.border_title = f"Paths {len(self._shown)}/{len(self._plans)}"
        self.border_subtitle = self.query_state.describe() + (
            f" · {self._progress}" if self._progress else ""
        )
        f = self.query_one(FilterInput)
        f.display = f.has_focus or bool(self.query_state.text.strip())

    # ------------------------------------------------------------------ events

    def on_resize(self) -> None:
        """Crossing the ``NARROW`` width moves the entry column."""
        if self._narrow is not None and self._narrow != self.narrow and self.table.columns:
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
