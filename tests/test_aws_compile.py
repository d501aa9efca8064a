"""The AWS compiler rule by rule, through the engine (issue 28, points 2-3): each
semantic of docs/aws.md "Semantics" on a small hand-made estate."""

from __future__ import annotations

from dataclasses import replace

from ztsim.engine.compiled import CompiledPolicy
from ztsim.inputs.aws.importer import import_estate
from ztsim.inputs.aws.objects import (
    AclEntry,
    DbInstance,
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
)
from ztsim.inputs.k8s.importer import Imported


def src(line: int) -> Source:
    return Source("dump.json", line, 3)


def instance(
    iid: str, subnet: str, ip: str, groups: tuple[str, ...], public: str | None = None
) -> Instance:
    eni = NetworkInterface(
        f"eni-{iid}", subnet, groups, (ip,), src(1), "vpc-1", public, instance_id=iid
    )
    return Instance(iid, subnet, "vpc-1", (eni,), (("Name", iid),), src(2), public_ip=public)


def rule(
    direction: str, proto: str, ports: tuple[int, int] | None, *peers: SgPeer, line: int = 10
) -> SgRule:
    return SgRule(direction, proto, ports, peers, f"{direction}[0]", src(line))  # type: ignore[arg-type]


ALL_OUT = rule("egress", "-1", None, SgPeer("cidr", "0.0.0.0/0"), line=11)
OPEN_ACL = NetworkAcl(
    "acl-1", "vpc-1", ("subnet-a", "subnet-b"),
    (AclEntry(100, False, "allow", "-1", "0.0.0.0/0", None, src(30)),
     AclEntry(100, True, "allow", "-1", "0.0.0.0/0", None, src(31))),
    (), src(29), True,
)  # fmt: skip
TABLE = RouteTable(
    "rtb-1", "vpc-1",
    (Route("10.0.0.0/16", src(40), gateway_id="local"),
     Route("0.0.0.0/0", src(41), gateway_id="igw-1")),
    (), True, (), src(39),
)  # fmt: skip


def group(
    gid: str, port: int, peer: SgPeer, egress: tuple[SgRule, ...] = (ALL_OUT,)
) -> SecurityGroup:
    """A group admitting ``port``/tcp from ``peer``."""
    ingress = (rule("ingress", "tcp", (port, port), peer),)
    return SecurityGroup(
        gid, gid[3:], "vpc-1", ingress, egress, (), src(9 if gid == "sg-web" else 19)
    )


