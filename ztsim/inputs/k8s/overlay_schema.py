"""The overlay's schema: attack ingredients attached to Kubernetes workloads.

An overlay (``kind: overlay``, ``docs/k8s.md``, section "The overlay") adds to an
imported topology what manifests do not hold.  Its models forbid unknown keys
and reuse the topology's own where an item is the same (a vulnerability, a
login, a data item...), so what they accept and refuse is what a topology file
does.  Applying it is :func:`ztsim.inputs.k8s.overlay.apply_overlay`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictStr, field_validator, model_validator

from ztsim.model.fields import BLANK_MESSAGE, DeclaredId, FrozenModel, Id, LabelText
from ztsim.model.schema import (
    Credential,
    CredentialStore,
    DataItem,
    ExternalDestination,
    HostService,
    Login,
    Vulnerability,
    Zone,
)
from ztsim.model.selectors import LabelExpression
from ztsim.model.services import canonical_service

__all__ = [
    "Attachment",
    "Endpoint",
    "Overlay",
    "OverlayEntry",
    "OverlayTraffic",
    "WorkloadSelector",
]


def _one_or_many(value: Any) -> Any:
    """A string as a list of one (``namespace: shop`` is ``namespace: [shop]``)."""
    return [value] if isinstance(value, str) else value


class WorkloadSelector(FrozenModel):
    """Which workloads an overlay entry names; every key given must match.

    ``namespace`` (one or several), ``workload`` (ids ``NAMESPACE/NAME``, one or
    several), ``kind`` (``Deployment``, ``StatefulSet``, ``Pod``...), ``labels``
    (all pairs, on the pod labels), ``labels_match`` (Kubernetes'
    ``matchExpressions``).  ``any`` (or ``{}``) names every workload.
    """

    namespace: list[Id] | None = Field(default=None, min_length=1)
    workload: list[Id] | None = Field(default=None, min_length=1)
    kind: list[StrictStr] | None = Field(default=None, min_length=1)
    labels: dict[StrictStr, LabelText] | None = Field(default=None, min_length=1)
    labels_match: list[LabelExpression] | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _any(cls, value: Any) -> Any:
        if value is None:
            raise ValueError(BLANK_MESSAGE)
        if isinstance(value, str) and value.strip().lower() in ("any", "*"):
            return {}
        if isinstance(value, dict):
            return {
                k: _one_or_many(v) if k in ("namespace", "workload", "kind") else v
                for k, v in value.items()
            }
        return value

    @field_validator("namespace", "workload", "kind", "labels", "labels_match", mode="before")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        if value is None:
            raise ValueError(BLANK_MESSAGE)
        return value

    def matches(self, host: dict[str, Any], kind: str) -> bool:
        """Whether the host (a topology document's) of a workload of ``kind`` matches."""
        labels = host.get("labels") or {}
        return (
            (self.namespace is None or host["zone"] in self.namespace)
            and (self.workload is None or host["id"] in self.workload)
            and (self.kind is None or kind in self.kind)
            and (self.labels is None or all(labels.get(k) == v for k, v in self.labels.items()))
            and (self.labels_match is None or all(e.holds(labels) for e in self.labels_match))
        )


class Attachment(FrozenModel):
    """An entry of ``workloads``: ingredients added to every workload ``select`` names.

    A service already offered is updated (``name``, ``public``, ``encrypted`` as
    given); one not offered is added.  A data item attached to several workloads
    becomes one item per workload, ``ID@NAMESPACE/NAME``.
    """

    select: WorkloadSelector
    services: list[HostService] = Field(default_factory=list)
    vulnerabilities: list[Vulnerability] = Field(default_factory=list)
    credentials: list[CredentialStore] = Field(default_factory=list)
    logins: list[Login] = Field(default_factory=list)
    data: list[DataItem] = Field(default_factory=list)
    description: StrictStr | None = None


class Endpoint(FrozenModel):
    """One end of an overlay flow: an ``id`` (a workload ``NAMESPACE/NAME``, an
    external zone, an external destination) or the workloads a selector names.

    Written as the id itself or as the selector's mapping.
    """

    id: Id | None = None
    select: WorkloadSelector | None = None

    @model_validator(mode="before")
    @classmethod
    def _written(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() not in ("any", "*"):
            if not 1 <= len(value) <= 200:
                raise ValueError("an id has 1 to 200 characters")
            return {"id": value}
        if isinstance(value, dict | str):
            return {"select": value}
        if value is None:
            raise ValueError(BLANK_MESSAGE)
        raise ValueError(
            "write a workload id (NAMESPACE/NAME), an external zone or destination id, "
            "or a selector (namespace, workload, kind, labels, labels_match)"
        )


class OverlayTraffic(FrozenModel):
    """A legitimate flow: ``from`` a workload id, an external zone or a selector;
    ``to`` a workload id, an external destination or a selector (one flow per pair,
    to the selected workloads that offer ``service``)."""

    source: Endpoint = Field(alias="from")
    to: Endpoint
    service: StrictStr
    credential: Id | None = None
    description: StrictStr | None = None

    _service = field_validator("service")(canonical_service)


class OverlayEntry(FrozenModel):
    """An entry point: an external ``zone``, a workload (``host``, its id) or the
    workloads a selector names (``select``: one entry each, ``ID@NAMESPACE/NAME``
    when several)."""

    id: DeclaredId
    zone: Id | None = None
    host: Id | None = None
    select: WorkloadSelector | None = None
    gives: Literal["user", "root"] | None = None
    credentials: list[Id] = Field(default_factory=list)
    technique: StrictStr | None = None
    description: StrictStr | None = None

    @model_validator(mode="after")
    def _shape(self) -> OverlayEntry:
        given = [k for k in ("zone", "host", "select") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("an entry point names exactly one of `zone`, `host` or `select`")
        if self.zone is not None and self.gives is not None:
            raise ValueError("`gives` goes with a `host` or `select` entry point, not a `zone` one")
        return self


class Overlay(FrozenModel):
    """An overlay file (``kind: overlay``).

    ``entry_points``, when given, replace the default one (the internet reaching
    what is published); entry points from ``ztsim.io/entry`` annotations stay.
    ``ingress_controllers``, when given, name the workloads that proxy what
    Ingresses and Routes publish (with those of ``ztsim.io/ingress-controller``
    annotations), instead of the common controllers ztsim recognises; ``[]``
    says the manifests hold none.
    """

    ztsim: Literal[1]
    kind: Literal["overlay"]
    name: StrictStr | None = None
    description: StrictStr | None = None
    zones: list[Zone] = Field(default_factory=list)
    credentials: list[Credential] = Field(default_factory=list)
    workloads: list[Attachment] = Field(default_factory=list)
    external: list[ExternalDestination] = Field(default_factory=list)
    traffic: list[OverlayTraffic] = Field(default_factory=list)
    entry_points: list[OverlayEntry] | None = None
    ingress_controllers: list[WorkloadSelector] | None = None
