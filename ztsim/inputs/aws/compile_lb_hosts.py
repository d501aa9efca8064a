"""Load balancers between hosts, judged conservatively (issue 28, internal balancers).

A host that reaches a balancer reaches what the balancer forwards to: a path
from one host to another may exist only through it.  The dump does not name a
balancer's targets (``describe-target-groups`` is not read), so, as for the
internet-facing case (:mod:`ztsim.inputs.aws.compile_lb`), every balancer,
internal or not, is taken to forward

- from its **sources**: every host that reaches one of its interfaces on some
  port: the host's security groups' egress admit the interface's address (or
  one of the balancer's groups, or a group missing from the dump), the host
  subnet's outbound network ACL admits that address and the interface subnet's
  inbound ACL the host's (first match by rule number; no ACL within a subnet),
  and the balancer's groups' ingress admit the host (a balancer with no group,
  or a group missing from the dump: every host), on one common port;
- to every host whose security groups admit the balancer (its group, a missing
  group, a block holding one of its addresses) on the ports they admit, where
  the target subnet's inbound ACL admits one of its addresses on that port (or
  the target shares a subnet with one of its interfaces);
- an NLB or a GWLB may also keep its clients' addresses (client IP
  preservation): its sources reach every host whose network ACLs and security
  groups admit *them* (the source's own egress is then not asked);
- a balancer that may forward to another's interfaces (as to a target) passes on
  its sources, and the internet when it faces it, to a fixpoint.

Each becomes ``allow`` rules from the sources to the targets on the admitted
ports, **the same rules first in each of the four layers** a flow between hosts
meets (``sg-egress``, ``nacl-out``, ``nacl-in``, ``sg-ingress``): as every layer
holds them, the layers together allow exactly what some balancer forwards, or
what they allowed before.  The balancer's own egress rules and its subnets'
outbound ACLs are not read, nor its listeners (they could only narrow it); the
source may reach the balancer on any port and protocol (a listener may forward
to another port).  A client-address rule is ``allow`` from the sources to every
host in ``sg-egress`` and ``nacl-out`` (and to the balancer's own subnets in
``nacl-in``), the target's ACL and groups judging the source as usual.
"""

from __future__ import annotations

from typing import Any

from ztsim.inputs.aws.compile_base import Emitter, group_label, group_name, peer_blocks, services_of
from ztsim.inputs.aws.compile_index import Balancer, EstateIndex, HostInfo, Net, note, span
from ztsim.inputs.aws.compile_lb import admitted_services, where
from ztsim.inputs.aws.compile_ports import (
    Ports,
    meet,
    port_set,
    ranges_ports,
    services_text,
    target_sets,
    union,
)
from ztsim.inputs.aws.objects import AclEntry
from ztsim.inputs.k8s.drafts import Provenance

__all__ = ["HOST_LAYERS", "SOURCE", "BalancedHosts"]

Rule = dict[str, Any]
#: The label of a host that reaches balancer N (its rules' ``from``: one selector).
SOURCE = "aws:load-balancer-source:"
#: The layers a flow between two hosts meets (``exposure`` judges the internet only).
HOST_LAYERS = ("sg-egress", "nacl-out", "nacl-in", "sg-ingress")
#: (id part, target selector, services, provenance) of a rule to the targets.
Target = tuple[str, dict[str, Any], list[str] | None, Provenance]
#: (id part, ``to`` in sg-egress and nacl-out, ``to`` in nacl-in, services) of a
#: client-address rule.
Client = tuple[str, dict[str, Any] | None, dict[str, Any] | None, list[str] | None]
#: A security group rule read once: (ports, groups it names, its blocks' spans,
#: whether it names a group missing from the dump: every host).
_Rule = tuple[Ports, frozenset[str], tuple[tuple[int, int, int], ...], bool]


