"""Label expressions (model v1.1's ``labels_match``) compiled into label pairs.

The engine's classes, rule indexes and bulk reach see of a host its zone, its id
and label pairs (:mod:`ztsim.engine.classes`).  An expression is one more thing a
host has or has not, a function of its labels alone: so each distinct expression
of a policy becomes a label pair of its own, which a host's label group carries
exactly when the host satisfies it, and each selector's expressions become those
pairs.  Matching the lowered selector on the augmented groups is then matching the
original selector on the original hosts, and the v1 machinery is exact on it.

The pairs' key starts with a prefix that no host label key in the topology has,
so they can never meet a real label.  A policy with no expression is not touched
(:func:`uses_expressions` is false): v1 policies take the v1 path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ztsim.engine.targets import TargetLayout
from ztsim.inputs.loaded import LabelGroup, LoadedTopology
from ztsim.model.schema import EgressRule, Policy, SegmentationRule
from ztsim.model.selectors import ExpressionKey, LabelExpression, Selector
from ztsim.perf.dedupe import PerObject

__all__ = ["Lowered", "Lowering", "lower", "uses_expressions"]

#: The start of the synthetic label keys (lengthened until no host label key has it).
_PREFIX = "\x00expr:"

R = TypeVar("R", SegmentationRule, EgressRule)


def uses_expressions(policy: Policy) -> bool:
    """Whether some rule selector of ``policy`` has label expressions."""
    seg, egress = policy.segmentation.all_rules(), policy.egress.all_rules()
    return any(r.source.labels_match or r.to.labels_match for r in seg) or any(
        r.source.labels_match for r in egress
    )


@dataclass(frozen=True, eq=False)
class Lowered:
    """A lowering and what it made of the topology's label groups and target layout.

    Kept by the compiled policy so that an edit of the policy using no expression
    this lowering lacks re-uses the very same groups and layout (a re-check then
    keeps its classes and target groups, :func:`ztsim.engine.reuse.can_reuse`).
    """

    lowering: Lowering
    base_groups: Mapping[str, LabelGroup]
    base_layout: TargetLayout | None
    groups: Mapping[str, LabelGroup]
    layout: TargetLayout | None

    def fits(
        self, policy: Policy, groups: Mapping[str, LabelGroup], layout: TargetLayout | None
    ) -> bool:
        """Whether ``policy``, on these groups and layout, can use this lowering."""
        pairs = self.lowering.pairs
        return (
            groups is self.base_groups
            and layout is self.base_layout
            and all(e.canonical in pairs for e in _expressions(policy))
        )


def lower(
    policy: Policy,
    topology: LoadedTopology,
    groups: Mapping[str, LabelGroup] | None,
    layout: TargetLayout | None,
    previous: Lowered | None = None,
) -> tuple[Policy, Lowered]:
    """The policy with its expressions as label pairs, and the hosts' label groups
    (``topology``'s when ``None``) and the target layout augmented to match; those
    of ``previous`` when it fits (see :meth:`Lowered.fits`)."""
    base = groups if groups is not None else topology.label_groups
    if previous is not None and previous.fits(policy, base, layout):
        return previous.lowering.policy(policy), previous
    lowering = Lowering(_expressions(policy), topology)
    lowered = Lowered(
        lowering,
        base,
        layout,
        lowering.groups(base),
        lowering.layout(layout) if layout is not None else None,
    )
    return lowering.policy(policy), lowered


class Lowering:
    """Label expressions as label pairs on one topology.

    :meth:`policy` is a policy with every rule selector's expressions replaced by
    their pairs; :meth:`group` (:meth:`groups`, :meth:`layout`) adds to a label
    group the pairs of the expressions its hosts satisfy.
    """

    __slots__ = ("_group_memo", "expressions", "pairs")

    def __init__(self, expressions: Iterable[LabelExpression], topology: LoadedTopology) -> None:
        prefix = _PREFIX
        keys = {k for k, _ in topology.label_pair_counts}
        while any(k.startswith(prefix) for k in keys):
            prefix = "\x00" + prefix
        found: dict[ExpressionKey, LabelExpression] = {}
        for e in expressions:
            found.setdefault(e.canonical, e)
        #: Each distinct expression, and its pair.
        self.expressions = tuple(found.values())
        self.pairs: dict[ExpressionKey, tuple[str, str]] = {
            k: (prefix + json.dumps(k), "") for k in found
        }
        self._group_memo: dict[LabelGroup, LabelGroup] = {}

    def group(self, group: LabelGroup) -> LabelGroup:
        """A label group with the pairs of the expressions its hosts satisfy
        (one tuple per distinct group, as the topology's groups are)."""
        out = self._group_memo.get(group)
        if out is None:
            zone, labels = group
            as_dict = dict(labels)
            extra = [self.pairs[e.canonical] for e in self.expressions if e.holds(as_dict)]
            out = self._group_memo[group] = (zone, labels.union(extra)) if extra else group
        return out

    def groups(self, groups: Mapping[str, LabelGroup]) -> dict[str, LabelGroup]:
        """Each host's augmented group (see :meth:`group`)."""
        of = self.group
        return {host: of(g) for host, g in groups.items()}

    def layout(self, layout: TargetLayout) -> TargetLayout:
        """A target layout over the augmented groups.  An expression is a function of
        the labels, so each group maps to one augmented group and none merge."""
        return TargetLayout(
            tuple((self.group(g), buckets, twins) for g, buckets, twins in layout.groups),
            layout.loners,
        )

    def policy(self, pol: Policy) -> Policy:
        """``pol`` with each rule selector's expressions as label pairs (each of its
        expressions must be one of this lowering's)."""
        lower = PerObject(self._selector)  # rules share selector objects
        # Layers and tiers kept (model v1.1): only the selectors change.
        return pol.model_copy(
            update={
                "segmentation": pol.segmentation.map_rules(
                    lambda r: _lower_rule(r, lower(r.source), lower(r.to))
                ),
                "egress": pol.egress.map_rules(lambda r: _lower_rule(r, lower(r.source), r.to)),
            }
        )

    def _selector(self, sel: Selector) -> Selector:
        if not sel.labels_match:
            return sel
        labels = dict(sel.labels or {})
        labels.update(self.pairs[e.canonical] for e in sel.labels_match)
        # Not validated again: the synthetic keys are not label keys a file may write.
        return sel.model_copy(update={"labels": labels, "labels_match": None})


def _expressions(policy: Policy) -> Iterable[LabelExpression]:
    for sel in _rule_selectors(policy):
        yield from sel.labels_match or ()


def _rule_selectors(policy: Policy) -> Iterable[Selector]:
    for r in policy.segmentation.all_rules():
        yield r.source
        yield r.to
    for er in policy.egress.all_rules():
        yield er.source


def _lower_rule(rule: R, source: Selector, to: object) -> R:
    if source is rule.source and to is rule.to:
        return rule
    return rule.model_copy(update={"source": source, "to": to})
