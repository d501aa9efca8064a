"""Attack targets, laid out once per topology and grouped once per policy.

A target is a host's service that has a remote vulnerability or a login: what the
attacker wants to reach.  :class:`TargetLayout` buckets a topology's targets by
label group, service and exposure, once for every policy compiled on it;
:func:`group_targets` then groups them by a policy's destination classes
(:mod:`ztsim.engine.classes`) into :class:`TargetGroups`, with a bitset per class
attribute, so that bulk reach (:mod:`ztsim.engine.reach`) is a sweep of big-integer
operations over groups.  Apart from the classes: a layout outlives every policy,
and target groups are built per partition, not per policy (a re-check re-uses them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from ztsim.engine.classes import Classes, ClassKey
from ztsim.inputs.loaded import LabelGroup, LoadedTopology
from ztsim.model.schema import Host

__all__ = [
    "FEW_BITS",
    "LayoutGroup",
    "TargetGroups",
    "TargetLayout",
    "TargetsByGroup",
    "bitset_of",
    "group_targets",
    "groups_with_masks",
    "iter_bits",
    "layout_of",
    "target_layout",
]


def iter_bits(mask: int) -> Iterable[int]:
    """The indices of the set bits of ``mask``, lowest first.

    A few bits are cleared one by one.  Each clearing is a pass over the whole
    integer, so on a wide mask with many bits set (the first expansions of a
    fixpoint, where most target groups are new) that is quadratic in the estate:
    past :data:`FEW_BITS` the binary digits are written out once and searched.

    >>> list(iter_bits(0b10110))
    [1, 2, 4]
    """
    if mask.bit_count() <= FEW_BITS:
        return _cleared_bits(mask)
    digits = bin(mask)[:1:-1]  # lowest first, without "0b"
    found: list[int] = []
    i = digits.find("1")
    while i >= 0:
        found.append(i)
        i = digits.find("1", i + 1)
    return found


#: Up to how many set bits :func:`iter_bits` clears them one by one.
FEW_BITS = 8


def _cleared_bits(mask: int) -> Iterator[int]:
    """The set bits of ``mask``, lowest first, each cleared in turn."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def bitset_of(bits: Iterable[int], size: int) -> int:
    """The bitset with these bits set (each below ``size``), built in one go.

    >>> bin(bitset_of([0, 3], 4))
    '0b1001'
    """
    buf = bytearray((size + 7) >> 3)
    for i in bits:
        buf[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buf, "little")


# --------------------------------------------------------------------------- layout

#: A label group's targets in a :class:`TargetLayout`: ``(group, buckets, twins)``.
#: ``buckets``: ``(service, public, hosts)``, the group's targets on one service
#: with one exposure.  ``twins``: ``(signature number, hosts)``, its target hosts
#: alike in everything but their id (same signature).  Hosts sorted.
LayoutGroup = tuple[
    LabelGroup,
    tuple[tuple[str, bool, tuple[str, ...]], ...],
    tuple[tuple[int, tuple[str, ...]], ...],
]


@dataclass(frozen=True)
class TargetLayout:
    """A topology's attack targets, bucketed once for every policy compiled on it.

    Policies differ only in how they split label groups into classes, so the
    per-target work (the offer, the host's label group, its signature) is done
    once per topology here, and each compilation then handles label groups and
    their buckets, not targets (see :func:`group_targets`).
    """

    #: Each label group that holds a target, with its buckets and twins (see
    #: :data:`LayoutGroup`).  Signatures are numbered (equal signatures, equal
    #: numbers) so that keys hash cheaply.  Groups and buckets come by their first
    #: target (see :func:`layout_of`), twins in the builder's order: compilations do
    #: not depend on the order, only their cost does.
    groups: tuple[LayoutGroup, ...]
    #: Target hosts that must stay apart (no signature): each its own representative.
    loners: frozenset[str]


#: Targets being collected per label group: ``(service, public) -> hosts`` and
#: ``signature number -> hosts`` (see :func:`layout_of`).
TargetsByGroup = dict[LabelGroup, tuple[dict[tuple[str, bool], list[str]], dict[int, list[str]]]]


def layout_of(per_group: TargetsByGroup, loners: Iterable[str]) -> TargetLayout:
    """The layout of targets collected per label group: ``(service, public) -> hosts``
    and ``signature number -> hosts``, collected target by target in order (host,
    then service), so that hosts come sorted, buckets by their first target and
    groups by their first bucket's.

    In that order :func:`group_targets` meets its keys nearly in the order it sorts
    them in, which a sort of a nearly sorted list finds at little cost.
    """
    return TargetLayout(
        tuple(
            (
                group,
                tuple((svc, public, tuple(hosts)) for (svc, public), hosts in buckets.items()),
                tuple((n, tuple(hosts)) for n, hosts in twins.items()),
            )
            for group, (buckets, twins) in per_group.items()
        ),
        frozenset(loners),
    )


