"""``check``'s per-policy results written fast against the plain way.

- :func:`ztsim.output.checkjson.result_text` skips the JSON writer's float checks
  (``floats=False``): a result must hold no float, and its text must be the one
  the full writer (and ``json.dumps``) gives;
- the traffic table (:func:`ztsim.analysis.results._traffic_table`) inlines
  :meth:`CompiledPolicy.traffic`: each row must hold that method's decision.

On the shipped scenarios and a heterogeneous estate (``benchmarks/hfamily.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from ztsim.analysis.analyze import analyze
from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import result_json
from ztsim.engine.impact import rows_json_text
from ztsim.inputs.loader import load_policies, load_topology
from ztsim.output.checkjson import check_json_text, result_text
from ztsim.output.jsontext import Encoded, dump, dump_json

SHIPPED = [
    ("topologies/pajemploi.yaml", "policies"),
    ("topologies/corporate.yaml", "policies/corporate"),
    ("topologies/k8s-shop.yaml", "policies/k8s-shop"),
]


def _floats(value: Any) -> list[float]:
    """Every float in a JSON-like value."""
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list | tuple):
        return [f for v in value for f in _floats(v)]
    return []


def _check_same(a: Analysis) -> None:
    for i, r in enumerate(a.results):
        rows = a.check_rules()[i]
        data = result_json(r, [x.to_json() for x in rows])
        assert _floats(data) == []
        plain = json.dumps(data, indent=2, ensure_ascii=False)
        assert result_text(r, rows) == plain
        assert dump(result_json(r, Encoded(rows_json_text(rows)))) == plain
        for t in r.traffic:
            assert t.decision == r.compiled.traffic(t.source, t.to, t.service)
            assert t.allowed == t.decision.allowed
        assert data["summary"]["traffic_broken"] == len(r.broken_traffic)
        assert data["traffic"] == [
            {
                "from": t.source,
                "to": t.to,
                "service": t.service,
                "allowed": t.allowed,
                "rule": t.decision.rule,
                "decided_by": t.decision.reason,
                "explanation": t.decision.describe(r.policy),
            }
            for t in r.traffic
        ]
        for kind, key in (("exfil", "exfiltration"), ("tamper", "tampering")):
            goals = [x for x in r.goals if x.goal[0] == kind]
            assert [g["cost_exact"] for g in data[key]] == [x.cost_exact for x in goals]
    assert check_json_text(a) == dump_json(a.to_json())


@pytest.mark.parametrize(("topology", "policies"), SHIPPED)
def test_shipped_scenarios(topology: str, policies: str) -> None:
    topo = load_topology(str(ROOT / topology))
    _check_same(analyze(topo, load_policies([str(ROOT / policies)])))


def test_heterogeneous_estate(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import hfamily  # (benchmarks/ is not a package)

    hfamily.write(300, 60, 5, tmp_path)
    topo = load_topology(str(tmp_path / "topology.yaml"))
    a = analyze(topo, load_policies([str(tmp_path / "policies")]))
    assert any(not t.allowed for r in a.results for t in r.traffic)
    _check_same(a)


def test_no_float_checks_only_when_asked() -> None:
    """``floats=False`` is the caller's word: with a float, the text differs."""
    data = {"p": 1e-05, "q": None}
    assert dump(data) == json.dumps(data, indent=2)
    assert dump(data, floats=False) != json.dumps(data, indent=2)
