"""The Kubernetes policy compiler (ztsim.inputs.k8s.compile), rule by rule.

Each test writes a few manifests, compiles them on the topology mapping, loads the
result as files are loaded and asks the engine (``reach --all-ports``): the ids,
the provenance, the warnings with their FILE:LINE, named ports narrowed per pod,
addresses and names outside the cluster (ipBlock, ANP networks, Cilium toFQDNs).
The exactness of the whole is tests/test_k8s_property.py's and
tests/test_k8s_conformance.py's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ztsim.engine.connectivity import reach_map
from ztsim.inputs.k8s import read_manifests
from ztsim.inputs.k8s.compile import policy_document
from ztsim.inputs.k8s.drafts import PolicyDraft
from ztsim.inputs.k8s.topology import topology_document
from ztsim.inputs.loader import policy_from_text, topology_from_text

PODS = """
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec:
  containers:
    - {name: c, ports: [{name: http, containerPort: 9090}, {containerPort: 53, protocol: UDP}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: data, labels: {app: db}}
spec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}
"""


class Imported:
    """Manifests compiled and loaded; what the engine allows."""

    def __init__(self, tmp: Path, text: str, external: list[dict[str, Any]] | None = None):
        path = tmp / "m.yaml"
        path.write_text(text)
        self.path = str(path)
        m = read_manifests([self.path])
        topo = topology_document(m)
        topo.document["external"] = list(external or [])
        self.draft: PolicyDraft = policy_document(m, topo, "k8s")
        doc = dict(topo.document)
        doc["external"] = [*doc["external"], *self.draft.destinations]
        self.topo = topology_from_text(yaml.safe_dump(doc, sort_keys=False), "t.yaml")
        self.policy = policy_from_text(yaml.safe_dump(self.draft.document), "p.yaml")
        self.map = {
            (c.source, c.target): [str(s) for s in c.allowed.services]
            for c in reach_map(self.topo, self.policy, all_ports=True).connections()
        }

    def allows(self, src: str, dst: str) -> list[str]:
        return self.map.get((src, dst), [])

    def rules(self, *, unisolated: bool = False) -> list[dict[str, Any]]:
        """The compiled rules (those of the ``unisolated`` tier only if asked)."""
        out = []
        for section in ("segmentation", "egress"):
            for layer in self.draft.document[section]["layers"]:
                for tier in layer["tiers"]:
                    if unisolated or tier["id"] != "unisolated":
                        out += tier["rules"]
        return out

    def warnings(self) -> list[str]:
        return [str(n) for n in self.draft.notes]


def line_of(path: str, text: str) -> int:
    """The 1-based line of ``path`` holding ``text``."""
    lines = Path(path).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


EVERYTHING = ["0-65535/tcp", "0-65535/udp", "0-65535/sctp", "0-65535/icmp"]


def test_no_policy_allows_everything(tmp_path: Path) -> None:
    imp = Imported(tmp_path, PODS)
    assert imp.allows("shop/web", "data/db") == EVERYTHING
    assert imp.rules() == [] and imp.draft.destinations == [] and imp.warnings() == []


def test_default_deny_and_an_allow_with_ids_and_provenance(tmp_path: Path) -> None:
    imp = Imported(
        tmp_path,
        PODS
        + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: data}
spec: {podSelector: {}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: data}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}
          podSelector: {matchExpressions: [{key: app, operator: In, values: [api]}]}
      ports: [{port: 5432}]
""",
    )
    assert imp.allows("shop/api", "data/db") == ["5432/tcp"]
    assert imp.allows("shop/web", "data/db") == []
    assert imp.allows("data/db", "shop/web") == EVERYTHING  # no egress isolation
    ids = [r["id"] for r in imp.rules()]
    assert ids == ["np-data/db-in-0-0-0", "np-data/deny-in-isolate", "np-data/db-in-isolate"]
    allow = imp.rules()[0]
    assert allow["from"] == {
        "zone": ["shop"],
        "labels_match": [{"key": "app", "operator": "In", "values": ["api"]}],
    }
    prov = imp.draft.provenance["np-data/db-in-0-0-0"]
    lines = Path(imp.path).read_text().splitlines()
    assert prov.name == "NetworkPolicy data/db"
    assert lines[prov.source.line - 1].strip().startswith("- from:")  # the rule's line
    deny = imp.draft.provenance["np-data/deny-in-isolate"].source
    assert lines[deny.line - 1] == "apiVersion: networking.k8s.io/v1"  # the object's


