"""The ``ztsim.io/`` annotations: attack ingredients written on the workloads themselves.

A workload (its pod template, or the workload object) may carry what manifests
otherwise lack (``docs/k8s.md``, section "Annotations").  Lists are
comma-separated items of one regular form, ``ID[@PORT/PROTO][:LEVEL]``:

- ``ztsim.io/vulnerabilities``: ``CVE-2025-1@443/tcp:root`` (remote, on a service,
  gives ``LEVEL``, default ``user``) or ``CVE-2025-2`` (local: a privilege
  escalation, gives ``root``);
- ``ztsim.io/credentials``: ``db-password[:root]``, a secret readable here with
  ``user`` (default) or ``root``;
- ``ztsim.io/logins``: ``db-password@5432/tcp[:LEVEL]``, a credential this
  workload accepts on a service, giving ``LEVEL`` (default ``user``);
- ``ztsim.io/data``: ``customers@5432/tcp`` (served by a service: ``requires:
  service``) or ``customers[:root]`` (read with code execution);
- ``ztsim.io/classification``, ``ztsim.io/records`` (a whole number),
  ``ztsim.io/integrity`` (``true``/``false``): for every data item of the workload;
- ``ztsim.io/encrypted``: services whose traffic cannot be read (``443/tcp, ...``);
- ``ztsim.io/entry``: ``user`` or ``root``, a foothold the attacker starts from;
- ``ztsim.io/ingress-controller``: ``true``, the workload is the ingress controller
  (what Ingresses and Routes publish is judged as coming from its pods).

The singular keys (``vulnerability``, ``credential``, ``login``) are the same as
the plural ones.  An unknown ``ztsim.io/`` key, or a value off this syntax, is an
error at the annotation's FILE:LINE:COL (a typo must not silently drop an
ingredient).  Credentials named are declared in the topology.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ztsim.inputs.k8s.drafts import Provenance, TopologyDraft
from ztsim.inputs.k8s.naming import host_id, workload_name
from ztsim.inputs.k8s.objects import ZTSIM_ANNOTATION_PREFIX, Manifests, Place, Workload
from ztsim.model.diagnostics import Diagnostic, InputError

__all__ = ["ANNOTATION_KEYS", "Item", "apply_annotations", "parse_items"]

#: ``ID[@PORT/PROTO][:LEVEL]``.
_ITEM = re.compile(
    r"^(?P<id>[A-Za-z0-9_][A-Za-z0-9_.+-]*)"
    r"(?:@(?P<service>[0-9]{1,5}/(?:tcp|udp|sctp)))?"
    r"(?::(?P<level>service|user|root))?$"
)
_SERVICE = re.compile(r"^[0-9]{1,5}/(?:tcp|udp|sctp)$")
_LEVELS = ("service", "user", "root")


@dataclass(frozen=True)
class Item:
    """One item of a list annotation: ``ID[@SERVICE][:LEVEL]``."""

    id: str
    service: str | None
    level: str | None


def parse_items(value: str) -> list[Item]:
    """The items of a list annotation; :class:`ValueError` naming the first bad one.

    >>> parse_items("CVE-1@443/tcp:root, CVE-2")
    [Item(id='CVE-1', service='443/tcp', level='root'), Item(id='CVE-2', service=None, level=None)]
    """
    out = []
    for raw in value.split(","):
        text = raw.strip()
        found = _ITEM.match(text)
        if found is None:
            raise ValueError(
                f"{text!r} is not ID[@PORT/PROTO][:LEVEL] (e.g. CVE-2025-1@443/tcp:root; "
                "LEVEL service, user or root)"
            )
        service = found["service"]
        if service is not None and not 1 <= int(service.split("/")[0]) <= 65535:
            raise ValueError(f"{text!r}: a port is between 1 and 65535")
        out.append(Item(found["id"], service, found["level"]))
    return out


class _Applier:
    """Applies one workload's annotations to its host, problems gathered."""

    def __init__(self, draft: TopologyDraft) -> None:
        self.draft = draft
        self.errors: list[Diagnostic] = []
        self.hosts = {h["id"]: h for h in draft.document["hosts"]}
        self.credentials: set[str] = {c["id"] for c in draft.document["credentials"]}
        #: Data ids declared so far, and where.
        self.data: dict[str, Place] = {}
        #: The annotation being applied: its place, its workload, its name.
        self.place: Place | None = None
        self.workload: Workload | None = None
        self.by = ""

    def error(self, place: Place, key: str, message: str) -> None:
        source = place.source
        self.errors.append(
            Diagnostic(source.path, source.line, source.column, "error", f"{key}: {message}")
        )

    def offered(self, host: dict[str, Any], item: Item, what: str) -> bool:
        services = {s["service"] for s in host.get("services", ())}
        if item.service is None or item.service in services:
            return True
        listed = ", ".join(sorted(services)) or "none"
        raise ValueError(
            f"{what} {item.id} names service {item.service}, which {host['id']} does "
            f"not offer (it offers: {listed})"
        )

    def credential(self, cid: str) -> None:
        if cid not in self.credentials:
            self.credentials.add(cid)
            self.draft.document["credentials"].append({"id": cid})


