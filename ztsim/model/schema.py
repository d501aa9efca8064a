"""The ztsim data model: topologies and policies as immutable pydantic models.

This module is the schema of spec §1–§3 (``shared/spec/model-v1.md``): the
topology's and the policy's models.  The pieces they are built from live beside
it: services and port ranges in :mod:`ztsim.model.services`, selectors in
:mod:`ztsim.model.selectors`, ids, label text and shared lists in
:mod:`ztsim.model.fields`.  Every model forbids unknown keys, so a typo is an
error and never a silent change of result, and is frozen once loaded.
Cross-references (a login naming a credential, a traffic flow naming a host) are
checked by :mod:`ztsim.inputs.loader`, which knows the file and can point at the line.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator, model_validator

from ztsim.model.destinations import FQDN_RE, parse_network
from ztsim.model.fields import DeclaredId, FrozenModel, HostLabels, HostList, Id, key_of_lists
from ztsim.model.rules import (
    EgressLayer,
    EgressRule,
    EgressSection,
    EgressTier,
    PlacedRule,
    SegmentationLayer,
    SegmentationRule,
    SegmentationSection,
    SegmentationTier,
)
from ztsim.model.selectors import Selector
from ztsim.model.services import (
    Service,
    canonical_optional_service,
    canonical_service,
    parse_service,
)

__all__ = [
    "LEVELS",
    "ControlSet",
    "Credential",
    "CredentialStore",
    "DataItem",
    "Detection",
    "EgressLayer",
    "EgressRule",
    "EgressSection",
    "EgressTier",
    "EntryPoint",
    "ExternalDestination",
    "Host",
    "HostService",
    "Level",
    "Login",
    "PlacedRule",
    "Policy",
    "SegmentationLayer",
    "SegmentationRule",
    "SegmentationSection",
    "SegmentationTier",
    "Topology",
    "Traffic",
    "Vulnerability",
    "Zone",
    "level_at_least",
    "lists_key",
]

#: A privilege level on a host (spec §1).
Level = Literal["service", "user", "root"]
#: Privilege levels in increasing order (spec §1).
LEVELS: tuple[Level, ...] = ("service", "user", "root")
_RANK: dict[str, int] = {name: i for i, name in enumerate(LEVELS)}


def level_at_least(have: Level, need: Level) -> bool:
    """Return whether privilege ``have`` is at least ``need`` (``service < user < root``).

    >>> level_at_least("root", "user"), level_at_least("service", "user")
    (True, False)
    """
    return _RANK[have] >= _RANK[need]


# --------------------------------------------------------------------------- topology


class Zone(FrozenModel):
    """A network zone; ``external`` zones are outside the organisation."""

    id: DeclaredId
    external: StrictBool = False
    description: StrictStr | None = None


class Credential(FrozenModel):
    """A secret the attacker may hold (password, key, token)."""

    id: DeclaredId
    description: StrictStr | None = None


class HostService(FrozenModel):
    """A service a host listens on."""

    service: StrictStr
    name: StrictStr | None = None
    public: StrictBool = False
    encrypted: StrictBool = False

    _service = field_validator("service")(canonical_service)

    @property
    def parsed(self) -> Service:
        """The service as a :class:`Service`."""
        return parse_service(self.service)


class Vulnerability(FrozenModel):
    """A remote vulnerability on one of the host's services, or a local one."""

    id: Id
    service: StrictStr | None = None
    local: StrictBool = False
    gives: Level = "user"

    _service = field_validator("service")(canonical_optional_service)

    @model_validator(mode="after")
    def _shape(self) -> Vulnerability:
        if self.local and self.service is not None:
            raise ValueError("a vulnerability is either local or on a service, not both")
        if not self.local and self.service is None:
            raise ValueError("a remote vulnerability needs `service` (or set `local: true`)")
        if self.local and self.gives != "root":
            raise ValueError("a local vulnerability is a privilege escalation: `gives: root`")
        return self


class CredentialStore(FrozenModel):
    """A credential readable on the host by someone at ``requires`` or above."""

    credential: Id
    requires: Literal["user", "root"] = "user"


class Login(FrozenModel):
    """A credential accepted by one of the host's services, giving ``gives``."""

    credential: Id
    service: StrictStr
    gives: Level = "user"

    _service = field_validator("service")(canonical_service)


class DataItem(FrozenModel):
    """Data stored on a host: the object of exfiltration and tampering goals."""

    id: DeclaredId
    classification: StrictStr | None = None
    records: StrictInt | None = Field(default=None, ge=0)
    requires: Level = "user"
    service: StrictStr | None = None
    integrity: StrictBool = False
    description: StrictStr | None = None

    _service = field_validator("service")(canonical_optional_service)

    @model_validator(mode="after")
    def _shape(self) -> DataItem:
        if self.requires == "service" and self.service is None:
            raise ValueError("data with `requires: service` must name the `service` serving it")
        if self.requires != "service" and self.service is not None:
            raise ValueError("`service` on a data item goes with `requires: service`")
        return self


