"""What :func:`ztsim.analysis.analyze.analyze` works out beyond verdicts (``Needs``)."""

from __future__ import annotations

from pathlib import Path

from ztsim.analysis.analyze import Needs, analyze
from ztsim.inputs.checks import policy_warnings
from ztsim.inputs.loader import load_policies, load_topology, policy_from_text
from ztsim.output.checkjson import check_json_text
from ztsim.output.jsontext import dump_json

ROOT = Path(__file__).resolve().parents[1]

WARNED = """\
ztsim: 1
kind: policy
name: warned
segmentation:
  default: allow
  rules:
    - {id: ghost-zone, from: {zone: nowhere}, to: {zone: dmz}, services: [443/tcp], action: deny}
    - {id: ghost-host, from: {host: [nobody, vpn-gw]}, to: any, services: [22/tcp], action: deny}
    - {id: no-match, from: {labels: {role: no-such}}, to: any, services: [22/tcp], action: deny}
controls:
  mfa: [no-such-credential]
"""


def test_warnings_only_when_needed_every_policy_s_in_order() -> None:
    topo = load_topology(ROOT / "topologies" / "pajemploi.yaml")
    pols = [*load_policies([ROOT / "policies"]), policy_from_text(WARNED, "warned.yaml")]
    expected = [w for p in pols for w in policy_warnings(p, topo)]
    assert len(expected) >= 4
    assert analyze(topo, pols, Needs(warnings=True)).warnings == expected
    assert analyze(topo, pols).warnings is None


def test_rule_impact_is_counted_when_first_asked() -> None:
    topo = load_topology(ROOT / "topologies" / "pajemploi.yaml")
    a = analyze(topo, load_policies([ROOT / "policies"]))
    assert not a._rules
    rows = a.check_rules()
    assert len(rows) == len(a.results) and a.check_rules() == rows
    again = analyze(topo, load_policies([ROOT / "policies"]))
    assert check_json_text(a) == check_json_text(again) == dump_json(again.to_json())
