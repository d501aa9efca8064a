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
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from ztsim.engine.connectivity import Allowed, Grant, PolicyMap
from ztsim.inputs.loaded import LoadedTopology
from ztsim.model.textsafe import json_safe, safe
from ztsim.output.escape import markdown_text, text_lines
from ztsim.output.jsontext import dump

__all__ = [
    "FORMATS",
    "iter_reach",
    "reach_csv",
    "reach_dot",
    "reach_json",
    "reach_markdown",
    "reach_object",
    "reach_text",
    "render_reach",
]

_T = TypeVar("_T")

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


def _text_lines(m: PolicyMap) -> Iterator[str]:
    tails: dict[int, str] = {}
    for c in m.connections():
        tail = tails.get(id(c.allowed))
        if tail is None:
            a = c.allowed
            tail = tails[id(a)] = f"  {', '.join(_services(a.services))}  ({_reasons(a)})"
        yield f"{c.source} -> {c.target}{tail}"


def iter_text(maps: Sequence[PolicyMap]) -> Iterator[str]:
    """One block per policy: a heading, then ``FROM -> TO  SERVICES  (WHY)`` per line."""
    for k, m in enumerate(maps):
        head = (
            f"policy {m.policy.name} ({m.policy.path}): {_count(m.count())}, {_mode(m.all_ports)}"
        )
        yield ("\n" if k else "") + text_lines([head])
        for batch in _batches(_text_lines(m)):
            yield text_lines(batch)


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


def _json_items(m: PolicyMap) -> Iterator[str]:
    """Each connection of a map as ``dump`` writes it inside the document (depth 4).

    Each connection's services and rules are written once per shared
    :class:`~ztsim.engine.connectivity.Allowed` and each id once: maps are large.
    """
    tails: dict[int, str] = {}
    quoted: dict[str, str] = {}
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
        yield f'        {{{pad}"from": {source},{pad}"to": {target},\n        {tail}\n        }}'


def _json_pieces(topology: LoadedTopology, maps: Sequence[PolicyMap]) -> Iterator[str]:
    head = reach_object(topology, [])
    head["all_ports"] = any(m.all_ports for m in maps)
    text = dump(head)
    if not maps:
        yield text
        return
    yield text[: -len("[]\n}")] + "["
    for k, m in enumerate(maps):
        first = _indent(dump({"policy": m.policy.name, "file": m.policy.path})[:-2], 2)
        yield f'{"," if k else ""}\n    {first},\n      "connections": '
        empty = True
        for batch in _batches(_json_items(m)):
            yield ("[\n" if empty else ",\n") + ",\n".join(batch)
            empty = False
        yield "[]\n    }" if empty else "\n      ]\n    }"
    yield "\n  ]\n}"


def iter_json(topology: LoadedTopology, maps: Sequence[PolicyMap]) -> Iterator[str]:
    """The bytes of ``dump_json(reach_object(topology, maps))``, piece by piece: the
    head as ``dump`` writes it, the connections by :func:`_json_items`."""
    for piece in _json_pieces(topology, maps):
        yield json_safe(piece)  # line by line: the same as on the whole text
    yield "\n"


# ---------------------------------------------------------------------------- CSV

_FORMULA = ("=", "+", "-", "@")


