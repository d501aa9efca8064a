"""Selectors: which hosts or zones a policy rule, a detection or an assertion names.

Matching a selector against a host or a zone is :mod:`ztsim.model.matching`'s
(:func:`ztsim.model.matching.selector_matches_host`); this is its schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    StrictStr,
    field_validator,
    model_serializer,
    model_validator,
)

from ztsim.model.fields import BLANK_MESSAGE, FrozenModel, Id, LabelText

__all__ = ["ExpressionKey", "LabelExpression", "Selector", "expressions_key"]

#: A label expression as a hashable value: (key, operator, sorted distinct values).
ExpressionKey = tuple[str, str, tuple[str, ...]]


class LabelExpression(FrozenModel):
    """One label expression of a selector's ``labels_match`` (model v1.1,
    ``docs/model-v1.1.md``): Kubernetes' ``matchExpressions`` exactly.

    ``In``: the label is set to one of ``values``; ``NotIn``: it is unset or set to
    none of them; ``Exists``: it is set; ``DoesNotExist``: it is unset.
    """

    key: StrictStr
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    # A list (not a set) so that errors point at the item; compared as a set.
    values: list[LabelText] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> LabelExpression:
        if self.operator in ("In", "NotIn") and self.values is None:
            raise ValueError(f"operator {self.operator} needs `values`")
        if self.operator in ("Exists", "DoesNotExist") and self.values is not None:
            raise ValueError(f"operator {self.operator} takes no `values`")
        return self

    @property
    def canonical(self) -> ExpressionKey:
        """The expression as a hashable value; equal for expressions that mean the same.

        >>> LabelExpression(key="a", operator="In", values=["y", "x", "y"]).canonical
        ('a', 'In', ('x', 'y'))
        """
        return (self.key, self.operator, tuple(sorted(set(self.values or ()))))

    def holds(self, labels: Mapping[str, str]) -> bool:
        """Whether a host with ``labels`` satisfies the expression.

        >>> e = LabelExpression(key="env", operator="NotIn", values=["test"])
        >>> e.holds({}), e.holds({"env": "test"}), e.holds({"env": "prod"})
        (True, False, True)
        """
        value = labels.get(self.key)
        op = self.operator
        if op == "Exists":
            return value is not None
        if op == "DoesNotExist":
            return value is None
        assert self.values is not None  # checked by _shape
        inside = value is not None and value in self.values
        return inside if op == "In" else not inside

    def __str__(self) -> str:
        """Kubernetes' selector syntax.

        >>> str(LabelExpression(key="tier", operator="In", values=["web", "api"]))
        'tier in (api,web)'
        """
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return "!" + self.key
        values = ",".join(sorted(set(self.values or ())))
        return f"{self.key} {self.operator.lower()} ({values})"


class Selector(FrozenModel):
    """Which sources or destinations a rule matches.

    ``any``, ``{}`` or an omitted selector match everything.  Every key given
    must match: ``zone`` (an id or a list of ids: any of them), ``host`` (an id or
    a list of ids), ``labels`` (all pairs), ``labels_match`` (all expressions,
    model v1.1).
    """

    # One zone or several, a list as `host` (a tuple would add a "too short" error
    # to each bad item).  An empty list would name no zone yet read as "omitted".
    zone: list[Id] | None = Field(default=None, min_length=1)
    # An empty list would name no host yet read as "omitted": refuse it.
    host: list[Id] | None = Field(default=None, min_length=1)
    # `labels: {}` would match every host and, being neither `{}` nor `zone`, leave
    # open whether it matches an external zone: refuse it as empty lists are.
    labels: dict[StrictStr, LabelText] | None = Field(default=None, min_length=1)
    #: Label expressions, all of which must hold (model v1.1); names hosts only.
    labels_match: list[LabelExpression] | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _any(cls, value: Any) -> Any:
        if value is None:
            # `from: ~` (or nothing after the colon) would read as "any": a
            # forgotten value must not widen a rule.
            raise ValueError(BLANK_MESSAGE)
        if isinstance(value, str) and value.strip().lower() in ("any", "*"):
            return {}
        if isinstance(value, dict):
            # Copy only what needs rewriting (most selectors need nothing; label
            # values are made text by their type, LabelText).
            host = value.get("host")
            if isinstance(host, str):
                value = {**value, "host": [host]}
            zone = value.get("zone")
            if isinstance(zone, str):
                value = {**value, "zone": [zone]}
        return value

    @field_validator("zone", "host", "labels", "labels_match", mode="before")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        # Run only on a key that is given: `host: ~` is a blank, not an omission.
        if value is None:
            raise ValueError(BLANK_MESSAGE)
        return value

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
        """Whether the selector matches everything.

        >>> Selector.model_validate("any").is_any, Selector(zone=["dmz"]).is_any
        (True, False)
        """
        return self.zone is None and not self.host and not self.labels and not self.labels_match

    def __str__(self) -> str:
        """The selector as tables show it.

        >>> str(Selector.model_validate({"zone": "dmz", "labels": {"tier": "web"}}))
        'zone=dmz tier=web'
        """
        if self.is_any:
            return "any"
        parts = []
        if self.zone is not None:
            parts.append("zone=" + ",".join(self.zone))
        if self.host:
            parts.append("host=" + ",".join(self.host))
        if self.labels:
            parts.append(",".join(f"{k}={v}" for k, v in sorted(self.labels.items())))
        if self.labels_match:
            parts.append(",".join(str(e) for e in self.labels_match))
        return " ".join(parts)


def expressions_key(sel: Selector) -> tuple[ExpressionKey, ...] | None:
    """A selector's label expressions as a hashable value (``None`` when it has none)."""
    return tuple(e.canonical for e in sel.labels_match) if sel.labels_match else None
