"""The AWS compiler's shared parts: labels, services, selectors, rule emission."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ztsim.inputs.aws.compile_index import (
    ANY_V4,
    ANY_V6,
    EstateIndex,
    HostInfo,
    Net,
    covers_all_global,
    is_global,
    span,
)
from ztsim.inputs.aws.describe_fields import protocol_name
from ztsim.inputs.aws.objects import PortRange, SecurityGroup, Source
from ztsim.inputs.k8s.drafts import Provenance
from ztsim.model.diagnostics import Diagnostic

__all__ = [
    "EXPOSED",
    "INTERNET",
    "MEMBER",
    "PUBLIC_V4",
    "V6",
    "Emitter",
    "group_label",
    "group_name",
    "services_of",
]

#: The external zone: every internet address.
INTERNET = "internet"
#: Label keys the import adds (AWS reserves the ``aws:`` prefix: no tag has it).
MEMBER = "aws:security-group:"
EXPOSED = "aws:exposed-ipv"
PUBLIC_V4 = "aws:public-ipv4"
V6 = "aws:ipv6"


def group_label(group: str) -> dict[str, str]:
    """The labels selecting a security group's members."""
    return {MEMBER + group: "member"}


def group_name(g: SecurityGroup) -> str:
    """How a rule's provenance names a security group: its id, and its name if any."""
    return f"security group {g.id}" + (f" ({g.name})" if g.name else "")


def services_of(
    protocol: str, ports: PortRange | None, icmp: tuple[int, int] | None, allow: bool
) -> list[str] | bool | None:
    """A rule's ``services`` (``None``: every service); ``False`` when the rule
    matters to no flow ztsim judges (a protocol the model lacks; an ICMP deny of
    one type, which leaves the others open).

    >>> services_of("tcp", (80, 80), None, True), services_of("-1", None, None, False)
    (['80/tcp'], None)
    """
    protocol = protocol_name(protocol)  # "6" is tcp, as AWS reads it
    if protocol == "-1":
        return None
    if protocol in ("icmp", "icmpv6"):
        if allow or icmp in (None, (-1, -1)):
            return ["0-65535/icmp"]  # an ICMP type is no port: every ICMP message
        return False
    name = {"132": "sctp"}.get(protocol, protocol)
    if name not in ("tcp", "udp", "sctp"):
        return False
    low, high = ports if ports is not None else (0, 65535)
    return [f"{low}/{name}" if low == high else f"{low}-{high}/{name}"]


