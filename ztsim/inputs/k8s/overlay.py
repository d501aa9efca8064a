"""The overlay: a ztsim file attaching attack ingredients to Kubernetes workloads.

Manifests say what runs and how it is reachable, not what an attacker finds there
(vulnerabilities, credentials, logins, data), where the attacker starts, or which
flows the business needs.  An overlay (``kind: overlay``; its schema in
:mod:`ztsim.inputs.k8s.overlay_schema`, its guide in ``docs/k8s.md``) says so,
by selector over the workloads of an imported topology.  It is read and
validated like every ztsim file (the same guards, FILE:LINE:COL for each
problem); :func:`apply_overlay` merges it into a
:class:`~ztsim.inputs.k8s.drafts.TopologyDraft`.

What a selector finds nothing for is a warning (the same overlay serves several
versions of the manifests, e.g. both sides of ``ztsim diff``); what cannot be
right whatever the manifests (a login naming an undeclared credential, a
vulnerability on a service the workload does not offer, an id declared twice) is
an error at the overlay's FILE:LINE:COL.
"""

from __future__ import annotations

import copy
import marshal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ztsim.inputs.collector import Collector, Loc
from ztsim.inputs.k8s.drafts import OVERLAY_PREFIX, Provenance, TopologyDraft
from ztsim.inputs.k8s.naming import tidy_host
from ztsim.inputs.k8s.objects import Source
from ztsim.inputs.k8s.overlay_schema import (
    Attachment,
    Endpoint,
    Overlay,
    OverlayEntry,
    OverlayTraffic,
    WorkloadSelector,
)
from ztsim.inputs.loader import document_from_text, read_document
from ztsim.inputs.positions import Document, locate
from ztsim.inputs.validate import validate_document
from ztsim.model.diagnostics import Diagnostic, InputError

__all__ = [
    "MAX_FLOWS_PER_ENTRY",
    "LoadedOverlay",
    "apply_overlay",
    "apply_overlay_file",
    "load_overlay",
    "overlay_errors",
    "overlay_from_document",
    "overlay_from_text",
]

#: Most flows one ``traffic`` entry may stand for (selectors at both ends make a
#: product of hosts: ``from: any, to: any`` on 10,000 workloads would be 10^8).
MAX_FLOWS_PER_ENTRY = 10_000


@dataclass(frozen=True)
class LoadedOverlay:
    """A validated overlay, with its document (for the places of its nodes)."""

    model: Overlay
    path: str
    doc: Document

    def source(self, loc: Loc) -> Source:
        """Where the node at ``loc`` stands."""
        mark = locate(self.doc, loc)
        return Source(self.path, mark.line, mark.column)


def overlay_from_document(doc: Document) -> LoadedOverlay:
    """Validate a parsed overlay document.

    Raises :class:`~ztsim.model.diagnostics.InputError` with every problem, each at
    its FILE:LINE:COL.
    """
    model, _warnings = validate_document(doc, "overlay", Overlay)
    return LoadedOverlay(model, doc.path, doc)


def load_overlay(path: str | Path) -> LoadedOverlay:
    """Read and validate an overlay file (the guards of every ztsim file apply)."""
    return overlay_from_document(read_document(path))


def overlay_from_text(text: str, name: str = "<string>") -> LoadedOverlay:
    """An overlay from YAML text (tests, the Python API)."""
    return overlay_from_document(document_from_text(text, name))


