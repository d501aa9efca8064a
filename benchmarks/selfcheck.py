"""Check generated benchmark inputs against the model contract, without the engine.

Usage::

    python benchmarks/selfcheck.py DIR            # DIR as written by generate.py or hfamily.py
    python benchmarks/selfcheck.py --workload S   # generate in memory and check

It verifies what the generator promises (see ``benchmarks/README.md``): the files
load back as exactly the generated documents, keys are the spec's, every id is
unique across the topology's lists, references resolve, every service named by a
vulnerability, login, data item or flow is offered by its destination, hosts are
never in external zones, flows from external zones reach only public services,
policy rule ids are unique and their selectors match something.  It also replays
segmentation and egress decisions (spec section 4) for the legitimate flows and
prints how many each policy allows.  Exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import generate
import yaml

Doc = dict[str, Any]

TOPOLOGY_KEYS = {
    "ztsim",
    "kind",
    "name",
    "description",
    "zones",
    "credentials",
    "hosts",
    "external",
    "traffic",
    "entry_points",
}
ZONE_KEYS = {"id", "external"}
HOST_KEYS = {"id", "zone", "labels", "services", "vulnerabilities", "credentials", "logins", "data"}
SERVICE_KEYS = {"service", "name", "public", "encrypted"}
VULN_KEYS = {"id", "service", "gives", "local"}
STORED_KEYS = {"credential", "requires"}
LOGIN_KEYS = {"credential", "service", "gives"}
DATA_KEYS = {"id", "classification", "records", "requires", "service", "integrity"}
EXTERNAL_KEYS = {"id", "fqdn", "role", "services"}
TRAFFIC_KEYS = {"from", "to", "service", "credential"}
ENTRY_KEYS = {"id", "zone", "host", "gives", "credentials"}
POLICY_KEYS = {"ztsim", "kind", "name", "description", "segmentation", "egress", "controls"}
SEG_KEYS = {"default", "intra_zone", "rules"}
EGRESS_KEYS = {"default", "rules"}
RULE_KEYS = {"id", "action", "from", "to", "services"}
CONTROL_KEYS = {"mfa", "encrypt_in_transit", "detection"}
DETECTION_KEYS = {"id", "techniques", "where", "probability"}
SELECTOR_KEYS = {"zone", "host", "labels"}
LEVELS = ("service", "user", "root")


class Checker:
    """Collects failures and warnings."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def fail(self, msg: str) -> None:
        """Record a violated constraint."""
        self.errors.append(msg)

    def keys(self, where: str, node: Doc, allowed: set[str]) -> None:
        """Fail on keys the spec does not define."""
        extra = set(node) - allowed
        if extra:
            self.fail(f"{where}: unknown keys {sorted(extra)}")


def _service_ok(spec: str, policy: bool) -> bool:
    if policy and spec == "any":
        return True
    try:
        ports, proto = spec.split("/")
        if proto not in ("tcp", "udp"):
            return False
        if policy and "-" in ports:
            low, high = (int(x) for x in ports.split("-"))
            return 0 < low <= high <= 65535
        return 0 < int(ports) <= 65535
    except ValueError:
        return False


def _service_match(specs: list[str] | None, service: str) -> bool:
    if specs is None:
        return True
    port_s, proto = service.split("/")
    port = int(port_s)
    for spec in specs:
        if spec == "any" or spec == service:
            return True
        ports, p = spec.split("/")
        if p == proto and "-" in ports:
            low, high = (int(x) for x in ports.split("-"))
            if low <= port <= high:
                return True
    return False


def _selector_match(sel: Any, zone: str, host: Doc | None) -> bool:
    """Spec section 3: host None means an external zone."""
    if sel is None or sel == "any" or sel == {}:
        return True
    if host is None:
        return set(sel) == {"zone"} and sel["zone"] == zone
    if "zone" in sel and sel["zone"] != zone:
        return False
    if "host" in sel:
        ids = sel["host"] if isinstance(sel["host"], list) else [sel["host"]]
        if host["id"] not in ids:
            return False
    labels = host.get("labels", {})
    return all(labels.get(k) == v for k, v in sel.get("labels", {}).items())


def _covers(pattern: str, fqdn: str) -> bool:
    pattern, fqdn = pattern.lower(), fqdn.lower()
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return fqdn.endswith(suffix) and fqdn != suffix[1:]
    return not fqdn.startswith("*") and pattern == fqdn


