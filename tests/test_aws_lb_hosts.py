"""Load balancers between hosts (issue 28: internal balancers, followed
conservatively): a host that reaches a balancer's interfaces reaches through it
every host whose security groups and network ACLs admit the balancer, on the
ports they admit; an NLB's targets may also see the client's own address."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from tests.test_aws_compile import OPEN_ACL, estate, flow, group, instance, rule, src
from ztsim.cli.main import main
from ztsim.inputs.aws.compile_lb_hosts import meet, port_set, services_text
from ztsim.inputs.aws.importer import import_estate
from ztsim.inputs.aws.objects import AclEntry, NetworkInterface, SgPeer

LB = "ELB app/internal-api/1f2e3d4c5b6a7980"
NLB = "ELB net/internal-db/0a1b2c3d4e5f6a7b"


def balancer(
    subnet: str = "subnet-a",
    groups: tuple[str, ...] = ("sg-ilb",),
    kind: str = "interface",
    ip: str = "10.0.0.60",
) -> NetworkInterface:
    """An internal balancer's interface at dump.json:70 (an NLB's: ``kind``)."""
    nlb = kind == "network_load_balancer"
    return NetworkInterface("eni-ilb", subnet, groups, (ip,), src(70), "vpc-1", None,
                            interface_type=kind, description=NLB if nlb else LB,
                            requester_id=None if nlb else "amazon-elb")  # fmt: skip


def lateral(**kw: Any) -> Any:
    """i-web (subnet-a) may reach only the balancer's group on 8080; i-app
    (subnet-b) admits 8080/tcp from the balancer's group only; the balancer's
    group admits 8080 from sg-web."""
    to_ilb = rule("egress", "tcp", (8080, 8080), SgPeer("group", "sg-ilb"), line=12)
    groups = (
        group("sg-web", 443, SgPeer("cidr", "0.0.0.0/0"), (to_ilb,)),
        group("sg-app", 8080, SgPeer("group", "sg-ilb")),
        group("sg-ilb", 8080, SgPeer("group", "sg-web"), ()),
    )
    return estate(**{"security_groups": groups, "network_interfaces": (balancer(),), **kw})


def reach(e: Any, source: str = "i-web", dst: str = "i-app", service: str = "8080/tcp") -> bool:
    return flow(import_estate(e, "dump.json"), source, dst, service)[0]


def test_a_lateral_flow_only_through_an_internal_balancer() -> None:
    imp = import_estate(lateral(), "dump.json")
    allowed, where = flow(imp, "i-web", "i-app", "8080/tcp")
    assert allowed
    assert where == (
        f"security group sg-app (app) ingress[0] (through load balancer {LB} at dump.json:70) "
        "at dump.json:10"
    )
    assert not flow(imp, "i-web", "i-app", "22/tcp")[0]  # only the ports the target admits
    assert not flow(imp, "i-app", "i-web", "8080/tcp")[0]  # nothing else opened
    assert not reach(lateral(network_interfaces=()))  # without it: denied
    (told,) = [n.message for n in imp.notes if "load balancer" in n.message]
    assert "from every host that reaches its interfaces" in told


def test_a_source_must_reach_the_balancer() -> None:
    e = lateral()
    # Its egress does not admit the balancer: no source.
    web = replace(e.security_groups[0], egress=(rule("egress", "tcp", (443, 443),
                                                     SgPeer("group", "sg-ilb")),))  # fmt: skip
    assert reach(e) and not reach(replace(e, security_groups=(web, *e.security_groups[1:])))
    # The balancer's group admits another group only: no source.
    ilb = group("sg-ilb", 8080, SgPeer("group", "sg-app"), ())
    assert not reach(replace(e, security_groups=(*e.security_groups[:2], ilb)))
    # Its egress and the balancer's ingress on different ports: no common port.
    ilb = group("sg-ilb", 9090, SgPeer("group", "sg-web"), ())
    assert not reach(replace(e, security_groups=(*e.security_groups[:2], ilb)))
    # By addresses: a balancer with no group (an NLB may have none) admits every
    # host; one whose group admits another group only, not i-web.
    to_ilb = rule("egress", "tcp", (8080, 8080), SgPeer("cidr", "10.0.0.60/32"))
    web = replace(e.security_groups[0], egress=(to_ilb,))
    app = group("sg-app", 8080, SgPeer("cidr", "10.0.0.32/27"))  # .60, not i-web's .10
    ilb = group("sg-ilb", 8080, SgPeer("group", "sg-app"), ())
    by_address = replace(e, security_groups=(web, app, ilb))
    assert not reach(by_address)
    assert reach(replace(by_address, network_interfaces=(balancer(groups=()),)))


def test_the_acls_on_the_way_to_the_balancer() -> None:
    """The balancer in subnet-b: i-web's outbound ACL and subnet-b's inbound ACL
    judge the two addresses; within one subnet no ACL."""
    app = instance("i-app", "subnet-c", "10.0.2.10", ("sg-app",))
    e = lateral(network_interfaces=(balancer("subnet-b", ip="10.0.1.60"),),
                instances=(estate().instances[0], app))  # fmt: skip
    assert reach(e)
    deny_in = AclEntry(50, False, "deny", "tcp", "10.0.0.10/32", (8080, 8080), src(33))
    shut = replace(OPEN_ACL, entries=(deny_in, *OPEN_ACL.entries))
    assert not reach(replace(e, network_acls=(shut,)))  # subnet-b does not let i-web in
    deny_out = AclEntry(50, True, "deny", "-1", "10.0.1.60/32", None, src(34))
    shut = replace(OPEN_ACL, entries=(deny_out, *OPEN_ACL.entries))
    assert not reach(replace(e, network_acls=(shut,)))  # subnet-a does not let it out
    # The same ACLs with the balancer in i-web's own subnet: no ACL on the way.
    near = replace(e, network_interfaces=(balancer(),))
    assert reach(replace(near, network_acls=(shut,)))


def test_the_targets_acl_judges_the_balancers_address() -> None:
    deny = AclEntry(50, False, "deny", "tcp", "10.0.0.60/32", (8080, 8080), src(33))
    acl = replace(OPEN_ACL, entries=(deny, *OPEN_ACL.entries))
    assert not reach(lateral(network_acls=(acl,)))
    # A target sharing the balancer's subnet meets no ACL.
    e = lateral(network_acls=(acl,), network_interfaces=(balancer("subnet-b", ip="10.0.1.60"),))
    assert reach(e)


def test_an_nlb_keeps_the_clients_address() -> None:
    """The target admits i-web's address, not the balancer's: through an NLB
    (client IP preservation) it is reached, through an ALB not."""
    e = lateral()
    app = group("sg-app", 8080, SgPeer("cidr", "10.0.0.10/32"))
    e = replace(e, security_groups=(e.security_groups[0], app, e.security_groups[2]))
    assert not reach(e)  # directly: i-web's egress admits the balancer only
    nlb = replace(e, network_interfaces=(balancer(kind="network_load_balancer"),))
    imp = import_estate(nlb, "dump.json")
    allowed, where = flow(imp, "i-web", "i-app", "8080/tcp")
    assert allowed and f"(through load balancer {NLB} at dump.json:70)" in where
    assert not flow(imp, "i-web", "i-app", "22/tcp")[0]  # the target's groups still judge


def test_port_sets() -> None:
    assert services_text(port_set(None)) is None
    assert meet(port_set(["1-10/tcp", "20-30/tcp"]), port_set(["5-25/tcp"])) == {
        "tcp": [(5, 10), (20, 25)]
    }
    assert services_text(port_set(["53/udp", "80/tcp"])) == ["80/tcp", "53/udp"]
    assert meet(port_set(["80/tcp"]), port_set(["80/udp"])) == {}


# --------------------------------------------------------------------------- an attack path

PROXY = {
    "GroupId": "sg-0b1c2d3e4f5a60109",
    "GroupName": "shop-db-proxy",
    "Description": "the internal NLB in front of the database",
    "VpcId": None,
    "OwnerId": "123456789012",
    "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [],
         "Ipv6Ranges": [], "PrefixListIds": [],
         "UserIdGroupPairs": [{"GroupId": "sg-0b1c2d3e4f5a60102", "UserId": "123456789012"}]},
    ],
    "IpPermissionsEgress": [],
}  # fmt: skip


def _dump(tmp: Path, balancer: bool) -> Path:
    """examples/aws/describe where the database admits (and the application
    servers may reach) only an internal NLB's group; the NLB's interface in the
    database's subnet, or none."""
    out = tmp / ("nlb" if balancer else "none")
    shutil.copytree(ROOT / "examples" / "aws" / "describe", out)
    groups = json.loads((out / "security-groups.json").read_text())
    for g in groups["SecurityGroups"]:
        for perm in (*g["IpPermissions"], *g["IpPermissionsEgress"]):
            for pair in perm["UserIdGroupPairs"]:
                if perm.get("FromPort") == 5432:
                    pair["GroupId"] = PROXY["GroupId"]
        PROXY["VpcId"] = g["VpcId"]
    groups["SecurityGroups"].append(PROXY)
    (out / "security-groups.json").write_text(json.dumps(groups, indent=1))
    enis = json.loads((out / "network-interfaces.json").read_text())
    db = next(e for e in enis["NetworkInterfaces"] if "Attachment" not in e)
    if balancer:
        nlb = json.loads(json.dumps(db))
        nlb.update(NetworkInterfaceId="eni-0c1d2e3f4a5b60799", Description=NLB,
                   InterfaceType="network_load_balancer", PrivateIpAddress="10.0.3.99",
                   PrivateIpAddresses=[{"Primary": True, "PrivateIpAddress": "10.0.3.99"}],
                   Groups=[{"GroupId": PROXY["GroupId"], "GroupName": "proxy"}])  # fmt: skip
        nlb.pop("RequesterId", None)
        nlb.pop("Association", None)
        enis["NetworkInterfaces"].append(nlb)
    (out / "network-interfaces.json").write_text(json.dumps(enis, indent=1))
    return out


