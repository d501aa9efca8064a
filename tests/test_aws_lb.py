"""Load balancers judged conservatively (issue 28 follow-up): an internet-facing
balancer, whose targets the dump does not name, forwards from the internet to
every host whose security groups and network ACLs admit its interfaces, on the
ports they admit; an internal one forwards nothing from outside (between hosts:
tests/test_aws_lb_hosts.py)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from tests.test_aws_compile import OPEN_ACL, estate, flow, group, src
from ztsim.cli.main import main
from ztsim.inputs.aws.compile_lb import admitted_services
from ztsim.inputs.aws.importer import import_estate
from ztsim.inputs.aws.objects import AclEntry, NetworkInterface, SgPeer

LB = "ELB app/shop-alb/50dc6c495c0c9188"


def alb(public: str | None = "52.1.2.3", subnet: str = "subnet-a") -> NetworkInterface:
    """An ALB's interface (sg-alb) at dump.json:70."""
    return NetworkInterface("eni-alb", subnet, ("sg-alb",), ("10.0.0.50",), src(70), "vpc-1",
                            public, requester_id="amazon-elb", description=LB)  # fmt: skip


def lb_estate(**kw: Any) -> Any:
    """i-app (no public address) admits 8080/tcp from the balancer's group only."""
    groups = (
        group("sg-web", 443, SgPeer("cidr", "0.0.0.0/0")),
        group("sg-app", 8080, SgPeer("group", "sg-alb")),
        group("sg-alb", 443, SgPeer("cidr", "0.0.0.0/0")),
    )
    return estate(**{"security_groups": groups, "network_interfaces": (alb(),), **kw})


def test_a_public_balancer_forwards_from_the_internet() -> None:
    imp = import_estate(lb_estate(), "dump.json")
    allowed, where = flow(imp, "internet", "i-app", "8080/tcp")
    assert allowed
    assert where == (
        f"security group sg-app (app) ingress[0] (through load balancer {LB} at dump.json:70) "
        "at dump.json:10"
    )
    assert not flow(imp, "internet", "i-app", "22/tcp")[0]  # only the ports admitted
    told = [n.message for n in imp.notes if "load balancer" in n.message]
    assert len(told) == 1 and "taken to forward from the internet" in told[0]


def test_without_the_balancer_or_internal_nothing_is_forwarded_from_outside() -> None:
    assert not flow(import_estate(lb_estate(network_interfaces=()), "d"), "internet", "i-app",
                    "8080/tcp")[0]  # fmt: skip
    internal = import_estate(lb_estate(network_interfaces=(alb(None),)), "d")
    assert not flow(internal, "internet", "i-app", "8080/tcp")[0]
    (told,) = [n.message for n in internal.notes if "load balancer" in n.message]
    assert "to forward from every host that reaches its interfaces" in told
    assert "internet" not in told


def test_a_group_not_admitting_the_balancer_is_not_a_target() -> None:
    e = lb_estate()
    groups = (*e.security_groups[:1], group("sg-app", 8080, SgPeer("cidr", "10.0.9.0/24")),
              *e.security_groups[2:])  # fmt: skip
    assert not flow(import_estate(replace(e, security_groups=groups), "d"), "internet", "i-app",
                    "8080/tcp")[0]  # fmt: skip
    # An address block holding the balancer's private address admits it.
    groups = (*e.security_groups[:1], group("sg-app", 8080, SgPeer("cidr", "10.0.0.0/26")),
              *e.security_groups[2:])  # fmt: skip
    assert flow(import_estate(replace(e, security_groups=groups), "d"), "internet", "i-app",
                "8080/tcp")[0]  # fmt: skip


