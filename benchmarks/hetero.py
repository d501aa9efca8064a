"""Seeded generator of a heterogeneous estate: what ``generate.py``'s regular one is not.

``generate.py`` builds zones of a few kinds with look-alike hosts, which the
engine's classes compress well.  This one draws everything independently:

- zone sizes from a heavy-tailed distribution (a few zones of thousands of hosts,
  many of one to ten);
- per host, its own random mix of services, remote and local vulnerabilities,
  stored credentials and logins, so that few hosts share a combination;
- labels of several keys with skewed values;
- policies of different shapes and sizes: zone rules with service ranges, label
  rules, rules listing many hosts, ``intra_zone: allow``, MFA, detection, and a
  nearly empty one (so the policies of ``check`` cost very unequal times)::

    python benchmarks/hetero.py --hosts 4000 --zones 40 --rules 400 --out benchmarks/out/H

writes ``OUT/topology.yaml`` and ``OUT/policies/*.yaml`` (those arguments: the estate
the two-core ``check`` protocol was measured on, see ``benchmarks/README.md``).  Output is a pure
function of the arguments (one ``random.Random(seed)``, nothing iterated from a set).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from random import Random
from typing import Any

import yaml

__all__ = ["build_policies", "build_topology", "main"]

Doc = dict[str, Any]

SERVICES: tuple[str, ...] = (
    "21/tcp", "22/tcp", "25/tcp", "53/udp", "80/tcp", "111/tcp", "135/tcp", "389/tcp",
    "443/tcp", "445/tcp", "1433/tcp", "1521/tcp", "2049/tcp", "3306/tcp", "3389/tcp",
    "5044/tcp", "5432/tcp", "5900/tcp", "6379/tcp", "8080/tcp", "8443/tcp", "9090/tcp",
    "9200/tcp", "11211/tcp", "27017/tcp",
)  # fmt: skip
ENCRYPTED = {"22/tcp", "443/tcp", "3389/tcp", "8443/tcp"}
LABELS: dict[str, tuple[str, ...]] = {
    "tier": ("web", "app", "db", "cache", "batch", "workstation", "infra", "edge"),
    "team": tuple(f"team-{i}" for i in range(23)),
    "env": ("prod", "staging", "dev", "lab"),
    "os": ("linux", "windows", "bsd", "appliance"),
}
TECHNIQUES = ("T1003", "T1005", "T1021", "T1041", "T1068", "T1078", "T1190", "T1210", "T1552")
LEVELS = ("service", "user", "root")


def _zone_sizes(rng: Random, hosts: int, zones: int) -> list[int]:
    """``zones`` sizes summing to ``hosts``, heavy-tailed (Pareto weights)."""
    weights = [rng.paretovariate(0.9) for _ in range(zones)]
    total = sum(weights)
    sizes = [max(1, int(hosts * w / total)) for w in weights]
    sizes[sizes.index(max(sizes))] += hosts - sum(sizes)  # the rest to the largest
    return sizes


def _host(rng: Random, hid: str, zone: str, creds: list[str]) -> Doc:
    """One host with its own random mix of services, vulnerabilities and secrets."""
    offered = rng.sample(SERVICES, rng.choice((1, 1, 2, 2, 3, 4, 6)))
    services = [
        {"service": s, "public": rng.random() < 0.05, "encrypted": s in ENCRYPTED} for s in offered
    ]
    labels = {k: rng.choice(v) for k, v in LABELS.items() if rng.random() < 0.8}
    host: Doc = {"id": hid, "zone": zone, "labels": labels, "services": services}
    vulns: list[Doc] = [
        {"id": f"CVE-{hid}-{i}", "service": rng.choice(offered), "gives": rng.choice(LEVELS)}
        for i in range(rng.choice((0, 0, 0, 1, 1, 2)))
    ]
    if rng.random() < 0.15:
        vulns.append({"id": f"CVE-{hid}-lpe", "local": True, "gives": "root"})
    if vulns:
        host["vulnerabilities"] = vulns
    stored = rng.sample(creds, rng.choice((0, 0, 1, 1, 2, 3)))
    if stored:
        host["credentials"] = [
            {"credential": c, "requires": rng.choice(("user", "root"))} for c in stored
        ]
    logins = rng.sample(creds, rng.choice((0, 1, 1, 2, 3)))
    if logins:
        host["logins"] = [
            {"credential": c, "service": rng.choice(offered), "gives": rng.choice(LEVELS)}
            for c in logins
        ]
    return host


def _data(rng: Random, host: Doc, i: int) -> Doc:
    """A data item on ``host``, read at a random level or through one of its services."""
    item: Doc = {
        "id": f"data-{i}",
        "classification": rng.choice(("pii", "pci", "secret", "internal")),
        "records": rng.randrange(1, 5_000_000),
        "integrity": rng.random() < 0.3,
    }
    if rng.random() < 0.4:
        item["requires"] = "service"
        item["service"] = rng.choice(host["services"])["service"]
    else:
        item["requires"] = rng.choice(("user", "root"))
    return item


def build_topology(rng: Random, hosts: int, zones: int) -> Doc:
    """The topology document: ``hosts`` hosts in ``zones`` internal zones."""
    zone_ids = [f"z{i:03d}" for i in range(zones)]
    creds = [f"cred-{i}" for i in range(max(20, hosts // 15))]
    host_docs: list[Doc] = []
    for zone, size in zip(zone_ids, _zone_sizes(rng, hosts, zones), strict=True):
        host_docs.extend(_host(rng, f"{zone}-h{k}", zone, creds) for k in range(size))
    for i, h in enumerate(rng.sample(host_docs, max(5, hosts // 25))):
        h.setdefault("data", []).append(_data(rng, h, i))
    external = [
        {"id": "c2", "fqdn": "c2.attacker.example", "role": "c2"},
        {"id": "paste", "fqdn": "*.paste.example", "role": "web-service"},
        *(
            {"id": f"partner-{i}", "fqdn": f"api.p{i}.example", "services": ["443/tcp"]}
            for i in range(8)
        ),
    ]
    traffic: list[Doc] = []
    for _ in range(hosts // 4):
        src, dst = rng.choice(host_docs), rng.choice(host_docs)
        if src is dst:
            continue
        flow: Doc = {"from": src["id"], "to": dst["id"]}
        login = rng.choice(dst.get("logins", [None]))
        if login is not None and rng.random() < 0.5:
            flow.update(service=login["service"], credential=login["credential"])
        else:
            flow["service"] = rng.choice(dst["services"])["service"]
        traffic.append(flow)
    public = [(h["id"], s["service"]) for h in host_docs for s in h["services"] if s["public"]]
    traffic += [{"from": "internet", "to": h, "service": s} for h, s in public[:200]]
    traffic += [
        {"from": rng.choice(host_docs)["id"], "to": f"partner-{i % 8}", "service": "443/tcp"}
        for i in range(hosts // 50)
    ]
    phished = rng.sample(host_docs, 3)
    return {
        "ztsim": 1,
        "kind": "topology",
        "name": f"hetero-{hosts}",
        "zones": [{"id": "internet", "external": True}, *({"id": z} for z in zone_ids)],
        "credentials": [{"id": c} for c in creds],
        "hosts": host_docs,
        "external": external,
        "traffic": traffic,
        "entry_points": [
            {"id": "outside", "zone": "internet"},
            *({"id": f"phish-{h['id']}", "host": h["id"], "gives": "user"} for h in phished),
        ],
    }


def _selector(rng: Random, topo: Doc, zone_ids: list[str], shape: str) -> Doc:
    """A selector of one shape: by zone(s), by labels, or by a list of hosts."""
    if shape == "zone":
        return {"zone": rng.sample(zone_ids, rng.choice((1, 1, 2, 5)))}
    if shape == "labels":
        keys = rng.sample(sorted(LABELS), rng.choice((1, 1, 2)))
        return {"labels": {k: rng.choice(LABELS[k]) for k in keys}}
    return {"host": [h["id"] for h in rng.sample(topo["hosts"], rng.choice((1, 3, 12, 40)))]}


def _services(rng: Random) -> list[str] | None:
    """A rule's services: omitted (any), single ones, or a port range."""
    roll = rng.random()
    if roll < 0.2:
        return None
    if roll < 0.35:
        low = rng.randrange(1, 9000)
        return [f"{low}-{low + rng.randrange(1, 3000)}/tcp"]
    return rng.sample(SERVICES, rng.choice((1, 1, 2, 4)))


