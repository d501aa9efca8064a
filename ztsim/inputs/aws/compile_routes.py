"""A subnet's route table as the egress layer ``route-out`` (issue 28, point 2).

Per subnet, its routes by prefix length, longest first (AWS picks the longest
match): a ``local`` route or a blackhole denies (those addresses are not
outside, or go nowhere); a route to an internet gateway allows the hosts with a
public address of the family and denies the others; an egress-only internet
gateway allows IPv6; any other target (NAT gateway, transit gateway, peering,
virtual private gateway, an interface) allows: some way out exists, and ztsim
does not follow it further (conservative).  A subnet with no route table known
allows everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ztsim.inputs.aws.compile_base import PUBLIC_V4, V6
from ztsim.inputs.aws.compile_index import Net
from ztsim.inputs.aws.objects import Route, RouteTable
from ztsim.inputs.k8s.drafts import Provenance

if TYPE_CHECKING:
    from ztsim.inputs.aws.compile_layers import Layers

__all__ = ["route_rules"]


def route_rules(layers: Layers) -> list[dict[str, Any]]:
    """The ``route-out`` layer's rules."""
    index, em = layers.index, layers.em
    out: list[dict[str, Any]] = []
    populated = em.populated()  # a subnet with no host decides no flow
    unknown = [s for s in populated if index.table_of.get(s) is None]
    if unknown:
        prov = Provenance(layers.subnet_source(unknown[0]), "subnets with no route table known")
        out.append(em.rule("route:unknown", "allow", prov, src={"zone": unknown}))
    for sid in populated:
        table = index.table_of.get(sid)
        if table is not None:
            out += _subnet_routes(layers, sid, table)
    return out


def _subnet_routes(layers: Layers, sid: str, table: RouteTable) -> list[dict[str, Any]]:
    index, em = layers.index, layers.em
    hosts = em.hosts_in(sid)
    v6_hosts = any(h.v6 for h in hosts)
    public = {PUBLIC_V4: any(h.public_v4 for h in hosts), V6: v6_hosts}
    expanded: list[tuple[Net, int, Route]] = []
    for k, r in enumerate(table.routes):
        for net in index.route_blocks(r):
            expanded.append((net, k, r))
    expanded.sort(key=lambda item: (-item[0].prefixlen, item[0].version, item[1]))
    out: list[dict[str, Any]] = []
    for n, (net, _, r) in enumerate(expanded):
        prov = Provenance(r.source, f"route table {table.id} route {r.destination}")
        rid = f"route:{sid}/{n}"
        mine = {"zone": sid}
        target = r.gateway_id or r.target or ""
        if r.state != "active" or target == "local":
            out.append(
                em.rule(rid, "deny", prov, src=mine, dst=layers.targets([net], False, v6_hosts))
            )
            continue
        allowed: dict[str, Any] | None = mine
        if index.to_internet(r, table.vpc_id):
            label = PUBLIC_V4 if net.version == 4 else V6
            # No host with an address of the family: the gateway lets none out.
            allowed = {"zone": sid, "labels": {label: "true"}} if public[label] else None
        elif target.startswith("igw-"):
            allowed = None  # a gateway not attached to this VPC: nowhere
        elif target.startswith("eigw-"):
            allowed = {"zone": sid, "labels": {V6: "true"}} if net.version == 6 else None
        if allowed is not None:
            dst = layers.targets([net], True, v6_hosts)
            out.append(em.rule(f"{rid}/allow", "allow", prov, src=allowed, dst=dst))
        if allowed is not mine:
            dst = layers.targets([net], False, v6_hosts)
            out.append(em.rule(rid, "deny", prov, src=mine, dst=dst))
    # What no route matches goes nowhere: named, so a verdict says which table.
    prov = Provenance(table.source, f"route table {table.id} implicit deny (no route matches)")
    out.append(em.rule(f"route:{sid}/default", "deny", prov, src={"zone": sid}))
    return out
