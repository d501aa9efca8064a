"""Drafts: what the Kubernetes import builds before ztsim loads it (layer ``inputs``).

A draft is a ztsim document as plain data (the dict a user's YAML file would
give, in the same shape), plus where each of its parts comes from in the
manifests, and the notes made while building it.  The topology mapping
(:mod:`ztsim.inputs.k8s.topology`) gives a :class:`TopologyDraft`, the policy
compiler (:mod:`ztsim.inputs.k8s.compile`) a :class:`PolicyDraft`; the importer
(:mod:`ztsim.inputs.k8s.importer`) loads both, so every verdict can name the
Kubernetes object and its FILE:LINE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ztsim.inputs.k8s.objects import Source
from ztsim.model.diagnostics import Diagnostic

__all__ = ["OVERLAY_PREFIX", "PolicyDraft", "Provenance", "TopologyDraft"]

#: How what an overlay adds is named (``overlay NAME: ...``): a provenance so
#: named comes from the overlay, not from a manifest.
OVERLAY_PREFIX = "overlay "


@dataclass(frozen=True, order=True)
class Provenance:
    """Where something of a draft comes from: the manifest place and a display name.

    ``name`` is how a person names the object, kind first (``Deployment shop/web``,
    ``NetworkPolicy shop/default-deny``).

    >>> str(Provenance(Source("k8s/shop.yaml", 12, 3), "Deployment shop/web"))
    'Deployment shop/web (k8s/shop.yaml:12)'
    """

    source: Source
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.source})"


@dataclass
class TopologyDraft:
    """A topology as plain data, with its provenance and notes.

    ``document``: the topology in ztsim's YAML shape (``ztsim``, ``kind``,
    ``name``, ``zones``, ``hosts``, ...), its lists in a deterministic order.
    ``provenance``: id (a host, a zone, an entry point...) -> where it comes from.
    ``notes``: warnings made while building it, each at its manifest place.
    """

    document: dict[str, Any]
    provenance: dict[str, Provenance] = field(default_factory=dict)
    notes: list[Diagnostic] = field(default_factory=list)
    #: (host id, ``PORT/PROTO``) of each published service -> the objects that
    #: publish it (a LoadBalancer or NodePort Service, an Ingress, a Route).
    published: dict[tuple[str, str], list[Provenance]] = field(default_factory=dict)
    #: Host id -> what names it an ingress controller (the one proxying what
    #: Ingresses and Routes publish): a ``ztsim.io/ingress-controller`` annotation,
    #: the overlay's ``ingress_controllers``.  ``None``: none named, the policy
    #: compiler recognises common controllers (:mod:`ztsim.inputs.k8s.compile_ingress`).
    ingress_controllers: dict[str, Provenance] | None = None


@dataclass
class PolicyDraft:
    """A policy as plain data, with its provenance, notes and the destinations it needs.

    ``document``: the (v1.1, layered) policy in ztsim's YAML shape.
    ``provenance``: rule id -> the Kubernetes object and rule it compiles.
    ``notes``: warnings (approximations), each naming the object and its FILE:LINE.
    ``destinations``: external destinations (``external`` entries of a topology,
    e.g. CIDR blocks and FQDNs) that the policy's rules name and the topology must
    declare.
    """

    document: dict[str, Any]
    provenance: dict[str, Provenance] = field(default_factory=dict)
    notes: list[Diagnostic] = field(default_factory=list)
    destinations: list[dict[str, Any]] = field(default_factory=list)
