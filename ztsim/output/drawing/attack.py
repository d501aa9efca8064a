"""Attack plans as figures: where the attacker stands, step by step, across zones.

A node is a position the attacker gains (a zone it stands in, a privilege or a
session on a host, a credential, a data item, a goal), keyed by the fact a step
gives, so plans merged into one figure share the positions they share.  Each
step is an arrow from the position it is launched from to the one it gives,
labelled with its number, ATT&CK technique and service; the other facts it needs
(the credential of a login, the data of an exfiltration) are dashed arrows.
Nodes sit in their zone's lane (credentials and data in the zone of the host they
are taken from; external destinations in a lane of their own).  Under each policy
that blocks a plan, the blocking step's label names the policy, the rule and its
``FILE:LINE`` (:func:`block_marks`).

>>> from ztsim.engine.steps import Step
>>> enter = Step(("enter", "e"), "enter", None, None, "internet", None, "", (),
...              (("zone", "internet"),), "internet")
>>> fig = plans_figure("p", "a plan", [(enter,)], zones={}, external=frozenset({"internet"}))
>>> [n.lines for n in fig.nodes]
[('internet', 'external zone', '1. entry point', 'e')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ztsim.engine.steps import Fact, Step
from ztsim.engine.verdicts import PlanVerdict
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.techniques import technique
from ztsim.output.drawing.svg import FigEdge, FigNode, Figure, clip, wrap

__all__ = [
    "Block",
    "block_location",
    "block_marks",
    "plan_figure",
    "plans_figure",
    "topology_places",
]

#: Longest name shown in a box (the whole name is in its tooltip), in characters.
NAME_CELLS = 22
#: Width of a step label's lines, in characters.
LABEL_CELLS = 24
OUTSIDE = "outside"


@dataclass(frozen=True)
class Block:
    """A policy blocks a plan at a step: the policy, what blocks it, where it is written."""

    policy: str
    rule: str
    location: str


def block_location(policy: LoadedPolicy, verdict: PlanVerdict) -> str:
    """``FILE:LINE`` of what blocks ``verdict``'s plan: a rule, a default or a control."""
    if verdict.step is None or verdict.blocked_by is None:
        return policy.path
    sv = verdict.steps[verdict.step]
    d = sv.decision
    if verdict.blocked_by in ("mfa", "encrypt_in_transit") and (d is None or d.allowed):
        path: tuple[str, ...] = ("controls", verdict.blocked_by)
    elif d is not None and d.reason == "rule":
        return policy.rule_location(d.section, d.rule)
    elif d is not None and d.reason == "default":
        path = (d.section, "default")
    else:
        return policy.path
    mark = policy.doc.node_mark(path) if policy.doc is not None else None
    return f"{policy.path}:{mark.line}" if mark else policy.path


def block_marks(
    verdicts: Sequence[PlanVerdict], policies: Sequence[LoadedPolicy]
) -> dict[int, list[Block]]:
    """Step index -> the policies blocking the plan there (``verdicts`` in ``policies``'s order)."""
    marks: dict[int, list[Block]] = {}
    for v, p in zip(verdicts, policies, strict=True):
        if v.blocked and v.step is not None:
            marks.setdefault(v.step, []).append(
                Block(p.name, v.blocked_by or "?", block_location(p, v))
            )
    return marks


def topology_places(topo: LoadedTopology) -> tuple[dict[str, str], frozenset[str]]:
    """Each host's zone, and the external zones: what :func:`plans_figure` places by."""
    return {h: host.zone for h, host in topo.hosts.items()}, frozenset(topo.external_zones)


def _node_key(st: Step) -> Fact:
    """The position a step gives (an exfiltration's is per destination)."""
    if st.kind == "enter":
        return st.post[0]
    if st.kind in ("exfiltrate", "exfiltrate-direct"):
        return ("exfil", st.post[0][1], st.target or "")
    return st.post[0]


def _standing(st: Step) -> Fact | None:
    """The fact a step is launched from (where the attacker stands, or the data it uses)."""
    for f in st.pre:
        if f[0] in ("zone", "priv", "session"):
            return f
    return st.pre[0] if st.pre else None


def _key(f: Fact) -> str:
    return "\x1f".join(f)


