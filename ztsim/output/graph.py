"""The attack graph as a networkx DiGraph: fact nodes, step nodes, edges pre -> step -> fact.

It is built from the steps a solve fired (every step instance when the solve was
exhaustive, see :func:`ztsim.engine.fixpoint.solve`) and serves export (GraphML, DOT, JSON)
and analyses by other tools.
"""

from __future__ import annotations

import json
from typing import Any

import networkx as nx

from ztsim.engine.fixpoint import Solution
from ztsim.engine.steps import Fact, Step
from ztsim.model.textsafe import safe, safe_lines

__all__ = ["attack_graph", "fact_id", "step_id", "to_dot", "to_graphml", "to_json"]


def fact_id(f: Fact) -> str:
    """The node id of a fact, e.g. ``priv:web-portal:user``."""
    return ":".join(f)


def step_id(s: Step) -> str:
    """The node id of a step, e.g. ``step:exploit:internet:web-portal:443/tcp:CVE-1``."""
    return "step:" + ":".join(s.key)


def attack_graph(sol: Solution) -> Any:
    """Build the attack graph of ``sol`` (a ``networkx.DiGraph``).

    Fact nodes carry ``type="fact"``, ``kind``, ``cost`` (of the cheapest
    derivation); step nodes carry ``type="step"``, ``kind``, ``technique``,
    ``source``, ``target``, ``service``, ``reason`` and ``best`` (whether it is the
    cheapest derivation of one of its outputs).
    """
    g = nx.DiGraph(policy=sol.policy.loaded.name, topology=sol.model.topology.name)
    best_keys = {st.key for st in sol.best.values()}
    for f, c in sorted(sol.cost.items(), key=lambda kv: (sol.order[kv[0]], kv[0])):
        g.add_node(fact_id(f), type="fact", kind=f[0], label=fact_id(f), cost=c)
    for key in sorted(sol.fired):
        st = sol.fired[key]
        if not all(p in sol.cost for p in st.pre):
            continue
        sid = step_id(st)
        attrs = {
            "type": "step",
            "kind": st.kind,
            "technique": st.technique,
            "source": st.source,
            "target": st.target,
            "service": st.service,
            "reason": st.reason,
            "best": key in best_keys,
            "label": f"{st.kind} {st.technique or ''}".strip(),
        }
        g.add_node(sid, **{k: v for k, v in attrs.items() if v is not None})
        for p in st.pre:
            g.add_edge(fact_id(p), sid)
        for f in st.post:
            if f in sol.cost:
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


def to_dot(g: Any) -> str:
    """Graphviz DOT text of ``g`` (facts as ellipses, steps as boxes)."""
    lines = [f"digraph {_q(g.graph.get('policy', 'attack'))} {{", "  rankdir=LR;"]
    for n, a in g.nodes(data=True):
        shape = "box" if a.get("type") == "step" else "ellipse"
        lines.append(f"  {_q(n)} [shape={shape}, label={_q(a.get('label', n))}];")
    for u, v in g.edges():
        lines.append(f"  {_q(u)} -> {_q(v)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
