"""The overlay (ztsim.inputs.k8s.overlay): validation at FILE:LINE:COL, merging by
selector, warnings for what names nothing, the limits of every ztsim file, and the
template ``ztsim import k8s`` writes.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ztsim.inputs.k8s import read_manifests
from ztsim.inputs.k8s.drafts import TopologyDraft
from ztsim.inputs.k8s.overlay import (
    MAX_FLOWS_PER_ENTRY,
    apply_overlay,
    load_overlay,
    overlay_errors,
    overlay_from_text,
)
from ztsim.inputs.k8s.overlay_template import write_overlay_template
from ztsim.inputs.k8s.topology import topology_document
from ztsim.inputs.loader import document_from_text, topology_from_text
from ztsim.model.diagnostics import InputError

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web, tier: front}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata: {labels: {app: api, tier: back}}
    spec: {containers: [{name: c, ports: [{containerPort: 9000}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  template:
    metadata: {labels: {app: db, tier: back}}
    spec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 443, targetPort: http}]}
"""

HEADER = "ztsim: 1\nkind: overlay\nname: attack\n"


@pytest.fixture(scope="module")
def draft(tmp_path_factory: pytest.TempPathFactory) -> TopologyDraft:
    path = tmp_path_factory.mktemp("m") / "m.yaml"
    path.write_text(MANIFESTS)
    return topology_document(read_manifests([path]))


def applied(draft: TopologyDraft, body: str) -> TopologyDraft:
    out = apply_overlay(draft, overlay_from_text(HEADER + body, "o.yaml"))
    topology_from_text(yaml.safe_dump(out.document, sort_keys=False))  # a valid topology
    return out


def errors(draft: TopologyDraft | None, body: str, header: str = HEADER) -> list[str]:
    with pytest.raises(InputError) as info:
        overlay = overlay_from_text(header + body, "o.yaml")
        assert draft is not None
        apply_overlay(draft, overlay)
    return [str(d) for d in info.value.diagnostics]


def host(d: TopologyDraft, ident: str) -> dict[str, Any]:
    return next(h for h in d.document["hosts"] if h["id"] == ident)


FULL = """\
credentials:
  - id: db-password
external:
  - {id: c2, fqdn: c2.attacker.example, role: c2}
workloads:
  - select: {workload: shop/web}
    vulnerabilities:
      - {id: CVE-2025-1111, service: 8080/tcp, gives: user}
      - {id: CVE-2025-2222, local: true, gives: root}
    credentials:
      - {credential: db-password}
  - select: {namespace: data, labels_match: [{key: app, operator: In, values: [db]}]}
    services:
      - {service: 5432/tcp, name: postgres, encrypted: true}
    logins:
      - {credential: db-password, service: 5432/tcp, gives: service}
    data:
      - {id: customers, classification: pii, records: 1200000, requires: service,
         service: 5432/tcp, integrity: true}
traffic:
  - {from: shop/web, to: {labels: {app: db}}, service: 5432/tcp, credential: db-password}
  - {from: internet, to: shop/web, service: 8080/tcp}
  - {from: shop/web, to: c2, service: 443/tcp}
"""


def test_overlay_merges_by_selector(draft: TopologyDraft) -> None:
    before = copy.deepcopy(draft.document)
    out = applied(draft, FULL)
    assert draft.document == before  # the draft given is left as it was
    web, db = host(out, "shop/web"), host(out, "data/db")
    assert web["vulnerabilities"] == [
        {"id": "CVE-2025-1111", "service": "8080/tcp"},
        {"id": "CVE-2025-2222", "local": True, "gives": "root"},
    ]
    assert web["credentials"] == [{"credential": "db-password", "requires": "user"}]
    assert db["services"] == [{"service": "5432/tcp", "name": "postgres", "encrypted": True}]
    assert db["logins"] == [
        {"credential": "db-password", "service": "5432/tcp", "gives": "service"}
    ]
    assert db["data"][0]["id"] == "customers"
    assert out.document["credentials"] == [{"id": "db-password"}]
    assert out.document["external"] == [
        {"id": "c2", "fqdn": "c2.attacker.example", "role": "c2", "services": ["443/tcp"]}
    ]
    assert out.document["traffic"] == [
        {"from": "shop/web", "to": "data/db", "service": "5432/tcp", "credential": "db-password"},
        {"from": "internet", "to": "shop/web", "service": "8080/tcp"},
        {"from": "shop/web", "to": "c2", "service": "443/tcp"},
    ]
    # The default entry point stays (no entry_points given).
    assert [e["id"] for e in out.document["entry_points"]] == ["internet-attacker"]
    # What the overlay adds names the overlay's line.
    by = out.provenance["customers"]
    assert (by.source.path, by.source.line, by.name) == (
        "o.yaml",
        21,
        "overlay attack: data customers on data/db",
    )
    assert not out.notes


