"""Namespaces, workloads, services and published entries (Ingress, Route) from manifests.

A Pod, or the pod template of a Deployment, StatefulSet, DaemonSet, ReplicaSet,
ReplicationController, Job or CronJob, gives a :class:`WorkloadPart`; the reader
joins the parts of one owner into one :class:`~ztsim.inputs.k8s.objects.Workload`
(see :func:`owner_name`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from ztsim.inputs.collector import Loc
from ztsim.inputs.k8s.fields import DNS_SUBDOMAIN, Fields
from ztsim.inputs.k8s.objects import (
    NAMESPACE_LABEL,
    ZTSIM_ANNOTATION_PREFIX,
    Backend,
    ContainerPort,
    Ingress,
    Labels,
    Namespace,
    Place,
    Service,
    ServicePort,
    Source,
)

__all__ = [
    "TEMPLATE_PATHS",
    "Meta",
    "WorkloadPart",
    "ingress_of",
    "meta_of",
    "namespace_of",
    "owner_name",
    "route_of",
    "service_of",
    "workload_part",
]

#: The kinds whose pod template makes a workload, and where the template is.
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
#: Kubernetes' name syntax: object names are DNS-1123 subdomains, namespace names
#: DNS-1123 labels.  The API server refuses others, and they become ztsim ids.
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
#: What a name must be to stand in a ztsim id (``NAMESPACE/NAME``, model ids).
_ID_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+-]*")
_SUBDOMAIN_SAYS = (
    "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending "
    "with a letter or digit, at most 253 characters), as Kubernetes requires"
)
_LABEL_SAYS = (
    "a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a "
    "letter or digit, at most 63 characters), as Kubernetes requires"
)

_SERVICE_TYPES: tuple[ServiceType, ...] = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")


@dataclass(frozen=True)
class Meta:
    """An object's name, namespace (``default`` when not given) and controller owner."""

    name: str
    namespace: str
    owner: tuple[str, str] | None  # (kind, name); kind "" when the manifest omits it


@dataclass(frozen=True)
class WorkloadPart:
    """One manifest's share of a workload (a Pod, or a template object)."""

    namespace: str
    kind: str
    name: str
    owner: tuple[str, str] | None
    labels: Labels
    ports: tuple[ContainerPort, ...]
    annotations: Labels
    source: Source
    ztsim_annotations: tuple[tuple[str, str, Place], ...] = ()


def meta_of(f: Fields, data: dict[str, Any], loc: Loc, *, label: bool = False) -> Meta | None:
    """The metadata of an object (``None``, with an error, when it has no name);
    ``label``: its name is a DNS-1123 label (a Namespace's), else a subdomain."""
    meta = f.mapping(data, "metadata", loc, required=True)
    here = (*loc, "metadata")
    # No second error for a name inside metadata that is missing or not a mapping.
    name = (
        f.string(meta, "name", here, required=True)
        if isinstance(data.get("metadata"), dict)
        else None
    )
    says = _LABEL_SAYS if label else _SUBDOMAIN_SAYS
    if name is not None and not _name_ok(f, (*here, "name"), name, says, label=label):
        name = None
    namespace = f.string(meta, "namespace", here) or "default"
    if not _name_ok(f, (*here, "namespace"), namespace, _LABEL_SAYS, label=True):
        name = None
    owner = None
    for rloc, ref in f.items(meta, "ownerReferences", here):
        if ref.get("controller") is True and ref.get("kind") != "Node":
            ref_name = f.string(ref, "name", rloc, required=True)
            ref_kind = f.string(ref, "kind", rloc) or ""
            owner = (ref_kind, ref_name) if ref_name else None
            break
    return Meta(name, namespace, owner) if name else None


def _name_ok(f: Fields, loc: Loc, name: str, says: str, *, label: bool = False) -> bool:
    """Whether ``name`` can be read: an error (``False``) when it cannot be part of a
    ztsim id (a '/', a space, a control character...); a warning when it only breaks
    Kubernetes' syntax (the API server would refuse it; netpol-analyzer reads it)."""
    key = loc[-1]
    # A namespace's name is a zone id, and holds no '.' (see topology: internet.external).
    if not _ID_PART.fullmatch(name) or (label and "." in name):
        f.error(loc, f"{key!r} must be {says}, not {name[:80]!r}")
        return False
    ok = len(name) <= 63 if label else len(name) <= 253
    if not ok or not (_LABEL if label else DNS_SUBDOMAIN).fullmatch(name):
        f.warn(loc, f"{key!r} should be {says}, not {name[:80]!r}: read as written")
    return True


