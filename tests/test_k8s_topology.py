"""Kubernetes workloads as a ztsim topology (ztsim.inputs.k8s.topology) and the
``ztsim.io/`` annotations (ztsim.inputs.k8s.annotations).

Each mapping rule of issue 25 point 2 on a small manifest; the document loads as
a valid topology; the same manifests in any file order give the same bytes;
malformed annotations are errors at their FILE:LINE:COL.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from ztsim.inputs.k8s import read_manifests
from ztsim.inputs.k8s.annotations import Item, parse_items
from ztsim.inputs.k8s.drafts import TopologyDraft
from ztsim.inputs.k8s.topology import topology_document
from ztsim.inputs.loader import topology_from_text
from ztsim.model.diagnostics import InputError


def draft_of(tmp_path: Path, text: str, name: str = "m.yaml") -> TopologyDraft:
    path = tmp_path / name
    path.write_text(text)
    draft = topology_document(read_manifests([path]))
    # Whatever it maps, the document is a topology ztsim loads.
    topology_from_text(yaml.safe_dump(draft.document, sort_keys=False))
    return draft


def hosts(draft: TopologyDraft) -> dict[str, dict[str, Any]]:
    return {h["id"]: h for h in draft.document["hosts"]}


def services(draft: TopologyDraft, host: str) -> dict[str, dict[str, Any]]:
    return {s["service"]: s for s in hosts(draft)[host].get("services", [])}


def deployment(name: str, ns: str, labels: str, ports: str = "[]", extra: str = "") -> str:
    return f"""\
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  template:
    metadata: {{labels: {labels}{extra}}}
    spec: {{containers: [{{name: c, ports: {ports}}}]}}
"""


def service(name: str, ns: str, selector: str, ports: str, kind: str = "ClusterIP") -> str:
    return f"""\
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec: {{type: {kind}, selector: {selector}, ports: {ports}}}
"""


OWNERS = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d8f
  namespace: shop
  ownerReferences: [{kind: Deployment, name: web, controller: true}]
spec:
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d8f}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d8f-x1
  namespace: shop
  labels: {app: web, pod-template-hash: 5d8f}
  ownerReferences: [{kind: ReplicaSet, name: web-5d8f, controller: true}]
spec: {containers: [{name: c, ports: [{containerPort: 9090, protocol: UDP}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: debug, labels: {app: debug}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: batch}}
        spec: {containers: [{name: c}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: shop}
spec:
  template:
    metadata: {labels: {app: once}}
    spec: {containers: [{name: c}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, ports: [{containerPort: 5432, name: pg}]}]}
"""


def test_zones_hosts_owners(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, OWNERS)
    doc = draft.document
    assert doc["ztsim"] == 1 and doc["kind"] == "topology"
    # A zone per namespace (declared or only used), sorted, then the internet.
    assert [(z["id"], z.get("external", False)) for z in doc["zones"]] == [
        ("data", False),
        ("default", False),
        ("shop", False),
        ("internet", True),
    ]
    # One host per owner: the Deployment takes its ReplicaSet and Pod; a bare pod
    # in no namespace is default's; Jobs and CronJobs are workloads too.
    assert list(hosts(draft)) == [
        "data/db",
        "default/debug",
        "shop/nightly",
        "shop/once",
        "shop/web",
    ]
    web = hosts(draft)["shop/web"]
    assert web["zone"] == "shop"
    assert web["labels"] == {"app": "web"}  # the first manifest's labels
    assert web["description"] == "Deployment shop/web"
    assert hosts(draft)["default/debug"]["zone"] == "default"
    assert hosts(draft)["shop/nightly"]["description"] == "CronJob shop/nightly"
    # Provenance: each host's workload and its first manifest; namespaces declared.
    assert draft.provenance["shop/web"].name == "Deployment shop/web"
    assert (
        draft.provenance["shop/web"].source.line,
        draft.provenance["shop/web"].source.column,
    ) == (
        5,
        1,
    )
    assert draft.provenance["default/debug"].source.line == 33
    assert draft.provenance["shop"].name == "Namespace shop"
    assert "data" not in draft.provenance  # only referred to: no manifest to name


