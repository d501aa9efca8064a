"""The ``?`` help screen: keys, what the panes mean, the filter syntax."""

from __future__ import annotations

from rich.markdown import Markdown as RichMarkdown
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HELP", "HelpScreen"]

HELP = """\
# ztsim: attack paths under your policies

**Policies** (top): one row per policy. *goals reachable* is red when the attacker
reaches some exfiltration or tampering goal, green when none; then the records the
attacker can exfiltrate (*exfiltrable*) and those it can tamper with (*tamperable*),
the plans the policy blocks, and the legitimate flows it breaks. The row
under the cursor is the **current policy**: the path detail explains it.

**Paths** (the matrix): one row per attack plan (goal, cost in steps), *via*,
one column per policy, then the entry point, the ATT&CK technique chain and the
records at risk. *via* tells apart plans of one goal and cost: the steps the
others of that group do not all take, rarest first (`src→host` a hop,
`src⇒dest` where the data leaves, `cred@host` a credential taken there); a plan
alone in its group shows the hosts it moves through (`a>b>c`, `,x>` when it
starts again from a host held earlier). A cell says `✓ RULE @STEP` (green: the
policy blocks the plan at that step, by that rule, `default`, `mfa` or
`encrypt_in_transit`) or `✗ OPEN 0.42` (red: the plan works, and the policy's
detection sees it with probability 0.42). A column too wide for the screen
starts past its edge (`→ NAME` below the matrix): `[` `]` bring a policy's
column into view.

**Path detail**: the selected plan drawn, then step by step, under the current
policy. The drawing shows the zones (frames) and hosts the plan crosses, each
arrow labelled with its step number and ATT&CK id (the service below it), the
steps taken on a host inside its frame, and the step the policy blocks marked
`✗` with its rule. Then each step: the ATT&CK technique, source -> target and
service, what in the topology made the step possible, and the policy's verdict
on it (the rule and its FILE:LINE).

**Keys**

- `up` `down` `pgup` `pgdn`: move in a table or tree; `tab` / `shift+tab`: next pane
- `enter` or `d`: zoom the path detail (`escape` restores)
- `w`: walk through the selected plan step by step (see **Walk-through** below)
- `[` `]`: previous / next policy (or move in the Policies pane, or click a header)
- `/`: filter the plans (`enter` keeps the filter, `escape` clears it)
- `s`: sort by cost, then records, then goal (or click the column header)
- `1` `2` `3` `4`: the Paths, Topology, Traffic and Diff tabs
- in the Diff tab: `b` / `p` pick the base / proposed policy, `x` swaps them
- `r`: reload the files (`--watch` reloads on save); only the files that changed
  are parsed and judged again; errors show as FILE:LINE:COL
- `e` / `E`: export the current view to `ztsim-export-<view>.md` / `.json`
  (in the Diff tab: the diff, as `ztsim diff --format markdown` / `json`)
- `ctrl+p`: command palette: jump to a policy, a plan or a host; export; reload
- `?`: this help; `q`: quit

**Filter**: words that must all match. Free text matches the plan id, goal,
entry, techniques and hosts; or `goal:tamper`, `entry:vpn`, `tech:T1557`,
`host:payroll-db`, `is:open`, `is:blocked` (under the current policy).

**Topology**: zones, hosts, services, vulnerabilities, credentials, data.
Highlight a host to list the plans that pass through it; `enter` on one of them
opens it in the Paths tab.

**Traffic**: every legitimate flow of the topology under every policy, `✓ RULE`
(allowed by that rule) or `✗ BROKEN RULE`; the explanation of the highlighted flow
is below the table. A policy past the right edge is named under the table.

**Diff**: a proposed policy against a base (the first two policies, until `b` /
`p` pick others). The verdict line is red when the proposed policy opens a goal
or a plan (`ztsim diff --fail-on opened`), green otherwise. Then, when not empty:
goals opened (red) or closed (green) with their costs, plans opened or closed
with the step and the rule responsible (FILE:LINE), legitimate flows broken or
restored, rules added, removed, changed or moved, and settings. The highlighted
plan is shown below, step by step under both policies; `▶` marks the step
responsible (`enter` or `d` zooms it).

**Walk-through** (`w` on a plan, or `ctrl+p` then `Walk:`): the plan one step at
a time, under the current policy. The strip at the top is the kill chain: the
current step highlighted, `✗` where the policy stops the plan (later steps it would
stop too are dimmed). Each step shows its ATT&CK tactic and technique, why it was
possible (the facts it used, each with the step that gave it; what in the topology
enabled it; the rule that let its flow through, at FILE:LINE), the ATT&CK
mitigations, and the controls that would stop it: `✓ stops` (the policy has it, at
FILE:LINE), `✗ lacks`, `– none` (a step on a host), and detection (`✓ sees`).
Keys: `→` `n` `space` next, `←` `p` previous, `home` `end`, `[` `]` switch the
policy (the verdicts of every policy are listed), `b` the step where the policy
stops the plan, `escape` back (the main screen keeps the policy).

Press `escape`, `q` or `?` to close this help.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and legend, over the main screen."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="help.close", tooltip="Close the help"),
        Binding("q", "dismiss", "Close", show=False, id="help.close.q", tooltip="Close the help"),
        Binding(
            "question_mark",
            "dismiss",
            "Close",
            show=False,
            id="help.close.help",
            tooltip="Close the help",
        ),
    ]

    def compose(self) -> ComposeResult:
        """The help text in a scrollable box."""
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Help"
            box.border_subtitle = "escape closes"
            # rich's Markdown in a Static: much lighter than the Markdown widget
            yield Static(RichMarkdown(HELP), id="help-text")