def namespace_of(f: Fields, data: dict[str, Any], loc: Loc) -> Namespace | None:
    """A Namespace manifest; its labels include the automatic name label."""
    meta = meta_of(f, data, loc, label=True)
    if meta is None:
        return None
    labels = dict(f.labels(f.mapping(data, "metadata", loc), "labels", (*loc, "metadata")))
    labels[NAMESPACE_LABEL] = meta.name
    return Namespace(meta.name, tuple(sorted(labels.items())), f.source(loc))


def workload_part(f: Fields, data: dict[str, Any], loc: Loc, kind: str) -> WorkloadPart | None:
    """A Pod (``kind`` ``Pod``) or the pod template of a workload kind."""
    meta = meta_of(f, data, loc)
    if kind == "Pod":
        pod, pod_loc, owner = data, loc, meta.owner if meta else None
    else:
        pod, pod_loc = data, loc
        for step in TEMPLATE_PATHS[kind]:
            if not isinstance(pod.get(step), dict):  # one error, at the first step missing
                f.mapping(pod, step, pod_loc, required=True)
                pod = {}
                break
            pod, pod_loc = pod[step], (*pod_loc, step)
        owner = meta.owner if meta else None
    if meta is None:
        return None
    pod_meta = f.mapping(pod, "metadata", pod_loc)
    labels = f.labels(pod_meta, "labels", (*pod_loc, "metadata"))
    annotations = f.labels(pod_meta, "annotations", (*pod_loc, "metadata"), syntax=False)
    ports = _container_ports(f, f.mapping(pod, "spec", pod_loc), (*pod_loc, "spec"))
    ours = _ztsim_annotations(f, annotations, (*pod_loc, "metadata", "annotations"))
    if pod_loc != loc:  # a template: the workload object's own annotations too
        meta_node = f.mapping(data, "metadata", loc)
        own = f.labels(meta_node, "annotations", (*loc, "metadata"), syntax=False)
        ours = {**_ztsim_annotations(f, own, (*loc, "metadata", "annotations")), **ours}
    return WorkloadPart(
        meta.namespace, kind, meta.name, owner, labels, ports, annotations, f.source(loc),
        tuple((k, v, src) for k, (v, src) in sorted(ours.items())),
    )  # fmt: skip


def _ztsim_annotations(f: Fields, annotations: Labels, loc: Loc) -> dict[str, tuple[str, Place]]:
    """The ``ztsim.io/`` annotations of ``annotations`` (at ``loc``), each with the
    place of its value (located when asked: see :class:`Place`)."""
    return {
        k: (v, Place(partial(f.source, (*loc, k))))
        for k, v in annotations
        if k.startswith(ZTSIM_ANNOTATION_PREFIX)
    }


def _container_ports(f: Fields, spec: dict[str, Any], loc: Loc) -> tuple[ContainerPort, ...]:
    out = []
    for cloc, container in f.items(spec, "containers", loc):
        for ploc, port in f.items(container, "ports", cloc):
            key = "containerPort"
            if key not in port:
                # Go's JSON decoding (kubectl, netpol-analyzer) matches field names
                # whatever their case; strict validation would refuse the manifest.
                key = next((k for k in port if str(k).lower() == "containerport"), key)
                if key != "containerPort":
                    f.warn(
                        (*ploc, key),
                        f"{key!r} read as 'containerPort' (field names are case-sensitive; "
                        "kubectl's strict validation refuses it)",
                        key=True,
                    )
            number = f.port(port, key, ploc, required=True, named=False)
            protocol = f.protocol(port, ploc)
            name = f.string(port, "name", ploc)
            if isinstance(number, int) and protocol is not None:
                out.append(ContainerPort(number, protocol, name))
    return tuple(out)


def owner_name(
    part: WorkloadPart, owners: dict[tuple[str, str, str], tuple[str, str] | None]
) -> tuple[str, str]:
    """The (kind, name) a part's workload is known by: its controller owner's,
    followed through the owners the manifests hold (a Pod of a ReplicaSet of a
    Deployment takes the Deployment's); a bare Pod its own.

    ``owners``: (namespace, kind, name) of each template object -> its controller owner.
    """
    kind, name = (part.kind, part.name) if part.owner is None else part.owner
    seen = set()
    while (part.namespace, kind, name) in owners and (kind, name) not in seen:
        seen.add((kind, name))
        above = owners[(part.namespace, kind, name)]
        if above is None:
            break
        kind, name = above
    return kind or "Pod", name


