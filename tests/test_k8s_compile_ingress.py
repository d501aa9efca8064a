"""The path through the ingress controller (ztsim.inputs.k8s.compile_ingress), case by case.

A service an Ingress or a Route publishes is reached through the ingress
controller: the backend's policies see the controller's pod.  Each test compiles a
few manifests (with an overlay when it names the controller), loads the result as
files are loaded and asks the engine (``reach --all-ports``) what the outside
(``internet``) may open; one judges a whole attack (``analyze``).  A property test
compares random clusters, their pods published by Ingresses, with the reference
(tests/k8s_reference.py) for a controller pod placed at random.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from k8s_compiled_eval import Compiled
from k8s_reference import Probe, _side, allowed, load_cluster
from k8s_reference import Workload as RefWorkload
from test_k8s_conformance import blocks_of, exposures, native_of, topology_of
from test_k8s_property import NAMESPACES, clusters, labels, np_peers, selectors

from ztsim.analysis.analyze import analyze
from ztsim.engine.connectivity import reach_map
from ztsim.inputs.k8s import read_manifests
from ztsim.inputs.k8s.compile import policy_document
from ztsim.inputs.k8s.drafts import PolicyDraft
from ztsim.inputs.k8s.importer import import_k8s
from ztsim.inputs.k8s.overlay import apply_overlay, overlay_from_text
from ztsim.inputs.k8s.pair import import_k8s_pair
from ztsim.inputs.k8s.topology import topology_document
from ztsim.inputs.loader import policy_from_text, topology_from_text
from ztsim.model.diagnostics import InputError

#: A shop front (8080 named http, 9000 not published) behind an Ingress, and an API.
SHOP = """
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}, {containerPort: 9000}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {containers: [{name: c, ports: [{containerPort: 8081}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  rules:
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"""

#: ingress-nginx's controller, as its chart labels it.
NGINX = """
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  template:
    metadata:
      labels: {app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller}
    spec: {containers: [{name: c, ports: [{containerPort: 443}]}]}
"""


def web_policy(peer: str, ports: str = "") -> str:
    """A NetworkPolicy isolating shop/web for ingress, allowing ``peer`` (YAML flow)."""
    return f"""
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: web, namespace: shop}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  ingress:
    - from: [{peer}]{ports}
"""


NGINX_NS = "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}"


class Imported:
    """Manifests (and an overlay) compiled and loaded; what the engine allows."""

    def __init__(self, tmp: Path, text: str, overlay: str | None = None) -> None:
        path = tmp / "m.yaml"
        path.write_text(text)
        self.path = str(path)
        m = read_manifests([self.path])
        topo = topology_document(m)
        if overlay is not None:
            topo = apply_overlay(topo, overlay_from_text(overlay, str(tmp / "o.yaml")))
        self.draft: PolicyDraft = policy_document(m, topo, "k8s")
        doc = dict(topo.document)
        doc["external"] = [*doc["external"], *self.draft.destinations]
        loaded = topology_from_text(yaml.safe_dump(doc, sort_keys=False), "t.yaml")
        self.policy = policy_from_text(yaml.safe_dump(self.draft.document), "p.yaml")
        self.map = {
            (c.source, c.target): [str(s) for s in c.allowed.services]
            for c in reach_map(loaded, self.policy, all_ports=True).connections()
        }

    def outside(self, dst: str = "shop/web") -> list[str]:
        """What the internet may open on ``dst``."""
        return self.map.get(("internet", dst), [])

    def rules(self) -> list[dict[str, Any]]:
        return [
            r
            for layer in self.draft.document["segmentation"]["layers"]
            for tier in layer["tiers"]
            for r in tier["rules"]
        ]

    def copies(self) -> list[dict[str, Any]]:
        return [r for r in self.rules() if "-via-controller" in r["id"]]

    def warnings(self) -> list[str]:
        return [str(n) for n in self.draft.notes]


def line_of(path: str, text: str, after: int = 0) -> int:
    """The 1-based line of ``path`` holding ``text`` (from line ``after`` on)."""
    lines = Path(path).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if i > after and text in line)


# -- an unknown controller -----------------------------------------------------------


def test_unknown_controller_is_admitted_by_a_namespace_selector(tmp_path: Path) -> None:
    imp = Imported(tmp_path, SHOP + web_policy(NGINX_NS))
    # Only the published port, through the controller; 9000 stays isolated.
    assert imp.outside() == ["8080/tcp"]
    (copy,) = imp.copies()
    assert copy == {
        "id": "np-shop/web-in-0-0-0-via-controller",
        "action": "allow",
        "from": {"zone": ["internet"]},
        "to": {"host": ["shop/web"]},
        "services": ["8080/tcp"],
    }
    prov = imp.draft.provenance[copy["id"]]
    assert prov.name == "NetworkPolicy shop/web (through the ingress controller)"
    assert prov.source.line == line_of(imp.path, "- from:")
    (warning,) = imp.warnings()
    ingress_line = line_of(imp.path, "kind: Ingress") - 1
    assert warning.startswith(f"{imp.path}:{ingress_line}:1: warning: Ingress shop/web: ")
    assert "not in the manifests" in warning and "shop/web 8080/tcp" in warning


def test_unknown_controller_matches_any_labels_but_not_the_own_namespace(tmp_path: Path) -> None:
    labelled = "{namespaceSelector: {}, podSelector: {matchLabels: {role: proxy}}}"
    assert Imported(tmp_path, SHOP + web_policy(labelled)).outside() == ["8080/tcp"]
    own = "{podSelector: {matchLabels: {app: api}}}"
    imp = Imported(tmp_path, SHOP + web_policy(own))
    assert imp.outside() == [] and imp.copies() == [] and imp.warnings() == []


def test_unknown_controller_keeps_the_rule_ports(tmp_path: Path) -> None:
    named = "\n      ports: [{port: http}]"
    assert Imported(tmp_path, SHOP + web_policy(NGINX_NS, named)).outside() == ["8080/tcp"]
    other = "\n      ports: [{port: 9000}]"
    imp = Imported(tmp_path, SHOP + web_policy(NGINX_NS, other))
    assert imp.outside() == [] and imp.copies() == []


def test_ip_block_admits_the_outside_already(tmp_path: Path) -> None:
    block = "{ipBlock: {cidr: 10.0.0.0/8}}"
    imp = Imported(tmp_path, SHOP + web_policy(block))
    assert imp.outside() == ["0-65535/tcp", "0-65535/udp", "0-65535/sctp", "0-65535/icmp"]
    assert imp.copies() == []


ANP = """
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: edge}
spec:
  priority: 5
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}
  ingress:
    - {action: ACTION, from: [{namespaces: {matchLabels: {edge: "true"}}}]}
"""


def test_unknown_controller_and_admin_policies(tmp_path: Path) -> None:
    deny_all = web_policy("{podSelector: {matchLabels: {app: api}}}")
    allow = Imported(tmp_path, SHOP + deny_all + ANP.replace("ACTION", "Allow"))
    assert allow.outside() == ["8080/tcp"]
    assert [r["id"] for r in allow.copies()] == ["anp-edge-in-0-0-0-via-controller"]
    # A deny is not copied: the controller may escape it, the attacker with it.
    no_np = Imported(tmp_path, SHOP + ANP.replace("ACTION", "Deny"))
    assert no_np.copies() == [] and no_np.outside()[0] == "0-65535/tcp"


def test_a_route_goes_through_the_controller_too(tmp_path: Path) -> None:
    route = (
        SHOP.split("---\napiVersion: networking.k8s.io/v1\nkind: Ingress")[0]
        + """---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: web, namespace: shop}
