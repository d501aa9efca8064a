"""Records at risk said separately: exfiltrable and tamperable (issue #23 point 16).

A policy that stops exfiltration but not tampering must not read "0 records at
risk": the text summary, check's JSON, the TUI's Policies pane and its exports all
give both counts.
"""

from __future__ import annotations

import io
import json

from rich.console import Console

from ztsim.analysis.analyze import analyze
from ztsim.analysis.judged import Analysis
from ztsim.inputs.loader import policy_from_text, topology_from_text
from ztsim.output.checkjson import check_json_text
from ztsim.output.console import render_check
from ztsim.tui.export import ExportState, export_json, export_markdown
from ztsim.tui.viewmodel import base_view

TOPOLOGY = """\
ztsim: 1
kind: topology
name: records
zones:
  - {id: internet, external: true}
  - {id: dmz}
hosts:
  - id: web
    zone: dmz
    services:
      - {service: 443/tcp, public: true}
    vulnerabilities:
      - {id: CVE-WEB, service: 443/tcp, gives: user}
    data:
      - {id: ledger, records: 1200000, integrity: true}
      - {id: notes, records: 30}
external:
  - {id: c2, fqdn: c2.evil.example, role: c2}
"""

# Egress closed: nothing leaves, but the ledger can still be tampered with.
NO_EGRESS = "ztsim: 1\nkind: policy\nname: no-egress\negress:\n  default: deny\n"


def _analysis() -> Analysis:
    topo = topology_from_text(TOPOLOGY, "records.yaml")
    return analyze(topo, [policy_from_text(NO_EGRESS, "no-egress.yaml")])


def test_result_counts_both() -> None:
    r = _analysis().results[0]
    assert r.records_exfiltrable == r.records_at_risk == 0
    assert r.records_tamperable == 1_200_000


def test_check_text_summary_says_both() -> None:
    buf = io.StringIO()
    render_check(Console(file=buf, width=200, highlight=False, markup=False), _analysis())
    assert (
        "1/3 goals reachable: 0 records exfiltrable, 1,200,000 records tamperable" in buf.getvalue()
    )


def test_check_json_adds_keys_and_renames_none() -> None:
    data = json.loads(check_json_text(_analysis()))
    summary = data["results"][0]["summary"]
    assert summary["records_at_risk"] == 0  # the spec's key, unchanged
    assert summary["records_exfiltrable"] == 0
    assert summary["records_tamperable"] == 1_200_000
    tamper = data["results"][0]["tampering"]
    assert tamper == [
        {**tamper[0], "data": "ledger", "reachable": True, "records": 1_200_000},
    ]


def test_tui_summary_and_exports_say_both() -> None:
    a = _analysis()
    vm = base_view(a, a.topology.path, [])
    s = vm.policies[0]
    assert (s.records_exfiltrable, s.records_tamperable) == (0, 1_200_000)
    out = export_json(vm, ExportState())["policies"][0]
    assert out["records_at_risk"] == out["records_exfiltrable"] == 0
    assert out["records_tamperable"] == 1_200_000
    md = export_markdown(vm, ExportState())
    assert "| records exfiltrable | records tamperable |" in md
    assert "| 1/3 | 0 | 1,200,000 |" in md
