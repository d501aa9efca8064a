"""A Terraform plan's load balancers (issue 28 point 2): ``aws_lb`` with its
listeners, target groups and attachments.  When the attachments name the targets,
the balancer forwards to them only, on their ports; otherwise to every host that
could be one (the conservative reading of a dump), the note saying why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_aws_terraform import VPC, _change, _config, _plan, _refs
from ztsim.engine.compiled import CompiledPolicy
from ztsim.inputs.aws.terraform import read_terraform
from ztsim.inputs.aws.terraform_import import import_terraform
from ztsim.inputs.k8s.importer import Imported

LB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/api/1"
TG_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/2"


def _same(address: str, values: dict[str, Any]) -> dict[str, Any]:
    return _change(address, values, before=values, actions=("no-op",))


def _subnet(n: int) -> dict[str, Any]:
    return _same(f"aws_subnet.s{n}", {"id": f"subnet-{n}", "vpc_id": VPC,
                                       "cidr_block": f"10.0.{n}.0/24"})  # fmt: skip


def _group(name: str, port: int, peer: str, egress: bool = True) -> dict[str, Any]:
    rule = {"from_port": port, "to_port": port, "protocol": "tcp", "cidr_blocks": [],
            "security_groups": [peer], "self": False}  # fmt: skip
    out = [{"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}]
    return _same(f"aws_security_group.{name}", {
        "id": f"sg-{name}", "name": name, "vpc_id": VPC, "ingress": [rule],
        "egress": out if egress else [],
    })  # fmt: skip


def _instance(name: str, subnet: int, ip: str, group: str) -> dict[str, Any]:
    return _same(f"aws_instance.{name}", {
        "id": f"i-{name}", "subnet_id": f"subnet-{subnet}", "private_ip": ip,
        "associate_public_ip_address": False, "vpc_security_group_ids": [f"sg-{group}"],
    })  # fmt: skip


#: i-web (subnet 1) reaches the internal ALB (subnet 1, sg-ilb admits sg-web on
#: 8080); i-app1 and i-app2 (subnet 2) admit 8080 from sg-ilb only.
ESTATE = [
    _subnet(1),
    _subnet(2),
    _group("web", 443, "sg-none"),
    _group("app", 8080, "sg-ilb"),
    _group("ilb", 8080, "sg-web", egress=False),
    _instance("web", 1, "10.0.1.10", "web"),
    _instance("app1", 2, "10.0.2.11", "app"),
    _instance("app2", 2, "10.0.2.12", "app"),
]
LB = _same("aws_lb.api", {"id": LB_ARN, "arn": LB_ARN, "name": "api", "internal": True,
                          "load_balancer_type": "application", "subnets": ["subnet-1"],
                          "security_groups": ["sg-ilb"]})  # fmt: skip
GROUP = _same("aws_lb_target_group.api", {"id": TG_ARN, "arn": TG_ARN, "port": 8080,
                                          "protocol": "HTTP"})  # fmt: skip
LISTENER = _same("aws_lb_listener.api", {
    "id": "arn:listener/1", "load_balancer_arn": LB_ARN, "port": 8080, "protocol": "HTTP",
    "default_action": [{"type": "forward", "target_group_arn": TG_ARN}],
})  # fmt: skip


def _attach(target: str, port: int | None = None, **kw: Any) -> dict[str, Any]:
    values = {"target_group_arn": TG_ARN, "target_id": target, "port": port}
    return _change("aws_lb_target_group_attachment.app", values, **kw)


def _import(tmp_path: Path, *changes: dict[str, Any], config: Any = None) -> Imported:
    return import_terraform(_plan(tmp_path, [*ESTATE, *changes], config))


def reach(imp: Imported, src: str, dst: str, service: str = "8080/tcp") -> bool:
    return CompiledPolicy(imp.policy, imp.topology).flow(src, dst, service).allowed


def _told(imp: Imported) -> str:
    (told,) = [n.message for n in imp.notes if "is a load balancer" in n.message]
    return told


def test_attachments_name_the_targets_exactly(tmp_path: Path) -> None:
    imp = _import(tmp_path, LB, GROUP, LISTENER, _attach("i-app1"))
    assert reach(imp, "i-web", "i-app1")
    assert not reach(imp, "i-web", "i-app2")  # admits the balancer, but no target of it
    assert not reach(imp, "i-web", "i-app1", "8081/tcp")
    d = CompiledPolicy(imp.policy, imp.topology).flow("i-web", "i-app1", "8080/tcp")
    where = imp.policy.rule_location("segmentation", d.rule_id)
    assert "(through load balancer aws_lb.api (api) at " in where
    assert "its targets (i-app1: its target group attachments)" in _told(imp)


def test_without_attachments_every_admitting_host(tmp_path: Path) -> None:
    imp = _import(tmp_path, LB, GROUP, LISTENER)
    assert reach(imp, "i-web", "i-app1") and reach(imp, "i-web", "i-app2")
    assert "target group aws_lb_target_group.api has no attachment" in _told(imp)
    # No listener in the plan: the same, said.
    imp = _import(tmp_path, LB, GROUP)
    assert reach(imp, "i-web", "i-app2")
    assert "no listener of it is in the plan" in _told(imp)
    # Without the balancer: no path.
    assert not reach(_import(tmp_path, GROUP, LISTENER), "i-web", "i-app1")


def test_the_attachments_port_and_the_listeners(tmp_path: Path) -> None:
    """The target's port is the attachment's (else its group's); sources reach
    the balancer on its listeners' ports only."""
    imp = _import(tmp_path, LB, GROUP, LISTENER, _attach("i-app1", 9090))
    assert not reach(imp, "i-web", "i-app1")  # 9090: the target's group admits 8080 only
    listener = json.loads(json.dumps(LISTENER))
    listener["change"]["after"]["port"] = 443  # sg-ilb admits 8080 only: no source
    assert not reach(_import(tmp_path, LB, GROUP, listener, _attach("i-app1")), "i-web", "i-app1")


def test_unknown_targets_are_followed_through_the_configuration(tmp_path: Path) -> None:
    attach = _attach("", unknown={"target_id": True})
    config = [_config("aws_lb_target_group_attachment.app",
                      target_id=_refs("aws_instance.app1.id", "aws_instance.app1"))]  # fmt: skip
    imp = _import(tmp_path, LB, GROUP, LISTENER, attach, config=config)
    assert reach(imp, "i-web", "i-app1") and not reach(imp, "i-web", "i-app2")
    # Not followed (no configuration): every host that could be a target, said.
    imp = _import(tmp_path, LB, GROUP, LISTENER, attach)
    assert reach(imp, "i-web", "i-app2")
    assert "cannot be followed" in _told(imp)


def test_unknown_balancer_values_are_read_conservatively(tmp_path: Path) -> None:
    values = dict(LB["change"]["after"], internal=None, security_groups=None)
    unknown = {"internal": True, "security_groups": True}
    lb = _change("aws_lb.api", values, unknown=unknown)
    read = read_terraform(_plan(tmp_path, [*ESTATE, lb, GROUP, LISTENER]))
    (got,) = read.proposed.load_balancers
    assert not got.internal and set(got.group_ids) >= {"sg-web", "sg-app", "sg-ilb"}
    said = [n.message for n in read.proposed.notes]
    assert any("internal unknown until apply: read as internet-facing" in m for m in said)
    assert any("security_groups unknown until apply" in m for m in said)
    assert read.base.load_balancers == ()  # a new balancer: not in the base


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"port": "http"}, "'port' must be a port"),
        ({"default_action": "forward"}, "'default_action' must be a list of blocks"),
    ],
)
def test_bad_listener_shapes_are_placed(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    from ztsim.model.diagnostics import InputError

    listener = json.loads(json.dumps(LISTENER))
    listener["change"]["after"].update(change)
    with pytest.raises(InputError) as err:
        read_terraform(_plan(tmp_path, [*ESTATE, LB, GROUP, listener]))
    (d,) = err.value.diagnostics
    assert message in d.message and d.path.endswith("plan.json") and d.line > 1


def test_an_internet_facing_balancer_forwards_to_its_targets_only(tmp_path: Path) -> None:
    public = json.loads(json.dumps(LB))
    public["change"]["after"]["internal"] = False  # no route table in the plan: routed
    imp = _import(tmp_path, public, GROUP, LISTENER, _attach("i-app1"))
    assert reach(imp, "internet", "i-app1") and not reach(imp, "internet", "i-app2")
    assert not reach(imp, "internet", "i-app1", "22/tcp")
    imp = _import(tmp_path, public, GROUP, LISTENER)  # no attachment: both
    assert reach(imp, "internet", "i-app1") and reach(imp, "internet", "i-app2")


def test_a_plan_that_names_the_targets_closes_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    """tests/aws/terraform-lb: the change attaches i-app1 to the balancer's target
    group; before, its targets were not known (i-app2, holding the data, too)."""
    from ztsim.cli.main import main

    fixture = Path(__file__).parent / "aws" / "terraform-lb"
    args = ["--terraform", str(fixture / "plan.json"), "--overlay", str(fixture / "attack.yaml")]
    assert main(["diff", *args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(g["goal"], g["change"]) for g in data["goals"]] == [("exfiltrate(ledger)", "closed")]
    assert main(["check", *args]) == 0  # the proposed estate: blocked
    assert "exfiltrate(ledger) │ blocked" in capsys.readouterr().out
