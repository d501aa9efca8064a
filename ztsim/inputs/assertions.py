"""Intent assertions: what must stay true of a topology under each policy.

A third kind of file (``kind: assertions``, see ``docs/assertions.md``) states the
security intent of a network as named, severity-tagged assertions: no exfiltration
of some data, no plan cheaper than N steps, no flow between two zones, a business
flow that must stay allowed... :func:`ztsim.whatif.intent.evaluate` (the layer
above: it runs the analysis) judges every assertion under every policy and
returns a report that the CI formats of :mod:`ztsim.output.reports` render.  Loading
follows the loader's conventions: every problem at once, each as
``FILE:LINE:COL: message`` in an :class:`~ztsim.model.diagnostics.InputError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
)

from ztsim.inputs.collector import Collector
from ztsim.inputs.loaded import LoadedTopology
from ztsim.inputs.loader import document_from_text, read_document
from ztsim.inputs.positions import Document, Mark, locate
from ztsim.inputs.validate import validate_document
from ztsim.model.destinations import is_cidr_text
from ztsim.model.diagnostics import Diagnostic
from ztsim.model.fields import Id
from ztsim.model.matching import (
    destination_touched,
    fqdn_covers,
    selector_matches_host,
    selector_matches_zone,
)
from ztsim.model.rules import to_pattern
from ztsim.model.schema import ExternalDestination
from ztsim.model.selectors import Selector
from ztsim.model.services import parse_port_range, parse_service

__all__ = [
    "Assertion",
    "AssertionSet",
    "EgressDenied",
    "GoalAssertion",
    "LoadedAssertions",
    "MaxUndetected",
    "MinAttackCost",
    "NoExfiltration",
    "NoFlow",
    "NoTampering",
    "TrafficAllowed",
    "assertion_errors",
    "assertions_from_document",
    "assertions_from_text",
    "egress_destinations",
    "flow_sources",
    "goal_assertions",
    "load_assertions",
    "selected_goals",
    "selected_traffic",
]

Severity = Literal["error", "warning"]
GoalKind = Literal["exfiltration", "tampering", "any"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _services(v: str | list[str] | None) -> str | list[str] | None:
    # `services: []` would select no service and pass vacuously (a no-flow or
    # egress-denied that checks nothing): refused, as a blank value is.
    if isinstance(v, list) and not v:
        raise ValueError("empty list: omit the key for every service, or list some")
    for s in [v] if isinstance(v, str) else v or []:
        parse_port_range(s)
    return v


def _not_blank(v: object) -> object:
    """Refuse a key given with no value (``data: ~``): it is a forgotten value, not
    "every one" as the omitted key means (a field validator runs on given keys only)."""
    if v is None:
        raise ValueError("blank value: omit the key, or write its value")
    return v


class _Base(_Model):
    id: Id
    severity: Severity = "error"
    description: StrictStr | None = None


class _GoalSelection(_Base):
    data: Id | list[Id] | None = None
    classification: StrictStr | list[StrictStr] | None = None
    entry: Id | None = None

    _blank = field_validator("data", "classification", "entry", mode="before")(_not_blank)


class NoExfiltration(_GoalSelection):
    """No selected data item can be exfiltrated (optionally: from one entry point)."""

    type: Literal["no-exfiltration"]


class NoTampering(_GoalSelection):
    """No selected data item with ``integrity: true`` can be tampered with."""

    type: Literal["no-tampering"]


class MinAttackCost(_GoalSelection):
    """No plan to a selected goal is cheaper than ``steps`` steps.

    Fails unless proven: a plan under ``steps`` found, or a goal's proven lower
    bound on the cost (:attr:`ztsim.analysis.GoalResult.cost_lower_bound`) under it.
    """

    type: Literal["min-attack-cost"]
    goal: GoalKind = "any"
    steps: StrictInt = Field(ge=1)
    plans: StrictInt = Field(default=5, ge=1, le=50)


class MaxUndetected(_GoalSelection):
    """No listed open plan goes undetected with a probability above ``probability``."""

    type: Literal["max-undetected"]
    goal: GoalKind = "any"
    # Strict: a number (an integer is one), never `yes` nor "0.5".
    probability: float = Field(ge=0.0, le=1.0, strict=True)
    plans: StrictInt = Field(default=5, ge=1, le=50)


class NoFlow(_Base):
    """Segmentation intent: no source matching ``from`` opens a flow to ``to``."""

    type: Literal["no-flow"]
    source: Selector = Field(alias="from")
    to: Selector
    services: StrictStr | list[StrictStr] | None = None

    _s = field_validator("services")(_services)
    _blank = field_validator("services", mode="before")(_not_blank)


class EgressDenied(_Base):
    """No host matching ``from`` may send traffic to the selected destinations."""

    type: Literal["egress-denied"]
    source: Selector = Field(alias="from")
    to: StrictStr | list[StrictStr] = "*"
    services: StrictStr | list[StrictStr] | None = None

    _s = field_validator("services")(_services)
    _blank = field_validator("to", "services", mode="before")(_not_blank)


class TrafficAllowed(_Base):
    """Legitimate flows (one named flow, or the declared ones matching) stay allowed."""

    type: Literal["traffic-allowed"]
    source: Id | None = Field(default=None, alias="from")
    to: Id | None = None
    service: StrictStr | None = None

    _blank = field_validator("source", "to", "service", mode="before")(_not_blank)

    @field_validator("service")
    @classmethod
    def _service(cls, v: str | None) -> str | None:
        return None if v is None else str(parse_service(v))


Assertion = Annotated[
    NoExfiltration
    | NoTampering
    | MinAttackCost
    | MaxUndetected
    | NoFlow
    | EgressDenied
    | TrafficAllowed,
    Field(discriminator="type"),
]


class AssertionSet(_Model):
    """An assertions file (``kind: assertions``)."""

    ztsim: Literal[1]
    kind: Literal["assertions"]
    name: StrictStr
    description: StrictStr | None = None
    # Required and never empty: a file that asserts nothing would let `check --assert`
    # pass whatever the estate (a gate must not pass on a forgotten list).
    assertions: list[Assertion] = Field(min_length=1)


@dataclass(eq=False)
class LoadedAssertions:
    """A validated assertions file and where each assertion stands in it."""

    model: AssertionSet
    path: str
    doc: Document | None = None

    @property
    def name(self) -> str:
        """The assertion set's name."""
        return self.model.name

    def mark(self, index: int) -> Mark | None:
        """Line and column of assertion ``index``, when the file is known."""
        return locate(self.doc, ("assertions", index)) if self.doc is not None else None