def test_same_manifests_same_document(tmp_path: Path) -> None:
    text = PODS + (
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: x, namespace: shop}\nspec: {podSelector: {}, ingress: [{}]}\n"
    )
    a = Imported(tmp_path, text).draft
    b = Imported(tmp_path, text).draft
    assert yaml.safe_dump(a.document) == yaml.safe_dump(b.document)
    assert a.provenance == b.provenance


def test_named_port_one_rule_per_resolution_narrowed_to_its_pods(tmp_path: Path) -> None:
    imp = Imported(
        tmp_path,
        PODS
        + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: http, namespace: shop}
spec:
  podSelector: {}
  ingress: [{ports: [{port: http}]}]
""",
    )
    rules = {r["id"]: r for r in imp.rules()}
    assert rules["np-shop/http-in-0-0-0.0"]["to"]["host"] == ["shop/web"]
    assert rules["np-shop/http-in-0-0-0.0"]["services"] == ["8080/tcp"]
    assert rules["np-shop/http-in-0-0-0.1"]["to"]["host"] == ["shop/api"]
    assert imp.allows("data/db", "shop/web") == ["8080/tcp"]
    assert imp.allows("data/db", "shop/api") == ["9090/tcp"]


def test_named_port_of_another_protocol_matches_nothing(tmp_path: Path) -> None:
    imp = Imported(
        tmp_path,
        PODS
        + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: http, namespace: shop}
spec:
  podSelector: {}
  ingress: [{ports: [{port: http, protocol: UDP}]}]
""",
    )
    assert [r["id"] for r in imp.rules()] == ["np-shop/http-in-isolate"]
    assert imp.allows("data/db", "shop/web") == []


def test_ingress_ip_block_admits_outside_with_a_warning(tmp_path: Path) -> None:
    imp = Imported(
        tmp_path,
        PODS
        + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: lb, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
    - from: [{ipBlock: {cidr: 203.0.113.0/24}}]
    - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
      ports: [{port: 9}]
""",
    )
    assert imp.allows("internet", "shop/web") == EVERYTHING
    assert imp.allows("shop/api", "shop/web") == []  # an ipBlock never matches a pod
    (warning,) = imp.warnings()
    at = line_of(imp.path, "- from: [{ipBlock: {cidr: 203.0.113.0/24}}]")
    assert warning.startswith(f"{imp.path}:{at}:7: warning: NetworkPolicy shop/lb: ipBlock ")
    assert "every external zone" in warning


def test_egress_ip_blocks_become_cidr_destinations(tmp_path: Path) -> None:
    c2 = {"id": "c2", "fqdn": "c2.attacker.example", "role": "c2"}
    imp = Imported(
        tmp_path,
        PODS
        + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  egress:
    - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
      ports: [{port: 443}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: data}
spec:
  podSelector: {}
  egress:
    - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]
""",
        [c2],
    )
    assert [d["id"] for d in imp.draft.destinations] == [
        "cidr:0.0.0.0/0",
        "cidr:10.0.0.0/8",
        "cidr:10.1.0.0/16",
    ]
    assert imp.allows("shop/web", "cidr:10.0.0.0/8") == ["443/tcp"]  # some address of it
    assert imp.allows("shop/web", "cidr:10.1.0.0/16") == []
    assert imp.allows("shop/web", "c2") == []  # a private block holds no named server
    assert imp.allows("shop/api", "c2") != []  # not isolated
    # A public block: the attacker's server may stand in it (conservative, warned).
    assert imp.allows("data/db", "c2") == EVERYTHING
    assert imp.allows("data/db", "cidr:10.1.0.0/16") == []
    (warning,) = imp.warnings()
    at = line_of(imp.path, "- to: [{ipBlock: {cidr: 0.0.0.0/0")
    assert f":{at}:7: warning: NetworkPolicy data/out: allows some public addresses" in warning