def test_container_ports_named_ports_kept(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, OWNERS)
    # The ports of every manifest of the workload, a named port's name kept.
    assert services(draft, "shop/web") == {
        "8080/tcp": {"service": "8080/tcp", "name": "http"},
        "9090/udp": {"service": "9090/udp"},
    }
    assert services(draft, "data/db") == {"5432/tcp": {"service": "5432/tcp", "name": "pg"}}
    assert "services" not in hosts(draft)["shop/nightly"]


def test_default_entry_point_is_the_internet(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, OWNERS)
    (entry,) = draft.document["entry_points"]
    assert (entry["id"], entry["zone"]) == ("internet-attacker", "internet")


def test_a_namespace_named_internet_keeps_its_name(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, deployment("web", "internet", "{app: web}"))
    zones = [(z["id"], z.get("external", False)) for z in draft.document["zones"]]
    assert zones == [("internet", False), ("internet.external", True)]
    assert draft.document["entry_points"][0]["zone"] == "internet.external"


SERVICES = (
    deployment("web", "shop", "{app: web}", "[{name: http, containerPort: 8080}]")
    + deployment("api", "shop", "{app: web, tier: api}", "[{name: http, containerPort: 9000}]")
    + deployment("other", "elsewhere", "{app: web}", "[{name: http, containerPort: 7000}]")
    + deployment("dns", "shop", "{app: dns}", "[{name: dns, containerPort: 53, protocol: UDP}]")
)


def test_service_targets_named_per_workload(tmp_path: Path) -> None:
    # A named targetPort is resolved per pod: 8080 on web, 9000 on api; the Service
    # selects in its own namespace only.
    text = SERVICES + service("web", "shop", "{app: web}", "[{port: 80, targetPort: http}]")
    draft = draft_of(tmp_path, text)
    assert set(services(draft, "shop/web")) == {"8080/tcp"}
    assert set(services(draft, "shop/api")) == {"9000/tcp"}
    assert set(services(draft, "elsewhere/other")) == {"7000/tcp"}
    assert not draft.notes


def test_service_numeric_target_is_listened_on(tmp_path: Path) -> None:
    # Containers need not declare their ports: the Service's target is added, with
    # no name (a Service port's name is no container port's name).
    text = SERVICES + service(
        "web", "shop", "{app: web}", "[{port: 80, targetPort: 8443, name: https}, {port: 81}]"
    )
    draft = draft_of(tmp_path, text)
    assert services(draft, "shop/web") == {
        "81/tcp": {"service": "81/tcp"},
        "8080/tcp": {"service": "8080/tcp", "name": "http"},
        "8443/tcp": {"service": "8443/tcp"},
    }
    assert "public" not in services(draft, "shop/web")["8443/tcp"]  # ClusterIP


def test_named_target_missing_or_other_protocol_is_noted(tmp_path: Path) -> None:
    text = SERVICES + service(
        "dns", "shop", "{app: dns}", "[{port: 53, targetPort: dns, protocol: TCP}]"
    )
    draft = draft_of(tmp_path, text)
    assert set(services(draft, "shop/dns")) == {"53/udp"}
    (note,) = draft.notes
    assert note.level == "warning" and note.line == 34  # the Service's manifest
    assert "named port 'dns' (TCP), which Deployment shop/dns does not declare" in note.message


@pytest.mark.parametrize("kind", ["LoadBalancer", "NodePort"])
def test_load_balancer_and_node_port_publish(tmp_path: Path, kind: str) -> None:
    text = SERVICES + service("web", "shop", "{tier: api}", "[{port: 443, targetPort: http}]", kind)
    draft = draft_of(tmp_path, text)
    assert services(draft, "shop/api")["9000/tcp"]["public"] is True
    assert "public" not in services(draft, "shop/web")["8080/tcp"]
    (by,) = draft.published[("shop/api", "9000/tcp")]
    assert by.name == f"{kind} Service shop/web"


