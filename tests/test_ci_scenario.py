"""A small scenario shared by the ``test_ci_*`` tests, and sanity checks of it.

Two entry points reach one database: ``internet-attacker`` exploits the public web
server (6 steps to exfiltration), ``insider`` starts on it (5 steps).  Policies:

- ``open``: everything allowed (written out, so rule/default lines exist);
- ``tight``: only the business flows; no egress to the attacker (exfiltration
  blocked, tampering still reachable);
- ``sealed``: ``tight`` plus MFA on the database password (nothing reachable);
- ``watched``: ``open`` plus a WAF that sees T1190 in the DMZ with p = 0.5;
- ``no-internet``: the web server is not published (only the insider gets in);
- ``broken``: ``tight`` minus the web-to-database rule (a business flow denied).
"""

from __future__ import annotations

from pathlib import Path

from ztsim.inputs.assertions import LoadedAssertions, assertions_from_text
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.loader import policy_from_text, topology_from_text

TOPOLOGY = """\
ztsim: 1
kind: topology
name: ci-mini
zones:
  - {id: internet, external: true}
  - {id: dmz}
  - {id: data}
credentials:
  - {id: db-pass}
hosts:
  - id: web
    zone: dmz
    labels: {tier: web}
    services:
      - {service: 443/tcp, public: true}
      - {service: 22/tcp}
    vulnerabilities:
      - {id: CVE-WEB, service: 443/tcp, gives: user}
    credentials:
      - {credential: db-pass, requires: user}
  - id: db
    zone: data
    labels: {tier: db}
    services:
      - {service: 5432/tcp}
    logins:
      - {credential: db-pass, service: 5432/tcp, gives: service}
    data:
      - {id: records, classification: pii, records: 1000, requires: service,
         service: 5432/tcp, integrity: true}
      - {id: notes, classification: internal}
external:
  - {id: c2, fqdn: c2.evil.example, role: c2}
  - {id: bucket, fqdn: "*.files.example", role: web-service}
  - {id: partner, fqdn: api.partner.example}
traffic:
  - {from: internet, to: web, service: 443/tcp}
  - {from: web, to: db, service: 5432/tcp, credential: db-pass}
  - {from: web, to: partner, service: 443/tcp}
entry_points:
  - {id: internet-attacker, zone: internet}
  - {id: insider, host: web, gives: user}
"""

_TIGHT_RULES = """\
segmentation:
  default: deny
  rules:
    - {id: portal, action: allow, from: {zone: internet}, to: {host: web},
       services: [443/tcp]}
    - {id: app-db, action: allow, from: {labels: {tier: web}}, to: {host: db},
       services: [5432/tcp]}
egress:
  default: deny
  rules:
    - {id: partner, action: allow, from: {host: web}, to: [api.partner.example]}
"""

POLICIES = {
    "open": "segmentation:\n  default: allow\negress:\n  default: allow\n",
    "tight": _TIGHT_RULES,
    "sealed": _TIGHT_RULES + "controls:\n  mfa: [db-pass]\n",
    "watched": (
        "segmentation:\n  default: allow\negress:\n  default: allow\ncontrols:\n"
        "  detection:\n    - {id: waf, techniques: [T1190], where: {zone: dmz}, "
        "probability: 0.5}\n"
    ),
    "no-internet": (
        "segmentation:\n  default: deny\n  rules:\n"
        "    - {id: app-db, action: allow, from: {host: web}, to: {host: db}}\n"
        "egress:\n  default: allow\n"
    ),
    "broken": _TIGHT_RULES.replace(
        "    - {id: app-db, action: allow, from: {labels: {tier: web}}, to: {host: db},\n"
        "       services: [5432/tcp]}\n",
        "",
    ),
}


def topology(tmp: Path | None = None) -> LoadedTopology:
    """The scenario's topology (written to ``tmp`` when given, for file locations)."""
    if tmp is None:
        return topology_from_text(TOPOLOGY, "topology.yaml")
    from ztsim.inputs.loader import load_topology

    path = tmp / "topology.yaml"
    path.write_text(TOPOLOGY, encoding="utf-8")
    return load_topology(path)


def policy_text(name: str) -> str:
    """Full YAML text of one of the scenario's policies."""
    return f"ztsim: 1\nkind: policy\nname: {name}\n" + POLICIES[name]


def policy(name: str) -> LoadedPolicy:
    """One of the scenario's policies, loaded from text named ``NAME.yaml``."""
    return policy_from_text(policy_text(name), f"{name}.yaml")


def write_policy(tmp: Path, name: str) -> Path:
    """Write a policy file into ``tmp`` and return its path."""
    path = tmp / f"{name}.yaml"
    path.write_text(policy_text(name), encoding="utf-8")
    return path


def assertions(body: str, name: str = "assertions.yaml") -> LoadedAssertions:
    """An assertions file from the text of its ``assertions:`` list."""
    text = "ztsim: 1\nkind: assertions\nname: ci\nassertions:\n" + body
    return assertions_from_text(text, name)


def write_assertions(tmp: Path, body: str) -> Path:
    """Write an assertions file into ``tmp`` and return its path."""
    path = tmp / "assertions.yaml"
    path.write_text("ztsim: 1\nkind: assertions\nname: ci\nassertions:\n" + body, "utf-8")
    return path


def test_scenario_loads_and_behaves_as_documented() -> None:
    from ztsim.analysis.analyze import analyze

    a = analyze(topology(), [policy(n) for n in POLICIES])
    reach = {r.policy.name: {g.goal: g.cost for g in r.reachable_goals} for r in a.results}
    # notes needs code execution on db, which nobody gets: never reachable.
    assert reach["open"] == {("exfil", "records"): 5, ("tamper", "records"): 5}
    assert ("exfil", "records") not in reach["tight"]
    assert ("tamper", "records") in reach["tight"]
    assert reach["sealed"] == {}
    assert [t.allowed for t in a.results[-1].traffic] == [True, False, True]
