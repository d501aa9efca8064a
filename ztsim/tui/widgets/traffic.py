"""The Traffic tab: every legitimate flow against every policy."""

from __future__ import annotations

from rich.cells import cell_len
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ztsim.tui.safetext import Text
from ztsim.tui.viewmodel import FlowView
from ztsim.tui.widgets.matrix import PAD, Column, fit_columns

__all__ = ["TrafficPane"]


class TrafficPane(Vertical):
    """Flows as rows, policies as columns (allowed / BROKEN by rule); why, below."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._flows: tuple[FlowView, ...] = ()
        self._names: tuple[str, ...] = ()
        self._width = 0  # the width the columns were last fitted to

    def compose(self) -> ComposeResult:
        """The flow table and the explanation of the flow under the cursor."""
        table = DataTable[Text](id="traffic-table", cursor_type="row", zebra_stripes=True)
        table.fixed_columns = 2
        yield table
        yield Static(id="traffic-why")

    def show(self, flows: tuple[FlowView, ...], names: tuple[str, ...]) -> None:
        """Replace the rows, keeping the cursor row."""
        table = self.query_one(DataTable)
        keep = table.cursor_row
        self._flows, self._names = flows, names
        broken = sum(1 for f in flows if any(not c.allowed for c in f.cells))
        self.border_title = f"Legitimate traffic: {len(flows)} flow(s), {broken} broken somewhere"
        # as in the paths matrix, a column is in view whole or not at all: a rule id
        # is never cut at the edge (the ones past it are named in the subtitle)
        cells = {
            "from": ["from", *(f.source for f in flows)],
            "to": ["to", *(f.to for f in flows)],
            "service": ["service", *(f.service for f in flows)],
            **{f"p{i}": [n, *(f.cells[i].text for f in flows)] for i, n in enumerate(names)},
            "credential": ["credential", *(f.credential or "" for f in flows)],
        }
        columns = [Column(k, max(cell_len(x) for x in v)) for k, v in cells.items()]
        self._width = self._available()
        widths = fit_columns(columns, self._width)
        x, hidden = 0, []
        for c in columns:
            if x >= self._width and c.key.startswith("p"):
                hidden.append(names[int(c.key[1:])])
            x += widths[c.key] + PAD
        self.border_subtitle = f"→ {', '.join(hidden)}" if hidden else ""
        with self.prevent(DataTable.RowHighlighted):
            table.clear(columns=True)
            for label in ("from", "to", "service"):
                table.add_column(label, key=label, width=widths[label])
            for i, n in enumerate(names):
                # a str label is read as markup
                table.add_column(Text(n), key=f"p{i}", width=widths[f"p{i}"])
            table.add_column("credential", key="credential", width=widths["credential"])
            for f in flows:
                table.add_row(
                    Text(f.source),
                    Text(f.to),
                    Text(f.service),
                    *[Text(c.text, style="green" if c.allowed else "bold yellow") for c in f.cells],
                    Text(f.credential or "", style="dim"),
                    key=str(f.index),
                )
            if flows:
                table.move_cursor(row=min(max(keep, 0), len(flows) - 1), scroll=False)
        self._explain(table.cursor_row)

    def _available(self) -> int:
        """Cells the table shows across (its scrollbar kept aside)."""
        table = self.query_one(DataTable)
        width = table.size.width or max(self.app.size.width - 2, 0)
        return max(width - table.styles.scrollbar_size_vertical, 0)

    def on_resize(self) -> None:
        """A new width fits the columns again."""
        if self._flows and self._width != self._available():
            self.show(self._flows, self._names)

    def _explain(self, row: int) -> None:
        why = self.query_one("#traffic-why", Static)
        if not 0 <= row < len(self._flows):
            why.update(Text("No legitimate flow in the topology.", style="dim"))
            return
        f = self._flows[row]
        text = Text(f"{f.source} -> {f.to} {f.service}", style="bold")
        for c in f.cells:
            text.append(f"\n{c.policy}: ", style="bold")
            text.append(c.explanation, style="" if c.allowed else "yellow")
        why.update(text)

    @on(DataTable.RowHighlighted, "#traffic-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._explain(event.cursor_row)
