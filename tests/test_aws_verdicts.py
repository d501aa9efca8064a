"""Where an AWS verdict points (issue 28, point 5): every deciding rule names its
security group, ACL entry or route table at FILE:LINE, the implicit denies too
(a security group's, a network ACL's, a route table's); and the import warns
about the input only, never about what it made itself (empty subnets)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.test_aws_compile import OPEN_ACL, TABLE, estate, group, instance, src
from ztsim.engine.compiled import CompiledPolicy
from ztsim.inputs.aws.describe import read_describe
from ztsim.inputs.aws.importer import import_estate
from ztsim.inputs.aws.objects import SecurityGroup, SgPeer, Subnet
from ztsim.inputs.checks import NO_DATA_MESSAGE
from ztsim.inputs.k8s.importer import Imported

ROOT = Path(__file__).resolve().parents[1]
DUMPS = [
    ROOT / "examples" / "aws" / "describe",
    *sorted(p for p in (ROOT / "tests" / "aws" / "batfish").iterdir() if p.is_dir()),
]

#: sg-app admits 8080/tcp from nowhere any host stands: web -> app is denied by
#: sg-app's implicit deny.
NOWHERE = SgPeer("cidr", "10.9.0.0/16")


def denied(imp: Imported, source: str, dst: str, service: str) -> tuple[str, str]:
    """The deciding rule of a denied flow and where it points."""
    d = CompiledPolicy(imp.policy, imp.topology).flow(source, dst, service)
    assert not d.allowed
    return d.rule, imp.policy.rule_location("segmentation", d.rule_id)


def test_sg_ingress_implicit_deny_names_the_group() -> None:
    e = estate(security_groups=(estate().security_groups[0], group("sg-app", 8080, NOWHERE)))
    rule_id, where = denied(import_estate(e, "dump.json"), "i-web", "i-app", "8080/tcp")
    assert rule_id == "sg-ingress/sg-app/in/default"
    assert where == (
        "security group sg-app (app) implicit deny (no ingress rule admits it) at dump.json:19"
    )


def test_implicit_deny_names_every_group_of_the_host() -> None:
    extra = SecurityGroup("sg-x", "x", "vpc-1", (), (), (), src(25))
    app = instance("i-app", "subnet-b", "10.0.1.10", ("sg-x", "sg-app"))
    e = estate(
        instances=(estate().instances[0], app),
        security_groups=(estate().security_groups[0], group("sg-app", 8080, NOWHERE), extra),
    )
    rule_id, where = denied(import_estate(e, "dump.json"), "i-web", "i-app", "8080/tcp")
    assert rule_id == "sg-ingress/sg-app,sg-x/in/default"
    assert where.startswith("security groups sg-app (app), sg-x (x) implicit deny")
    assert where.endswith(" at dump.json:19")


def test_sg_egress_implicit_deny_names_the_source_group() -> None:
    web = group("sg-web", 443, SgPeer("cidr", "0.0.0.0/0"), egress=())
    e = estate(security_groups=(web, estate().security_groups[1]))
    imp = import_estate(e, "dump.json")
    rule_id, where = denied(imp, "i-web", "i-app", "8080/tcp")
    assert rule_id == "sg-egress/sg-web/out/default"
    assert where == (
        "security group sg-web (web) implicit deny (no egress rule admits it) at dump.json:9"
    )
    d = CompiledPolicy(imp.policy, imp.topology).egress("i-web", "cidr:0.0.0.0/0", "443/tcp")
    assert d.rule == "sg-egress/out:sg-web/out/default"


def test_acl_implicit_deny_names_the_acl() -> None:
    imp = import_estate(estate(network_acls=(replace(OPEN_ACL, entries=()),)), "dump.json")
    rule_id, where = denied(imp, "i-web", "i-app", "8080/tcp")
    assert rule_id == "nacl-out/acl-1/out/default"
    assert where == "network ACL acl-1 implicit deny (no outbound entry matches) at dump.json:29"


def test_route_implicit_deny_names_the_table() -> None:
    imp = import_estate(estate(route_tables=(replace(TABLE, routes=()),)), "dump.json")
    d = CompiledPolicy(imp.policy, imp.topology).egress("i-web", "cidr:0.0.0.0/0", "443/tcp")
    assert not d.allowed and d.rule.startswith("route-out/route:subnet-a/")
    where = imp.policy.rule_location("egress", d.rule_id)
    assert where == "route table rtb-1 implicit deny (no route matches) at dump.json:39"


@pytest.mark.parametrize("dump", DUMPS, ids=lambda p: p.name)
def test_no_verdict_is_an_unnamed_layer_default(dump: Path) -> None:
    """Every flow between hosts, and from the internet, on every service a host
    offers: each layer named decides by a rule of an object, never ``default``
    (but exposure's allow between hosts: the verdict is placed at its next layer's)."""
    imp = import_estate(read_describe([dump]), str(dump))
    policy = CompiledPolicy(imp.policy, imp.topology)
    hosts = imp.topology.model.hosts
    sources = ["internet", *(h.id for h in hosts)]
    judged = 0
    for src_id, h in itertools.product(sources, hosts):
        for service in h.services:
            d = policy.flow(src_id, h.id, service.service)
            if d.parts is None or src_id == h.id:
                continue  # decided before the layers (a host reaching itself)
            judged += 1
            # exposure's default allow is the one left unnamed (see compile_layers)
            named = [rid for layer, rid in d.parts if layer != "exposure" or not d.allowed]
            assert "default" not in named, (src_id, h.id, d.rule)
    assert judged


@pytest.mark.parametrize("dump", DUMPS, ids=lambda p: p.name)
def test_no_warning_about_what_the_import_made(dump: Path) -> None:
    """Subnets with no host (ACLs, routes, the same-subnet exemption) give no
    rule, so the loader finds no selector matching nothing; each partial-internet
    note is said once per rule."""
    imp = import_estate(read_describe([dump]), str(dump))
    assert not [n for n in imp.notes if "matches nothing" in n.message]
    said = [(n.path, n.line, n.message) for n in imp.notes]
    assert len(said) == len(set(said))


def test_a_missing_route_table_is_told_for_populated_subnets_only() -> None:
    empty = Subnet("subnet-c", "vpc-1", "10.0.2.0/24", (), src(7), availability_zone="z1")
    other_vpc = replace(TABLE, vpc_id="vpc-2", main=True)  # no table for vpc-1's subnets
    e = estate(subnets=(*estate().subnets, empty), route_tables=(other_vpc,))
    notes = [n.message for n in import_estate(e, "d").notes if "route table" in n.message]
    assert any("subnet-a" in m for m in notes) and not any("subnet-c" in m for m in notes)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ztsim", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_import_says_nothing_of_data_but_check_does(tmp_path: Path) -> None:
    """Data comes with the overlay: ``import`` does not warn that there is none
    (``--strict`` would refuse every import), ``check`` without an overlay does."""
    dump = "tests/aws/batfish/public-subnet"
    done = _run("import", "aws", dump, "--output", str(tmp_path / "out"), "--strict")
    assert done.returncode == 2  # its egress note, an error with --strict
    assert "no data item" not in done.stderr and "filter no names" in done.stderr
    done = _run("import", "aws", dump, "--output", str(tmp_path / "out"))
    assert done.returncode == 0 and NO_DATA_MESSAGE not in done.stderr
    assert "no data item" in _run("check", "--aws", dump).stderr


def test_verdicts_name_the_group_in_text_json_and_sarif() -> None:
    """On the example: the plan the load balancer's group stops is blocked by
    shop-lb's implicit deny, at its FILE:LINE, in every format."""
    args = ["--aws", "examples/aws/describe", "--overlay", "examples/aws/attack.yaml"]
    named = "security group sg-0b1c2d3e4f5a60101 (shop-lb) implicit deny (no egress rule"
    where = "examples/aws/describe/security-groups.json:3"
    text = " ".join(_run("paths", *args).stdout.split())
    assert f"rule sg-0b1c2d3e4f5a60101/out/default at {named}" in text and where in text
    data = json.loads(_run("paths", *args, "--format", "json").stdout)
    verdicts = [v for g in data["goals"] for p in g["plans"] for v in p["verdicts"] if v["blocked"]]
    assert verdicts and all(named in v["explanation"] for v in verdicts)
    assert all(where in v["explanation"] for v in verdicts)
    sarif = _run("check", *args, "--format", "sarif").stdout
    assert "security-groups.json:" in sarif
    diff = _run("diff", "--terraform", "examples/aws/terraform/plan.json", "--overlay",
                "examples/aws/attack.yaml", "--format", "json").stdout  # fmt: skip
    assert " default at " not in diff and "examples/aws/terraform/main.tf:" in diff