def test_an_exfiltration_path_only_through_an_internal_nlb(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    found = []
    for with_nlb in (False, True):
        argv = ["check", "--aws", str(_dump(tmp_path, with_nlb)), "--overlay",
                "examples/aws/attack.yaml", "--format", "json"]  # fmt: skip
        code = main(argv)
        (result,) = json.loads(capsys.readouterr().out)["results"]
        found.append((code, [g["reachable"] for g in result["exfiltration"]]))
    assert found == [(0, [False]), (1, [True])]


# ---------------------------------------------------------------- balancers behind balancers


def second(public: str | None = None) -> NetworkInterface:
    """A second internal balancer (sg-ilb2, admitting sg-ilb on 8080) in subnet-b."""
    return NetworkInterface("eni-ilb2", "subnet-b", ("sg-ilb2",), ("10.0.1.70",), src(80),
                            "vpc-1", public, requester_id="amazon-elb",
                            description="ELB app/second/2")  # fmt: skip


def chained(**kw: Any) -> Any:
    """i-web reaches only the first balancer; i-app admits only the second; the
    second admits the first."""
    e = lateral(**kw)
    app = group("sg-app", 8080, SgPeer("group", "sg-ilb2"))
    ilb2 = group("sg-ilb2", 8080, SgPeer("group", "sg-ilb"), ())
    return replace(e, security_groups=(e.security_groups[0], app, e.security_groups[2], ilb2),
                   network_interfaces=(*e.network_interfaces, second()))  # fmt: skip


def test_a_balancer_behind_a_balancer() -> None:
    e = chained()
    imp = import_estate(e, "dump.json")
    allowed, where = flow(imp, "i-web", "i-app", "8080/tcp")
    assert allowed and "(through load balancer ELB app/second/2 at dump.json:80)" in where
    # The second admits another group: the first cannot forward to it.
    other = group("sg-ilb2", 8080, SgPeer("group", "sg-web"), ())
    assert not reach(replace(e, security_groups=(*e.security_groups[:3], other)))


def test_the_internet_through_two_balancers() -> None:
    """An internet-facing balancer in front of an internal one: the internet
    reaches the internal one's targets."""
    e = chained()
    front = replace(balancer(), public_ip="52.1.2.3")
    web_lb = group("sg-ilb", 443, SgPeer("cidr", "0.0.0.0/0"), ())
    e = replace(e, network_interfaces=(front, second()),
                security_groups=(*e.security_groups[:2], web_lb, e.security_groups[3]))  # fmt: skip
    ilb2 = group("sg-ilb2", 8080, SgPeer("group", "sg-ilb"), ())
    e = replace(e, security_groups=(*e.security_groups[:3], ilb2))
    imp = import_estate(e, "dump.json")
    assert flow(imp, "internet", "i-app", "8080/tcp")[0]
    assert any("which faces the internet" in n.message for n in imp.notes)
    assert not flow(import_estate(replace(e, network_interfaces=(front,)), "d"), "internet",
                    "i-app", "8080/tcp")[0]  # fmt: skip
