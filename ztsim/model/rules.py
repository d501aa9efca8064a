"""A policy's segmentation and egress sections: rules, and model v1.1's layers and tiers.

Spec §3 gives a section one first-match list of ``rules`` and a ``default``.  Model
v1.1 (``docs/model-v1.1.md`` section 3) lets a section hold ``layers`` instead: a
flow is allowed iff every layer allows it; a layer scans its ``tiers`` in order,
the first matching rule of a tier deciding (``allow``, ``deny``) or passing to the
next tier (``pass``), else the layer's ``default``.  A v1 section is one layer of
one tier with no ``pass``.

Consumers that only enumerate rules (rule locations, ids, lint, warnings) read
:meth:`SegmentationSection.placed_rules` (or :meth:`EgressSection.placed_rules`):
every rule in order with its layer, its tier and its path in the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Generic, Literal, NamedTuple, TypeVar

from pydantic import AfterValidator, Field, StrictStr, field_validator, model_validator

from ztsim.model.destinations import FQDN_RE, CidrPattern, is_cidr_text
from ztsim.model.fields import DeclaredId, FrozenModel, Id
from ztsim.model.selectors import Selector
from ztsim.model.services import PortRange, parse_port_range, port_ranges

__all__ = [
    "LAYER_ID_MESSAGE",
    "Action",
    "EgressLayer",
    "EgressRule",
    "EgressSection",
    "EgressTier",
    "PlacedRule",
    "SegmentationLayer",
    "SegmentationRule",
    "SegmentationSection",
    "SegmentationTier",
    "to_pattern",
]

#: What a rule may do: ``pass`` only in a layer (model v1.1).
Action = Literal["allow", "deny", "pass"]

#: Why a layer id was refused.
LAYER_ID_MESSAGE = (
    "use letters, digits and _ . : @ - (no `/` nor `+`: a decision is named "
    "LAYER/RULE, and an allowed flow's layers are joined by `+`)"
)
_LAYER_ID_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@-]*")


def _parse_services(value: Any) -> Any:
    """A rule's ``services`` checked (each a port range) before pydantic types them."""
    if value is None:  # given but blank (omitted, it is not validated): not "any"
        raise ValueError("blank value: write `any` for every service, or omit the key")
    if isinstance(value, list) and not value:
        # `services: []` names no service yet reads like "omitted" (any): as with
        # `zone: []`, neither reading is safe for both allow and deny rules.
        raise ValueError("empty list: write `any` for every service, or omit the key")
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        for service in value:
            if isinstance(service, str):
                parse_port_range(service)
    return value


def to_pattern(text: str) -> str | CidrPattern:
    """One of an egress rule's ``to`` from its text (``*``, an FQDN pattern, or a CIDR
    block with no ``except``), as the schema reads it."""
    found: str | CidrPattern = _destination_pattern(text)
    return found


def _destination_pattern(pattern: Any) -> Any:
    """One of an egress rule's ``to``: ``*``, an FQDN pattern (lowercased), or a CIDR
    block (text with a ``/``, or a mapping with ``cidr`` and ``except``); anything
    else is left for pydantic to reject."""
    if isinstance(pattern, dict):
        return CidrPattern.model_validate(pattern)
    if not isinstance(pattern, str):
        return pattern
    if pattern.lower() == "any":
        # `any` means everything in selectors and services; here it
        # would be one host named "any" (an allow rule allowing nothing).
        raise ValueError("`any` is not a destination name: write `*` for every one")
    if is_cidr_text(pattern):
        return CidrPattern(cidr=pattern)
    if pattern != "*" and not FQDN_RE.match(pattern):
        raise ValueError(f"pattern {pattern!r} is not `*`, a host name, *.suffix or a CIDR block")
    return pattern.lower()


RuleT = TypeVar("RuleT", "SegmentationRule", "EgressRule")


def _no_pass(rule: RuleT) -> RuleT:
    """A rule of a v1 ``rules`` list (not in a layer) may not ``pass``."""
    if rule.action == "pass":
        raise ValueError(
            "action `pass` is only allowed in a layer's rules (model v1.1: `layers`); "
            "here it would have no next tier to pass to"
        )
    return rule


class SegmentationRule(FrozenModel):
    """One first-match segmentation rule (``pass``: only in a layer, model v1.1)."""

    id: Id
    action: Action
    source: Selector = Field(default_factory=Selector, alias="from")
    to: Selector = Field(default_factory=Selector)
    services: list[StrictStr] | None = Field(default=None, min_length=1)
    description: StrictStr | None = None

    _services_valid = field_validator("services", mode="before")(_parse_services)

    @property
    def ranges(self) -> tuple[PortRange, ...]:
        """The rule's services as ranges (any when omitted)."""
        return port_ranges(None if self.services is None else tuple(self.services))


def _every() -> list[str | CidrPattern]:
    return ["*"]


