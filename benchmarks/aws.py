"""Benchmark the AWS import at scale (issue 28, "Scale").

Usage::

    python benchmarks/aws.py                 # L: 5,000 instances, 1,000 groups, 200 ACLs,
                                             #    20 internal load balancers
    python benchmarks/aws.py --size S        # the CI smoke size (250 instances)

A seeded generator writes one estate to ``benchmarks/out/aws-SIZE/``, twice: as
``describe-*`` JSON (``describe/``: one file per call, as the AWS CLI prints
them) and as a Terraform plan (``plan.json``, one line, as ``terraform show
-json`` prints it, every resource a no-op change); and an overlay (a
vulnerability on the ``Role: web`` instances, a credential there, a login and
data on the databases, an exfiltration destination).  The estate has internal
load balancers (two interfaces each, in the dump; an ``aws_lb`` with no
listener in the plan): their targets are not known, so each forwards from the
hosts that reach it to every host whose groups admit it (issue 28).  The same seed gives the
same bytes.  Then, each measured end to end in a fresh interpreter (``python -m
ztsim``), median of ``--repeat`` runs:

* **import**: ``ztsim import aws DIR --output OUT --force``;
* **check**: ``ztsim check --aws DIR --overlay OVERLAY`` (import included);
* **check-tf**: ``ztsim check --terraform plan.json --overlay OVERLAY``.

Target (L): import + check within 5 s on the 2-core machine (each check
includes its import).  Each line gives the median wall time, which the target
is checked against, and the median CPU time (user + system) of the same runs,
steadier on a shared machine; then the load average.  Exit status: 0 every
target met; 1 some target missed (or a command failed); 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"

#: size -> (subnets, instances per subnet, security groups, databases)
SIZES = {"S": (10, 25, 50, 5), "M": (50, 25, 250, 10), "L": (200, 25, 1000, 20)}
#: Internal load balancers per size (two interfaces each; their targets unknown:
#: every host whose groups admit them, the conservative reading).
BALANCERS = {"S": 2, "M": 5, "L": 20}
TARGET_S = 5.0
VPC = "vpc-0000000000000b001"
IGW = "igw-0000000000000b001"
ROLES = ("web", "app", "worker", "cache", "batch")
#: A security group permission: protocol, ports, CIDR blocks, group ids.
Perm = tuple[str, int, int, list[str], list[str]]

OVERLAY = """ztsim: 1
kind: overlay
name: bench
credentials: [{id: db-cred}]
workloads:
  - select: {labels: {Role: web}}
    vulnerabilities: [{id: CVE-1, service: 8000/tcp, gives: root}]
    credentials: [{credential: db-cred}]
  - select: {labels: {Role: db}}
    logins: [{credential: db-cred, service: 5432/tcp, gives: service}]
    data: [{id: rows, records: 1000, requires: service, service: 5432/tcp}]
external:
  - {id: drop, fqdn: drop.example, role: web-service}
