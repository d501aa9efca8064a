"""Security groups, network ACLs and routes as ztsim layers (issue 28, point 2).

Segmentation (host to host, and the internet to a host), every layer ANDed:

- ``exposure``: the internet reaches only hosts with a public address of a
  family and a route to an internet gateway for it;
- ``sg-egress``: the source's security groups' egress rules (allow only: the
  union over its groups; default deny; the internet has none);
- ``nacl-out``: the source subnet's network ACL, outbound entries by rule
  number, first match, default deny; not between two hosts of one subnet;
- ``nacl-in``: the destination subnet's ACL, inbound entries, likewise;
- ``sg-ingress``: the destination's security groups' ingress rules.

Egress (a host to an outside address or name): ``route-out`` (the subnet's
route table, longest prefix first), ``sg-egress`` and ``nacl-out``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from ztsim.inputs.aws.compile_base import (
    EXPOSED,
    INTERNET,
    MEMBER,
    PUBLIC_V4,
    V6,
    Emitter,
    group_label,
    group_name,
    internet_families,
    peer_blocks,
    services_of,
)
from ztsim.inputs.aws.compile_index import HostInfo, Net, covers_all_global, is_global
from ztsim.inputs.aws.compile_lb import Balancers
from ztsim.inputs.aws.compile_lb_hosts import BalancedHosts
from ztsim.inputs.aws.objects import AclEntry, NetworkAcl, SecurityGroup, SgPeer, SgRule
from ztsim.inputs.k8s.drafts import Provenance

__all__ = ["Layers"]

Rule = dict[str, Any]


def _layer(layer_id: str, rules: list[Rule], default: str, description: str) -> dict[str, Any]:
    return {"id": layer_id, "description": description, "default": default, "rules": rules}


class Layers:
    """Compiles the layers of one estate (see the module docstring)."""

    def __init__(self, em: Emitter, names: Sequence[str]) -> None:
        self.em = em
        self.index = em.index
        #: The topology's named external destinations (FQDN patterns).
        self.names = list(names)
        #: CIDR blocks with internet addresses that security groups allow out to.
        self.blocks: dict[str, None] = {}
        self.acl_subnets: dict[str, list[str]] = {}
        self.open_subnets: list[str] = []  # no ACL known: every flow
        for sid in self.index.subnet_ids:
            if not em.hosts_in(sid):
                continue  # no host: it decides no flow, and its rules would select nothing
            acl = self.index.acl_of.get(sid)
            if acl is None:
                self.open_subnets.append(sid)
            else:
                self.acl_subnets.setdefault(acl.id, []).append(sid)
        self.acls = {a.id: a for a in self.index.estate.network_acls}

    # -- segmentation ----------------------------------------------------------------

    def segmentation(self) -> list[dict[str, Any]]:
        """The segmentation layers (a load balancer's extra allows first in theirs:
        from the internet, :mod:`ztsim.inputs.aws.compile_lb`; between hosts,
        :mod:`ztsim.inputs.aws.compile_lb_hosts`)."""
        # Between hosts, the same copies first in each layer (compile_lb_hosts);
        # first: a balancer behind one facing the internet faces it too.
        hosts = BalancedHosts.of(self.index)
        lb = Balancers(self.em, self.acl_subnets)
        exposure = lb.sg_copies("exposure") + self._exposure()
        sg_out = hosts.rules(self.em, "sg-egress") + self._sg("egress")
        nacl_out = hosts.rules(self.em, "nacl-out") + self._nacl(True)
        nacl_in = lb.acl_copies() + hosts.rules(self.em, "nacl-in") + self._nacl(False)
        sg_in = (
            lb.sg_copies("sg-ingress") + hosts.rules(self.em, "sg-ingress") + self._sg("ingress")
        )
        return [
            _layer("exposure", exposure, "allow", "the internet reaches exposed hosts only"),
            _layer("sg-egress", sg_out, "deny", "the source's security groups"),
            _layer("nacl-out", nacl_out, "deny", "the source subnet's network ACL"),
            _layer("nacl-in", nacl_in, "deny", "the destination subnet's network ACL"),
            _layer("sg-ingress", sg_in, "deny", "the destination's security groups"),
        ]

    def _exposure(self) -> list[Rule]:
        prov = Provenance(self._first_source(), "exposure (public address and internet route)")
        rules = []
        for v in (4, 6):
            if any(v in h.exposed for h in self.index.hosts):
                dst = {"labels": {f"{EXPOSED}{v}": "true"}}
                rules.append(
                    self.em.rule(f"exposed-ipv{v}", "allow", prov, src={"zone": INTERNET}, dst=dst)
                )
        rules.append(self.em.rule("not-exposed", "deny", prov, src={"zone": INTERNET}))
        # The default (allow) stays unnamed: an allowed flow is then placed at its
        # first named rule, the source's security group rule.
        return rules

    def _first_source(self) -> Any:
        e = self.index.estate
        for objs in (e.subnets, e.route_tables, e.instances, e.db_instances, e.security_groups):
            if objs:
                return objs[0].source
        from ztsim.inputs.aws.objects import Source

        return Source(e.files[0] if e.files else "<aws>", 1, 1)

    def _sg(self, direction: str) -> list[Rule]:
        out: list[Rule] = []
        if direction == "egress":
            prov = Provenance(self._first_source(), "the internet (no security group)")
            out.append(self.em.rule("internet-source", "allow", prov, src={"zone": INTERNET}))
        for g in sorted(self.index.groups.values(), key=lambda g: g.id):
            if g.id not in self.index.members:
                continue  # no host is a member: it judges no flow
            rules = g.egress if direction == "egress" else g.ingress
            for i, rule in enumerate(rules):
                services = services_of(rule.protocol, rule.ports, rule.icmp, True)
                if services is False:
                    continue
                for p, peer in enumerate(rule.peers):
                    out += self._sg_peer(g, rule, i, p, peer, services)
        return out + self._sg_defaults("out" if direction == "egress" else "in")

    def _sg_defaults(self, d: str, egress: bool = False) -> list[Rule]:
        """Security groups' implicit deny as rules, so that a verdict names the
        groups no rule of which admits the flow: one ``deny`` per set of groups
        some host has, larger sets first (a host's own set is then the first it
        meets); hosts with no group by id.  The layer's default (deny) is the same
        verdict, only unnamed."""
        sets: dict[tuple[str, ...], list[HostInfo]] = {}
        for h in self.index.hosts:
            sets.setdefault(tuple(sorted(set(h.groups))), []).append(h)
        what = "egress" if d == "out" else "ingress"
        out: list[Rule] = []
        for groups in sorted(sets, key=lambda k: (-len(k), k)):
            if groups:
                sel: dict[str, Any] = {"labels": {MEMBER + g: "member" for g in groups}}
                first = self.index.groups.get(groups[0])
                source = first.source if first is not None else self._first_source()
                names = ", ".join(self._group_name(g) for g in groups)
                if len(groups) > 1:
                    names = "security groups " + names.replace("security group ", "")
                rid = f"{','.join(groups)}/{d}/default"
            else:
                hosts = sets[groups]
                sel = {"host": sorted(h.id for h in hosts)}
                source, names = hosts[0].source, "a host with no security group"
                rid = f"no-group/{d}/default"
            prov = Provenance(source, f"{names} implicit deny (no {what} rule admits it)")
            rid = f"out:{rid}" if egress else rid
            src, dst = (sel, None) if d == "out" else (None, sel)
            out.append(self.em.rule(rid, "deny", prov, src=src, dst=dst))
        return out

    def _group_name(self, gid: str) -> str:
        g = self.index.groups.get(gid)
        if g is None:
            return f"security group {gid} (not in the dump)"
        return group_name(g) + (f" {g.address}" if g.address else "")

    def _sg_peer(
        self,
        g: SecurityGroup,
        rule: SgRule,
        i: int,
        p: int,
        peer: SgPeer,
        services: list[str] | bool | None,
    ) -> list[Rule]:
        svc = services if isinstance(services, list) else None
        d = "out" if rule.direction == "egress" else "in"
        prov = Provenance(rule.source, f"{group_name(g)} {rule.name}")
        mine = {"labels": group_label(g.id)}
        others = self._peer_hosts(g, rule, peer)
        out = []
        for k, sel in enumerate(others):
            src, dst = (mine, sel) if d == "out" else (sel, mine)
            out.append(self.em.rule(f"{g.id}/{d}/{i}/{p}/{k}", "allow", prov, src=src, dst=dst,
                                    services=svc))  # fmt: skip
        if d == "in":
            blocks = peer_blocks(self.index, peer.kind, peer.value) or []
            members = self.index.members.get(g.id, [])
            for v in sorted(internet_families(blocks, True)):
                if not any(v in h.exposed for h in members):
                    continue  # no member is reachable from the internet in that family
                if not all(covers_all_global(b) for b in blocks if b.version == v):
                    # One note per rule, naming every such peer (warn keeps it once).
                    self.em.warn(rule.source, (
                        f"{prov.name} admits some internet addresses ({self._partial(rule)}): "
                        "ztsim's one internet zone stands for every one, so it is taken as "
                        "admitting the internet"
                    ))  # fmt: skip
                dst = {"labels": {**group_label(g.id), f"{EXPOSED}{v}": "true"}}
                out.append(self.em.rule(f"{g.id}/{d}/{i}/{p}/internet-ipv{v}", "allow", prov,
                                        src={"zone": INTERNET}, dst=dst, services=svc))  # fmt: skip
        return out

    def _partial(self, rule: SgRule) -> str:
        """The peers of ``rule`` holding some internet addresses, not all of them."""
        found = []
        for peer in rule.peers:
            blocks = peer_blocks(self.index, peer.kind, peer.value) or []
            if any(is_global(b) and not covers_all_global(b) for b in blocks):
                found.append(peer.value)
        return ", ".join(found)

    def _peer_hosts(self, g: SecurityGroup, rule: SgRule, peer: SgPeer) -> list[dict[str, Any]]:
        """The hosts a rule's peer names (a group's members; hosts with an address
        in a block)."""
        if peer.kind == "group":
            if peer.value not in self.index.groups:
                self.em.warn(rule.source, (
                    f"{group_name(g)} {rule.name} names security group {peer.value}, which is "
                    "not in the dump: taken as every host"
                ))  # fmt: skip
                return self.em.every_host()
            if peer.value not in self.index.members:
                return []
            return [{"labels": group_label(peer.value)}]
        if peer.kind == "prefix-list":
            pl = self.index.prefix_lists.get(peer.value)
            if pl is None or pl.cidrs is None:
                self.em.warn(rule.source, (
                    f"{group_name(g)} {rule.name} names prefix list {peer.value}, whose entries "
                    "are not in the dump: taken as every address"
                ))  # fmt: skip
        blocks = peer_blocks(self.index, peer.kind, peer.value) or []
        return self.em.block_hosts(blocks, True)

    def _nacl(self, outbound: bool) -> list[Rule]:
        layer = "out" if outbound else "in"
        out: list[Rule] = []
        if outbound:
            prov = Provenance(self._first_source(), "the internet (no network ACL)")
            out.append(self.em.rule("nacl-internet-source", "allow", prov, src={"zone": INTERNET}))
        for sid in self.em.populated():
            # Traffic within one subnet meets no network ACL.
            prov = Provenance(self.subnet_source(sid), f"subnet {sid} (no ACL within a subnet)")
            rid = f"{sid}/same-subnet-{layer}"
            out.append(self.em.rule(rid, "allow", prov, src={"zone": sid}, dst={"zone": sid}))
        if self.open_subnets:
            prov = Provenance(self.subnet_source(self.open_subnets[0]), "subnets with no ACL known")
            zones = {"zone": self.open_subnets}
            src, dst = (zones, None) if outbound else (None, zones)
            out.append(self.em.rule(f"no-acl-{layer}", "allow", prov, src=src, dst=dst))
        for acl_id in sorted(self.acl_subnets):
            out += self._acl_rules(self.acls[acl_id], self.acl_subnets[acl_id], outbound)
        return out

    def subnet_source(self, sid: str) -> Any:
        """Where subnet ``sid`` was read (else the first object read): provenance."""
        s = self.index.subnets.get(sid)
        return s.source if s is not None else self._first_source()

    def _acl_rules(self, acl: NetworkAcl, subnets: list[str], outbound: bool) -> list[Rule]:
        out: list[Rule] = []
        mine = {"zone": subnets if len(subnets) > 1 else subnets[0]}
        hosts = [h for sid in subnets for h in self.em.hosts_in(sid)]
        for e in _entries(acl, outbound):
            allow = e.action == "allow"
            services = services_of(e.protocol, e.ports, e.icmp, allow)
            if services is False:
                continue
            svc = services if isinstance(services, list) else None
            net = ipaddress.ip_network(e.cidr)
            prov = Provenance(e.source, f"network ACL {acl.id} entry {_entry_name(e)}")
            base = f"{acl.id}/{'out' if outbound else 'in'}/{e.rule_number}"
            others = self.em.block_hosts([net], allow)
            for k, sel in enumerate(others):
                src, dst = (mine, sel) if outbound else (sel, mine)
                out.append(self.em.rule(f"{base}/{k}", e.action, prov, src=src, dst=dst,
                                        services=svc))  # fmt: skip
            if not outbound and self._admits_internet(net, allow, hosts):
                if allow and not covers_all_global(net):
                    self.em.warn(e.source, (
                        f"{prov.name} allows some internet addresses ({e.cidr}): taken as "
                        "allowing the internet (one zone for every internet address)"
                    ))  # fmt: skip
                out.append(self.em.rule(
                    f"{base}/internet", e.action, prov, src={"zone": INTERNET}, dst=mine,
                    services=svc,
                ))  # fmt: skip
        rid = f"{acl.id}/{'out' if outbound else 'in'}/default"
        prov = self._acl_default(acl, outbound)
        if outbound:
            return [*out, self.em.rule(rid, "deny", prov, src=mine)]
        return [*out, self.em.rule(rid, "deny", prov, dst=mine)]

    @staticmethod
    def _acl_default(acl: NetworkAcl, outbound: bool) -> Provenance:
        """Where a flow no entry of ``acl`` matched is denied (its implicit deny)."""
        side = "outbound" if outbound else "inbound"
        name = f"network ACL {acl.id}" + (f" {acl.address}" if acl.address else "")
        return Provenance(acl.source, f"{name} implicit deny (no {side} entry matches)")

    @staticmethod
    def _admits_internet(net: Net, allow: bool, hosts: list[HostInfo]) -> bool:
        """Whether an inbound entry over ``net`` matches the internet: an allow with
        some internet address; a deny with every one of each family its subnets'
        hosts are exposed in."""
        if allow:
            return is_global(net)
        exposed = {v for h in hosts for v in h.exposed} or {net.version}
        return covers_all_global(net) and exposed == {net.version}

    # -- egress ------------------------------------------------------------------

    def egress(self, routes: list[Rule]) -> list[dict[str, Any]]:
        """The egress layers (to outside addresses and names), the first of them
        ``routes`` (:func:`~ztsim.inputs.aws.compile_routes.route_rules`, which
        reads these layers: the caller composes the two)."""
        return [
            _layer("route-out", routes, "deny", "the source subnet's routes"),
            _layer("sg-egress", self._sg_out(), "deny", "the source's security groups"),
            _layer("nacl-out", self._nacl_out(), "deny", "the source subnet's network ACL"),
        ]

    def targets(self, nets: Sequence[Net], allow: bool, v6_hosts: bool) -> list[Any]:
        """An egress rule's ``to``: the blocks, and the named destinations when the
        rule matches them (an allow with some internet address: a name may stand
        there; a deny of every internet address of each family the hosts use)."""
        to: list[Any] = [str(n) for n in nets]
        if not self.names:
            return to
        if allow and any(is_global(n) for n in nets):
            to += self.names
        elif not allow:
            families = {4, 6} if v6_hosts else {4}
            if families <= {n.version for n in nets if covers_all_global(n)}:
                to += self.names
        return to

    def _sg_out(self) -> list[Rule]:
        out: list[Rule] = []
        for g in sorted(self.index.groups.values(), key=lambda g: g.id):
            members = self.index.members.get(g.id)
            if not members:
                continue
            v6 = any(h.v6 for h in members)
            for i, rule in enumerate(g.egress):
                services = services_of(rule.protocol, rule.ports, rule.icmp, True)
                if services is False:
                    continue
                svc = services if isinstance(services, list) else None
                for p, peer in enumerate(rule.peers):
                    blocks = peer_blocks(self.index, peer.kind, peer.value)
                    if blocks is None:
                        continue  # a group's members are inside
                    prov = Provenance(rule.source, f"{group_name(g)} {rule.name}")
                    self._note_open(prov, rule, blocks, svc)
                    out.append(self.em.rule(
                        f"out:{g.id}/{i}/{p}", "allow", prov, src={"labels": group_label(g.id)},
                        dst=self.targets(blocks, True, v6), services=svc,
                    ))  # fmt: skip
        return out + self._sg_defaults("out", egress=True)

    def _note_open(
        self, prov: Provenance, rule: SgRule, blocks: list[Net], svc: list[str] | None
    ) -> None:
        """Point 3: an allow to internet addresses is an allow to every outside
        destination on those ports (security groups filter no names)."""
        public = [b for b in blocks if is_global(b)]
        if not public:
            return
        for b in public:
            self.blocks.setdefault(str(b), None)
        ports = ", ".join(svc) if svc else "every port"
        self.em.warn(rule.source, (
            f"{prov.name} allows egress to {', '.join(map(str, public))} on {ports}: security "
            "groups filter no names, so this reaches every external destination on those "
            "ports (an exfiltration channel wherever the subnet routes out)"
        ))  # fmt: skip

    def _nacl_out(self) -> list[Rule]:
        out: list[Rule] = []
        if self.open_subnets:
            prov = Provenance(self.subnet_source(self.open_subnets[0]), "subnets with no ACL known")
            out.append(self.em.rule("out:no-acl", "allow", prov, src={"zone": self.open_subnets}))
        for acl_id in sorted(self.acl_subnets):
            acl, subnets = self.acls[acl_id], self.acl_subnets[acl_id]
            v6 = any(h.v6 for sid in subnets for h in self.em.hosts_in(sid))
            mine = {"zone": subnets if len(subnets) > 1 else subnets[0]}
            for e in _entries(acl, True):
                allow = e.action == "allow"
                services = services_of(e.protocol, e.ports, e.icmp, allow)
                if services is False:
                    continue
                prov = Provenance(e.source, f"network ACL {acl.id} entry {_entry_name(e)}")
                out.append(self.em.rule(
                    f"out:{acl.id}/{e.rule_number}", e.action, prov, src=mine,
                    dst=self.targets([ipaddress.ip_network(e.cidr)], allow, v6),
                    services=services if isinstance(services, list) else None,
                ))  # fmt: skip
            prov = self._acl_default(acl, True)
            out.append(self.em.rule(f"out:{acl.id}/default", "deny", prov, src=mine))
        return out

    @staticmethod
    def public_labels(h: HostInfo) -> dict[str, str]:
        """The labels the layers select hosts by (beyond security groups)."""
        out = {f"{EXPOSED}{v}": "true" for v in sorted(h.exposed)}
        if h.public_v4:
            out[PUBLIC_V4] = "true"
        if h.v6:
            out[V6] = "true"
        return out


def _entries(acl: NetworkAcl, outbound: bool) -> list[AclEntry]:
    """An ACL's entries of one direction, by rule number (first match)."""
    return sorted((e for e in acl.entries if e.egress == outbound), key=lambda e: e.rule_number)


def _entry_name(e: AclEntry) -> str:
    shown = "*" if e.rule_number == 32767 else str(e.rule_number)
    return e.name or f"{shown} ({'out' if e.egress else 'in'})"
