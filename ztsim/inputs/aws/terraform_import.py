"""Terraform plans (and two AWS dumps) in, loaded topologies and policies out (issue 28, 4-5).

:func:`import_terraform` reads ``terraform show -json`` output
(:func:`~ztsim.inputs.aws.terraform.read_terraform`) and imports one of its
estates, the proposed one by default, through the same bridge as ``describe-*``
dumps (:func:`~ztsim.inputs.aws.importer.import_estate`).

:func:`import_terraform_pair` gives ``ztsim diff --terraform PLAN`` both estates
of one plan on one topology, and :func:`import_aws_pair` does the same for two
``describe-*`` dumps (``--aws BASE --aws-proposed HEAD``): the topology is the
proposed estate's hosts plus those only the base has (the Kubernetes pair's
union); each side's policy is compiled from its own estate, with a first layer
(:data:`~ztsim.inputs.k8s.pair.ABSENT_LAYER`) that cuts every connection of the
hosts that side does not have.  The compiler selects hosts by ``aws:`` labels
(security group membership, exposure), which the two sides may give a host
differently: the base policy selects by ``aws-base:`` labels instead, which each
host carries as the base estate gives them.  So an instance the plan adds and
leaves open opens plans, and so does a group membership, a public address or
an internet route the plan adds to a host that was there before: a path the
change opens is never hidden.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from ztsim.inputs.aws.objects import Estate
from ztsim.inputs.k8s.drafts import PolicyDraft, Provenance, TopologyDraft
from ztsim.inputs.k8s.importer import (
    Imported,
    load_policy_draft,
    load_topology_draft,
    merge_destinations,
)
from ztsim.inputs.k8s.pair import ABSENT_LAYER, ImportedPair
from ztsim.inputs.k8s.pair import _union as union_drafts
from ztsim.model.diagnostics import Diagnostic, InputError

__all__ = [
    "estate_of",
    "import_aws_pair",
    "import_estate_pair",
    "import_terraform",
    "import_terraform_pair",
    "plan_name",
]


def plan_name(path: str | Path) -> str:
    """The name of a plan's import: its file name without ``.json`` (``plan``)."""
    stem = Path(str(path)).name
    for suffix in (".json", ".tfplan"):
        stem = stem.removesuffix(suffix)
    return stem if stem and stem not in (".", "..", "-") else "terraform"


def estate_of(path: str | Path, side: Literal["base", "proposed"] = "proposed") -> Estate:
    """One estate of a plan (or a state), with the reader's notes about the file."""
    from ztsim.inputs.aws.terraform import read_terraform

    read = read_terraform(path)
    estate = read.proposed if side == "proposed" else read.base
    return replace(estate, notes=(*read.notes, *estate.notes))


def import_terraform(
    path: str | Path,
    overlay_path: str | Path | None = None,
    name: str | None = None,
    side: Literal["base", "proposed"] = "proposed",
) -> Imported:
    """Read a plan (or a state), compile the ``side`` estate and load it.

    Raises
    ------
    InputError
        With every problem found, each at its FILE:LINE:COL; nothing else is done.
    """
    from ztsim.inputs.aws.importer import import_estate

    estate = estate_of(path, side)
    imported = import_estate(estate, str(path), overlay_path, name or plan_name(path))
    words = ["--terraform", str(path)]
    if overlay_path is not None:
        words += ["--overlay", str(overlay_path)]
    imported.topology.command_words = tuple(words)
    return imported


#: The prefix of the labels the compiler selects by, and of their base-side copies.
_AWS_LABELS, _BASE_LABELS = "aws:", "aws-base:"