"""


def _sg(i: int) -> str:
    return f"sg-{i:017x}"


def _estate(size: str, seed: int) -> dict[str, Any]:
    """The estate as plain data: subnets, groups, ACLs, instances, databases."""
    subnets, per, groups, dbs = SIZES[size]
    rng = random.Random(seed)
    out: dict[str, Any] = {"subnets": [], "groups": [], "acls": [], "instances": [], "dbs": [],
                           "balancers": []}  # fmt: skip
    for s in range(subnets):
        out["subnets"].append({"id": f"subnet-{s:017x}", "cidr": f"10.{s // 250}.{s % 250}.0/24",
                               "public": s < max(1, subnets // 20)})  # fmt: skip
    for g in range(groups):
        port = 8000 + g % len(ROLES)
        ingress: list[Perm] = [("tcp", port, port, [], [_sg((g - 1) % groups)]),
                   ("tcp", 22, 22, ["10.0.0.0/8"], [])]  # fmt: skip
        if g % 10 == 0:
            ingress.append(("tcp", 8000, 8000, ["0.0.0.0/0"], []))
        if g == 1:  # the databases' group
            ingress.append(("tcp", 5432, 5432, ["10.0.0.0/8"], []))
        egress: list[Perm] = [("tcp", 5432, 5432, [], [_sg(1)]),
                  ("tcp", 8000, 8010, [], [_sg((g + 1) % groups)])]  # fmt: skip
        if g % 3 == 0:
            egress.append(("tcp", 443, 443, ["0.0.0.0/0"], []))
        out["groups"].append({"id": _sg(g), "ingress": ingress, "egress": egress})
    for s, sub in enumerate(out["subnets"]):
        neighbour = out["subnets"][(s + 1) % subnets]["cidr"]
        out["acls"].append({
            "id": f"acl-{s:017x}", "subnet": sub["id"],
            "entries": [(100, False, "allow", "6", "10.0.0.0/8", (1024, 65535)),
                        (110, False, "allow", "6", "0.0.0.0/0", (8000, 8010)),
                        (120, False, "deny", "-1", neighbour, None),
                        (130, False, "allow", "6", "10.0.0.0/8", (5432, 5432)),
                        (100, True, "allow", "-1", "0.0.0.0/0", None)],
        })  # fmt: skip
        for k in range(per):
            n = s * per + k
            public = sub["public"] and k % 5 == 0
            out["instances"].append({
                "id": f"i-{n:017x}", "subnet": sub["id"],
                "ip": f"10.{s // 250}.{s % 250}.{10 + k}",
                "public": f"52.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" if public else None,
                "groups": sorted({_sg(n % groups), _sg(n * 7 % groups)}),
                "role": ROLES[n % len(ROLES)],
            })  # fmt: skip
    for b in range(BALANCERS[size]):
        first = b * subnets // BALANCERS[size]
        where = [out["subnets"][(first + k) % subnets] for k in (0, 1)]
        out["balancers"].append({
            "name": f"ELB app/bench-{b}/{b:016x}", "group": _sg(b * 13 % groups),
            "enis": [(f"eni-{b:08x}{k:09x}", s["id"], s["cidr"].replace(".0/24", ".200"))
                     for k, s in enumerate(where)],
        })  # fmt: skip
    for d in range(dbs):
        sub = out["subnets"][rng.randrange(len(out["subnets"]))]
        out["dbs"].append({"id": f"db-{d:03d}", "subnet": sub["id"],
                           "groups": [_sg(1), _sg(rng.randrange(groups))]})  # fmt: skip
    return out


def _perm(proto: str, low: int, high: int, cidrs: list[str], groups: list[str]) -> dict[str, Any]:
    return {"FromPort": low, "IpProtocol": proto, "IpRanges": [{"CidrIp": c} for c in cidrs],
            "Ipv6Ranges": [], "PrefixListIds": [], "ToPort": high,
            "UserIdGroupPairs": [{"GroupId": g} for g in groups]}  # fmt: skip


def tags(**kw: str) -> list[dict[str, str]]:
    """AWS tags as the CLI prints them."""
    return [{"Key": k, "Value": v} for k, v in kw.items()]


def _describe(e: dict[str, Any]) -> dict[str, Any]:
    """The estate as the AWS CLI prints it, by file name."""
    files: dict[str, Any] = {
        "vpcs.json": {"Vpcs": [{"VpcId": VPC, "CidrBlock": "10.0.0.0/8", "State": "available"}]},
        "subnets.json": {"Subnets": [
            {"SubnetId": s["id"], "VpcId": VPC, "CidrBlock": s["cidr"],
             "AvailabilityZone": "eu-west-1a", "MapPublicIpOnLaunch": s["public"]}
            for s in e["subnets"]]},
        "internet-gateways.json": {"InternetGateways": [
            {"InternetGatewayId": IGW, "Attachments": [{"State": "available", "VpcId": VPC}]}]},
        "route-tables.json": {"RouteTables": [
            {"RouteTableId": "rtb-0000000000000b001", "VpcId": VPC,
             "Associations": [{"Main": False, "SubnetId": s["id"]}
                              for s in e["subnets"] if s["public"]],
             "Routes": [{"DestinationCidrBlock": "10.0.0.0/8", "GatewayId": "local"},
                        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": IGW}]},
            {"RouteTableId": "rtb-0000000000000b002", "VpcId": VPC,
             "Associations": [{"Main": True}],
             "Routes": [{"DestinationCidrBlock": "10.0.0.0/8", "GatewayId": "local"},
                        {"DestinationCidrBlock": "0.0.0.0/0",
                         "NatGatewayId": "nat-0000000000000b001"}]}]},
        "security-groups.json": {"SecurityGroups": [
            {"GroupId": g["id"], "GroupName": g["id"], "VpcId": VPC, "Description": "bench",
             "IpPermissions": [_perm(*p) for p in g["ingress"]],
             "IpPermissionsEgress": [_perm(*p) for p in g["egress"]]} for g in e["groups"]]},
        "network-acls.json": {"NetworkAcls": [
            {"NetworkAclId": a["id"], "VpcId": VPC, "IsDefault": False,
             "Associations": [{"NetworkAclId": a["id"], "SubnetId": a["subnet"]}],
             "Entries": [{"RuleNumber": n, "Egress": out, "RuleAction": act, "Protocol": proto,
                          "CidrBlock": cidr,
                          **({"PortRange": {"From": pr[0], "To": pr[1]}} if pr else {})}
                         for n, out, act, proto, cidr, pr in a["entries"]]}
            for a in e["acls"]]},
        "instances.json": {"Reservations": [{"ReservationId": "r-bench", "Instances": [
            {"InstanceId": i["id"], "SubnetId": i["subnet"], "VpcId": VPC,
             "PrivateIpAddress": i["ip"], "State": {"Name": "running"},
             **({"PublicIpAddress": i["public"]} if i["public"] else {}),
             "NetworkInterfaces": [{
                 "NetworkInterfaceId": "eni-" + i["id"][2:], "SubnetId": i["subnet"],
                 "VpcId": VPC, "PrivateIpAddress": i["ip"],
                 "PrivateIpAddresses": [{"PrivateIpAddress": i["ip"], "Primary": True}],
                 "Groups": [{"GroupId": g} for g in i["groups"]],
                 "Attachment": {"DeviceIndex": 0, "InstanceId": i["id"]},
                 **({"Association": {"PublicIp": i["public"]}} if i["public"] else {})}],
             "SecurityGroups": [{"GroupId": g} for g in i["groups"]],
             "Tags": tags(Name=i["id"], Role=i["role"])} for i in e["instances"]]}]},
        "network-interfaces.json": {"NetworkInterfaces": [
            {"NetworkInterfaceId": eni, "SubnetId": sid, "VpcId": VPC, "PrivateIpAddress": ip,
             "PrivateIpAddresses": [{"PrivateIpAddress": ip, "Primary": True}],
             "Groups": [{"GroupId": lb["group"]}], "InterfaceType": "interface",
             "RequesterId": "amazon-elb", "Description": lb["name"]}
            for lb in e["balancers"] for eni, sid, ip in lb["enis"]]},
        "db-instances.json": {"DBInstances": [
            {"DBInstanceIdentifier": d["id"], "Engine": "postgres", "PubliclyAccessible": False,
             "Endpoint": {"Port": 5432}, "AvailabilityZone": "eu-west-1a",
             "VpcSecurityGroups": [{"VpcSecurityGroupId": g} for g in d["groups"]],
             "DBSubnetGroup": {"VpcId": VPC, "Subnets": [{"SubnetIdentifier": d["subnet"],
                               "SubnetAvailabilityZone": {"Name": "eu-west-1a"}}]},
             "TagList": tags(Role="db")} for d in e["dbs"]]},
    }  # fmt: skip
    return files


def _plan(e: dict[str, Any]) -> dict[str, Any]:
    """The estate as a Terraform plan that changes nothing (every change a no-op)."""
    changes: list[dict[str, Any]] = []

    def add(kind: str, name: str, values: dict[str, Any]) -> None:
        change = {"actions": ["no-op"], "before": values, "after": values, "after_unknown": {}}
        changes.append({"address": f"{kind}.{name}", "mode": "managed", "type": kind,
                        "name": name, "change": change})  # fmt: skip

    def rule(p: tuple[Any, ...]) -> dict[str, Any]:
        return {"protocol": p[0], "from_port": p[1], "to_port": p[2], "cidr_blocks": p[3],
                "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": p[4],
                "self": False}  # fmt: skip

    add("aws_vpc", "v", {"id": VPC, "cidr_block": "10.0.0.0/8", "main_route_table_id": "rtb-m"})
    add("aws_internet_gateway", "gw", {"id": IGW, "vpc_id": VPC})
    add("aws_route_table", "public", {"id": "rtb-p", "vpc_id": VPC, "route": [
        {"cidr_block": "0.0.0.0/0", "gateway_id": IGW}]})  # fmt: skip
    for s in e["subnets"]:
        name = s["id"].replace("-", "_")
        add("aws_subnet", name, {"id": s["id"], "vpc_id": VPC, "cidr_block": s["cidr"],
                                 "map_public_ip_on_launch": s["public"]})  # fmt: skip
        if s["public"]:
            add("aws_route_table_association", name, {"subnet_id": s["id"],
                                                      "route_table_id": "rtb-p"})  # fmt: skip
    for g in e["groups"]:
        add(
            "aws_security_group",
            g["id"].replace("-", "_"),
            {
                "id": g["id"],
                "name": g["id"],
                "vpc_id": VPC,
                "ingress": [rule(p) for p in g["ingress"]],
                "egress": [rule(p) for p in g["egress"]],
            },
        )
    for a in e["acls"]:
        sides: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        for n, out, act, proto, cidr, pr in a["entries"]:
            sides[out].append({"rule_no": n, "action": act, "protocol": proto,
                               "cidr_block": cidr, "from_port": pr[0] if pr else 0,
                               "to_port": pr[1] if pr else 0})  # fmt: skip
        add("aws_network_acl", a["id"].replace("-", "_"), {
            "id": a["id"], "vpc_id": VPC, "subnet_ids": [a["subnet"]],
            "ingress": sides[False], "egress": sides[True]})  # fmt: skip
    for i in e["instances"]:
        add("aws_instance", i["id"].replace("-", "_"), {
            "id": i["id"], "subnet_id": i["subnet"], "private_ip": i["ip"],
            "public_ip": i["public"] or "", "associate_public_ip_address": bool(i["public"]),
            "vpc_security_group_ids": i["groups"], "tags": {"Name": i["id"], "Role": i["role"]},
            "instance_state": "running"})  # fmt: skip
    for d in e["dbs"]:
        add(
            "aws_db_subnet_group",
            d["id"].replace("-", "_"),
            {"name": d["id"], "subnet_ids": [d["subnet"]]},
        )
        add("aws_db_instance", d["id"].replace("-", "_"), {
            "identifier": d["id"], "engine": "postgres", "port": 5432,
            "publicly_accessible": False, "db_subnet_group_name": d["id"],
            "availability_zone": "eu-west-1a", "vpc_security_group_ids": d["groups"],
            "tags": {"Role": "db"}})  # fmt: skip
    for n, lb in enumerate(e["balancers"]):
        add(
            "aws_lb",
            f"bench_{n}",
            {
                "id": f"arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/bench-{n}/{n}",
                "name": f"bench-{n}",
                "internal": True,
                "load_balancer_type": "application",
                "subnets": [sid for _, sid, _ in lb["enis"]],
                "security_groups": [lb["group"]],
            },
        )
    return {"format_version": "1.2", "terraform_version": "1.9.8", "resource_changes": changes}


def generate(size: str, seed: int = 28) -> tuple[Path, Path, Path]:
    """Write the dumps, the plan and the overlay of ``size`` (same seed, same bytes)."""
    estate = _estate(size, seed)
    base = OUT / f"aws-{size}"
    describe = base / "describe"
    describe.mkdir(parents=True, exist_ok=True)
    for name, data in _describe(estate).items():
        (describe / name).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    plan = base / "plan.json"
    plan.write_text(json.dumps(_plan(estate), separators=(",", ":")) + "\n", encoding="utf-8")
    overlay = base / "overlay.yaml"
    overlay.write_text(OVERLAY, encoding="utf-8")
    return describe, plan, overlay


def _cpu() -> float:
    """User + system CPU of the finished children so far (what a noisy machine
    inflates least: wall time there counts the other processes' turns too)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _timed(argv: list[str], repeat: int) -> tuple[float | None, float, str]:
    """Median wall and CPU time of ``ztsim ARGV`` in a fresh interpreter, or the
    reason it failed."""
    times: list[float] = []
    cpus: list[float] = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), _cpu()
        proc = subprocess.run(
            [sys.executable, "-m", "ztsim", *argv], capture_output=True, text=True, cwd=ROOT
        )
        times.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
        if proc.returncode not in (0, 1):
            first = (proc.stderr.strip().splitlines() or ["?"])[-2:]
            return None, 0.0, " / ".join(first)
    return statistics.median(times), statistics.median(cpus), ""


