"""Traffic to addresses and names outside the cluster: the egress section's layer.

Only the source's egress side judges a connection to an outside address (there is
no pod on the other end).  Its tiers, as in segmentation:

- ``admin``: each AdminNetworkPolicy egress rule with ``networks`` peers, its CIDRs
  as CIDR patterns (model v1.1 section 4);
- ``networkpolicy``: each NetworkPolicy egress rule with ``ipBlock`` peers (a CIDR
  pattern with its ``except`` blocks) or with no peers (``*``: everything), and
  each CiliumNetworkPolicy ``toFQDNs`` rule (FQDN patterns); then one ``deny`` per
  policy isolating pods for egress;
- ``baseline``: the BaselineAdminNetworkPolicy's ``networks`` rules.

The blocks named (and their ``except`` blocks) become CIDR external destinations,
the names of ``toFQDNs`` FQDN destinations (:func:`destinations`).

Names and addresses: a CIDR pattern never covers a named (FQDN) destination in
the model, yet a name resolves to some address.  So that an address rule still
judges names conservatively (the attacker may do more): an ``allow`` whose
addresses include a global (public) one also lists every named destination of
the topology (the attacker's server may be at any of those addresses), with a
warning unless it allows every IPv4 address; a ``deny`` or ``pass`` lists them
only when it covers every IPv4 address (a name then resolves into it, the
cluster being IPv4, as netpol-analyzer assumes); otherwise names go past it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ztsim.inputs.k8s.compile_anp import admin_order, admin_ports, admin_prov, peer_set
from ztsim.inputs.k8s.compile_base import Emitter, Port
from ztsim.inputs.k8s.compile_np import np_name, np_ports, subject_of
from ztsim.inputs.k8s.compile_select import PodSet
from ztsim.inputs.k8s.drafts import Provenance
from ztsim.inputs.k8s.objects import (
    AdminNetworkPolicy,
    BaselineAdminNetworkPolicy,
    CiliumNetworkPolicy,
    FQDNSelector,
    IPBlock,
    NetworkPolicy,
)

__all__ = ["Outside", "cidr_text", "destination_id"]

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Address blocks where no public server stands (RFC 1918, 6598, loopback, link-local,
#: unique-local): a rule allowing only these cannot reach a name on the internet.
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)
_ALL_V4 = ipaddress.ip_network("0.0.0.0/0")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
#: What the model takes as a name or ``*.suffix`` (an external destination's ``fqdn``).
_FQDN_RE = re.compile(rf"^(?:\*\.)?{_LABEL}(?:\.{_LABEL})*$")


def cidr_text(text: str) -> str:
    """A CIDR as the model writes it (host bits cleared, as Kubernetes reads it)."""
    return str(ipaddress.ip_network(text, strict=False))


def destination_id(address: str) -> str:
    """The id of the external destination for a block or a name (ids hold no ``*``:
    ``*.example.com`` is ``fqdn-under:example.com``).

    >>> destination_id("10.0.0.0/8"), destination_id("*.example.com")
    ('cidr:10.0.0.0/8', 'fqdn-under:example.com')
    """
    if "/" in address:
        return f"cidr:{address}"
    if address.startswith("*."):
        return f"fqdn-under:{address[2:]}"
    return f"fqdn:{address}"


def _minus(pieces: Iterable[Net], hole: Net) -> list[Net]:
    """``pieces`` less the addresses of ``hole``, as disjoint blocks."""
    out: list[Net] = []
    for p in pieces:
        if p.version != hole.version or not p.overlaps(hole):
            out.append(p)
        elif not p.subnet_of(hole):  # type: ignore[arg-type]
            out.extend(p.address_exclude(hole))  # type: ignore[arg-type]
    return out


def _blocks(cidr: str, excepts: Iterable[str]) -> list[Net]:
    """The addresses of ``cidr`` less ``excepts``, as disjoint blocks."""
    pieces: list[Net] = [ipaddress.ip_network(cidr, strict=False)]
    for e in excepts:
        pieces = _minus(pieces, ipaddress.ip_network(e, strict=False))
    return pieces


def _global(pieces: Sequence[Net]) -> bool:
    """Whether some address of ``pieces`` is a global one."""
    rest = list(pieces)
    for hole in _NOT_GLOBAL:
        rest = _minus(rest, hole)
    return bool(rest)


def _all_v4(pieces: Sequence[Net]) -> bool:
    return any(p == _ALL_V4 for p in pieces)


class Outside:
    """Compiles the egress section; collects the destinations it names."""

    def __init__(self, em: Emitter, names: Sequence[str]) -> None:
        self.em = em
        #: FQDN patterns of the topology's named destinations (see the module doc).
        self.names = list(names)
        self.blocks: dict[str, None] = {}
        #: Hosts some NetworkPolicy isolates for egress (a Cilium policy's own
        #: isolation adds nothing to theirs: see :meth:`cilium_rules`).
        self.isolated: frozenset[str] = frozenset()
        self.fqdns: dict[str, None] = {}

    # ------------------------------------------------------------------ patterns

    def _targets(
        self, cidrs: list[tuple[str, tuple[str, ...]]], action: str, where: Provenance
    ) -> list[Any]:
        """The ``to`` of a rule over address blocks (with the named destinations it
        must cover, see the module doc)."""
        to: list[Any] = []
        pieces: list[Net] = []
        for cidr, excepts in cidrs:
            block = cidr_text(cidr)
            self.blocks.setdefault(block, None)
            kept = []
            for e in excepts:
                hole = cidr_text(e)
                if ipaddress.ip_network(hole).subnet_of(ipaddress.ip_network(block)):  # type: ignore[arg-type]
                    kept.append(hole)
                    self.blocks.setdefault(hole, None)
            to.append({"cidr": block, "except": kept} if kept else block)
            pieces += _blocks(block, kept)
        if self.names and (
            (action == "allow" and _global(pieces)) or (action != "allow" and _all_v4(pieces))
        ):
            to += self.names
            if not _all_v4(pieces):
                self.em.warn(
                    where.source,
                    where.name,
                    "allows some public addresses: ztsim cannot tell which named "
                    "destinations resolve there, so it lets every one through this rule",
                )
        elif self.names and action != "allow" and pieces:
            self.em.warn(
                where.source,
                where.name,
                f"{action}s addresses, not every one: named destinations are not taken as "
                "matched by this rule (one may resolve elsewhere)",
            )
        return to

    def _rules(
        self,
        rid: str,
        action: str,
        subject: PodSet,
        to: list[Any],
        ports: list[Port],
        prov: Provenance,
    ) -> list[dict[str, Any]]:
        out = []
        for q, port in enumerate(ports):
            if port.named is not None:
                continue  # an address has no named ports
            rule = self.em.rule(f"{rid}-{q}", action, subject, None, port.services, prov)  # type: ignore[arg-type]
            services = rule.pop("services", None)
            rule["to"] = to
            if services is not None:
                rule["services"] = services  # after `to`, as in segmentation rules
            out.append(rule)
        return out

    # ------------------------------------------------------------------ tiers

    def admin_tier(self, policies: Sequence[AdminNetworkPolicy]) -> list[dict[str, Any]]:
        """The admin tier: ``networks`` rules by priority, then rule order."""
        out: list[dict[str, Any]] = []
        for anp in admin_order(self.em, policies):
            out += self._admin_rules(anp, "anp")
        return out

    def baseline_tier(self, policies: Sequence[BaselineAdminNetworkPolicy]) -> list[dict[str, Any]]:
        """The baseline tier: the BaselineAdminNetworkPolicy's ``networks`` rules."""
        out: list[dict[str, Any]] = []
        for banp in policies:
            out += self._admin_rules(banp, "banp")
        return out

    def _admin_rules(
        self, policy: AdminNetworkPolicy | BaselineAdminNetworkPolicy, prefix: str
    ) -> list[dict[str, Any]]:
        subject = peer_set(self.em.cluster, policy.subject)
        if subject is None or subject.empty:
            return []
        name = admin_prov(policy).name
        out: list[dict[str, Any]] = []
        for r, rule in enumerate(policy.egress):
            prov = Provenance(rule.source, name)
            action = rule.action.lower()
            for p, peer in enumerate(rule.peers):
                if not peer.networks:
                    continue
                to = self._targets([(n, ()) for n in peer.networks], action, prov)
                rid = f"{prefix}-{policy.name}-ext-{r}-{p}"
                out += self._rules(rid, action, subject, to, admin_ports(rule), prov)
        return out

    def np_tier(
        self, policies: Sequence[NetworkPolicy], cilium: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The networkpolicy tier: allows (ipBlock, every peer), the ``cilium`` rules
        (:meth:`cilium_rules`), then isolation."""
        allows: list[dict[str, Any]] = []
        denies: list[dict[str, Any]] = []
        for policy in policies:
            if "Egress" not in policy.policy_types:
                continue
            subject = subject_of(self.em.cluster, policy)
            if subject.empty:
                continue
            prov = np_name(policy)
            base = f"np-{policy.namespace}/{policy.name}-ext"
            for r, rule in enumerate(policy.egress):
                rprov = Provenance(rule.source, prov.name)
                for p, block in self._np_peers(rule.peers):
                    to = ["*"] if block is None else self._np_block(block, rprov)
                    allows += self._rules(
                        f"{base}-{r}-{p}", "allow", subject, to, np_ports(rule), rprov
                    )
            denies.append(self.em.rule(f"{base}-isolate", "deny", subject, None, None, prov))
        return allows + cilium + denies

    @staticmethod
    def _np_peers(peers: tuple[Any, ...] | None) -> list[tuple[int, IPBlock | None]]:
        if peers is None:
            return [(0, None)]
        return [(p, peer.ip_block) for p, peer in enumerate(peers) if peer.ip_block is not None]

    def _np_block(self, block: IPBlock, prov: Provenance) -> list[Any]:
        return self._targets([(block.cidr, block.excepts)], "allow", prov)

    def unread_rules(
        self, policies: Sequence[CiliumNetworkPolicy], outside: bool
    ) -> list[dict[str, Any]]:
        """For each Cilium policy with egress rules ztsim does not read (``toEndpoints``,
        ``toCIDR``...), an ``allow`` of everything from the pods it selects (to pods,
        or with ``outside`` to every outside destination): those rules allow what
        ztsim cannot tell, so it takes them as allowing everything (conservative)."""
        out: list[dict[str, Any]] = []
        specs: dict[tuple[str, str], int] = {}
        for policy in policies:
            key = (policy.namespace, policy.name)
            s = specs[key] = specs.get(key, -1) + 1
            subject = self.em.cluster.pods_in([policy.namespace], policy.endpoint_selector)
            if subject.empty or not policy.unread_egress:
                continue
            name = f"CiliumNetworkPolicy {policy.namespace}/{policy.name}"
            if subject.hosts & self.isolated:
                places = ", ".join(str(u) for u in policy.unread_egress)
                self.em.warn(
                    policy.source,
                    name,
                    f"egress rules ztsim does not read ({places}) are taken as allowing its "
                    "pods everything (conservative)",
                )
            prov = Provenance(policy.source, name)
            rid = f"cnp-{policy.namespace}/{policy.name}-{'ext' if outside else 'eg'}-{s}-unread"
            out.append(self.em.rule(rid, "allow", subject, None, None, prov))
        return out

    def cilium_rules(self, policies: Sequence[CiliumNetworkPolicy]) -> list[dict[str, Any]]:
        """The allows of the ``toFQDNs`` rules (their names join :attr:`fqdns`), and
        of the rules ztsim does not read (:meth:`unread_rules`)."""
        out: list[dict[str, Any]] = self.unread_rules(policies, outside=True)
        specs: dict[tuple[str, str], int] = {}
        for policy in policies:
            s = specs[(policy.namespace, policy.name)] = (
                specs.get((policy.namespace, policy.name), -1) + 1
            )
            subject = self.em.cluster.pods_in([policy.namespace], policy.endpoint_selector)
            if subject.empty or not policy.egress:
                continue
            name = f"CiliumNetworkPolicy {policy.namespace}/{policy.name}"
            if not subject.hosts <= self.isolated:
                self.em.warn(
                    policy.source,
                    name,
                    "its egress isolation is not modelled (ztsim reads its toFQDNs rules "
                    "only): the pods it selects that no NetworkPolicy isolates for egress "
                    "stay open",
                )
            for r, rule in enumerate(policy.egress):
                prov = Provenance(rule.source, name)
                to = list(dict.fromkeys(self._fqdn(f, prov) for f in rule.fqdns))
                ports = [Port()] if rule.ports is None else np_ports_of(rule.ports)
                rid = f"cnp-{policy.namespace}/{policy.name}-ext-{s}-{r}"
                out += self._rules(rid, "allow", subject, to, ports, prov)
        return out

    def _fqdn(self, f: FQDNSelector, prov: Provenance) -> str:
        """A ``toFQDNs`` entry as an FQDN pattern: a superset, with a warning, where
        the model's ``*.suffix`` cannot say Cilium's pattern (``api-*.example.com``)."""
        text = (f.match_name if f.match_name is not None else f.match_pattern) or "*"
        pattern = text.lower().rstrip(".")
        out = pattern
        if "*" in pattern:
            labels = pattern.split(".")
            star = max(i for i, label in enumerate(labels) if "*" in label)
            suffix = ".".join(labels[star + 1 :])
            out = f"*.{suffix}" if suffix else "*"
        if out != "*" and not _FQDN_RE.match(out):
            out = "*"
        if out != pattern:
            self.em.warn(prov.source, prov.name, f"toFQDNs {text} is taken as {out} (wider)")
        if out != "*":
            self.fqdns.setdefault(out, None)
        return out

    # ------------------------------------------------------------------ destinations

    def destinations(self) -> list[dict[str, Any]]:
        """The external destinations the rules name: blocks, then names, sorted."""
        blocks = sorted(self.blocks, key=lambda b: _net_key(ipaddress.ip_network(b)))
        out = [{"id": destination_id(b), "cidr": b} for b in blocks]
        out += [{"id": destination_id(n), "fqdn": n} for n in sorted(self.fqdns)]
        return out


def np_ports_of(ports: tuple[Any, ...]) -> list[Port]:
    """Cilium ``toPorts`` ports (NetworkPolicy ports in shape)."""
    out = []
    for p in ports:
        if isinstance(p.port, str):
            out.append(Port(named=p.port, protocol=p.protocol))
        else:
            out.append(Port.numbers(p.protocol, p.port, p.end_port))
    return out


def _net_key(net: Net) -> tuple[int, int, int]:
    return (net.version, int(net.network_address), net.prefixlen)