class EgressRule(FrozenModel):
    """One first-match egress rule: hosts to external FQDN patterns or CIDR blocks."""

    id: Id
    action: Action
    source: Selector = Field(default_factory=Selector, alias="from")
    to: list[StrictStr | CidrPattern] = Field(default_factory=_every, min_length=1)
    services: list[StrictStr] | None = Field(default=None, min_length=1)
    description: StrictStr | None = None

    _services_valid = field_validator("services", mode="before")(_parse_services)

    @field_validator("to", mode="before")
    @classmethod
    def _to(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("blank value: write `*` for every destination, or omit the key")
        if isinstance(value, list) and not value:  # no destination, or "omitted" (`*`)?
            raise ValueError("empty list: write `*` for every destination, or omit the key")
        if isinstance(value, str | dict):
            value = [value]
        if isinstance(value, list):
            return [_destination_pattern(pattern) for pattern in value]
        return value

    @property
    def ranges(self) -> tuple[PortRange, ...]:
        """The rule's services as ranges (any when omitted)."""
        return port_ranges(None if self.services is None else tuple(self.services))

    @property
    def names(self) -> list[str]:
        """The rule's FQDN patterns and ``*`` (its CIDR patterns left out)."""
        return [p for p in self.to if isinstance(p, str)]

    @property
    def blocks(self) -> list[CidrPattern]:
        """The rule's CIDR patterns (model v1.1)."""
        return [p for p in self.to if not isinstance(p, str)]


def _layer_id(value: Any) -> Any:
    if isinstance(value, str) and not _LAYER_ID_RE.fullmatch(value):
        raise ValueError(f"invalid layer id {value!r}: {LAYER_ID_MESSAGE}")
    return value


#: A layer's id: a declared id without ``/`` nor ``+``.
LayerId = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_layer_id)]


class PlacedRule(NamedTuple, Generic[RuleT]):
    """A rule of a section with where it stands: its layer and tier ids (``None`` in
    a v1 section; the tier ``None`` for a layer listing its rules directly), their
    indexes, and its path in the file below the section."""

    rule: RuleT
    layer: str | None
    tier: str | None
    layer_index: int
    tier_index: int
    path: tuple[str | int, ...]


class SegmentationTier(FrozenModel):
    """A tier of a segmentation layer: first match, ``pass`` to the next tier."""

    id: DeclaredId
    description: StrictStr | None = None
    rules: list[SegmentationRule] = Field(default_factory=list)


class EgressTier(FrozenModel):
    """A tier of an egress layer: first match, ``pass`` to the next tier."""

    id: DeclaredId
    description: StrictStr | None = None
    rules: list[EgressRule] = Field(default_factory=list)


def _tiers_or_rules(layer: SegmentationLayer | EgressLayer) -> None:
    if layer.tiers is not None and layer.rules is not None:
        raise ValueError("a layer lists `tiers` or `rules` (one tier), not both")


class SegmentationLayer(FrozenModel):
    """A segmentation layer (model v1.1): its tiers, and its default."""

    id: LayerId
    default: Literal["allow", "deny"] = "allow"
    description: StrictStr | None = None
    tiers: list[SegmentationTier] | None = None
    rules: list[SegmentationRule] | None = None

    @model_validator(mode="after")
    def _shape(self) -> SegmentationLayer:
        _tiers_or_rules(self)
        return self

    def tier_rules(self) -> list[tuple[str | None, list[SegmentationRule]]]:
        """Each tier's id and rules, in order (one tier, id ``None``, for ``rules``)."""
        if self.tiers is not None:
            return [(t.id, t.rules) for t in self.tiers]
        return [(None, self.rules or [])]


class EgressLayer(FrozenModel):
    """An egress layer (model v1.1): its tiers, and its default."""

    id: LayerId
    default: Literal["allow", "deny"] = "allow"
    description: StrictStr | None = None
    tiers: list[EgressTier] | None = None
    rules: list[EgressRule] | None = None

    @model_validator(mode="after")
    def _shape(self) -> EgressLayer:
        _tiers_or_rules(self)
        return self

    def tier_rules(self) -> list[tuple[str | None, list[EgressRule]]]:
        """Each tier's id and rules, in order (one tier, id ``None``, for ``rules``)."""
        if self.tiers is not None:
            return [(t.id, t.rules) for t in self.tiers]
        return [(None, self.rules or [])]


#: A section's layers as :func:`_placed` reads them: each layer's id, whether it
#: lists its rules directly (no ``tiers``), and its tiers' ids and rules.
_LayersView = list[tuple[str, bool, list[tuple[str | None, list[RuleT]]]]]