class Host(FrozenModel):
    """A workload: a server, a pod, a laptop."""

    id: DeclaredId
    zone: Id
    labels: HostLabels = Field(default_factory=dict)
    services: HostList[HostService] = Field(default_factory=list)
    vulnerabilities: HostList[Vulnerability] = Field(default_factory=list)
    credentials: HostList[CredentialStore] = Field(default_factory=list)
    logins: HostList[Login] = Field(default_factory=list)
    data: list[DataItem] = Field(default_factory=list)
    description: StrictStr | None = None

    def offer(self, service: str) -> HostService | None:
        """The host's listing of ``service`` (canonical ``PORT/PROTO``), if it offers it.

        A scan: hosts offer a few services, and a table of every host's offers cost
        more to build than the look-ups it served.
        """
        for s in self.services:
            if s.service == service:
                return s
        return None


def lists_key(host: Host) -> tuple[int, int, int, int]:
    """The identities of a host's services, vulnerabilities, stored credentials and
    logins lists (``0`` for an empty one: each host has its own).

    Hosts with equal keys list the very same lists
    (:class:`~ztsim.model.fields.SharedList`), so what is derived from those lists
    alone is derived once per key.  Valid while the hosts live (they hold the
    lists, so no id is reused).

    >>> lists_key(Host(id="web", zone="dmz"))
    (0, 0, 0, 0)
    """
    return key_of_lists(host.services, host.vulnerabilities, host.credentials, host.logins)


class ExternalDestination(FrozenModel):
    """A destination outside the organisation, by FQDN (exact or ``*.suffix``) or, in
    model v1.1, by CIDR block (every address in it: the attacker picks one)."""

    id: DeclaredId
    fqdn: StrictStr | None = None
    cidr: StrictStr | None = None
    role: Literal["c2", "web-service", "partner"] = "partner"
    services: list[StrictStr] = Field(default_factory=lambda: ["443/tcp"])
    description: StrictStr | None = None

    @field_validator("fqdn")
    @classmethod
    def _fqdn(cls, value: str | None) -> str | None:
        if value is not None and not FQDN_RE.match(value):
            raise ValueError(f"fqdn {value!r} is not a host name or *.suffix")
        return None if value is None else value.lower()

    @field_validator("cidr", mode="before")
    @classmethod
    def _cidr(cls, value: Any) -> Any:
        return parse_network(value)

    @field_validator("services")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        return [canonical_service(s) for s in value]

    @model_validator(mode="after")
    def _shape(self) -> ExternalDestination:
        if (self.fqdn is None) == (self.cidr is None):
            raise ValueError("an external destination gives exactly one of `fqdn` or `cidr`")
        return self

    @property
    def address(self) -> str:
        """The destination's FQDN or CIDR block, as tables show it."""
        return self.fqdn if self.fqdn is not None else str(self.cidr)


class Traffic(FrozenModel):
    """A legitimate business flow: it must stay allowed, and it can be sniffed."""

    source: Id = Field(alias="from")
    to: Id
    service: StrictStr
    credential: Id | None = None
    description: StrictStr | None = None

    _service = field_validator("service")(canonical_service)


class EntryPoint(FrozenModel):
    """Where the attacker starts: an external zone, or a foothold on a host."""

    id: DeclaredId
    zone: Id | None = None
    host: Id | None = None
    gives: Literal["user", "root"] | None = None
    credentials: list[Id] = Field(default_factory=list)
    technique: StrictStr | None = None
    description: StrictStr | None = None

    @model_validator(mode="after")
    def _shape(self) -> EntryPoint:
        if (self.zone is None) == (self.host is None):
            raise ValueError("an entry point names exactly one of `zone` or `host`")
        if self.zone is not None and self.gives is not None:
            raise ValueError("`gives` goes with a `host` entry point, not a `zone` one")
        return self

    @property
    def level(self) -> Level:
        """The privilege a host entry gives (``user`` unless stated)."""
        return self.gives or "user"


class Topology(FrozenModel):
    """A topology file (spec §2)."""

    ztsim: Literal[1]
    kind: Literal["topology"]
    name: StrictStr
    description: StrictStr | None = None
    zones: list[Zone] = Field(default_factory=list)
    credentials: list[Credential] = Field(default_factory=list)
    hosts: list[Host] = Field(default_factory=list)
    external: list[ExternalDestination] = Field(default_factory=list)
    traffic: list[Traffic] = Field(default_factory=list)
    entry_points: list[EntryPoint] = Field(default_factory=list)


# --------------------------------------------------------------------------- policy


class Detection(FrozenModel):
    """A detection capability: techniques it sees, where, with what probability."""

    id: Id
    techniques: list[StrictStr] = Field(min_length=1)
    where: Selector = Field(default_factory=Selector)
    # Strict: a number (an integer is one), never `yes` nor "0.5".
    probability: float = Field(ge=0.0, le=1.0, strict=True)


class ControlSet(FrozenModel):
    """MFA, encryption in transit and detection."""

    mfa: list[Id] = Field(default_factory=list)
    encrypt_in_transit: StrictBool = False
    detection: list[Detection] = Field(default_factory=list)


class Policy(FrozenModel):
    """A policy file (spec §3)."""

    ztsim: Literal[1]
    kind: Literal["policy"]
    name: StrictStr
    description: StrictStr | None = None
    segmentation: SegmentationSection = Field(default_factory=SegmentationSection)
    egress: EgressSection = Field(default_factory=EgressSection)
    controls: ControlSet = Field(default_factory=ControlSet)