def test_same_overlay_same_bytes(draft: TopologyDraft) -> None:
    first = json.dumps(applied(draft, FULL).document)
    assert json.dumps(applied(draft, FULL).document) == first


def test_kind_selector_and_existing_service_updated(draft: TopologyDraft) -> None:
    out = applied(draft, """\
workloads:
  - select: {kind: StatefulSet}
    services: [{service: 5432/tcp, encrypted: true}]
  - select: {kind: [Deployment], labels: {tier: front}}
    services: [{service: 8080/tcp, encrypted: true}, {service: 22/tcp, name: ssh}]
""")  # fmt: skip
    assert host(out, "data/db")["services"] == [{"service": "5432/tcp", "encrypted": True}]
    # Updated, its name and publication kept; a new one added, in port order.
    assert host(out, "shop/web")["services"] == [
        {"service": "22/tcp", "name": "ssh"},
        {"service": "8080/tcp", "name": "http", "public": True, "encrypted": True},
    ]
    assert host(out, "shop/api")["services"] == [{"service": "9000/tcp"}]  # tier: back


def test_data_on_several_workloads_one_item_each(draft: TopologyDraft) -> None:
    out = applied(draft, """\
workloads:
  - select: {labels: {tier: back}}
    data: [{id: logs, requires: root}]
""")  # fmt: skip
    assert host(out, "shop/api")["data"] == [{"id": "logs@shop/api", "requires": "root"}]
    assert host(out, "data/db")["data"] == [{"id": "logs@data/db", "requires": "root"}]
    assert "data" not in host(out, "shop/web")  # tier: front


def test_entry_points_replace_the_default(draft: TopologyDraft) -> None:
    out = applied(draft, """\
credentials: [{id: vpn}]
entry_points:
  - {id: phished, select: {namespace: shop}, gives: user}
  - {id: vpn-user, zone: internet, credentials: [vpn]}
  - {id: gone, host: shop/ghost}
""")  # fmt: skip
    assert out.document["entry_points"] == [
        {"id": "phished@shop/api", "host": "shop/api", "gives": "user"},
        {"id": "phished@shop/web", "host": "shop/web", "gives": "user"},
        {"id": "vpn-user", "zone": "internet", "credentials": ["vpn"]},
    ]
    (note,) = out.notes
    assert str(note) == "o.yaml:8:22: warning: no workload named 'shop/ghost': entry left out"


