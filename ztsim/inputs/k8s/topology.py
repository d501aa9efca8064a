"""Kubernetes workloads as a ztsim topology (issue 25, point 2; layer ``inputs``).

:func:`topology_document` maps what :func:`~ztsim.inputs.k8s.read_manifests` read
to a topology in ztsim's YAML shape (a :class:`~ztsim.inputs.k8s.drafts.TopologyDraft`):

- each namespace is an internal zone (its id the namespace's name), and one
  external zone, ``internet``, stands for everything outside the cluster;
- each workload is one host ``NAMESPACE/NAME`` (all its replicas), with its pod
  labels and its container ports as services (``PORT/PROTO``, a named port's name
  kept as ``name``);
- a Service's ``targetPort`` is a port its selected pods listen on: a number not
  declared by a container is added to the host (containers need not declare the
  ports they listen on); a name is resolved per workload, among its container
  ports of the Service port's protocol;
- a LoadBalancer or NodePort Service, an Ingress backend or a Route target
  publishes the target ports it reaches (``public: true``), and the default entry
  point is the internet, which reaches what is published (spec §4.2).

The ``ztsim.io/`` annotations of workloads (:mod:`ztsim.inputs.k8s.annotations`)
are applied last.  Every list is sorted (zones, hosts, services), so the same
manifests give the same document whatever their file order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ztsim.inputs.k8s.annotations import apply_annotations
from ztsim.inputs.k8s.drafts import Provenance, TopologyDraft
from ztsim.inputs.k8s.naming import host_id, service_text, tidy_host, workload_name
from ztsim.inputs.k8s.objects import (
    Backend,
    ContainerPort,
    Ingress,
    Manifests,
    Service,
    ServicePort,
    Source,
    Workload,
    label_map,
)
from ztsim.model.diagnostics import Diagnostic

__all__ = ["DEFAULT_ENTRY", "INTERNET", "topology_document"]

#: The external zone standing for everything outside the cluster.
INTERNET = "internet"
#: The id of the default entry point (the attacker on the internet).
DEFAULT_ENTRY = "internet-attacker"


def _note(source: Source | None, message: str) -> Diagnostic:
    where = source or Source("<manifests>", 1, 1)
    return Diagnostic(where.path, where.line, where.column, "warning", message)


def _free_id(wanted: str, taken: Iterable[str]) -> str:
    """``wanted``, or ``wanted.external`` when a namespace already has that name
    (Kubernetes names hold no ``.`` in a namespace: no clash is possible then)."""
    return wanted if wanted not in set(taken) else f"{wanted}.external"


class _Hosts:
    """The hosts being built: services per host, published services, notes."""

    def __init__(self, m: Manifests, notes: list[Diagnostic]) -> None:
        self.notes = notes
        self.workloads = sorted(m.workloads, key=lambda w: w.id)
        self.ids = {w.id: host_id(w) for w in self.workloads}
        #: host id -> service text -> its entry (``service``, ``name``, ``public``).
        self.services: dict[str, dict[str, dict[str, Any]]] = {}
        self.published: dict[tuple[str, str], list[Provenance]] = {}
        #: (namespace, label pair) -> the workloads there with it: a Service's
        #: candidates are those with its selector's first pair, not every workload.
        self.by_label: dict[tuple[str, tuple[str, str]], list[Workload]] = {}
        for w in self.workloads:
            self.services[self.ids[w.id]] = self._container_services(w)
            for pair in w.labels:
                self.by_label.setdefault((w.namespace, pair), []).append(w)

    def _container_services(self, w: Workload) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for port in w.ports:
            text = service_text(port.number, port.protocol)
            entry = out.setdefault(text, {"service": text})
            if port.name is None:
                continue
            if "name" not in entry:
                entry["name"] = port.name
            elif entry["name"] != port.name:
                self.notes.append(_note(w.source, (
                    f"{workload_name(w)} declares port {text} under two names, "
                    f"{entry['name']!r} and {port.name!r}: the first is kept"
                )))  # fmt: skip
        return out

    def selected(self, svc: Service) -> list[Workload]:
        """The workloads a Service selects (its namespace, its selector's labels)."""
        if not svc.selector:  # none or empty: endpoints managed by hand
            return []
        wanted = svc.selector
        candidates = self.by_label.get((svc.namespace, wanted[0]), [])
        return [w for w in candidates if all(kv in w.labels for kv in wanted[1:])]

    def targets(self, svc: Service, port: ServicePort, w: Workload) -> list[ContainerPort]:
        """The container ports of ``w`` that Service port ``port`` reaches (a named
        target resolved among those of the port's protocol: none, with a note, when
        ``w`` declares no such name)."""
        if isinstance(port.target, int):
            return [ContainerPort(port.target, port.protocol)]
        found = [p for p in w.ports if p.name == port.target and p.protocol == port.protocol]
        if not found:
            self.notes.append(_note(svc.source, (
                f"Service {svc.namespace}/{svc.name} port {port.port} targets the named port "
                f"{port.target!r} ({port.protocol}), which {workload_name(w)} does not "
                "declare: that workload is no endpoint of it"
            )))  # fmt: skip
        return found

    def listen(self, w: Workload, port: ContainerPort) -> str:
        """Make sure ``w``'s host offers ``port``; its service text."""
        text = service_text(port.number, port.protocol)
        self.services[self.ids[w.id]].setdefault(text, {"service": text})
        return text

    def publish(self, w: Workload, text: str, by: Provenance) -> None:
        """Mark service ``text`` of ``w``'s host public, published by ``by``."""
        host = self.ids[w.id]
        self.services[host][text]["public"] = True
        found = self.published.setdefault((host, text), [])
        if by not in found:
            found.append(by)


def _apply_services(hosts: _Hosts, m: Manifests) -> dict[tuple[str, str], Service]:
    """Each Service's target ports offered by its workloads; LoadBalancer and
    NodePort Services publish theirs.  Returns the Services by (namespace, name)."""
    by_name: dict[tuple[str, str], Service] = {}
    for svc in m.services:
        by_name.setdefault((svc.namespace, svc.name), svc)
        published = svc.type in ("LoadBalancer", "NodePort")
        selected = hosts.selected(svc)
        if published and not selected:
            hosts.notes.append(_note(svc.source, (
                f"{svc.type} Service {svc.namespace}/{svc.name} selects no workload of the "
                "manifests: it publishes nothing ztsim knows"
            )))  # fmt: skip
        by = Provenance(svc.source, f"{svc.type} Service {svc.namespace}/{svc.name}")
        for w in selected:
            for port in svc.ports:
                for target in hosts.targets(svc, port, w):
                    text = hosts.listen(w, target)
                    if published:
                        hosts.publish(w, text, by)
    return by_name


def _backend_ports(entry: Ingress, backend: Backend, svc: Service) -> list[ServicePort]:
    """The ports of ``svc`` a backend sends to.

    An Ingress names a Service port by number or name; a Route's ``targetPort``
    names the pods' port (a number, or a name: the Service port's or the
    container port's); any of these readings is taken, so that none is missed.
    No port: every port.
    """
    want = backend.port
    if want is None:
        return list(svc.ports)
    if entry.kind == "Ingress":
        return [p for p in svc.ports if (p.port if isinstance(want, int) else p.name) == want]
    return [p for p in svc.ports if want in (p.port, p.name, p.target)]


def _apply_entries(hosts: _Hosts, m: Manifests, services: dict[tuple[str, str], Service]) -> None:
    """Ingress backends and Route targets publish the target ports they reach."""
    for entry in m.ingresses:
        by = Provenance(entry.source, f"{entry.kind} {entry.namespace}/{entry.name}")
        for backend in entry.backends:
            svc = services.get((entry.namespace, backend.service))
            if svc is None:
                hosts.notes.append(_note(backend.source, (
                    f"{by.name} sends to Service {entry.namespace}/{backend.service}, which "
                    "is not in the manifests: it publishes nothing ztsim knows"
                )))  # fmt: skip
                continue
            ports = _backend_ports(entry, backend, svc)
            selected = hosts.selected(svc)
            if not ports or not selected:
                what = f"port {backend.port}" if not ports else "no workload of the manifests"
                hosts.notes.append(_note(backend.source, (
                    f"{by.name} sends to Service {svc.namespace}/{svc.name}, which has "
                    f"{'no ' if not ports else ''}{what}: it publishes nothing there"
                )))  # fmt: skip
            for w in selected:
                for port in ports:
                    for target in hosts.targets(svc, port, w):
                        hosts.publish(w, hosts.listen(w, target), by)


def _host_document(w: Workload, hid: str, services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    host: dict[str, Any] = {"id": hid, "zone": w.namespace}
    if w.labels:
        host["labels"] = label_map(w.labels)
    if services:
        host["services"] = list(services.values())  # sorted by tidy_host
    host["description"] = workload_name(w)
    return host


def topology_document(m: Manifests, name: str = "kubernetes") -> TopologyDraft:
    """The topology of manifests ``m`` (see the module's docstring), named ``name``.

    Raises
    ------
    InputError
        When a ``ztsim.io/`` annotation is malformed (at its FILE:LINE:COL).
    """
    notes: list[Diagnostic] = []
    provenance: dict[str, Provenance] = {}
    namespaces = sorted(m.namespaces, key=lambda ns: ns.name)
    zones: list[dict[str, Any]] = []
    for ns in namespaces:
        zones.append({"id": ns.name, "description": f"namespace {ns.name}"})
        if ns.source is not None:
            provenance[ns.name] = Provenance(ns.source, f"Namespace {ns.name}")
    internet = _free_id(INTERNET, (ns.name for ns in namespaces))
    zones.append({"id": internet, "external": True, "description": "outside the cluster"})

    hosts = _Hosts(m, notes)
    services = _apply_services(hosts, m)
    _apply_entries(hosts, m, services)
    host_docs = []
    for w in hosts.workloads:
        hid = hosts.ids[w.id]
        if hid != w.id:
            notes.append(_note(w.source, f"{workload_name(w)}: id too long, shortened to {hid}"))
        host_docs.append(_host_document(w, hid, hosts.services[hid]))
        provenance[hid] = Provenance(w.source, workload_name(w))

    entry = _free_id(DEFAULT_ENTRY, (ns.name for ns in namespaces))
    document: dict[str, Any] = {
        "ztsim": 1,
        "kind": "topology",
        "name": name,
        "description": "imported from Kubernetes manifests",
        "zones": zones,
        "credentials": [],
        "hosts": host_docs,
        "external": [],
        "traffic": [],
        "entry_points": [
            {
                "id": entry,
                "zone": internet,
                "description": "the internet: reaches what LoadBalancer and NodePort "
                "Services, Ingresses and Routes publish",
            }
        ],
    }
    draft = apply_annotations(TopologyDraft(document, provenance, notes, hosts.published), m)
    document["hosts"] = [tidy_host(h) for h in document["hosts"]]
    return draft
