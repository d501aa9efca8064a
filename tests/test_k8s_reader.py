"""ztsim's Kubernetes manifest reader (ztsim.inputs.k8s).

The adapted netpol-analyzer cases (tests/k8s/netpol_analyzer/) all read, and give
the workloads the reference evaluator (tests/k8s_reference.py, plain
``yaml.safe_load_all``) finds; the owner rules, stream forms and kinds are checked
one by one; a malformed manifest gives FILE:LINE:COL, never a traceback.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_reference import load_cluster

from ztsim.inputs.k8s import Manifests, read_manifests
from ztsim.inputs.k8s.objects import (
    NAMESPACE_LABEL,
    AdminPeer,
    AdminPort,
    ContainerPort,
    IPBlock,
    LabelSelector,
    PolicyPeer,
    PolicyPort,
    Requirement,
    label_map,
)
from ztsim.model.diagnostics import InputError

CASES_DIR = Path(__file__).resolve().parent / "k8s" / "netpol_analyzer"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def errors_of(paths: list[Path]) -> list[str]:
    """The diagnostics reading ``paths`` raises, as ``FILE:LINE:COL: level: message``."""
    with pytest.raises(InputError) as info:
        read_manifests(paths)
    return [str(d) for d in info.value.diagnostics]


# -- the conformance cases ---------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_case_reads_with_the_reference_workloads(case: str) -> None:
    read = read_manifests([CASES_DIR / case])
    ref = load_cluster([CASES_DIR / case])
    ours = {w.id: (w.kind, label_map(w.labels), set(w.ports)) for w in read.workloads}
    theirs = {
        f"{w.namespace}/{w.name}": (
            w.kind,
            w.labels,
            {ContainerPort(p.number, p.protocol, p.name) for p in w.ports},  # type: ignore[arg-type]
        )
        for w in ref.workloads
    }
    assert ours == theirs
    assert len(read.network_policies) == len(ref.netpols)
    assert len(read.admin_policies) == len(ref.anps)
    assert len(read.baseline_policies) == (ref.banp is not None)
    namespaces = {ns.name: label_map(ns.labels) for ns in read.namespaces}
    assert {k: v for k, v in namespaces.items() if k in ref.namespaces} == ref.namespaces
    assert set(namespaces) >= {w.namespace for w in read.workloads}
    for name, labels in namespaces.items():
        assert labels[NAMESPACE_LABEL] == name
    assert len(read.services) == len(ref.others.get("Service", []))
    routes = len(ref.others.get("Ingress", [])) + len(ref.others.get("Route", []))
    assert len(read.ingresses) == routes


def test_case_notes_are_warnings_with_places() -> None:
    read = read_manifests([CASES_DIR / "netpol_named_port_test"])
    (note,) = read.notes
    assert note.level == "warning" and note.path.endswith("pods.yaml")
    assert (note.line, note.column) == (32, 11)
    assert "'containerport' read as 'containerPort'" in note.message


def test_sources_point_at_the_objects() -> None:
    case = CASES_DIR / "anp_test_3_pass_traffic"
    read = read_manifests([case])
    for obj in (*read.workloads, *read.admin_policies, *read.network_policies):
        lines = Path(obj.source.path).read_text().splitlines()
        assert lines[obj.source.line - 1].split(":")[0] in ("apiVersion", "kind", "metadata")
    anp = read.admin_policies[0]
    rule = (*anp.ingress, *anp.egress)[0]
    text = Path(rule.source.path).read_text().splitlines()[rule.source.line - 1]
    assert text.strip().startswith("- ")


# -- reading forms -------------------------------------------------------------------------


SHOP = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: web}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: web}, annotations: {ztsim.io/data: pii}}
    spec:
      containers:
      - name: c
        ports:
        - {name: http, containerPort: 8080}
        - {containerPort: 53, protocol: UDP}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d8f
  namespace: shop
  ownerReferences: [{kind: Deployment, name: web, controller: true}]
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d8f-abcde
  namespace: shop
  labels: {app: web}
  ownerReferences: [{kind: ReplicaSet, name: web-5d8f, controller: true}]
spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
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
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: http}, {port: 443, targetPort: 8443, nodePort: 30443}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
  rules:
  - host: shop.example.com
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {name: https}}}}]
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: web, namespace: shop}
spec: {host: r.example.com, to: {kind: Service, name: web}, port: {targetPort: http}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: web}}
      podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [debug]}]}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports: [{port: http}, {port: 9000, endPort: 9100, protocol: UDP}]
  egress:
  - {}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: guard}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: web}}}
  ingress:
  - {name: pass, action: Pass, from: [{namespaces: {}}], ports: [{namedPort: http}]}
  egress:
  - name: out
    action: Deny
    to: [{networks: [0.0.0.0/0]}]
    ports:
    - portRange: {protocol: TCP, start: 1, end: 1024}
    - portNumber: {port: 53, protocol: UDP}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: fqdn, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
  - toFQDNs: [{matchName: api.example.com}, {matchPattern: "*.cdn.example.com"}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: shop}
"""


