"""A naive, obviously-correct evaluator of Kubernetes network policy semantics.

The reference that ztsim's Kubernetes importer is checked against, itself checked
against netpol-analyzer's published connlists (tests/test_k8s_reference.py).  It
reads manifests with plain ``yaml.safe_load_all`` (libyaml's when present), shares
no code with ``ztsim.inputs.k8s`` and answers one question per call: may ``src``
open a connection to ``dst`` on ``port``/``proto``?  The answer is

    egress side of src allows it  AND  ingress side of dst allows it

where each side is decided, for a pod, by (in order) the AdminNetworkPolicies
selecting it (by priority, then rule order; the first matching rule decides,
``Pass`` skips to the next tier), the NetworkPolicies (a pod selected by one for
a direction is isolated in that direction and allowed only by the union of their
rules), the BaselineAdminNetworkPolicy (first matching rule), else allowed.  An
external address, and netpol-analyzer's stand-in for the ingress controller, have
no egress side of their own.  ``ipBlock`` and ``networks`` match addresses only,
never pods (as netpol-analyzer reads them); a named port matches the destination
pod's container port of that name and protocol.

Speed comes only from probing: the allowed set is constant between the port and
address bounds a case names, so :func:`connlist` asks :func:`allowed` at one port
per elementary port interval and one address per elementary address interval.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "PROTOCOLS",
    "Cluster",
    "IPRange",
    "Workload",
    "allowed",
    "connlist",
    "load_cluster",
]

PROTOCOLS = ("TCP", "UDP", "SCTP")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ALL_IPS = (0, 2**32)  # IPv4 only: [start, end)
#: Kinds whose pod template makes a workload, and where the template is.
TEMPLATES = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


@dataclass(frozen=True)
class ContainerPort:
    name: str | None
    number: int
    protocol: str


@dataclass
class Workload:
    """One workload (all its replicas): what a connlist line names."""

    namespace: str
    name: str
    kind: str
    labels: dict[str, str]
    ports: list[ContainerPort]

    @property
    def display(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}]"


@dataclass(frozen=True)
class IPRange:
    """An external address range [start, end), probed at its start."""

    start: int
    end: int

    @property
    def display(self) -> str:
        return (
            f"{ipaddress.IPv4Address(self.start)}-{ipaddress.IPv4Address(self.end - 1)}[External]"
        )


Peer = Workload | IPRange


@dataclass
class Cluster:
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    workloads: list[Workload] = field(default_factory=list)
    netpols: list[dict[str, Any]] = field(default_factory=list)
    anps: list[dict[str, Any]] = field(default_factory=list)
    banp: dict[str, Any] | None = None
    #: Objects of other kinds, by kind (Service, Ingress, Route...).
    others: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


# -- reading -----------------------------------------------------------------------


def _files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix in (".yaml", ".yml", ".json")
            )
        else:
            yield p


def _objects(doc: Any) -> Iterator[dict[str, Any]]:
    """The objects of one document, ``*List`` kinds expanded (items inherit the kind)."""
    if not isinstance(doc, dict):
        return
    kind = doc.get("kind") or ""
    if kind.endswith("List") and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            if isinstance(item, dict):
                if not item.get("kind") and kind != "List":
                    item = {**item, "kind": kind[: -len("List")]}
                yield from _objects(item)
        return
    yield doc


def _dig(obj: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def _ports(pod_spec: Any) -> list[ContainerPort]:
    out = []
    for c in _dig(pod_spec, "containers") or []:
        for p in c.get("ports") or []:
            # Go's JSON decoding (kubectl, netpol-analyzer) matches field names
            # case-insensitively: ``containerport`` is ``containerPort``.
            number = next((v for k, v in p.items() if k.lower() == "containerport"), None)
            if isinstance(number, int):
                out.append(ContainerPort(p.get("name"), number, p.get("protocol", "TCP")))
    return out


def load_cluster(paths: Iterable[str | Path]) -> Cluster:
    """Every object of the manifests under ``paths`` (files, directories recursively)."""
    cluster = Cluster()
    seen: set[tuple[str, str]] = set()
    for path in _files(paths):
        # safe_load_all's semantics, through libyaml when present (the same objects).
        for doc in yaml.load_all(path.read_text(), Loader=_LOADER):
            for obj in _objects(doc):
                _add(cluster, obj, seen)
    for w in cluster.workloads:
        cluster.namespaces.setdefault(w.namespace, {})
    for name, labels in cluster.namespaces.items():
        labels.setdefault("kubernetes.io/metadata.name", name)
    return cluster


def _add(cluster: Cluster, obj: dict[str, Any], seen: set[tuple[str, str]]) -> None:
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or "default"
    if kind == "Namespace":
        cluster.namespaces[meta["name"]] = dict(meta.get("labels") or {})
    elif kind == "Pod":
        name, wkind = meta["name"], "Pod"
        for ref in meta.get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") != "Node":
                name, wkind = ref["name"], ref.get("kind") or "Pod"
                break
        if (ns, name) not in seen:  # replicas of one owner are one workload
            seen.add((ns, name))
            labels = dict(meta.get("labels") or {})
            cluster.workloads.append(Workload(ns, name, wkind, labels, _ports(obj.get("spec"))))
    elif kind in TEMPLATES:
        template = _dig(obj, *TEMPLATES[kind]) or {}
        labels = dict(_dig(template, "metadata", "labels") or {})
        seen.add((ns, meta["name"]))
        cluster.workloads.append(
            Workload(ns, meta["name"], kind, labels, _ports(template.get("spec")))
        )
    elif kind == "NetworkPolicy":
        cluster.netpols.append({**obj, "metadata": {**meta, "namespace": ns}})
    elif kind == "AdminNetworkPolicy":
        cluster.anps.append(obj)
    elif kind == "BaselineAdminNetworkPolicy":
        cluster.banp = obj
    elif kind:
        cluster.others.setdefault(kind, []).append(obj)


# -- matching ------------------------------------------------------------------------


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A label selector (``{}`` selects everything)."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _ns_labels(cluster: Cluster, w: Workload) -> dict[str, str]:
    return cluster.namespaces[w.namespace]


def _ip_in(ip: int, cidr: str) -> bool:
    net = ipaddress.ip_network(cidr, strict=False)
    return net.version == 4 and int(net.network_address) <= ip <= int(net.broadcast_address)


def _named(dst: Peer, name: str, port: int, proto: str) -> bool:
    """Whether named port ``name`` of destination ``dst`` is ``port``/``proto``."""
    if not isinstance(dst, Workload):
        return False  # an address has no named ports
    return any(p.name == name and p.number == port and p.protocol == proto for p in dst.ports)


# NetworkPolicy


def _np_peer(cluster: Cluster, policy_ns: str, peer: dict[str, Any], other: Peer) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        return (
            isinstance(other, IPRange)
            and _ip_in(other.start, block["cidr"])
            and not any(_ip_in(other.start, e) for e in block.get("except") or [])
        )
    if not isinstance(other, Workload):
        return False
    if "namespaceSelector" in peer:
        ns_ok = selects(peer["namespaceSelector"], _ns_labels(cluster, other))
    else:
        ns_ok = other.namespace == policy_ns
    return ns_ok and selects(peer.get("podSelector"), other.labels)


def _np_port(spec: dict[str, Any], dst: Peer, port: int, proto: str) -> bool:
    if spec.get("protocol", "TCP") != proto:
        return False
    p = spec.get("port")
    if p is None:
        return True
    if isinstance(p, str) and not p.isdigit():
        return _named(dst, p, port, proto)
    return int(p) == port or int(p) <= port <= int(spec.get("endPort") or p)


def _np_affects(policy: dict[str, Any], direction: str) -> bool:
    types = _dig(policy, "spec", "policyTypes")
    if types:
        return direction.capitalize() in types
    return direction == "ingress" or bool(_dig(policy, "spec", "egress"))


@dataclass(frozen=True)
class Probe:
    """One question to one side: may the connection with ``other`` (the peer seen
    from the side's pod) to ``dst`` on ``port``/``proto`` pass in ``direction``?"""

    direction: str  # "ingress" or "egress"
    other: Peer
    dst: Peer
    port: int
    proto: str

    @property
    def peers_key(self) -> str:
        return "from" if self.direction == "ingress" else "to"


def _np_rule(cluster: Cluster, policy: dict[str, Any], rule: dict[str, Any], q: Probe) -> bool:
    peers = rule.get(q.peers_key)
    ns = policy["metadata"]["namespace"]
    if peers and not any(_np_peer(cluster, ns, p, q.other) for p in peers):
        return False
    ports = rule.get("ports")
    return not ports or any(_np_port(s, q.dst, q.port, q.proto) for s in ports)


# Admin and baseline admin policies


def _anp_pods(cluster: Cluster, sel: dict[str, Any], w: Peer) -> bool:
    """An ANP subject or peer (``namespaces`` or ``pods``) against ``w``."""
    if not isinstance(w, Workload):
        return False
    if "namespaces" in sel:
        return selects(sel["namespaces"], _ns_labels(cluster, w))
    if "pods" in sel:
        pods = sel["pods"]
        return selects(pods.get("namespaceSelector"), _ns_labels(cluster, w)) and selects(
            pods.get("podSelector"), w.labels
        )
    return False


def _anp_peer(cluster: Cluster, peer: dict[str, Any], other: Peer) -> bool:
    if "networks" in peer:
        return isinstance(other, IPRange) and any(_ip_in(other.start, c) for c in peer["networks"])
    return _anp_pods(cluster, peer, other)


def _anp_port(spec: dict[str, Any], dst: Peer, port: int, proto: str) -> bool:
    if "portNumber" in spec:
        pn = spec["portNumber"]
        return pn.get("protocol", "TCP") == proto and int(pn["port"]) == port
    if "portRange" in spec:
        pr = spec["portRange"]
        return pr.get("protocol", "TCP") == proto and int(pr["start"]) <= port <= int(pr["end"])
    if "namedPort" in spec:
        return _named(dst, spec["namedPort"], port, proto)
    return False


def _admin_verdict(
    cluster: Cluster, policy: dict[str, Any], subject: Workload, q: Probe
) -> str | None:
    """The action of the first rule of ``policy`` that matches, if any."""
    if not _anp_pods(cluster, _dig(policy, "spec", "subject") or {}, subject):
        return None
    for rule in _dig(policy, "spec", q.direction) or []:
        if not any(_anp_peer(cluster, p, q.other) for p in rule.get(q.peers_key) or []):
            continue
        ports = rule.get("ports")
        if not ports or any(_anp_port(s, q.dst, q.port, q.proto) for s in ports):
            return str(rule["action"])
    return None


def _side(cluster: Cluster, subject: Workload, q: Probe) -> bool:
    """Whether ``subject``'s side allows the connection of ``q``."""
    for anp in sorted(cluster.anps, key=lambda a: int(a["spec"]["priority"])):
        action = _admin_verdict(cluster, anp, subject, q)
        if action == "Pass":
            break
        if action is not None:
            return action == "Allow"
    isolating = [
        np
        for np in cluster.netpols
        if np["metadata"]["namespace"] == subject.namespace
        and selects(np["spec"].get("podSelector"), subject.labels)
        and _np_affects(np, q.direction)
    ]
    if isolating:
        return any(
            _np_rule(cluster, np, rule, q)
            for np in isolating
            for rule in np["spec"].get(q.direction) or []
        )
    if cluster.banp is not None:
        action = _admin_verdict(cluster, cluster.banp, subject, q)
        if action is not None:
            return action == "Allow"
    return True


def allowed(cluster: Cluster, src: Peer, dst: Peer, port: int, proto: str) -> bool:
    """Whether ``src`` may open a connection to ``dst`` on ``port``/``proto``."""
    external = not isinstance(src, Workload) or src is CONTROLLER
    if not external and not _side(cluster, src, Probe("egress", dst, dst, port, proto)):
        return False
    return not isinstance(dst, Workload) or _side(
        cluster, dst, Probe("ingress", src, dst, port, proto)
    )


# -- the connlist ---------------------------------------------------------------------


def _walk(obj: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def port_bounds(cluster: Cluster) -> list[int]:
    """The starts of the elementary port intervals of the case (1..65535)."""
    cuts = {1, 65536}
    for policy in [*cluster.netpols, *cluster.anps, *([cluster.banp] if cluster.banp else [])]:
        for key, value in _walk(policy.get("spec")):
            if key in ("port", "start") and isinstance(value, int):
                cuts |= {value, value + 1}
            elif key in ("endPort", "end") and isinstance(value, int):
                cuts.add(value + 1)
    for w in cluster.workloads:
        for p in w.ports:
            cuts |= {p.number, p.number + 1}
    return sorted(c for c in cuts if 1 <= c <= 65535)


def _interval(cidr: str) -> tuple[int, int] | None:
    net = ipaddress.ip_network(cidr, strict=False)
    if net.version != 4:
        return None
    return int(net.network_address), int(net.broadcast_address) + 1


def _block_cuts(cidr: str, excepts: Iterable[str] = ()) -> set[int]:
    """The bounds of the address set ``cidr`` minus ``excepts`` (a set: excepts that
    touch make one hole, as netpol-analyzer's disjoint blocks do)."""
    whole = _interval(cidr)
    if whole is None:
        return set()
    pieces = [whole]
    for hole in filter(None, map(_interval, excepts)):
        pieces = [
            part
            for a, b in pieces
            for part in ((a, min(b, hole[0])), (max(a, hole[1]), b))
            if part[0] < part[1]
        ]
    return {bound for piece in pieces for bound in piece}


def ip_ranges(cluster: Cluster, direction: str) -> list[IPRange]:
    """The elementary address ranges of the ipBlocks in ``direction`` rules (and, for
    egress, of the admin policies' networks), the whole space included."""
    cuts = set(ALL_IPS)
    for np in cluster.netpols:
        for rule in np["spec"].get(direction) or []:
            for peer in rule.get("from" if direction == "ingress" else "to") or []:
                block = peer.get("ipBlock")
                if block:
                    cuts |= _block_cuts(block["cidr"], block.get("except") or [])
    if direction == "egress":
        for policy in [*cluster.anps, *([cluster.banp] if cluster.banp else [])]:
            for rule in _dig(policy, "spec", "egress") or []:
                for peer in rule.get("to") or []:
                    for cidr in peer.get("networks") or []:
                        cuts |= _block_cuts(cidr)
    points = sorted(cuts)
    return [IPRange(a, b) for a, b in pairwise(points)]


def _ranges_text(starts: list[int], bounds: list[int]) -> str:
    """``1-79,81`` for the allowed elementary intervals starting at ``starts``."""
    ends = dict(zip(bounds, [*bounds[1:], 65536], strict=True))
    spans: list[list[int]] = []
    for s in starts:
        if spans and spans[-1][1] == s:
            spans[-1][1] = ends[s]
        else:
            spans.append([s, ends[s]])
    return ",".join(f"{a}" if b - a == 1 else f"{a}-{b - 1}" for a, b in spans)


def _ports_text(ports: list[int]) -> str:
    """``80-81,443`` for the sorted ports ``ports``."""
    spans: list[list[int]] = []
    for p in ports:
        if spans and spans[-1][1] == p - 1:
            spans[-1][1] = p
        else:
            spans.append([p, p])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def connection(cluster: Cluster, src: Peer, dst: Peer, bounds: list[int]) -> str:
    """netpol-analyzer's text for what ``src`` may open to ``dst`` (``""`` for nothing)."""
    parts = []
    full = True
    for proto in PROTOCOLS:
        starts = [b for b in bounds if allowed(cluster, src, dst, b, proto)]
        full = full and len(starts) == len(bounds)
        if starts:
            parts.append(f"{proto} {_ranges_text(starts, bounds)}")
    return "All Connections" if full else ",".join(sorted(parts))


# -- what Ingress and Route objects open (netpol-analyzer's ingress analyzer) ---------

#: netpol-analyzer's stand-in for the ingress controller: a pod with no labels in a
#: namespace of its own, which no policy of the cases selects.
CONTROLLER = Workload("ingress-controller-ns", "ingress-controller", "", {}, [])


def _backends(cluster: Cluster) -> Iterator[tuple[str, str, int | str | None]]:
    """(namespace, service, port or port name or None) of every Route and Ingress backend."""
    for route in cluster.others.get("Route", []):
        ns = _dig(route, "metadata", "namespace") or "default"
        port = _dig(route, "spec", "port", "targetPort")
        for target in [
            _dig(route, "spec", "to") or {},
            *(_dig(route, "spec", "alternateBackends") or []),
        ]:
            if target.get("kind", "Service") == "Service":
                yield ns, target["name"], port
    for ingress in cluster.others.get("Ingress", []):
        ns = _dig(ingress, "metadata", "namespace") or "default"
        services = [_dig(ingress, "spec", "defaultBackend", "service")]
        for rule in _dig(ingress, "spec", "rules") or []:
            services += [
                _dig(path, "backend", "service") for path in _dig(rule, "http", "paths") or []
            ]
        for svc in filter(None, services):
            port = svc.get("port") or {}
            yield ns, svc["name"], port.get("name") or port.get("number")


def _access_ports(service: dict[str, Any], wanted: int | str | None) -> list[int | str]:
    """The pod ports a backend port reaches through ``service`` (all when ``wanted`` is None)."""
    out: list[int | str] = []
    for sp in _dig(service, "spec", "ports") or []:
        target = sp.get("targetPort") or sp["port"]
        if wanted is None:
            out.append(target)
        elif sp.get("name") == wanted or sp["port"] == wanted or target == wanted:
            return [target]
    return out


def routed(cluster: Cluster) -> dict[str, set[int]]:
    """The TCP ports the ingress controller may reach, by workload display name."""
    services = {
        (_dig(s, "metadata", "namespace") or "default", _dig(s, "metadata", "name")): s
        for s in cluster.others.get("Service", [])
    }
    cluster.namespaces.setdefault(
        CONTROLLER.namespace, {"kubernetes.io/metadata.name": CONTROLLER.namespace}
    )
    out: dict[str, set[int]] = {}
    for ns, name, wanted in _backends(cluster):
        service = services.get((ns, name))
        selector = _dig(service, "spec", "selector")
        if service is None or not selector:
            continue
        for w in cluster.workloads:
            if w.namespace != ns or not selects({"matchLabels": selector}, w.labels):
                continue
            for access in _access_ports(service, wanted):
                number = (
                    next(
                        (p.number for p in w.ports if p.name == access and p.protocol == "TCP"),
                        None,
                    )
                    if isinstance(access, str)
                    else access
                )
                exposed = any(p.number == number for p in w.ports)
                if (
                    number is not None
                    and exposed
                    and allowed(cluster, CONTROLLER, w, number, "TCP")
                ):
                    out.setdefault(w.display, set()).add(number)
    return out


def connlist(cluster: Cluster) -> list[str]:
    """The connlist lines (``SRC => DST : CONNS``), sorted as netpol-analyzer sorts them."""
    bounds = port_bounds(cluster)
    srcs: list[Peer] = [*ip_ranges(cluster, "ingress"), *cluster.workloads]
    dsts: list[Peer] = [*ip_ranges(cluster, "egress"), *cluster.workloads]
    lines = []
    for src in srcs:
        for dst in dsts:
            if src is dst or (isinstance(src, IPRange) and isinstance(dst, IPRange)):
                continue
            conns = connection(cluster, src, dst, bounds)
            if conns:
                lines.append((src.display, dst.display, conns))
    for display, ports in routed(cluster).items():
        lines.append(("{ingress-controller}", display, "TCP " + _ports_text(sorted(ports))))
    return [f"{s} => {d} : {c}" for s, d, c in sorted(lines)]
