"""The Kubernetes importer's bridge: drafts -> loaded topology and policy (issue 25).

Hand-made drafts (what the topology mapping and the policy compiler give) are
loaded by :func:`ztsim.inputs.k8s.importer.imported_from_drafts`; every rule's
place must be its manifest's, in explanations, ``rule_mark`` and SARIF; problems
found in a draft are moved to the manifest of the item they are in; the YAML the
import writes loads back into the same document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ztsim.analysis.analyze import analyze
from ztsim.inputs.k8s.drafts import PolicyDraft, Provenance, TopologyDraft
from ztsim.inputs.k8s.emit import draft_yaml, flow
from ztsim.inputs.k8s.importer import (
    Imported,
    default_name,
    imported_from_drafts,
    merge_destinations,
    policy_yaml_text,
    topology_yaml_text,
)
from ztsim.inputs.k8s.objects import Manifests, Source
from ztsim.inputs.loader import policy_from_text, topology_from_text
from ztsim.model.diagnostics import InputError
from ztsim.output.reports import render
from ztsim.whatif.intent import evaluate

MANIFEST = "k8s/shop.yaml"


def _manifests() -> Manifests:
    return Manifests((MANIFEST,), (), (), (), (), (), (), (), (), ())


def _prov(line: int, name: str) -> Provenance:
    return Provenance(Source(MANIFEST, line, 1), name)


def _topology(**extra: Any) -> TopologyDraft:
    doc: dict[str, Any] = {
        "ztsim": 1,
        "kind": "topology",
        "name": "shop",
        "zones": [{"id": "internet", "external": True}, {"id": "shop"}],
        "credentials": [],
        "hosts": [
            {
                "id": "shop/web",
                "zone": "shop",
                "labels": {"app": "web"},
                "services": [{"service": "8080/tcp", "name": "http", "public": True}],
                "vulnerabilities": [{"id": "CVE-1", "service": "8080/tcp", "gives": "root"}],
            },
            {
                "id": "shop/db",
                "zone": "shop",
                "labels": {"app": "db"},
                "services": [{"service": "5432/tcp"}],
                "vulnerabilities": [{"id": "CVE-2", "service": "5432/tcp", "gives": "root"}],
                "data": [{"id": "pii", "records": 1000}],
            },
        ],
        "external": [{"id": "c2", "fqdn": "evil.example", "role": "c2"}],
        "entry_points": [{"id": "from-internet", "zone": "internet"}],
    }
    doc.update(extra)
    prov = {"shop/web": _prov(6, "Deployment shop/web"), "shop/db": _prov(30, "Deployment shop/db")}
    return TopologyDraft(doc, prov, [])


def _policy(
    rules: list[dict[str, Any]], destinations: list[dict[str, Any]] | None = None
) -> PolicyDraft:
    doc = {
        "ztsim": 1,
        "kind": "policy",
        "name": "shop",
        "segmentation": {"default": "allow", "rules": rules},
        "egress": {"default": "allow", "rules": []},
    }
    prov = {r["id"]: _prov(50 + i * 10, f"NetworkPolicy shop/np-{i}") for i, r in enumerate(rules)}
    return PolicyDraft(doc, prov, [], destinations or [])


DENY_DB = {
    "id": "np-deny-db",
    "action": "deny",
    "from": {"labels": {"app": "web"}},
    "to": {"labels": {"app": "db"}},
}


def _imported(rules: list[dict[str, Any]]) -> Imported:
    return imported_from_drafts(_manifests(), _topology(), _policy(rules), "k8s")


def test_rule_places_are_the_manifests() -> None:
    imp = _imported([DENY_DB])
    pol = imp.policy
    assert pol.path == imp.topology.path == "k8s"
    assert (
        pol.rule_location("segmentation", "np-deny-db")
        == f"NetworkPolicy shop/np-0 at {MANIFEST}:50"
    )
    assert pol.rule_file("segmentation", "np-deny-db") == MANIFEST
    mark = pol.rule_mark("segmentation", "np-deny-db")
    assert mark is not None and (mark.line, mark.column) == (50, 1)
    assert pol.doc is None  # nothing points into a file that does not exist
    assert imp.topology.where("shop/web") == f"Deployment shop/web at {MANIFEST}:6"


def test_blocked_by_names_the_manifest() -> None:
    imp = _imported([DENY_DB])
    a = analyze(imp.topology, [imp.policy])
    (result,) = a.results
    assert not any(g.reachable for g in result.goals)
    d = result.compiled.flow("shop/web", "shop/db", "5432/tcp")
    assert d.describe(imp.policy) == (
        f"denied by segmentation rule np-deny-db at NetworkPolicy shop/np-0 at {MANIFEST}:50"
    )


def test_sarif_points_at_the_manifest_line() -> None:
    # Open: the web front reaches the database; the allowing rule is the manifest's.
    allow = {**DENY_DB, "id": "np-allow-db", "action": "allow"}
    imp = _imported([allow])
    report = evaluate(imp.topology, [imp.policy], None)
    sarif = json.loads(render(report, "sarif"))
    regions = [
        (
            loc["physicalLocation"]["artifactLocation"]["uri"],
            loc["physicalLocation"]["region"]["startLine"],
        )
        for run in sarif["runs"]
        for r in run["results"]
        for loc in r["locations"]
    ]
    assert regions == [(MANIFEST, 50)]
    assert f"np-allow-db at NetworkPolicy shop/np-0 at {MANIFEST}:50" in render(report, "text")


def test_a_goal_with_no_rule_to_blame_points_at_the_data_workload() -> None:
    imp = _imported([])  # everything allowed by the default: no rule of an object
    report = evaluate(imp.topology, [imp.policy], None)
    sarif = json.loads(render(report, "sarif"))
    (result,) = sarif["runs"][0]["results"]
    loc = result["locations"][0]["physicalLocation"]
    assert (loc["artifactLocation"]["uri"], loc["region"]["startLine"]) == (MANIFEST, 30)


def test_destinations_are_merged_once() -> None:
    dest = {"id": "cidr-10.0.0.0-8", "fqdn": "10.0.0.0/8", "role": "partner"}
    topo = _topology()
    merged = merge_destinations(topo, _policy([], [dest, dest, {"id": "c2", "fqdn": "other"}]))
    ids = [e["id"] for e in merged.document["external"]]
    assert ids == ["c2", "cidr-10.0.0.0-8"]
    assert merged.document["external"][0]["fqdn"] == "evil.example"  # the topology's kept
    assert [e["id"] for e in topo.document["external"]] == ["c2"]  # the input untouched


def test_a_problem_in_a_draft_is_placed_at_its_manifest() -> None:
    topo = _topology()
    topo.document["hosts"][1]["zone"] = "nowhere"
    with pytest.raises(InputError) as err:
        imported_from_drafts(_manifests(), topo, _policy([]), "k8s")
    (d,) = [d for d in err.value.diagnostics if d.level == "error"]
    assert (d.path, d.line, d.column) == (MANIFEST, 30, 1)
    assert "nowhere" in d.message and "Deployment shop/db" in d.message


def test_a_bad_rule_is_placed_at_its_network_policy() -> None:
    bad = {**DENY_DB, "action": "maybe"}
    with pytest.raises(InputError) as err:
        _imported([bad])
    (d,) = err.value.diagnostics
    assert (d.path, d.line) == (MANIFEST, 50)
    assert "NetworkPolicy shop/np-0" in d.message


def test_a_policy_warning_is_placed_at_its_network_policy() -> None:
    """Warnings too (the import validates without the draft's text, then again
    with it when there is anything to place: both ways must agree)."""
    ghost = {**DENY_DB, "id": "np-ghost", "to": {"host": ["shop/ghost"]}}
    imp = _imported([DENY_DB, ghost])
    (w,) = [n for n in imp.notes if "shop/ghost" in n.message]
    assert (w.path, w.line, w.level) == (MANIFEST, 60, "warning")
    assert "NetworkPolicy shop/np-1" in w.message
    assert not [n for n in _imported([DENY_DB]).notes if n.path != MANIFEST]


def test_written_yaml_loads_back() -> None:
    imp = _imported([DENY_DB])
    topo_text = topology_yaml_text(imp.topology_draft, [MANIFEST])
    pol_text = policy_yaml_text(imp.policy_draft, [MANIFEST])
    assert yaml.safe_load(topo_text) == imp.topology_draft.document
    assert yaml.safe_load(pol_text) == imp.policy_draft.document
    assert topology_from_text(topo_text).model == imp.topology.model
    assert policy_from_text(pol_text).model == imp.policy.model
    assert f"# NetworkPolicy shop/np-0 ({MANIFEST}:50)\n" in pol_text
    assert f"# Deployment shop/web ({MANIFEST}:6)\n" in topo_text


def test_layers_and_tiers_are_written_in_block_style() -> None:
    doc = {
        "segmentation": {
            "layers": [
                {
                    "id": "egress-side",
                    "default": "allow",
                    "tiers": [
                        {"id": "admin", "rules": [{"id": "r1", "action": "pass"}]},
                        {"id": "np", "rules": []},
                    ],
                },
            ]
        }
    }
    text = draft_yaml(doc, {"r1": _prov(3, "AdminNetworkPolicy a")})
    assert yaml.safe_load(text) == doc
    assert (
        "            # AdminNetworkPolicy a (k8s/shop.yaml:3)\n"
        "            - {id: r1, action: pass}\n" in text
    )


def test_default_name() -> None:
    assert default_name(["examples/k8s/manifests/"]) == "manifests"
    assert default_name(["."]) == "k8s"
    assert default_name([]) == "k8s"
    # Several paths: the folder they share, as written (never the cwd's name).
    assert default_name(["examples/k8s/workloads", "examples/k8s/policies/"]) == "k8s"
    assert default_name(["a/x.yaml", "a/y.yaml"]) == "a"
    assert default_name(["base", "head"]) == "k8s"
    assert default_name(["/abs/m", "rel/m"]) == "k8s"


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_leaf = st.one_of(_text, st.integers(-(2**40), 2**40), st.booleans(), st.none())
_data = st.recursive(
    _leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(_text, _data, max_size=4),
    st.lists(st.dictionaries(_text, _data, max_size=3), max_size=3),
)
def test_emitted_yaml_reads_back_exactly(top: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """Whatever the names hold, ``yaml.safe_load`` gives the document back."""
    doc = {**top, "hosts": items}
    prov = {str(i.get("id")): _prov(1, "Pod x\u2028y") for i in items}
    assert yaml.safe_load(draft_yaml(doc, prov, ["header"])) == doc
    assert yaml.safe_load(flow(top)) == top


def test_same_drafts_same_bytes(tmp_path: Path) -> None:
    a = policy_yaml_text(_imported([DENY_DB]).policy_draft)
    b = policy_yaml_text(_imported([DENY_DB]).policy_draft)
    assert a == b


def test_no_data_is_placed_in_a_file_that_exists(tmp_path: Path) -> None:
    """ "No data item" concerns no item: at the overlay when one is given, else at the
    first workload's manifest; never in the draft (a file that does not exist)."""
    from ztsim.inputs.checks import NO_DATA_MESSAGE
    from ztsim.inputs.k8s.importer import import_k8s

    root = Path(__file__).resolve().parents[1] / "examples" / "k8s"
    plain = import_k8s([root / "workloads"])
    (note,) = [n for n in plain.notes if n.message == NO_DATA_MESSAGE]
    host = plain.topology_draft.document["hosts"][0]["id"]
    first = plain.topology_draft.provenance[host].source
    assert (note.path, note.line) == (first.path, first.line) and Path(note.path).is_file()
    overlay = tmp_path / "o.yaml"
    overlay.write_text("ztsim: 1\nkind: overlay\n")
    placed = import_k8s([root / "workloads"], overlay)
    (note,) = [n for n in placed.notes if n.message == NO_DATA_MESSAGE]
    assert (note.path, note.line, note.column) == (str(overlay), 1, 1)
    assert not any(n.message == NO_DATA_MESSAGE for n in import_k8s(
        [root / "workloads"], root / "attack.yaml").notes)  # fmt: skip
