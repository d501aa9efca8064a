"""Target groups built the lean way against plain constructions of the same.

:func:`~ztsim.engine.targets.group_targets` takes a layout's label groups whole and
reads each class's zone, label pairs and named host once for all the groups of the
class (:func:`~ztsim.engine.targets.groups_with_masks`); the layout comes sorted by
first target so that the final sort finds its keys nearly in order.  None of this
may change the answer: the bitsets are those of a group-by-group construction (in
the same order of first appearance), and a layout in any other order gives the
very same groups.
"""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given

# tests/ is not a package: pytest puts this folder on sys.path (rootdir-based "prepend").
from test_compression import twin_scenarios
from test_property import SETTINGS

from ztsim.engine.attack import AttackModel
from ztsim.engine.classes import Classes
from ztsim.engine.targets import TargetGroups, TargetLayout, group_targets
from ztsim.inputs.loaded import reference_policy
from ztsim.inputs.loader import policy_from_text, topology_from_text


def _plain_masks(tg: TargetGroups) -> tuple[object, ...]:
    """The bitsets of ``tg``'s keys, group by group (dicts in order of first group)."""
    zones: dict[str, int] = defaultdict(int)
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    hosts: dict[str, int] = defaultdict(int)
    services: dict[str, int] = defaultdict(int)
    public = 0
    for gi, (ck, svc, is_public) in enumerate(tg.keys):
        bit = 1 << gi
        public |= bit if is_public else 0
        zones[ck.zone] |= bit
        for pair in ck.labels:
            pairs[pair] |= bit
        if ck.host is not None:
            hosts[ck.host] |= bit
        if svc:
            services[svc] |= bit
    return public, *(list(d.items()) for d in (zones, pairs, hosts, services))


def _masks(tg: TargetGroups) -> tuple[object, ...]:
    return tg.public_mask, *(
        list(d.items()) for d in (tg.zone_mask, tg.pair_mask, tg.host_mask, tg.service_mask)
    )


def _reversed(layout: TargetLayout) -> TargetLayout:
    """The same layout with its groups, buckets and twins in reverse order."""
    return TargetLayout(
        tuple((g, b[::-1], t[::-1]) for g, b, t in reversed(layout.groups)), layout.loners
    )


@SETTINGS
@given(twin_scenarios())
def test_masks_are_those_of_each_group(sc: tuple[str, str]) -> None:
    """Bitsets read per class equal bitsets built group by group, dicts in the same order."""
    topo = topology_from_text(sc[0])
    model = AttackModel(topo)
    for pol in (policy_from_text(sc[1]), reference_policy()):
        for compress in (True, False):
            tg = model.compile(pol, compress=compress).targets
            assert _masks(tg) == _plain_masks(tg)


@SETTINGS
@given(twin_scenarios())
def test_the_layouts_order_changes_nothing(sc: tuple[str, str]) -> None:
    """A layout in reverse order gives the very same target groups (keys, members,
    representatives and bitsets)."""
    topo = topology_from_text(sc[0])
    model = AttackModel(topo)
    for pol in (policy_from_text(sc[1]), reference_policy()):
        got = [
            group_targets(Classes(pol.model, topo, model.groups), layout)
            for layout in (model.layout, _reversed(model.layout))
        ]
        assert got[0] == got[1]
        assert _masks(got[0]) == _masks(got[1])