spec: {to: {kind: Service, name: web}, port: {targetPort: http}}
"""
    )
    imp = Imported(tmp_path, route + web_policy(NGINX_NS))
    assert imp.outside() == ["8080/tcp"]
    assert "Route shop/web: its ingress controller is not in the manifests" in imp.warnings()[0]


# -- a known controller --------------------------------------------------------------


def test_recognised_controller_is_judged_exactly(tmp_path: Path) -> None:
    imp = Imported(tmp_path, SHOP + NGINX + web_policy(NGINX_NS))
    assert imp.outside() == ["8080/tcp"]
    assert any("recognised as ingress-nginx, by its labels" in w for w in imp.warnings())
    # A namespace the controller is not in: blocked (an unknown one would pass).
    other = NGINX_NS.replace("ingress-nginx}", "partners}")
    assert Imported(tmp_path, SHOP + NGINX + web_policy(other)).outside() == []
    assert Imported(tmp_path, SHOP + web_policy(other)).outside() == ["8080/tcp"]


CONTROLLER_EGRESS = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: ingress-nginx}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [EGRESS]
"""


def test_the_controller_egress_side_applies(tmp_path: Path) -> None:
    closed = SHOP + NGINX + CONTROLLER_EGRESS.replace("[EGRESS]", "[]")
    imp = Imported(tmp_path, closed)
    # The published port is cut by the controller's own isolation; the others (not
    # published: unreachable from outside anyway) are as the backend's side says.
    assert imp.outside() == [
        "0-8079/tcp",
        "8081-65535/tcp",
        "0-65535/udp",
        "0-65535/sctp",
        "0-65535/icmp",
    ]
    deny = next(r for r in imp.copies() if r["action"] == "deny")
    assert deny["id"] == "np-ingress-nginx/out-eg-isolate-via-controller"
    assert imp.draft.provenance[deny["id"]].name == (
        "NetworkPolicy ingress-nginx/out (through the ingress controller)"
    )
    to_web = "[{to: [{namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}]}]"
    opened = Imported(tmp_path, SHOP + NGINX + CONTROLLER_EGRESS.replace("[EGRESS]", to_web))
    assert opened.outside()[0] == "0-65535/tcp"


