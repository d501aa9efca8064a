"""The Policies pane: one row per policy with its verdict at a glance."""

from __future__ import annotations

from textual import on
from textual.message import Message
from textual.widgets import DataTable

from ztsim.tui.safetext import Text
from ztsim.tui.viewmodel import PolicySummary

__all__ = ["HEADERS", "PoliciesTable"]

#: Column keys and their headers, long and (below ``SHORT_BELOW`` cells) short, so
#: every count stays in view on 80 columns.
HEADERS = {
    "policy": ("policy", "policy"),
    "goals": ("goals reachable", "goals"),
    # records the attacker can exfiltrate, and records it can tamper with
    "records": ("exfiltrable", "exfil"),
    "tamperable": ("tamperable", "tamper"),
    "plans": ("plans blocked", "blocked"),
    "flows": ("flows broken", "broken"),
    "file": ("file", "file"),
}
#: The screen width below which the short headers are used.
SHORT_BELOW = 100


def _verdict(s: PolicySummary) -> Text:
    if s.safe:
        return Text(f"✓ 0/{s.goals}", style="bold green")
    return Text(f"✗ {s.goals_reachable}/{s.goals}", style="bold red")


def _records(n: int) -> Text:
    return Text(f"{n:,}", style="red" if n else "green", justify="right")


class PoliciesTable(DataTable[Text]):
    """Policies with goals reachable (red) or none (green), records, plans, flows.

    Moving the cursor chooses the current policy (the one the path detail and
    the traffic explanations are about).
    """

    class PolicyChosen(Message):
        """The user moved to policy number ``index``."""

        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, show_cursor=True)
        self.border_title = "Policies"
        self.tooltip = "Up/down or click: choose the policy the detail panes explain"
        self._policies: tuple[PolicySummary, ...] = ()
        self._short = False

    def on_mount(self) -> None:
        """Lay out the columns for the width the screen has."""
        self._columns()

    @property
    def short(self) -> bool:
        """Whether the screen is too narrow for the long headers."""
        return self.app.size.width < SHORT_BELOW

    def _columns(self) -> None:
        self._short = self.short
        self.clear(columns=True)
        for key, (long, short) in HEADERS.items():
            self.add_column(short if self._short else long, key=key)

    def on_resize(self) -> None:
        """Crossing ``SHORT_BELOW`` switches the headers (and the rows are laid out again)."""
        if self._short != self.short:
            self._columns()
            self.show(self._policies, self.cursor_row)

    def show(self, policies: tuple[PolicySummary, ...], current: int) -> None:
        """Replace the rows, keeping the cursor on policy ``current``."""
        self._policies = policies
        with self.prevent(DataTable.RowHighlighted):
            self.clear()
            for i, s in enumerate(policies):
                plans = "…" if s.plans is None else f"{s.plans_blocked}/{s.plans}"
                self.add_row(
                    Text(s.name, style="bold"),
                    _verdict(s),
                    _records(s.records_exfiltrable),
                    _records(s.records_tamperable),
                    Text(plans, justify="right"),
                    Text(
                        f"{s.flows_broken}/{s.flows}",
                        style="yellow" if s.flows_broken else "",
                        justify="right",
                    ),
                    Text(s.path, style="dim"),
                    key=str(i),
                )
            if policies:
                self.move_cursor(row=min(current, len(policies) - 1), scroll=False)

    @on(DataTable.RowHighlighted)
    def _chosen(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.PolicyChosen(int(event.row_key.value)))

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.PolicyChosen(int(event.row_key.value)))