def test_admin_networks_deny_every_address_covers_names(tmp_path: Path) -> None:
    partner = {"id": "bank", "fqdn": "api.bank.example"}
    imp = Imported(
        tmp_path,
        PODS
        + """
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-internet}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: data}}}
  egress:
    - name: dns
      action: Allow
      to: [{networks: [8.8.8.8/32]}]
      ports: [{portNumber: {protocol: UDP, port: 53}}]
    - {name: rest, action: Deny, to: [{networks: [0.0.0.0/0]}]}
""",
        [partner],
    )
    assert imp.allows("data/db", "bank") == ["53/udp"]  # the name may resolve to 8.8.8.8
    assert imp.allows("data/db", "cidr:8.8.8.8/32") == ["53/udp"]
    assert imp.allows("data/db", "cidr:0.0.0.0/0") == ["53/udp"]
    assert imp.allows("shop/web", "bank") == EVERYTHING
    assert any("allows some public addresses" in w for w in imp.warnings())


def test_admin_pass_and_priority_ties(tmp_path: Path) -> None:
    imp = Imported(
        tmp_path,
        PODS
        + """
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: b-deny}
spec:
  priority: 5
  subject: {namespaces: {}}
  ingress: [{name: all, action: Deny, from: [{namespaces: {}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: a-pass}
spec:
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}
  ingress:
    - name: dns
      action: Pass
      from: [{namespaces: {}}]
      ports: [{namedPort: http}, {portRange: {protocol: TCP, start: 5000, end: 6000}}]
""",
    )
    # Equal priorities: manifest order (b-deny first), with a warning on the second.
    assert imp.allows("shop/web", "data/db") == []
    ids = [r["id"] for r in imp.rules()]
    assert ids == ["anp-b-deny-in-0-0-0", "anp-a-pass-in-0-0-1"]  # db has no port `http`
    (warning,) = imp.warnings()
    assert "AdminNetworkPolicy a-pass: priority 5 is also AdminNetworkPolicy b-deny's" in warning