def target_layout(
    topology: LoadedTopology,
    targets: Iterable[tuple[str, str]],
    groups: Mapping[str, LabelGroup],
    signatures: Mapping[str, Hashable],
) -> TargetLayout:
    """Bucket ``targets`` (host, service) by label group, service and exposure.

    Targets that the topology does not offer are left out, as
    :func:`group_targets` would.  Groups, buckets and twins come in the order of
    their first target (see :func:`layout_of`).
    """
    hosts = topology.hosts
    per_group: TargetsByGroup = {}
    numbers: dict[Hashable, int] = {}
    loners: set[str] = set()
    last: str | None = None
    previous: tuple[str, str] | None = None
    host: Host | None = None
    # sorted() of the model's targets, sorted already, is one linear pass; repeats
    # are adjacent once sorted, and so are a host's targets (its model is looked up
    # once for them).
    for target in sorted(targets):
        if target == previous:
            continue
        previous = target
        host_id, service = target
        if host is None or host.id != host_id:
            host = hosts.get(host_id)
        offer = host.offer(service) if host is not None else None
        if offer is None:
            continue
        group = groups[host_id]
        entry = per_group.get(group)
        if entry is None:
            entry = per_group[group] = ({}, {})
        entry[0].setdefault((service, offer.public), []).append(host_id)
        if host_id != last:
            last = host_id
            sig = signatures.get(host_id)
            if sig is None:
                loners.add(host_id)
            else:
                n = numbers.setdefault(sig, len(numbers))
                entry[1].setdefault(n, []).append(host_id)
    return layout_of(per_group, loners)


# --------------------------------------------------------------------------- groups

#: A target group's key: (destination class, service, public).
GroupKey = tuple[ClassKey, str, bool]


@dataclass(frozen=True)
class TargetGroups:
    """Attack targets (host, service) grouped by destination class and service.

    ``keys[i]`` is ``(class_key, service, public)`` and ``members[i]`` the hosts
    in it that have a vulnerability or a login on that service.
    """

    keys: tuple[GroupKey, ...]
    members: tuple[tuple[str, ...], ...]
    #: ``members`` less the hosts interchangeable with an earlier one (see
    #: :func:`group_targets`); what a non-exhaustive solve expands.
    representatives: tuple[tuple[str, ...], ...]
    public_mask: int
    zone_mask: dict[str, int]
    pair_mask: dict[tuple[str, str], int]
    host_mask: dict[str, int]
    service_mask: dict[str, int]

    @property
    def full(self) -> int:
        """The bitset of every group."""
        return (1 << len(self.keys)) - 1


class _Grouping:
    """Target groups being collected from a layout's label groups.

    Compromising one of several interchangeable hosts gives exactly what
    compromising any other would: the fixpoint needs only one of them, the first by
    id among those alike in both classes and in signature (the representatives).
    """

    __slots__ = ("first", "keyed", "merged", "numbers", "reps")

    def __init__(self, loners: Iterable[str]) -> None:
        #: Hosts per key: a bucket's tuple as it is, a list once another joins it.
        self.keyed: dict[GroupKey, Sequence[str]] = {}
        #: Those lists (sorted once every host is in).
        self.merged: list[list[str]] = []
        #: The first host by id of each (class pair number, signature number).
        self.first: dict[tuple[int, int], str] = {}
        #: Each label group's (source class, destination class) pair, numbered:
        #: twins outnumber label groups, and small keys hash cheaply.
        self.numbers: dict[tuple[ClassKey, ClassKey], int] = {}
        self.reps: set[str] = set(loners)

    def add(self, key: GroupKey, hosts: tuple[str, ...]) -> None:
        """Add ``hosts`` (a tuple no other key holds) to the group ``key``."""
        got = self.keyed.setdefault(key, hosts)
        if got is not hosts:
            self.join(key, got, hosts)

    def join(self, key: GroupKey, got: Sequence[str], hosts: Sequence[str]) -> None:
        """Add ``hosts`` to the group ``key``, which holds ``got`` already."""
        if type(got) is tuple:
            got = self.keyed[key] = list(got)
            self.merged.append(got)
        cast(list[str], got).extend(hosts)

    def note(self, n: int, sig: int, head: str) -> None:
        """``head`` is a candidate representative of its class pair ``n`` and signature."""
        known = self.first.setdefault((n, sig), head)
        if head < known:
            self.first[(n, sig)] = head

    def with_named(
        self, ck: ClassKey, group: LayoutGroup, here: set[str], classes: Classes
    ) -> None:
        """A label group holding hosts named by a selector: a named host's class is
        its own, and it is its own representative.  (The order hosts are added in
        does not matter: lists are sorted, keys ordered by their first host, and the
        first head kept.)"""
        label_group, buckets, twins = group
        dest_class = classes.dests.of
        for service, public, hosts in buckets:
            if here.isdisjoint(hosts):
                self.add((ck, service, public), hosts)
                continue
            for h in here.intersection(hosts):
                self.add((dest_class(h), service, public), (h,))
            plain = tuple(h for h in hosts if h not in here)
            if plain:
                self.add((ck, service, public), plain)
        if not twins:
            return
        pair = (classes.sources.of_group(label_group), ck)
        n = self.numbers.setdefault(pair, len(self.numbers))
        for sig, hosts in twins:
            if here.isdisjoint(hosts):
                self.note(n, sig, hosts[0])
                continue
            self.reps.update(here.intersection(hosts))
            head = next((h for h in hosts if h not in here), "")
            if head:
                self.note(n, sig, head)

    def result(self) -> TargetGroups:
        """The target groups: keys by their first host then service, members sorted,
        representatives among them."""
        keyed = self.keyed
        for hosts in self.merged:
            hosts.sort()
        # Nearly in order already (the layout's groups come by their first target).
        order = sorted(keyed, key=lambda k: (keyed[k][0], k[1]))
        members = tuple([tuple(keyed[k]) for k in order])
        reps = self.reps
        reps.update(self.first.values())
        every, one = reps.issuperset, reps.__contains__
        return groups_with_masks(
            tuple(order),
            members,
            tuple([m if every(m) else tuple(filter(one, m)) for m in members]),
        )


