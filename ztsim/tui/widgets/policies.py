"""The Policies pane: one row per policy with its verdict at a glance."""

from __future__ import annotations

from textual import on
from textual.message import Message
from textual.widgets import DataTable

from ztsim.tui.safetext import Text
from ztsim.tui.viewmodel import PolicySummary

__all__ = ["PoliciesTable"]


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

    def on_mount(self) -> None:
        """Lay out the columns once."""
        for label, key in (
            ("policy", "policy"),
            ("goals reachable", "goals"),
            # Records the attacker can exfiltrate, and records it can tamper with.
            ("exfiltrable", "records"),
            ("tamperable", "tamperable"),
            ("plans blocked", "plans"),
            ("flows broken", "flows"),
            ("file", "file"),
        ):
            self.add_column(label, key=key)

    def show(self, policies: tuple[PolicySummary, ...], current: int) -> None:
        """Replace the rows, keeping the cursor on policy ``current``."""
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
