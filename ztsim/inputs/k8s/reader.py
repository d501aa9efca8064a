"""Read Kubernetes manifests into :class:`~ztsim.inputs.k8s.objects.Manifests`.

:func:`read_manifests` takes files and directories, reads every object of the
kinds ztsim knows, skips the others with one note per kind (as kubectl would
ignore them for this purpose), and raises
:class:`~ztsim.model.diagnostics.InputError` with every problem, each at its
FILE:LINE:COL, when any manifest is malformed: never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ztsim.inputs.collector import Collector, Loc
from ztsim.inputs.k8s.fields import Fields
from ztsim.inputs.k8s.objects import (
    NAMESPACE_LABEL,
    AdminNetworkPolicy,
    BaselineAdminNetworkPolicy,
    CiliumNetworkPolicy,
    Ingress,
    Labels,
    Manifests,
    Namespace,
    NetworkPolicy,
    Service,
    Source,
    Workload,
)
from ztsim.inputs.k8s.policies import (
    admin_policy_of,
    baseline_policy_of,
    cilium_policy_of,
    network_policy_of,
)
from ztsim.inputs.k8s.stream import RawObject, expand_paths, located, objects_of, read_stream
from ztsim.inputs.k8s.workloads import (
    TEMPLATE_PATHS,
    WorkloadPart,
    ingress_of,
    namespace_of,
    owner_name,
    route_of,
    service_of,
    workload_part,
)
from ztsim.inputs.positions import YamlInputError
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.perf.heap import paused_gc

__all__ = ["REVISION_LABELS", "read_manifests"]

#: The readers of the kinds that become something other than a workload or namespace.
_BUILDERS: dict[str, Callable[[Fields, dict[str, Any], Loc], Any]] = {
    "Service": service_of,
    "Ingress": ingress_of,
    "Route": route_of,
    "NetworkPolicy": network_policy_of,
    "AdminNetworkPolicy": admin_policy_of,
    "BaselineAdminNetworkPolicy": baseline_policy_of,
    "CiliumNetworkPolicy": cilium_policy_of,
}


class _Gathered:
    """What the manifests hold so far, in the order read."""

    def __init__(self) -> None:
        self.namespaces: list[Namespace] = []
        self.parts: list[WorkloadPart] = []
        self.built: dict[str, list[Any]] = {kind: [] for kind in _BUILDERS}
        #: Kinds skipped: how many, and where the first one is.
        self.skipped: dict[str, tuple[int, Source]] = {}

    def add(self, f: Fields, obj: RawObject) -> None:
        """Read one object (problems go to ``f``)."""
        data, loc, kind = obj.data, obj.loc, obj.kind
        if not isinstance(data, dict):
            f.error(loc, "a manifest must be a mapping (an object with kind, metadata...)")
            return
        if kind is None:
            f.error(loc, "missing required field 'kind'")
            return
        if kind == "Namespace":
            ns = namespace_of(f, data, loc)
            self.namespaces += [ns] if ns else []
        elif kind == "Pod" or kind in TEMPLATE_PATHS:
            part = workload_part(f, data, loc, kind)
            self.parts += [part] if part else []
        elif kind in _BUILDERS:
            built = _BUILDERS[kind](f, data, loc)
            if built is not None:
                # Ingresses and Routes share a list: both are published entries; a
                # CiliumNetworkPolicy with several specs gives one object per spec.
                bucket = self.built["Ingress" if kind == "Route" else kind]
                bucket += built if isinstance(built, list) else [built]
        else:
            count, first = self.skipped.get(kind) or (0, f.source(loc))
            self.skipped[kind] = (count + 1, first)

    def workloads(self, notes: list[Diagnostic]) -> list[Workload]:
        """The parts joined by owner: one workload per ``NAMESPACE/NAME``."""
        owners = {(p.namespace, p.kind, p.name): p.owner for p in self.parts if p.kind != "Pod"}
        joined: dict[tuple[str, str], Workload] = {}
        # The owners' own manifests first (a Deployment before its ReplicaSets, those
        # before their Pods), so the labels kept are the owner's whatever the file order.
        ordered = sorted(self.parts, key=lambda p: (p.owner is not None, p.kind == "Pod"))
        # ... listed in the order they were first read, as before.
        first_read: dict[tuple[str, str], int] = {}
        for i, part in enumerate(self.parts):
            first_read.setdefault((part.namespace, owner_name(part, owners)[1]), i)
        for part in ordered:
            kind, name = owner_name(part, owners)
            key = (part.namespace, name)
            first = joined.get(key)
            if first is None:
                joined[key] = Workload(
                    part.namespace, name, kind, part.labels, part.ports,
                    part.annotations, (part.source,), part.ztsim_annotations,
                )  # fmt: skip
                continue
            if _stable(first.labels) != _stable(part.labels) or first.kind != kind:
                notes.append(_note(part.source, (
                    f"workload {first.id} ({first.kind}) was read first at {first.source} with "
                    "other labels or another kind: the first manifest's labels are kept"
                )))  # fmt: skip
            ports = tuple(dict.fromkeys((*first.ports, *part.ports)))
            joined[key] = Workload(
                first.namespace, first.name, first.kind, first.labels, ports,
                first.annotations, (*first.sources, part.source), first.ztsim_annotations,
            )  # fmt: skip
        return [joined[k] for k in sorted(joined, key=first_read.__getitem__)]

    def all_namespaces(self, workloads: list[Workload], notes: list[Diagnostic]) -> list[Namespace]:
        """The declared namespaces, then those only referred to (automatic label only)."""
        out: dict[str, Namespace] = {}
        for ns in self.namespaces:
            if ns.name in out:
                notes.append(
                    _note(ns.source, f"namespace {ns.name} declared again: the first kept")
                )
            else:
                out[ns.name] = ns
        used = [w.namespace for w in workloads] + [
            obj.namespace for kind, objs in self.built.items() for obj in objs
            if kind not in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy")
        ]  # fmt: skip
        for name in used:
            if name not in out:
                out[name] = Namespace(name, ((NAMESPACE_LABEL, name),), None)
        return list(out.values())


#: Labels controllers put on each pod or revision (a hash, a replica's name): the
#: replicas of one workload differ in them and nothing else, which is no conflict.
REVISION_LABELS = frozenset(
    {
        "pod-template-hash",
        "controller-revision-hash",
        "pod-template-generation",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "controller-uid",
        "batch.kubernetes.io/controller-uid",
        "job-name",
        "batch.kubernetes.io/job-name",
    }
)


def _stable(labels: Labels) -> Labels:
    """``labels`` without :data:`REVISION_LABELS`."""
    return tuple(kv for kv in labels if kv[0] not in REVISION_LABELS)


def _note(source: Source | None, message: str) -> Diagnostic:
    where = source or Source("<manifests>", 1, 1)
    return Diagnostic(where.path, where.line, where.column, "warning", message)


def _same_priorities(policies: list[AdminNetworkPolicy]) -> list[Diagnostic]:
    """A note for each AdminNetworkPolicy whose priority an earlier one has: the order
    between them is undefined in Kubernetes, so no reading of it is exact."""
    first: dict[int, AdminNetworkPolicy] = {}
    notes = []
    for anp in policies:
        other = first.setdefault(anp.priority, anp)
        if other is not anp:
            notes.append(_note(anp.source, (
                f"AdminNetworkPolicy {anp.name} has the priority ({anp.priority}) of "
                f"{other.name} at {other.source}: Kubernetes leaves their order undefined"
            )))  # fmt: skip
    return notes


def _read_files(files: list[str], gathered: _Gathered, diagnostics: list[Diagnostic]) -> None:
    """Read every object of ``files`` into ``gathered``, problems into ``diagnostics``."""
    for name in files:
        try:
            documents = read_stream(name)
        except YamlInputError as exc:
            diagnostics.append(located(exc))
            continue
        for part in documents:
            collector = Collector(part.doc)
            fields = Fields(part.doc, collector, part.offset)
            for obj in objects_of(part.doc):
                gathered.add(fields, obj)
            diagnostics.extend(
                replace(d, line=d.line + part.offset) for d in collector.diagnostics()
            )


def read_manifests(paths: Iterable[str | Path]) -> Manifests:
    """Read the manifests of ``paths`` (files; directories recursively, sorted).

    Raises
    ------
    InputError
        With every problem found (FILE:LINE:COL), when a file cannot be read or a
        manifest of a kind ztsim reads is malformed.
    """
    files, diagnostics = expand_paths(paths)
    gathered = _Gathered()
    # The cyclic collector off for the whole read, not per document: turned back on
    # after each of thousands of small parses, it would keep scanning the heap.
    with paused_gc():
        _read_files(files, gathered, diagnostics)

    notes: list[Diagnostic] = []
    workloads = gathered.workloads(notes)
    namespaces = gathered.all_namespaces(workloads, notes)
    notes += _same_priorities(gathered.built["AdminNetworkPolicy"])
    for kind, (count, first) in sorted(gathered.skipped.items()):
        notes.append(_note(first, f"skipped {count} {kind} object(s): not a kind ztsim reads"))
    diagnostics += notes
    if any(d.level == "error" for d in diagnostics):
        raise InputError(diagnostics)
    built = gathered.built
    return Manifests(
        files=tuple(files),
        namespaces=tuple(namespaces),
        workloads=tuple(workloads),
        services=tuple[Service, ...](built["Service"]),
        ingresses=tuple[Ingress, ...](built["Ingress"]),
        network_policies=tuple[NetworkPolicy, ...](built["NetworkPolicy"]),
        admin_policies=tuple[AdminNetworkPolicy, ...](built["AdminNetworkPolicy"]),
        baseline_policies=tuple[BaselineAdminNetworkPolicy, ...](
            built["BaselineAdminNetworkPolicy"]
        ),
        cilium_policies=tuple[CiliumNetworkPolicy, ...](built["CiliumNetworkPolicy"]),
        notes=tuple(sorted(diagnostics, key=lambda d: (d.path, d.line, d.column))),
    )