def test_cilium_fqdns_and_unread_rules(tmp_path: Path) -> None:
    imp = Imported(
        tmp_path,
        PODS
        + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Egress]}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: pay, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toFQDNs: [{matchName: Payments.Example.com}, {matchPattern: "api-*.bank.example"}]
      toPorts: [{ports: [{port: "443", protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: dns, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
    - toEndpoints: [{matchLabels: {k8s-app: kube-dns}}]
""",
        [{"id": "c2", "fqdn": "c2.attacker.example", "role": "c2"}],
    )
    assert [d["id"] for d in imp.draft.destinations] == [
        "fqdn-under:bank.example",
        "fqdn:payments.example.com",
    ]
    assert imp.allows("shop/api", "fqdn:payments.example.com") == ["443/tcp"]
    assert imp.allows("shop/api", "fqdn-under:bank.example") == ["443/tcp"]
    assert imp.allows("shop/api", "c2") == []
    assert imp.allows("shop/api", "data/db") == []
    # A rule ztsim does not read: taken as allowing everything (warned).
    assert imp.allows("shop/web", "c2") == EVERYTHING
    assert imp.allows("shop/web", "data/db") == EVERYTHING
    text = "\n".join(imp.warnings())
    assert "toFQDNs api-*.bank.example is taken as *.bank.example (wider)" in text
    assert "egress rules ztsim does not read" in text


@pytest.mark.parametrize(
    ("selector", "selects"),
    [
        ("{matchLabels: {'k8s:app': api}}", True),  # a source: the pod's label
        ("{matchLabels: {'any:app': api}}", True),
        ("{matchExpressions: [{key: 'k8s:app', operator: In, values: [api]}]}", True),
        ("{matchLabels: {'k8s:app': web}}", False),
        # the pod's namespace: its own keeps the policy's pods, another none
        ("{matchLabels: {app: api, 'k8s:io.kubernetes.pod.namespace': shop}}", True),
        ("{matchLabels: {app: api, 'k8s:io.kubernetes.pod.namespace': data}}", False),
        ("{matchExpressions: [{key: 'k8s:io.kubernetes.pod.namespace', operator: NotIn, "
         "values: [shop]}]}", False),
        # what ztsim cannot judge is left out (more pods: only more allows), warned
        ("{matchLabels: {app: api, 'k8s:io.cilium.k8s.policy.serviceaccount': pay}}", True),
        ("{matchLabels: {app: api, 'reserved:host': ''}}", True),
    ],
)  # fmt: skip
def test_cilium_selector_keys_with_a_source(tmp_path: Path, selector: str, selects: bool) -> None:
    """Cilium's ``k8s:app`` is the pod label ``app`` (read as a plain key, it picked
    no pod and the toFQDNs allow was lost: a path missed)."""
    imp = Imported(
        tmp_path,
        PODS
        + f"""
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: deny, namespace: shop}}
spec: {{podSelector: {{}}, policyTypes: [Egress]}}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: pay, namespace: shop}}
spec:
  endpointSelector: {selector}
  egress:
    - toFQDNs: [{{matchName: payments.example.com}}]
      toPorts: [{{ports: [{{port: "443", protocol: TCP}}]}}]
