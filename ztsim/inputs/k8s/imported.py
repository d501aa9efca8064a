"""What a Kubernetes import loads: a topology and a policy that name their manifests.

:class:`ImportedTopology` and :class:`ImportedPolicy` are a normal
:class:`~ztsim.inputs.loaded.LoadedTopology` and
:class:`~ztsim.inputs.loaded.LoadedPolicy`, except that every rule's place is the
Kubernetes object it compiles: ``rule_location`` reads ``NetworkPolicy
shop/default-deny at k8s/netpol.yaml:12``, ``rule_file`` and ``rule_mark`` give
the manifest's file, line and column (SARIF points there).  :class:`Imported`
is what :func:`~ztsim.inputs.k8s.importer.import_k8s` gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from ztsim.inputs.k8s.drafts import PolicyDraft, Provenance, TopologyDraft
from ztsim.inputs.k8s.objects import Manifests
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.positions import Mark, NodePath
from ztsim.model.diagnostics import Diagnostic
from ztsim.model.schema import Policy

__all__ = ["K8S_DEFAULTS", "Imported", "ImportedPolicy", "ImportedTopology"]

Section = Literal["segmentation", "egress"]


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

        A layer's default is no object, and no connection of an import meets one:
        the ``unisolated`` tier names the namespaces no policy isolates, and, on the
        egress side, what comes from outside (its publisher, else its namespace).
        Should one decide (a compiled policy edited), the location says so.
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


#: What the layers' defaults of a Kubernetes import stand for: nothing in the
#: manifests (every connection is decided by a rule, the ``unisolated`` tier's at
#: the last), so a default that decides says it names no object.
K8S_DEFAULTS = {
    f"{layer}/default": "no Kubernetes object: no rule of this side matched"
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