class BalancedHosts:
    """Every balancer's rules between hosts (see the module docstring)."""

    def __init__(self, index: EstateIndex) -> None:
        self.index = index
        self._acl_ports: dict[tuple[Any, ...], Ports] = {}
        self._rules_of: dict[tuple[str, str], list[_Rule]] = {}
        self._egress_of: dict[tuple[str, str, int], Ports] = {}
        self._into_of: dict[tuple[str, str], Ports] = {}
        self._into_keys: dict[tuple[str, str], tuple[str, ...] | None] = {}
        #: Per balancer (by position): the hosts that reach it (its sources).
        self.sources = self._chained([set(self._sources(lb)) for lb in index.balancers])
        self._built: list[tuple[list[Target], list[Client], Provenance | None]] | None = None

    @staticmethod
    def of(index: EstateIndex) -> BalancedHosts:
        """The balancers of ``index``, worked out once (the topology labels their
        sources, the policy's rules select them)."""
        found = index.memo.get("balanced-hosts")
        if not isinstance(found, BalancedHosts):
            found = index.memo["balanced-hosts"] = BalancedHosts(index)
        return found

    def source_labels(self, host: str) -> dict[str, str]:
        """The labels marking ``host`` a source of each balancer it reaches."""
        return {f"{SOURCE}{n}": "true" for n, s in enumerate(self.sources) if host in s}

    def rules(self, em: Emitter, layer: str) -> list[Rule]:
        """The copies for ``layer`` (one of :data:`HOST_LAYERS`), every balancer's."""
        if self._built is None:
            # Target and client rules, once for every layer.
            self._built = [self._build(em, lb) for lb in self.index.balancers]
        out: list[Rule] = []
        for n, (targets, clients, prov) in enumerate(self._built):
            sources = [{"labels": {f"{SOURCE}{n}": "true"}}] if self.sources[n] else []
            for k, sel in enumerate(sources):
                for tid, dst, services, why in targets:
                    out.append(em.rule(f"lbh{n}/{layer}/{tid}/{k}", "allow", why,
                                            src=sel, dst=dst, services=services))  # fmt: skip
                if prov is None or layer == "sg-ingress":
                    continue  # the target's groups judge the client's address as usual
                for cid, to_any, to_own, services in clients:
                    to = to_own if layer == "nacl-in" else to_any
                    if layer == "nacl-in" and to is None:
                        continue  # no host in its subnets
                    out.append(em.rule(f"lbh{n}/{layer}/client/{cid}/{k}", "allow", prov,
                                            src=sel, dst=to, services=services))  # fmt: skip
        return out

    # -- one balancer -----------------------------------------------------------------

    def _build(
        self, em: Emitter, lb: Balancer
    ) -> tuple[list[Target], list[Client], Provenance | None]:
        """``lb``'s target rules and client-address rules."""
        if not lb.client_ip:
            return self._targets(lb), [], None
        prov = Provenance(lb.source, (
            f"load balancer {lb.name}'s clients' addresses, kept to its targets "
            f"(client IP preservation) {where(lb)}"
        ))  # fmt: skip
        own = [s for s in lb.subnets if s in em.populated()]
        clients: list[Client] = []
        for t, (ids, ports) in enumerate(target_sets(lb)):
            hosts = {"host": ids} if ids is not None else {}
            to_own = {"zone": own, **hosts} if own else None
            clients.append((str(t), hosts or None, to_own, services_text(ports)))
        return self._targets(lb), clients, prov

    def _targets(self, lb: Balancer) -> list[Target]:
        """A rule per ingress rule admitting ``lb``, per set of targets alike by
        port (all its groups' members when its targets are not known) and per
        set of their subnets alike to the ACLs."""
        out: list[Target] = []
        mine = tuple(span(b) for b in lb.blocks)
        sets = target_sets(lb)
        for g in sorted(self.index.groups.values(), key=lambda g: g.id):
            members = self.index.members.get(g.id)
            if not members:
                continue
            rules = [
                (i, rule, ports)
                for i, (rule, (ports, named, spans, every)) in enumerate(
                    zip(g.ingress, self._rules(g.id, "ingress"), strict=True)
                )
                if ports and (every or not named.isdisjoint(lb.groups) or _meets(spans, mine))
            ]
            for t, (ids, target_ports) in enumerate(sets):
                chosen = [h for h in members if ids is None or h.id in ids]
                by_ports: dict[tuple[str, ...] | None, list[str]] = {}
                for sid in sorted({h.subnet for h in chosen}):
                    by_ports.setdefault(self._into_key(sid, lb), []).append(sid)
                for i, rule, rule_ports in rules:
                    prov = Provenance(rule.source, f"{group_name(g)} {rule.name} {where(lb)}")
                    for j, (acl_key, subnets) in enumerate(by_ports.items()):
                        acl_ports = port_set(list(acl_key) if acl_key is not None else None)
                        ports = meet(meet(rule_ports, acl_ports), target_ports)
                        if not ports:
                            continue
                        sel: dict[str, Any] = {
                            "labels": group_label(g.id),
                            "zone": subnets if len(subnets) > 1 else subnets[0],
                        }
                        if ids is not None:
                            sel["host"] = sorted(h.id for h in chosen if h.subnet in subnets)
                        out.append((f"{g.id}/{i}/{t}/{j}", sel, services_text(ports), prov))
        return out

    def _into(self, subnet: str, lb: Balancer) -> Ports:
        """What ``subnet``'s inbound ACL lets in from some address of ``lb`` (its
        own subnets, or no ACL known: everything), once."""
        found = self._into_of.get((subnet, lb.eni))
        if found is None:
            found = self._into_of[subnet, lb.eni] = self._into_now(subnet, lb)
        return found

    def _into_key(self, subnet: str, lb: Balancer) -> tuple[str, ...] | None:
        """:meth:`_into` as ``services`` (subnets alike share a rule), once."""
        key = (subnet, lb.eni)
        if key not in self._into_keys:
            text = services_text(self._into(subnet, lb))
            self._into_keys[key] = tuple(text) if text is not None else None
        return self._into_keys[key]

    def _into_now(self, subnet: str, lb: Balancer) -> Ports:
        acl = self.index.acl_of.get(subnet)
        if subnet in lb.subnets or acl is None:
            return port_set(None)
        return self._acl(acl.id, acl.entries, False, lb.blocks, ("lb", lb.eni))

    def _acl(
        self,
        acl_id: str,
        entries: tuple[AclEntry, ...],
        egress: bool,
        blocks: tuple[Net, ...],
        who: tuple[str, ...],
    ) -> Ports:
        """What ``acl_id``'s entries of one direction let through for some of
        ``blocks`` (``who`` names them: hashing addresses is slow), once."""
        key = (acl_id, egress, *who)
        found = self._acl_ports.get(key)
        if found is None:
            mine = sorted((e for e in entries if e.egress == egress), key=lambda e: e.rule_number)
            found = port_set(admitted_services(mine, blocks))
            self._acl_ports[key] = found
        return found

    # -- a source ---------------------------------------------------------------------

    def _chained(self, sources: list[set[str]]) -> list[frozenset[str]]:
        """Balancers behind balancers: one forwarding to another's interfaces (by
        its addresses, as to any target) passes on its sources, and the internet
        when it faces it (then the second is taken as facing it too), to a
        fixpoint."""
        lbs = self.index.balancers
        edges = [(a, b) for a in range(len(lbs)) for b in range(len(lbs))
                 if a != b and self._forwards(lbs[a], lbs[b])]  # fmt: skip
        changed = True
        while changed:
            changed = False
            for a, b in edges:
                if lbs[a].exposed and not lbs[b].exposed:
                    lbs[b].exposed = changed = True
                    self.index.notes.append(note(lbs[b].source, (
                        f"load balancer {lbs[b].name} may be a target of load balancer "
                        f"{lbs[a].name}, which faces the internet: it is taken to forward from "
                        "the internet too"
                    )))  # fmt: skip
                if not sources[a] <= sources[b]:
                    sources[b] |= sources[a]
                    changed = True
        return [frozenset(s) for s in sources]

    def _forwards(self, first: Balancer, then: Balancer) -> bool:
        """Whether ``first`` may forward to ``then``'s interfaces: ``then``'s groups
        admit ``first`` (as a target's would) and, unless they share a subnet, the
        inbound ACL of ``then``'s interface's subnet admits ``first``'s address, on
        a common port.  A balancer whose targets are known forwards to those only."""
        if first.targets is not None:
            return False
        admitted = port_set(None)
        if then.groups and all(g in self.index.groups for g in then.groups):
            admitted = {}
            mine = tuple(span(b) for b in first.blocks)
            for gid in then.groups:
                for ports, named, spans, every in self._rules(gid, "ingress"):
                    if every or not named.isdisjoint(first.groups) or _meets(spans, mine):
                        admitted = union(admitted, ports)
        if then.listener_ports is not None:
            admitted = meet(admitted, ranges_ports(then.listener_ports))
        return any(
            meet(admitted, self._into(subnet, first)) for subnet, _ in then.enis
        ) if admitted else False  # fmt: skip

    def _sources(self, lb: Balancer) -> frozenset[str]:
        """The hosts that reach ``lb``: only members of a group whose egress admits
        one of its addresses may (the others are not asked)."""
        groups: set[str] = set()
        # What the balancer's groups admit from anyone: egress to it on other
        # ports reaches nothing.
        widest = port_set(None)
        if lb.groups and all(g in self.index.groups for g in lb.groups):
            widest = {}
            for gid in lb.groups:
                for ports, *_ in self._rules(gid, "ingress"):
                    widest = union(widest, ports)
        if lb.listener_ports is not None:
            widest = meet(widest, ranges_ports(lb.listener_ports))
        n = 0
        for _, addresses in lb.enis:
            for a in addresses:
                n += 1
                groups |= {
                    g for g in self.index.members if meet(self._egress_group(g, lb, a, n), widest)
                }
        may = {h.id for g in groups for h in self.index.members[g]}
        return frozenset(h.id for h in self.index.hosts if h.id in may and self._reaches(h, lb))

    def _reaches(self, h: HostInfo, lb: Balancer) -> bool:
        """Whether ``h`` reaches one of ``lb``'s interfaces on some port."""
        admitted: Ports | None = None  # the balancer's groups': asked only when needed
        n = 0
        for subnet, addresses in lb.enis:
            for a in addresses:
                n += 1
                ports = self._egress(h, lb, a, n)  # first: most hosts may not reach it
                if not ports:
                    continue
                if admitted is None:
                    admitted = self._lb_ingress(h, lb)
                    if lb.listener_ports is not None:
                        admitted = meet(admitted, ranges_ports(lb.listener_ports))
                ports = meet(admitted, ports)
                if ports and h.subnet != subnet:
                    ports = meet(ports, self._out(h.subnet, a, (lb.eni, str(n))))
                    mine = tuple(b for b in h.blocks if b.version == a.version)
                    acl = self.index.acl_of.get(subnet)
                    if acl is not None:
                        who = ("host", h.id, str(a.version))
                        ports = meet(ports, self._acl(acl.id, acl.entries, False, mine, who))
                    elif not mine:
                        ports = {}
                if ports:
                    return True
        return False

    def _out(self, subnet: str, address: Net, who: tuple[str, ...]) -> Ports:
        acl = self.index.acl_of.get(subnet)
        if acl is None:
            return port_set(None)
        return self._acl(acl.id, acl.entries, True, (address,), who)

    def _lb_ingress(self, h: HostInfo, lb: Balancer) -> Ports:
        """What ``lb``'s groups admit from ``h`` (no group, or one missing from the
        dump: everything)."""
        if not lb.groups or any(g not in self.index.groups for g in lb.groups):
            return port_set(None)
        out: Ports = {}
        for gid in lb.groups:
            for ports, groups, spans, every in self._rules(gid, "ingress"):
                if every or not groups.isdisjoint(h.groups) or _meets(spans, h.spans):
                    out = union(out, ports)
        return out

    def _egress(self, h: HostInfo, lb: Balancer, address: Net, n: int) -> Ports:
        """What ``h``'s groups let out to ``address``, ``lb``'s ``n``-th (per group,
        once)."""
        out: Ports = {}
        for gid in h.groups:
            found = self._egress_group(gid, lb, address, n)
            out = union(out, found) if out else found
        return out

    def _egress_group(self, gid: str, lb: Balancer, address: Net, n: int) -> Ports:
        """What group ``gid``'s egress lets out to ``address``, ``lb``'s ``n``-th."""
        key = (gid, lb.eni, n)
        found = self._egress_of.get(key)
        if found is None:
            found = {}
            where = (span(address),)
            for ports, groups, spans, every in self._rules(gid, "egress"):
                if every or not groups.isdisjoint(lb.groups) or _meets(spans, where):
                    found = union(found, ports)
            self._egress_of[key] = found
        return found

    def _rules(self, gid: str, direction: str) -> list[_Rule]:
        """Group ``gid``'s rules of ``direction``, read once, in order: (ports, groups
        named, blocks' spans, names a group missing from the dump)."""
        key = (gid, direction)
        found = self._rules_of.get(key)
        if found is None:
            found = []
            g = self.index.groups.get(gid)
            for rule in (g.ingress if direction == "ingress" else g.egress) if g else ():
                services = services_of(rule.protocol, rule.ports, rule.icmp, True)
                named = frozenset(p.value for p in rule.peers if p.kind == "group")
                spans = tuple(
                    span(b)
                    for p in rule.peers
                    for b in peer_blocks(self.index, p.kind, p.value) or ()
                )
                every = any(v not in self.index.groups for v in named)
                # A rule of no protocol ztsim judges admits nothing.
                found.append((port_set(services) if services is not False else {}, named, spans,
                              every))  # fmt: skip
            self._rules_of[key] = found
        return found


def _meets(
    spans: tuple[tuple[int, int, int], ...], others: tuple[tuple[int, int, int], ...]
) -> bool:
    """Whether some block of ``spans`` holds some address of ``others``."""
    return any(
        v == ov and lo <= ohi and olo <= hi for v, lo, hi in spans for ov, olo, ohi in others
    )