def test_a_port_a_load_balancer_publishes_too_is_reached_directly(tmp_path: Path) -> None:
    lb = SHOP.replace(
        "spec: {selector: {app: web}", "spec: {type: LoadBalancer, selector: {app: web}"
    )
    imp = Imported(tmp_path, lb + NGINX + CONTROLLER_EGRESS.replace("[EGRESS]", "[]"))
    assert imp.outside() == [
        "0-65535/tcp",
        "0-65535/udp",
        "0-65535/sctp",
        "0-65535/icmp",
    ]  # the controller's isolation cuts only its own path


def test_annotation_names_the_controller(tmp_path: Path) -> None:
    proxy = """
---
apiVersion: v1
kind: Pod
metadata:
  name: proxy
  namespace: edge
  labels: {app: proxy}
  annotations: {ztsim.io/ingress-controller: "true"}
spec: {containers: [{name: c}]}
"""
    edge = "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: edge}}}"
    # Named, it is the controller, and the recognised nginx is not.
    imp = Imported(tmp_path, SHOP + NGINX + proxy + web_policy(edge))
    assert imp.outside() == ["8080/tcp"]
    assert not any("recognised" in w for w in imp.warnings())
    assert Imported(tmp_path, SHOP + NGINX + proxy + web_policy(NGINX_NS)).outside() == []
    with pytest.raises(InputError) as err:
        Imported(tmp_path, SHOP + proxy.replace('"true"', "maybe"))
    (d,) = err.value.diagnostics
    assert d.line == line_of(str(tmp_path / "m.yaml"), "ztsim.io/ingress-controller")
    assert d.message.startswith("ztsim.io/ingress-controller: 'maybe': write true")


