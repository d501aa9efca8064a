"""Kubernetes manifests in, a loaded topology and policy out (issue 25, points 1, 5, 6).

:func:`import_k8s` reads manifests (:func:`~ztsim.inputs.k8s.reader.read_manifests`),
maps them to a topology draft (:mod:`ztsim.inputs.k8s.topology`) and compiles their
network policies into a policy draft (:mod:`ztsim.inputs.k8s.compile`), adds the
external destinations the policy names and the overlay's attack ingredients
(:mod:`ztsim.inputs.k8s.overlay`), and loads both drafts through the same
validation as a user's files (:mod:`ztsim.inputs.k8s.loading`).  What it gives
(:mod:`ztsim.inputs.k8s.imported`) is a normal topology and policy whose every
rule is placed at the Kubernetes object it compiles.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ztsim.inputs.k8s.drafts import PolicyDraft, TopologyDraft
from ztsim.inputs.k8s.imported import K8S_DEFAULTS, Imported, ImportedPolicy, ImportedTopology
from ztsim.inputs.k8s.loading import (
    load_policy_draft,
    load_topology_draft,
    merge_destinations,
    policy_yaml_text,
    topology_yaml_text,
)
from ztsim.inputs.k8s.objects import Manifests
from ztsim.model.diagnostics import Diagnostic, InputError

# The names other modules and tests import from here (kept when the module was split).
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
    from ztsim.inputs.k8s.overlay import (
        LoadedOverlay,
        apply_overlay,
        overlay_errors,
        overlay_from_document,
    )
    from ztsim.inputs.k8s.reader import read_manifests
    from ztsim.inputs.k8s.topology import topology_document
    from ztsim.inputs.loader import read_document
    from ztsim.inputs.positions import Document

    if not paths:
        raise InputError([Diagnostic("ztsim", 0, 0, "error", "no manifest path given")])
    errors: list[Diagnostic] = []
    manifests: Manifests | None = None
    overlay: LoadedOverlay | None = None
    refused: tuple[Document, list[Diagnostic]] | None = None  # the schema's say
    try:
        manifests = read_manifests(paths)
    except InputError as exc:
        errors.extend(exc.diagnostics)
    if overlay_path is not None:
        try:
            doc = read_document(overlay_path)
        except InputError as exc:
            errors.extend(exc.diagnostics)
        else:
            try:
                overlay = overlay_from_document(doc)
            except InputError as exc:
                refused = (doc, exc.diagnostics)
    name = name or default_name(paths)
    if refused is not None:
        # What the schema accepts is checked against the manifests too: one pass.
        found = refused[1]
        if manifests is not None:
            try:
                found = overlay_errors(topology_document(manifests, name), refused[0]) or found
            except InputError as exc:  # the manifests' annotations
                errors.extend(exc.diagnostics)
        errors.extend(found)
    if errors:
        raise InputError(errors)
    assert manifests is not None
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
