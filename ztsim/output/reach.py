"""``ztsim reach``'s output: connectivity maps as text, JSON, CSV, Markdown or DOT.

Every format lists, per policy, one connection per ordered pair with an allowed
service (:meth:`ztsim.engine.connectivity.PolicyMap.connections`), its services
merged and sorted, and what decided each (the rule and its ``FILE:LINE``, the
default, or ``intra_zone``).  The bytes are deterministic.  What a connection
shares with others of the same classes (its services and decisions, one
:class:`~ztsim.engine.connectivity.Allowed`) is written once and reused: maps are
per pair, and large.

Escaping: text lines by :func:`ztsim.model.textsafe.safe`; JSON as
:func:`ztsim.output.jsontext.dump_json` writes it; CSV by the :mod:`csv` module,
after :func:`~ztsim.model.textsafe.safe`, a cell that a spreadsheet would read as
a formula (starting with ``=``, ``+``, ``-`` or ``@``) prefixed with ``'``;
Markdown by :func:`ztsim.output.escape.markdown_text`; DOT identifiers quoted, their
backslashes and quotes escaped.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from ztsim.engine.connectivity import Allowed, Grant, PolicyMap
from ztsim.inputs.loaded import LoadedTopology
from ztsim.model.textsafe import json_safe, safe
from ztsim.output.escape import markdown_text, text_lines
from ztsim.output.jsontext import dump

__all__ = [
    "FORMATS",
    "reach_csv",
    "reach_dot",
    "reach_json",
    "reach_markdown",
    "reach_object",
    "reach_text",
    "render_reach",
]

#: The formats ``ztsim reach`` writes.
FORMATS = ("text", "json", "csv", "md", "dot")


def _services(services: Sequence[object]) -> list[str]:
    return [str(s) for s in services]


def why(grant: Grant) -> str:
    """What decided a grant, as the other commands say "allowed by" (with FILE:LINE)."""
    d = grant.decision
    if d.reason == "rule":
        return f"allowed by {d.section} rule {d.rule} at {grant.location}"
    if d.reason == "default":
        return f"allowed by {d.section} default at {grant.location}"
    return f"{d.describe()} ({grant.location})"


def _reasons(allowed: Allowed) -> str:
    """Every grant of a connection: its reason alone, or each with its services."""
    if len(allowed.grants) == 1:
        return why(allowed.grants[0])
    return "; ".join(f"{', '.join(_services(g.services))}: {why(g)}" for g in allowed.grants)


def _mode(all_ports: bool) -> str:
    return (
        "every port and protocol (--all-ports)" if all_ports else "services the destinations serve"
    )


def _count(n: int) -> str:
    return "no connection" if n == 0 else f"{n:,} connection{'s' if n != 1 else ''}"


# ---------------------------------------------------------------------------- text


def reach_text(maps: Sequence[PolicyMap]) -> str:
    """One block per policy: a heading, then ``FROM -> TO  SERVICES  (WHY)`` per line."""
    blocks: list[str] = []
    for m in maps:
        tails: dict[int, str] = {}
        lines: list[str] = []
        for c in m.connections():
            tail = tails.get(id(c.allowed))
            if tail is None:
                a = c.allowed
                tail = tails[id(a)] = f"  {', '.join(_services(a.services))}  ({_reasons(a)})"
            lines.append(f"{c.source} -> {c.target}{tail}")
        head = (
            f"policy {m.policy.name} ({m.policy.path}): {_count(len(lines))}, {_mode(m.all_ports)}"
        )
        blocks.append(text_lines([head, *lines]))
    return "\n".join(blocks)


# ---------------------------------------------------------------------------- JSON


def _grant_json(g: Grant) -> dict[str, Any]:
    d = g.decision
    return {
        "rule": d.rule,
        "section": d.section,
        "decided_by": d.reason,
        "location": g.location,
        "services": _services(g.services),
    }


def _allowed_json(a: Allowed) -> dict[str, Any]:
    return {"services": _services(a.services), "rules": [_grant_json(g) for g in a.grants]}


def reach_object(topology: LoadedTopology, maps: Sequence[PolicyMap]) -> dict[str, Any]:
    """The JSON document as data (:func:`reach_json` writes the same, faster)."""
    return {
        "topology": topology.name,
        "file": topology.path,
        "all_ports": any(m.all_ports for m in maps),
        "results": [
            {
                "policy": m.policy.name,
                "file": m.policy.path,
                "connections": [
                    {"from": c.source, "to": c.target, **_allowed_json(c.allowed)}
                    for c in m.connections()
                ],
            }
            for m in maps
        ],
    }


def _indent(text: str, depth: int) -> str:
    """``dump``'s text of a value, as it reads at ``depth`` (its first line unindented)."""
    return text.replace("\n", "\n" + "  " * depth)


def _connections_text(m: PolicyMap) -> str:
    """A map's ``connections`` list as ``dump`` writes it inside the document (depth 3).

    Each connection's services and rules are written once per shared
    :class:`~ztsim.engine.connectivity.Allowed` and each id once: maps are large.
    """
    tails: dict[int, str] = {}
    quoted: dict[str, str] = {}
    items: list[str] = []
    pad = "\n" + "  " * 5
    for c in m.connections():
        tail = tails.get(id(c.allowed))
        if tail is None:
            # The object's keys after "to": its lines at depth 1, moved to depth 5.
            tail = tails[id(c.allowed)] = _indent(dump(_allowed_json(c.allowed))[2:-2], 4)
        source = quoted.get(c.source)
        if source is None:
            source = quoted[c.source] = json.dumps(c.source, ensure_ascii=False)
        target = quoted.get(c.target)
        if target is None:
            target = quoted[c.target] = json.dumps(c.target, ensure_ascii=False)
        items.append(
            f'        {{{pad}"from": {source},{pad}"to": {target},\n        {tail}\n        }}'
        )
    return "[\n" + ",\n".join(items) + "\n      ]" if items else "[]"


