"""Exactness of the AWS compiler (issue 28, "Conformance"), by hypothesis.

Random estates (one VPC, three subnets, instances with one address, security
groups with CIDR, group, self and prefix-list peers, network ACLs with ordered
allow and deny entries, route tables to an internet gateway, a NAT gateway or a
blackhole, load balancers' interfaces, public or not) are compiled and loaded
as ``ztsim import aws`` does; the engine's ``reach --all-ports`` must equal
tests/aws_reference.py on every ordered pair of hosts, from the internet to
every host, and from every host to outside blocks, for TCP and UDP at every port
where a decision can change.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from aws_reference import Reference, is_internet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztsim.engine.connectivity import reach_map
from ztsim.inputs.aws.compile import policy_document, publish_exposed, topology_document
from ztsim.inputs.aws.compile_index import EstateIndex
from ztsim.inputs.aws.importer import _as_manifests
from ztsim.inputs.aws.objects import (
    AclEntry,
    Estate,
    Instance,
    InternetGateway,
    NetworkAcl,
    NetworkInterface,
    PrefixList,
    Route,
    RouteTable,
    SecurityGroup,
    SgPeer,
    SgRule,
    Source,
    Subnet,
    Vpc,
)
from ztsim.inputs.k8s.importer import imported_from_drafts

S = Source("random.json", 1, 1)
SUBNETS = {"subnet-a": "10.0.0.0/24", "subnet-b": "10.0.1.0/24", "subnet-c": "10.0.2.0/24"}
GROUPS = ["sg-1", "sg-2", "sg-3"]
PORTS = [22, 80, 443, 5432]
CIDRS = [
    "0.0.0.0/0", "10.0.0.0/16", "10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.0.10/32",
    "10.0.1.11/32", "8.8.8.0/24", "203.0.113.0/24",
]  # fmt: skip
#: NACL blocks: no partial internet block inbound (one internet zone: see the module doc).
ACL_CIDRS = [
    "0.0.0.0/0",
    "10.0.0.0/16",
    "10.0.0.0/24",
    "10.0.1.0/24",
    "10.0.0.10/32",
    "10.0.2.0/25",
]
OUTSIDE = ["8.8.8.0/24", "203.0.113.0/24", "0.0.0.0/0", "1.2.3.4/32", "10.0.0.0/16"]

protocols = st.sampled_from(["-1", "tcp", "udp"])


@st.composite
def port_ranges(draw: Any) -> tuple[int, int] | None:
    if draw(st.booleans()):
        return None
    low = draw(st.sampled_from(PORTS))
    return low, draw(st.sampled_from([p for p in PORTS if p >= low]))


@st.composite
def sg_peers(draw: Any) -> SgPeer:
    kind = draw(st.sampled_from(["cidr", "cidr", "group", "prefix-list"]))
    if kind == "cidr":
        return SgPeer("cidr", draw(st.sampled_from(CIDRS)))
    if kind == "group":
        return SgPeer("group", draw(st.sampled_from([*GROUPS, "sg-missing"])))
    return SgPeer("prefix-list", draw(st.sampled_from(["pl-1", "pl-unknown"])))


@st.composite
def sg_rules(draw: Any, direction: str, i: int) -> SgRule:
    proto = draw(protocols)
    ports = draw(port_ranges()) if proto != "-1" else None
    peers = tuple(draw(st.lists(sg_peers(), min_size=1, max_size=2)))
    return SgRule(direction, proto, ports, peers, f"{direction}[{i}]", S)  # type: ignore[arg-type]


@st.composite
def groups(draw: Any, gid: str) -> SecurityGroup:
    n_in, n_out = draw(st.integers(0, 4)), draw(st.integers(0, 3))
    ingress = tuple(draw(sg_rules("ingress", i)) for i in range(n_in))
    egress = tuple(draw(sg_rules("egress", i)) for i in range(n_out))
    return SecurityGroup(gid, gid, "vpc-1", ingress, egress, (), S)


@st.composite
def acl_entries(draw: Any, egress: bool) -> list[AclEntry]:
    numbers = draw(st.lists(st.integers(1, 300), max_size=4, unique=True))
    out = []
    for n in numbers:
        proto = draw(protocols)
        ports = draw(port_ranges()) if proto != "-1" else None
        action = draw(st.sampled_from(["allow", "deny"]))
        cidr = draw(st.sampled_from(ACL_CIDRS if not egress else [*ACL_CIDRS, "8.8.8.0/24"]))
        out.append(AclEntry(n, egress, action, proto, cidr, ports, S))  # type: ignore[arg-type]
    if draw(st.integers(0, 3)):  # mostly: a closing allow, as most ACLs have
        out.append(AclEntry(32766, egress, "allow", "-1", "0.0.0.0/0", None, S))
    return out


@st.composite
def estates(draw: Any) -> Estate:
    instances = []
    for i in range(draw(st.integers(2, 4))):
        subnet = draw(st.sampled_from(sorted(SUBNETS)))
        net = ipaddress.ip_network(SUBNETS[subnet])
        ip = str(net.network_address + 10 + i)
        gs = tuple(sorted(set(draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=2)))))
        public = f"198.51.100.{i + 1}" if draw(st.booleans()) else None
        eni = NetworkInterface(
            f"eni-{i}", subnet, gs, (ip,), S, "vpc-1", public, instance_id=f"i-{i}"
        )
        instances.append(Instance(f"i-{i}", subnet, "vpc-1", (eni,), (), S, public_ip=public))
    balancers = []
    for i in range(draw(st.integers(0, 2))):  # load balancers' interfaces (no host)
        subnet = draw(st.sampled_from(sorted(SUBNETS)))
        ip = str(ipaddress.ip_network(SUBNETS[subnet]).network_address + 50 + i)
        gs = tuple(sorted(set(draw(st.lists(st.sampled_from(GROUPS), max_size=2)))))
        public = f"198.51.100.{100 + i}" if draw(st.booleans()) else None
        name = draw(st.sampled_from(["ELB app/a/1", "ELB net/b/2"]))
        kind = "network_load_balancer" if name.startswith("ELB net") else "interface"
        balancers.append(NetworkInterface(
            f"eni-lb{i}", subnet, gs, (ip,), S, "vpc-1", public, interface_type=kind,
            description=name, requester_id="amazon-elb" if kind == "interface" else None,
        ))  # fmt: skip
    sgs = tuple(draw(groups(g)) for g in GROUPS)
    acls = []
    default_entries = [*draw(acl_entries(False)), *draw(acl_entries(True))]
    special = draw(st.lists(st.sampled_from(sorted(SUBNETS)), unique=True, max_size=2))
    acls.append(NetworkAcl("acl-default", "vpc-1", (), tuple(default_entries), (), S, True))
    if special:
        entries = [*draw(acl_entries(False)), *draw(acl_entries(True))]
        acls.append(NetworkAcl("acl-2", "vpc-1", tuple(special), tuple(entries), (), S))
    routes = [Route("10.0.0.0/16", S, gateway_id="local")]
    out = draw(st.sampled_from(["igw-1", "nat-1", None, "igw-other"]))
    if out is not None:
        gw, target = (out, None) if out.startswith("igw") else (None, out)
        routes.append(Route("0.0.0.0/0", S, gateway_id=gw, target=target))
    if draw(st.booleans()):
        routes.append(Route("8.8.8.0/24", S, target="nat-1", state="blackhole"))
    tables = [RouteTable("rtb-main", "vpc-1", tuple(routes), (), True, (), S)]
    if draw(st.booleans()):
        igw = (
            Route("10.0.0.0/16", S, gateway_id="local"),
            Route("0.0.0.0/0", S, gateway_id="igw-1"),
        )
        tables.append(RouteTable("rtb-2", "vpc-1", igw, ("subnet-b",), False, (), S))
    return Estate(
        files=("random.json",),
        vpcs=(Vpc("vpc-1", ("10.0.0.0/16",), (), S),),
        subnets=tuple(Subnet(k, "vpc-1", v, (), S) for k, v in sorted(SUBNETS.items())),
        instances=tuple(instances),
        network_interfaces=tuple(balancers),
        security_groups=sgs,
        network_acls=tuple(acls),
        route_tables=tuple(tables),
        internet_gateways=(InternetGateway("igw-1", ("vpc-1",), (), S),),
        prefix_lists=(PrefixList("pl-1", "pl-1", "IPv4", ("8.8.8.0/24", "10.0.2.0/24"), S),),
    )


def engine_spans(estate: Estate) -> dict[tuple[str, str], list[tuple[str, int, int]]]:
    """``reach --all-ports`` of the imported estate, outside blocks declared."""
    index = EstateIndex(estate)
    topo = publish_exposed(topology_document(estate, "random", index))
    topo.document["external"] = [{"id": f"probe:{b}", "cidr": b} for b in OUTSIDE]
    policy = policy_document(estate, topo, "random", index)
    imported = imported_from_drafts(_as_manifests(estate), topo, policy, "random")
    return {
        (c.source, c.target): [(r.proto, r.low, r.high) for r in c.allowed.services]
        for c in reach_map(imported.topology, imported.policy, all_ports=True).connections()
    }


def allows(
    spans: dict[tuple[str, str], list[tuple[str, int, int]]],
    src: str,
    dst: str,
    proto: str,
    port: int,
) -> bool:
    return any(p == proto and lo <= port <= hi for p, lo, hi in spans.get((src, dst), []))


def disagreements(estate: Estate) -> list[str]:
    """Every probe where the engine and the reference differ."""
    ref = Reference(estate)
    spans = engine_spans(estate)
    hosts = sorted(ref.hosts)
    ports = sorted(ref.port_bounds())
    out = []
    for proto in ("tcp", "udp"):
        for port in ports:
            for a in hosts:
                for b in hosts:
                    if a != b and allows(spans, a, b, proto, port) != ref.host_to_host(
                        a, b, proto, port
                    ):
                        out.append(
                            f"{a} -> {b} {port}/{proto}: engine {allows(spans, a, b, proto, port)}"
                        )
                for block in OUTSIDE:
                    want = ref.host_to_outside(a, ipaddress.ip_network(block), proto, port)
                    if allows(spans, a, f"probe:{block}", proto, port) != want:
                        out.append(f"{a} -> {block} {port}/{proto}: reference {want}")
                got = allows(spans, "internet", a, proto, port)
                if got != ref.internet_to_host(a, proto, port, each_layer=True):
                    out.append(f"internet -> {a} {port}/{proto}: engine {got}")
                if ref.internet_to_host(a, proto, port) and not got:
                    out.append(f"internet -> {a} {port}/{proto}: a path missed")
    return out


@pytest.mark.parametrize(
    "examples", [pytest.param(25, id="quick"), pytest.param(300, marks=pytest.mark.slow, id="slow")]
)
def test_compiled_estate_decides_as_the_reference(examples: int) -> None:
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(estates())
    def check(estate: Estate) -> None:
        assert disagreements(estate) == []

    check()


def test_is_internet() -> None:
    assert is_internet(ipaddress.ip_address("8.8.8.8"))
    assert not is_internet(ipaddress.ip_address("10.1.2.3"))