def test_overlay_names_the_controller_or_none(tmp_path: Path) -> None:
    head = "ztsim: 1\nkind: overlay\n"
    api_ns = "{namespaceSelector: {}, podSelector: {matchLabels: {app: api}}}"
    named = head + "ingress_controllers: [{workload: shop/api}]\n"
    imp = Imported(tmp_path, SHOP + NGINX + web_policy(api_ns), named)
    assert imp.outside() == ["8080/tcp"]
    # [] says the manifests hold none: the unknown controller, even with nginx there.
    other = NGINX_NS.replace("ingress-nginx}", "partners}")
    none = Imported(tmp_path, SHOP + NGINX + web_policy(other), head + "ingress_controllers: []\n")
    assert none.outside() == ["8080/tcp"]
    assert any("not in the manifests" in w for w in none.warnings())


def test_several_controllers_count_each_ones_allows(tmp_path: Path) -> None:
    traefik = """
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: traefik, namespace: traefik}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/name: traefik}}
    spec: {containers: [{name: c}]}
"""
    closed = CONTROLLER_EGRESS.replace("[EGRESS]", "[]")
    traefik_ns = NGINX_NS.replace("ingress-nginx}", "traefik}")
    imp = Imported(tmp_path, SHOP + NGINX + traefik + closed + web_policy(traefik_ns))
    # nginx is closed for egress, but traefik may serve the Ingress: allowed.
    assert imp.outside() == ["8080/tcp"]
    assert all(r["action"] == "allow" for r in imp.copies())
    assert sum("several" in w for w in imp.warnings()) == 2


# -- whole attacks ---------------------------------------------------------------------

OVERLAY = """ztsim: 1
kind: overlay
workloads:
  - select: {workload: shop/web}
    vulnerabilities: [{id: CVE-2025-0101, service: 8080/tcp, gives: user}]
    data: [{id: orders, requires: user}]
external:
  - {id: c2, fqdn: c2.attacker.example, role: c2}
"""


def _goals(tmp_path: Path, text: str) -> bool:
    (tmp_path / "k8s").mkdir(exist_ok=True)
    (tmp_path / "k8s" / "m.yaml").write_text(text)
    (tmp_path / "o.yaml").write_text(OVERLAY)
    imp = import_k8s([str(tmp_path / "k8s")], str(tmp_path / "o.yaml"))
    (result,) = analyze(imp.topology, [imp.policy]).results
    return any(g.reachable for g in result.goals)


def test_exfiltration_through_an_ingress_a_controller_namespace_policy_admits(
    tmp_path: Path,
) -> None:
    # Before the path through the controller, ztsim said blocked: the attacker
    # reaches the front through the controller, exploits it and calls out.
    assert _goals(tmp_path, SHOP + web_policy(NGINX_NS))
    assert _goals(tmp_path, SHOP + NGINX + web_policy(NGINX_NS))
    closed = CONTROLLER_EGRESS.replace("[EGRESS]", "[]")
    assert not _goals(tmp_path, SHOP + NGINX + closed + web_policy(NGINX_NS))
    assert not _goals(tmp_path, SHOP + web_policy("{podSelector: {}}"))


def test_diff_keeps_the_path_through_the_controller(tmp_path: Path) -> None:
    for side, peer in (("base", "{podSelector: {}}"), ("head", NGINX_NS)):
        (tmp_path / side).mkdir()
        (tmp_path / side / "m.yaml").write_text(SHOP + web_policy(peer))
    pair = import_k8s_pair([str(tmp_path / "base")], [str(tmp_path / "head")])
    assert "np-shop/web-in-0-0-0-via-controller" in pair.proposed.provenance
    assert not any("via-controller" in rid for rid in pair.base.provenance)


# -- against the reference, by hypothesis ----------------------------------------------


def _side_allows(cluster: Any, ctrl: Any, dst: Any, port: int, *, egress: bool) -> bool:
    """The reference's decision for ``ctrl`` -> ``dst`` (its egress side too, or not)."""
    if egress:
        return bool(allowed(cluster, ctrl, dst, port, "TCP"))
    return bool(_side(cluster, dst, Probe("ingress", ctrl, dst, port, "TCP")))


