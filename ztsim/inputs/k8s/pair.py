"""Two versions of Kubernetes manifests on one topology, for ``ztsim diff --k8s``.

See :func:`import_k8s_pair` for the topology chosen and why.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ztsim.inputs.k8s.drafts import PolicyDraft, Provenance, TopologyDraft
from ztsim.inputs.k8s.importer import (
    K8S_DEFAULTS,
    ImportedPolicy,
    ImportedTopology,
    default_name,
    import_k8s,
    load_policy_draft,
    load_topology_draft,
    merge_destinations,
)
from ztsim.model.diagnostics import Diagnostic

__all__ = ["ABSENT_LAYER", "ImportedPair", "import_k8s_pair"]


#: The tier a policy of :func:`import_k8s_pair` gets first in its first layer of each
#: section: what its manifests do not deploy has no connection at all.  A tier, not
#: a layer of its own: a layer's default is no Kubernetes object, and every flow
#: allowed would name it.
ABSENT_LAYER = "not-deployed"


def _union(head: TopologyDraft, base: TopologyDraft) -> TopologyDraft:
    """``head`` plus what only ``base`` holds (zones, credentials, hosts, external
    destinations, traffic, entry points), each by id (traffic by its whole entry)."""
    document = copy.deepcopy(head.document)
    provenance = dict(head.provenance)
    for key in ("zones", "credentials", "hosts", "external", "entry_points", "traffic"):
        mine = document.setdefault(key, [])
        seen = [e.get("id") if key != "traffic" else e for e in mine]
        for item in base.document.get(key) or []:
            ident = item.get("id") if key != "traffic" else item
            if ident not in seen:
                seen.append(ident)
                mine.append(copy.deepcopy(item))
                if isinstance(ident, str) and ident in base.provenance:
                    provenance.setdefault(ident, base.provenance[ident])
    # What each side publishes, and the controllers named, are the policy
    # compiler's too (the path through the ingress controller).
    published = {k: list(v) for k, v in base.published.items()}
    for pub, by in head.published.items():
        published[pub] = list(dict.fromkeys([*by, *published.get(pub, [])]))
    named = None
    if head.ingress_controllers is not None or base.ingress_controllers is not None:
        named = {**(base.ingress_controllers or {}), **(head.ingress_controllers or {})}
    return TopologyDraft(document, provenance, [*head.notes, *base.notes], published, named)


def _isolated(policy: PolicyDraft, absent: list[str], why: Mapping[str, Provenance]) -> PolicyDraft:
    """``policy`` with a first tier (in its first layer) denying every connection of
    the ``absent`` hosts."""
    if not absent:
        return policy
    document = copy.deepcopy(policy.document)
    provenance = dict(policy.provenance)
    seg_rules: list[dict[str, Any]] = []
    egr_rules: list[dict[str, Any]] = []
    for i, host in enumerate(absent):
        ids = (f"{ABSENT_LAYER}-{i}-from", f"{ABSENT_LAYER}-{i}-to", f"{ABSENT_LAYER}-{i}-out")
        seg_rules.append({"id": ids[0], "action": "deny", "from": {"host": [host]}})
        seg_rules.append({"id": ids[1], "action": "deny", "to": {"host": [host]}})
        egr_rules.append({"id": ids[2], "action": "deny", "from": {"host": [host]}})
        origin = why.get(host)
        if origin is not None:
            for rid in ids:
                provenance[rid] = Provenance(origin.source, f"{origin.name} (not deployed here)")
    for section, rules in (("segmentation", seg_rules), ("egress", egr_rules)):
        sec = document.setdefault(section, {})
        if sec.get("layers"):
            first = sec["layers"][0]
            tiers = first.get("tiers")
            if tiers is None:  # a layer of rules: one tier of them after ours
                tiers = [{"id": "rules", "rules": first.pop("rules", None) or []}]
            first["tiers"] = [{"id": ABSENT_LAYER, "rules": rules}, *tiers]
        else:  # a v1 section: the rules first
            sec["rules"] = [*rules, *(sec.get("rules") or [])]
    return PolicyDraft(document, provenance, list(policy.notes), list(policy.destinations))


@dataclass(frozen=True)
class ImportedPair:
    """Two versions of the manifests (``ztsim diff --k8s BASE --k8s-proposed HEAD``),
    judged on one topology: see :func:`import_k8s_pair`."""

    topology: ImportedTopology
    base: ImportedPolicy
    proposed: ImportedPolicy
    notes: tuple[Diagnostic, ...]


def import_k8s_pair(
    base_paths: Sequence[str | Path],
    head_paths: Sequence[str | Path],
    overlay_path: str | Path | None = None,
) -> ImportedPair:
    """Import two versions of the manifests onto one topology, for ``diff``.

    Workloads may differ between the versions.  The topology is the proposed
    version's (with the overlay), plus the workloads only the base deploys; each
    side's policy is compiled from its own manifests on that topology, and a first
    layer (:data:`ABSENT_LAYER`) cuts every connection of the workloads that side
    does not deploy.  So a workload the change adds and leaves open opens plans
    (it was absent before), one it removes closes them, and a workload in both is
    judged as the proposed version declares it (its labels and ports) under both
    policies.

    Raises
    ------
    InputError
        With every problem of either version (and the overlay) at its FILE:LINE:COL.
    """
    base, head = import_k8s(base_paths, overlay_path), import_k8s(head_paths, overlay_path)
    union = _union(head.topology_draft, base.topology_draft)
    hosts_base = {h["id"] for h in base.topology_draft.document.get("hosts") or []}
    hosts_head = {h["id"] for h in head.topology_draft.document.get("hosts") or []}
    from ztsim.inputs.k8s.compile import policy_document

    sides: list[PolicyDraft] = []
    for imported, mine, paths in ((base, hosts_base, base_paths), (head, hosts_head, head_paths)):
        compiled = policy_document(imported.manifests, union, default_name(paths))
        absent = sorted((hosts_base | hosts_head) - mine)
        sides.append(_isolated(compiled, absent, union.provenance))
    merged = merge_destinations(merge_destinations(union, sides[0]), sides[1])
    label = str(head_paths[0])
    at = str(overlay_path) if overlay_path is not None else None
    topology = load_topology_draft(merged, f"{label} (topology)", at)
    base_pol, base_notes = load_policy_draft(sides[0], f"{base_paths[0]} (policy)", topology)
    head_pol, head_notes = load_policy_draft(sides[1], f"{label} (policy)", topology)
    topology.path = label
    base_pol.path, head_pol.path = str(base_paths[0]), label
    for side in (base_pol, head_pol):
        side.default_why, side.every_layer = K8S_DEFAULTS, True
    notes = (*base.notes, *head.notes, *base_notes, *head_notes)
    return ImportedPair(topology, base_pol, head_pol, tuple(dict.fromkeys(notes)))