def reach_json(topology: LoadedTopology, maps: Sequence[PolicyMap]) -> str:
    """``dump_json(reach_object(topology, maps))``, written piece by piece: the head as
    ``dump`` writes it, each connection list by :func:`_connections_text`."""
    head = reach_object(topology, [])
    head["all_ports"] = any(m.all_ports for m in maps)
    text = dump(head)
    if maps:
        results = []
        for m in maps:
            first = _indent(dump({"policy": m.policy.name, "file": m.policy.path})[:-2], 2)
            results.append(f'    {first},\n      "connections": {_connections_text(m)}\n    }}')
        text = text[: -len("[]\n}")] + "[\n" + ",\n".join(results) + "\n  ]\n}"
    return json_safe(text) + "\n"


# ---------------------------------------------------------------------------- CSV

_FORMULA = ("=", "+", "-", "@")


def _cell(value: str) -> str:
    text = safe(value)
    return "'" + text if text.startswith(_FORMULA) else text


def reach_csv(maps: Sequence[PolicyMap]) -> str:
    """One row per connection, deciding grant and service range (a header first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["policy", "from", "to", "service", "section", "rule", "decided_by", "location"]
    )
    for m in maps:
        name = _cell(m.policy.name)
        rows: dict[int, list[list[str]]] = {}
        for c in m.connections():
            tail = rows.get(id(c.allowed))
            if tail is None:
                tail = rows[id(c.allowed)] = [
                    [
                        str(s),
                        g.decision.section,
                        _cell(g.decision.rule),
                        g.decision.reason,
                        _cell(g.location),
                    ]
                    for g in c.allowed.grants
                    for s in g.services
                ]
            source, target = _cell(c.source), _cell(c.target)
            writer.writerows([name, source, target, *row] for row in tail)
    return out.getvalue()


# ---------------------------------------------------------------------------- Markdown


def reach_markdown(maps: Sequence[PolicyMap]) -> str:
    """A section per policy: a count, then a table of connections."""
    parts: list[str] = []
    for m in maps:
        rows: list[str] = []
        cells: dict[int, str] = {}
        for c in m.connections():
            tail = cells.get(id(c.allowed))
            if tail is None:
                a = c.allowed
                services = markdown_text(", ".join(_services(a.services)))
                tail = cells[id(a)] = f" | {services} | {markdown_text(_reasons(a))} |"
            rows.append(f"| {markdown_text(c.source)} | {markdown_text(c.target)}{tail}")
        title = f"## {markdown_text(m.policy.name)} ({markdown_text(m.policy.path)})"
        summary = f"{_count(len(rows))}; {markdown_text(_mode(m.all_ports))}."
        table = (
            ["| from | to | services | decided by |", "|---|---|---|---|", *rows] if rows else []
        )
        parts.append("\n".join([title, "", summary, *(["", *table] if table else [])]) + "\n")
    return "\n".join(parts)


# ---------------------------------------------------------------------------- DOT


def _q(text: str) -> str:
    # control characters escaped first (``\x1b``), then DOT's own backslash and quote
    return '"' + safe(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def reach_dot(topology: LoadedTopology, maps: Sequence[PolicyMap]) -> str:
    """One ``digraph`` per policy: hosts as boxes, external zones dashed ellipses,
    external destinations ellipses; an edge per connection labelled with its services."""
    graphs: list[str] = []
    for m in maps:
        edges: list[str] = []
        seen: set[str] = set()
        attrs: dict[int, str] = {}
        for c in m.connections():
            tail = attrs.get(id(c.allowed))
            if tail is None:
                a = c.allowed
                label = _q(", ".join(_services(a.services)))
                tail = attrs[id(a)] = f" [label={label}, tooltip={_q(_reasons(a))}];"
            seen.update((c.source, c.target))
            edges.append(f"  {_q(c.source)} -> {_q(c.target)}{tail}")
        nodes = []
        for n in sorted(seen):
            if n in topology.external_zones:
                nodes.append(f"  {_q(n)} [shape=ellipse, style=dashed];")
            elif n in topology.destinations:
                nodes.append(f"  {_q(n)} [shape=ellipse];")
        head = [f"digraph {_q(m.policy.name)} {{", "  rankdir=LR;", "  node [shape=box];"]
        graphs.append("\n".join([*head, *nodes, *edges, "}"]) + "\n")
    return "".join(graphs)


def render_reach(fmt: str, topology: LoadedTopology, maps: Sequence[PolicyMap]) -> str:
    """The maps in ``fmt`` (one of :data:`FORMATS`)."""
    writers: dict[str, Callable[[], str]] = {
        "text": lambda: reach_text(maps),
        "json": lambda: reach_json(topology, maps),
        "csv": lambda: reach_csv(maps),
        "md": lambda: reach_markdown(maps),
        "dot": lambda: reach_dot(topology, maps),
    }
    return writers[fmt]()
