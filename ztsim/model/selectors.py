"""Selectors: which hosts or zones a policy rule, a detection or an assertion names.

Matching a selector against a host or a zone is :mod:`ztsim.model.matching`'s
(:func:`ztsim.model.matching.selector_matches_host`); this is its schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    StrictStr,
    field_validator,
    model_serializer,
    model_validator,
)

from ztsim.model.fields import BLANK_MESSAGE, FrozenModel, Id, LabelText

__all__ = ["Selector"]


class Selector(FrozenModel):
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

    @field_validator("zone", "host", "labels", mode="before")
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
        return self.zone is None and not self.host and not self.labels

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
        return " ".join(parts)
