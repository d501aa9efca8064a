"""What the schema cannot check: uniqueness, references, service offers, warnings.

A topology's ids are unique across its lists, what it names exists and every
named service is offered by its host (spec §1, §2); a policy's rule ids are
unique (spec §3).  These are errors, checked once the document is valid
(:func:`~ztsim.inputs.validate.validate_document` runs them).  What a policy
names that a topology lacks is only a warning (:func:`policy_warnings`): a
policy may serve several topologies.  Each kind of check is a function of its
own; the pass over the hosts, the one that runs 50,000 times on an estate, is
kept in one lean loop (:func:`_check_hosts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

from ztsim.inputs.collector import Collector, Loc
from ztsim.inputs.hints import Suggester
from ztsim.inputs.loaded import HostTables, LoadedPolicy, LoadedTopology
from ztsim.inputs.positions import locate
from ztsim.model.diagnostics import Diagnostic
from ztsim.model.matching import selector_matches_host
from ztsim.model.schema import (
    DataItem,
    EgressLayer,
    EgressTier,
    Host,
    Policy,
    SegmentationLayer,
    SegmentationTier,
    Topology,
    Zone,
    lists_key,
)
from ztsim.model.selectors import Selector, expressions_key
from ztsim.perf.dedupe import PerObject, PlainKeys
from ztsim.perf.heap import paused_gc
from ztsim.perf.profiling import phase

__all__ = ["NO_DATA_MESSAGE", "check_policy", "check_topology", "policy_warnings"]


# --------------------------------------------------------------------------- topology


def check_topology(col: Collector, topo: Topology, known: PlainKeys | None = None) -> HostTables:
    """Uniqueness, references and service offers (spec §1, §2), reported to ``col``.

    Returns the host tables, filled in the same pass over the hosts as their
    checks (:class:`~ztsim.inputs.loaded.LoadedTopology` takes them over).
    ``known``: the lists keys :func:`~ztsim.perf.dedupe.shared_host_parts` found,
    host by host, each used for the very host it names.
    """
    zones = {z.id: z for z in topo.zones}
    creds = {c.id for c in topo.credentials}
    near = _Near(zones, creds)
    tables, n_data = _check_hosts(col, topo, zones, creds, known, near)
    near.hosts = Suggester(tables.hosts)
    _check_unique_ids(col, topo, tables, n_data)
    _check_traffic(col, topo, zones, tables.hosts, creds, near)
    _check_entry_points(col, topo, zones, tables.hosts, creds, near)
    if not n_data and not col.errors:  # (among errors, it would only be noise)
        col.add(("hosts",), NO_DATA_MESSAGE, "warning", key=True)
    return tables


#: What a topology with no data item is told (a warning; an error with ``--strict``).
NO_DATA_MESSAGE = (
    "no data item on any host: nothing can be exfiltrated or tampered with, so there "
    "is no goal to judge and every check passes (declare `data:` on the hosts that store it)"
)


class _Near:
    """ "Did you mean": the closest declared id of each kind to an unknown one
    (:class:`~ztsim.inputs.hints.Suggester`, each built on its first use)."""

    def __init__(self, zones: dict[str, Zone], creds: set[str]) -> None:
        self.zones = Suggester(zones)
        self.creds = Suggester(creds)
        self.hosts = Suggester(())

    def __call__(self, col: Collector, which: Suggester, name: str) -> str:
        """The hint for unknown ``name`` (none for a problem that is only counted)."""
        return which.hint(name) if col.listing() else ""


def _check_hosts(
    col: Collector,
    topo: Topology,
    zones: dict[str, Zone],
    creds: set[str],
    known: PlainKeys | None,
    near: _Near,
) -> tuple[HostTables, int]:
    """Each host's zone, lists and data items; the host tables and the number of
    data items.

    Runs once per host, so the usual case (nothing wrong) is kept lean: few
    attribute reads (each costs on a pydantic model), and a location is only
    built, and looked up, for a problem actually reported.
    """
    internal = {zid for zid, z in zones.items() if not z.external}
    hosts: dict[str, Host] = {}
    data: dict[str, tuple[Host, DataItem]] = {}
    n_data = 0
    add = col.add

    # Hosts that list the very same lists (shared, see ztsim.perf.dedupe) pass the same
    # checks of them: these run once per combination of lists found clean.
    clean: set[tuple[int, int, int, int]] = set()
    keys: list[tuple[int, int, int, int]] = []
    if known is None or len(known) != len(topo.hosts):
        known = [None] * len(topo.hosts)
    for i, (h, pre) in enumerate(zip(topo.hosts, known, strict=True)):
        hosts[h.id] = h
        if h.zone not in internal:
            if h.zone in zones:
                add(
                    ("hosts", i, "zone"),
                    f"host {h.id!r} is in external zone {h.zone!r}; external zones hold no hosts",
                )
            else:
                add(("hosts", i, "zone"), f"unknown zone {h.zone!r}{near(col, near.zones, h.zone)}")
        shape = pre[1] if pre is not None and pre[0] is h else lists_key(h)
        keys.append(shape)
        if shape in clean and not h.data:
            continue
        offered = {s.service for s in h.services}
        if shape not in clean:
            found = col.count
            _check_host_lists(col, h, i, offered, creds, near)
            if col.count == found:
                clean.add(shape)
        if h.data:
            for j, d in enumerate(h.data):
                data[d.id] = (h, d)
                n_data += 1
                if d.service is not None and d.service not in offered:
                    _no_service(col, d.service, ("hosts", i, "data", j, "service"), "data item", h)
    return HostTables(hosts, data, keys), n_data


def _check_unique_ids(col: Collector, topo: Topology, tables: HostTables, n_data: int) -> None:
    """Ids are unique across every list (spec §1).

    The tables hold the host and data ids already: no other walk over the hosts
    unless an id repeats (then :func:`_report_duplicate_ids` walks the lists
    again to place each repeat).
    """
    declared = {z.id for z in topo.zones}
    declared.update([c.id for c in topo.credentials])
    declared.update(tables.hosts)
    declared.update(tables.data)
    declared.update([e.id for e in topo.external])
    declared.update([ep.id for ep in topo.entry_points])
    n_declared = len(topo.zones) + len(topo.credentials) + len(topo.hosts) + n_data
    if len(declared) != n_declared + len(topo.external) + len(topo.entry_points):
        _report_duplicate_ids(col, topo)


def _report_duplicate_ids(col: Collector, topo: Topology) -> None:
    """Report every id declared twice, at its second (and later) declaration."""
    seen: dict[str, Loc] = {}

    def declare(ident: str, loc: Loc) -> None:
        if ident in seen:
            first = locate(col.doc, seen[ident])
            col.add(loc, f"duplicate id {ident!r} (first declared at line {first.line})")
        else:
            seen[ident] = loc

    for i, z in enumerate(topo.zones):
        declare(z.id, ("zones", i, "id"))
    for i, c in enumerate(topo.credentials):
        declare(c.id, ("credentials", i, "id"))
    for i, h in enumerate(topo.hosts):
        declare(h.id, ("hosts", i, "id"))
        for j, d in enumerate(h.data):
            declare(d.id, ("hosts", i, "data", j, "id"))
    for i, e in enumerate(topo.external):
        declare(e.id, ("external", i, "id"))
    for i, ep in enumerate(topo.entry_points):
        declare(ep.id, ("entry_points", i, "id"))


def _no_service(col: Collector, svc: str, loc: Loc, what: str, host: Host) -> None:
    col.add(loc, f"{what} names service {svc}, which host {host.id!r} does not offer")


def _check_host_lists(
    col: Collector, h: Host, i: int, offered: set[str], creds: set[str], near: _Near
) -> None:
    """A host's services, vulnerabilities, stored credentials and logins (host ``i``)."""
    services = h.services
    if len(offered) != len(services):
        once: set[str] = set()
        for j, s in enumerate(services):
            if s.service in once:
                col.add(("hosts", i, "services", j, "service"), f"service {s.service} listed twice")
            once.add(s.service)
    if h.vulnerabilities:
        vuln_ids: set[str] = set()
        for j, v in enumerate(h.vulnerabilities):
            if v.id in vuln_ids:
                col.add(
                    ("hosts", i, "vulnerabilities", j, "id"), f"vulnerability {v.id!r} listed twice"
                )
            vuln_ids.add(v.id)
            if v.service is not None and v.service not in offered:
                loc: Loc = ("hosts", i, "vulnerabilities", j, "service")
                _no_service(col, v.service, loc, "vulnerability", h)
    for j, cs in enumerate(h.credentials):
        if cs.credential not in creds:
            _unknown_credential(
                col, cs.credential, ("hosts", i, "credentials", j, "credential"), near
            )
    for j, lg in enumerate(h.logins):
        if lg.credential not in creds:
            _unknown_credential(col, lg.credential, ("hosts", i, "logins", j, "credential"), near)
        if lg.service not in offered:
            _no_service(col, lg.service, ("hosts", i, "logins", j, "service"), "login", h)