@pytest.fixture
def shop(tmp_path: Path) -> Manifests:
    return read_manifests([write(tmp_path, "shop.yaml", SHOP)])


def test_workloads_and_owner_rules(shop: Manifests) -> None:
    assert [w.id for w in shop.workloads] == ["shop/web", "default/debug", "shop/nightly"]
    web = shop.workloads[0]
    # The Deployment, its ReplicaSet and the ReplicaSet's pod: one workload.
    assert web.kind == "Deployment" and len(web.sources) == 3
    assert [s.line for s in web.sources] == [5, 19, 30]
    assert label_map(web.labels) == {"app": "web"}
    assert label_map(web.annotations) == {"ztsim.io/data": "pii"}
    assert web.ports == (ContainerPort(8080, "TCP", "http"), ContainerPort(53, "UDP"))
    assert shop.workload("default/debug") is not None
    assert shop.workload("shop/nightly").kind == "CronJob"  # type: ignore[union-attr]


def test_replicas_differing_in_revision_labels_only(tmp_path: Path) -> None:
    pod = (
        "kind: Pod\nmetadata:\n  name: db-{0}\n  labels: {{app: db, "
        "statefulset.kubernetes.io/pod-name: db-{0}}}\n"
        "  ownerReferences: [{{kind: StatefulSet, name: db, controller: true}}]\n"
    )
    path = write(tmp_path, "p.yaml", pod.format(0) + "---\n" + pod.format(1))
    read = read_manifests([path])
    (db,) = read.workloads
    assert db.id == "default/db" and db.kind == "StatefulSet" and len(db.sources) == 2
    assert read.notes == ()  # the replicas differ only in a per-pod label


def test_namespaces(shop: Manifests) -> None:
    by_name = {ns.name: ns for ns in shop.namespaces}
    assert label_map(by_name["shop"].labels) == {"team": "web", NAMESPACE_LABEL: "shop"}
    assert by_name["default"].source is None  # only referred to
    assert by_name["default"].labels == ((NAMESPACE_LABEL, "default"),)


def test_services_and_entries(shop: Manifests) -> None:
    (svc,) = shop.services
    assert svc.type == "LoadBalancer" and svc.selector == (("app", "web"),)
    assert [(p.port, p.target, p.node_port) for p in svc.ports] == [
        (80, "http", None),
        (443, 8443, 30443),
    ]
    ingress, route = shop.ingresses
    assert ingress.kind == "Ingress" and ingress.hosts == ("shop.example.com",)
    assert [(b.service, b.port) for b in ingress.backends] == [("web", 80), ("web", "https")]
    assert route.kind == "Route" and [(b.service, b.port) for b in route.backends] == [
        ("web", "http")
    ]


def test_network_policy(shop: Manifests) -> None:
    (np,) = shop.network_policies
    assert np.policy_types == ("Ingress", "Egress")  # defaulted: there are egress rules
    (rule,) = np.ingress
    assert rule.peers == (
        PolicyPeer(
            LabelSelector(match_expressions=(Requirement("app", "NotIn", ("debug",)),)),
            LabelSelector((("team", "web"),)),
        ),
        PolicyPeer(ip_block=IPBlock("10.0.0.0/8", ("10.1.0.0/16",))),
    )
    assert rule.ports == (PolicyPort("TCP", "http"), PolicyPort("UDP", 9000, 9100))
    assert np.egress[0].peers is None and np.egress[0].ports is None


def test_admin_policies(shop: Manifests) -> None:
    (anp,) = shop.admin_policies
    assert anp.priority == 10 and anp.subject == AdminPeer(
        namespaces=LabelSelector((("team", "web"),))
    )
    assert anp.ingress[0].action == "Pass" and anp.ingress[0].ports == (
        AdminPort(None, named="http"),
    )
    assert anp.egress[0].peers == (AdminPeer(networks=("0.0.0.0/0",)),)
    assert anp.egress[0].ports == (AdminPort("TCP", 1, 1024), AdminPort("UDP", 53, 53))
    (banp,) = shop.baseline_policies
    assert banp.subject.pods == (LabelSelector(), LabelSelector((("app", "web"),)))
    assert banp.ingress[0].ports is None