def _placed(rules: list[RuleT], layers: _LayersView[RuleT] | None) -> list[PlacedRule[RuleT]]:
    """Every rule of a section in order, placed (see :class:`PlacedRule`)."""
    if layers is None:
        # tuple.__new__ skips the named tuple's Python-level __new__: every reader of a
        # policy's rule places (checks, warnings, locations) places every rule.
        new = tuple.__new__
        return [new(PlacedRule, (r, None, None, 0, 0, ("rules", k))) for k, r in enumerate(rules)]
    out: list[PlacedRule[RuleT]] = []
    for i, (layer, direct, tiers) in enumerate(layers):
        for j, (tier, tier_rules) in enumerate(tiers):
            for k, r in enumerate(tier_rules):
                path: tuple[str | int, ...] = (
                    ("layers", i, "rules", k) if direct else ("layers", i, "tiers", j, "rules", k)
                )
                out.append(PlacedRule(r, layer, tier, i, j, path))
    return out


def _exclusive(fields_set: set[str], layers: object) -> None:
    if layers is not None and ({"rules", "default"} & fields_set):
        given = " and ".join(f"`{k}`" for k in ("rules", "default") if k in fields_set)
        raise ValueError(
            f"a section with `layers` has no {given}: each layer has its own "
            "`default` and rules (model v1.1)"
        )


_L = TypeVar("_L", SegmentationLayer, EgressLayer)


def _map_layers(layers: list[_L], fn: Callable[[Any], Any]) -> list[_L]:
    """``layers`` copied with each rule (of the layer, or of its tiers) replaced by
    ``fn(rule)``: one body for both sections' :meth:`map_rules` (which type ``fn``;
    a constrained type variable cannot tie a layer's kind to its rules')."""
    return [
        y.model_copy(
            update={
                "rules": None if y.rules is None else [fn(r) for r in y.rules],
                "tiers": None
                if y.tiers is None
                else [t.model_copy(update={"rules": [fn(r) for r in t.rules]}) for t in y.tiers],
            }
        )
        for y in layers
    ]


class SegmentationSection(FrozenModel):
    """East-west and north-south segmentation (spec §3; ``layers``: model v1.1)."""

    default: Literal["allow", "deny"] = "allow"
    intra_zone: Literal["rules", "allow"] = "rules"
    rules: list[Annotated[SegmentationRule, AfterValidator(_no_pass)]] = Field(default_factory=list)
    layers: list[SegmentationLayer] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> SegmentationSection:
        _exclusive(self.model_fields_set, self.layers)
        return self

    @property
    def layered(self) -> bool:
        """Whether the section holds ``layers`` (model v1.1) rather than ``rules``."""
        return self.layers is not None

    def placed_rules(self) -> list[PlacedRule[SegmentationRule]]:
        """Every rule in order (layer by layer, tier by tier), with where it stands."""
        if self.layers is None:
            return _placed(self.rules, None)
        return _placed([], [(y.id, y.tiers is None, y.tier_rules()) for y in self.layers])

    def layer_ids(self) -> list[str]:
        """The layers' ids, in order (none in a v1 section)."""
        return [y.id for y in self.layers or ()]

    def map_rules(self, fn: Callable[[SegmentationRule], SegmentationRule]) -> SegmentationSection:
        """A copy with each rule replaced by ``fn(rule)``, layers and tiers kept."""
        if self.layers is None:
            return self.model_copy(update={"rules": [fn(r) for r in self.rules]})
        return self.model_copy(update={"layers": _map_layers(self.layers, fn)})

    def all_rules(self) -> list[SegmentationRule]:
        """Every rule in order, layer by layer and tier by tier (``rules`` in v1)."""
        return self.rules if self.layers is None else [p.rule for p in self.placed_rules()]


class EgressSection(FrozenModel):
    """Egress filtering towards external destinations (``layers``: model v1.1)."""

    default: Literal["allow", "deny"] = "allow"
    rules: list[Annotated[EgressRule, AfterValidator(_no_pass)]] = Field(default_factory=list)
    layers: list[EgressLayer] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> EgressSection:
        _exclusive(self.model_fields_set, self.layers)
        return self

    @property
    def layered(self) -> bool:
        """Whether the section holds ``layers`` (model v1.1) rather than ``rules``."""
        return self.layers is not None

    def placed_rules(self) -> list[PlacedRule[EgressRule]]:
        """Every rule in order (layer by layer, tier by tier), with where it stands."""
        if self.layers is None:
            return _placed(self.rules, None)
        return _placed([], [(y.id, y.tiers is None, y.tier_rules()) for y in self.layers])

    def layer_ids(self) -> list[str]:
        """The layers' ids, in order (none in a v1 section)."""
        return [y.id for y in self.layers or ()]

    def map_rules(self, fn: Callable[[EgressRule], EgressRule]) -> EgressSection:
        """A copy with each rule replaced by ``fn(rule)``, layers and tiers kept."""
        if self.layers is None:
            return self.model_copy(update={"rules": [fn(r) for r in self.rules]})
        return self.model_copy(update={"layers": _map_layers(self.layers, fn)})

    def all_rules(self) -> list[EgressRule]:
        """Every rule in order, layer by layer and tier by tier (``rules`` in v1)."""
        return self.rules if self.layers is None else [p.rule for p in self.placed_rules()]