# --------------------------------------------------------------------------- loading


def _check_assertions(col: Collector, model: AssertionSet) -> None:
    first: dict[str, int] = {}
    lines: list[str] | None = None  # the text's lines, split once when a count needs them
    for i, a in enumerate(model.assertions):
        if a.id in first:
            line = locate(col.doc, ("assertions", first[a.id])).line
            col.add(
                ("assertions", i, "id"), f"duplicate assertion id {a.id!r} (first at line {line})"
            )
        first.setdefault(a.id, i)
        for field in ("steps", "plans"):
            if field in a.model_fields_set:
                if lines is None:
                    lines = col.doc.text.splitlines()
                _check_decimal(col, ("assertions", i, field), lines)


#: A count as written in plain decimal (YAML 1.1 reads ``017`` as 15, ``1:30`` as
#: 90, ``0x1f`` as 31 and ``1_0`` as 10), up to what follows it.
_DECIMAL = re.compile(r"\+?(?:0|[1-9][0-9]*)(?![0-9A-Za-z_:.])")


def _check_decimal(col: Collector, loc: tuple[str | int, ...], lines: list[str]) -> None:
    """Refuse a count not written in plain decimal: it would not mean what it says.

    Read from the text's ``lines`` at the node's place (an assertions file is small:
    indexing its positions costs nothing that matters).
    """
    mark = locate(col.doc, loc)
    if 0 < mark.line <= len(lines) and not _DECIMAL.match(lines[mark.line - 1], mark.column - 1):
        col.add(
            loc,
            f"{'.'.join(map(str, loc))}: write the count in plain decimal digits "
            "(YAML 1.1 reads 017 as 15, 1:30 as 90, 0x1f as 31, 1_0 as 10)",
        )


def _assertions_from(doc: Document) -> LoadedAssertions:
    model, _warnings = validate_document(doc, "assertions", AssertionSet, _check_assertions)
    return LoadedAssertions(model, doc.path, doc)