def _unknown_credential(col: Collector, cid: str, loc: Loc, near: _Near) -> None:
    hint = near(col, near.creds, cid)
    col.add(loc, f"unknown credential {cid!r}{hint or ' (declare it under `credentials`)'}")


def _check_traffic(
    col: Collector,
    topo: Topology,
    zones: dict[str, Zone],
    hosts: dict[str, Host],
    creds: set[str],
    near: _Near,
) -> None:
    """Each traffic flow's source, destination, service and credential."""
    dests = {e.id: e for e in topo.external}
    # A flow comes from a host or an external zone, and goes to a host or a destination.
    outside = [zid for zid, z in zones.items() if z.external]
    sources = Suggester(chain(hosts, outside))  # (read on the first look-up only)
    targets = Suggester(chain(hosts, dests))
    for i, t in enumerate(topo.traffic):
        base = ("traffic", i)
        src_zone = zones.get(t.source)
        if t.source not in hosts:
            # The hint only for an unknown source: one look-up reads every host's id.
            hint = near(col, sources, t.source) if src_zone is None else ""
            _traffic_source_zone(col, base, t.source, src_zone, hint)
        if t.to in hosts:
            svc = hosts[t.to].offer(t.service)
            if svc is None:
                col.add(
                    (*base, "service"),
                    f"traffic names service {t.service}, which host {t.to!r} does not offer",
                )
            elif src_zone is not None and src_zone.external and not svc.public:
                col.add(
                    (*base, "service"),
                    f"traffic from external zone {t.source!r} to {t.to}:{t.service}, which is "
                    "not public: no policy can allow it",
                    "warning",
                )
        elif t.to in dests:
            if t.service not in dests[t.to].services:
                col.add(
                    (*base, "service"),
                    f"traffic names service {t.service}, which destination {t.to!r} does not offer",
                )
            if src_zone is not None:
                col.add((*base, "to"), "traffic from an external zone goes to a host, not outside")
        else:
            hint = near(col, targets, t.to) or " (a host or an external destination)"
            col.add((*base, "to"), f"unknown destination {t.to!r}{hint}")
        if t.credential is not None and t.credential not in creds:
            _unknown_credential(col, t.credential, (*base, "credential"), near)


