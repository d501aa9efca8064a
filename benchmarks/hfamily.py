"""Seeded generator of the heterogeneous workload family H (issue 26).

Unlike ``generate.py`` (look-alike hosts that compress into few classes) and
``hetero.py`` (the estate the two-core protocol was measured on), this writes
exactly the shape issue 26 lists, at the sizes of the tidy family::

    python benchmarks/hfamily.py --workload H-M --seed 1 --out benchmarks/out/H-M

- ``hosts/250`` internal zones plus ``internet``; each host offers 1-3 of the ten
  common services, 30 % of them public, 40 % encrypted;
- labels ``tier`` (one of 4) and ``app`` (one of ``hosts/20``);
- half the hosts a remote vulnerability, a quarter a local escalation; 40 % store
  1-2 of ``hosts/3`` credentials; half accept a login with a random credential;
- 30 % of hosts hold a data item (half with ``integrity``);
- ``hosts/4`` legitimate flows between hosts or to external destinations, plus
  internet flows to half the public services; half carry a credential;
- five external destinations (a C2, a wildcard file-sharing service, a partner
  API, an update server, a wildcard CDN);
- three policies of ``rules`` rules each, selectors mixing a zone (35 %), a host
  (20 %), a tier label (25 %), a zone with an app label (10 %), ``any`` (10 %).

Writes ``OUT/topology.yaml`` and ``OUT/policies/{POLICY_NAMES}.yaml``.  Output is a
pure function of the arguments: one ``random.Random(seed)``, nothing iterated
from a set.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from random import Random
from typing import Any

import generate

__all__ = [
    "GENERATOR_VERSION",
    "POLICY_NAMES",
    "WORKLOADS",
    "build_policy",
    "build_topology",
    "main",
    "write",
]

#: Bumped whenever the output changes for the same arguments (the runner's cache key).
GENERATOR_VERSION = 1

Doc = dict[str, Any]

#: Sizes as the tidy family's (hosts and rules); zones are ``hosts/250``.
WORKLOADS: dict[str, generate.Workload] = {
    f"H-{w.name}": generate.Workload(f"H-{w.name}", w.hosts, max(1, w.hosts // 250), w.rules)
    for w in generate.WORKLOADS.values()
}
POLICY_NAMES: tuple[str, ...] = ("h-one", "h-two", "h-three")

SERVICES: tuple[str, ...] = (
    "22/tcp", "80/tcp", "443/tcp", "445/tcp", "3306/tcp",
    "5432/tcp", "6379/tcp", "8080/tcp", "8443/tcp", "53/udp",
)  # fmt: skip
TIERS: tuple[str, ...] = ("web", "app", "data", "ops")
LEVELS: tuple[str, ...] = ("service", "user", "root")
CLASSES: tuple[str, ...] = ("pii", "pci", "secret", "internal", "confidential")
EXTERNAL: tuple[Doc, ...] = (
    {"id": "c2", "fqdn": "c2.attacker.example", "role": "c2"},
    {"id": "file-share", "fqdn": "*.files.example", "role": "web-service"},
    {"id": "partner-api", "fqdn": "api.partner.example"},
    {"id": "updates", "fqdn": "updates.vendor.example", "services": ["443/tcp", "80/tcp"]},
    {"id": "cdn", "fqdn": "*.cdn.example", "role": "web-service"},
)
#: Destinations of legitimate outbound flows (never the C2), with their services.
OUTBOUND: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("file-share", ("443/tcp",)),
    ("partner-api", ("443/tcp",)),
    ("updates", ("443/tcp", "80/tcp")),
    ("cdn", ("443/tcp",)),
)
FQDN_PATTERNS: tuple[str, ...] = (
    "*.files.example", "api.partner.example", "updates.vendor.example",
    "*.cdn.example", "*.example", "*.vendor.example", "*",
)  # fmt: skip


def _host(rng: Random, i: int, zones: int, apps: int, creds: int) -> Doc:
    """Host ``i``: its zone, labels, services, vulnerabilities and secrets, all drawn."""
    offered = rng.sample(SERVICES, rng.randint(1, 3))
    host: Doc = {
        "id": f"h{i}",
        "zone": f"hz{rng.randrange(zones)}",
        "labels": {"tier": rng.choice(TIERS), "app": f"app{rng.randrange(apps)}"},
        "services": [
            {"service": s, "public": rng.random() < 0.3, "encrypted": rng.random() < 0.4}
            for s in offered
        ],
    }
    vulns: list[Doc] = []
    if rng.random() < 0.5:
        vulns.append(
            {"id": f"CVE-h{i}-r", "service": rng.choice(offered), "gives": rng.choice(LEVELS)}
        )
    if rng.random() < 0.25:
        vulns.append({"id": f"CVE-h{i}-l", "local": True, "gives": "root"})
    if vulns:
        host["vulnerabilities"] = vulns
    if rng.random() < 0.4:
        host["credentials"] = [
            {"credential": f"cred{c}", "requires": rng.choice(("user", "root"))}
            for c in sorted(rng.sample(range(creds), rng.randint(1, 2)))
        ]
    if rng.random() < 0.5:
        host["logins"] = [
            {
                "credential": f"cred{rng.randrange(creds)}",
                "service": rng.choice(offered),
                "gives": rng.choice(LEVELS),
            }
        ]
    if rng.random() < 0.3:
        item: Doc = {
            "id": f"data-h{i}",
            "classification": rng.choice(CLASSES),
            "records": rng.randrange(1, 5_000_000),
        }
        level = rng.choice(LEVELS)
        item["requires"] = level
        if level == "service":
            item["service"] = rng.choice(offered)
        if rng.random() < 0.5:
            item["integrity"] = True
        host["data"] = [item]
    return host


def _flow(rng: Random, hosts: list[Doc], creds: int) -> Doc:
    """A legitimate flow from a random host to another host (90 %) or outside."""
    src = rng.choice(hosts)
    if rng.random() < 0.1:
        dest, services = rng.choice(OUTBOUND)
        return {"from": src["id"], "to": dest, "service": rng.choice(services)}
    dst = rng.choice(hosts)
    while dst is src:
        dst = rng.choice(hosts)
    flow: Doc = {"from": src["id"], "to": dst["id"]}
    logins = dst.get("logins")
    if rng.random() < 0.5:
        if logins:  # the credential the destination accepts, on its service
            flow.update(service=logins[0]["service"], credential=logins[0]["credential"])
        else:
            flow["service"] = rng.choice(dst["services"])["service"]
            flow["credential"] = f"cred{rng.randrange(creds)}"
    else:
        flow["service"] = rng.choice(dst["services"])["service"]
    return flow


def build_topology(rng: Random, hosts: int) -> Doc:
    """The topology document of ``hosts`` hosts."""
    zones, apps, creds = max(1, hosts // 250), max(1, hosts // 20), max(1, hosts // 3)
    host_docs = [_host(rng, i, zones, apps, creds) for i in range(hosts)]
    traffic = [_flow(rng, host_docs, creds) for _ in range(hosts // 4)]
    for h in host_docs:
        for s in h["services"]:
            if s["public"] and rng.random() < 0.5:
                flow: Doc = {"from": "internet", "to": h["id"], "service": s["service"]}
                if rng.random() < 0.5:
                    flow["credential"] = f"cred{rng.randrange(creds)}"
                traffic.append(flow)
    phished = rng.sample(host_docs, min(3, hosts))
    return {
        "ztsim": 1,
        "kind": "topology",
        "name": f"hfamily-{hosts}",
        "zones": [{"id": "internet", "external": True}, *({"id": f"hz{z}"} for z in range(zones))],
        "credentials": [{"id": f"cred{c}"} for c in range(creds)],
        "hosts": host_docs,
        "external": [dict(e) for e in EXTERNAL],
        "traffic": traffic,
        "entry_points": [
            {"id": "outside", "zone": "internet"},
            *({"id": f"phish-{h['id']}", "host": h["id"], "gives": "user"} for h in phished),
        ],
    }


def _selector(rng: Random, hosts: list[Doc], zones: int, external: bool) -> Doc | str:
    """A selector: zone 35 %, host 20 %, tier 25 %, zone with app 10 %, any 10 %."""
    roll = rng.random()
    if roll < 0.35:
        if external and rng.random() < 0.1:
            return {"zone": "internet"}
        return {"zone": f"hz{rng.randrange(zones)}"}
    if roll < 0.55:
        return {"host": rng.choice(hosts)["id"]}
    if roll < 0.8:
        return {"labels": {"tier": rng.choice(TIERS)}}
    if roll < 0.9:  # a pair some host has, so the selector matches (--strict)
        h = rng.choice(hosts)
        return {"zone": h["zone"], "labels": {"app": h["labels"]["app"]}}
    return "any"


def _services(rng: Random) -> list[str] | None:
    """A rule's services: a few common ones, a port range, ``any``, or omitted."""
    roll = rng.random()
    if roll < 0.55:
        return rng.sample(SERVICES, rng.randint(1, 3))
    if roll < 0.7:
        low = rng.randrange(1, 9000)
        return [f"{low}-{low + rng.randrange(1, 2000)}/tcp"]
    if roll < 0.85:
        return ["any"]
    return None