def assertions_from_document(doc: Document) -> LoadedAssertions:
    """Validate an already parsed assertions document (see :func:`load_assertions`)."""
    return _assertions_from(doc)


def load_assertions(path: str | Path) -> LoadedAssertions:
    """Load and check an assertions file (schema and unique ids).

    Raises
    ------
    InputError
        With every problem found, each located at its file, line and column.
    """
    return _assertions_from(read_document(path))


def assertions_from_text(text: str, name: str = "<string>") -> LoadedAssertions:
    """Load an assertions file from YAML text (tests, the Python API)."""
    return _assertions_from(document_from_text(text, name))


# --------------------------------------------------------------------------- selections


_GOAL_FACT = {"exfiltration": "exfil", "tampering": "tamper"}


def _as_list(v: str | list[str] | None) -> list[str] | None:
    return [v] if isinstance(v, str) else v


#: The assertions about goals (they select data items and may name an entry point).
GoalAssertion = NoExfiltration | NoTampering | MinAttackCost | MaxUndetected


def selected_goals(a: GoalAssertion, topo: LoadedTopology) -> list[tuple[str, str]]:
    """The goal facts an assertion is about, in the topology's order."""
    ids = _as_list(a.data)
    classes = _as_list(a.classification)
    if isinstance(a, NoExfiltration):
        kinds = {"exfil"}
    elif isinstance(a, NoTampering):
        kinds = {"tamper"}
    else:
        kinds = {"exfil", "tamper"} if a.goal == "any" else {_GOAL_FACT[a.goal]}
    out: list[tuple[str, str]] = []
    for h in topo.model.hosts:
        for d in h.data:
            if ids is not None and d.id not in ids:
                continue
            if classes is not None and d.classification not in classes:
                continue
            if "exfil" in kinds:
                out.append(("exfil", d.id))
            if "tamper" in kinds and d.integrity:
                out.append(("tamper", d.id))
    return out


def flow_sources(sel: Selector, topo: LoadedTopology) -> list[str]:
    """Hosts and external zones a ``from`` selector matches, in file order."""
    hosts = [h.id for h in topo.model.hosts if selector_matches_host(sel, h)]
    zones = [z.id for z in topo.model.zones if z.external and selector_matches_zone(sel, z.id)]
    return zones + hosts


def _names(pattern: str, dest: ExternalDestination) -> bool:
    """Whether an assertion's destination pattern names ``dest``: an FQDN pattern
    covering its name or under it, or a CIDR block (model v1.1) meeting its block."""
    if dest.fqdn is None:
        return is_cidr_text(pattern) and destination_touched(to_pattern(pattern), dest)
    return fqdn_covers(pattern, dest.fqdn) or fqdn_covers(dest.fqdn, pattern)


def egress_destinations(patterns: str | list[str], topo: LoadedTopology) -> list[str]:
    """Destinations named by id, or whose FQDN a pattern covers or falls under."""
    pats = _as_list(patterns) or []
    out: list[str] = []
    for e in topo.model.external:
        for p in pats:
            # Either direction counts: a specific name under a wildcard destination is
            # reached by egress to that destination (conservative).
            if p == e.id or _names(p, e):
                out.append(e.id)
                break
    return out


def selected_traffic(a: TrafficAllowed, topo: LoadedTopology) -> list[tuple[str, str, str]]:
    """The flows a ``traffic-allowed`` assertion names: itself, or declared ones matching."""
    if a.source is not None and a.to is not None and a.service is not None:
        return [(a.source, a.to, a.service)]
    return [
        (t.source, t.to, t.service)
        for t in topo.model.traffic
        if (a.source is None or t.source == a.source)
        and (a.to is None or t.to == a.to)
        and (a.service is None or t.service == a.service)
    ]


# --------------------------------------------------------------------------- cross-checks


def _check_selector(
    sel: Selector, topo: LoadedTopology, loc: tuple[str | int, ...]
) -> list[tuple[tuple[str | int, ...], str]]:
    out: list[tuple[tuple[str | int, ...], str]] = []
    out.extend(
        ((*loc, "zone", j), f"unknown zone {z!r}")
        for j, z in enumerate(sel.zone or ())
        if z not in topo.zones
    )
    out.extend(
        ((*loc, "host"), f"unknown host {h!r}") for h in sel.host or () if h not in topo.hosts
    )
    return out