def _cell(value: str) -> str:
    text = safe(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _csv_rows(m: PolicyMap) -> Iterator[list[str]]:
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
        for row in tail:
            yield [name, source, target, *row]


def iter_csv(maps: Sequence[PolicyMap]) -> Iterator[str]:
    """One row per connection, deciding grant and service range (a header first)."""
    header = ["policy", "from", "to", "service", "section", "rule", "decided_by", "location"]
    for batch in _batches(row for m in maps for row in _csv_rows(m)):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if header:
            writer.writerow(header)
            header = []
        writer.writerows(batch)
        yield out.getvalue()
    if header:  # no connection at all
        yield ",".join(header) + "\n"


# ---------------------------------------------------------------------------- Markdown


def _markdown_rows(m: PolicyMap) -> Iterator[str]:
    cells: dict[int, str] = {}
    for c in m.connections():
        tail = cells.get(id(c.allowed))
        if tail is None:
            a = c.allowed
            services = markdown_text(", ".join(_services(a.services)))
            tail = cells[id(a)] = f" | {services} | {markdown_text(_reasons(a))} |"
        yield f"| {markdown_text(c.source)} | {markdown_text(c.target)}{tail}"


def iter_markdown(maps: Sequence[PolicyMap]) -> Iterator[str]:
    """A section per policy: a count, then a table of connections."""
    for k, m in enumerate(maps):
        count = m.count()
        title = f"## {markdown_text(m.policy.name)} ({markdown_text(m.policy.path)})"
        summary = f"{_count(count)}; {markdown_text(_mode(m.all_ports))}."
        yield ("\n" if k else "") + f"{title}\n\n{summary}\n"
        if count:
            yield "\n| from | to | services | decided by |\n|---|---|---|---|\n"
            for batch in _batches(_markdown_rows(m)):
                yield "".join([row + "\n" for row in batch])


# ---------------------------------------------------------------------------- DOT


def _q(text: str) -> str:
    # control characters escaped first (``\x1b``), then DOT's own backslash and quote
    return '"' + safe(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_edges(m: PolicyMap) -> Iterator[str]:
    attrs: dict[int, str] = {}
    for c in m.connections():
        tail = attrs.get(id(c.allowed))
        if tail is None:
            a = c.allowed
            label = _q(", ".join(_services(a.services)))
            tail = attrs[id(a)] = f" [label={label}, tooltip={_q(_reasons(a))}];"
        yield f"  {_q(c.source)} -> {_q(c.target)}{tail}"


def _dot_nodes(topology: LoadedTopology, m: PolicyMap) -> list[str]:
    """The external zones and destinations on some connection, as styled nodes."""
    zones = {s for s in m.sources if s in topology.external_zones and m.connected(s)}
    dests = m.externals()
    nodes = [(z, "shape=ellipse, style=dashed") for z in zones]
    nodes += [(d, "shape=ellipse") for d in dests]
    return [f"  {_q(n)} [{style}];" for n, style in sorted(nodes)]


def iter_dot(topology: LoadedTopology, maps: Sequence[PolicyMap]) -> Iterator[str]:
    """One ``digraph`` per policy: hosts as boxes, external zones dashed ellipses,
    external destinations ellipses; an edge per connection labelled with its services."""
    for m in maps:
        head = [f"digraph {_q(m.policy.name)} {{", "  rankdir=LR;", "  node [shape=box];"]
        yield "".join([line + "\n" for line in [*head, *_dot_nodes(topology, m)]])
        for batch in _batches(_dot_edges(m)):
            yield "".join([line + "\n" for line in batch])
        yield "}\n"


def _batches(items: Iterable[_T], size: int = 4096) -> Iterator[list[_T]]:
    """``items`` in lists of ``size`` (the last one shorter): pieces written at once."""
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def iter_reach(fmt: str, topology: LoadedTopology, maps: Sequence[PolicyMap]) -> Iterator[str]:
    """The maps in ``fmt`` (one of :data:`FORMATS`), piece by piece: a large map is
    written while it is expanded, never held whole."""
    if fmt == "json":
        return iter_json(topology, maps)
    if fmt == "csv":
        return iter_csv(maps)
    if fmt == "md":
        return iter_markdown(maps)
    if fmt == "dot":
        return iter_dot(topology, maps)
    return iter_text(maps)


def render_reach(fmt: str, topology: LoadedTopology, maps: Sequence[PolicyMap]) -> str:
    """The maps in ``fmt`` (one of :data:`FORMATS`), whole."""
    return "".join(iter_reach(fmt, topology, maps))


def reach_text(maps: Sequence[PolicyMap]) -> str:
    """:func:`iter_text`, whole."""
    return "".join(iter_text(maps))


def reach_json(topology: LoadedTopology, maps: Sequence[PolicyMap]) -> str:
    """:func:`iter_json`, whole."""
    return "".join(iter_json(topology, maps))


def reach_csv(maps: Sequence[PolicyMap]) -> str:
    """:func:`iter_csv`, whole."""
    return "".join(iter_csv(maps))


def reach_markdown(maps: Sequence[PolicyMap]) -> str:
    """:func:`iter_markdown`, whole."""
    return "".join(iter_markdown(maps))


def reach_dot(topology: LoadedTopology, maps: Sequence[PolicyMap]) -> str:
    """:func:`iter_dot`, whole."""
    return "".join(iter_dot(topology, maps))
