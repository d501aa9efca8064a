"""The Topology tab: zones -> hosts -> what they hold, and the plans through a host."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Static, Tree
from textual.widgets.tree import TreeNode

from ztsim.tui.safetext import Text
from ztsim.tui.viewmodel import HostView, TopologyView, ViewModel

__all__ = ["TopologyPane"]

NodeData = tuple[str, str]  # (kind, id): ("zone", z), ("host", h), ("info", "")


class TopologyTree(Tree[NodeData]):
    """Zones, then hosts, then their services, vulnerabilities, credentials and data.

    Children are added when a node is first expanded, so a topology of ten
    thousand hosts costs one node per zone until the user opens it.
    """


class TopologyPane(Horizontal):
    """The tree on the left; the highlighted host and the plans through it on the right."""

    class PlanChosen(Message):
        """The user picked plan ``ident`` among the plans through a host."""

        def __init__(self, ident: str) -> None:
            self.ident = ident
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._topo: TopologyView | None = None
        self._vm: ViewModel | None = None
        self._filled: set[str] = set()
        self.host: str | None = None

    def compose(self) -> ComposeResult:
        """Tree | host panel."""
        tree = TopologyTree(Text("topology"), id="topo-tree")
        tree.border_title = "Topology"
        tree.tooltip = "Enter or click expands; highlighting a host shows the plans through it"
        yield tree
        with Vertical(id="host-panel"):
            yield Static(Text("Highlight a host in the tree.", style="dim"), id="host-info")
            table = DataTable[Text](id="host-plans", cursor_type="row", zebra_stripes=True)
            table.tooltip = "enter: open this plan in the Paths tab"
            yield table

    @property
    def topo_tree(self) -> TopologyTree:
        """The zone/host tree."""
        return self.query_one(TopologyTree)

    # ------------------------------------------------------------------ updates

    def show(self, vm: ViewModel) -> None:
        """New results: rebuild the tree if the topology changed, refresh the host panel."""
        self._vm = vm
        if self._topo is None or (vm.topology is not self._topo and vm.topology != self._topo):
            self._rebuild(vm.topology)
        self._show_host(self.host)

    def _rebuild(self, topo: TopologyView) -> None:
        tree = self.topo_tree
        was_open = {
            n.data[1]
            for n in tree.root.children
            if n.data is not None and n.data[0] == "zone" and n.is_expanded
        }
        self._topo = topo
        self._filled = set()
        tree.clear()
        tree.root.set_label(Text(f"{topo.name} ({topo.path})", style="bold"))
        tree.root.data = ("info", "")
        for z in topo.zones:
            label = Text(z.id, style="bold")
            label.append("  external" if z.external else f"  {len(z.hosts)} host(s)", style="dim")
            node = tree.root.add(label, data=("zone", z.id), allow_expand=bool(z.hosts))
            if z.id in was_open:
                self._fill(node)
                node.expand()
        dests = tree.root.add(Text("external destinations", style="bold"), data=("info", ""))
        for d in topo.destinations:
            dests.add_leaf(Text(d), data=("info", ""))
        entries = tree.root.add(Text("entry points", style="bold"), data=("info", ""))
        for e in topo.entry_points:
            entries.add_leaf(Text(e), data=("info", ""))
        tree.root.expand()
        if self.host is not None and self.host in topo.hosts:
            self.call_after_refresh(self.select_host, self.host)

    def _fill(self, node: TreeNode[NodeData]) -> None:
        """Add the children of a zone or host node the first time it opens."""
        if node.data is None or self._topo is None:
            return
        kind, ident = node.data
        key = f"{kind}:{ident}"
        if key in self._filled:
            return
        self._filled.add(key)
        if kind == "zone":
            zone = next((z for z in self._topo.zones if z.id == ident), None)
            for h in zone.hosts if zone else ():
                node.add(Text(h), data=("host", h))
        elif kind == "host":
            hv = self._topo.hosts[ident]
            for title, items in _sections(hv):
                if items:
                    sub = node.add(Text(title, style="italic"), data=("info", ""), expand=True)
                    for item in items:
                        sub.add_leaf(Text(item), data=("info", ""))

    def select_host(self, host: str) -> bool:
        """Open the host's zone and put the cursor on it."""
        if self._topo is None or host not in self._topo.hosts:
            return False
        tree = self.topo_tree
        zone = self._topo.hosts[host].zone
        znode = next((n for n in tree.root.children if n.data == ("zone", zone)), None)
        if znode is None:
            return False
        self._fill(znode)
        znode.expand()
        hnode = next((n for n in znode.children if n.data == ("host", host)), None)
        if hnode is None:
            return False
        self.host = host
        self._show_host(host)
        # the node's line is known only after the tree has laid out its new lines
        self.call_after_refresh(tree.move_cursor, hnode)
        return True

    def _show_host(self, host: str | None) -> None:
        info = self.query_one("#host-info", Static)
        table = self.query_one("#host-plans", DataTable)
        table.clear(columns=True)
        if host is None or self._vm is None or host not in self._vm.topology.hosts:
            info.update(Text("Highlight a host in the tree.", style="dim"))
            return
        hv = self._vm.topology.hosts[host]
        through = self._vm.plans_through(host)
        text = Text(f"{hv.id}", style="bold")
        text.append(f"  zone {hv.zone}  ")
        text.append(f"{len(through)} plan(s) pass through it", style="bold")
        for title, items in _sections(hv):
            if items:
                text.append(f"\n{title}: ", style="dim")
                text.append("; ".join(items))
        info.update(text)
        names = self._vm.policy_names
        table.add_column("plan", key="plan")
        table.add_column("cost", key="cost")
        for i, n in enumerate(names):
            table.add_column(Text(n), key=f"p{i}")  # a str label is read as markup
        table.add_column("goal", key="goal")
        for p in sorted(through, key=lambda p: (p.cost, p.rank)):
            table.add_row(
                Text(p.ident),
                Text(str(p.cost), justify="right"),
                *[Text(c.text, style="green" if c.blocked else "bold red") for c in p.cells],
                Text(p.goal),
                key=p.ident,
            )

    # ------------------------------------------------------------------ events

    @on(Tree.NodeExpanded, "#topo-tree")
    def _expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        event.stop()
        self._fill(event.node)

    @on(Tree.NodeHighlighted, "#topo-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        event.stop()
        data = event.node.data
        if data is not None and data[0] == "host" and data[1] != self.host:
            self.host = data[1]
            self._show_host(self.host)

    @on(DataTable.RowSelected, "#host-plans")
    def _plan(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.PlanChosen(event.row_key.value))


def _sections(hv: HostView) -> list[tuple[str, tuple[str, ...]]]:
    return [
        ("labels", hv.labels),
        ("services", hv.services),
        ("vulnerabilities", hv.vulnerabilities),
        ("credentials stored", hv.credentials),
        ("logins", hv.logins),
        ("data", hv.data),
    ]
