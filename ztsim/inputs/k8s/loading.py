"""Drafts to loaded objects: validated like a user's files, problems placed at manifests.

The drafts are written as YAML (:func:`~ztsim.inputs.k8s.emit.draft_yaml`, the
bytes ``ztsim import k8s`` writes) for validation, so a problem the validation
finds in them is placed there first, then moved to the manifest of the object
its item comes from.  The loaded objects hold no document (``doc`` is ``None``):
no location ever points into a file that does not exist.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ztsim.inputs.checks import NO_DATA_MESSAGE, check_policy, check_topology, policy_warnings
from ztsim.inputs.k8s.drafts import PolicyDraft, Provenance, TopologyDraft
from ztsim.inputs.k8s.emit import draft_yaml
from ztsim.inputs.k8s.imported import ImportedPolicy, ImportedTopology
from ztsim.inputs.loaded import HostTables, LoadedPolicy, LoadedTopology
from ztsim.inputs.positions import Document
from ztsim.inputs.validate import validate_document
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.schema import Policy, Topology

__all__ = [
    "load_policy_draft",
    "load_topology_draft",
    "merge_destinations",
    "policy_yaml_text",
    "topology_yaml_text",
]


# --------------------------------------------------------------------------- drafts to YAML

_TOPOLOGY_HEADER = "Topology imported from Kubernetes manifests by `ztsim import k8s`"
_POLICY_HEADER = "Policy compiled from Kubernetes network policies by `ztsim import k8s`"


def _header(first: str, sources: Sequence[str]) -> list[str]:
    return [
        f"{first}.",
        "Each item's comment names the Kubernetes object it comes from and its FILE:LINE.",
        *([f"Manifests: {', '.join(sources)}"] if sources else []),
    ]


def topology_yaml_text(draft: TopologyDraft, sources: Sequence[str] = ()) -> str:
    """The topology draft as the YAML ``ztsim import k8s`` writes (``sources``: the
    manifest paths, named in the header)."""
    return draft_yaml(draft.document, draft.provenance, _header(_TOPOLOGY_HEADER, sources))


def policy_yaml_text(draft: PolicyDraft, sources: Sequence[str] = ()) -> str:
    """The policy draft as the YAML ``ztsim import k8s`` writes (see :func:`topology_yaml_text`)."""
    return draft_yaml(draft.document, draft.provenance, _header(_POLICY_HEADER, sources))


# --------------------------------------------------------------------------- merging


def merge_destinations(topology: TopologyDraft, policy: PolicyDraft) -> TopologyDraft:
    """``topology`` with the external destinations ``policy`` needs added (by id, once).

    A destination the topology declares already is kept as the topology says;
    ``topology`` itself is left as it was (a new draft is returned).
    """
    if not policy.destinations:
        return topology
    document = dict(topology.document)
    external = [copy.deepcopy(e) for e in document.get("external") or []]
    known = {e.get("id") for e in external if isinstance(e, dict)}
    for dest in policy.destinations:
        if dest.get("id") not in known:
            known.add(dest.get("id"))
            external.append(copy.deepcopy(dest))
    document["external"] = external
    return TopologyDraft(document, dict(topology.provenance), list(topology.notes))


# --------------------------------------------------------------------------- loading


def _relocate(
    diagnostics: Iterable[Diagnostic], label: str, origins: Sequence[Provenance | None]
) -> list[Diagnostic]:
    """Problems found in a draft's YAML moved to the manifest of the item they are in.

    A problem outside any item of a manifest (the header, an overlay's addition)
    stays where it was found, in the draft named ``label``.
    """
    out: list[Diagnostic] = []
    for d in diagnostics:
        prov = origins[d.line - 1] if d.path == label and 0 < d.line <= len(origins) else None
        if prov is None:
            out.append(d)
            continue
        src = prov.source
        message = f"{d.message} (in what {prov.name} was imported as, line {d.line} of {label})"
        out.append(Diagnostic(src.path, src.line, src.column, d.level, message, d.omitted))
    return out


def _document(
    label: str, document: dict[str, Any], provenance: Mapping[str, Provenance]
) -> tuple[Document, list[Provenance | None]]:
    origins: list[Provenance | None] = []
    text = draft_yaml(document, provenance, origins=origins)
    return Document(path=label, data=document, text=text), origins


def _textless(label: str, document: dict[str, Any]) -> Document:
    """The draft as a document without its text: validating it finds the same
    problems, only not where they are.  Writing the text is a good part of an
    import, and it is needed only to place a problem, so a draft is validated
    this way first, and again with its text only when something is found."""
    return Document(path=label, data=document, text="")


def load_topology_draft(
    draft: TopologyDraft, label: str, no_data_at: str | None = None, fallback: str | None = None
) -> ImportedTopology:
    """Validate and load a topology draft; problems placed at their manifests.

    "No data item on any host" concerns no item: it is placed at ``no_data_at``
    (the overlay, where data is attached), else at the first host's object, else at
    ``fallback`` (the first manifest), never in the draft (a file that does not
    exist); and it alone does not make the draft's text be written (see
    :func:`_textless`).
    """
    built: list[HostTables] = []

    def check(col: Any, topo: Topology) -> None:
        built.append(check_topology(col, topo))

    try:
        model, warnings = validate_document(
            _textless(label, draft.document), "topology", Topology, check
        )
        warnings, no_data = _without_no_data(warnings)
        found = bool(warnings)
    except InputError:
        found = True
    if found:  # again, with the text that places what was found
        built.clear()
        doc, origins = _document(label, draft.document, draft.provenance)
        try:
            model, warnings = validate_document(doc, "topology", Topology, check)
        except InputError as exc:
            raise InputError(_relocate(exc.diagnostics, label, origins)) from None
        warnings, no_data = _without_no_data(_relocate(warnings, label, origins))
    if no_data:
        warnings.append(_no_data_warning(draft, fallback or label, no_data_at))
    loaded = ImportedTopology(model, label, None, warnings=warnings, tables=built[0])
    loaded.provenance = draft.provenance
    return loaded


def _without_no_data(warnings: list[Diagnostic]) -> tuple[list[Diagnostic], bool]:
    """``warnings`` without "no data item on any host", and whether it was there."""
    kept = [w for w in warnings if w.message != NO_DATA_MESSAGE]
    return kept, len(kept) != len(warnings)


def _no_data_warning(draft: TopologyDraft, label: str, at: str | None) -> Diagnostic:
    """The "no data item on any host" warning, at ``at`` (1:1), else at the first
    host's object."""
    if at is not None:
        return Diagnostic(at, 1, 1, "warning", NO_DATA_MESSAGE)
    for host in draft.document.get("hosts") or ():
        ident = host.get("id") if isinstance(host, dict) else None
        prov = draft.provenance.get(ident) if isinstance(ident, str) else None
        if prov is not None:
            src = prov.source
            return Diagnostic(src.path, src.line, src.column, "warning", NO_DATA_MESSAGE)
    return Diagnostic(label, 1, 1, "warning", NO_DATA_MESSAGE)


def load_policy_draft(
    draft: PolicyDraft, label: str, topology: LoadedTopology
) -> tuple[ImportedPolicy, list[Diagnostic]]:
    """Validate and load a policy draft: the policy, and its warnings on ``topology``
    (spec §1); problems and warnings placed at their manifests."""
    quick = _textless(label, draft.document)
    try:
        model, _ = validate_document(quick, "policy", Policy, check_policy)
        warnings = policy_warnings(LoadedPolicy(model, label, quick), topology)
        found = bool(warnings)
    except InputError:
        found = True
    if found:  # again, with the text that places what was found (see _textless)
        doc, origins = _document(label, draft.document, draft.provenance)
        try:
            model, _ = validate_document(doc, "policy", Policy, check_policy)
        except InputError as exc:
            raise InputError(_relocate(exc.diagnostics, label, origins)) from None
        # Warnings are placed in the draft's text (a policy holding it), then moved.
        warnings = policy_warnings(LoadedPolicy(model, label, doc), topology)
        warnings = _relocate(warnings, label, origins)
    loaded = ImportedPolicy(model, label, None)
    loaded.provenance = draft.provenance
    return loaded, warnings