def test_cluster_ip_publishes_nothing(tmp_path: Path) -> None:
    text = SERVICES + service("web", "shop", "{app: web}", "[{port: 80, targetPort: http}]")
    draft = draft_of(tmp_path, text)
    assert not draft.published
    assert not any(s.get("public") for h in draft.document["hosts"] for s in h.get("services", []))


INGRESS = (
    SERVICES
    + service("web", "shop", "{tier: api}", "[{port: 80, targetPort: http, name: web}, {port: 81}]")
    + """\
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: front, namespace: shop}
spec:
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /b, pathType: Prefix, backend: {service: {name: web, port: {name: web}}}}
      - {path: /c, pathType: Prefix, backend: {service: {name: ghost, port: {number: 80}}}}
      - {path: /d, pathType: Prefix, backend: {service: {name: web, port: {number: 99}}}}
"""
)


def test_ingress_publishes_its_backends_target(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, INGRESS)
    svc = services(draft, "shop/api")
    assert svc["9000/tcp"]["public"] is True  # port 80 (and by name) -> http -> 9000
    assert "public" not in svc["81/tcp"]  # port 81: no backend names it
    assert [p.name for p in draft.published[("shop/api", "9000/tcp")]] == ["Ingress shop/front"]
    messages = sorted(n.message for n in draft.notes)
    assert messages == [
        "Ingress shop/front sends to Service shop/ghost, which is not in the manifests: "
        "it publishes nothing ztsim knows",
        "Ingress shop/front sends to Service shop/web, which has no port 99: "
        "it publishes nothing there",
    ]


def test_route_publishes_by_target_port(tmp_path: Path) -> None:
    text = (
        SERVICES
        + service("web", "shop", "{app: web}", "[{port: 80, targetPort: http}]")
        + """\
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: r, namespace: shop}
spec: {to: {kind: Service, name: web}, port: {targetPort: http}}
"""
    )
    draft = draft_of(tmp_path, text)
    assert services(draft, "shop/web")["8080/tcp"]["public"] is True
    assert services(draft, "shop/api")["9000/tcp"]["public"] is True
    assert [p.name for p in draft.published[("shop/web", "8080/tcp")]] == ["Route shop/r"]


def test_a_route_with_no_port_publishes_every_port(tmp_path: Path) -> None:
    text = (
        SERVICES
        + service("web", "shop", "{tier: api}", "[{port: 80, targetPort: http}, {port: 81}]")
        + """\
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: r, namespace: shop}
spec: {to: {kind: Service, name: web}}
"""
    )
    draft = draft_of(tmp_path, text)
    assert {k for k, v in services(draft, "shop/api").items() if v.get("public")} == {
        "81/tcp",
        "9000/tcp",
    }


def test_published_service_selecting_nothing_is_noted(tmp_path: Path) -> None:
    text = SERVICES + service("lb", "shop", "{app: none}", "[{port: 80}]", "LoadBalancer")
    draft = draft_of(tmp_path, text)
    (note,) = draft.notes
    assert "LoadBalancer Service shop/lb selects no workload" in note.message


def test_long_ids_are_shortened_and_unique(tmp_path: Path) -> None:
    long_a, long_b = "a" * 250, "a" * 249 + "b"
    text = deployment(long_a, "ns", "{x: y}") + deployment(long_b, "ns", "{x: y}")
    draft = draft_of(tmp_path, text)
    ids = list(hosts(draft))
    assert len(set(ids)) == 2 and all(len(i) == 200 for i in ids)
    assert all("shortened" in n.message for n in draft.notes)