class _Builder:
    """Nodes and edges of one figure, merged across plans by position and step."""

    def __init__(self, zones: Mapping[str, str], external: frozenset[str]) -> None:
        self.zones, self.external = zones, external
        self.nodes: dict[str, FigNode] = {}
        self.edges: dict[tuple[str, str], FigEdge] = {}
        self.lanes: dict[str, str] = {}

    def lane(self, where: str | None) -> str:
        """The lane of a host or external zone (its zone's), else the outside lane."""
        zone = self.zones.get(where or "", where if where in self.external else None)
        if zone is None:
            self.lanes.setdefault(OUTSIDE, "external destinations")
            return OUTSIDE
        title = f"zone {zone}" + (" (external)" if zone in self.external else "")
        self.lanes.setdefault("zone:" + zone, title)
        return "zone:" + zone

    def node(self, key: str, lines: list[str], lane: str, css: str, tooltip: str) -> None:
        if key not in self.nodes:
            shown = tuple(clip(line, NAME_CELLS) for line in lines)
            self.nodes[key] = FigNode(key, shown, lane, css, tooltip)

    def position(self, st: Step) -> str:
        """The node a step gives, created on first sight."""
        f = _node_key(st)
        key = _key(f)
        kind = f[0]
        if kind == "zone":
            self.node(key, [f[1], "external zone"], self.lane(f[1]), "node external", f[1])
        elif kind == "priv":
            self.node(key, [f[1], f[2]], self.lane(f[1]), "node host", f"{f[1]} ({f[2]})")
        elif kind == "session":
            what = f"session {f[2]}"
            self.node(key, [f[1], what], self.lane(f[1]), "node host", f"{f[1]} ({what})")
        elif kind == "cred":
            self.node(key, [f[1], "credential"], self.lane(st.host), "node cred", f[1])
        elif kind == "data":
            self.node(key, [f[1], "data"], self.lane(st.host), "node data", f[1])
        elif kind == "exfil":
            where = f[2]
            lane = self.lane(where) if st.kind == "exfiltrate-direct" else self.lane(None)
            tip = f"{f[1]} exfiltrated to {where}"
            self.node(key, [where, f"receives {f[1]}"], lane, "node goal", tip)
        else:  # tamper
            self.node(key, [f[1], "tampered with"], self.lane(st.host), "node goal", f[1])
        return key

    def entered(self, key: str, st: Step, number: int | None) -> None:
        """Say on the entered position's box that the plan starts there (step 1, enter)."""
        creds = [f[1] for f in st.post if f[0] == "cred"]
        tech = f"{st.technique} " if st.technique else ""
        head = f"{number}. " if number else ""
        extra = [f"{head}{tech}entry point", st.key[1]]
        extra += ["holding " + ", ".join(creds)] if creds else []
        n = self.nodes[key]
        if len(n.lines) == 2:  # not said yet (merged plans may share the entry)
            css = n.css.replace("external", "entry") if "external" in n.css else n.css + " entry"
            lines = (*n.lines, *(clip(x, NAME_CELLS) for x in extra))
            self.nodes[key] = FigNode(key, lines, n.lane, css, f"{n.tooltip}: {st.reason}")


def _label(st: Step, number: int | None, marks: Sequence[Block]) -> tuple[tuple[str, str], ...]:
    """A step's label: number, technique id and service; its name; the blocks there."""
    t = technique(st.technique)
    head = " ".join(
        x for x in (f"{number}." if number else "", st.technique or st.kind, st.service or "") if x
    )
    lines: list[tuple[str, str]] = [(clip(head, LABEL_CELLS), "step")]
    lines += [(w, "") for w in wrap(t.name if t else st.kind, LABEL_CELLS, 2)]
    for b in marks:
        lines.append((clip(f"blocked: {b.policy}", LABEL_CELLS), "block"))
        lines += [(w, "where") for w in wrap(f"by {b.rule} at {b.location}", LABEL_CELLS, 3)]
    return tuple(lines)


def plans_figure(
    ident: str,
    title: str,
    plans: Sequence[Sequence[Step]],
    *,
    zones: Mapping[str, str],
    external: frozenset[str],
    marks: Mapping[int, Sequence[Block]] | None = None,
    numbered: bool = True,
) -> Figure:
    """The figure of ``plans`` (steps in order), merged; ``marks`` by step index.

    ``zones`` maps hosts to their zone and ``external`` lists the external zones
    (:func:`topology_places`).  With several plans, steps are not numbered (a step
    has no single number) and ``marks`` should be None.
    """
    b = _Builder(zones, external)
    for steps in plans:
        held: dict[Fact, str] = {}  # every fact given so far in this plan -> its node
        for i, st in enumerate(steps):
            target = b.position(st)
            number = i + 1 if numbered else None
            if st.kind == "enter":
                b.entered(target, st, number)
                source: str | None = None
            else:
                stand = _standing(st)
                source = held.get(stand) if stand is not None else None
            shown = (marks or {}).get(i, ())
            if source is not None and source != target:
                css = "edge step" + (" blocked" if shown else "")
                tip = f"{i + 1}. {st.kind}: {st.reason}" if numbered else f"{st.kind}: {st.reason}"
                b.edges.setdefault(
                    (source, target), FigEdge(source, target, _label(st, number, shown), css, tip)
                )
            for f in st.pre:
                other = held.get(f)
                if f != _standing(st) and other is not None and other not in (source, target):
                    b.edges.setdefault((other, target), FigEdge(other, target, (), "edge needs"))
            for f in st.post:
                held.setdefault(f, target)
    lanes = tuple(b.lanes.items())
    # external destinations last, whatever came first
    lanes = tuple(x for x in lanes if x[0] != OUTSIDE) + tuple(x for x in lanes if x[0] == OUTSIDE)
    return Figure(ident, title, tuple(b.nodes.values()), tuple(b.edges.values()), lanes)


def plan_figure(
    ident: str,
    title: str,
    steps: Sequence[Step],
    topo: LoadedTopology,
    marks: Mapping[int, Sequence[Block]] | None = None,
) -> Figure:
    """One plan's figure, its steps numbered, ``marks`` on the blocking steps."""
    zones, external = topology_places(topo)
    fig = plans_figure(ident, title, [steps], zones=zones, external=external, marks=marks)
    return Figure(fig.ident, fig.title, fig.nodes, fig.edges, fig.lanes, "figure plan-picture")