def check_topology(c: Checker, topo: Doc) -> dict[str, Any]:
    """Check the topology; return lookup tables for the policy checks."""
    c.keys("topology", topo, TOPOLOGY_KEYS)
    seen: dict[str, str] = {}

    def claim(ident: str, what: str) -> None:
        if ident in seen:
            c.fail(f"duplicate id {ident} ({what} and {seen[ident]})")
        seen[ident] = what

    zones: dict[str, bool] = {}
    for z in topo["zones"]:
        c.keys(f"zone {z.get('id')}", z, ZONE_KEYS)
        claim(z["id"], "zone")
        zones[z["id"]] = bool(z.get("external", False))
    creds = set()
    for cr in topo.get("credentials", []):
        c.keys(f"credential {cr.get('id')}", cr, {"id"})
        claim(cr["id"], "credential")
        creds.add(cr["id"])
    hosts: dict[str, Doc] = {}
    data_ids = 0
    for h in topo["hosts"]:
        hid = h["id"]
        c.keys(f"host {hid}", h, HOST_KEYS)
        claim(hid, "host")
        hosts[hid] = h
        if h["zone"] not in zones:
            c.fail(f"host {hid}: undeclared zone {h['zone']}")
        elif zones[h["zone"]]:
            c.fail(f"host {hid} in external zone {h['zone']}")
        for k, v in h.get("labels", {}).items():
            if not isinstance(k, str) or not isinstance(v, str):
                c.fail(f"host {hid}: non-string label {k!r}: {v!r}")
        offered = [s["service"] for s in h["services"]]
        if not 1 <= len(offered) <= 3 or len(set(offered)) != len(offered):
            c.fail(f"host {hid}: services {offered}")
        for s in h["services"]:
            c.keys(f"host {hid} service", s, SERVICE_KEYS)
            if not _service_ok(s["service"], False):
                c.fail(f"host {hid}: bad service {s['service']}")
        vids = [v["id"] for v in h.get("vulnerabilities", [])]
        if len(set(vids)) != len(vids):
            c.fail(f"host {hid}: repeated vulnerability")
        for v in h.get("vulnerabilities", []):
            c.keys(f"host {hid} vuln", v, VULN_KEYS)
            if v.get("local"):
                if v["gives"] != "root" or "service" in v:
                    c.fail(f"host {hid}: bad local vuln {v}")
            elif v.get("service") not in offered or v["gives"] not in LEVELS:
                c.fail(f"host {hid}: bad remote vuln {v}")
        for s in h.get("credentials", []):
            c.keys(f"host {hid} stored credential", s, STORED_KEYS)
            if s["credential"] not in creds or s["requires"] not in ("user", "root"):
                c.fail(f"host {hid}: bad stored credential {s}")
        for lg in h.get("logins", []):
            c.keys(f"host {hid} login", lg, LOGIN_KEYS)
            if (
                lg["credential"] not in creds
                or lg["service"] not in offered
                or lg["gives"] not in LEVELS
            ):
                c.fail(f"host {hid}: bad login {lg}")
        for d in h.get("data", []):
            data_ids += 1
            c.keys(f"data {d.get('id')}", d, DATA_KEYS)
            claim(d["id"], "data")
            req = d.get("requires", "user")
            if req not in LEVELS:
                c.fail(f"data {d['id']}: requires {req}")
            if req == "service" and d.get("service") not in offered:
                c.fail(f"data {d['id']}: service {d.get('service')} not offered")
            if req != "service" and "service" in d:
                c.fail(f"data {d['id']}: service without requires: service")
    externals: dict[str, Doc] = {}
    for e in topo.get("external", []):
        c.keys(f"external {e.get('id')}", e, EXTERNAL_KEYS)
        claim(e["id"], "external")
        externals[e["id"]] = e
        if e.get("role", "partner") not in ("c2", "web-service", "partner"):
            c.fail(f"external {e['id']}: role")
    for t in topo.get("traffic", []):
        c.keys("traffic", t, TRAFFIC_KEYS)
        src, dst, svc = t["from"], t["to"], t["service"]
        if src in hosts:
            pass
        elif zones.get(src):
            h = hosts.get(dst)
            if h is None or not any(s["service"] == svc and s.get("public") for s in h["services"]):
                c.fail(f"traffic {t}: from external zone to a non-public service")
        else:
            c.fail(f"traffic {t}: bad source")
        if dst in hosts:
            if not any(s["service"] == svc for s in hosts[dst]["services"]):
                c.fail(f"traffic {t}: service not offered")
        elif dst in externals:
            if svc not in externals[dst].get("services", ["443/tcp"]):
                c.fail(f"traffic {t}: service not offered by external")
        else:
            c.fail(f"traffic {t}: bad destination")
        if "credential" in t and t["credential"] not in creds:
            c.fail(f"traffic {t}: undeclared credential")
    if not topo.get("entry_points"):
        c.fail("no entry points")
    for ep in topo.get("entry_points", []):
        c.keys(f"entry {ep.get('id')}", ep, ENTRY_KEYS)
        claim(ep["id"], "entry point")
        if "zone" in ep:
            if not zones.get(ep["zone"]) or "host" in ep or "gives" in ep:
                c.fail(f"entry {ep['id']}: bad zone entry")
        elif ep.get("host") not in hosts or ep.get("gives") not in LEVELS:
            c.fail(f"entry {ep['id']}: bad host entry")
        for cr in ep.get("credentials", []):
            if cr not in creds:
                c.fail(f"entry {ep['id']}: undeclared credential {cr}")
    return {
        "zones": zones,
        "hosts": hosts,
        "externals": externals,
        "creds": creds,
        "data": data_ids,
    }


