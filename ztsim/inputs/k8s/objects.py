"""The Kubernetes objects ztsim reads, as frozen, typed values.

Each keeps the FILE:LINE:COL of the manifest it comes from (:class:`Source`), so
that a later verdict can say "blocked by NetworkPolicy shop/deny-all at
k8s/policies.yaml:12".  Label sets are sorted tuples of pairs (hashable, and the
same whatever order the manifest wrote them in); :func:`label_map` gives a dict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from ztsim.model.diagnostics import Diagnostic

__all__ = [
    "NAMESPACE_LABEL",
    "ZTSIM_ANNOTATION_PREFIX",
    "AdminAction",
    "AdminNetworkPolicy",
    "AdminPeer",
    "AdminPort",
    "AdminRule",
    "Backend",
    "BaselineAdminNetworkPolicy",
    "CiliumEgressRule",
    "CiliumNetworkPolicy",
    "ContainerPort",
    "FQDNSelector",
    "IPBlock",
    "Ingress",
    "LabelSelector",
    "Labels",
    "Manifests",
    "Namespace",
    "NetworkPolicy",
    "Place",
    "PolicyPeer",
    "PolicyPort",
    "PolicyRule",
    "Protocol",
    "Requirement",
    "Service",
    "ServicePort",
    "Source",
    "Workload",
    "label_map",
]

#: The label Kubernetes puts on every namespace: its own name.
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
#: The prefix of the annotations ztsim reads on workloads (``docs/k8s.md``).
ZTSIM_ANNOTATION_PREFIX = "ztsim.io/"

Protocol = Literal["TCP", "UDP", "SCTP"]
AdminAction = Literal["Allow", "Deny", "Pass"]
#: A label set: sorted (key, value) pairs.
Labels = tuple[tuple[str, str], ...]


def label_map(labels: Labels) -> dict[str, str]:
    """``labels`` as a dict."""
    return dict(labels)


@dataclass(frozen=True, order=True)
class Source:
    """Where an object (or one of its rules) stands: file, 1-based line and column."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, eq=False)
class Place:
    """Where a deep node of a manifest stands, located only when asked (locating a
    node deeper than the positions recorded while parsing re-reads its document:
    worth it for a problem, not for every annotation of ten thousand workloads)."""

    locate: Callable[[], Source] = field(repr=False)

    @cached_property
    def source(self) -> Source:
        """The node's place (located once)."""
        return self.locate()