def _problems(a: Assertion, topo: LoadedTopology) -> list[tuple[tuple[str | int, ...], str]]:
    """What an assertion names that the topology lacks: a typo must never pass vacuously."""
    p: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(a, GoalAssertion):
        p.extend(
            (("data",), f"unknown data item {d!r}")
            for d in _as_list(a.data) or ()
            if d not in topo.data
        )
        known = {d.classification for _, d in topo.data.values()}
        p.extend(
            (("classification",), f"no data item has classification {c!r}")
            for c in _as_list(a.classification) or ()
            if c not in known
        )
        if a.entry is not None and a.entry not in {e.id for e in topo.entry_points}:
            p.append((("entry",), f"unknown entry point {a.entry!r}"))
        if not p and not selected_goals(a, topo):
            p.append(((), "selects no goal (tampering needs data with `integrity: true`)"))
    elif isinstance(a, NoFlow):
        p.extend(_check_selector(a.source, topo, ("from",)))
        p.extend(_check_selector(a.to, topo, ("to",)))
        if not p and not flow_sources(a.source, topo):
            p.append((("from",), f"selector `{a.source}` matches no host or external zone"))
        if not p and not any(selector_matches_host(a.to, h) for h in topo.model.hosts):
            p.append((("to",), f"selector `{a.to}` matches no host"))
    elif isinstance(a, EgressDenied):
        p.extend(_check_selector(a.source, topo, ("from",)))
        if not p and not any(selector_matches_host(a.source, h) for h in topo.model.hosts):
            p.append((("from",), f"selector `{a.source}` matches no host"))
        if not egress_destinations(a.to, topo):
            p.append((("to",), f"{a.to!r} names no external destination of the topology"))
    else:
        p.extend(_traffic_problems(a, topo))
    return p


def _traffic_problems(
    a: TrafficAllowed, topo: LoadedTopology
) -> list[tuple[tuple[str | int, ...], str]]:
    flows = selected_traffic(a, topo)
    if not flows:
        return [((), "matches no `traffic` flow of the topology (or name from, to and service)")]
    declared = {(t.source, t.to, t.service) for t in topo.model.traffic}
    if len(flows) > 1 or flows[0] in declared:
        return []
    src, to, svc = flows[0]
    if src not in topo.hosts and src not in topo.external_zones:
        return [(("from",), f"unknown source {src!r} (a host or an external zone)")]
    if to in topo.hosts:
        offered = {s.service for s in topo.hosts[to].services}
    elif to in topo.destinations and src in topo.hosts:
        offered = set(topo.destinations[to].services)
    else:
        return [
            (
                ("to",),
                f"unknown destination {to!r} (a host, or an external destination from a host)",
            )
        ]
    if svc not in offered:
        return [(("service",), f"{to!r} does not offer service {svc}")]
    return []


def assertion_errors(
    assertions: LoadedAssertions | Sequence[Assertion], topo: LoadedTopology
) -> list[Diagnostic]:
    """Check what assertions name against a topology; every problem is an error."""
    items = assertions.model.assertions if isinstance(assertions, LoadedAssertions) else assertions
    doc = assertions.doc if isinstance(assertions, LoadedAssertions) else None
    path = assertions.path if isinstance(assertions, LoadedAssertions) else "<assertions>"
    out: list[Diagnostic] = []
    for i, a in enumerate(items):
        for loc, msg in _problems(a, topo):
            mark = locate(doc, ("assertions", i, *loc)) if doc is not None else Mark(1, 1)
            out.append(
                Diagnostic(
                    path,
                    mark.line,
                    mark.column,
                    "error",
                    f"assertion {a.id}: {msg} in topology {topo.name!r}",
                )
            )
    return out


def goal_assertions(topo: LoadedTopology) -> list[Assertion]:
    """One implicit assertion per goal (used when no assertions file is given)."""
    out: list[Assertion] = []
    for h in topo.model.hosts:
        for d in h.data:
            out.append(NoExfiltration(id=f"exfiltrate({d.id})", type="no-exfiltration", data=d.id))
            if d.integrity:
                out.append(NoTampering(id=f"tamper({d.id})", type="no-tampering", data=d.id))
    return out