def estate(**kw: object) -> Estate:
    base = Estate(
        files=("dump.json",),
        subnets=(Subnet("subnet-a", "vpc-1", "10.0.0.0/24", (), src(5), availability_zone="z1"),
                 Subnet("subnet-b", "vpc-1", "10.0.1.0/24", (), src(6), availability_zone="z1")),
        instances=(instance("i-web", "subnet-a", "10.0.0.10", ("sg-web",), "198.51.100.7"),
                   instance("i-app", "subnet-b", "10.0.1.10", ("sg-app",))),
        security_groups=(
            group("sg-web", 443, SgPeer("cidr", "0.0.0.0/0")),
            group("sg-app", 8080, SgPeer("group", "sg-web")),
        ),
        network_acls=(OPEN_ACL,),
        route_tables=(TABLE,),
        internet_gateways=(InternetGateway("igw-1", ("vpc-1",), (), src(50)),),
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def flow(imp: Imported, source: str, dst: str, service: str) -> tuple[bool, str]:
    d = CompiledPolicy(imp.policy, imp.topology).flow(source, dst, service)
    return d.allowed, imp.policy.rule_location("segmentation", d.rule_id)


def test_group_reference_and_exposure() -> None:
    imp = import_estate(estate(), "dump.json")
    assert flow(imp, "internet", "i-web", "443/tcp")[0]
    assert flow(imp, "i-web", "i-app", "8080/tcp")[0]
    assert not flow(imp, "internet", "i-app", "8080/tcp")[0]  # no public address
    assert flow(imp, "i-app", "i-web", "443/tcp")[
        0
    ]  # sg-web admits 0.0.0.0/0, which holds i-app's address


def test_verdict_names_the_sg_rule_and_acl_entry() -> None:
    deny = AclEntry(50, False, "deny", "6", "10.0.0.0/24", (8080, 8080), src(33))
    acl = replace(OPEN_ACL, entries=(deny, *OPEN_ACL.entries))
    imp = import_estate(estate(network_acls=(acl,)), "dump.json")
    allowed, where = flow(imp, "i-web", "i-app", "8080/tcp")
    assert not allowed
    assert where == "network ACL acl-1 entry 50 (in) at dump.json:33"
    imp = import_estate(estate(), "dump.json")
    allowed, where = flow(imp, "i-app", "i-web", "22/tcp")
    assert not allowed and where.startswith("dump.json")  # sg-ingress/default: no rule


def test_no_acl_within_one_subnet() -> None:
    deny_all = replace(OPEN_ACL, entries=())
    web2 = instance("i-web2", "subnet-a", "10.0.0.11", ("sg-app",))
    imp = import_estate(
        estate(network_acls=(deny_all,), instances=(*estate().instances, web2)), "d"
    )
    assert flow(imp, "i-web", "i-web2", "8080/tcp")[0]  # same subnet: no ACL
    assert not flow(imp, "i-web", "i-app", "8080/tcp")[0]  # across: denied


def test_missing_group_warned_and_conservative() -> None:
    app = group("sg-app", 8080, SgPeer("group", "sg-gone"))
    e = estate(security_groups=(estate().security_groups[0], app))
    imp = import_estate(e, "dump.json")
    assert any("sg-gone" in n.message and "not in the dump" in n.message for n in imp.notes)
    assert flow(imp, "i-web", "i-app", "8080/tcp")[0]


def test_prefix_list_peers() -> None:
    app = group("sg-app", 8080, SgPeer("prefix-list", "pl-1"))
    known = PrefixList("pl-1", "office", "IPv4", ("10.0.0.0/28",), src(60))
    imp = import_estate(
        estate(security_groups=(estate().security_groups[0], app), prefix_lists=(known,)), "d"
    )
    assert flow(imp, "i-web", "i-app", "8080/tcp")[0]  # 10.0.0.10 is in the list
    far = replace(known, cidrs=("10.9.0.0/16",))
    imp = import_estate(
        estate(security_groups=(estate().security_groups[0], app), prefix_lists=(far,)), "d"
    )
    assert not flow(imp, "i-web", "i-app", "8080/tcp")[0]
    unknown = replace(known, cidrs=None)
    imp = import_estate(
        estate(security_groups=(estate().security_groups[0], app), prefix_lists=(unknown,)), "d"
    )
    assert flow(imp, "i-web", "i-app", "8080/tcp")[0]
    assert any("pl-1" in n.message and "every address" in n.message for n in imp.notes)


def test_rds_exposure_needs_public_access_and_a_route() -> None:
    db_sg = group("sg-db", 5432, SgPeer("cidr", "0.0.0.0/0"), ())
    db = DbInstance(
        "orders", "postgres", 5432, True, "vpc-1", ("subnet-b",), ("sg-db",), (), src(80), "z1"
    )
    e = estate(security_groups=(*estate().security_groups, db_sg), db_instances=(db,))
    imp = import_estate(e, "d")
    assert flow(imp, "internet", "orders", "5432/tcp")[0]
    private = replace(db, publicly_accessible=False)
    imp = import_estate(replace(e, db_instances=(private,)), "d")
    assert not flow(imp, "internet", "orders", "5432/tcp")[0]
    no_route = replace(TABLE, routes=TABLE.routes[:1])
    imp = import_estate(replace(e, route_tables=(no_route,)), "d")
    assert not flow(imp, "internet", "orders", "5432/tcp")[0]


def test_egress_to_internet_addresses_is_noted() -> None:
    imp = import_estate(estate(), "dump.json")
    notes = [n for n in imp.notes if "exfiltration" in n.message]
    assert notes and notes[0].path == "dump.json" and notes[0].line == 11
    assert "security group sg-app (app) egress[0]" in notes[0].message