def _selector_hits(sel: Any, tables: dict[str, Any]) -> bool:
    if sel is None or sel == "any" or sel == {}:
        return True
    if not isinstance(sel, dict) or set(sel) - SELECTOR_KEYS:
        return False
    zones: dict[str, bool] = tables["zones"]
    if "zone" in sel and set(sel) == {"zone"} and zones.get(sel["zone"]):
        return True
    key = json.dumps(sel, sort_keys=True)
    cache: dict[str, bool] = tables.setdefault("hit_cache", {})
    if key not in cache:
        cache[key] = any(_selector_match(sel, h["zone"], h) for h in _candidates(sel, tables))
    return cache[key]


def _candidates(sel: Doc, tables: dict[str, Any]) -> list[Doc]:
    """The hosts a selector can match, from the smallest index bucket."""
    index: dict[tuple[str, str], list[Doc]] | None = tables.get("index")
    if index is None:
        index = {}
        for h in tables["hosts"].values():
            index.setdefault(("zone", h["zone"]), []).append(h)
            for k, v in h.get("labels", {}).items():
                index.setdefault((f"label:{k}", str(v)), []).append(h)
        tables["index"] = index
    buckets: list[list[Doc]] = []
    if "zone" in sel:
        buckets.append(index.get(("zone", sel["zone"]), []))
    if "host" in sel:
        ids = sel["host"] if isinstance(sel["host"], list) else [sel["host"]]
        buckets.append([tables["hosts"][i] for i in ids if i in tables["hosts"]])
    for k, v in sel.get("labels", {}).items():
        buckets.append(index.get((f"label:{k}", str(v)), []))
    if not buckets:
        return list(tables["hosts"].values())
    return min(buckets, key=len)


def check_policy(c: Checker, name: str, pol: Doc, tables: dict[str, Any], topo: Doc) -> str:
    """Check one policy; return a one-line summary of flow decisions."""
    c.keys(f"policy {name}", pol, POLICY_KEYS)
    ids: set[str] = set()
    seg = pol.get("segmentation", {"default": "allow", "rules": []})
    egr = pol.get("egress", {"default": "allow", "rules": []})
    c.keys(f"{name} segmentation", seg, SEG_KEYS)
    c.keys(f"{name} egress", egr, EGRESS_KEYS)
    unmatched = 0
    for section, rules in (
        ("segmentation", seg.get("rules", [])),
        ("egress", egr.get("rules", [])),
    ):
        for r in rules:
            c.keys(f"{name} rule {r.get('id')}", r, RULE_KEYS)
            if r["id"] in ids:
                c.fail(f"{name}: duplicate rule id {r['id']}")
            ids.add(r["id"])
            if r["action"] not in ("allow", "deny"):
                c.fail(f"{name} {r['id']}: action")
            for spec in r.get("services", []):
                if not _service_ok(spec, True):
                    c.fail(f"{name} {r['id']}: bad service {spec}")
            sels = [r.get("from")] + ([r.get("to")] if section == "segmentation" else [])
            for sel in sels:
                if isinstance(sel, dict):
                    for zone in [sel["zone"]] if "zone" in sel else []:
                        if zone not in tables["zones"]:
                            c.fail(f"{name} {r['id']}: unknown zone {zone}")
                    hs = sel.get("host", [])
                    for h in hs if isinstance(hs, list) else [hs]:
                        if h not in tables["hosts"]:
                            c.fail(f"{name} {r['id']}: unknown host {h}")
                if not _selector_hits(sel, tables):
                    unmatched += 1
                    if unmatched <= 3:
                        c.warnings.append(f"{name} {r['id']}: {sel} matches nothing")
            if section == "egress":
                for pat in r.get("to", ["*"]):
                    if not fnmatch.fnmatch(pat, "*.*") and pat != "*":
                        c.fail(f"{name} {r['id']}: bad pattern {pat}")
    if unmatched:
        c.warnings.append(f"{name}: {unmatched} selectors match nothing")
    controls = pol.get("controls", {})
    c.keys(f"{name} controls", controls, CONTROL_KEYS)
    for cred in controls.get("mfa", []):
        if cred not in tables["creds"]:
            c.fail(f"{name}: mfa names undeclared credential {cred}")
    for d in controls.get("detection", []):
        c.keys(f"{name} detection {d.get('id')}", d, DETECTION_KEYS)
        if d["id"] in ids:
            c.fail(f"{name}: duplicate id {d['id']}")
        ids.add(d["id"])
        if not 0 <= d["probability"] <= 1:
            c.fail(f"{name} {d['id']}: probability")

    # Replay spec section 4 for the legitimate flows.
    hosts: dict[str, Doc] = tables["hosts"]
    allowed = 0
    deciding: dict[str, int] = {}
    for t in topo.get("traffic", []):
        src, dst, svc = t["from"], t["to"], t["service"]
        src_host = hosts.get(src)
        src_zone = src_host["zone"] if src_host else src
        if dst in hosts:
            d = hosts[dst]
            if src == dst or (
                seg.get("intra_zone") == "allow" and src_host and src_zone == d["zone"]
            ):
                verdict, rule = True, "intra"
            else:
                verdict, rule = seg.get("default", "allow") == "allow", "default"
                for r in seg.get("rules", []):
                    if (
                        _selector_match(r.get("from"), src_zone, src_host)
                        and _selector_match(r.get("to"), d["zone"], d)
                        and _service_match(r.get("services"), svc)
                    ):
                        verdict, rule = r["action"] == "allow", "rule"
                        break
        else:
            fqdn = tables["externals"][dst]["fqdn"]
            verdict, rule = egr.get("default", "allow") == "allow", "default"
            for r in egr.get("rules", []):
                if (
                    _selector_match(r.get("from"), src_zone, src_host)
                    and _service_match(r.get("services"), svc)
                    and any(_covers(p, fqdn) for p in r.get("to", ["*"]))
                ):
                    verdict, rule = r["action"] == "allow", "rule"
                    break
        allowed += verdict
        key = f"{'allow' if verdict else 'deny'}:{rule}"
        deciding[key] = deciding.get(key, 0) + 1
    total = len(topo.get("traffic", []))
    return (
        f"{name}: {len(ids)} ids, traffic allowed {allowed}/{total} "
        f"{dict(sorted(deciding.items()))}"
    )