def test_same_manifests_any_order_same_bytes(tmp_path: Path) -> None:
    text = OWNERS + INGRESS
    docs = [d for d in text.split("---\n") if d.strip()]
    first = draft_of(tmp_path, text, "a.yaml").document
    rng = random.Random(7)
    for i in range(5):
        rng.shuffle(docs)
        again = draft_of(tmp_path, "---\n" + "---\n".join(docs), f"b{i}.yaml").document
        assert json.dumps(again) == json.dumps(first)


# -- annotations -----------------------------------------------------------------------------


def test_parse_items() -> None:
    assert parse_items("CVE-1@443/tcp:root, CVE-2 ,x:user") == [
        Item("CVE-1", "443/tcp", "root"),
        Item("CVE-2", None, None),
        Item("x", None, "user"),
    ]
    for bad in [
        "",
        "a,,b",
        "a@443",
        "a@443/icmp",
        "a:admin",
        "a@0/tcp",
        "a@70000/tcp",
        "-a",
        "a b",
    ]:
        with pytest.raises(ValueError):
            parse_items(bad)


ANNOTATED = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: db
  namespace: data
  annotations:
    ztsim.io/data: "customers@5432/tcp"
spec:
  template:
    metadata:
      labels: {app: db}
      annotations:
        ztsim.io/records: "1200000"
        ztsim.io/classification: pii
        ztsim.io/integrity: "true"
        ztsim.io/logins: "db-password@5432/tcp:service, admin-key@22/tcp:root"
        ztsim.io/vulnerability: "CVE-2025-2, CVE-2025-1@22/tcp"
        ztsim.io/encrypted: 22/tcp
        other.io/ignored: "anything"
    spec:
      containers: [{name: c, ports: [{containerPort: 5432}, {containerPort: 22}]}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations:
    ztsim.io/credentials: "db-password, admin-key:root"
    ztsim.io/entry: user
"""


def test_annotations_applied(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, ANNOTATED)
    db, web = hosts(draft)["data/db"], hosts(draft)["shop/web"]
    assert db["data"] == [
        {
            "id": "customers",
            "requires": "service",
            "service": "5432/tcp",
            "classification": "pii",
            "records": 1200000,
            "integrity": True,
        }
    ]
    assert db["logins"] == [
        {"credential": "db-password", "service": "5432/tcp", "gives": "service"},
        {"credential": "admin-key", "service": "22/tcp", "gives": "root"},
    ]
    assert db["vulnerabilities"] == [
        {"id": "CVE-2025-2", "local": True, "gives": "root"},
        {"id": "CVE-2025-1", "service": "22/tcp", "gives": "user"},
    ]
    assert services(draft, "data/db")["22/tcp"]["encrypted"] is True
    assert web["credentials"] == [
        {"credential": "db-password", "requires": "user"},
        {"credential": "admin-key", "requires": "root"},
    ]
    assert draft.document["credentials"] == [{"id": "admin-key"}, {"id": "db-password"}]
    assert draft.document["entry_points"][1] == {
        "id": "foothold@shop/web",
        "host": "shop/web",
        "gives": "user",
        "description": "annotation ztsim.io/entry on Pod shop/web",
    }
    # The data item names the annotation that declared it, at its workload.
    by = draft.provenance["customers"]
    assert (by.source.line, by.name) == (1, "annotation ztsim.io/data on Deployment data/db")


def annotation_errors(tmp_path: Path, annotations: str, ports: str = "[]") -> list[str]:
    text = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
{annotations}
spec: {{containers: [{{name: c, ports: {ports}}}]}}
"""
    path = tmp_path / "a.yaml"
    path.write_text(text)
    manifests = read_manifests([path])
    with pytest.raises(InputError) as info:
        topology_document(manifests)
    return [str(d).replace(str(path), "a.yaml") for d in info.value.diagnostics]


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        (
            '    ztsim.io/vulnerabilities: "CVE-1@443/tcp"',
            "a.yaml:6:31: error: ztsim.io/vulnerabilities: vulnerability CVE-1 names service "
            "443/tcp, which default/p does not offer (it offers: none)",
        ),
        (
            "    ztsim.io/vulnerabilites: CVE-1",
            "a.yaml:6:30: error: ztsim.io/vulnerabilites: unknown ztsim annotation (known: ",
        ),
        (
            "    ztsim.io/data: 'a b'",
            "a.yaml:6:20: error: ztsim.io/data: 'a b' is not ID[@PORT/PROTO][:LEVEL]",
        ),
        (
            "    ztsim.io/records: '12'",
            "a.yaml:6:23: error: ztsim.io/records: the workload has no data item",
        ),
        (
            "    ztsim.io/data: d\n    ztsim.io/records: 'many'",
            "a.yaml:7:23: error: ztsim.io/records: 'many' is not a whole number of records",
        ),
        (
            "    ztsim.io/data: d\n    ztsim.io/integrity: 'yes'",
            "a.yaml:7:25: error: ztsim.io/integrity: 'yes': write true or false",
        ),
        (
            "    ztsim.io/vulnerabilities: 'CVE-1:user'",
            "a.yaml:6:31: error: ztsim.io/vulnerabilities: local vulnerability CVE-1: level user",
        ),
        (
            "    ztsim.io/logins: 'c'",
            "a.yaml:6:22: error: ztsim.io/logins: login c: name the service it opens",
        ),
        (
            "    ztsim.io/credentials: 'c@22/tcp'",
            "a.yaml:6:27: error: ztsim.io/credentials: credential c: a stored credential names",
        ),
        (
            "    ztsim.io/data: 'd@80/tcp:user'",
            "a.yaml:6:20: error: ztsim.io/data: data d: level user (allowed: service)",
        ),
        (
            "    ztsim.io/data: 'd, d'",
            "a.yaml:6:20: error: ztsim.io/data: data d is declared already, at ",
        ),
        ("    ztsim.io/entry: admin", "a.yaml:6:21: error: ztsim.io/entry: 'admin': the level"),
        (
            "    ztsim.io/encrypted: 80/tcp",
            "a.yaml:6:25: error: ztsim.io/encrypted: '80/tcp' is not a service default/p offers",
        ),
    ],
)
def test_annotation_errors_at_their_place(tmp_path: Path, annotations: str, expected: str) -> None:
    (found,) = annotation_errors(tmp_path, annotations)
    assert found.startswith(expected), found