def _level(item: Item, allowed: tuple[str, ...], what: str) -> str | None:
    if item.level is not None and item.level not in allowed:
        raise ValueError(f"{what} {item.id}: level {item.level} (allowed: {', '.join(allowed)})")
    return item.level


def _vulnerabilities(ap: _Applier, host: dict[str, Any], value: str, w: Workload) -> None:
    for item in parse_items(value):
        if item.service is None:
            _level(item, ("root",), "local vulnerability")
            vuln: dict[str, Any] = {"id": item.id, "local": True, "gives": "root"}
        else:
            ap.offered(host, item, "vulnerability")
            vuln = {"id": item.id, "service": item.service, "gives": item.level or "user"}
        host.setdefault("vulnerabilities", []).append(vuln)


def _credentials(ap: _Applier, host: dict[str, Any], value: str, w: Workload) -> None:
    for item in parse_items(value):
        if item.service is not None:
            raise ValueError(f"credential {item.id}: a stored credential names no service")
        requires = _level(item, ("user", "root"), "credential") or "user"
        ap.credential(item.id)
        host.setdefault("credentials", []).append({"credential": item.id, "requires": requires})


def _logins(ap: _Applier, host: dict[str, Any], value: str, w: Workload) -> None:
    for item in parse_items(value):
        if item.service is None:
            raise ValueError(f"login {item.id}: name the service it opens (ID@PORT/PROTO)")
        ap.offered(host, item, "login")
        ap.credential(item.id)
        login = {"credential": item.id, "service": item.service, "gives": item.level or "user"}
        host.setdefault("logins", []).append(login)


def _data(ap: _Applier, host: dict[str, Any], value: str, w: Workload) -> None:
    for item in parse_items(value):
        entry: dict[str, Any] = {"id": item.id}
        if item.service is not None:
            _level(item, ("service",), "data")
            ap.offered(host, item, "data")
            entry.update(requires="service", service=item.service)
        else:
            entry["requires"] = _level(item, ("user", "root"), "data") or "user"
        if item.id in ap.data:
            raise ValueError(f"data {item.id} is declared already, at {ap.data[item.id].source}")
        assert ap.place is not None
        ap.data[item.id] = ap.place
        # At the workload's manifest: locating each annotation would re-read them all.
        ap.draft.provenance[item.id] = Provenance(w.source, ap.by)
        host.setdefault("data", []).append(entry)


def _encrypted(ap: _Applier, host: dict[str, Any], value: str, w: Workload) -> None:
    wanted = [s.strip() for s in value.split(",")]
    services = {s["service"]: s for s in host.get("services", ())}
    for text in wanted:
        if not _SERVICE.match(text) or text not in services:
            raise ValueError(f"{text!r} is not a service {host['id']} offers (PORT/PROTO)")
        services[text]["encrypted"] = True