def service_of(f: Fields, data: dict[str, Any], loc: Loc) -> Service | None:
    """A Service: type, selector, ports (``port`` -> ``targetPort``)."""
    meta = meta_of(f, data, loc)
    spec = f.mapping(data, "spec", loc)
    here = (*loc, "spec")
    kind = f.choice(spec, "type", here, _SERVICE_TYPES, "ClusterIP")
    selector = f.labels(spec, "selector", here) if spec.get("selector") is not None else None
    ports = []
    for ploc, port in f.items(spec, "ports", here):
        number = f.port(port, "port", ploc, required=True, named=False)
        target = f.port(port, "targetPort", ploc) or number
        protocol = f.protocol(port, ploc)
        node_port = f.port(port, "nodePort", ploc, named=False)
        if isinstance(number, int) and target is not None and protocol is not None:
            name = f.string(port, "name", ploc)
            ports.append(ServicePort(number, target, protocol, name, _int(node_port)))
    if meta is None or kind is None:
        return None
    return Service(meta.namespace, meta.name, kind, selector, tuple(ports), f.source(loc))


def _int(value: int | str | None) -> int | None:
    return value if isinstance(value, int) else None


def ingress_of(f: Fields, data: dict[str, Any], loc: Loc) -> Ingress | None:
    """An Ingress: its hosts and the services it sends to."""
    meta = meta_of(f, data, loc)
    spec = f.mapping(data, "spec", loc)
    here = (*loc, "spec")
    backends = []
    hosts = []
    for key in ("defaultBackend", "backend"):  # "backend": networking.k8s.io/v1beta1
        if key in spec:
            backend = _ingress_backend(f, f.mapping(spec, key, here), (*here, key))
            backends += [backend] if backend else []
    for rloc, rule in f.items(spec, "rules", here):
        host = f.string(rule, "host", rloc)
        hosts += [host] if host else []
        http = f.mapping(rule, "http", rloc)
        for ploc, path in f.items(http, "paths", (*rloc, "http")):
            backend = _ingress_backend(
                f, f.mapping(path, "backend", ploc, required=True), (*ploc, "backend")
            )
            backends += [backend] if backend else []
    if meta is None:
        return None
    return Ingress(
        "Ingress", meta.namespace, meta.name, tuple(hosts), tuple(backends), f.source(loc)
    )


def _ingress_backend(f: Fields, backend: dict[str, Any], loc: Loc) -> Backend | None:
    if "serviceName" in backend:  # networking.k8s.io/v1beta1 (before Kubernetes 1.22)
        old = f.string(backend, "serviceName", loc, required=True)
        port = f.port(backend, "servicePort", loc)
        return Backend(old, port, f.source(loc)) if old else None
    if "service" not in backend:
        if backend:
            f.warn(loc, "a backend that is not a service (a resource) publishes no workload")
        return None
    service = f.mapping(backend, "service", loc)
    here = (*loc, "service")
    name = f.string(service, "name", here, required=True)
    port = f.mapping(service, "port", here)
    number = f.port(port, "number", (*here, "port"), named=False)
    port_name = f.string(port, "name", (*here, "port"))
    if name is None:
        return None
    return Backend(name, number if number is not None else port_name, f.source(loc))


def route_of(f: Fields, data: dict[str, Any], loc: Loc) -> Ingress | None:
    """An OpenShift Route: its host and the services it sends to (``to`` and the
    alternate backends, at ``port.targetPort``)."""
    meta = meta_of(f, data, loc)
    spec = f.mapping(data, "spec", loc, required=True)
    here = (*loc, "spec")
    host = f.string(spec, "host", here)
    target = f.port(f.mapping(spec, "port", here), "targetPort", (*here, "port"))
    backends = []
    targets = [((*here, "to"), f.mapping(spec, "to", here, required=True))]
    targets += f.items(spec, "alternateBackends", here)
    for tloc, to in targets:
        kind = f.string(to, "kind", tloc) or "Service"
        name = f.string(to, "name", tloc, required=True)
        if kind != "Service":
            f.warn(tloc, f"a Route to a {kind}, not a Service, publishes no workload")
        elif name is not None:
            backends.append(Backend(name, target, f.source(tloc)))
    if meta is None:
        return None
    hosts = (host,) if host else ()
    return Ingress("Route", meta.namespace, meta.name, hosts, tuple(backends), f.source(loc))