def test_a_host_with_no_group_is_denied_by_name() -> None:
    bare = instance("i-app", "subnet-b", "10.0.1.10", ())
    imp = import_estate(estate(instances=(estate().instances[0], bare)), "dump.json")
    policy = CompiledPolicy(imp.policy, imp.topology)
    d = policy.flow("i-app", "i-web", "443/tcp")
    assert not d.allowed and d.rule == "sg-egress/no-group/out/default"
    where = imp.policy.rule_location("segmentation", d.rule_id)
    assert (
        where
        == "a host with no security group implicit deny (no egress rule admits it) at dump.json:2"
    )


def test_a_plans_implicit_deny_names_the_terraform_address() -> None:
    out = _run(
        "paths", "--terraform", "examples/aws/terraform/plan.json",
        "--overlay", "examples/aws/attack.yaml",
    ).stdout  # fmt: skip
    text = " ".join(out.split())
    assert (
        "security group sg-0b1c2d3e4f5a60102 (shop-app) aws_security_group.app implicit deny "
        "(no ingress rule admits it) at examples/aws/terraform/main.tf:105"
    ) in text


def test_a_load_balancers_interface_is_told_once() -> None:
    """What ztsim does not follow (a load balancer forwarding to its targets) is
    said, once per balancer; an RDS instance's interface is not a problem."""
    from ztsim.inputs.aws.objects import NetworkInterface

    def eni(n: int, **kw: str) -> NetworkInterface:
        return NetworkInterface(f"eni-{n}", "subnet-a", ("sg-web",), (f"10.0.0.{n}",), src(70 + n),
                                "vpc-1", **kw)  # type: ignore[arg-type]  # fmt: skip

    lb = {"requester_id": "amazon-elb", "description": "ELB app/shop/1"}
    extra = (eni(50, **lb), eni(51, **lb), eni(52, requester_id="amazon-rds"),
             eni(53, interface_type="network_load_balancer"))  # fmt: skip
    imp = import_estate(estate(network_interfaces=extra), "dump.json")
    told = [n for n in imp.notes if "load balancer" in n.message]
    assert [(n.line, "ELB app/shop/1" in n.message) for n in told] == [(120, True), (123, False)]


def test_rule_rows_give_the_file_of_their_line() -> None:
    """check's rule-impact rows (JSON, the --rules table): a rule of an import
    stands in a dump or a .tf file, not in the policy's path: each row says which."""
    args = ["--aws", "examples/aws/describe", "--overlay", "examples/aws/attack.yaml"]
    data = json.loads(_run("check", *args, "--format", "json").stdout)
    rows = data["results"][0]["rules"]
    placed = {(r["rule"], r["file"], r["line"]) for r in rows if r["line"] is not None}
    assert ("sg-ingress/sg-0b1c2d3e4f5a60102/in/default",
            "examples/aws/describe/security-groups.json", 51) in placed  # fmt: skip
    assert all(r["file"] is None for r in rows if r["line"] is None)
    assert all(Path(ROOT, f).is_file() for _, f, _ in placed)
    text = _run("check", *args, "--rules").stdout
    assert "security-groups.json:51" in text
    plan = [
        "--terraform",
        "examples/aws/terraform/plan.json",
        "--overlay",
        "examples/aws/attack.yaml",
    ]
    rows = json.loads(_run("check", *plan, "--format", "json").stdout)["results"][0]["rules"]
    assert {r["file"] for r in rows} >= {"examples/aws/terraform/main.tf", None}
