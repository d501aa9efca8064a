"""The main screen: policies on top; paths, topology, traffic and diff in tabs; errors below."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, TabbedContent, TabPane

from ztsim.model.diagnostics import Diagnostic
from ztsim.tui.diffview import DiffView
from ztsim.tui.export import ExportState, View
from ztsim.tui.viewmodel import ViewModel
from ztsim.tui.widgets.detail import PathDetail
from ztsim.tui.widgets.diff import DiffPane
from ztsim.tui.widgets.errors import ErrorPanel
from ztsim.tui.widgets.footer import ZtsimFooter
from ztsim.tui.widgets.matrix import PathsPane, PathsTable
from ztsim.tui.widgets.policies import PoliciesTable
from ztsim.tui.widgets.topology import TopologyPane
from ztsim.tui.widgets.traffic import TrafficPane

__all__ = ["MainScreen"]

TABS: tuple[View, ...] = ("paths", "topology", "traffic", "diff")


class MainScreen(Screen[None]):
    """Coordinates the panes: which policy is current, which plan and host are selected."""

    BINDINGS = [
        Binding(
            "slash",
            "filter",
            "Filter",
            key_display="/",
            id="filter",
            tooltip="Filter plans by text, goal:, entry:, tech:, host:, is:open|blocked",
        ),
        Binding("s", "sort", "Sort", id="sort", tooltip="Sort plans by cost, records or goal"),
        Binding(
            "left_square_bracket",
            "policy(-1)",
            "Policy",
            key_display="[ ]",
            id="policy.prev",
            tooltip="Explain the plans under the previous policy",
        ),
        Binding(
            "right_square_bracket",
            "policy(1)",
            "Next policy",
            key_display="]",
            show=False,
            id="policy.next",
            tooltip="Explain the plans under the next policy",
        ),
        Binding(
            "d",
            "detail",
            "Detail",
            id="detail",
            tooltip="Zoom the path (or diff) detail to the whole screen (escape restores)",
        ),
        Binding(
            "1",
            "tab('paths')",
            "Paths",
            show=False,
            id="tab.paths",
            tooltip="The paths matrix and the path detail",
        ),
        Binding(
            "2",
            "tab('topology')",
            "Topology",
            show=False,
            id="tab.topology",
            tooltip="Zones, hosts and the plans through a host",
        ),
        Binding(
            "3",
            "tab('traffic')",
            "Traffic",
            show=False,
            id="tab.traffic",
            tooltip="Every legitimate flow under every policy",
        ),
        Binding(
            "4",
            "tab('diff')",
            "Diff",
            show=False,
            id="tab.diff",
            tooltip="A proposed policy against a base: plans opened and closed",
        ),
    ]

    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    def __init__(self) -> None:
        super().__init__(id="main")
        self.vm: ViewModel | None = None
        self.policy = 0

    def compose(self) -> ComposeResult:
        """Header, policies, tabs, error panel, footer."""
        yield Header(icon="⛨")
        yield PoliciesTable(id="policies")
        with TabbedContent(id="tabs", initial="paths"):
            with TabPane("Paths", id="paths"):
                yield PathsPane(id="paths-pane")
                yield PathDetail(id="detail")
            with TabPane("Topology", id="topology"):
                yield TopologyPane(id="topology-pane")
            with TabPane("Traffic", id="traffic"):
                yield TrafficPane(id="traffic-pane")
            with TabPane("Diff", id="diff"):
                yield DiffPane(id="diff-pane")
        yield ErrorPanel(id="errors")
        yield ZtsimFooter()

    def on_mount(self) -> None:
        """Panes wait under a loading indicator until the first results."""
        for sel in ("#policies", "#paths-pane", "#topology-pane", "#traffic-pane"):
            self.query_one(sel).loading = True
        self.query_one(PathsTable).focus()

    # ------------------------------------------------------------------ from the app

    def show(self, vm: ViewModel, progress: str = "") -> None:
        """Show new results (a reload, or more plans), keeping the selections."""
        previous = self.vm
        if previous is not None and 0 <= self.policy < len(previous.policies):
            name = previous.policies[self.policy].name
            names = vm.policy_names
            self.policy = names.index(name) if name in names else 0
        self.policy = min(self.policy, max(len(vm.policies) - 1, 0))
        self.vm = vm
        self.query_one(PoliciesTable).show(vm.policies, self.policy)
        paths = self.query_one(PathsPane)
        paths.policy = self.policy
        paths.show(vm.plans, vm.policy_names, progress)
        self.query_one(TopologyPane).show(vm)
        if previous is None or previous.traffic is not vm.traffic:
            self.query_one(TrafficPane).show(vm.traffic, vm.policy_names)
        for sel in ("#policies", "#topology-pane", "#traffic-pane"):
            self.query_one(sel).loading = False
        # the matrix keeps its loading indicator until the first plans are in
        paths.loading = not vm.complete and not vm.plans
        self._refresh_detail()

    def show_errors(self, diagnostics: Sequence[Diagnostic]) -> None:
        """List input errors; the last good results stay where they are."""
        self.query_one(ErrorPanel).show(diagnostics, self.vm is not None)
        if self.vm is None:
            for sel in ("#policies", "#paths-pane", "#topology-pane", "#traffic-pane"):
                self.query_one(sel).loading = False

    def diff_inputs(self, names: tuple[str, ...]) -> None:
        """The policies were judged again: the Diff tab's diff is out of date."""
        self.query_one(DiffPane).set_policies(names)

    def show_diff(self, view: DiffView) -> None:
        """Show a computed diff in the Diff tab."""
        self.query_one(DiffPane).show(view)

    def clear_errors(self) -> None:
        """The files load again: hide the error panel."""
        self.query_one(ErrorPanel).clear()

    @property
    def view(self) -> View:
        """The tab shown."""
        active = self.query_one(TabbedContent).active
        for tab in TABS:
            if tab == active:
                return tab
        return "paths"

    def export_state(self) -> ExportState:
        """What the current view shows, for an export."""
        paths = self.query_one(PathsPane)
        return ExportState(
            self.view,
            paths.query_state,
            self.policy,
            paths.selected,
            self.query_one(TopologyPane).host,
        )

    def choose_policy(self, index: int) -> None:
        """Make policy ``index`` the current one."""
        if self.vm is None or not 0 <= index < len(self.vm.policies):
            return
        if index != self.policy:
            self.policy = index
            table = self.query_one(PoliciesTable)
            if table.cursor_row != index:
                with self.prevent(PoliciesTable.RowHighlighted):
                    table.move_cursor(row=index)
            self.query_one(PathsPane).set_policy(index)
        self._refresh_detail()

    def jump_to_plan(self, ident: str) -> bool:
        """Show plan ``ident`` in the Paths tab."""
        self.query_one(TabbedContent).active = "paths"
        paths = self.query_one(PathsPane)
        ok = paths.select(ident)
        if ok:
            paths.table.focus()
        return ok

    def jump_to_host(self, host: str) -> bool:
        """Show host ``host`` in the Topology tab."""
        self.query_one(TabbedContent).active = "topology"
        pane = self.query_one(TopologyPane)
        ok = pane.select_host(host)
        if ok:
            pane.topo_tree.focus()
        return ok

    # ------------------------------------------------------------------ internals

    def _refresh_detail(self) -> None:
        detail = self.query_one(PathDetail)
        if self.vm is None or not self.vm.policies:
            detail.show(None, 0, "")
            return
        plan = self.vm.plan(self.query_one(PathsPane).selected)
        detail.show(plan, self.policy, self.vm.policies[self.policy].name)

    # ------------------------------------------------------------------ actions

    def action_filter(self) -> None:
        """Open the filter line over the matrix."""
        self.query_one(TabbedContent).active = "paths"
        self.query_one(PathsPane).open_filter()

    def action_sort(self) -> None:
        """Cycle the sort order of the matrix."""
        sort = self.query_one(PathsPane).cycle_sort()
        self.notify(f"Plans sorted by {sort}", timeout=2)

    def action_policy(self, step: int) -> None:
        """Move to the previous or next policy."""
        if self.vm and self.vm.policies:
            self.choose_policy((self.policy + step) % len(self.vm.policies))

    def action_detail(self) -> None:
        """Zoom the path detail, or restore it."""
        if self.maximized is not None:
            self.minimize()
            return
        if self.view == "diff":
            self.query_one(DiffPane).zoom()
            return
        self.query_one(TabbedContent).active = "paths"
        detail = self.query_one(PathDetail)
        detail.focus()
        self.maximize(detail, container=False)

    def action_tab(self, tab: str) -> None:
        """Show one of the tabs."""
        self.query_one(TabbedContent).active = tab

    # ------------------------------------------------------------------ messages

    @on(PoliciesTable.PolicyChosen)
    def _policy_chosen(self, event: PoliciesTable.PolicyChosen) -> None:
        self.choose_policy(event.index)

    @on(PathsPane.PolicyChosen)
    def _header_policy(self, event: PathsPane.PolicyChosen) -> None:
        self.choose_policy(event.index)

    @on(PathsPane.PlanHighlighted)
    def _plan_highlighted(self, event: PathsPane.PlanHighlighted) -> None:
        self._refresh_detail()

    @on(PathsPane.PlanOpened)
    def _plan_opened(self, event: PathsPane.PlanOpened) -> None:
        self.action_detail()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Focus follows the tab, so the arrow keys move in what is shown."""
        target = {"paths": "#matrix", "topology": "#topo-tree", "traffic": "#traffic-table"}
        pane_id = event.pane.id or ""
        diff = self.query_one(DiffPane)
        diff.set_active(pane_id == "diff")
        if pane_id == "diff" and not diff.has_focus_within:
            diff.focus_first()
        if pane_id in target and not self.query_one(f"#{pane_id}").has_focus_within:
            self.query_one(target[pane_id]).focus()

    @on(TopologyPane.PlanChosen)
    def _plan_from_host(self, event: TopologyPane.PlanChosen) -> None:
        self.jump_to_plan(event.ident)
