"""A CiliumNetworkPolicy's ``endpointSelector`` in Kubernetes' terms.

Cilium's label keys may carry a source: ``k8s:app`` and ``any:app`` are the pod's
label ``app`` (a key without a source is ``any:``), ``k8s:io.kubernetes.pod.namespace``
is the pod's namespace, and other sources (``reserved:``, ``cidr:``...) or Cilium's
own labels (``io.cilium.k8s.policy.serviceaccount``...) name nothing ztsim reads
of a pod.  Read as plain Kubernetes keys, ``k8s:app: api`` selected no pod, and the
policy's ``toFQDNs`` allows were lost: a path missed.

ztsim reads only what a Cilium policy allows (its egress isolation is not
modelled, ``docs/k8s.md``), so a selector that picks more pods only allows more:
a term ztsim cannot judge is left out, with a warning at its FILE:LINE:COL.
"""

from __future__ import annotations

from typing import Any

from ztsim.inputs.collector import Loc
from ztsim.inputs.k8s.fields import Fields
from ztsim.inputs.k8s.objects import LabelSelector, Requirement

__all__ = ["cilium_selector"]

#: Sources whose labels are the pod's own Kubernetes labels.
_POD_SOURCES = ("k8s:", "any:")
#: The label Cilium gives each pod: its namespace.
_NAMESPACE_KEY = "io.kubernetes.pod.namespace"
#: Picks no pod (``In`` no value).
_NOTHING = Requirement(_NAMESPACE_KEY, "In", ())


def _pod_key(key: str) -> str | None:
    """The pod label ``key`` names (its source taken off), or ``None`` when it names
    no label ztsim reads (another source, or Cilium's own ``io.cilium.`` labels)."""
    source, colon, name = key.partition(":")
    if colon and f"{source}:" not in _POD_SOURCES:
        return None
    name = name if colon else key
    return None if name.startswith("io.cilium.") else name


def cilium_selector(
    f: Fields, selector: LabelSelector, namespace: str, spec: dict[str, Any], loc: Loc
) -> LabelSelector:
    """``selector`` (read from ``spec["endpointSelector"]`` at ``loc``, of a policy in
    ``namespace``) with its keys as pod labels: the namespace label kept or turned
    to "no pod", terms ztsim cannot judge left out (each warned)."""
    here = (*loc, "endpointSelector")
    labels: list[tuple[str, str]] = []
    requirements: list[Requirement] = []
    for key, value in selector.match_labels:
        name = _pod_key(key)
        if name == _NAMESPACE_KEY:
            if value != namespace:
                requirements.append(_NOTHING)
        elif name is None:
            _unjudged(f, (*here, "matchLabels", key), key)
        else:
            labels.append((name, value))
    # Only to place a warning: the selector itself was read (and its shape checked).
    raw = spec.get("endpointSelector")
    found = raw.get("matchExpressions") if isinstance(raw, dict) else None
    expressions = found if isinstance(found, list) else []
    for i, req in enumerate(selector.match_expressions):
        name = _pod_key(req.key)
        if name == _NAMESPACE_KEY:
            if not Requirement(name, req.operator, req.values).matches({name: namespace}):
                requirements.append(_NOTHING)
        elif name is None:
            at = i if i < len(expressions) else 0
            _unjudged(f, (*here, "matchExpressions", at, "key"), req.key)
        else:
            requirements.append(Requirement(name, req.operator, req.values))
    return LabelSelector(tuple(sorted(labels)), tuple(requirements))


def _unjudged(f: Fields, loc: Loc, key: str) -> None:
    f.warn(
        loc,
        f"Cilium label {key!r} names nothing ztsim reads of a pod: the term is left out "
        "(the policy is taken to select more pods, which only allows more)",
    )
