"""The ztsim data model: topologies and policies as immutable pydantic models.

This module is the schema of spec §1–§3 (``shared/spec/model-v1.md``).  Every
model forbids unknown keys, so a typo is an error and never a silent change of
result, and is frozen once loaded.  Cross-references (a login naming a
credential, a traffic flow naming a host) are checked by :mod:`ztsim.inputs.loader`,
which knows the file and can point at the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = [
    "LEVELS",
    "ControlSet",
    "Credential",
    "CredentialStore",
    "DataItem",
    "Detection",
    "EgressRule",
    "EgressSection",
    "EntryPoint",
    "ExternalDestination",
    "Host",
    "HostLabels",
    "HostService",
    "Labels",
    "Level",
    "Login",
    "Policy",
    "PortRange",
    "SegmentationRule",
    "SegmentationSection",
    "Selector",
    "Service",
    "SharedList",
    "Topology",
    "Traffic",
    "Vulnerability",
    "Zone",
    "canonical_service",
    "key_of_lists",
    "level_at_least",
    "lists_key",
    "parse_port_range",
    "parse_service",
]

Level = Literal["service", "user", "root"]
#: Privilege levels in increasing order (spec §1).
LEVELS: tuple[Level, ...] = ("service", "user", "root")
_RANK: dict[str, int] = {name: i for i, name in enumerate(LEVELS)}

# ASCII digits only: ``\d`` and ``int()`` also take full-width or Arabic-Indic
# digits (``４４３/tcp``), which no firewall writes: an error, not a port.
_SERVICE_RE = re.compile(r"^([0-9]{1,5})/(tcp|udp|sctp|icmp)$")
_RANGE_RE = re.compile(r"^([0-9]{1,5})(?:-([0-9]{1,5}))?/(tcp|udp|sctp|icmp)$")
#: What a declared id may be.  Checked by pydantic-core's (Rust) regex engine, whose
#: ``$`` only matches at the very end: the ``\n?`` keeps the meaning Python's ``$``
#: gave the check before it moved there (a single trailing newline is accepted).
ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:@/+-]*\n?$"
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
_FQDN_RE = re.compile(rf"^(?:\*\.)?{_LABEL}(?:\.{_LABEL})*$")


def level_at_least(have: str, need: str) -> bool:
    """Return whether privilege ``have`` is at least ``need`` (``service < user < root``)."""
    return _RANK[have] >= _RANK[need]


@dataclass(frozen=True, order=True)
class Service:
    """One concrete service, ``PORT/PROTO`` such as ``443/tcp``."""

    port: int
    proto: str

    def __str__(self) -> str:
        return f"{self.port}/{self.proto}"


@dataclass(frozen=True, order=True)
class PortRange:
    """A service set in a policy rule: ``LOW-HIGH/PROTO``, ``PORT/PROTO`` or any."""

    low: int
    high: int
    proto: str  # "*" for any

    def covers(self, service: Service) -> bool:
        """Return whether ``service`` falls in this range."""
        return (self.proto == "*" or self.proto == service.proto) and (
            self.low <= service.port <= self.high
        )

    def __str__(self) -> str:
        if self.proto == "*":
            return "any"
        if self.low == self.high:
            return f"{self.low}/{self.proto}"
        return f"{self.low}-{self.high}/{self.proto}"


ANY_SERVICE = PortRange(0, 65535, "*")


@lru_cache(maxsize=4096)
def parse_service(text: str) -> Service:
    """Parse ``PORT/PROTO``.

    >>> parse_service("443/TCP")
    Service(port=443, proto='tcp')
    """
    m = _SERVICE_RE.match(text.strip().lower())
    if not m:
        raise ValueError(f"service {text!r} is not PORT/PROTO (e.g. 443/tcp, 53/udp)")
    port = int(m.group(1))
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} out of range 0-65535")
    return Service(port, m.group(2))


@lru_cache(maxsize=4096)
def canonical_service(text: str) -> str:
    """``text`` as :func:`parse_service` reads it, written canonically (``443/tcp``).

    Cached, and used as the services' field validator directly (no Python frame
    per service): a large topology names a few distinct services many times.
    """
    return str(parse_service(text))


@lru_cache(maxsize=4096)
def _canonical_optional_service(text: str | None) -> str | None:
    return None if text is None else canonical_service(text)


@lru_cache(maxsize=4096)
def parse_port_range(text: str) -> PortRange:
    """Parse a rule's service: ``PORT/PROTO``, ``LOW-HIGH/PROTO`` or ``any``.

    >>> parse_port_range("8000-8999/tcp")
    PortRange(low=8000, high=8999, proto='tcp')
    """
    t = text.strip().lower()
    if t == "any":
        return ANY_SERVICE
    m = _RANGE_RE.match(t)
    if not m:
        raise ValueError(
            f"service {text!r} is not PORT/PROTO, LOW-HIGH/PROTO or any (e.g. 8000-8999/tcp)"
        )
    low = int(m.group(1))
    high = int(m.group(2)) if m.group(2) else low
    if not (0 <= low <= 65535 and 0 <= high <= 65535):
        raise ValueError("port out of range 0-65535")
    if low > high:
        raise ValueError(f"empty port range {low}-{high}")
    return PortRange(low, high, m.group(3))


@lru_cache(maxsize=4096)
def _ranges(services: tuple[str, ...] | None) -> tuple[PortRange, ...]:
    """A rule's services as ranges, once per distinct list (thousands of rules
    repeat a few dozen lists, and each compilation asks every rule)."""
    if services is None:
        return (ANY_SERVICE,)
    return tuple(parse_port_range(s) for s in services)


def invalid_id_message(value: object) -> str:
    """The error for a declared id that does not match :data:`ID_PATTERN`."""
    return f"invalid id {value!r}: use letters, digits and _ . : @ / + -"


#: An id that refers to something (checked against the declarations by the loader).
Id = Annotated[StrictStr, Field(min_length=1, max_length=200)]
#: An id that declares something: also restricted to :data:`ID_PATTERN` (validated
#: in pydantic-core; the loader words its ``string_pattern_mismatch`` error with
#: :func:`invalid_id_message`).
DeclaredId = Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=ID_PATTERN)]


#: What a blank value (``~``, ``null`` or nothing after the colon) gets told.
BLANK_MESSAGE = "blank value: write `any` (or `{}`) to match everything, or omit the key"


#: The error for a label value that is not a string (YAML read it as something else).
LABEL_TEXT_MESSAGE = (
    "a label value must be text, and YAML reads on/off/yes/no/true/false as booleans "
    'and 1, 1.10, 017 or 1:30 as numbers: quote it (e.g. tier: "on", version: "1.10")'
)


class _LabelText:
    """Annotation marker for a label value: a string, and nothing YAML read otherwise.

    YAML 1.1 reads ``on``, ``yes`` or ``off`` as booleans, ``1:30`` as 90, ``017``
    as 15 and ``1.10`` as 1.1: turned back into text, such a value would no longer
    equal what was written, and a selector would silently stop matching (a typo
    class of bug).  So anything but a string is an error saying to quote it
    (:data:`LABEL_TEXT_MESSAGE`).  Checked in pydantic-core with no Python call (a
    large topology has a quarter of a million label values).
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.custom_error_schema(
            core_schema.str_schema(strict=True),
            custom_error_type="label_text",
            custom_error_message=LABEL_TEXT_MESSAGE,
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(core_schema.str_schema())  # as a string field


#: A label value (see :class:`_LabelText`).
LabelText = Annotated[str, _LabelText]


class Labels(dict[str, str]):
    """A host's labels as validated once for all the hosts that list them.

    A plain dict to every reader.  :mod:`ztsim.perf.dedupe` builds one per distinct
    parsed label mapping of a large topology, and :class:`Host` keeps it as it is
    (thousands of hosts then share it, and the label groups of
    :class:`ztsim.inputs.loader.LoadedTopology` are found by its identity).
    """

    __slots__ = ()


def _kept_as(cls: type) -> WrapValidator:
    """A validator that keeps a value of exactly ``cls`` (validated already, once for
    every host that lists it: :mod:`ztsim.perf.dedupe`) and validates anything else."""

    def keep(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if type(value) is cls:
            return value
        return handler(value)

    return WrapValidator(keep)


#: A host's labels (see :class:`Labels`).
HostLabels = Annotated[dict[StrictStr, LabelText], _kept_as(Labels)]

T = TypeVar("T")


class SharedList(list[T]):
    """A host's list of services (logins, ...) as validated once for every host listing it.

    A plain list to every reader.  :mod:`ztsim.perf.dedupe` builds one per distinct
    parsed list of a large topology, its items models already, and :class:`Host`
    keeps it as it is: thousands of hosts then share it, and what is derived from
    a host's lists (its checks, its signature) is derived once per distinct
    combination of them, found by identity.  Never mutated.
    """

    __slots__ = ()


def lists_key(host: Host) -> tuple[int, int, int, int]:
    """The identities of a host's services, vulnerabilities, stored credentials and
    logins lists (``0`` for an empty one: each host has its own).

    Hosts with equal keys list the very same lists (:class:`SharedList`), so what
    is derived from those lists alone is derived once per key.  Valid while the
    hosts live (they hold the lists, so no id is reused).
    """
    return key_of_lists(host.services, host.vulnerabilities, host.credentials, host.logins)


def key_of_lists(
    services: list[Any] | None,
    vulns: list[Any] | None,
    stores: list[Any] | None,
    logins: list[Any] | None,
) -> tuple[int, int, int, int]:
    """:func:`lists_key` of a host with these lists (``None`` or empty: none)."""
    return (
        id(services) if services else 0,
        id(vulns) if vulns else 0,
        id(stores) if stores else 0,
        id(logins) if logins else 0,
    )


#: A list field of :class:`Host` (see :class:`SharedList`).
HostList = Annotated[list[T], _kept_as(SharedList)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------- topology


class Zone(_Model):
    """A network zone; ``external`` zones are outside the organisation."""

    id: DeclaredId
    external: StrictBool = False
    description: StrictStr | None = None


class Credential(_Model):
    """A secret the attacker may hold (password, key, token)."""

    id: DeclaredId
    description: StrictStr | None = None


class HostService(_Model):
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


class Vulnerability(_Model):
    """A remote vulnerability on one of the host's services, or a local one."""

    id: Id
    service: StrictStr | None = None
    local: StrictBool = False
    gives: Level = "user"

    _service = field_validator("service")(_canonical_optional_service)

    @model_validator(mode="after")
    def _shape(self) -> Vulnerability:
        if self.local and self.service is not None:
            raise ValueError("a vulnerability is either local or on a service, not both")
        if not self.local and self.service is None:
            raise ValueError("a remote vulnerability needs `service` (or set `local: true`)")
        if self.local and self.gives != "root":
            raise ValueError("a local vulnerability is a privilege escalation: `gives: root`")
        return self


class CredentialStore(_Model):
    """A credential readable on the host by someone at ``requires`` or above."""

    credential: Id
    requires: Literal["user", "root"] = "user"


class Login(_Model):
    """A credential accepted by one of the host's services, giving ``gives``."""

    credential: Id
    service: StrictStr
    gives: Level = "user"

    _service = field_validator("service")(canonical_service)


class DataItem(_Model):
    """Data stored on a host: the object of exfiltration and tampering goals."""

    id: DeclaredId
    classification: StrictStr | None = None
    records: StrictInt | None = Field(default=None, ge=0)
    requires: Level = "user"
    service: StrictStr | None = None
    integrity: StrictBool = False
    description: StrictStr | None = None

    _service = field_validator("service")(_canonical_optional_service)

    @model_validator(mode="after")
    def _shape(self) -> DataItem:
        if self.requires == "service" and self.service is None:
            raise ValueError("data with `requires: service` must name the `service` serving it")
        if self.requires != "service" and self.service is not None:
            raise ValueError("`service` on a data item goes with `requires: service`")
        return self


class Host(_Model):
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


class ExternalDestination(_Model):
    """A destination outside the organisation, by FQDN (exact or ``*.suffix``)."""

    id: DeclaredId
    fqdn: StrictStr
    role: Literal["c2", "web-service", "partner"] = "partner"
    services: list[StrictStr] = Field(default_factory=lambda: ["443/tcp"])
    description: StrictStr | None = None

    @field_validator("fqdn")
    @classmethod
    def _fqdn(cls, v: str) -> str:
        if not _FQDN_RE.match(v):
            raise ValueError(f"fqdn {v!r} is not a host name or *.suffix")
        return v.lower()

    @field_validator("services")
    @classmethod
    def _services(cls, v: list[str]) -> list[str]:
        return [canonical_service(s) for s in v]


class Traffic(_Model):
    """A legitimate business flow: it must stay allowed, and it can be sniffed."""

    source: Id = Field(alias="from")
    to: Id
    service: StrictStr
    credential: Id | None = None
    description: StrictStr | None = None

    _service = field_validator("service")(canonical_service)


class EntryPoint(_Model):
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
    def level(self) -> str:
        """The privilege a host entry gives (``user`` unless stated)."""
        return self.gives or "user"


class Topology(_Model):
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


class Selector(_Model):
    """Which sources or destinations a rule matches.

    ``any``, ``{}`` or an omitted selector match everything.  Every key given
    must match: ``zone`` (an id or a list of ids: any of them), ``host`` (an id or
    a list of ids), ``labels`` (all pairs).
    """

    # One zone or several, a list as `host` (a tuple would add a "too short" error
    # to each bad item).  An empty list would name no zone yet read as "omitted".
    zone: list[Id] | None = Field(default=None, min_length=1)
    # An empty list would name no host yet read as "omitted": refuse it.
    host: list[Id] | None = Field(default=None, min_length=1)
    # `labels: {}` would match every host and, being neither `{}` nor `zone`, leave
    # open whether it matches an external zone: refuse it as empty lists are.
    labels: dict[StrictStr, LabelText] | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _any(cls, v: Any) -> Any:
        if v is None:
            # `from: ~` (or nothing after the colon) would read as "any": a
            # forgotten value must not widen a rule.
            raise ValueError(BLANK_MESSAGE)
        if isinstance(v, str) and v.strip().lower() in ("any", "*"):
            return {}
        if isinstance(v, dict):
            # Copy only what needs rewriting (most selectors need nothing; label
            # values are made text by their type, LabelText).
            host = v.get("host")
            if isinstance(host, str):
                v = {**v, "host": [host]}
            zone = v.get("zone")
            if isinstance(zone, str):
                v = {**v, "zone": [zone]}
        return v

    @field_validator("zone", "host", "labels", mode="before")
    @classmethod
    def _not_blank(cls, v: Any) -> Any:
        # Run only on a key that is given: `host: ~` is a blank, not an omission.
        if v is None:
            raise ValueError(BLANK_MESSAGE)
        return v

    @model_serializer(mode="wrap")
    def _zone_out(self, handler: SerializerFunctionWrapHandler) -> Any:
        # One zone is written as a scalar (the shipped files' form), several as a list.
        # (A wrapping model serializer: a field serializer would defeat exclude_defaults.)
        out = handler(self)
        zone = out.get("zone") if isinstance(out, dict) else None
        if isinstance(zone, list) and len(zone) == 1:
            out["zone"] = zone[0]
        return out

    @property
    def is_any(self) -> bool:
        """Whether the selector matches everything."""
        return self.zone is None and not self.host and not self.labels

    def __str__(self) -> str:
        if self.is_any:
            return "any"
        parts = []
        if self.zone is not None:
            parts.append("zone=" + ",".join(self.zone))
        if self.host:
            parts.append("host=" + ",".join(self.host))
        if self.labels:
            parts.append(",".join(f"{k}={v}" for k, v in sorted(self.labels.items())))
        return " ".join(parts)


def _parse_services(v: Any) -> Any:
    if v is None:  # given but blank (omitted, it is not validated): not "any"
        raise ValueError("blank value: write `any` for every service, or omit the key")
    if isinstance(v, list) and not v:
        # `services: []` names no service yet reads like "omitted" (any): as with
        # `zone: []`, neither reading is safe for both allow and deny rules.
        raise ValueError("empty list: write `any` for every service, or omit the key")
    if isinstance(v, str):
        v = [v]
    if isinstance(v, list):
        for s in v:
            if isinstance(s, str):
                parse_port_range(s)
    return v


class SegmentationRule(_Model):
    """One first-match segmentation rule."""

    id: Id
    action: Literal["allow", "deny"]
    source: Selector = Field(default_factory=Selector, alias="from")
    to: Selector = Field(default_factory=Selector)
    services: list[StrictStr] | None = Field(default=None, min_length=1)
    description: StrictStr | None = None

    _s = field_validator("services", mode="before")(_parse_services)

    @property
    def ranges(self) -> tuple[PortRange, ...]:
        """The rule's services as ranges (any when omitted)."""
        return _ranges(None if self.services is None else tuple(self.services))


class EgressRule(_Model):
    """One first-match egress rule: hosts to external FQDN patterns."""

    id: Id
    action: Literal["allow", "deny"]
    source: Selector = Field(default_factory=Selector, alias="from")
    to: list[StrictStr] = Field(default_factory=lambda: ["*"], min_length=1)
    services: list[StrictStr] | None = Field(default=None, min_length=1)
    description: StrictStr | None = None

    _s = field_validator("services", mode="before")(_parse_services)

    @field_validator("to", mode="before")
    @classmethod
    def _to(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("blank value: write `*` for every destination, or omit the key")
        if isinstance(v, list) and not v:  # no destination, or "omitted" (`*`)? refused
            raise ValueError("empty list: write `*` for every destination, or omit the key")
        if isinstance(v, str):
            v = [v]
        if isinstance(v, list):
            out = []
            for p in v:
                if isinstance(p, str):
                    if p.lower() == "any":
                        # `any` means everything in selectors and services; here it
                        # would be one host named "any" (an allow rule allowing nothing).
                        raise ValueError("`any` is not a destination name: write `*` for every one")
                    if p != "*" and not _FQDN_RE.match(p):
                        raise ValueError(f"pattern {p!r} is not `*`, a host name or *.suffix")
                    out.append(p.lower())
                else:
                    out.append(p)
            return out
        return v

    @property
    def ranges(self) -> tuple[PortRange, ...]:
        """The rule's services as ranges (any when omitted)."""
        return _ranges(None if self.services is None else tuple(self.services))


class SegmentationSection(_Model):
    """East-west and north-south segmentation (spec §3)."""

    default: Literal["allow", "deny"] = "allow"
    intra_zone: Literal["rules", "allow"] = "rules"
    rules: list[SegmentationRule] = Field(default_factory=list)


class EgressSection(_Model):
    """Egress filtering towards external destinations by FQDN."""

    default: Literal["allow", "deny"] = "allow"
    rules: list[EgressRule] = Field(default_factory=list)


class Detection(_Model):
    """A detection capability: techniques it sees, where, with what probability."""

    id: Id
    techniques: list[StrictStr] = Field(min_length=1)
    where: Selector = Field(default_factory=Selector)
    # Strict: a number (an integer is one), never `yes` nor "0.5".
    probability: float = Field(ge=0.0, le=1.0, strict=True)


class ControlSet(_Model):
    """MFA, encryption in transit and detection."""

    mfa: list[Id] = Field(default_factory=list)
    encrypt_in_transit: StrictBool = False
    detection: list[Detection] = Field(default_factory=list)


class Policy(_Model):
    """A policy file (spec §3)."""

    ztsim: Literal[1]
    kind: Literal["policy"]
    name: StrictStr
    description: StrictStr | None = None
    segmentation: SegmentationSection = Field(default_factory=SegmentationSection)
    egress: EgressSection = Field(default_factory=EgressSection)
    controls: ControlSet = Field(default_factory=ControlSet)