def _entry(ap: _Applier, host: dict[str, Any], value: str, w: Workload) -> None:
    if value not in ("user", "root"):
        raise ValueError(f"{value!r}: the level the foothold gives, user or root")
    ap.draft.document["entry_points"].append(
        {
            "id": f"foothold@{host['id']}",
            "host": host["id"],
            "gives": value,
            "description": f"annotation ztsim.io/entry on {workload_name(w)}",
        }
    )


def _ingress_controller(ap: _Applier, host: dict[str, Any], value: str, w: Workload) -> None:
    if value != "true":
        raise ValueError(
            f"{value!r}: write true (the overlay's `ingress_controllers: []` says the "
            "manifests hold no ingress controller)"
        )
    named = dict(ap.draft.ingress_controllers or {})
    named[host["id"]] = Provenance(w.source, ap.by)
    ap.draft.ingress_controllers = named


def _attribute(field: str, parse: Callable[[str], Any]) -> Callable[..., None]:
    """An annotation setting ``field`` on every data item of the workload."""

    def apply(ap: _Applier, host: dict[str, Any], value: str, w: Workload) -> None:
        parsed = parse(value)
        if not host.get("data"):
            raise ValueError("the workload has no data item (ztsim.io/data) to describe")
        for item in host["data"]:
            item[field] = parsed

    return apply


def _records(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"{value!r} is not a whole number of records")
    return int(value)


def _integrity(value: str) -> bool:
    if value not in ("true", "false"):
        raise ValueError(f"{value!r}: write true or false")
    return value == "true"


def _classification(value: str) -> str:
    if not value.strip() or not value.isprintable():
        raise ValueError("a classification is a printable word, e.g. pii")
    return value.strip()


_Apply = Callable[[_Applier, dict[str, Any], str, Workload], None]

#: Each key (after ``ztsim.io/``), in the order they apply (data before what
#: describes it).
ANNOTATION_KEYS: dict[str, _Apply] = {
    "vulnerabilities": _vulnerabilities,
    "vulnerability": _vulnerabilities,
    "credentials": _credentials,
    "credential": _credentials,
    "logins": _logins,
    "login": _logins,
    "data": _data,
    "classification": _attribute("classification", _classification),
    "records": _attribute("records", _records),
    "integrity": _attribute("integrity", _integrity),
    "encrypted": _encrypted,
    "entry": _entry,
    "ingress-controller": _ingress_controller,
}
_ORDER = {key: i for i, key in enumerate(ANNOTATION_KEYS)}


def _short(key: str) -> str:
    return key[len(ZTSIM_ANNOTATION_PREFIX) :]


def _apply_workload(ap: _Applier, w: Workload) -> None:
    host = ap.hosts.get(host_id(w))
    if host is None:  # pragma: no cover - every workload has its host
        return
    for key, _value, source in w.ztsim_annotations:
        if _short(key) not in _ORDER:
            listed = ", ".join(sorted(_ORDER))
            ap.error(source, key, f"unknown ztsim annotation (known: {listed})")
    known = [a for a in w.ztsim_annotations if _short(a[0]) in _ORDER]
    for key, value, source in sorted(known, key=lambda a: _ORDER[_short(a[0])]):
        ap.place, ap.by = source, f"annotation {key} on {workload_name(w)}"
        try:
            ANNOTATION_KEYS[_short(key)](ap, host, value, w)
        except ValueError as exc:
            ap.error(source, key, str(exc))


def apply_annotations(draft: TopologyDraft, m: Manifests) -> TopologyDraft:
    """``draft`` (changed in place, and returned) with the ``ztsim.io/`` annotations
    of ``m``'s workloads applied to their hosts.

    Raises
    ------
    InputError
        With every malformed annotation, each at its value's FILE:LINE:COL.
    """
    ap = _Applier(draft)
    for w in sorted(m.workloads, key=lambda w: w.id):
        if w.ztsim_annotations:
            _apply_workload(ap, w)
    if ap.errors:
        raise InputError(sorted(ap.errors))
    draft.document["credentials"].sort(key=lambda c: c["id"])
    return draft