def test_selectors_naming_nothing_are_warnings(draft: TopologyDraft) -> None:
    out = applied(draft, """\
workloads:
  - select: {namespace: nowhere}
    data: [{id: x}]
traffic:
  - {from: shop/ghost, to: shop/web, service: 8080/tcp}
  - {from: shop/web, to: {labels: {app: api}}, service: 1/tcp}
""")  # fmt: skip
    assert [str(n) for n in out.notes] == [
        "o.yaml:5:13: warning: this selector names no workload of the manifests",
        "o.yaml:8:12: warning: no workload named 'shop/ghost' in the manifests: flow left out",
        "o.yaml:9:26: warning: no selected workload offers 1/tcp",
    ]
    assert out.document["traffic"] == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("workloads:\n  - select: any\n    bogus: 1\n", "o.yaml:6:5: error: unknown key 'bogus'"),
        ("bogus: 1\n", "o.yaml:4:1: error: unknown key 'bogus'"),
        (
            "workloads:\n  - select: {namespace: shop, label: {a: b}}\n",
            "o.yaml:5:31: error: unknown key 'label'",
        ),
        (
            "workloads:\n  - select:\n",
            "o.yaml:5:12: error: workloads.0.select: blank value",
        ),
        (
            "workloads:\n  - select: {labels: {a: on}}\n",
            "o.yaml:5:26: error: workloads.0.select.labels.a: a label value must be text",
        ),
        (
            "workloads:\n  - select: any\n    vulnerabilities: [{id: X, service: 80/xyz}]\n",
            "o.yaml:6:40: error: workloads.0.vulnerabilities.0.service: service '80/xyz' is not",
        ),
        ("workloads: {a: 1}\n", "o.yaml:4:12: error: workloads: Input should be a valid list"),
        (
            "traffic:\n  - {from: 3, to: shop/web, service: 8080/tcp}\n",
            "o.yaml:5:12: error: traffic.0.from: write a workload id (NAMESPACE/NAME)",
        ),
        (
            "entry_points:\n  - {id: e, zone: internet, host: shop/web}\n",
            "o.yaml:5:5: error: entry_points.0: an entry point names exactly one of",
        ),
        (
            "entry_points:\n  - {id: e, zone: internet, gives: root}\n",
            "o.yaml:5:5: error: entry_points.0: `gives` goes with a `host` or `select`",
        ),
        (
            "external: [{id: c2, fqdn: 'not a name'}]\n",
            "o.yaml:4:27: error: external.0.fqdn: fqdn 'not a name' is not",
        ),
    ],
)
def test_schema_errors_at_their_place(draft: TopologyDraft, body: str, expected: str) -> None:
    found = errors(draft, body)
    assert found[0].startswith(expected), found


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("kind: overlay\n", "o.yaml:1:1: error: missing `ztsim: 1`"),
        ("ztsim: 2\nkind: overlay\n", "o.yaml:1:8: error: unsupported format version 2"),
        (
            "ztsim: 1\nkind: topology\n",
            "o.yaml:2:7: error: expected an overlay file, found kind 'topology'",
        ),
        ("ztsim: 1\nkind: overlays\n", "o.yaml:2:7: error: unknown kind 'overlays'"),
        ("ztsim: 1\nkind: policy\n", "o.yaml:2:7: error: expected an overlay file, found kind"),
    ],
)
def test_header_errors(header: str, expected: str) -> None:
    found = errors(None, "", header)
    assert found[0].startswith(expected), found


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "workloads:\n  - select: {workload: shop/web}\n"
            "    vulnerabilities: [{id: X, service: 22/tcp}]\n",
            "o.yaml:6:40: error: X names service 22/tcp, which shop/web does not offer",
        ),
        (
            "workloads:\n  - select: {workload: shop/web}\n"
            "    logins: [{credential: k, service: 8080/tcp}]\n",
            "o.yaml:6:27: error: unknown credential 'k' (declare it under `credentials`)",
        ),
        (
            "workloads:\n  - select: {workload: shop/web}\n    data: [{id: shop}]\n",
            "o.yaml:6:17: error: data id 'shop' is taken already (ids are unique)",
        ),
        (
            "external: [{id: shop/web, fqdn: a.example}]\n",
            "o.yaml:4:17: error: external destination id 'shop/web' is taken already",
        ),
        (
            "traffic:\n  - {from: shop, to: shop/web, service: 8080/tcp}\n",
            "o.yaml:5:12: error: 'shop' is a zone: a flow goes from a workload",
        ),
        (
            "traffic:\n  - {from: shop/web, to: shop/api, service: 1/tcp}\n",
            "o.yaml:5:45: error: traffic names service 1/tcp, which shop/api does not offer",
        ),
        (
            "external: [{id: c2, fqdn: c2.example}]\n"
            "traffic:\n  - {from: internet, to: c2, service: 443/tcp}\n",
            "o.yaml:6:26: error: a flow from an external zone goes to a workload",
        ),
        (
            "entry_points:\n  - {id: e, zone: shop}\n",
            "o.yaml:5:19: error: 'shop' is not an external zone",
        ),
        (
            "entry_points:\n  - {id: e, host: shop/ghost}\n",
            "o.yaml:5:3: error: no entry point: the attacker starts nowhere",
        ),
    ],
)
def test_merge_errors_at_their_place(draft: TopologyDraft, body: str, expected: str) -> None:
    found = errors(draft, body)
    assert any(f.startswith(expected) for f in found), found


