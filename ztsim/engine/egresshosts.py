"""Which hosts egress lets send out to one destination: a first-match sweep over bitsets.

The fixpoint asks, for every host it gains code execution on, which exfiltration
channels egress leaves open (spec §4 and rule 8).  Asked host by host, each
question scans the candidate rules until one matches; on heterogeneous estates,
where hosts barely share a class, that is a scan for nearly every host.  Swept
once per (destination, service) over bitsets of hosts instead, each rule costs a
few big-integer operations whatever the number of hosts, and a host's question is
a bit test.  The answers are those of the host-by-host judge (spec §4's first
match, then the default): ``tests/test_egress_hosts.py`` compares them.

Only for egress judged rule by rule (model v1): a layered section or a CIDR
destination (model v1.1) is left to :meth:`~ztsim.engine.compiled.EgressJudge.egress`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ztsim.engine.targets import bitset_of
from ztsim.inputs.loaded import LabelGroup
from ztsim.model.selectors import Selector

__all__ = ["HostBits", "allowed_hosts"]


class HostBits:
    """The hosts as bit positions (in the order given), and the hosts each of
    ``selectors`` matches as a bitset.  The zones and label pairs the selectors name
    are indexed in one pass over the hosts; no other."""

    __slots__ = ("_by_pair", "_by_zone", "_memo", "index", "size")

    def __init__(
        self, hosts: Sequence[str], groups: Mapping[str, LabelGroup], selectors: Sequence[Selector]
    ) -> None:
        #: Each host's bit.
        self.index = {h: i for i, h in enumerate(hosts)}
        self.size = len(self.index)
        zones_named = {z for s in selectors if s.zone for z in s.zone}
        pairs_named = frozenset(p for s in selectors if s.labels for p in s.labels.items())
        zones: dict[str, list[int]] = {z: [] for z in zones_named}
        pairs: dict[tuple[str, str], list[int]] = {p: [] for p in pairs_named}
        for i, h in enumerate(hosts):
            zone, labels = groups[h]
            found = zones.get(zone)
            if found is not None:
                found.append(i)
            for p in labels & pairs_named:
                pairs[p].append(i)
        size = self.size
        self._by_zone = {z: bitset_of(b, size) for z, b in zones.items()}
        self._by_pair = {p: bitset_of(b, size) for p, b in pairs.items()}
        #: Each selector object's bitset (rules share selector objects).
        self._memo: dict[int, tuple[Selector, int]] = {}

    def of(self, sel: Selector) -> int:
        """The hosts a `from` selector matches: in one of its zones, among its hosts
        and carrying all its label pairs (each part when set)."""
        known = self._memo.get(id(sel))
        if known is not None:
            return known[1]
        bits = (1 << self.size) - 1
        if sel.zone is not None:
            zones = 0
            for z in sel.zone:
                zones |= self._by_zone[z]
            bits &= zones
        if sel.host:
            bits &= bitset_of((self.index[h] for h in sel.host if h in self.index), self.size)
        if sel.labels:
            for p in sel.labels.items():
                bits &= self._by_pair[p]
        self._memo[id(sel)] = (sel, bits)  # the selector kept: its id stays its own
        return bits


def allowed_hosts(
    hosts: HostBits,
    selectors: Sequence[Selector],
    allow: Sequence[bool],
    candidates: Sequence[int],
    default_allow: bool,
) -> int:
    """The hosts whose first matching rule among ``candidates`` (rule numbers, in
    order: the rules covering one destination and service) allows, or which no
    candidate matches when the default allows; as a bitset of ``hosts``.

    >>> from ztsim.model.selectors import Selector
    >>> sels = [Selector(host=["a"]), Selector()]
    >>> hb = HostBits(["a", "b", "c"], {h: ("z", frozenset()) for h in "abc"}, sels)
    >>> bin(allowed_hosts(hb, sels, [False, True], [0, 1], default_allow=False))
    '0b110'
    """
    undecided = (1 << hosts.size) - 1
    allowed = 0
    for i in candidates:
        matched = hosts.of(selectors[i]) & undecided
        if matched:
            if allow[i]:
                allowed |= matched
            undecided ^= matched
            if not undecided:
                break
    if default_allow:
        allowed |= undecided
    return allowed
