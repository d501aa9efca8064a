"""The path through the ingress controller, for what Ingresses and Routes publish.

An Ingress or a Route publishes a service through the ingress controller: a pod
that proxies the attacker's requests, so the backend's ingress side sees the
controller's pod, not an outside address.  ztsim's topology lets the external
zones reach a published service directly (spec §4.2), so the policy gives the
external zones, towards each (backend, port) routed so, what it gives the
controller (``docs/k8s.md``, "Semantics"):

- **A known controller** (named by a ``ztsim.io/ingress-controller: "true"``
  annotation or the overlay's ``ingress_controllers``; else recognised by labels
  or names: ingress-nginx, Traefik, HAProxy, Contour's Envoy, the OpenShift
  router): every rule, of either side, whose source holds the controller's pods
  gets a copy right after it, from the external zones to the routed backends and
  ports it covers (:meth:`Routes.copy_known`).  With one controller and a port
  published only through it, every action is copied (allow, deny, pass): the
  outside meets what the controller meets, its egress side included.  With
  several controllers (which one serves an Ingress is not read), or a port a
  LoadBalancer or NodePort Service publishes too (reached directly as well), only
  the allows: the union of the paths.
- **An unknown controller** (none in the manifests): it runs in a namespace of
  its own, with unknown labels and address, so it may match any peer that can
  select a pod of another namespace: each ingress allow of a NetworkPolicy
  ``namespaceSelector`` peer (whatever its selectors, and even if it selects no
  pod of the manifests) and of any AdminNetworkPolicy or
  BaselineAdminNetworkPolicy peer gets such a copy (:meth:`Routes.allow_unknown`);
  ``ipBlock`` peers admit the external zones already.  Denies and passes are not
  copied (the controller may escape them), nor are podSelector-only peers (they
  select the policy's own namespace).  A warning names each Ingress or Route
  whose backends this opened, at its FILE:LINE.

Copies keep the rule's provenance, its name followed by "(through the ingress
controller)", and its id followed by ``-via-controller`` (``-K`` when the routed
backends need several copies).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ztsim.inputs.k8s.compile_base import Emitter, Port, RuleAction
from ztsim.inputs.k8s.compile_select import PodSet
from ztsim.inputs.k8s.drafts import Provenance, TopologyDraft
from ztsim.inputs.k8s.naming import host_id, workload_name
from ztsim.inputs.k8s.objects import Workload
from ztsim.model.services import parse_service, port_ranges

__all__ = ["KNOWN_CONTROLLERS", "Controller", "Routes", "recognise"]

#: What routes through the controller (the kinds of :attr:`TopologyDraft.published`).
_ROUTING_KINDS = ("Ingress ", "Route ")
#: A copy's provenance name: the rule's, then this.
THROUGH = "(through the ingress controller)"

#: Common controllers: (product, pod labels that must all be set; ``None``: any value).
KNOWN_CONTROLLERS: tuple[tuple[str, Mapping[str, str | None]], ...] = (
    (
        "ingress-nginx",
        {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
    ),
    ("Traefik", {"app.kubernetes.io/name": "traefik"}),
    ("Traefik", {"app": "traefik"}),
    ("HAProxy", {"app.kubernetes.io/name": "haproxy-ingress"}),
    ("HAProxy", {"app.kubernetes.io/name": "kubernetes-ingress"}),
    ("HAProxy", {"run": "haproxy-ingress"}),
    (
        "Contour's Envoy",
        {"app.kubernetes.io/name": "contour", "app.kubernetes.io/component": "envoy"},
    ),
    (
        "OpenShift router",
        {"ingresscontroller.operator.openshift.io/deployment-ingresscontroller": None},
    ),
)
#: Common controllers by workload: (product, namespace or ``None`` for any, name).
_KNOWN_NAMES: tuple[tuple[str, str | None, str], ...] = (
    ("ingress-nginx", None, "ingress-nginx-controller"),
    ("ingress-nginx", None, "nginx-ingress-controller"),
    ("Traefik", None, "traefik"),
    ("HAProxy", None, "haproxy-ingress"),
    ("HAProxy", None, "haproxy-kubernetes-ingress"),
    ("Contour's Envoy", "projectcontour", "envoy"),
    ("OpenShift router", "openshift-ingress", "router-default"),
)


@dataclass(frozen=True)
class Controller:
    """An ingress controller workload: its host id, its display name, and why it is one
    (``None``: named by the user, else what recognised it)."""

    host: str
    workload: Workload
    recognised: str | None = None


def _why(w: Workload) -> str | None:
    """What makes ``w`` a common controller (``None``: nothing)."""
    labels = dict(w.labels)
    for product, wanted in KNOWN_CONTROLLERS:
        if all(k in labels and (v is None or labels[k] == v) for k, v in wanted.items()):
            pairs = ", ".join(k if v is None else f"{k}={v}" for k, v in wanted.items())
            return f"{product}, by its labels {pairs}"
    for product, namespace, name in _KNOWN_NAMES:
        if w.name == name and namespace in (None, w.namespace):
            return f"{product}, by its name"
    return None


def recognise(pods: Iterable[Workload]) -> list[Controller]:
    """The common ingress controllers among ``pods``, by labels or names."""
    found = ((w, _why(w)) for w in pods)
    return [Controller(host_id(w), w, why) for w, why in found if why is not None]


@dataclass
class Routes:
    """The (backend, port) pairs Ingresses and Routes publish, and their controller."""

    em: Emitter
    #: Backend host -> service -> whether only Ingresses and Routes publish it.
    ports: dict[str, dict[str, bool]]
    #: (backend host, service) -> the Ingresses and Routes publishing it.
    by: dict[tuple[str, str], list[Provenance]]
    controllers: list[Controller]
    #: (backend host, service) an unknown controller's copies let the outside reach.
    opened: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def of(cls, em: Emitter, topo: TopologyDraft) -> Routes | None:
        """The routes of ``topo`` (``None``: nothing routed, or no external zone)."""
        hosts = em.cluster.everything().hosts
        if em.cluster.outside().empty:
            return None
        ports: dict[str, dict[str, bool]] = {}
        by: dict[tuple[str, str], list[Provenance]] = {}
        for (host, service), publishers in sorted(topo.published.items()):
            through = [p for p in publishers if p.name.startswith(_ROUTING_KINDS)]
            if through and host in hosts:
                ports.setdefault(host, {})[service] = len(through) == len(publishers)
                by[(host, service)] = through
        if not ports:
            return None
        if topo.ingress_controllers is None:
            controllers = recognise(em.cluster.pods)
        else:
            pods = {host_id(w): w for w in em.cluster.pods}
            named = sorted(h for h in topo.ingress_controllers if h in pods)
            controllers = [Controller(h, pods[h]) for h in named]
        return cls(em, ports, by, controllers)

    @property
    def exact(self) -> bool:
        """Whether one controller serves every Ingress and Route (denies copied too)."""
        return len(self.controllers) == 1

    # ------------------------------------------------------------------ copies

    def _emit(
        self,
        rid: str,
        action: RuleAction,
        groups: dict[tuple[str, ...], list[str]],
        prov: Provenance,
    ) -> list[dict[str, Any]]:
        """One copy of rule ``rid`` per group (services -> backends)."""
        out = []
        named = Provenance(prov.source, f"{prov.name} {THROUGH}")
        for k, (services, hosts) in enumerate(groups.items()):
            cid = f"{rid}-via-controller" + (f"-{k}" if len(groups) > 1 else "")
            dst = PodSet({"host": hosts}, frozenset(hosts))
            out.append(self.em.rule(cid, action, self.em.cluster.outside(), dst, services, named))
        return out

    def copy_known(self, layers: list[dict[str, Any]]) -> None:
        """A known controller's view: each rule of ``layers`` (changed in place) whose
        source holds a controller is followed by its copies from the outside."""
        if not self.controllers:
            return
        for layer in layers:
            for tier in layer["tiers"]:
                tier["rules"] = [c for r in tier["rules"] for c in (r, *self._known_copies(r))]

    def _known_copies(self, rule: dict[str, Any]) -> list[dict[str, Any]]:
        src, dst = self.em.ends.get(rule["id"], (None, None))
        mine = {c.host for c in self.controllers}
        if src is None or not src.selector or not src.hosts & mine:
            return []  # a rule for any source judges the outside as it is
        action: RuleAction = rule["action"]
        ranges = port_ranges(tuple(rule["services"]) if "services" in rule else None)
        targets = self.ports.keys() if dst is None or not dst.selector else dst.hosts
        groups: dict[tuple[str, ...], list[str]] = {}
        for host in sorted(targets & self.ports.keys()):
            wanted = tuple(
                s
                for s, only in self.ports[host].items()
                if (action == "allow" or (only and self.exact))
                and any(r.covers(parse_service(s)) for r in ranges)
            )
            if wanted:
                groups.setdefault(wanted, []).append(host)
        return self._emit(rule["id"], action, groups, self.em.provenance[rule["id"]])

    def allow_unknown(
        self, rid: str, subject: PodSet, ports: list[Port], prov: Provenance
    ) -> list[dict[str, Any]]:
        """An unknown controller's view of an ingress ``allow`` to ``subject`` (ids
        ``rid-Q``, Q the port's index): copies from the outside to the routed
        backends and ports it covers."""
        if self.controllers:
            return []
        out = []
        for q, port in enumerate(ports):
            groups: dict[tuple[str, ...], list[str]] = {}
            for host in sorted(subject.hosts & self.ports.keys()):
                wanted = tuple(s for s in self.ports[host] if self._covers(port, host, s))
                if wanted:
                    groups.setdefault(wanted, []).append(host)
                    self.opened.update((host, s) for s in wanted)
            out += self._emit(f"{rid}-{q}", "allow", groups, prov)
        return out

    def _covers(self, port: Port, host: str, service: str) -> bool:
        if port.named is None:
            return any(r.covers(parse_service(service)) for r in port_ranges(port.services))
        found = self.em.cluster.resolve([host], port.named, port.protocol)
        return any(f"{n}/{proto.lower()}" == service for n, proto in found)

    # ------------------------------------------------------------------ warnings

    def finish(self) -> None:
        """The warnings: each recognised controller; each Ingress or Route whose
        backends an unknown controller's copies opened."""
        several = len(self.controllers) > 1
        for c in self.controllers:
            if c.recognised is None and not several:
                continue  # named by the user, alone: nothing to say
            how = f"recognised as {c.recognised}" if c.recognised else "named"
            also = (
                "; there are several, and which serves which Ingress is not read: each "
                "one's allows count, not their denies"
                if several
                else ""
            )
            self.em.warn(
                c.workload.source,
                workload_name(c.workload),
                f"taken as the ingress controller ({how}): what Ingresses and Routes publish "
                f"is judged as coming from its pods{also} (name the controller with the "
                'annotation ztsim.io/ingress-controller: "true" or the overlay\'s '
                "ingress_controllers)",
            )
        opened: dict[Provenance, list[str]] = {}
        for host, service in sorted(self.opened):
            for by in self.by[(host, service)]:
                opened.setdefault(by, []).append(f"{host} {service}")
        for by, what in sorted(opened.items()):
            self.em.warn(
                by.source,
                by.name,
                "its ingress controller is not in the manifests: ztsim takes it as a pod of "
                "another namespace, with any labels and address (it matches every "
                "namespaceSelector peer, AdminNetworkPolicy peer and ipBlock, no "
                "podSelector-only peer), which lets the outside reach "
                f"{', '.join(what)} through the controller; name it (annotation "
                'ztsim.io/ingress-controller: "true", or the overlay\'s ingress_controllers) '
                "to judge the path exactly",
            )