def test_a_flow_product_is_bounded(draft: TopologyDraft, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ztsim.inputs.k8s.overlay.MAX_FLOWS_PER_ENTRY", 1)
    found = errors(draft, "traffic:\n  - {from: any, to: {namespace: shop}, service: 8080/tcp}\n")
    assert found == [
        "o.yaml:5:5: error: this entry stands for 3 flows (at most 1): narrow its selectors"
    ]
    assert MAX_FLOWS_PER_ENTRY == 10_000


def test_every_error_reported_at_once(draft: TopologyDraft) -> None:
    found = errors(draft, "a: 1\nb: 2\nworkloads: [{select: any, c: 3}]\n")
    assert [f.split(": error")[0] for f in found] == ["o.yaml:4:1", "o.yaml:5:1", "o.yaml:6:27"]


# -- hostile files: the limits of every ztsim file ------------------------------------------


def test_hostile_overlays(tmp_path: Path, draft: TopologyDraft) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text(HEADER + "description: " + "[" * 5000 + "]" * 5000 + "\n")
    laughs = tmp_path / "laughs.yaml"
    laughs.write_text(
        HEADER
        + "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
    )
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"ztsim: 1\nkind: overlay\nname: \xff\n")
    dup = tmp_path / "dup.yaml"
    dup.write_text(HEADER + "credentials: []\ncredentials: []\n")
    for path in (deep, laughs, binary, dup):
        with pytest.raises(InputError) as info:
            load_overlay(path)
        (first, *_) = info.value.diagnostics
        assert first.path == str(path) and first.level == "error"
    with pytest.raises(InputError):
        load_overlay(tmp_path / "missing.yaml")


def test_hostile_corpus_never_a_traceback(draft: TopologyDraft) -> None:
    hostile = Path(__file__).resolve().parent / "hostile" / "cases"
    files = sorted(p for p in hostile.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    assert files
    for path in files:
        try:
            apply_overlay(draft, load_overlay(path))
        except InputError as exc:
            assert exc.diagnostics


# -- the template ----------------------------------------------------------------------------


def test_template_is_an_overlay_that_changes_nothing(draft: TopologyDraft) -> None:
    text = write_overlay_template(draft)
    assert "#   shop/web  kind: Deployment  labels: {app: web, tier: front}" in text
    assert "services: 8080/tcp public" in text
    out = apply_overlay(draft, overlay_from_text(text, "t.yaml"))
    assert out.document == draft.document and not out.notes[len(draft.notes) :]
    assert write_overlay_template(draft) == text  # deterministic


def test_template_examples_uncommented_are_valid(draft: TopologyDraft) -> None:
    text = write_overlay_template(draft)
    body = text.split("explains each key).\n", 1)[1]
    uncommented = "\n".join(line[2:] for line in body.splitlines())
    head = text.split("#\n# Namespaces", 1)[0]
    overlay = overlay_from_text(head + "\n" + uncommented, "t.yaml")
    out = apply_overlay(draft, overlay)
    assert host(out, "shop/web")["vulnerabilities"] == [
        {"id": "CVE-2025-0001", "service": "8080/tcp"}
    ]


def test_template_names_cannot_escape_their_comment(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    evil = "x\nkind: topology\n#"
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "labels": {"a": evil, evil: "on"}},
    }  # fmt: skip
    path.write_text(json.dumps(pod))
    with pytest.raises(InputError):  # the reader refuses such labels (not Kubernetes')
        read_manifests([path])
    # The template's quoting holds even so: labels put in the draft by hand.
    labels = pod["metadata"]["labels"]
    pod["metadata"]["labels"] = {}
    path.write_text(json.dumps(pod))
    draft = topology_document(read_manifests([path]))
    (host,) = draft.document["hosts"]
    host["labels"] = labels
    text = write_overlay_template(draft)
    assert yaml.safe_load(text) == {"ztsim": 1, "kind": "overlay", "name": "kubernetes-overlay"}
    assert '"x\\nkind: topology\\n#": "on"' in text


# -- the guide's examples are real -----------------------------------------------------------


def test_docs_examples_apply(tmp_path: Path) -> None:
    guide = Path(__file__).resolve().parents[1] / "docs" / "k8s.md"
    blocks = re.findall(r"```yaml\n(.*?)```", guide.read_text(encoding="utf-8"), flags=re.S)
    manifests = [b for b in blocks if "apiVersion:" in b]
    (overlay,) = [b for b in blocks if "kind: overlay" in b]
    for i, text in enumerate(manifests):
        (tmp_path / f"m{i}.yaml").write_text(text)
    shop = topology_document(read_manifests([tmp_path / "m0.yaml"]))
    out = apply_overlay(shop, overlay_from_text(overlay, "docs/k8s.md"))
    assert not out.notes
    assert [e["id"] for e in out.document["entry_points"]] == [
        "internet-attacker",
        "phished-developer",
    ]
    topology_from_text(yaml.safe_dump(out.document, sort_keys=False))
    annotated = topology_document(read_manifests([tmp_path / "m1.yaml"]))
    (db,) = annotated.document["hosts"]
    assert db["data"][0]["records"] == 1_200_000