""",
    )
    got = imp.allows("shop/api", "fqdn:payments.example.com")
    assert got == (["443/tcp"] if selects else [])
    web = imp.allows("shop/web", "fqdn:payments.example.com")
    assert web == (["443/tcp"] if "web" in selector else [])
    notes = [str(n) for n in read_manifests([imp.path]).notes]
    warned = [n for n in notes if "names nothing ztsim reads of a pod" in n]
    unjudged = "serviceaccount" in selector or "reserved:" in selector
    assert len(warned) == unjudged
    if unjudged:
        assert f"{imp.path}:{line_of(imp.path, 'endpointSelector')}:" in warned[0]


def test_long_names_give_unique_ids_within_the_model(tmp_path: Path) -> None:
    long = "n" * 150
    text = PODS + "".join(
        f"""
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {long}{i}, namespace: shop}}
spec: {{podSelector: {{}}, ingress: [{{}}]}}
"""
        for i in range(2)
    )
    imp = Imported(tmp_path, text)
    ids = [r["id"] for r in imp.rules()]
    assert len(set(ids)) == len(ids) == 4
    assert all(len(i) <= 200 for i in ids)


@pytest.mark.parametrize("policy_types", ["[Ingress]", "[Egress]", "[Ingress, Egress]"])
def test_policy_types_decide_the_sides(tmp_path: Path, policy_types: str) -> None:
    imp = Imported(
        tmp_path,
        PODS
        + f"""
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: iso, namespace: data}}
spec: {{podSelector: {{}}, policyTypes: {policy_types}, ingress: [{{ports: [{{port: 1}}]}}]}}
""",
    )
    inbound = imp.allows("shop/web", "data/db")
    outbound = imp.allows("data/db", "shop/web")
    assert inbound == (["1/tcp"] if "Ingress" in policy_types else EVERYTHING)
    assert outbound == ([] if "Egress" in policy_types else EVERYTHING)


# -- the unisolated tier: what no policy isolates, allowed by name -----------------------


def _deciders(imp: Imported, src: str, dst: str) -> set[str]:
    """The rule ids (``LAYER/ID`` joined by ``+``) deciding what ``src`` may reach of ``dst``."""
    reach = reach_map(imp.topo, imp.policy, all_ports=True)
    return {
        g.decision.rule
        for c in reach.connections()
        if (c.source, c.target) == (src, dst)
        for g in c.allowed.grants
    }


def test_unisolated_pods_are_allowed_by_a_rule_naming_their_namespace(tmp_path: Path) -> None:
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
    imp = Imported(tmp_path, namespace + PODS)
    ids = [r["id"] for r in imp.rules(unisolated=True)]
    spaces = ("data", "shop")
    assert ids == [
        *(f"unisolated-eg-{ns}" for ns in spaces),
        *(f"from-outside-{ns}" for ns in spaces),  # the egress side of what comes from outside
        *(f"unisolated-{side}-{ns}" for side in ("in", "ext") for ns in spaces),
    ]
    prov = imp.draft.provenance["unisolated-eg-shop"]
    assert prov.name == "Namespace shop (no policy isolates these pods for egress)"
    assert (prov.source.path, prov.source.line) == (imp.path, 1)
    # A namespace with no manifest: placed at its first workload's.
    prov = imp.draft.provenance["unisolated-in-data"]
    assert prov.source.line == line_of(imp.path, "name: db") - 2
    # The same allows as the defaults; no flow is left to a layer's default.
    assert imp.allows("shop/web", "data/db") == EVERYTHING
    assert _deciders(imp, "shop/web", "data/db") == {
        "egress-side/unisolated-eg-shop+ingress-side/unisolated-in-data"
    }


def test_an_isolated_pod_is_decided_before_the_unisolated_tier(tmp_path: Path) -> None:
    policy = (
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: deny, namespace: data}\nspec: {podSelector: {}}\n"
    )
    imp = Imported(tmp_path, PODS + policy)
    ids = {r["id"] for r in imp.rules(unisolated=True)}
    assert "unisolated-in-data" not in ids  # data/db, its one pod, is isolated
    assert {"unisolated-eg-data", "unisolated-ext-data", "unisolated-in-shop"} <= ids
    assert imp.allows("shop/web", "data/db") == []
    assert imp.allows("data/db", "shop/web") == EVERYTHING


def test_what_is_published_is_allowed_from_outside_by_its_publisher(tmp_path: Path) -> None:
    service = (
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
        "spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: http}]}\n"
    )
    imp = Imported(tmp_path, PODS + service)
    prov = imp.draft.provenance["published-service-shop/web-8080/tcp"]
    assert prov.name == "LoadBalancer Service shop/web (from outside: no egress side)"
    assert prov.source.line == line_of(imp.path, "kind: Service") - 1
    # The other ports are not published: the topology stops the outside there, but
    # reach --all-ports shows the policy's word, named after the namespace (no
    # manifest: its first workload's), never the egress side's default.
    assert _deciders(imp, "internet", "shop/web") == {
        "egress-side/published-service-shop/web-8080/tcp+ingress-side/unisolated-in-shop",
        "egress-side/from-outside-shop+ingress-side/unisolated-in-shop",
    }
    prov = imp.draft.provenance["from-outside-shop"]
    assert prov.name == "Namespace shop (from outside: no egress side)"
    assert prov.source.line == line_of(imp.path, "name: web, namespace: shop") - 2


def test_nothing_from_outside_meets_a_layer_default(tmp_path: Path) -> None:
    """Every connection, from inside or outside, on every port, is decided by a rule
    of each side (the defaults, no object, decide nothing): with no policy, with
    isolation on either side, and with a Service published."""
    policy = (
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: deny, namespace: data}\nspec: {podSelector: {}, "
        "policyTypes: [Ingress, Egress]}\n"
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
        "spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: http}]}\n"
    )
    for text in (PODS, PODS + policy):
        imp = Imported(tmp_path, text)
        reach = reach_map(imp.topo, imp.policy, all_ports=True)
        names = [g.decision.rule for c in reach.connections() for g in c.allowed.grants]
        assert names
        assert not [n for n in names if any(p.endswith("/default") for p in n.split("+"))]