def _named_by_group(classes: Classes) -> dict[LabelGroup, set[str]]:
    """The hosts some selector names, per label group that holds any (set operations
    on these beat a test per host: zero-trust on L names 4,000 hosts in 2,700 groups)."""
    groups = classes.groups
    named_in: dict[LabelGroup, set[str]] = {}
    for h in classes.sources.named | classes.dests.named:
        g = groups.get(h)
        if g is not None:
            named_in.setdefault(g, set()).add(h)
    return named_in


def group_targets(classes: Classes, layout: TargetLayout) -> TargetGroups:
    """Group a layout's targets by (destination class, service, public), cheapest first.

    Works on the layout's label groups: a group that holds no host a selector
    names falls whole into one class, so its buckets are taken whole and its class
    worked out once (its source class only if it has twins to tell apart).  Groups
    are numbered in the order of their first (host, service) target, and their
    hosts sorted, so the result does not depend on the order of the layout.
    """
    compress = classes.compress
    grouping = _Grouping(layout.loners if compress else ())
    if not compress:  # every host a class of its own, every target its own representative
        dest_class = classes.dests.of
        for _, buckets, _ in layout.groups:
            for service, public, hosts in buckets:
                grouping.reps.update(hosts)
                for h in hosts:
                    grouping.add((dest_class(h), service, public), (h,))
        return grouping.result()
    named_in = _named_by_group(classes)
    numbers, setdefault, join = grouping.numbers, grouping.keyed.setdefault, grouping.join
    note = grouping.note
    src_group, dst_group = classes.sources.of_group, classes.dests.of_group
    # The loop of every label group that holds a target, inlined: a group that no
    # selector names (nearly all) costs a dict entry per bucket.
    for entry in layout.groups:
        group, buckets, twins = entry
        ck = dst_group(group)
        here = named_in.get(group)
        if here is not None:
            grouping.with_named(ck, entry, here, classes)
            continue
        for service, public, hosts in buckets:
            key = (ck, service, public)
            got = setdefault(key, hosts)
            if got is not hosts:
                join(key, got, hosts)
        if twins:
            n = numbers.setdefault((src_group(group), ck), len(numbers))
            for sig, hosts in twins:
                note(n, sig, hosts[0])
    return grouping.result()


def groups_with_masks(
    keys: tuple[GroupKey, ...],
    members: tuple[tuple[str, ...], ...],
    representatives: tuple[tuple[str, ...], ...],
) -> TargetGroups:
    """The target groups with their bitsets by exposure, zone, label pair, named host
    and service (what :func:`~ztsim.engine.reach.rule_masks` reads).  A group with no
    service (a cell of ``reach --all-ports``, :mod:`ztsim.engine.mapcells`) is in no
    service's bitset."""
    # Each mask from the list of its bits, built once: or-ing bit by bit into a
    # big integer copies it each time (thousands of groups, tens of thousands of
    # bits set).  Zones, label pairs and named hosts are those of a group's class:
    # read once per class (groups share classes), in the order of each class's
    # first group, so that every table comes in the order of its first group.
    exposed: list[int] = []
    services: dict[str, list[int]] = defaultdict(list)
    by_class: dict[ClassKey, list[int]] = {}
    for gi, (ck, svc, is_public) in enumerate(keys):
        if is_public:
            exposed.append(gi)
        if svc:
            services[svc].append(gi)
        bits = by_class.get(ck)
        if bits is None:
            by_class[ck] = [gi]
        else:
            bits.append(gi)
    zones: dict[str, list[int]] = defaultdict(list)
    pairs: dict[tuple[str, str], list[int]] = defaultdict(list)
    named_hosts: dict[str, list[int]] = defaultdict(list)
    for ck, bits in by_class.items():
        zones[ck.zone].extend(bits)
        for pair in ck.labels:
            pairs[pair].extend(bits)
        if ck.host is not None:
            named_hosts[ck.host].extend(bits)
    size = len(keys)
    return TargetGroups(
        keys,
        members,
        representatives,
        bitset_of(exposed, size),
        {z: bitset_of(bits, size) for z, bits in zones.items()},
        {p: bitset_of(bits, size) for p, bits in pairs.items()},
        {h: bitset_of(bits, size) for h, bits in named_hosts.items()},
        {v: bitset_of(bits, size) for v, bits in services.items()},
    )