class Emitter:
    """Builds rules with provenance; keeps notes (each once per place)."""

    def __init__(self, index: EstateIndex) -> None:
        self.index = index
        self.provenance: dict[str, Provenance] = {}
        self.notes: list[Diagnostic] = []
        self._noted: set[tuple[Source, str]] = set()
        self._zones_of: dict[str, list[HostInfo]] = {}
        #: block_hosts' answers: estates name few blocks, in many rules (at 5,000
        #: hosts, scanning every host for each rule was nearly all of the compile).
        self._blocks: dict[tuple[tuple[Net, ...], bool], list[dict[str, Any]]] = {}
        for h in index.hosts:
            self._zones_of.setdefault(h.subnet, []).append(h)
        self._subnets = sorted(self._zones_of.items())
        #: Per subnet, the (version, first, last) box around all its hosts'
        #: addresses, when they are of one family.
        self._boxes: dict[str, tuple[int, int, int]] = {}
        for subnet, members in self._subnets:
            all_spans = [s for h in members for s in h.spans]
            if all_spans and len({s[0] for s in all_spans}) == 1:
                lo = min(s[1] for s in all_spans)
                hi = max(s[2] for s in all_spans)
                self._boxes[subnet] = (all_spans[0][0], lo, hi)

    def hosts_in(self, subnet: str) -> list[HostInfo]:
        """The hosts of ``subnet``."""
        return self._zones_of.get(subnet, [])

    def warn(self, source: Source, message: str) -> None:
        """A note at ``source`` (once)."""
        if (source, message) not in self._noted:
            self._noted.add((source, message))
            self.notes.append(
                Diagnostic(source.path, source.line, source.column, "warning", message)
            )

    def rule(
        self,
        rid: str,
        action: str,
        prov: Provenance,
        *,
        src: dict[str, Any] | None = None,
        dst: dict[str, Any] | list[Any] | None = None,
        services: list[str] | None = None,
    ) -> dict[str, Any]:
        """A rule (``src``/``dst`` ``None``: any)."""
        out: dict[str, Any] = {"id": rid, "action": action}
        if src is not None:
            out["from"] = src
        if dst is not None:
            out["to"] = dst
        if services is not None:
            out["services"] = services
        self.provenance[rid] = prov
        return out

    def hosts_where(
        self, test: Callable[[HostInfo], bool], whole: Callable[[str], bool | None] | None = None
    ) -> list[dict[str, Any]]:
        """Selectors for the hosts ``test`` holds of: whole subnets as a zone list,
        the rest as a host list (none: ``[]``).  ``whole(subnet)``, when it
        knows, says at once whether ``test`` holds of every host of a subnet
        (``True``) or of none (``False``)."""
        zones: list[str] = []
        hosts: list[str] = []
        for subnet, members in self._subnets:
            known = whole(subnet) if whole is not None else None
            if known is not None:
                if known:
                    zones.append(subnet)
                continue
            hits = [h.id for h in members if test(h)]
            if hits and len(hits) == len(members):
                zones.append(subnet)
            else:
                hosts += hits
        out: list[dict[str, Any]] = []
        if zones:
            out.append({"zone": zones if len(zones) > 1 else zones[0]})
        if hosts:
            out.append({"host": sorted(hosts) if len(hosts) > 1 else hosts[0]})
        return out

    def populated(self) -> list[str]:
        """The subnets holding some host, sorted (a rule selecting another subnet
        would select nothing: the loader would warn about what the import made)."""
        return [subnet for subnet, _ in self._subnets]

    def every_host(self) -> list[dict[str, Any]]:
        """A selector of every host (never the internet)."""
        zones = self.populated()
        return [{"zone": zones}] if zones else []

    def block_hosts(self, nets: Sequence[Net], allow: bool) -> list[dict[str, Any]]:
        """The hosts an address rule over ``nets`` matches: for an ``allow``, some
        address in one of them; for a ``deny``, every address in one of them (a
        host with several addresses goes past a deny that misses one)."""
        key = (tuple(nets), allow)
        found = self._blocks.get(key)
        if found is None:
            spans = [span(n) for n in nets]

            def whole(subnet: str) -> bool | None:
                # Every address of the subnet's hosts in one block: all match
                # (allow or deny); none in any block: no host matches.
                box = self._boxes.get(subnet)
                if box is None:
                    return None
                v, lo, hi = box
                if any(sv == v and slo <= lo and hi <= shi for sv, slo, shi in spans):
                    return True
                if all(sv != v or shi < lo or slo > hi for sv, slo, shi in spans):
                    return False
                return None

            if allow:
                found = self.hosts_where(lambda h: any(h.any_in(n) for n in nets), whole)
            else:
                found = self.hosts_where(lambda h: any(h.all_in(n) for n in nets), whole)
            self._blocks[key] = found
        # Each rule its own selectors (a document is data, never shared).
        return [{k: list(v) if isinstance(v, list) else v for k, v in s.items()} for s in found]


def peer_blocks(index: EstateIndex, kind: str, value: str) -> list[Net] | None:
    """The blocks of a CIDR or prefix list peer (``None`` for a group peer; a
    prefix list whose entries are unknown is every address)."""
    if kind == "cidr":
        return [ipaddress.ip_network(value)]
    if kind == "prefix-list":
        pl = index.prefix_lists.get(value)
        if pl is None or pl.cidrs is None:
            return [ANY_V4, ANY_V6]
        return [ipaddress.ip_network(c) for c in pl.cidrs]
    return None


def internet_families(nets: Iterable[Net], allow: bool) -> set[int]:
    """The families (4, 6) in which a rule over ``nets`` matches the internet: an
    ``allow``, some internet address of the family; a ``deny``, every one."""
    test = is_global if allow else covers_all_global
    return {n.version for n in nets if test(n)}