def load(path: Path) -> Doc:
    """Load one YAML (or JSON) file with the fastest safe loader available."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as fh:
        doc: Doc = yaml.load(fh, Loader=loader)
    return doc


def check_dir(out: Path, expected: generate.Generated | None) -> Checker:
    """Check the files in ``out`` (and that they equal ``expected`` if given)."""
    c = Checker()
    ext = (
        "json"
        if (out / "topology.json").exists() and not (out / "topology.yaml").exists()
        else "yaml"
    )
    topo = load(out / f"topology.{ext}")
    names: tuple[str, ...] = generate.POLICY_NAMES
    if not all((out / "policies" / f"{n}.{ext}").exists() for n in names):
        # another family's directory (hfamily.py): its policies, by file name
        names = tuple(sorted(p.stem for p in (out / "policies").glob(f"*.{ext}")))
    policies = {n: load(out / "policies" / f"{n}.{ext}") for n in names}
    if expected is not None:
        docs: Iterable[tuple[str, Doc, Doc]] = [
            ("topology", topo, expected.topology),
            *((n, policies[n], expected.policies[n]) for n in names),
        ]
        for label, got, want in docs:
            if got != json.loads(json.dumps(want)):
                c.fail(f"{label}: file does not load back as the generated document")
    tables = check_topology(c, topo)
    print(
        f"topology {topo['name']}: {len(tables['hosts'])} hosts, "
        f"{len(tables['zones'])} zones, {len(tables['creds'])} credentials, "
        f"{tables['data']} data, {len(topo.get('traffic', []))} flows"
    )
    for name, pol in policies.items():
        print(check_policy(c, name, pol, tables, topo))
    return c


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, help="generated directory")
    parser.add_argument("--workload", choices=list(generate.WORKLOADS))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    expected = None
    out: Path | None = args.dir
    if args.workload:
        w = generate.WORKLOADS[args.workload]
        params = generate.Params(w.hosts, w.zones, w.rules, args.seed, w.name)
        expected = generate.generate(params)
        if out is None:
            import tempfile

            out = Path(tempfile.mkdtemp(prefix="ztsim-selfcheck-"))
            generate.write(expected, out)
    if out is None:
        parser.error("give DIR or --workload")
    c = check_dir(out, expected)
    for w_ in c.warnings:
        print(f"warning: {w_}")
    for e in c.errors[:50]:
        print(f"FAIL: {e}")
    print(f"{len(c.errors)} failures, {len(c.warnings)} warnings")
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main())
