"""An AWS estate as a ztsim topology and layered policy (issue 28, points 1-3).

:func:`topology_document` maps the estate (:class:`~ztsim.inputs.aws.objects.Estate`):

- every subnet is a zone (its id), and one external zone, ``internet``, stands
  for every internet address;
- every EC2 instance (not terminated) is a host, its id the instance id, and
  every RDS instance a host, its id the ``DBInstanceIdentifier``; tags become
  labels (``Name`` among them), with the ``aws:`` labels the policy selects by
  (security group membership, exposure);
- a host's services: the single ports its security groups open inbound (TCP,
  UDP), an RDS instance's port; all ``public`` on a host exposed to the
  internet (a public address and a route to an internet gateway), for the
  security groups and ACLs, in the policy, to decide.

:func:`policy_document` compiles security groups, network ACLs and routes into
one policy of layers (:mod:`ztsim.inputs.aws.compile_layers`).  Both are the
Kubernetes import's drafts, so its emitter, overlay and loader serve unchanged.
"""

from __future__ import annotations

from typing import Any

from ztsim.inputs.aws.compile_base import INTERNET, MEMBER, Emitter
from ztsim.inputs.aws.compile_index import EstateIndex, HostInfo
from ztsim.inputs.aws.compile_layers import Layers
from ztsim.inputs.aws.compile_lb import BEHIND, balancer_targets
from ztsim.inputs.aws.compile_lb_hosts import BalancedHosts
from ztsim.inputs.aws.compile_routes import route_rules
from ztsim.inputs.aws.objects import Estate
from ztsim.inputs.k8s.drafts import PolicyDraft, Provenance, TopologyDraft
from ztsim.inputs.k8s.naming import tidy_host

__all__ = [
    "DEFAULT_ENTRY",
    "compile_estate",
    "policy_document",
    "publish_exposed",
    "topology_document",
]

#: The id of the default entry point (the attacker on the internet).
DEFAULT_ENTRY = "internet-attacker"


def _host_name(h: HostInfo) -> str:
    kind = "EC2 instance" if h.kind == "instance" else "RDS instance"
    return f"{kind} {h.id}" + (f" ({h.name})" if h.name and h.name != h.id else "")


def _services(index: EstateIndex, h: HostInfo, behind: bool) -> list[dict[str, Any]]:
    found: dict[str, None] = {}
    for port in h.ports:
        found[f"{port}/tcp"] = None
    for gid in h.groups:
        g = index.groups.get(gid)
        for rule in g.ingress if g is not None else ():
            ports = rule.ports
            if rule.protocol in ("tcp", "udp") and ports and ports[0] == ports[1] > 0:
                found[f"{ports[0]}/{rule.protocol}"] = None
    public = bool(h.exposed) or behind
    return [{"service": s, **({"public": True} if public else {})} for s in found]


def topology_document(
    estate: Estate, name: str = "aws", index: EstateIndex | None = None
) -> TopologyDraft:
    """The topology of ``estate`` (see the module docstring), named ``name``."""
    index = index or EstateIndex(estate)
    provenance: dict[str, Provenance] = {}
    zones: list[dict[str, Any]] = []
    for sid in index.subnet_ids:
        s = index.subnets.get(sid)
        if s is not None:
            where = f" {s.cidr or ', '.join(s.ipv6_cidrs)}" if (s.cidr or s.ipv6_cidrs) else ""
            zones.append({"id": sid, "description": f"subnet{where} of {s.vpc_id}"})
            provenance[sid] = Provenance(s.source, f"subnet {sid}")
        else:
            zones.append({"id": sid, "description": "subnet (not in the dump)"})
    zones.append({"id": INTERNET, "external": True, "description": "every internet address"})
    hosts = []
    through = BalancedHosts.of(index)  # first: a balancer behind one facing the internet faces it
    behind = balancer_targets(index)
    for h in index.hosts:
        labels = dict(h.tags)
        labels.update({f"{MEMBER}{g}": "member" for g in h.groups})
        labels.update(Layers.public_labels(h))
        labels["aws:kind"] = h.kind
        if h.id in behind:
            labels[BEHIND] = "true"
        labels.update(through.source_labels(h.id))
        if h.vpc:
            labels["aws:vpc"] = h.vpc
        host: dict[str, Any] = {"id": h.id, "zone": h.subnet, "labels": labels}
        services = _services(index, h, h.id in behind)
        if services:
            host["services"] = services
        host["description"] = _host_name(h)
        hosts.append(tidy_host(host))
        provenance[h.id] = Provenance(h.source, _host_name(h))
    document: dict[str, Any] = {
        "ztsim": 1,
        "kind": "topology",
        "name": name,
        "description": "imported from AWS describe-* output",
        "zones": zones,
        "credentials": [],
        "hosts": hosts,
        "external": [],
        "traffic": [],
        "entry_points": [
            {
                "id": DEFAULT_ENTRY,
                "zone": INTERNET,
                "description": "the internet: reaches hosts with a public address and a "
                "route to an internet gateway, as their security groups and ACLs allow",
            }
        ],
    }
    return TopologyDraft(document, provenance, list(index.notes))


def publish_exposed(draft: TopologyDraft) -> TopologyDraft:
    """``draft`` with every service of an exposed host (or of one behind an
    internet-facing load balancer) ``public`` (services an overlay added too): on
    AWS the security groups and ACLs decide what the internet reaches, and the
    policy holds them."""
    for host in draft.document.get("hosts", ()):
        labels = host.get("labels") or {}
        if any(k.startswith("aws:exposed-ipv") or k == BEHIND for k in labels):
            for s in host.get("services", ()):
                s["public"] = True
    return draft


def policy_document(
    estate: Estate, topology: TopologyDraft, name: str = "aws", index: EstateIndex | None = None
) -> PolicyDraft:
    """The policy of ``estate``: segmentation and egress as layers (model v1.1),
    every rule's provenance its security group rule, ACL entry or route."""
    index = index or EstateIndex(estate)
    em = Emitter(index)
    names = [
        e["fqdn"]
        for e in topology.document.get("external", ())
        if isinstance(e, dict) and isinstance(e.get("fqdn"), str)
    ]
    layers = Layers(em, sorted(set(names)))
    document: dict[str, Any] = {
        "ztsim": 1,
        "kind": "policy",
        "name": name,
        "description": "AWS security groups, network ACLs and routes",
        "segmentation": {"layers": layers.segmentation()},
        "egress": {"layers": layers.egress(route_rules(layers))},
    }
    destinations = [{"id": f"cidr:{b}", "cidr": b} for b in sorted(layers.blocks)]
    return PolicyDraft(document, em.provenance, em.notes, destinations)


def compile_estate(estate: Estate, name: str = "aws") -> tuple[TopologyDraft, PolicyDraft]:
    """Both drafts of ``estate`` (no overlay)."""
    index = EstateIndex(estate)
    topology = topology_document(estate, name, index)
    return topology, policy_document(estate, topology, name, index)