def _traffic_source_zone(
    col: Collector, base: Loc, source: str, zone: Zone | None, hint: str
) -> None:
    """A flow's source that is no host: an external zone, or an error (``hint``: the
    closest source, if any)."""
    if zone is None:
        col.add(
            (*base, "from"), f"unknown source {source!r}{hint or ' (a host or an external zone)'}"
        )
    elif not zone.external:
        col.add(
            (*base, "from"),
            f"traffic comes from a host or an external zone; zone {source!r} is "
            "internal (name its hosts)",
        )


def _check_entry_points(
    col: Collector,
    topo: Topology,
    zones: dict[str, Zone],
    hosts: dict[str, Host],
    creds: set[str],
    near: _Near,
) -> None:
    """Each entry point's zone, host and credentials; and that there is one."""
    for i, ep in enumerate(topo.entry_points):
        base = ("entry_points", i)
        if ep.zone is not None:
            ez = zones.get(ep.zone)
            if ez is None:
                col.add(
                    (*base, "zone"), f"unknown zone {ep.zone!r}{near(col, near.zones, ep.zone)}"
                )
            elif not ez.external:
                col.add(
                    (*base, "zone"),
                    f"entry zone {ep.zone!r} is internal; the attacker starts in an external "
                    "zone (use `host:` for a foothold inside)",
                )
        if ep.host is not None and ep.host not in hosts:
            col.add((*base, "host"), f"unknown host {ep.host!r}{near(col, near.hosts, ep.host)}")
        for j, cred_id in enumerate(ep.credentials):
            if cred_id not in creds:
                _unknown_credential(col, cred_id, (*base, "credentials", j), near)

    if not topo.entry_points and not any(z.external for z in topo.zones):
        col.add((), "no entry point: declare `entry_points` or an external zone")