def test_cilium_fqdn_egress(shop: Manifests) -> None:
    (cnp,) = shop.cilium_policies
    (rule,) = cnp.egress
    assert [(f.match_name, f.match_pattern) for f in rule.fqdns] == [
        ("api.example.com", None),
        (None, "*.cdn.example.com"),
    ]
    assert rule.ports == (PolicyPort("TCP", 443),)


def test_cilium_specs_and_unread_rules(tmp_path: Path) -> None:
    text = (
        "kind: CiliumNetworkPolicy\nmetadata: {name: c, namespace: n}\nspecs:\n"
        "- endpointSelector: {matchLabels: {app: a}}\n"
        "  egress: [{toFQDNs: [{matchName: a.example.com}]}]\n"
        "- endpointSelector: {}\n  ingress: [{fromEndpoints: [{}]}]\n"
    )
    read = read_manifests([write(tmp_path, "c.yaml", text)])
    first, second = read.cilium_policies
    assert first.source.line == 4 and len(first.egress) == 1
    assert second.source.line == 6 and second.egress == ()
    (note,) = read.notes
    assert (note.line, note.column) == (7, 3) and "ingress rules are not read" in note.message


def test_other_kinds_one_note_each(shop: Manifests) -> None:
    (note,) = [n for n in shop.notes if "ConfigMap" in n.message]
    assert note.level == "warning" and "skipped 2 ConfigMap object(s)" in note.message
    # At the first ConfigMap (its apiVersion line, just above its kind).
    assert note.line == SHOP.splitlines().index("kind: ConfigMap")


def test_directories_json_and_lists(tmp_path: Path) -> None:
    ns_list = {
        "kind": "NamespaceList",
        "items": [{"metadata": {"name": "b", "labels": {"x": "y"}}}],
    }
    pod_list = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"kind": "PodList", "items": [{"metadata": {"name": "p2", "namespace": "b"}}]},
            {"kind": "Pod", "metadata": {"name": "p1", "namespace": "b"}},
        ],
    }
    write(tmp_path, "z/ns.json", json.dumps(ns_list, indent=1))
    write(tmp_path, "a/pods.yml", yaml.safe_dump(pod_list))
    write(tmp_path, "a/ignored.txt", "not a manifest")
    read = read_manifests([tmp_path])
    assert [Path(f).name for f in read.files] == ["pods.yml", "ns.json"]
    assert [w.id for w in read.workloads] == ["b/p2", "b/p1"]
    assert label_map(read.namespaces[0].labels) == {"x": "y", NAMESPACE_LABEL: "b"}


def test_streams_crlf_empty_documents_and_markers(tmp_path: Path) -> None:
    text = (
        "# header\n---\n---\n# nothing\n---\nkind: Pod\nmetadata: {name: a}\n...\n"
        "--- \nkind: Pod\nmetadata: {name: b}\n"
    )
    path = write(tmp_path, "s.yaml", text.replace("\n", "\r\n"))
    assert [w.id for w in read_manifests([path]).workloads] == ["default/a", "default/b"]


def test_empty_lists_mean_all_and_defaults(tmp_path: Path) -> None:
    text = (
        "kind: NetworkPolicy\nmetadata: {name: n}\n"
        "spec: {policyTypes: [], ingress: [{from: [], ports: []}], egress: []}\n"
        "---\n%YAML 1.1\n---\nkind: Pod\nmetadata: {name: p}\n"
    )
    read = read_manifests([write(tmp_path, "e.yaml", text)])
    (np,) = read.network_policies
    assert np.policy_types == ("Ingress",)  # an empty list is defaulted, as Kubernetes does
    assert np.ingress[0].peers is None and np.ingress[0].ports is None
    assert np.pod_selector == LabelSelector()
    assert [w.id for w in read.workloads] == ["default/p"]


def test_ingress_v1beta1(tmp_path: Path) -> None:
    text = (
        "apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata: {name: i}\n"
        "spec:\n  backend: {serviceName: a, servicePort: 80}\n"
        "  rules: [{http: {paths: [{backend: {serviceName: b, servicePort: web}}]}}]\n"
    )
    (ingress,) = read_manifests([write(tmp_path, "i.yaml", text)]).ingresses
    assert [(b.service, b.port) for b in ingress.backends] == [("a", 80), ("b", "web")]