def _base_labels(node: Any) -> Any:
    """``node`` (a policy document's part) with every ``aws:`` label key its
    selectors name made ``aws-base:`` (``labels`` keys, ``labels_match`` keys)."""
    if isinstance(node, list):
        return [_base_labels(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "labels" and isinstance(value, dict):
            out[key] = {_renamed(k): v for k, v in value.items()}
        elif key == "labels_match" and isinstance(value, list):
            out[key] = [
                {**e, "key": _renamed(e["key"])} if isinstance(e, dict) and "key" in e else e
                for e in value
            ]
        else:
            out[key] = _base_labels(value)
    return out


def _renamed(key: Any) -> Any:
    if isinstance(key, str) and key.startswith(_AWS_LABELS):
        return _BASE_LABELS + key[len(_AWS_LABELS) :]
    return key


def _with_base_labels(union: TopologyDraft, base: TopologyDraft) -> TopologyDraft:
    """``union`` whose hosts also carry, as ``aws-base:`` labels, the ``aws:``
    labels the base estate gives them."""
    given = {h["id"]: h.get("labels") or {} for h in base.document.get("hosts") or ()}
    document = copy.deepcopy(union.document)
    for host in document.get("hosts") or ():
        mine = given.get(host["id"])
        if mine:
            labels = host.setdefault("labels", {})
            labels.update({_renamed(k): v for k, v in mine.items() if k.startswith(_AWS_LABELS)})
    return TopologyDraft(document, dict(union.provenance), list(union.notes), union.published)


def _side_layer(
    policy: PolicyDraft,
    absent: list[str],
    why: dict[str, Provenance],
) -> PolicyDraft:
    """``policy`` with a first layer denying every connection of the ``absent`` hosts."""
    if not absent:
        return policy
    document = copy.deepcopy(policy.document)
    provenance = dict(policy.provenance)
    seg: list[dict[str, Any]] = []
    egr: list[dict[str, Any]] = []

    def origin(host: str, rids: tuple[str, ...], what: str) -> None:
        found = why.get(host)
        if found is not None:
            for rid in rids:
                provenance[rid] = Provenance(found.source, f"{found.name} ({what})")

    for i, host in enumerate(absent):
        ids = (f"{ABSENT_LAYER}-{i}-from", f"{ABSENT_LAYER}-{i}-to", f"{ABSENT_LAYER}-{i}-out")
        seg.append({"id": ids[0], "action": "deny", "from": {"host": [host]}})
        seg.append({"id": ids[1], "action": "deny", "to": {"host": [host]}})
        egr.append({"id": ids[2], "action": "deny", "from": {"host": [host]}})
        origin(host, ids, "not in this estate")
    for section, rules in (("segmentation", seg), ("egress", egr)):
        if not rules:
            continue
        sec = document.setdefault(section, {})
        layer = {"id": ABSENT_LAYER, "default": "allow", "rules": rules}
        sec["layers"] = [layer, *(sec.get("layers") or [])]
    return PolicyDraft(document, provenance, list(policy.notes), list(policy.destinations))


def import_estate_pair(
    base: Estate,
    head: Estate,
    labels: tuple[str, str],
    overlay_path: str | Path | None = None,
    name: str = "aws",
    policy_names: tuple[str, str] | None = None,
) -> ImportedPair:
    """Two estates on one topology (see the module docstring); ``labels``: the
    base's and the proposed estate's paths, as the loaded objects name them;
    ``policy_names``: the two policies' names (default: ``name`` both).

    Raises
    ------
    InputError
        With every problem of either estate and of the overlay, each at its place.
    """
    from ztsim.inputs.aws.compile import policy_document, publish_exposed, topology_document
    from ztsim.inputs.aws.compile_index import EstateIndex
    from ztsim.inputs.k8s.overlay import apply_overlay_file

    indexes = [EstateIndex(base), EstateIndex(head)]
    tops: list[TopologyDraft] = []
    for estate, index in zip((base, head), indexes, strict=True):
        topo = topology_document(estate, name, index)
        if overlay_path is not None:  # every problem of the file at once (schema and merge)
            topo = apply_overlay_file(topo, overlay_path)
        tops.append(publish_exposed(topo))
    union = _with_base_labels(union_drafts(tops[1], tops[0]), tops[0])
    hosts = [{h["id"] for h in t.document.get("hosts") or ()} for t in tops]
    sides: list[PolicyDraft] = []
    names = policy_names or (name, name)
    together = zip((base, head), indexes, hosts, names, strict=True)
    for i, (estate, index, mine, policy_name) in enumerate(together):
        compiled = policy_document(estate, union, policy_name, index)
        if i == 0:  # the base's policy selects by the base's own labels
            compiled = PolicyDraft(
                _base_labels(compiled.document),
                compiled.provenance,
                compiled.notes,
                compiled.destinations,
            )
        absent = sorted((hosts[0] | hosts[1]) - mine)
        sides.append(_side_layer(compiled, absent, union.provenance))
    merged = merge_destinations(merge_destinations(union, sides[0]), sides[1])
    topology = load_topology_draft(merged, f"{labels[1]} (topology)")
    base_pol, base_notes = load_policy_draft(sides[0], f"{labels[0]} (policy)", topology)
    head_pol, head_notes = load_policy_draft(sides[1], f"{labels[1]} (policy)", topology)
    topology.path = labels[1]
    base_pol.path, head_pol.path = labels
    notes = (
        *base.notes,
        *head.notes,
        *merged.notes,
        *sides[0].notes,
        *sides[1].notes,
        *base_notes,
        *head_notes,
    )
    return ImportedPair(topology, base_pol, head_pol, tuple(dict.fromkeys(notes)))


def import_terraform_pair(path: str | Path, overlay_path: str | Path | None = None) -> ImportedPair:
    """A plan's prior state (base) and planned values (proposed) on one topology,
    for ``ztsim diff --terraform PLAN``; the base policy is named ``NAME-prior``,
    the proposed one ``NAME-planned``.

    Raises
    ------
    InputError
        A state (no change to compare), or any problem of the plan or the overlay.
    """
    from ztsim.inputs.aws.terraform import read_terraform

    read = read_terraform(path)
    if read.kind == "state":
        msg = (
            "a state holds no change: `ztsim diff --terraform` needs a plan "
            "(terraform show -json PLANFILE)"
        )
        raise InputError([Diagnostic(str(path), 1, 1, "error", msg)])
    name = plan_name(path)
    base = replace(read.base, notes=(*read.notes, *read.base.notes))
    labels = (str(path), str(path))
    names = (f"{name}-prior", f"{name}-planned")
    return import_estate_pair(base, read.proposed, labels, overlay_path, name, names)


def import_aws_pair(
    base_paths: Sequence[str | Path],
    head_paths: Sequence[str | Path],
    overlay_path: str | Path | None = None,
) -> ImportedPair:
    """Two ``describe-*`` dumps on one topology (``ztsim diff --aws BASE --aws-proposed HEAD``).

    Raises
    ------
    InputError
        With every problem of either dump (and of the overlay) at its FILE:LINE:COL.
    """
    from ztsim.inputs.aws.describe import read_describe

    errors: list[Diagnostic] = []
    estates: list[Estate] = []
    for paths in (base_paths, head_paths):
        try:
            estates.append(read_describe(paths))
        except InputError as exc:
            errors.extend(exc.diagnostics)
    if errors:
        raise InputError(errors)
    labels = (str(base_paths[0]), str(head_paths[0]))
    return import_estate_pair(estates[0], estates[1], labels, overlay_path)
