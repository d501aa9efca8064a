"""The Terraform reader (issue 28 point 4): ``terraform show -json`` to AWS estates.

Small plans are built here in the real format (``resource_changes`` with
``before``/``after``/``after_unknown``, ``configuration`` with references, a
state's ``values``); each test reads one thing of one resource type, or one
conservative reading of a value unknown until apply.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from ztsim.inputs.aws.terraform import read_terraform
from ztsim.inputs.aws.terraform_config import config_key, split_reference
from ztsim.inputs.aws.terraform_import import import_terraform, import_terraform_pair
from ztsim.inputs.aws.terraform_resources import host_ident
from ztsim.model.diagnostics import InputError

PLAN = ROOT / "examples" / "aws" / "terraform" / "plan.json"
VPC = "vpc-1"


def _change(
    address: str,
    values: dict[str, Any] | None,
    *,
    before: dict[str, Any] | None = None,
    unknown: dict[str, Any] | None = None,
    actions: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    kind, name = address.split("[")[0].split(".")[-2:]
    if actions is None:
        actions = ("create",) if before is None else ("update",)
    return {
        "address": address,
        "mode": "managed",
        "type": kind,
        "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": list(actions),
            "before": before,
            "after": values,
            "after_unknown": unknown or {},
        },
    }


def _plan(
    tmp_path: Path,
    changes: list[dict[str, Any]],
    config: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Path:
    data = {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "resource_changes": changes,
        "configuration": {"root_module": {"resources": config or []}},
        **extra,
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def _config(address: str, **expressions: Any) -> dict[str, Any]:
    kind, name = address.split(".")[-2:]
    return {
        "address": address,
        "mode": "managed",
        "type": kind,
        "name": name,
        "expressions": expressions,
    }


def _refs(*refs: str) -> dict[str, Any]:
    return {"references": list(refs)}


SUBNET = _change(
    "aws_subnet.a",
    {
        "id": "subnet-1",
        "vpc_id": VPC,
        "cidr_block": "10.0.1.0/24",
        "map_public_ip_on_launch": False,
    },
    before={"id": "subnet-1", "vpc_id": VPC, "cidr_block": "10.0.1.0/24"},
    actions=("no-op",),
)


# --------------------------------------------------------------------------- helpers


def test_config_keys_and_references() -> None:
    assert config_key('module.net["a"].aws_subnet.private[2]') == "module.net.aws_subnet.private"
    assert split_reference("aws_security_group.app[0].id") == (
        "aws_security_group.app",
        "[0]",
        "id",
    )
    assert split_reference("var.cidr") is None
    assert host_ident('aws_instance.app["blue green"]') == "aws_instance.app.blue_green"


# --------------------------------------------------------------------------- the example


def test_example_plan_base_and_proposed() -> None:
    read = read_terraform(PLAN)
    assert read.kind == "plan"
    assert [a for a, _ in read.changes] == [
        "aws_security_group.reporting",
        "aws_instance.reporting",
        "aws_vpc_security_group_ingress_rule.db_from_reporting",
        "aws_network_acl_rule.data_from_public",
    ]
    base_ids = {i.id for i in read.base.instances}
    new_ids = {i.id for i in read.proposed.instances}
    assert new_ids - base_ids == {"aws_instance.reporting"}
    new = next(i for i in read.proposed.instances if i.id == "aws_instance.reporting")
    # Its security group is new: the reference is followed to the group's placeholder id.
    assert new.group_ids == ("<aws_security_group.reporting.id>",)
    assert new.public_ip == "<aws_instance.reporting.public_ip>"  # unknown: public (subnet maps)
    db = next(g for g in read.proposed.security_groups if g.name == "shop-db")
    rule = db.ingress[-1]
    assert rule.name == "aws_vpc_security_group_ingress_rule.db_from_reporting"
    assert [(p.kind, p.value) for p in rule.peers] == [
        ("group", "<aws_security_group.reporting.id>")
    ]
    # Placed at the .tf declaration next to the plan.
    assert Path(rule.source.path).name == "main.tf"
    assert (
        rule.source.line
        == (PLAN.parent / "main.tf")
        .read_text()
        .splitlines()
        .index('resource "aws_vpc_security_group_ingress_rule" "db_from_reporting" {')
        + 1
    )
    # The prefix list comes from the prior state's data source.
    assert [p.cidrs for p in read.proposed.prefix_lists] == [
        ("3.5.64.0/21", "3.5.72.0/23", "52.92.0.0/17", "52.218.0.0/17")
    ]
    notes = [n.message for n in read.proposed.notes]
    assert any("public_ip unknown until apply: read as public" in m for m in notes)


def test_state_file_gives_one_estate_twice(tmp_path: Path) -> None:
    state = {
        "format_version": "1.0",
        "terraform_version": "1.9.8",
        "values": {
            "root_module": {
                "resources": [
                    {
                        "address": "aws_subnet.a",
                        "mode": "managed",
                        "type": "aws_subnet",
                        "name": "a",
                        "values": {"id": "subnet-1", "vpc_id": VPC, "cidr_block": "10.0.1.0/24"},
                    }
                ],
                "child_modules": [
                    {
                        "address": "module.m",
                        "resources": [
                            {
                                "address": "module.m.aws_vpc.v",
                                "mode": "managed",
                                "type": "aws_vpc",
                                "name": "v",
                                "values": {"id": VPC, "cidr_block": "10.0.0.0/16"},
                            }
                        ],
                    }
                ],
            }
        },
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    read = read_terraform(path)
    assert read.kind == "state" and read.base == read.proposed
    assert [v.id for v in read.proposed.vpcs] == [VPC]
    with pytest.raises(InputError, match="a state holds no change"):
        import_terraform_pair(path)


# --------------------------------------------------------------------------- groups


def test_inline_and_separate_rules(tmp_path: Path) -> None:
    group = {
        "id": "sg-1",
        "name": "web",
        "vpc_id": VPC,
        "ingress": [
            {
                "from_port": 443,
                "to_port": 443,
                "protocol": "tcp",
                "cidr_blocks": ["0.0.0.0/0"],
                "ipv6_cidr_blocks": ["::/0"],
                "prefix_list_ids": [],
                "security_groups": ["sg-2"],
                "self": True,
            }
        ],
        "egress": [{"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}],
    }
    changes = [
        _change("aws_security_group.web", group, before=group, actions=("no-op",)),
        _change(
            "aws_security_group_rule.ssh",
            {
                "type": "ingress",
                "security_group_id": "sg-1",
                "from_port": 22,
                "to_port": 22,
                "protocol": "6",
                "cidr_blocks": ["10.0.0.0/8"],
                "source_security_group_id": None,
                "self": False,
            },
        ),
        _change(
            "aws_vpc_security_group_egress_rule.dns",
            {
                "security_group_id": "sg-1",
                "ip_protocol": "udp",
                "from_port": 53,
                "to_port": 53,
                "referenced_security_group_id": "sg-9",
            },
        ),
    ]
    read = read_terraform(_plan(tmp_path, changes))
    (g,) = read.proposed.security_groups
    inline, ssh = g.ingress
    assert (inline.protocol, inline.ports) == ("tcp", (443, 443))
    assert [(p.kind, p.value) for p in inline.peers] == [
        ("cidr", "0.0.0.0/0"),
        ("cidr", "::/0"),
        ("group", "sg-2"),
        ("group", "sg-1"),  # self
    ]
    assert (ssh.protocol, ssh.ports, ssh.name) == ("tcp", (22, 22), "aws_security_group_rule.ssh")
    every, dns = g.egress
    assert (every.protocol, every.ports) == ("-1", None)
    assert (dns.protocol, dns.ports, dns.peers[0].value) == ("udp", (53, 53), "sg-9")
    # The base has only the inline rules: the rule resources are new.
    (base,) = read.base.security_groups
    assert len(base.ingress) == 1 and len(base.egress) == 1


def test_unknown_peer_not_followed_is_every_address(tmp_path: Path) -> None:
    changes = [
        _change(
            "aws_security_group_rule.r",
            {"type": "ingress", "security_group_id": "sg-1", "from_port": 5432, "to_port": 5432,
             "protocol": "tcp"},
            unknown={"cidr_blocks": True},
        )
    ]  # fmt: skip
    config = [_config("aws_security_group_rule.r", cidr_blocks=_refs("var.office"))]
    read = read_terraform(_plan(tmp_path, changes, config))
    (rule,) = read.proposed.security_groups[0].ingress
    assert {p.value for p in rule.peers} == {"0.0.0.0/0", "::/0"}
    assert any("cidr_blocks unknown until apply" in n.message for n in read.proposed.notes)


def test_unknown_ports_are_every_port(tmp_path: Path) -> None:
    changes = [
        _change(
            "aws_vpc_security_group_ingress_rule.r",
            {"security_group_id": "sg-1", "ip_protocol": "tcp", "cidr_ipv4": "10.0.0.0/8"},
            unknown={"from_port": True, "to_port": True},
        )
    ]
    read = read_terraform(_plan(tmp_path, changes))
    (rule,) = read.proposed.security_groups[0].ingress
    assert (rule.protocol, rule.ports) == ("-1", None)


def test_rule_on_a_group_not_followed_goes_to_every_group(tmp_path: Path) -> None:
    group = {"id": "sg-1", "name": "a", "vpc_id": VPC, "ingress": [], "egress": []}
    other = {**group, "id": "sg-2", "name": "b"}
    changes = [
        _change("aws_security_group.a", group, before=group, actions=("no-op",)),
        _change("aws_security_group.b", other, before=other, actions=("no-op",)),
        _change(
            "aws_security_group_rule.r",
            {"type": "ingress", "from_port": 22, "to_port": 22, "protocol": "tcp",
             "cidr_blocks": ["0.0.0.0/0"]},
            unknown={"security_group_id": True},
        ),
    ]  # fmt: skip
    read = read_terraform(_plan(tmp_path, changes))
    assert [len(g.ingress) for g in read.proposed.security_groups] == [1, 1]


# --------------------------------------------------------------------------- instances


def test_new_instance_references_and_public_address(tmp_path: Path) -> None:
    changes = [
        SUBNET,
        _change(
            "aws_security_group.new",
            {"name": "new", "vpc_id": VPC, "ingress": [], "egress": []},
            unknown={"id": True},
        ),
        _change(
            "aws_instance.web[0]",
            {"subnet_id": "subnet-1", "associate_public_ip_address": True, "tags": {"Role": "web"}},
            unknown={"id": True, "vpc_security_group_ids": True, "public_ip": True,
                     "private_ip": True},
        ),
    ]  # fmt: skip
    config = [
        _config(
            "aws_instance.web",
            vpc_security_group_ids=_refs("aws_security_group.new.id", "aws_security_group.new"),
        )
    ]
    read = read_terraform(_plan(tmp_path, changes, config))
    (inst,) = read.proposed.instances
    assert inst.id == "aws_instance.web.0"
    assert inst.group_ids == ("<aws_security_group.new.id>",)
    assert inst.public_ip is not None and inst.interfaces[0].private_ips == ()
    assert inst.tags == (("Role", "web"),)
    assert read.base.instances == ()


def test_instance_public_address_follows_the_subnet(tmp_path: Path) -> None:
    unknown = {"id": True, "public_ip": True, "associate_public_ip_address": True}
    changes = [SUBNET, _change("aws_instance.x", {"subnet_id": "subnet-1"}, unknown=unknown)]
    read = read_terraform(_plan(tmp_path, changes))
    assert read.proposed.instances[0].public_ip is None  # the subnet maps none
    explicit = [
        SUBNET,
        _change("aws_instance.x", {"subnet_id": "subnet-1", "associate_public_ip_address": False}),
    ]
    assert read_terraform(_plan(tmp_path, explicit)).proposed.instances[0].public_ip is None


def test_unknown_groups_not_followed_are_every_group(tmp_path: Path) -> None:
    group = {"id": "sg-1", "name": "a", "vpc_id": VPC, "ingress": [], "egress": []}
    changes = [
        SUBNET,
        _change("aws_security_group.a", group, before=group, actions=("no-op",)),
        _change("aws_instance.x", {"subnet_id": "subnet-1"},
                unknown={"id": True, "vpc_security_group_ids": True}),
    ]  # fmt: skip
    read = read_terraform(_plan(tmp_path, changes))
    assert read.proposed.instances[0].group_ids == ("sg-1",)
    assert any("a member of every group" in n.message for n in read.proposed.notes)


def test_rds_in_its_subnet_group(tmp_path: Path) -> None:
    changes = [
        SUBNET,
        _change("aws_db_subnet_group.g", {"name": "data", "subnet_ids": ["subnet-1"]}),
        _change(
            "aws_db_instance.db",
            {"identifier": "orders", "engine": "postgres", "db_subnet_group_name": "data",
             "vpc_security_group_ids": ["sg-1"], "publicly_accessible": False},
            unknown={"port": True},
        ),
    ]  # fmt: skip
    read = read_terraform(_plan(tmp_path, changes))
    (db,) = read.proposed.db_instances
    assert (db.id, db.port, db.subnet_ids, db.publicly_accessible) == (
        "orders",
        5432,  # the engine's port
        ("subnet-1",),
        False,
    )


# --------------------------------------------------------------------------- ACLs and routes


def test_acl_entries_rules_and_associations(tmp_path: Path) -> None:
    acl = {
        "id": "acl-1",
        "vpc_id": VPC,
        "subnet_ids": [],
        "ingress": [{"rule_no": 100, "action": "allow", "protocol": "tcp", "from_port": 443,
                     "to_port": 443, "cidr_block": "0.0.0.0/0", "ipv6_cidr_block": ""}],
        "egress": [],
    }  # fmt: skip
    changes = [
        _change("aws_network_acl.a", acl, before=acl, actions=("no-op",)),
        _change("aws_network_acl_rule.deny", {
            "network_acl_id": "acl-1", "rule_number": 50, "egress": False, "protocol": "-1",
            "rule_action": "deny", "cidr_block": "10.9.0.0/16", "from_port": 0, "to_port": 0}),
        _change("aws_network_acl_association.s", {"network_acl_id": "acl-1",
                                                  "subnet_id": "subnet-1"}),
    ]  # fmt: skip
    read = read_terraform(_plan(tmp_path, changes))
    (got,) = read.proposed.network_acls
    assert got.subnet_ids == ("subnet-1",)
    by_number = {e.rule_number: e for e in got.entries}
    assert by_number[100].ports == (443, 443) and by_number[100].action == "allow"
    assert by_number[50].action == "deny" and by_number[50].ports is None
    assert by_number[50].name == "50 (in) of aws_network_acl_rule.deny"


def test_unknown_acl_values_widen_allows_and_drop_denies(tmp_path: Path) -> None:
    base = {"network_acl_id": "acl-1", "egress": False, "protocol": "tcp", "from_port": 22,
            "to_port": 22, "cidr_block": "10.0.0.0/8"}  # fmt: skip
    changes = [
        _change("aws_network_acl_rule.allow", {**base, "rule_action": "allow"},
                unknown={"rule_number": True, "cidr_block": True}),
        _change("aws_network_acl_rule.deny", {**base, "rule_action": "deny", "rule_number": 10},
                unknown={"cidr_block": True}),
        _change("aws_network_acl_rule.what", {**base, "rule_number": 20},
                unknown={"rule_action": True}),
    ]  # fmt: skip
    read = read_terraform(_plan(tmp_path, changes))
    entries = read.proposed.network_acls[0].entries
    assert all(e.action == "allow" for e in entries)  # the deny is left out
    first = [e for e in entries if e.name and "rule.allow" in e.name]
    assert {e.cidr for e in first} == {"0.0.0.0/0", "::/0"}
    assert {e.rule_number for e in first} == {0} and all(e.ports is None for e in first)
    notes = " ".join(n.message for n in read.proposed.notes)
    assert "a deny with values unknown until apply is left out" in notes


def test_routes_associations_and_the_main_table(tmp_path: Path) -> None:
    vpc = {"id": VPC, "cidr_block": "10.0.0.0/16", "main_route_table_id": "rtb-main"}
    changes = [
        _change("aws_vpc.v", vpc, before=vpc, actions=("no-op",)),
        _change("aws_internet_gateway.gw", {"vpc_id": VPC}, unknown={"id": True}),
        _change("aws_route_table.public", {"id": "rtb-1", "vpc_id": VPC, "route": [
            {"cidr_block": "0.0.0.0/0", "gateway_id": "", "nat_gateway_id": ""}]},
            unknown={"route": [{"gateway_id": True}]}),
        _change("aws_route_table_association.a", {"subnet_id": "subnet-1",
                                                  "route_table_id": "rtb-1"}),
    ]  # fmt: skip
    config = [
        _config(
            "aws_route_table.public",
            route=[{"gateway_id": _refs("aws_internet_gateway.gw.id", "aws_internet_gateway.gw")}],
        )
    ]
    read = read_terraform(_plan(tmp_path, changes, config))
    tables = {t.id: t for t in read.proposed.route_tables}
    assert tables["rtb-1"].subnet_ids == ("subnet-1",)
    (route,) = tables["rtb-1"].routes
    assert route.gateway_id == "<aws_internet_gateway.gw.id>"
    assert [g.id for g in read.proposed.internet_gateways] == ["<aws_internet_gateway.gw.id>"]
    main = tables["rtb-main"]
    assert main.main and [r.gateway_id for r in main.routes] == ["local"]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('{"format_version": "1.2",\n  "resource_changes": [1, }', ":2:", "error"),
        ('{"format_version": "9.0", "resource_changes": []}', ":1:", "format_version '9.0'"),
        ('{"hello": 1}', ":1:1:", "not the output of `terraform show -json`"),
        ('{"resource_changes": [{"address": "aws_vpc.v", "type": "aws_vpc", '
         '"change": {"after": 3}}]}', ":1:", "its values must be a mapping"),
        ('{"resource_changes": [{"address": "aws_subnet.s", "type": "aws_subnet", "change": '
         '{"after": {"id": "s", "cidr_block": "ten"}}}]}', ":1:", "is not an address block"),
        ('{"resource_changes": [{"address": "aws_instance.a", "type": "aws_instance", "change": '
         '{"after": {"id": "i", "subnet_id": 7}}}]}', ":1:", "'subnet_id' must be an id"),
        ('{"resource_changes": [{"address": "aws_instance.a", "type": "aws_instance", "change": '
         '{"after": {"id": "i", "vpc_security_group_ids": [1]}}}]}', ":1:", "a list of ids"),
    ],
)  # fmt: skip
def test_bad_plans_are_placed(tmp_path: Path, text: str, where: str, message: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        read_terraform(path)
    shown = [str(d) for d in exc.value.diagnostics]
    assert any(str(path) + where in s and message in s for s in shown), shown


def test_import_names_the_plan_and_its_options() -> None:
    imported = import_terraform(PLAN, ROOT / "examples" / "aws" / "attack.yaml")
    assert imported.topology.command_words[:2] == ("--terraform", str(PLAN))
    assert "aws_instance.reporting" in {h.id for h in imported.topology.model.hosts}
    base = import_terraform(PLAN, side="base")
    assert "aws_instance.reporting" not in {h.id for h in base.topology.model.hosts}


def test_a_new_internet_gateway_exposes(tmp_path: Path) -> None:
    """A route to a gateway the plan creates (its id unknown until apply) reaches the
    internet: the instance behind it is exposed."""
    changes = [
        _change("aws_vpc.v", {"id": VPC, "cidr_block": "10.0.0.0/16"}),
        SUBNET,
        _change("aws_internet_gateway.gw", {"vpc_id": VPC}, unknown={"id": True}),
        _change("aws_route_table.public", {"id": "rtb-1", "vpc_id": VPC, "route": [
            {"cidr_block": "0.0.0.0/0", "gateway_id": ""}]},
            unknown={"route": [{"gateway_id": True}]}),
        _change("aws_route_table_association.a", {"subnet_id": "subnet-1",
                                                  "route_table_id": "rtb-1"}),
        _change("aws_instance.web", {"subnet_id": "subnet-1", "public_ip": "52.0.0.1",
                                     "vpc_security_group_ids": []}),
    ]  # fmt: skip
    config = [
        _config(
            "aws_route_table.public",
            route=[{"gateway_id": _refs("aws_internet_gateway.gw.id", "aws_internet_gateway.gw")}],
        )
    ]
    imported = import_terraform(_plan(tmp_path, changes, config))
    (host,) = imported.topology.model.hosts
    assert host.labels.get("aws:exposed-ipv4") == "true"


def test_an_instance_whose_subnet_is_unknown_is_left_out_with_a_note(tmp_path: Path) -> None:
    """A subnet unknown until apply and not followed: the instance cannot be placed;
    it is left out, said twice (the reading, then the host), never a loader error."""
    change = _change("aws_instance.a", {"ami": "x"}, unknown={"id": True, "subnet_id": True})
    imported = import_terraform(_plan(tmp_path, [change]))
    assert not imported.topology.model.hosts
    said = [n.message for n in imported.notes]
    assert any("subnet_id unknown until apply" in m for m in said)
    assert any("in no subnet" in m and "left out" in m for m in said)