# --------------------------------------------------------------------------- policy


def check_policy(col: Collector, pol: Policy) -> None:
    """A policy's rule ids and detection ids are unique (spec §3), and in layered
    sections (model v1.1) its layer ids within a section and tier ids within a
    layer; reported to ``col``."""
    # Rule ids are unique within a policy (spec §3), across both sections and every
    # layer and tier, so that a `rule` in the results is never ambiguous.
    seen: dict[str, Loc] = {}
    for section in ("segmentation", "egress"):
        sec = pol.segmentation if section == "segmentation" else pol.egress
        for p in sec.placed_rules():
            rid = p.rule.id
            if rid in seen:
                first = locate(col.doc, seen[rid])
                col.add(
                    (section, *p.path, "id"),
                    f"duplicate rule id {rid!r} (first at line {first.line})",
                )
            else:
                seen[rid] = (section, *p.path)
        _check_layer_ids(col, section, sec.layers or [])
    seen_det: set[str] = set()
    for i, d in enumerate(pol.controls.detection):
        if d.id in seen_det:
            col.add(("controls", "detection", i, "id"), f"duplicate detection id {d.id!r}")
        seen_det.add(d.id)


def _check_layer_ids(
    col: Collector, section: str, layers: Sequence[SegmentationLayer | EgressLayer]
) -> None:
    """Layer ids are unique within their section, tier ids within their layer (a
    decision names its section and layer; tiers are never named in results)."""
    layer_ids: set[str] = set()
    for i, layer in enumerate(layers):
        if layer.id in layer_ids:
            col.add((section, "layers", i, "id"), f"duplicate layer id {layer.id!r} in {section}")
        layer_ids.add(layer.id)
        tier_ids: set[str] = set()
        tiers: Sequence[SegmentationTier | EgressTier] = layer.tiers or []
        for j, tier in enumerate(tiers):
            if tier.id in tier_ids:
                col.add(
                    (section, "layers", i, "tiers", j, "id"),
                    f"duplicate tier id {tier.id!r} in layer {layer.id!r}",
                )
            tier_ids.add(tier.id)


# --------------------------------------------------------------------------- policy vs topology


def _selector_matches_any(sel: Selector, topo: LoadedTopology) -> bool:
    """Whether ``sel`` matches some host or external zone (indexed: no host scan,
    but for label expressions)."""
    if sel.labels_match:
        # Model v1.1's expressions are not indexed: a scan, for these selectors only.
        return any(selector_matches_host(sel, h) for h in topo.model.hosts)
    zones, named, labels = sel.zone, sel.host, sel.labels
    # Any, or a zone list with an external zone (it holds no host, so only a
    # selector with no host and no labels matches it).
    if not named and not labels and (zones is None or any(z in topo.external_zones for z in zones)):
        return True
    if named:
        # A selector names a few hosts: test each rather than index them all.
        hosts = topo.hosts
        for hid in named:
            h = hosts.get(hid)
            if (
                h is not None
                and (zones is None or h.zone in zones)
                and (not labels or labels.items() <= h.labels.items())
            ):
                return True
        return False
    if zones is None:
        return topo.host_groups.any_match(None, labels or {})
    return any(topo.host_groups.any_match(z, labels or {}) for z in zones)


