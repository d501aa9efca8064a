"""Re-use of an earlier compilation of a policy (interactive re-checks).

When one rule of a policy is edited, most of its compilation still holds: the
classes (:mod:`ztsim.engine.classes`) and the target groups built on them, when the
edited version draws no finer partition; and the per-class decisions of every
source class that no edited rule's `from` matches.  This module says when, so the
compiled policy (:mod:`ztsim.engine.compiled`) only has to take what it is lent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ztsim.engine.classes import Classes, ClassKey, selector_matches_class
from ztsim.engine.targets import TargetLayout
from ztsim.model.schema import SegmentationRule

__all__ = ["can_reuse", "untouched_sources"]


def can_reuse(
    previous: Classes,
    previous_layout: TargetLayout | None,
    classes: Classes,
    layout: TargetLayout | None,
) -> bool:
    """Whether a new version's ``classes`` may be replaced by those of an earlier
    compilation (and its target groups kept).

    The earlier version must have been given the very same layout, topology and
    label groups, and have drawn its classes at least as finely: its selectors name
    every label pair and host these name, and it tells apart every zone these do.
    A finer partition stays exact.
    """
    return (
        layout is not None
        and previous_layout is layout
        and previous.topology is classes.topology
        and previous.compress == classes.compress
        and previous.groups is classes.groups
        and (
            not previous.zone_blind
            or (classes.zone_blind and classes.kept_zones <= previous.kept_zones)
        )
        and classes.sources.pairs <= previous.sources.pairs
        and classes.sources.named <= previous.sources.named
        and classes.dests.pairs <= previous.dests.pairs
        and classes.dests.named <= previous.dests.named
    )


def untouched_sources(
    old: Sequence[SegmentationRule],
    new: Sequence[SegmentationRule],
    same_defaults: bool,
) -> Callable[[ClassKey | str], bool] | None:
    """Which source classes see the same rules in the same order in both versions.

    With the same target groups, the same defaults (``same_defaults``: the
    segmentation default and ``intra_zone``) and rules differing only at some
    positions, a source class (or external zone) that no differing rule's `from`
    (old or new) matches keeps its reach and its flow decisions.  ``None`` when
    nothing can be kept (rules added or removed, defaults changed).
    """
    if len(old) != len(new) or not same_defaults:
        return None
    changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    sels = [old[i].source for i in changed] + [new[i].source for i in changed]

    def untouched(key: ClassKey | str) -> bool:
        return not any(selector_matches_class(sel, key) for sel in sels)

    return untouched