def _policy(rng: Random, topo: Doc, name: str, rules: int, shapes: tuple[str, ...]) -> Doc:
    """A policy of ``rules`` segmentation rules whose selectors take ``shapes``."""
    zone_ids = [z["id"] for z in topo["zones"] if not z.get("external")]
    seg: list[Doc] = [
        {"id": "in-public", "action": "allow", "from": {"zone": "internet"}, "to": "any"}
    ]
    for i in range(rules):
        rule: Doc = {
            "id": f"r{i}",
            "action": "allow" if rng.random() < 0.7 else "deny",
            "from": _selector(rng, topo, zone_ids, rng.choice(shapes)),
            "to": _selector(rng, topo, zone_ids, rng.choice(shapes)),
        }
        services = _services(rng)
        if services is not None:
            rule["services"] = services
        seg.append(rule)
    creds = [c["id"] for c in topo["credentials"]]
    return {
        "ztsim": 1,
        "kind": "policy",
        "name": name,
        "segmentation": {
            "default": "deny",
            "intra_zone": "allow" if rng.random() < 0.5 else "rules",
            "rules": seg,
        },
        "egress": {
            "default": "deny",
            "rules": [
                {
                    "id": f"e{i}",
                    "action": "allow",
                    "from": _selector(rng, topo, zone_ids, rng.choice(shapes)),
                    "to": [f"api.p{i % 8}.example"] if i % 5 else ["*.paste.example"],
                    "services": ["443/tcp"],
                }
                for i in range(max(2, rules // 20))
            ],
        },
        "controls": {
            "mfa": rng.sample(creds, len(creds) // 10),
            "encrypt_in_transit": False,
            "detection": [
                {
                    "id": f"d{i}",
                    "techniques": rng.sample(TECHNIQUES, 2),
                    "where": _selector(rng, topo, zone_ids, rng.choice(shapes)),
                    "probability": rng.choice((0.3, 0.5, 0.7)),
                }
                for i in range(5)
            ],
        },
    }


def build_policies(rng: Random, topo: Doc, rules: int) -> dict[str, Doc]:
    """Five policies of unequal size and shape, by file stem."""
    minimal: Doc = {"ztsim": 1, "kind": "policy", "name": "minimal"}
    return {
        "by-zone": _policy(rng, topo, "by-zone", rules, ("zone",)),
        "by-label": _policy(rng, topo, "by-label", rules // 2, ("labels",)),
        "by-host": _policy(rng, topo, "by-host", rules * 2, ("host", "host", "zone")),
        "mixed": _policy(rng, topo, "mixed", rules, ("zone", "labels", "host")),
        "minimal": minimal,
    }


def _dump(doc: Doc, path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        yaml.dump(doc, f, Dumper=yaml.CSafeDumper, sort_keys=False, width=1_000)


def main(argv: list[str] | None = None) -> int:
    """Write the estate's topology and policies under ``--out``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=8_000, help="hosts (default 8,000)")
    ap.add_argument("--zones", type=int, default=60, help="internal zones (default 60)")
    ap.add_argument("--rules", type=int, default=600, help="rules of a mid-size policy")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/H"))
    args = ap.parse_args(argv)
    rng = Random(args.seed)
    topo = build_topology(rng, args.hosts, args.zones)
    (args.out / "policies").mkdir(parents=True, exist_ok=True)
    _dump(topo, args.out / "topology.yaml")
    for stem, doc in build_policies(rng, topo, args.rules).items():
        _dump(doc, args.out / "policies" / f"{stem}.yaml")
    print(f"wrote {args.out}: {args.hosts} hosts, {args.zones} zones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
