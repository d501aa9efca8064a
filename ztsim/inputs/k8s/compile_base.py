"""The policy compiler's pieces shared by every kind of policy: rules, ids, ports, notes.

:class:`Emitter` writes ztsim rules (plain dicts in the policy file's shape), keeps
their ids unique and their provenance (rule id -> the Kubernetes object), and
collects the warnings.  :class:`Port` is a Kubernetes port of any policy kind:
fixed ports become ``services``; a named port is resolved per destination pod
(:meth:`Emitter.allow_named`), one rule per distinct resolution.
"""

from __future__ import annotations

import hashlib
import marshal
from dataclasses import dataclass
from typing import Any, Literal

from ztsim.inputs.k8s.compile_select import Cluster, PodSet
from ztsim.inputs.k8s.drafts import Provenance
from ztsim.inputs.k8s.objects import Protocol, Source
from ztsim.model.diagnostics import Diagnostic

__all__ = ["ALL_PORTS", "Emitter", "Port", "RuleAction"]

RuleAction = Literal["allow", "deny", "pass"]
_MAX_ID = 200  # the model's longest id


@dataclass(frozen=True)
class Port:
    """A port of a policy rule: ``services`` (ztsim's ``PORT/PROTO`` or
    ``LOW-HIGH/PROTO``), or a container port ``named`` (of ``protocol``, or of any
    protocol when ``None``: AdminNetworkPolicy's ``namedPort``)."""

    services: tuple[str, ...] | None = None
    named: str | None = None
    protocol: Protocol | None = None

    @classmethod
    def numbers(cls, protocol: Protocol, low: int | None, high: int | None = None) -> Port:
        """Ports ``low``..``high`` of ``protocol`` (every port of it when ``low`` is None)."""
        proto = protocol.lower()
        if low is None:
            return cls((f"0-65535/{proto}",))
        top = low if high is None else high
        return cls((f"{low}/{proto}" if top == low else f"{low}-{top}/{proto}",))


#: A rule's ports left out: every port of every protocol.
ALL_PORTS = Port()


class Emitter:
    """Writes rules with unique, readable ids; keeps provenance and warnings."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.provenance: dict[str, Provenance] = {}
        #: Rule id -> its ends as pods (``None``: any), for copies of the rule
        #: (:mod:`~ztsim.inputs.k8s.compile_ingress`).
        self.ends: dict[str, tuple[PodSet | None, PodSet | None]] = {}
        self.notes: list[Diagnostic] = []
        self._noted: set[tuple[Source, str]] = set()

    def warn(self, where: Source, what: str, message: str) -> None:
        """A warning at ``where``, naming the object ``what`` (once per place and text)."""
        key = (where, message)
        if key in self._noted:
            return
        self._noted.add(key)
        self.notes.append(
            Diagnostic(where.path, where.line, where.column, "warning", f"{what}: {message}")
        )

    def rule(
        self,
        rid: str,
        action: RuleAction,
        src: PodSet | None,
        dst: PodSet | None,
        services: tuple[str, ...] | None,
        prov: Provenance,
    ) -> dict[str, Any]:
        """One rule (``src``/``dst`` ``None`` or ``{}``: any; ``services`` ``None``: any)."""
        rid = self._unique(rid)
        out: dict[str, Any] = {"id": rid, "action": action}
        # Copies: a document's parts are never shared (a writer may alias or change
        # them).  A selector is dicts, lists and strings: marshal copies it exactly,
        # several times faster than deepcopy.
        if src is not None and src.selector:
            out["from"] = marshal.loads(marshal.dumps(src.selector))
        if dst is not None and dst.selector:
            out["to"] = marshal.loads(marshal.dumps(dst.selector))
        if services is not None:
            out["services"] = list(services)
        self.provenance[rid] = prov
        self.ends[rid] = (src, dst)
        return out

    def rules_for_port(
        self,
        rid: str,
        action: RuleAction,
        src: PodSet | None,
        dst: PodSet,
        port: Port,
        prov: Provenance,
    ) -> list[dict[str, Any]]:
        """The rules saying ``action`` from ``src`` to ``dst`` on ``port``: one, or for a
        named port one per distinct resolution on ``dst``'s pods (``rid.K`` when
        there are several), each narrowed to the pods that resolve it so; none if no
        pod of ``dst`` has it."""
        if port.named is None:
            return [self.rule(rid, action, src, dst, port.services, prov)]
        found = self.cluster.resolve(dst.hosts, port.named, port.protocol)
        out = []
        for k, ((number, proto), hosts) in enumerate(found.items()):
            narrowed = dst
            if frozenset(hosts) != dst.hosts:
                narrowed = PodSet({**dst.selector, "host": hosts}, frozenset(hosts))
            services = (f"{number}/{proto.lower()}",)
            kid = rid if len(found) == 1 else f"{rid}.{k}"
            out.append(self.rule(kid, action, src, narrowed, services, prov))
        return out

    def _unique(self, rid: str) -> str:
        """``rid`` cut to the model's length (with a digest), and unique."""
        if len(rid) > _MAX_ID:
            digest = hashlib.sha256(rid.encode()).hexdigest()[:12]
            rid = f"{rid[: _MAX_ID - 14]}~{digest}"
        if rid in self.provenance:  # only a cut id can meet another (ids decode uniquely)
            n = 2
            while f"{rid[: _MAX_ID - 6]}~{n}" in self.provenance:
                n += 1
            rid = f"{rid[: _MAX_ID - 6]}~{n}"
        return rid
