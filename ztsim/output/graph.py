"""The attack graph as a networkx DiGraph: fact nodes, step nodes, edges pre -> step -> fact.

It is built from the steps a solve fired (every step instance when the solve was
exhaustive, see :func:`ztsim.engine.fixpoint.solve`), or from one plan's steps
(:func:`plan_graph`), and serves export (GraphML, DOT, JSON) and analyses by other
tools.  Every node carries ``zone`` (where it stands, when it stands in one zone)
and ``title`` (a readable label); DOT draws each zone as a cluster.
"""

from __future__ import annotations

import json
from typing import Any

import networkx as nx

from ztsim.engine.fixpoint import Solution
from ztsim.engine.plans import Plan
from ztsim.engine.steps import Fact, Step
from ztsim.inputs.loaded import LoadedTopology
from ztsim.model.techniques import technique
from ztsim.model.textsafe import safe, safe_lines

__all__ = [
    "attack_graph",
    "fact_id",
    "plan_graph",
    "step_id",
    "to_dot",
    "to_graphml",
    "to_json",
]


def fact_id(f: Fact) -> str:
    """The node id of a fact, e.g. ``priv:web-portal:user``."""
    return ":".join(f)


def step_id(s: Step) -> str:
    """The node id of a step, e.g. ``step:exploit:internet:web-portal:443/tcp:CVE-1``."""
    return "step:" + ":".join(s.key)


def _zone_of(topo: LoadedTopology, where: str | None) -> str | None:
    """The zone of a host or an external zone, else None."""
    if where is None:
        return None
    host = topo.hosts.get(where)
    if host is not None:
        return host.zone
    return where if where in topo.zones else None


def _fact_attrs(f: Fact, topo: LoadedTopology) -> dict[str, Any]:
    """``zone`` and ``title`` of a fact node (a title says what the fact is in words)."""
    kind = f[0]
    zone: str | None = None
    if kind == "zone":
        zone, title = f[1], f"{f[1]}\n(external zone)"
    elif kind == "priv":
        zone, title = _zone_of(topo, f[1]), f"{f[1]}\n{f[2]}"
    elif kind == "session":
        zone, title = _zone_of(topo, f[1]), f"{f[1]}\nsession {f[2]}"
    elif kind == "cred":
        title = f"credential\n{f[1]}"
    elif kind == "data":
        held = topo.data.get(f[1])
        zone, title = (held[0].zone if held else None), f"data\n{f[1]}"
    else:
        title = f"{'exfiltrate' if kind == 'exfil' else 'tamper'}({f[1]})"
    return {"title": title} | ({"zone": zone} if zone else {})


def _step_attrs(st: Step, topo: LoadedTopology, best: bool | None) -> dict[str, Any]:
    t = technique(st.technique)
    head = f"{t.id} {t.name}" if t else st.kind
    if st.kind == "enter":
        head += f"\nentry point {st.key[1]}"
    attrs = {
        "type": "step",
        "kind": st.kind,
        "technique": st.technique,
        "source": st.source,
        "target": st.target,
        "service": st.service,
        "reason": st.reason,
        "best": best,
        "label": f"{st.kind} {st.technique or ''}".strip(),
        "title": head + (f"\n{st.service}" if st.service else ""),
        "zone": _zone_of(topo, st.host),
    }
    return {k: v for k, v in attrs.items() if v is not None}