def _copied(document: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a plain-data document (marshal: several times faster than
    :func:`copy.deepcopy` on ten thousand hosts; anything it cannot write, deepcopy)."""
    try:
        copied: dict[str, Any] = marshal.loads(marshal.dumps(document))
    except ValueError:
        copied = copy.deepcopy(document)
    return copied


class _Merge:
    """One overlay merged into a copy of a draft; problems in ``col``."""

    def __init__(
        self,
        draft: TopologyDraft,
        overlay: LoadedOverlay,
        col: Collector | None = None,
        *,
        whole: bool = True,
    ) -> None:
        doc = _copied(draft.document)
        self.out = TopologyDraft(
            doc,
            dict(draft.provenance),
            list(draft.notes),
            {k: list(v) for k, v in draft.published.items()},
            None if draft.ingress_controllers is None else dict(draft.ingress_controllers),
        )
        self.doc = doc
        self.overlay = overlay
        self.col = col if col is not None else Collector(overlay.doc)
        #: Whether the overlay holds every workload entry, service and entry point
        #: of its file: not when the schema refused some (see :func:`overlay_errors`),
        #: and then a service not offered, or no entry point, may be theirs.
        self.whole = whole
        self.hosts: dict[str, dict[str, Any]] = {h["id"]: h for h in doc["hosts"]}
        self.zones: dict[str, dict[str, Any]] = {z["id"]: z for z in doc["zones"]}
        self.credentials = {c["id"] for c in doc["credentials"]}
        self.external = {e["id"]: e for e in doc["external"]}
        self.taken = {*self.hosts, *self.zones, *self.credentials, *self.external}
        self.taken |= {d["id"] for h in doc["hosts"] for d in h.get("data", ())}
        self.taken |= {e["id"] for e in doc["entry_points"]}

    # -- helpers -----------------------------------------------------------------

    def kind(self, host: dict[str, Any]) -> str:
        """The kind of the workload behind ``host`` (from its provenance's name)."""
        by = self.out.provenance.get(host["id"])
        return by.name.split(" ", 1)[0] if by is not None else ""

    def select(self, sel: WorkloadSelector, loc: Loc) -> list[dict[str, Any]]:
        """The hosts ``sel`` names (a warning at ``loc`` when none)."""
        found = [h for h in self.doc["hosts"] if sel.matches(h, self.kind(h))]
        if not found:
            self.col.add(loc, "this selector names no workload of the manifests", "warning")
        return found

    def declare(self, ident: str, loc: Loc, what: str) -> bool:
        """Claim id ``ident`` (an error at ``loc`` when taken already)."""
        if ident in self.taken:
            self.col.add(loc, f"{what} id {ident!r} is taken already (ids are unique)")
            return False
        self.taken.add(ident)
        return True

    def provenance(self, ident: str, loc: Loc, what: str) -> None:
        name = self.overlay.model.name or Path(self.overlay.path).name
        self.out.provenance[ident] = Provenance(
            self.overlay.source(loc), f"{OVERLAY_PREFIX}{name}: {what}"
        )

    def publish(self, host: str, service: str, loc: Loc) -> None:
        """Record that the entry at ``loc`` makes ``host``'s ``service`` public, so a
        verdict from outside names it (after any manifest that publishes it)."""
        name = self.overlay.model.name or Path(self.overlay.path).name
        by = Provenance(self.overlay.source(loc), f"{OVERLAY_PREFIX}{name}: {service} made public")
        found = self.out.published.setdefault((host, service), [])
        if by not in found:
            found.append(by)

    def credential_known(self, cid: str, loc: Loc) -> bool:
        if cid in self.credentials:
            return True
        self.col.add(loc, f"unknown credential {cid!r} (declare it under `credentials`)")
        return False

    def offers(self, host: dict[str, Any], service: str | None, loc: Loc, what: str) -> bool:
        if service is None or any(s["service"] == service for s in host.get("services", ())):
            return True
        if self.whole:
            message = f"{what} names service {service}, which {host['id']} does not offer"
            self.col.add(loc, message)
        return False

    # -- sections ----------------------------------------------------------------

    def add_zones(self) -> None:
        for i, zone in enumerate(self.overlay.model.zones):
            if self.declare(zone.id, ("zones", i, "id"), "zone"):
                entry = zone.model_dump(exclude_defaults=True)
                self.doc["zones"].append(entry)
                self.zones[zone.id] = entry

    def add_credentials(self) -> None:
        for i, cred in enumerate(self.overlay.model.credentials):
            if cred.id in self.credentials:
                continue  # declared by an annotation too: the same secret
            if self.declare(cred.id, ("credentials", i, "id"), "credential"):
                self.doc["credentials"].append(cred.model_dump(exclude_defaults=True))
                self.credentials.add(cred.id)
                self.provenance(cred.id, ("credentials", i), f"credential {cred.id}")
        self.doc["credentials"].sort(key=lambda c: c["id"])

    def add_external(self) -> None:
        for i, dest in enumerate(self.overlay.model.external):
            if self.declare(dest.id, ("external", i, "id"), "external destination"):
                entry = dest.model_dump(exclude_defaults=True)
                entry["fqdn"], entry["services"] = dest.fqdn, dest.services
                self.doc["external"].append(entry)
                self.external[dest.id] = entry
                self.provenance(dest.id, ("external", i), f"external {dest.id}")

    def attach_all(self) -> None:
        for i, att in enumerate(self.overlay.model.workloads):
            base: Loc = ("workloads", i)
            hosts = self.select(att.select, (*base, "select"))
            for host in hosts:
                self.attach(att, host, base, several=len(hosts) > 1)

    def attach(self, att: Attachment, host: dict[str, Any], base: Loc, *, several: bool) -> None:
        services = host.setdefault("services", [])
        for k, s in enumerate(att.services):
            old = next((x for x in services if x["service"] == s.service), None)
            given = s.model_dump(include=s.model_fields_set | {"service"})
            if old is None:
                services.append(given)
            else:
                old.update(given)
            if s.public and "public" in s.model_fields_set:
                self.publish(host["id"], s.service, (*base, "services", k, "public"))
        for j, v in enumerate(att.vulnerabilities):
            if self.offers(host, v.service, (*base, "vulnerabilities", j, "service"), v.id):
                host.setdefault("vulnerabilities", []).append(v.model_dump(exclude_defaults=True))
        for j, st in enumerate(att.credentials):
            if self.credential_known(st.credential, (*base, "credentials", j, "credential")):
                host.setdefault("credentials", []).append(st.model_dump())
        for j, lg in enumerate(att.logins):
            loc = (*base, "logins", j)
            ok = self.credential_known(lg.credential, (*loc, "credential"))
            if self.offers(host, lg.service, (*loc, "service"), "login") and ok:
                host.setdefault("logins", []).append(lg.model_dump())
        for j, d in enumerate(att.data):
            loc = (*base, "data", j)
            ident = f"{d.id}@{host['id']}" if several else d.id
            if not self.offers(host, d.service, (*loc, "service"), f"data {d.id}"):
                continue
            if self.declare(ident, (*loc, "id"), "data"):
                entry = d.model_dump(exclude_defaults=True)
                entry["id"] = ident
                host.setdefault("data", []).append(entry)
                self.provenance(ident, loc, f"data {d.id} on {host['id']}")

    def ends(self, end: Endpoint, loc: Loc, side: str) -> list[str] | None:
        """The ids one end of a flow stands for (``None``: the flow is dropped)."""
        if end.select is not None:
            return [h["id"] for h in self.select(end.select, loc)] or None
        ident = end.id or ""
        zone = self.zones.get(ident)
        if ident in self.hosts or (side == "to" and ident in self.external):
            return [ident]
        if zone is not None and zone.get("external") and side == "from":
            return [ident]
        if zone is not None:
            self.col.add(loc, (
                f"{ident!r} is a zone: a flow goes from a workload or an external zone to "
                "a workload or an external destination (for a namespace's workloads, "
                f"write {{namespace: {ident}}})"
            ))  # fmt: skip
            return None
        if ident in self.external:
            self.col.add(loc, f"{ident!r} is an external destination: flows go to it, not from it")
            return None
        self.col.add(loc, f"no workload named {ident!r} in the manifests: flow left out", "warning")
        return None

    def add_traffic(self) -> None:
        seen = {(t["from"], t["to"], t["service"]) for t in self.doc["traffic"]}
        for i, t in enumerate(self.overlay.model.traffic):
            base: Loc = ("traffic", i)
            if t.credential is not None and not self.credential_known(
                t.credential, (*base, "credential")
            ):
                continue
            sources = self.ends(t.source, (*base, "from"), "from")
            targets = self.ends(t.to, (*base, "to"), "to")
            if sources is None or targets is None:
                continue
            for flow in self.flows(t, sources, targets, base):
                key = (flow["from"], flow["to"], flow["service"])
                if key not in seen:
                    seen.add(key)
                    self.doc["traffic"].append(flow)

    def flows(
        self, t: OverlayTraffic, sources: list[str], targets: list[str], base: Loc
    ) -> list[dict[str, Any]]:
        """The flows of one traffic entry (each pair of distinct ends)."""
        if t.to.select is not None:  # a selector: the workloads that offer the service
            targets = [h for h in targets if self.offers_quietly(h, t.service)]
            if not targets:
                self.col.add((*base, "to"), f"no selected workload offers {t.service}", "warning")
        elif targets[0] in self.hosts:
            if not self.offers(self.hosts[targets[0]], t.service, (*base, "service"), "traffic"):
                return []
        elif t.service not in self.external[targets[0]]["services"]:
            self.col.add((*base, "service"), f"{targets[0]} does not serve {t.service}")
            return []
        if any(s in self.zones for s in sources) and any(x in self.external for x in targets):
            self.col.add((*base, "to"), "a flow from an external zone goes to a workload")
            return []
        count = len(sources) * len(targets)
        if count > MAX_FLOWS_PER_ENTRY:
            self.col.add(base, (
                f"this entry stands for {count:,} flows (at most {MAX_FLOWS_PER_ENTRY:,}): "
                "narrow its selectors"
            ))  # fmt: skip
            return []
        extra = {"credential": t.credential} if t.credential else {}
        extra |= {"description": t.description} if t.description else {}
        return [
            {"from": s, "to": x, "service": t.service, **extra}
            for s in sources
            for x in targets
            if s != x
        ]

    def offers_quietly(self, host_id: str, service: str) -> bool:
        return any(s["service"] == service for s in self.hosts[host_id].get("services", ()))

    def add_entries(self) -> None:
        entries = self.overlay.model.entry_points
        if entries is None:
            return
        # Given, they replace the default (the external-zone entry the import made).
        old = self.doc["entry_points"]
        self.taken -= {e["id"] for e in old if "zone" in e}
        self.doc["entry_points"] = [e for e in old if "zone" not in e]
        for i, e in enumerate(entries):
            self.add_entry(e, ("entry_points", i))
        if not self.doc["entry_points"] and self.whole:
            self.col.add(("entry_points",), "no entry point: the attacker starts nowhere")

    def add_entry(self, e: OverlayEntry, base: Loc) -> None:
        for j, cid in enumerate(e.credentials):
            self.credential_known(cid, (*base, "credentials", j))
        entry = e.model_dump(exclude_defaults=True, exclude={"select"})
        if e.zone is not None:
            zone = self.zones.get(e.zone)
            if zone is None or not zone.get("external"):
                self.col.add((*base, "zone"), f"{e.zone!r} is not an external zone")
                return
            hosts: list[str | None] = [None]
        elif e.host is not None:
            if e.host not in self.hosts:
                message = f"no workload named {e.host!r}: entry left out"
                self.col.add((*base, "host"), message, "warning")
                return
            hosts = [e.host]
        else:
            assert e.select is not None  # the schema asks for exactly one
            hosts = [h["id"] for h in self.select(e.select, (*base, "select"))]
        for host in hosts:
            ident = f"{e.id}@{host}" if len(hosts) > 1 else e.id
            if self.declare(ident, (*base, "id"), "entry point"):
                placed = {"host": host} if host else {}
                self.doc["entry_points"].append({**entry, "id": ident, **placed})
                self.provenance(ident, base, f"entry point {e.id}")

    def add_controllers(self) -> None:
        """``ingress_controllers``: the workloads named, with the annotations' ones."""
        selectors = self.overlay.model.ingress_controllers
        if selectors is None:
            return
        named = dict(self.out.ingress_controllers or {})
        for i, sel in enumerate(selectors):
            loc: Loc = ("ingress_controllers", i)
            for host in self.select(sel, loc):
                name = self.overlay.model.name or Path(self.overlay.path).name
                what = f"{OVERLAY_PREFIX}{name}: ingress controller"
                why = Provenance(self.overlay.source(loc), what)
                named.setdefault(host["id"], why)
        self.out.ingress_controllers = named

    def run(self) -> None:
        """Merge every section, in the order they may name each other."""
        self.add_zones()
        self.add_credentials()
        self.add_external()
        self.attach_all()
        self.add_traffic()
        self.add_entries()
        self.add_controllers()


def _whole(model: Overlay, data: object) -> bool:
    """Whether ``model`` holds every workload entry, service and entry point of the
    document ``data`` it was validated from (not when the schema refused some)."""
    if not isinstance(data, dict):
        return False
    raw = data.get("workloads") or []
    if not isinstance(raw, list) or len(raw) != len(model.workloads):
        return False
    for entry, att in zip(raw, model.workloads, strict=True):
        services = entry.get("services") if isinstance(entry, dict) else None
        if len(services if isinstance(services, list) else []) != len(att.services):
            return False
    entries = data.get("entry_points")
    given = model.entry_points
    return (entries is None) == (given is None) and (
        given is None or (isinstance(entries, list) and len(entries) == len(given))
    )


def overlay_errors(draft: TopologyDraft, doc: Document) -> list[Diagnostic]:
    """Every problem of the overlay ``doc`` applied to ``draft``, in one pass.

    When the schema refuses parts of it, applying it still checks the rest against
    the manifests (a vulnerability on a service the workload does not offer, an
    unknown credential...), through :mod:`ztsim.inputs.salvage`: what could come
    from a part refused is not said (a credential declared there, a service a
    refused entry may add).  Empty when the overlay applies.
    """

    def check(col: Collector, model: Overlay) -> None:
        loaded = LoadedOverlay(model, doc.path, col.doc)
        _Merge(draft, loaded, col, whole=_whole(model, col.doc.data)).run()

    try:
        validate_document(doc, "overlay", Overlay, check)
    except InputError as exc:
        return exc.diagnostics
    return []


def apply_overlay_file(draft: TopologyDraft, path: str | Path) -> TopologyDraft:
    """``draft`` with the overlay file at ``path`` merged in (see :func:`apply_overlay`);
    every problem of the file, the schema's and the merge's, reported at once."""
    doc = read_document(path)
    try:
        overlay = overlay_from_document(doc)
    except InputError as exc:
        raise InputError(overlay_errors(draft, doc) or exc.diagnostics) from None
    return apply_overlay(draft, overlay)


def apply_overlay(draft: TopologyDraft, overlay: LoadedOverlay) -> TopologyDraft:
    """``draft`` with ``overlay`` merged in (a new draft; ``draft`` is left as it was).

    Warnings (a selector naming nothing, a flow to a workload absent from the
    manifests) are added to the draft's notes, at the overlay's FILE:LINE:COL.

    Raises
    ------
    InputError
        When the overlay cannot apply (see the module's docstring), every problem at
        its FILE:LINE:COL.
    """
    merge = _Merge(draft, overlay)
    merge.run()
    diagnostics = merge.col.diagnostics()
    if merge.col.errors:
        raise InputError(diagnostics)
    merge.out.notes.extend(diagnostics)
    merge.doc["hosts"] = [tidy_host(h) for h in merge.doc["hosts"]]
    return merge.out