def test_same_priority_noted(tmp_path: Path) -> None:
    anp = (
        "kind: AdminNetworkPolicy\nmetadata: {{name: {}}}\n"
        "spec: {{priority: 5, subject: {{namespaces: {{}}}}}}\n"
    )
    path = write(tmp_path, "a.yaml", anp.format("a") + "---\n" + anp.format("b"))
    (note,) = read_manifests([path]).notes
    assert note.line == 5 and "priority (5) of a at" in note.message


# -- malformed manifests ----------------------------------------------------------------


BAD = [
    # (manifest, expected "LINE:COL: error: message" fragment)
    ("kind: Pod\nmetadata: {namespace: x}\n", "2:11: error: missing required field 'name'"),
    ("kind: Pod\nmetadata: {name: [a]}\n", "2:18: error: 'name' must be a string, not a list"),
    ("metadata: {name: a}\n", "1:1: error: missing required field 'kind'"),
    ("- kind: Pod\n", "1:1: error: a manifest must be a mapping"),
    (
        "kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - ports:\n"
        "    - containerPort: http\n",
        "6:22: error: 'containerPort' must be a port number, not 'http'",
    ),
    (
        "kind: Pod\nmetadata: {name: a, labels: {v: 1}}\n",
        "2:33: error: 'labels' must map strings to strings: 'v': 1",
    ),
    (
        "kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress:\n  - from:\n"
        "    - ipBlock: {cidr: 10.0.0.0/33}\n",
        "6:23: error: not a CIDR: '10.0.0.0/33'",
    ),
    (
        "kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress:\n  - from:\n"
        "    - {ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}\n",
        "6:7: error: a peer has either ipBlock or selectors, not both",
    ),
    (
        "kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector:\n    matchExpressions:\n"
        "    - {key: a, operator: Has}\n",
        "6:26: error: 'operator' must be one of In, NotIn, Exists, DoesNotExist, not 'Has'",
    ),
    (
        "kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  egress:\n"
        "  - ports: [{port: http, endPort: 90}]\n",
        "5:35: error: endPort needs a numeric 'port'",
    ),
    (
        "kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  policyTypes: [Ingress, Sideways]\n",
        "4:26: error: a policy type is Ingress or Egress, not 'Sideways'",
    ),
    ("kind: NetworkPolicy\nmetadata: {name: n}\n", "1:1: error: missing required field 'spec'"),
    (
        "kind: AdminNetworkPolicy\nmetadata: {name: a}\nspec:\n  priority: high\n"
        "  subject: {namespaces: {}}\n",
        "4:13: error: 'priority' must be an integer, not 'high'",
    ),
    (
        "kind: AdminNetworkPolicy\nmetadata: {name: a}\nspec:\n  priority: 1\n"
        "  subject: {namespaces: {}}\n"
        "  egress: [{action: Maybe, to: [{networks: [1.2.3.4/32]}]}]\n",
        "6:21: error: 'action' must be one of Allow, Deny, Pass, not 'Maybe'",
    ),
    (
        "kind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n"
        "  subject: {namespaces: {}}\n  ingress: [{action: Pass, from: [{namespaces: {}}]}]\n",
        "5:22: error: 'action' must be one of Allow, Deny, not 'Pass'",
    ),
    (
        "kind: AdminNetworkPolicy\nmetadata: {name: a}\nspec:\n  priority: 1\n"
        "  subject: {namespaces: {}, pods: {}}\n",
        "5:12: error: exactly one of namespaces, pods is needed, not 2",
    ),
    (
        "kind: Service\nmetadata: {name: s}\nspec: {type: Internal, ports: [{port: 0}]}\n",
        "3:14: error: 'type' must be one of ClusterIP, NodePort, LoadBalancer, ExternalName",
    ),
    (
        "kind: Route\nmetadata: {name: r}\nspec: {to: {kind: Service}}\n",
        "3:12: error: missing required field 'name'",
    ),
    (
        "kind: CiliumNetworkPolicy\nmetadata: {name: c}\nspec:\n  egress:\n  - toFQDNs: [{}]\n",
        "5:15: error: a toFQDNs entry has exactly one of matchName, matchPattern",
    ),
    (
        "kind: Deployment\nmetadata: {name: d}\nspec: {}\n",
        "3:7: error: missing required field 'template'",
    ),
    # Names that cannot stand in an id (NAMESPACE/NAME, a zone).
    ('kind: Pod\nmetadata: {name: "a b"}\n', "2:18: error: 'name' must be a DNS-1123 subdomain"),
    (
        'kind: Pod\nmetadata: {name: a, namespace: "x/y"}\n',
        "2:32: error: 'namespace' must be a DNS-1123 label",
    ),
    ("kind: Namespace\nmetadata: {name: a.b}\n", "2:18: error: 'name' must be a DNS-1123 label"),
    ('kind: Pod\nmetadata: {name: "a\\e[31m"}\n', "2:18: error: 'name' must be a DNS-1123"),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_manifest_file_line_col(tmp_path: Path, text: str, expected: str) -> None:
    # Placed after a good document, so the lines are the stream's, not the part's.
    good = "kind: Namespace\nmetadata: {name: ok}\n---\n"
    path = write(tmp_path, "bad.yaml", good + text)
    line, rest = expected.split(":", 1)
    shifted = f"{path}:{int(line) + 3}:{rest}"
    found = errors_of([path])
    assert any(d.startswith(shifted) for d in found), found


def test_every_problem_is_reported(tmp_path: Path) -> None:
    a = write(
        tmp_path, "a.yaml", "kind: Pod\nmetadata: {}\n---\nkind: Service\nmetadata: {name: 1}\n"
    )
    b = write(tmp_path, "b.json", '{"kind": "Pod",\n "kind": "Pod"}')
    found = errors_of([a, b, tmp_path / "missing.yaml"])
    assert len(found) == 4
    assert found[0].startswith(f"{a}:2:11: error: missing required field 'name'")
    assert found[1].startswith(f"{a}:5:18: error: 'name' must be a string")
    assert found[2].startswith(f"{b}:2:2: error: invalid JSON: duplicate key 'kind'")
    assert found[3].startswith(f"{tmp_path / 'missing.yaml'}:1:1: error: no such file")


def test_syntax_error_in_a_later_document(tmp_path: Path) -> None:
    path = write(
        tmp_path, "s.yaml", "kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: [b\n"
    )
    (found,) = errors_of([path])
    assert found.startswith(f"{path}:6:1: error: invalid YAML")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_bytes(b"kind: Pod\nmetadata: {name: \xff}\n")
    (found,) = errors_of([path])
    assert found.startswith(f"{path}:2:18: error: not UTF-8 text")


def test_hostile_corpus_never_a_traceback() -> None:
    # The files of ztsim's hostile corpus (not manifests, most of them): read or
    # refused with diagnostics, never an exception of another kind.
    hostile = Path(__file__).resolve().parent / "hostile" / "cases"
    files = sorted(p for p in hostile.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    assert files
    for path in files:
        try:
            read_manifests([path])
        except InputError as exc:
            assert exc.diagnostics


def test_guards_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    path = write(tmp_path, "l.yaml", "kind: Namespace\nmetadata: {name: n}\n---\n" + laughs)
    (found,) = errors_of([path])
    assert "alias" in found or "too large" in found or "expand" in found


# -- no traceback, whatever a field holds --------------------------------------------------


def _paths(obj: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [loc]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*loc, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*loc, i))
    return out


def _replaced(obj: Any, loc: tuple[Any, ...], value: Any) -> Any:
    if not loc:
        return value
    out = copy.deepcopy(obj)
    target = out
    for step in loc[:-1]:
        target = target[step]
    target[loc[-1]] = value
    return out


@pytest.mark.slow  # a fuzz-like sweep (the quick loop stays under a minute)
def test_no_traceback_on_any_wrong_value(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all(SHOP))
    path = tmp_path / "m.yaml"
    outcomes = {"read": 0, "refused": 0}
    for doc in docs:
        for loc in _paths(doc):
            for value in (None, [], {}, 7, "x", [None], {"a": None}):
                # The document alone: the others would only slow the loop down.
                path.write_text(yaml.dump(_replaced(doc, loc, value), Dumper=yaml.CSafeDumper))
                try:
                    read_manifests([path])
                    outcomes["read"] += 1
                except InputError as exc:
                    assert all(d.line >= 1 and d.column >= 1 for d in exc.diagnostics)
                    outcomes["refused"] += 1
    assert outcomes["read"] and outcomes["refused"]


def test_names_off_kubernetes_syntax_are_read_with_a_warning(tmp_path: Path) -> None:
    # netpol-analyzer's cases name policies with '_', which the API server refuses.
    path = write(tmp_path, "n.yaml", "kind: Pod\nmetadata: {name: My_Pod, namespace: shop}\n")
    read = read_manifests([path])
    assert [w.id for w in read.workloads] == ["shop/My_Pod"]
    (note,) = read.notes
    assert (note.line, note.column, note.level) == (2, 18, "warning")
    assert "'name' should be a DNS-1123 subdomain" in note.message


# -- label syntax: what the API server refuses is an error at its place ------------------

LONG = "a" * 64
LABEL_BAD = [
    # metadata labels of a workload (key, then value), of a Namespace, of a template
    ("kind: Pod\nmetadata: {name: p, labels: {'a b': x}}\n", "2:30: error: label key 'a b'"),
    ("kind: Pod\nmetadata: {name: p, labels: {app: 'x y'}}\n", "2:35: error: label value 'x y'"),
    (f"kind: Pod\nmetadata: {{name: p, labels: {{app: {LONG}}}}}\n", "2:35: error: label value"),
    (f"kind: Namespace\nmetadata: {{name: n, labels: {{{LONG}: x}}}}\n", "2:30: error: label key"),
    ("kind: Pod\nmetadata: {name: p, labels: {-app: x}}\n", "2:30: error: label key '-app'"),
    ("kind: Pod\nmetadata: {name: p, labels: {app.: x}}\n", "2:30: error: label key 'app.'"),
    ("kind: Pod\nmetadata: {name: p, labels: {/app: x}}\n", "2:30: error: label key '/app'"),
    ("kind: Pod\nmetadata: {name: p, labels: {a/b/c: x}}\n", "2:30: error: label key 'a/b/c'"),
    (
        "kind: Pod\nmetadata: {name: p, labels: {Ex.com/a: x}}\n",
        "2:30: error: label key 'Ex.com/a'",
    ),
    (
        'kind: Pod\nmetadata: {name: p, labels: {"app\\e[31m": x}}\n',
        "2:30: error: label key 'app\\x1b[31m'",
    ),
    (
        "kind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n"
        '    metadata: {labels: {app: "web\\u202e"}}\n    spec: {containers: []}\n',
        "5:30: error: label value 'web\\u202e'",
    ),
    # selectors: matchLabels, matchExpressions' key and values, a Service's selector
    (
        "kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n"
        "  podSelector: {matchLabels: {a: 'b c'}}\n",
        "4:34: error: label value 'b c'",
    ),
    (
        "kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector:\n"
        "    matchExpressions: [{key: 'a b', operator: Exists}]\n",
        "5:30: error: label key 'a b'",
    ),
    (
        "kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  ingress:\n"
        "    - from: [{namespaceSelector: {matchExpressions: "
        "[{key: team, operator: In, values: [ok, 'not ok']}]}}]\n",
        "6:93: error: label value 'not ok'",
    ),
    (
        "kind: Service\nmetadata: {name: s}\nspec: {selector: {app: 'a/b'}, ports: [{port: 80}]}\n",
        "3:24: error: label value 'a/b'",
    ),
    (
        "kind: AdminNetworkPolicy\nmetadata: {name: a}\nspec:\n  priority: 1\n"
        "  subject: {namespaces: {matchLabels: {'k=v': x}}}\n",
        "5:40: error: label key 'k=v'",
    ),
]


@pytest.mark.parametrize(("text", "expected"), LABEL_BAD)
def test_labels_off_kubernetes_syntax_are_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "l.yaml", text)
    found = errors_of([path])
    assert any(d.startswith(f"{path}:{expected}") for d in found), found
    assert all("\x1b" not in d and "\u202e" not in d for d in found)  # escaped, never raw


def test_labels_of_kubernetes_syntax_are_read(tmp_path: Path) -> None:
    name = "n" * 63
    prefix = ".".join(["p" * 63] * 3) + ".io"  # 195 characters
    path = write(
        tmp_path,
        "ok.yaml",
        f"kind: Pod\nmetadata:\n  name: p\n  labels:\n    {prefix}/{name}: {name}\n"
        "    app.kubernetes.io/name: web\n    a_b-c.D: V_1.x\n    empty: ''\n"
        "---\nkind: CiliumNetworkPolicy\napiVersion: cilium.io/v2\nmetadata: {name: c}\n"
        "spec: {endpointSelector: {matchLabels: {'k8s:app': web}}}\n",
    )
    read = read_manifests([path])
    (pod,) = read.workloads
    assert dict(pod.labels)[f"{prefix}/{name}"] == name and dict(pod.labels)["empty"] == ""
    assert not [n for n in read.notes if "label" in n.message]
