"""Kubernetes manifests in, a loaded topology and policy out (issue 25, points 1, 5, 6).

:func:`import_k8s` reads manifests (:func:`~ztsim.inputs.k8s.reader.read_manifests`),
maps them to a topology draft (:mod:`ztsim.inputs.k8s.topology`) and compiles their
network policies into a policy draft (:mod:`ztsim.inputs.k8s.compile`), adds the
external destinations the policy names and the overlay's attack ingredients
(:mod:`ztsim.inputs.k8s.overlay`), and loads both drafts through the same
validation as a user's files.  What it gives is a normal
:class:`~ztsim.inputs.loaded.LoadedTopology` and
:class:`~ztsim.inputs.loaded.LoadedPolicy`, except that every rule's place is
the Kubernetes object it compiles: ``rule_location`` reads ``NetworkPolicy
shop/default-deny at k8s/netpol.yaml:12``, ``rule_file`` and ``rule_mark`` give
the manifest's file, line and column (SARIF points there).

The drafts are written as YAML (:func:`~ztsim.inputs.k8s.emit.draft_yaml`, the
bytes ``ztsim import k8s`` writes) for validation, so a problem the validation
finds in them is placed there first, then moved to the manifest of the object
its item comes from.  The loaded objects hold no document (``doc`` is ``None``):
no location ever points into a file that does not exist.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from ztsim.inputs.checks import NO_DATA_MESSAGE, check_policy, check_topology, policy_warnings
from ztsim.inputs.k8s.drafts import PolicyDraft, Provenance, TopologyDraft
from ztsim.inputs.k8s.emit import draft_yaml
from ztsim.inputs.k8s.objects import Manifests
from ztsim.inputs.loaded import HostTables, LoadedPolicy, LoadedTopology
from ztsim.inputs.positions import Document, Mark, NodePath
from ztsim.inputs.validate import validate_document
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.schema import Policy, Topology

__all__ = [
    "K8S_DEFAULTS",
    "Imported",
    "ImportedPolicy",
    "ImportedTopology",
    "default_name",
    "import_k8s",
    "imported_from_drafts",
    "load_policy_draft",
    "load_topology_draft",
    "merge_destinations",
    "overlay_template_text",
    "policy_yaml_text",
    "topology_yaml_text",
]

Section = Literal["segmentation", "egress"]


# --------------------------------------------------------------------------- loaded objects


class ImportedTopology(LoadedTopology):
    """A topology compiled from manifests: ``provenance`` says where each id comes from."""

    provenance: Mapping[str, Provenance]
    #: The import's own command-line words (``--k8s PATH... [--overlay FILE]``),
    #: set by :func:`import_k8s`; empty for other imports (a ``diff`` pair).
    command_words: tuple[str, ...] = ()

    def arguments(self, policy: str | None) -> list[str]:
        """The ``--k8s PATH... [--overlay FILE]`` this topology was imported with: its
        policy comes with it, so ``policy`` adds nothing (the import's first path
        when the words are unknown)."""
        return list(self.command_words) or super().arguments(policy)

    def where(self, ident: str) -> str:
        """``Deployment shop/web at k8s/shop.yaml:12`` for a host (or zone) id; the id
        itself when it comes from no manifest (the overlay, a default)."""
        prov = self.provenance.get(ident)
        return f"{prov.name} at {prov.source}" if prov is not None else ident

    def place(self, loc: NodePath) -> tuple[str, Mark]:
        """A host's part (``("hosts", 3, "data", 0)``) is placed at the host's workload
        manifest; anything else at the import's first path, line 1."""
        if len(loc) >= 2 and loc[0] == "hosts" and isinstance(loc[1], int):
            hosts = self.model.hosts
            if 0 <= loc[1] < len(hosts):
                prov = self.provenance.get(hosts[loc[1]].id)
                if prov is not None:
                    return prov.source.path, Mark(prov.source.line, prov.source.column)
        return self.path, Mark(1, 1)


