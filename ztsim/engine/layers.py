"""Layers and tiers with ``pass`` (model v1.1, ``docs/model-v1.1.md`` section 3).

A layered section's rules are compiled in one flat list, layer by layer and tier by
tier (:meth:`~ztsim.model.rules.SegmentationSection.all_rules`), so the rule
indexes of :mod:`ztsim.engine.reach` serve them unchanged; a :class:`LayerPlan`
says of each flat index its layer, its tier and its action, and decides:

* one flow (:meth:`LayerPlan.decide`): per layer, the first matching rule of a
  tier decides, ``pass`` skips the rest of its tier, else the layer's default; the
  first denying layer decides, else every layer's rule is named;
* a set of targets as a bitset (:meth:`LayerPlan.sweep`, for bulk reach): per
  layer, each tier starts with what is still undecided (``tier_open``), a rule
  takes its hit out of ``tier_open``, ``allow``/``deny`` take it out of the
  undecided set too; the layers' allowed sets are ANDed;
* a CIDR block (:meth:`LayerPlan.block`, model v1.1 section 4): the same walk on
  address intervals; allowed iff some address is allowed by every layer.

A v1 section is one layer (id ``None``) of one tier with no ``pass``: only CIDR
destinations use a plan for it, and name its rules as v1 does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from ztsim.engine.decisions import Decision, Section
from ztsim.model.destinations import Intervals, intersect, subtract, union
from ztsim.model.rules import EgressSection, SegmentationSection

__all__ = ["LayerPlan"]

_ALLOW, _DENY, _PASS = 0, 1, 2
_CODES = {"allow": _ALLOW, "deny": _DENY, "pass": _PASS}


class LayerPlan:
    """Where each rule of a section's flat list stands (layer, tier, action), and the
    decisions of model v1.1 section 3 over it."""

    __slots__ = ("actions", "defaults", "ids", "layer_of", "rule_ids", "section", "tier_of")

    def __init__(
        self,
        section: Section,
        ids: Sequence[str | None],
        defaults: Sequence[bool],
        placed: Iterable[tuple[int, int, str, str]],
    ) -> None:
        self.section: Section = section
        #: The layers' ids (``(None,)`` for a v1 section) and default verdicts.
        self.ids = tuple(ids)
        self.defaults = tuple(defaults)
        self.layer_of: list[int] = []
        #: A tier number unique in the section (tiers of different layers differ).
        self.tier_of: list[int] = []
        self.actions: list[int] = []
        self.rule_ids: list[str] = []
        for layer, tier, action, rule_id in placed:
            self.layer_of.append(layer)
            self.tier_of.append(tier)
            self.actions.append(_CODES[action])
            self.rule_ids.append(rule_id)

    @classmethod
    def of(cls, name: Section, section: SegmentationSection | EgressSection) -> LayerPlan:
        """The plan of a section's :meth:`placed_rules` (one layer for a v1 section)."""
        placed = section.placed_rules()
        if section.layers is None:
            return cls(
                name,
                (None,),
                (section.default == "allow",),
                ((0, 0, p.rule.action, p.rule.id) for p in placed),
            )
        tiers: dict[tuple[int, int], int] = {}
        return cls(
            name,
            section.layer_ids(),
            [y.default == "allow" for y in section.layers],
            (
                (
                    p.layer_index,
                    tiers.setdefault((p.layer_index, p.tier_index), len(tiers)),
                    p.rule.action,
                    p.rule.id,
                )
                for p in placed
            ),
        )

    # ------------------------------------------------------------------ one flow

    def decide(self, matching: Iterable[int]) -> Decision:
        """The decision on one flow, given the flat indexes (ascending) of the rules
        whose `from`, `to` and services match it."""
        decided: list[int | None] = [None] * len(self.ids)
        allowed = list(self.defaults)
        layer_of, tier_of, actions = self.layer_of, self.tier_of, self.actions
        skip = -1  # the tier a `pass` skips the rest of
        for i in matching:
            layer = layer_of[i]
            if decided[layer] is not None or tier_of[i] == skip:
                continue
            action = actions[i]
            if action == _PASS:
                skip = tier_of[i]
                continue
            decided[layer] = i
            allowed[layer] = action == _ALLOW
        return self.name(allowed, [-1 if d is None else d for d in decided])

    def name(self, allowed: Sequence[bool], deciders: Sequence[int]) -> Decision:
        """The decision named as the doc says: the first denying layer's rule (or
        default), else every layer's joined by ``+``; v1 names for a v1 section.
        ``deciders``: each layer's deciding flat index, ``-1`` for its default."""
        rule_ids = self.rule_ids
        if self.ids == (None,):
            d = deciders[0]
            if d < 0:
                return Decision(allowed[0], "default", "default", self.section)
            return Decision(allowed[0], rule_ids[d], "rule", self.section)
        names = [self.ids[k] or "" for k in range(len(self.ids))]
        for k, ok in enumerate(allowed):
            if not ok:
                d = deciders[k]
                rid = rule_ids[d] if d >= 0 else "default"
                reason: Literal["rule", "default"] = "rule" if d >= 0 else "default"
                return Decision(
                    False, f"{names[k]}/{rid}", reason, self.section, names[k], ((names[k], rid),)
                )
        parts = tuple(
            (names[k], rule_ids[d] if d >= 0 else "default") for k, d in enumerate(deciders)
        )
        reason = "rule" if any(d >= 0 for d in deciders) else "default"
        return Decision(
            True,
            "+".join(f"{layer}/{rid}" for layer, rid in parts),
            reason,
            self.section,
            "+".join(names),
            parts,
        )

    # ------------------------------------------------------------------ bitsets

    def sweep(self, start: int, hits: Sequence[tuple[int, int]]) -> int:
        """The targets of ``start`` (a bitset) every layer allows, given the rules
        whose `from` matches the source, with their target bitsets, in flat order."""
        layer_of, tier_of, actions = self.layer_of, self.tier_of, self.actions
        result = start
        pos, end = 0, len(hits)
        for layer, default_allow in enumerate(self.defaults):
            # Only what every earlier layer allows can still be allowed (an AND).
            undecided = result
            allowed = 0
            tier = -1
            tier_open = 0
            while pos < end and layer_of[hits[pos][0]] == layer:
                i, mask = hits[pos]
                pos += 1
                if tier_of[i] != tier:
                    tier = tier_of[i]
                    tier_open = undecided
                hit = mask & tier_open
                if not hit:
                    continue
                tier_open ^= hit
                action = actions[i]
                if action != _PASS:
                    undecided &= ~hit
                    if action == _ALLOW:
                        allowed |= hit
            if default_allow:
                allowed |= undecided
            result = allowed
            if not result:
                break
        return result

    # ------------------------------------------------------------------ CIDR blocks

    def block(self, start: Intervals, hits: Sequence[tuple[int, Intervals]]) -> Decision:
        """The decision on egress to a destination standing for the addresses
        ``start``, given the rules whose `from` and services match, with the
        addresses each covers, in flat order (model v1.1 section 4).

        Allowed iff some address is allowed by every layer's first match.  An
        allowed flow names, per layer, the first rule that allowed one of the
        addresses every layer allows (else the default); a denied one the layer
        where the last such address went, and its first rule denying one (else
        its default).
        """
        layer_of, tier_of, actions = self.layer_of, self.tier_of, self.actions
        version = start[0]
        running = start
        grants: list[list[tuple[int, Intervals]]] = []
        pos, end = 0, len(hits)
        for layer, default_allow in enumerate(self.defaults):
            undecided = running
            parts: list[tuple[int, Intervals]] = []
            first_deny = -1
            tier = -1
            tier_open = undecided
            while pos < end and layer_of[hits[pos][0]] == layer:
                i, cover = hits[pos]
                pos += 1
                if tier_of[i] != tier:
                    tier = tier_of[i]
                    tier_open = undecided
                hit = intersect(cover, tier_open)
                if not hit[1]:
                    continue
                tier_open = subtract(tier_open, hit)
                action = actions[i]
                if action == _PASS:
                    continue
                undecided = subtract(undecided, hit)
                if action == _ALLOW:
                    parts.append((i, hit))
                elif first_deny < 0:
                    first_deny = i
            if default_allow and undecided[1]:
                parts.append((-1, undecided))
            running = union([p for _, p in parts], version)
            if not running[1]:
                deciders = [-1] * len(self.ids)
                deciders[layer] = first_deny
                allowed = [True] * len(self.ids)
                allowed[layer] = False
                return self.name(allowed, deciders)
            grants.append(parts)
        deciders = [next((i for i, p in parts if intersect(p, running)[1]), -1) for parts in grants]
        return self.name([True] * len(self.ids), deciders)