def check_routed(docs: list[dict[str, Any]], ctrl_ns: str, ctrl_labels: dict[str, str]) -> None:
    """Every routed (backend, TCP port): with the controller named, ztsim decides as
    the reference does for that pod (both sides), unless the outside reaches the
    port itself; unknown, ztsim allows at least what any pod of another namespace
    with any labels gets from the backend's side (here: this one)."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "cluster.yaml"
        base.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        exposed = Path(tmp) / "exposed.yaml"
        exposed.write_text(exposures(load_cluster([base])))
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "controller",
                "namespace": ctrl_ns,
                "labels": ctrl_labels,
                "annotations": {"ztsim.io/ingress-controller": "true"},
            },
            "spec": {"containers": [{"name": "c"}]},
        }
        named_file = Path(tmp) / "controller.yaml"
        named_file.write_text(yaml.safe_dump(pod))
        cluster = load_cluster([base, exposed])
        cluster.namespaces.setdefault(ctrl_ns, {"kubernetes.io/metadata.name": ctrl_ns})
        ctrl = RefWorkload(ctrl_ns, "controller", "Pod", ctrl_labels, [])
        refs = {f"{w.namespace}/{w.name}": w for w in cluster.workloads}
        for paths, named in (([base, exposed], False), ([base, exposed, named_file], True)):
            m = read_manifests([str(p) for p in paths])
            topo = topology_of(m)
            draft = policy_document(m, topo, "random")
            naive = Compiled(topo.document, draft.document)
            native = Compiled(topo.document, native_of(draft.document))
            blocks = Compiled(topo.document, blocks_of(draft.document, ["internet"]))
            for host, service in sorted(topo.published):
                number, proto = service.split("/")
                w = refs.get(host)
                if proto != "tcp" or w is None or (not named and w.namespace == ctrl_ns):
                    continue
                port = int(number)
                got = naive.allowed("internet", host, port, "TCP")
                want = _side_allows(cluster, ctrl, w, port, egress=named)
                if named:
                    # More only where an ingress ipBlock admits the outside itself.
                    block = blocks.allowed("internet", host, port, "TCP")
                    assert got == want or (got and block), (host, service, got, want)
                else:  # at least as much (the copies only add allows)
                    assert got or not want, (host, service)
                    assert got or not native.allowed("internet", host, port, "TCP")


_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
controller_places = st.tuples(st.sampled_from([*NAMESPACES, "edge"]), labels)


@st.composite
def routed_clusters(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Random clusters whose pods all have labels (so that an Ingress publishes
    them), and namespaces often isolated for ingress, allowing some peers, and for
    egress (the controller's side), allowing some pods."""
    docs = draw(clusters())
    for doc in docs:
        if doc["kind"] == "Pod" and not doc["metadata"]["labels"]:
            doc["metadata"]["labels"] = {"app": "c"}
    for ns in [*NAMESPACES, "edge"]:
        for kind in ("Ingress", "Egress"):
            if draw(st.booleans()):
                continue
            key, peers = ("from", "ingress") if kind == "Ingress" else ("to", "egress")
            rules = [{key: [draw(np_peers())]} for _ in range(draw(st.integers(0, 2)))]
            spec = {"podSelector": draw(selectors()), "policyTypes": [kind], peers: rules}
            meta = {"name": f"isolate-{kind.lower()}", "namespace": ns}
            docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                         "metadata": meta, "spec": spec})  # fmt: skip
    return docs


@settings(max_examples=25, **_SETTINGS)  # type: ignore[arg-type]
@given(routed_clusters(), controller_places)
def test_routed_ports_are_the_references(
    docs: list[dict[str, Any]], place: tuple[str, dict[str, str]]
) -> None:
    check_routed(docs, *place)


@pytest.mark.slow
@settings(max_examples=300, **_SETTINGS)  # type: ignore[arg-type]
@given(routed_clusters(), controller_places)
def test_routed_ports_are_the_references_many(
    docs: list[dict[str, Any]], place: tuple[str, dict[str, str]]
) -> None:
    check_routed(docs, *place)