def attack_graph(sol: Solution) -> Any:
    """Build the attack graph of ``sol`` (a ``networkx.DiGraph``).

    Fact nodes carry ``type="fact"``, ``kind``, ``cost`` (of the cheapest
    derivation); step nodes carry ``type="step"``, ``kind``, ``technique``,
    ``source``, ``target``, ``service``, ``reason`` and ``best`` (whether it is the
    cheapest derivation of one of its outputs); every node ``title`` and, when it
    stands in one zone, ``zone``.
    """
    topo = sol.model.topology
    g = nx.DiGraph(policy=sol.policy.loaded.name, topology=topo.name)
    best_keys = {st.key for st in sol.best.values()}
    for f, c in sorted(sol.cost.items(), key=lambda kv: (sol.order[kv[0]], kv[0])):
        g.add_node(
            fact_id(f), type="fact", kind=f[0], label=fact_id(f), cost=c, **_fact_attrs(f, topo)
        )
    for key in sorted(sol.fired):
        st = sol.fired[key]
        if not all(p in sol.cost for p in st.pre):
            continue
        sid = step_id(st)
        g.add_node(sid, **_step_attrs(st, topo, key in best_keys))
        for p in st.pre:
            g.add_edge(fact_id(p), sid)
        for f in st.post:
            if f in sol.cost:
                g.add_edge(sid, fact_id(f))
    return g


def plan_graph(plan: Plan, topo: LoadedTopology, policy: str) -> Any:
    """One plan's sub-graph: its steps, the facts they need and give, in plan order.

    Built from the plan itself, not from a solve: a plan the policy blocks has steps
    the policy's own graph lacks.  Step nodes carry ``step`` (their number).
    """
    g = nx.DiGraph(policy=policy, topology=topo.name, plan=plan.ident)
    for i, st in enumerate(plan.steps, 1):
        for f in (*st.pre, *st.post):
            if fact_id(f) not in g:
                g.add_node(
                    fact_id(f), type="fact", kind=f[0], label=fact_id(f), **_fact_attrs(f, topo)
                )
        sid = step_id(st)
        g.add_node(sid, step=i, **_step_attrs(st, topo, None))
        for p in st.pre:
            g.add_edge(fact_id(p), sid)
        for f in st.post:
            g.add_edge(sid, fact_id(f))
    return g


def to_graphml(g: Any) -> str:
    """GraphML text of ``g``, valid XML whatever the names.

    Characters XML 1.0 forbids (most of C0, lone surrogates) and terminal or bidi
    controls are written as escapes (``\\x1b``, :func:`ztsim.model.textsafe.safe_lines`);
    the newlines left are the document's own (networkx writes those of values as
    ``&#10;``).
    """
    return safe_lines("\n".join(nx.generate_graphml(g))) + "\n"


def to_json(g: Any) -> str:
    """Node-link JSON of ``g`` (sorted keys, stable)."""
    data = nx.node_link_data(g, edges="edges")
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _q(text: object) -> str:
    # control characters escaped first (``\\x1b``), then DOT's own backslash and quote
    return '"' + safe(str(text)).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(text: object) -> str:
    # a title's line breaks are DOT's own (\n); the rest escaped as by _q
    return "\\n".join(_q(part)[1:-1] for part in str(text).split("\n")).join('""')


def to_dot(g: Any) -> str:
    """Graphviz DOT text of ``g``: facts as ellipses, steps as boxes, zones as clusters.

    Labels are the nodes' ``title`` (the fact or the technique in words); nodes in
    one zone are drawn inside a ``cluster`` subgraph labelled with it.
    """
    lines = [f"digraph {_q(g.graph.get('policy', 'attack'))} {{", "  rankdir=LR;"]
    lines.append('  node [fontname="Helvetica"]; edge [color="#57606a"];')
    zones: dict[str, list[str]] = {}
    loose: list[str] = []
    for n, a in g.nodes(data=True):
        shape = "box" if a.get("type") == "step" else "ellipse"
        label = _dot_label(a.get("title", a.get("label", n)))
        line = f"{_q(n)} [shape={shape}, label={label}];"
        zone = a.get("zone")
        if zone is None:
            loose.append("  " + line)
        else:
            zones.setdefault(str(zone), []).append("    " + line)
    for i, (zone, members) in enumerate(zones.items()):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f'    label={_q("zone " + zone)}; style=rounded; color="#d0d7de";')
        lines += members
        lines.append("  }")
    lines += loose
    for u, v in g.edges():
        lines.append(f"  {_q(u)} -> {_q(v)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