class ImportedPolicy(LoadedPolicy):
    """A policy compiled from manifests: each rule placed at its Kubernetes object.

    ``provenance``: rule id -> the object and rule it compiles (rule ids are
    unique in a policy, layered or not).  A decision names a rule by its id, in a
    layered section (model v1.1) ``LAYER/RULE``, and an allowed flow's rules joined
    by ``+``: each is placed at the first rule it names that comes from an object.
    Rules of no object (a layer's ``default``) keep the policy's path and no line.
    """

    provenance: Mapping[str, Provenance]
    #: ``LAYER/default`` -> what that default stands for, said where a verdict
    #: names it (:data:`K8S_DEFAULTS` for a Kubernetes import).
    default_why: Mapping[str, str] = {}
    #: Whether an allowed flow's ``L1/R1+L2/R2`` is placed at every layer's object
    #: (a Kubernetes import: the source's and the destination's policies), not the first's.
    every_layer: bool = False

    @cached_property
    def _names(self) -> dict[tuple[str, str], str]:
        """(section, name a decision may give) -> rule id, for every rule of an object."""
        names: dict[tuple[str, str], str] = {}
        for section, layer, rule_id in _rule_keys(self.model):
            if rule_id in self.provenance:
                names[(section, rule_id)] = rule_id
                if layer is not None:
                    names[(section, f"{layer}/{rule_id}")] = rule_id
        return names

    def _rule_id(self, section: str, name: str) -> str | None:
        """The rule id ``name`` stands for (see the class docstring), if it has an object."""
        found = self._rule_ids(section, name)
        return found[0] if found else None

    def _rule_ids(self, section: str, name: str) -> list[str]:
        """Every rule id with an object that ``name`` names, in order (an allowed
        flow's ``L1/R1+L2/R2`` names one per layer)."""
        found = self._names.get((section, name))
        if found is not None or "+" not in name:
            return [found] if found is not None else []
        parts = name.split("+")  # rule ids may hold "+": grow each part to a known name
        out: list[str] = []
        i = 0
        while i < len(parts):
            for j in range(i + 1, len(parts) + 1):
                found = self._names.get((section, "+".join(parts[i:j])))
                if found is not None:
                    out.append(found)
                    i = j
                    break
            else:
                i += 1
        return out

    @cached_property
    def _rule_marks(self) -> dict[tuple[str, str], Mark]:
        marks: dict[tuple[str, str], Mark] = {}
        for key, rule_id in self._names.items():
            src = self.provenance[rule_id].source
            marks[key] = Mark(src.line, src.column)
        return marks

    def rule_mark(self, section: Section, rule_id: str) -> Mark | None:
        """Line and column of the object rule ``rule_id`` compiles, in its manifest."""
        found = self._rule_id(section, rule_id)
        return self._rule_marks.get((section, found)) if found is not None else None

    def rule_location(self, section: Section, rule_id: str) -> str:
        """``NetworkPolicy shop/default-deny at k8s/netpol.yaml:12``: the object and its
        place; for an allowed flow's ``L1/R1+L2/R2``, the first layer's object (each
        layer's, joined by "and", with :attr:`every_layer`).

        A layer's default is no object: every pod's connections are decided by
        rules (the ``unisolated`` tier names the workloads no policy isolates), so
        what meets a default is a connection from outside, which has no egress side.
        """
        found = self._rule_ids(section, rule_id)
        if not found:
            why = self.default_why.get(rule_id) if rule_id.endswith("/default") else None
            return f"{self.path} ({why})" if why else self.path
        found = found if self.every_layer else found[:1]
        said = (f"{p.name} at {p.source}" for p in (self.provenance[f] for f in found))
        return " and ".join(dict.fromkeys(said))

    def rule_file(self, section: Section, rule_id: str) -> str:
        """The manifest file of the object rule ``rule_id`` compiles."""
        found = self._rule_id(section, rule_id)
        return self.provenance[found].source.path if found is not None else self.path


#: What the layers' defaults of a Kubernetes import stand for: every pod's
#: connections are decided by rules (the ``unisolated`` tier), so a default meets
#: only a connection from outside (which has no egress side).
K8S_DEFAULTS = {
    f"{layer}/default": "no Kubernetes object: a connection from outside has no egress side"
    for layer in ("egress-side", "ingress-side", "to-outside")
}


def _rule_keys(policy: Policy) -> list[tuple[Section, str | None, str]]:
    """(section, layer or ``None``, id) of every rule of ``policy``, tiers included."""
    out: list[tuple[Section, str | None, str]] = []
    data = policy.model_dump(by_alias=True, include={"segmentation", "egress"})
    for section in ("segmentation", "egress"):
        sec = data.get(section) or {}
        for rule in sec.get("rules") or ():
            out.append((section, None, rule["id"]))
        for layer in sec.get("layers") or ():
            tiers = layer.get("tiers") or [{"rules": layer.get("rules") or []}]
            for tier in tiers:
                out.extend((section, layer["id"], r["id"]) for r in tier.get("rules") or ())
    return out


