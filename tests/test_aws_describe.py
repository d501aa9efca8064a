"""The ``describe-*`` reader (issue 28, point 1): shapes told by their top-level
key, every object at its FILE:LINE:COL, bad input reported at its place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ztsim.inputs.aws.describe import read_describe
from ztsim.model.diagnostics import InputError

BATFISH = Path(__file__).resolve().parent / "aws" / "batfish"


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def problems(*paths: Path) -> list[str]:
    with pytest.raises(InputError) as err:
        read_describe(list(paths))
    return [str(d) for d in err.value.diagnostics]


def test_batfish_dump_read_whole() -> None:
    e = read_describe([BATFISH / "hybrid-cloud-aws"])
    assert (len(e.vpcs), len(e.subnets), len(e.instances), len(e.security_groups)) == (4, 10, 4, 11)
    assert (len(e.network_acls), len(e.route_tables), len(e.db_instances)) == (4, 5, 1)
    db = e.db_instances[0]
    assert db.id == "test-rds" and db.port == 3306 and db.publicly_accessible
    s3 = next(p for p in e.prefix_lists if p.name.endswith(".s3"))
    assert s3.cidrs == ("54.231.160.0/19", "52.218.128.0/17", "52.92.32.0/22")
    inst = e.instances[0]
    assert inst.source.path.endswith("Reservations.json") and inst.source.line == 6


def test_rules_and_entries_keep_their_places() -> None:
    e = read_describe([BATFISH / "public-subnet"])
    g = next(g for g in e.security_groups if g.name == "launch-wizard-1")
    rule = g.ingress[0]
    assert (rule.protocol, rule.ports, rule.name) == ("tcp", (22, 22), "ingress[0]")
    assert rule.peers[0].value == "0.0.0.0/0"
    assert (rule.source.line, rule.source.column) == (42, 5)
    acl = e.network_acls[0]
    assert sorted((x.rule_number, x.egress, x.action) for x in acl.entries)[0] == (
        100,
        False,
        "allow",
    )
    assert acl.is_default and acl.subnet_ids == ("subnet-0bb82ae8b3ea5dc78",)


def test_malformed_json_at_its_place(tmp_path: Path) -> None:
    bad = write(tmp_path, "sg.json", '{"SecurityGroups": [\n  {"GroupId": "sg-1",}\n]}\n')
    (message,) = problems(bad)
    assert message.startswith(f"{bad}:2:")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    bad = write(tmp_path, "x.json", '{\n  "Volumes": []\n}\n')
    (message,) = problems(bad)
    assert message.startswith(f"{bad}:2:3: error: unknown top-level key 'Volumes'")


def test_wrong_types_all_reported(tmp_path: Path) -> None:
    doc = {
        "SecurityGroups": [
            {"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": "22"}]},
            {"GroupName": "no-id"},
        ],
        "NextToken": "x",
    }
    bad = write(tmp_path, "sg.json", json.dumps(doc, indent=1))
    found = problems(bad)
    assert any("'FromPort' must be an integer" in m for m in found)
    assert any("missing required field 'GroupId'" in m for m in found)
    assert all(m.startswith(f"{bad}:") for m in found)


def test_acl_entry_checks(tmp_path: Path) -> None:
    doc = {
        "NetworkAcls": [
            {
                "NetworkAclId": "acl-1",
                "VpcId": "vpc-1",
                "Entries": [
                    {"RuleNumber": 0, "Egress": False, "RuleAction": "allow", "Protocol": "-1",
                     "CidrBlock": "0.0.0.0/0"},
                    {"RuleNumber": 5, "Egress": False, "RuleAction": "maybe", "Protocol": "6",
                     "CidrBlock": "10.0.0.0/8", "PortRange": {"From": 80, "To": 70}},
                ],
            }
        ]
    }  # fmt: skip
    found = problems(write(tmp_path, "acl.json", json.dumps(doc, indent=1)))
    assert any("between 1 and 32767" in m for m in found)
    assert any("'RuleAction' must be one of allow, deny" in m for m in found)
    assert any("not a range of 0-65535" in m for m in found)


def test_prefix_list_entries_named_by_file(tmp_path: Path) -> None:
    write(tmp_path, "lists.json", json.dumps({"PrefixLists": [
        {"PrefixListId": "pl-0abc", "AddressFamily": "IPv4", "PrefixListName": "office"}
    ]}))  # fmt: skip
    write(tmp_path, "pl-0abc.json", json.dumps({"Entries": [{"Cidr": "198.51.100.0/24"}]}))
    e = read_describe([tmp_path])
    assert [(p.id, p.name, p.cidrs) for p in e.prefix_lists] == [
        ("pl-0abc", "office", ("198.51.100.0/24",))
    ]


def test_prefix_list_entries_without_an_id(tmp_path: Path) -> None:
    bad = write(tmp_path, "entries.json", '{"Entries": [{"Cidr": "198.51.100.0/24"}]}')
    (message,) = problems(bad)
    assert "name the file after its id" in message


def test_instances_terminated_left_out_and_protocol_numbers(tmp_path: Path) -> None:
    doc = {"Reservations": [{"Instances": [
        {"InstanceId": "i-1", "SubnetId": "subnet-1", "State": {"Name": "terminated"}},
        {"InstanceId": "i-2", "SubnetId": "subnet-1", "PrivateIpAddress": "10.0.0.5",
         "SecurityGroups": [{"GroupId": "sg-1"}], "Tags": [{"Key": "Name", "Value": "web"}]},
    ]}]}  # fmt: skip
    write(tmp_path, "inst.json", json.dumps(doc))
    write(tmp_path, "sg.json", json.dumps({"SecurityGroups": [{"GroupId": "sg-1",
        "IpPermissions": [{"IpProtocol": "6", "FromPort": 443, "ToPort": 443,
                           "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}]}))  # fmt: skip
    e = read_describe([tmp_path])
    (inst,) = e.instances
    assert inst.id == "i-2" and inst.name == "web" and inst.group_ids == ("sg-1",)
    assert inst.interfaces[0].private_ips == ("10.0.0.5",)
    assert e.security_groups[0].ingress[0].protocol == "tcp"


def test_no_json_file(tmp_path: Path) -> None:
    (message,) = problems(tmp_path)
    assert "no .json file found" in message