def test_every_annotation_error_is_reported(tmp_path: Path) -> None:
    found = annotation_errors(
        tmp_path, "    ztsim.io/entry: x\n    ztsim.io/data: '?'\n    ztsim.io/nope: y"
    )
    assert [f.split(":")[1] for f in found] == ["6", "7", "8"]


def test_data_declared_twice_across_workloads(tmp_path: Path) -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: a, annotations: {ztsim.io/data: d}}
---
apiVersion: v1
kind: Pod
metadata: {name: b, annotations: {ztsim.io/data: d}}
"""
    path = tmp_path / "a.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        topology_document(read_manifests([path]))
    (d,) = info.value.diagnostics
    assert (d.line, d.column) == (7, 50)
    assert d.message == f"ztsim.io/data: data d is declared already, at {path}:3"


def test_template_annotations_win_over_the_workload_objects(tmp_path: Path) -> None:
    text = deployment(
        "w", "ns", "{a: b}", extra=", annotations: {ztsim.io/data: inner}"
    ).replace("metadata: {name: w, namespace: ns}", "metadata: {name: w, namespace: ns, "
              "annotations: {ztsim.io/data: outer, ztsim.io/records: '5'}}")  # fmt: skip
    draft = draft_of(tmp_path, text)
    assert hosts(draft)["ns/w"]["data"] == [{"id": "inner", "requires": "user", "records": 5}]