@dataclass(frozen=True)
class Imported:
    """What :func:`import_k8s` gives: the drafts, the loaded objects, and the notes.

    ``notes``: the reader's, the mapping's, the compiler's and the overlay's
    warnings, then the loaded policy's warnings on the topology (spec §1), each
    at a manifest's (or the overlay's) FILE:LINE:COL.
    """

    manifests: Manifests
    topology_draft: TopologyDraft
    policy_draft: PolicyDraft
    topology: ImportedTopology
    policy: ImportedPolicy
    notes: tuple[Diagnostic, ...]


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


def imported_from_drafts(
    manifests: Manifests,
    topology: TopologyDraft,
    policy: PolicyDraft,
    label: str,
    overlay_path: str | Path | None = None,
) -> Imported:
    """Merge and load the drafts (see :func:`import_k8s`); ``topology`` has its
    overlay applied already (from ``overlay_path``), ``label`` names the import
    (the loaded objects' ``path``).

    Raises
    ------
    InputError
        With every problem found, each at its manifest's (or overlay's) FILE:LINE:COL.
    """
    merged = merge_destinations(topology, policy)
    at = str(overlay_path) if overlay_path is not None else None
    first = manifests.files[0] if manifests.files else None
    loaded_topology = load_topology_draft(merged, f"{label} (topology)", at, first)
    loaded_policy, policy_notes = load_policy_draft(policy, f"{label} (policy)", loaded_topology)
    loaded_topology.path = loaded_policy.path = label
    notes = (
        *manifests.notes,
        *merged.notes,
        *policy.notes,
        *loaded_topology.warnings,
        *policy_notes,
    )
    return Imported(manifests, merged, policy, loaded_topology, loaded_policy, tuple(notes))


def default_name(paths: Sequence[str | Path]) -> str:
    """The name of an import of ``paths``: the last part of the one path, or of the
    folder several paths share as written (``k8s/workloads`` and ``k8s/policies``:
    ``k8s``; none, or ``.``: ``k8s``).  Never the working directory's own name, so
    the same command names the import alike on every machine."""
    if len(paths) > 1:
        try:
            shared = os.path.commonpath([os.path.normpath(p) for p in paths])
        except ValueError:  # absolute and relative paths mixed
            shared = ""
    else:
        shared = str(paths[0]) if paths else ""
    name = Path(shared).name
    return name if name and name not in (".", "..") else "k8s"


def import_k8s(
    paths: Sequence[str | Path],
    overlay_path: str | Path | None = None,
    name: str | None = None,
) -> Imported:
    """Read manifests, map and compile them, and load the result.

    ``paths``: files and folders of manifests (folders read recursively);
    ``overlay_path``: the attack ingredients (a ztsim ``kind: overlay`` file),
    applied to the topology before the policy is compiled on it; ``name``: the
    topology's and the policy's name (default: :func:`default_name`).  The loaded objects' ``path``
    is the first of ``paths``.

    Raises
    ------
    InputError
        With every problem found in the manifests and the overlay, each at its
        FILE:LINE:COL; nothing else is done.
    """
    from ztsim.inputs.k8s.compile import policy_document
    from ztsim.inputs.k8s.overlay import LoadedOverlay, apply_overlay, load_overlay
    from ztsim.inputs.k8s.reader import read_manifests
    from ztsim.inputs.k8s.topology import topology_document

    if not paths:
        raise InputError([Diagnostic("ztsim", 0, 0, "error", "no manifest path given")])
    errors: list[Diagnostic] = []
    manifests: Manifests | None = None
    overlay: LoadedOverlay | None = None
    try:
        manifests = read_manifests(paths)
    except InputError as exc:
        errors.extend(exc.diagnostics)
    if overlay_path is not None:
        try:
            overlay = load_overlay(overlay_path)
        except InputError as exc:
            errors.extend(exc.diagnostics)
    if errors:
        raise InputError(errors)
    assert manifests is not None
    name = name or default_name(paths)
    topology = topology_document(manifests, name)
    if overlay is not None:
        topology = apply_overlay(topology, overlay)
    policy = policy_document(manifests, topology, name)
    imported = imported_from_drafts(manifests, topology, policy, str(paths[0]), overlay_path)
    words = [w for path in paths for w in ("--k8s", str(path))]
    if overlay_path is not None:
        words += ["--overlay", str(overlay_path)]
    imported.topology.command_words = tuple(words)
    imported.policy.default_why = K8S_DEFAULTS
    imported.policy.every_layer = True
    return imported


def overlay_template_text(imported: Imported) -> str:
    """The overlay template for ``imported`` (``DIR/overlay.yaml`` of ``ztsim import
    k8s``): :func:`~ztsim.inputs.k8s.overlay_template.write_overlay_template`."""
    from ztsim.inputs.k8s.overlay_template import write_overlay_template

    return write_overlay_template(imported.topology_draft)