# -- every problem in one pass -----------------------------------------------------------------


def one_pass(draft: TopologyDraft, body: str) -> list[str]:
    """The problems of an overlay (schema and merge) as ``--overlay`` reports them."""
    doc = document_from_text(HEADER + body, "o.yaml")
    return [f"{d.line}:{d.column}: {d.message}" for d in overlay_errors(draft, doc)]


def test_schema_and_merge_errors_reported_together(draft: TopologyDraft) -> None:
    """A vulnerability on a service the workload does not offer was reported only
    once the schema's errors were fixed (issue 25 point 5): now all at once."""
    found = one_pass(
        draft,
        """\
credentials: [{id: token}]
workloads:
  - select: {workload: shop/web}
    vulnerabilities: [{id: CVE-1, service: 9999/tcp}]
    credentials: [{credential: nope}]
  - select: {workload: shop/api}
    logins: [{credential: token, service: 9000/tcp, gives: wizard}]
    bogus: 1
traffic:
  - {from: shop/web, to: shop/api, service: 9000/tcp, credential: undeclared}
""",
    )
    assert found == [
        "7:44: CVE-1 names service 9999/tcp, which shop/web does not offer",
        "8:32: unknown credential 'nope' (declare it under `credentials`)",
        "10:60: workloads.1.logins.0.gives: Input should be 'service', 'user' or 'root'",
        "11:5: unknown key 'bogus'",
        "13:67: unknown credential 'undeclared' (declare it under `credentials`)",
    ]


@pytest.mark.parametrize(
    "body",
    [
        # the service a refused `services` item would add
        "workloads:\n  - select: {workload: shop/web}\n"
        "    services: [{service: 7/tcp, public: 3}]\n"
        "    vulnerabilities: [{id: CVE-1, service: 7/tcp}]\n",
        # ... or a refused entry would add to the same workload
        "workloads:\n  - select: {workload: shop/web, kind: 5}\n    services: [{service: 7/tcp}]\n"
        "  - select: {workload: shop/web}\n    vulnerabilities: [{id: CVE-1, service: 7/tcp}]\n",
        # a credential declared by a refused item
        "credentials: [{id: key, bogus: 1}]\nworkloads:\n  - select: {workload: shop/web}\n"
        "    credentials: [{credential: key}]\n",
        # the one entry point, refused
        "entry_points: [{id: e, zone: internet, gives: wizard}]\n",
    ],
)
def test_what_a_refused_part_may_hold_is_no_error(draft: TopologyDraft, body: str) -> None:
    found = one_pass(draft, body)
    assert found and all("names service" not in f for f in found), found
    assert not [f for f in found if "unknown credential" in f or "no entry point" in f]


def test_unsalvageable_overlay_gives_the_schema_s_errors(draft: TopologyDraft) -> None:
    found = one_pass(
        draft,
        "description: 5\nworkloads:\n  - select: {workload: shop/web}\n"
        "    vulnerabilities: [{id: CVE-1, service: 9999/tcp}]\n",
    )
    assert len(found) == 1 and found[0].startswith("4:14: description: Input should be")


def test_a_valid_overlay_has_its_merge_errors_only(draft: TopologyDraft) -> None:
    body = "workloads:\n  - select: {workload: shop/web}\n    credentials: [{credential: x}]\n"
    assert one_pass(draft, body) == [
        "6:32: unknown credential 'x' (declare it under `credentials`)"
    ]
    assert one_pass(draft, "credentials: [{id: x}]\n") == []


def test_check_k8s_reports_the_overlay_in_one_pass(tmp_path: Path) -> None:
    from ztsim.inputs.k8s.importer import import_k8s

    manifests = tmp_path / "m.yaml"
    manifests.write_text(MANIFESTS)
    overlay = tmp_path / "o.yaml"
    overlay.write_text(
        HEADER + "workloads:\n  - select: {workload: shop/web}\n"
        "    vulnerabilities: [{id: CVE-1, service: 9999/tcp}]\n    bogus: 1\n"
    )
    with pytest.raises(InputError) as info:
        import_k8s([manifests], overlay)
    assert [(d.line, d.message) for d in info.value.diagnostics] == [
        (6, "CVE-1 names service 9999/tcp, which shop/web does not offer"),
        (7, "unknown key 'bogus'"),
    ]