def test_the_target_subnets_acl_judges_the_balancers_address() -> None:
    """The ACL admits the VPC, not the internet: the balancer's address decides."""
    inside = (
        AclEntry(100, False, "allow", "-1", "10.0.0.0/16", None, src(30)),
        AclEntry(200, False, "deny", "-1", "0.0.0.0/0", None, src(32)),
        OPEN_ACL.entries[1],
    )
    deny = AclEntry(50, False, "deny", "tcp", "10.0.0.50/32", (8080, 8080), src(33))
    for entries, allowed in ((inside, True), ((deny, *inside), False)):
        acl = replace(OPEN_ACL, entries=entries)
        imp = import_estate(lb_estate(network_acls=(acl,)), "d")
        assert flow(imp, "internet", "i-app", "8080/tcp")[0] is allowed


def test_no_acl_between_the_balancer_and_a_target_of_its_subnet() -> None:
    shut = (AclEntry(100, False, "deny", "-1", "0.0.0.0/0", None, src(30)), OPEN_ACL.entries[1])
    acl = replace(OPEN_ACL, entries=shut)
    for subnet, allowed in (("subnet-a", False), ("subnet-b", True)):
        e = lb_estate(network_acls=(acl,), network_interfaces=(alb(subnet=subnet),))
        assert flow(import_estate(e, "d"), "internet", "i-app", "8080/tcp")[0] is allowed


def test_admitted_services_first_match_per_address() -> None:
    import ipaddress

    deny = AclEntry(100, False, "deny", "-1", "10.0.0.5/32", None, src(1))
    allow = AclEntry(200, False, "allow", "tcp", "10.0.0.0/24", (80, 443), src(2))
    a, b = ipaddress.ip_network("10.0.0.5/32"), ipaddress.ip_network("10.0.0.6/32")
    assert admitted_services([deny, allow], (a,)) == []
    assert admitted_services([deny, allow], (a, b)) == ["80-443/tcp"]
    assert admitted_services([], (a,)) == []


# --------------------------------------------------------------------------- an attack path


def _dump(tmp: Path, balancer: bool) -> Path:
    """examples/aws/describe with its load balancer instance replaced by an
    ALB's interface (same address, group and public IP), or by nothing."""
    out = tmp / ("alb" if balancer else "none")
    shutil.copytree(ROOT / "examples" / "aws" / "describe", out)
    lb_id = "i-0a1b2c3d4e5f60701"
    inst = json.loads((out / "instances.json").read_text())
    for r in inst["Reservations"]:
        r["Instances"] = [i for i in r["Instances"] if i["InstanceId"] != lb_id]
    (out / "instances.json").write_text(json.dumps(inst, indent=1))
    enis = json.loads((out / "network-interfaces.json").read_text())
    kept = []
    for e in enis["NetworkInterfaces"]:
        if e.get("Attachment", {}).get("InstanceId") == lb_id:
            if not balancer:
                continue
            del e["Attachment"]
            e.update(RequesterId="amazon-elb", RequesterManaged=True, Description=LB)
        kept.append(e)
    enis["NetworkInterfaces"] = kept
    (out / "network-interfaces.json").write_text(json.dumps(enis, indent=1))
    return out


def test_an_exfiltration_path_only_through_a_public_alb(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    overlay = tmp_path / "attack.yaml"
    text = (ROOT / "examples" / "aws" / "attack.yaml").read_text()
    # The balancer is no host now: no vulnerability or traffic of its own.
    text = text.replace(
        "  - select: {labels: {Role: lb}}\n    vulnerabilities:\n"
        "      - {id: CVE-2025-0001, service: 443/tcp, gives: user}\n",
        "",
    )
    text = "\n".join(line for line in text.splitlines() if "Role: lb" not in line) + "\n"
    overlay.write_text(text)
    found = []
    for balancer in (False, True):
        dump = _dump(tmp_path, balancer)
        code = main(["check", "--aws", str(dump), "--overlay", str(overlay), "--format", "json"])
        out = capsys.readouterr().out
        (result,) = json.loads(out)["results"]
        found.append((code, [g["reachable"] for g in result["exfiltration"]]))
    assert found == [(0, [False]), (1, [True])]