def policy_warnings(policy: LoadedPolicy, topo: LoadedTopology) -> list[Diagnostic]:
    """What ``policy`` names that ``topo`` lacks, as warnings (errors with ``--strict``).

    A policy may serve several topologies (spec §1), so an unknown id or a selector
    that matches nothing is not an error by itself.
    """
    if policy.doc is None:
        return []
    with phase("validate"), paused_gc():
        return _policy_warnings(policy, topo)


def _policy_warnings(policy: LoadedPolicy, topo: LoadedTopology) -> list[Diagnostic]:
    assert policy.doc is not None
    col = Collector(policy.doc)
    creds = {c.id for c in topo.model.credentials}

    zones, hosts = topo.zones, topo.hosts
    # Each "did you mean" searches every id of its kind once (a budget bounds the total).
    near_zones, near_hosts, near_creds = Suggester(zones), Suggester(hosts), Suggester(creds)

    def hint(which: Suggester, name: str) -> str:
        return which.hint(name) if col.listing("warning") else ""

    # Rules repeat their selectors (a 10,000-rule policy has a few thousand distinct
    # ones): whether one matches something is looked up once per distinct value.
    matches: dict[tuple[object, ...], bool] = {}

    def matches_any(sel: Selector) -> bool:
        key = (
            tuple(sel.zone) if sel.zone else None,
            tuple(sel.host) if sel.host else None,
            tuple(sel.labels.items()) if sel.labels else None,
            expressions_key(sel),
        )
        found = matches.get(key)
        if found is None:
            found = matches[key] = _selector_matches_any(sel, topo)
        return found

    def judge(sel: Selector) -> list[tuple[Loc, str]]:
        """What to warn of a selector: (place within it, message) pairs."""
        found: list[tuple[Loc, str]] = []
        zone, named = sel.zone, sel.host
        for j, z in enumerate(zone or ()):
            # ("zone", j) of a single zone (a scalar) locates the scalar itself.
            if z not in zones:
                why = f"zone {z!r} is not in topology {topo.name!r}{hint(near_zones, z)}"
                found.append((("zone", j), why))
        if named:
            for j, h in enumerate(named):
                if h not in hosts:
                    at: Loc = ("host", j) if len(named) > 1 else ("host",)
                    why = f"host {h!r} is not in topology {topo.name!r}{hint(near_hosts, h)}"
                    found.append((at, why))
        if not found and not matches_any(sel):
            found.append(((), f"selector `{sel}` matches nothing in topology {topo.name!r}"))
        return found

    # Selectors validated once per parsed object (ztsim.perf.dedupe) are one object for
    # many rules: each is judged once, and its warnings repeated at each rule.
    judged = PerObject(judge)

    def check_selector(sel: Selector, section: str, path: Loc, field: str) -> None:
        # The place is spelled out only for a selector to warn of (few are).
        for at, message in judged(sel):
            col.add((section, *path, field, *at), message, "warning")

    pol = policy.model
    for p in pol.segmentation.placed_rules():
        check_selector(p.rule.source, "segmentation", p.path, "from")
        check_selector(p.rule.to, "segmentation", p.path, "to")
    for pe in pol.egress.placed_rules():
        check_selector(pe.rule.source, "egress", pe.path, "from")
    for i, c in enumerate(pol.controls.mfa):
        if c not in creds:
            col.add(
                ("controls", "mfa", i),
                f"credential {c!r} is not in topology {topo.name!r}{hint(near_creds, c)}",
                "warning",
            )
    for i, d in enumerate(pol.controls.detection):
        check_selector(d.where, "controls", ("detection", i), "where")
    return col.diagnostics()


#: What a folder of policies holds: files with these suffixes (any case), read as