def main(argv: list[str] | None = None) -> int:
    """Generate, run and compare with the target."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="L")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bound-factor", type=float, default=1.0, help="the target times this")
    ap.add_argument("--only", nargs="+", choices=("import", "check", "check-tf"), help="these runs")
    args = ap.parse_args(argv)
    describe, plan, overlay = generate(args.size)
    subnets, per, groups, dbs = SIZES[args.size]
    print(
        f"aws-{args.size}: {subnets * per:,} instances, {dbs} databases, {groups:,} security "
        f"groups, {subnets} network ACLs ({subnets} subnets), {BALANCERS[args.size]} internal "
        "load balancers"
    )
    imported = describe.parent / "imported"
    runs = {
        "import": ["import", "aws", str(describe), "-o", str(imported), "--force"],
        "check": ["check", "--aws", str(describe), "--overlay", str(overlay)],
        "check-tf": ["check", "--terraform", str(plan), "--overlay", str(overlay)],
    }
    bound = TARGET_S * args.bound_factor
    ok = True
    for name, cmd in runs.items():
        if args.only and name not in args.only:
            continue
        took, cpu, why = _timed(cmd, args.repeat)
        if took is None:
            print(f"  {name:<8} FAILED: {why}")
            ok = False
            continue
        met = took <= bound
        ok &= met
        print(
            f"  {name:<8} {took:6.2f} s  (CPU {cpu:.2f} s; target {bound:.1f} s: "
            f"{'met' if met else 'MISSED'})"
        )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"  load average after the runs: {load} (on {os.cpu_count()} cores)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
