"""The walk-through: one plan, one step at a time, under one policy (``w`` on a plan).

For students: each step shows its ATT&CK tactic and technique, why it was possible
(the facts it used, the topology, the rule that let its flow through, with
FILE:LINE), the mitigations, and what in the policy stops it or would; ``[`` ``]``
switch the policy, and the strip at the top shows where that policy stops the plan.
Everything shown comes from :func:`ztsim.tui.walkmodel.walk_card`.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header, Static

from ztsim.tui.safetext import Text
from ztsim.tui.viewmodel import PlanView, ViewModel
from ztsim.tui.walkmodel import WalkCard, walk_card
from ztsim.tui.widgets.detail import plan_drawing
from ztsim.tui.widgets.footer import ZtsimFooter
from ztsim.tui.widgets.walk import StepCard, policies_grid, render_chain, render_policies

__all__ = ["WalkScreen"]


class WalkScreen(Screen[int]):
    """Step through ``plan`` under policy number ``policy``; dismissed with that policy.

    The screen's result is the policy chosen last, so the main screen follows it.
    """

    DEFAULT_CSS = """
    WalkScreen { layout: vertical; }
    #walk-chain { height: auto; padding: 0 1; }
    #walk-policies {
        height: auto;
        max-height: 8;
        border: round $primary;
        border-title-color: $text;
        padding: 0 1;
    }
    #walk-card { height: 1fr; border: round $primary; padding: 0 1; }
    #walk-card:focus { border: round $accent; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right,n,space", "step(1)", "Next", key_display="→", id="walk.next"),
        Binding("left,p", "step(-1)", "Prev", key_display="←", id="walk.prev"),
        Binding(
            "left_square_bracket",
            "policy(-1)",
            "Policy",
            key_display="[ ]",
            id="walk.policy.prev",
            tooltip="Walk the plan under the previous policy",
        ),
        Binding(
            "right_square_bracket",
            "policy(1)",
            "Next policy",
            show=False,
            id="walk.policy.next",
            tooltip="Walk the plan under the next policy",
        ),
        Binding(
            "b",
            "to_stop",
            "Stop",
            id="walk.stop",
            tooltip="Go to the step where the policy stops the plan",
        ),
        # priority: the card (a scroll view) would take them for scrolling
        Binding("home", "first", "First", show=False, id="walk.first", priority=True),
        Binding("end", "last", "Last", show=False, id="walk.last", priority=True),
        Binding("escape,q,w", "close", "Close", key_display="esc", id="walk.close"),
    ]

    def __init__(self, vm: ViewModel, plan: PlanView, policy: int) -> None:
        super().__init__(id="walk")
        self.vm = vm
        self.plan = plan
        self.policy = policy
        self.number = 1
        self.card: WalkCard | None = None
        #: What the screen shows, as plain text (tests).
        self.text = ""

    def compose(self) -> ComposeResult:
        """Header (naming the plan), kill-chain strip, policies, the step card, footer."""
        yield Header(icon="⛨")
        yield Static("", id="walk-chain")
        policies = Static("", id="walk-policies")
        policies.border_title = "Under each policy ([ ] switch)"
        yield policies
        yield StepCard(id="walk-card")
        yield ZtsimFooter()

    def on_mount(self) -> None:
        """Show the first step; the card takes the focus (up/down scroll it)."""
        self._show()
        self.query_one(StepCard).focus()

    # ------------------------------------------------------------------ state

    def _show(self) -> None:
        card = walk_card(self.plan, self.vm.policy_names, self.policy, self.number)
        self.card = card
        self.number = card.number
        self.title = "ztsim walk-through"
        self.sub_title = card.title
        strip = render_chain(card)
        policies = Text("\n").join(render_policies(card))
        self.query_one("#walk-chain", Static).update(strip)
        self.query_one("#walk-policies", Static).update(policies_grid(card))
        card_pane = self.query_one(StepCard)
        card_pane.show(card, plan_drawing(self.plan, self.policy))
        self.text = "\n".join([card.title, strip.plain, policies.plain, card_pane.text])

    def update_view(self, vm: ViewModel) -> bool:
        """New results (a reload): show the same plan from them, if still listed."""
        plan = vm.plan(self.plan.ident)
        if plan is None or plan.walk is None:
            return False
        self.vm = vm
        self.plan = plan
        self.policy = min(self.policy, max(len(vm.policies) - 1, 0))
        self._show()
        return True

    # ------------------------------------------------------------------ actions

    def action_step(self, delta: int) -> None:
        """The next or previous step (stays at either end)."""
        self.number = min(max(self.number + delta, 1), len(self.plan.steps))
        self._show()

    def action_first(self) -> None:
        """The first step."""
        self.number = 1
        self._show()

    def action_last(self) -> None:
        """The last step (the goal)."""
        self.number = len(self.plan.steps)
        self._show()

    def action_policy(self, delta: int) -> None:
        """Walk the same step under the previous or next policy."""
        n = len(self.vm.policies)
        if n:
            self.policy = (self.policy + delta) % n
            self._show()

    def action_to_stop(self) -> None:
        """The step where the current policy stops the plan (or say it does not)."""
        card = self.card
        if card is None or card.stop is None:
            self.notify(f"{card.policy if card else 'This policy'} does not stop this plan.")
            return
        self.number = card.stop
        self._show()

    def action_close(self) -> None:
        """Back to the main screen, which takes the policy walked last."""
        self.dismiss(self.policy)