@dataclass(frozen=True)
class Requirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` meet this requirement (``NotIn`` holds when the key is absent)."""
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            return labels.get(self.key) not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels


@dataclass(frozen=True)
class LabelSelector:
    """A label selector; the empty one (``{}``) selects everything."""

    match_labels: Labels = ()
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with ``labels`` is selected."""
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            r.matches(labels) for r in self.match_expressions
        )


@dataclass(frozen=True)
class Namespace:
    """A namespace; ``labels`` include :data:`NAMESPACE_LABEL`.  ``source`` is
    ``None`` for a namespace only referred to (no Namespace manifest)."""

    name: str
    labels: Labels
    source: Source | None


@dataclass(frozen=True)
class ContainerPort:
    """A port a container declares (``name`` for a named port)."""

    number: int
    protocol: Protocol
    name: str | None = None


@dataclass(frozen=True)
class Workload:
    """A workload: all the replicas of one owner, as one.

    ``id`` is ``NAMESPACE/NAME``; ``name`` is the owning workload's (a Pod owned by
    a ReplicaSet that a Deployment owns takes the Deployment's name; a bare Pod its
    own).  ``kind`` is the kind that name belongs to (``Pod`` for a bare pod).
    ``sources``: every manifest that contributed (the first is ``source``: the
    owner's own manifest when read, a Deployment before its ReplicaSets and those
    before their Pods, else the first read); the labels and kind are the first's
    (a later manifest of the same workload with
    other labels is noted, unless they differ only in the per-revision labels
    controllers add, such as ``pod-template-hash``).  A Pod's owner is followed
    through the owners the manifests hold: a Pod of a ReplicaSet whose manifest is
    absent keeps the ReplicaSet's name (nothing says which Deployment owns it).
    """

    namespace: str
    name: str
    kind: str
    labels: Labels
    ports: tuple[ContainerPort, ...]
    annotations: Labels
    sources: tuple[Source, ...]
    #: The ``ztsim.io/`` annotations (:data:`ZTSIM_ANNOTATION_PREFIX`) of the pod
    #: template and of the workload object itself, each with its value's place:
    #: (key, value, place), sorted by key, the template's winning a key both set.
    ztsim_annotations: tuple[tuple[str, str, Place], ...] = ()

    @property
    def id(self) -> str:
        """``NAMESPACE/NAME``."""
        return f"{self.namespace}/{self.name}"

    @property
    def source(self) -> Source:
        """The first manifest of this workload."""
        return self.sources[0]


@dataclass(frozen=True)
class ServicePort:
    """A service port: ``port`` reaches ``target`` (a number or a container port name)."""

    port: int
    target: int | str
    protocol: Protocol
    name: str | None = None
    node_port: int | None = None


@dataclass(frozen=True)
class Service:
    """A Service; ``selector`` ``None`` when it selects no pods itself."""

    namespace: str
    name: str
    type: Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
    selector: Labels | None
    ports: tuple[ServicePort, ...]
    source: Source


@dataclass(frozen=True)
class Backend:
    """A service an Ingress or Route sends to; ``port`` ``None`` means every port."""

    service: str
    port: int | str | None
    source: Source


@dataclass(frozen=True)
class Ingress:
    """An Ingress or an OpenShift Route (``kind``): a published entry to services."""

    kind: Literal["Ingress", "Route"]
    namespace: str
    name: str
    hosts: tuple[str, ...]
    backends: tuple[Backend, ...]
    source: Source


@dataclass(frozen=True)
class IPBlock:
    """``cidr`` minus ``excepts``."""

    cidr: str
    excepts: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyPeer:
    """A NetworkPolicy peer: pods (selectors) or addresses (``ip_block``).

    ``namespace_selector`` ``None`` means the policy's own namespace;
    ``pod_selector`` ``None`` means every pod of the selected namespaces.
    """

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


@dataclass(frozen=True)
class PolicyPort:
    """A NetworkPolicy port: ``port`` ``None`` is every port of ``protocol``; a
    string is a named port; ``end_port`` makes a range."""

    protocol: Protocol
    port: int | str | None = None
    end_port: int | None = None


@dataclass(frozen=True)
class PolicyRule:
    """An ingress or egress rule: ``peers`` / ``ports`` ``None`` means all."""

    peers: tuple[PolicyPeer, ...] | None
    ports: tuple[PolicyPort, ...] | None
    source: Source


@dataclass(frozen=True)
class NetworkPolicy:
    """A NetworkPolicy, ``policy_types`` resolved (the defaults applied)."""

    namespace: str
    name: str
    pod_selector: LabelSelector
    policy_types: tuple[Literal["Ingress", "Egress"], ...]
    ingress: tuple[PolicyRule, ...]
    egress: tuple[PolicyRule, ...]
    source: Source


@dataclass(frozen=True)
class AdminPeer:
    """An (Baseline)AdminNetworkPolicy subject or peer: exactly one of namespaces,
    pods (namespace and pod selectors), networks (CIDRs), nodes."""

    namespaces: LabelSelector | None = None
    pods: tuple[LabelSelector, LabelSelector] | None = None
    networks: tuple[str, ...] | None = None
    nodes: LabelSelector | None = None


@dataclass(frozen=True)
class AdminPort:
    """An admin policy port: a number, a range (``start``..``end``) or a named port."""

    protocol: Protocol | None
    start: int | None = None
    end: int | None = None
    named: str | None = None


@dataclass(frozen=True)
class AdminRule:
    """An admin policy rule, in its order; ``ports`` ``None`` means all."""

    name: str
    action: AdminAction
    peers: tuple[AdminPeer, ...]
    ports: tuple[AdminPort, ...] | None
    source: Source


@dataclass(frozen=True)
class AdminNetworkPolicy:
    """An AdminNetworkPolicy (lower ``priority`` decides first)."""

    name: str
    priority: int
    subject: AdminPeer
    ingress: tuple[AdminRule, ...]
    egress: tuple[AdminRule, ...]
    source: Source


@dataclass(frozen=True)
class BaselineAdminNetworkPolicy:
    """A BaselineAdminNetworkPolicy (decides after NetworkPolicies; no Pass)."""

    name: str
    subject: AdminPeer
    ingress: tuple[AdminRule, ...]
    egress: tuple[AdminRule, ...]
    source: Source


@dataclass(frozen=True)
class FQDNSelector:
    """A ``toFQDNs`` entry: an exact name or a pattern (``*`` wildcards)."""

    match_name: str | None = None
    match_pattern: str | None = None


@dataclass(frozen=True)
class CiliumEgressRule:
    """A CiliumNetworkPolicy egress rule to names; ``ports`` ``None`` means all."""

    fqdns: tuple[FQDNSelector, ...]
    ports: tuple[PolicyPort, ...] | None
    source: Source


@dataclass(frozen=True)
class CiliumNetworkPolicy:
    """The ``toFQDNs`` egress of one spec of a CiliumNetworkPolicy (what ztsim reads
    of it); ``source`` is the spec's place.  ``unread_egress``: the places of its
    other egress rules (allows ztsim does not read: the compiler must not take the
    pods as isolated by the rules it read alone)."""

    namespace: str
    name: str
    endpoint_selector: LabelSelector
    egress: tuple[CiliumEgressRule, ...]
    source: Source
    unread_egress: tuple[Source, ...] = ()


@dataclass(frozen=True)
class Manifests:
    """Everything read from a set of manifests, in file order.

    ``notes``: warnings (kinds skipped, fields read leniently), each at its place.
    """

    files: tuple[str, ...]
    namespaces: tuple[Namespace, ...]
    workloads: tuple[Workload, ...]
    services: tuple[Service, ...]
    ingresses: tuple[Ingress, ...]
    network_policies: tuple[NetworkPolicy, ...]
    admin_policies: tuple[AdminNetworkPolicy, ...]
    baseline_policies: tuple[BaselineAdminNetworkPolicy, ...]
    cilium_policies: tuple[CiliumNetworkPolicy, ...]
    notes: tuple[Diagnostic, ...]

    def workload(self, workload_id: str) -> Workload | None:
        """The workload ``NAMESPACE/NAME``, if read."""
        return next((w for w in self.workloads if w.id == workload_id), None)
