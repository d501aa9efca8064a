"""The Traffic tab: every legitimate flow against every policy."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ztsim.tui.safetext import Text
from ztsim.tui.viewmodel import FlowView

__all__ = ["TrafficPane"]


class TrafficPane(Vertical):
    """Flows as rows, policies as columns (allowed / BROKEN by rule); why, below."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._flows: tuple[FlowView, ...] = ()
        self._names: tuple[str, ...] = ()

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
        with self.prevent(DataTable.RowHighlighted):
            table.clear(columns=True)
            for label in ("from", "to", "service"):
                table.add_column(label, key=label)
            for i, n in enumerate(names):
                table.add_column(Text(n), key=f"p{i}")  # a str label is read as markup
            table.add_column("credential", key="credential")
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