def build_policy(rng: Random, topo: Doc, name: str, rules: int) -> Doc:
    """One policy of ``rules`` segmentation rules and ``rules/5`` egress rules."""
    hosts: list[Doc] = topo["hosts"]
    zones = len(topo["zones"]) - 1
    seg: list[Doc] = []
    for i in range(rules):
        rule: Doc = {
            "id": f"r{i}",
            "action": "allow" if rng.random() < 0.7 else "deny",
            "from": _selector(rng, hosts, zones, True),
            "to": _selector(rng, hosts, zones, False),
        }
        services = _services(rng)
        if services is not None:
            rule["services"] = services
        seg.append(rule)
    egress: list[Doc] = []
    for i in range(max(1, rules // 5)):
        rule = {
            "id": f"e{i}",
            "action": "allow" if rng.random() < 0.7 else "deny",
            "from": _selector(rng, hosts, zones, False),
            "to": rng.sample(FQDN_PATTERNS, rng.randint(1, 2)),
        }
        if rng.random() < 0.6:
            rule["services"] = rng.sample(("443/tcp", "80/tcp"), rng.randint(1, 2))
        egress.append(rule)
    creds = [c["id"] for c in topo["credentials"]]
    return {
        "ztsim": 1,
        "kind": "policy",
        "name": name,
        "segmentation": {
            "default": rng.choice(("deny", "allow")),
            "intra_zone": rng.choice(("rules", "allow")),
            "rules": seg,
        },
        "egress": {"default": rng.choice(("deny", "allow")), "rules": egress},
        "controls": {
            "mfa": rng.sample(creds, min(len(creds), rng.randint(2, 8))),
            "encrypt_in_transit": rng.random() < 0.2,
        },
    }


def write(hosts: int, rules: int, seed: int, out: Path) -> list[Path]:
    """Generate the estate and write it under ``out``; the files written."""
    rng = Random(seed)
    topo = build_topology(rng, hosts)
    (out / "policies").mkdir(parents=True, exist_ok=True)
    written = [out / "topology.yaml"]
    written[0].write_text(generate.to_yaml(topo), encoding="utf-8")
    for name in POLICY_NAMES:
        path = out / "policies" / f"{name}.yaml"
        path.write_text(generate.to_yaml(build_policy(rng, topo, name, rules)), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Write one workload of the family (``--workload``) or explicit sizes."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workload", choices=list(WORKLOADS), help="a named size (H-S ... H-XL)")
    ap.add_argument("--hosts", type=int, default=1_000)
    ap.add_argument("--rules", type=int, default=200, help="segmentation rules per policy")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/H-S"))
    args = ap.parse_args(argv)
    if args.workload:
        w = WORKLOADS[args.workload]
        args.hosts, args.rules = w.hosts, w.rules
    write(args.hosts, args.rules, args.seed, args.out)
    print(f"wrote {args.out}: {args.hosts} hosts, {args.rules} rules per policy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
