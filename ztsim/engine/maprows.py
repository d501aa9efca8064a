"""The rows of a connectivity map (:mod:`ztsim.engine.connectivity`): for one source,
which decision takes each destination *cell*, as a few bitsets.

A cell is what one bit stands for: a (destination class, service, public) target
group in the default mode, a destination class in ``--all-ports`` (one stretch of
ports at a time).  A source's row is the first match of its candidate rules, in
spec §4's order (``intra_zone``, the rules in file order, the default), over the
cells: a rule takes ``mask & undecided``, and what it takes leaves ``undecided``.

Most of a class's candidates are shared with many classes (``any`` and the label
pairs of many rules, :meth:`ztsim.engine.reach.BulkReach._shared`): their sweep,
a :class:`Base`, is done once per set of shared pairs.  A row is then its base
and the cells its own candidates (the *extras*) take from it: an extra at rule
``e`` takes ``mask & ~(decided_before(e) | taken)``, where ``decided_before`` is
the union of the base's hits by rules before ``e`` (the base's cells decided by
then, whether or not an earlier extra took some of them first) and ``taken`` what
the row has taken or left out so far.  A cell no extra took keeps its base
decision: first match is per cell.  A row costs a few big-integer operations
per extra, not per candidate rule.

Layered sections (model v1.1) are swept per layer
(:meth:`~ztsim.engine.layers.LayerPlan.sweep`'s walk, recording who decides), the
layers' allowed partitions then crossed: an allowed cell names every layer's rule.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence

from ztsim.engine.decisions import Decision
from ztsim.engine.layers import LayerPlan

__all__ = ["INTRA_ZONE", "Base", "Part", "bit_indices", "layered_part", "row_part"]

#: The decision of a flow within a zone under ``intra_zone: allow``.
INTRA_ZONE = Decision(True, "intra_zone", "intra_zone")

#: LayerPlan's action codes.
_ALLOW, _PASS = 0, 2

#: For each byte value, the offsets of its set bits.
_BYTE_BITS: tuple[tuple[int, ...], ...] = tuple(
    tuple(k for k in range(8) if v >> k & 1) for v in range(256)
)


def bit_indices(bits: int) -> list[int]:
    """The indices set in ``bits``, ascending, in one pass over its bytes.

    >>> bit_indices(0b1010_0000_0001)
    [0, 9, 11]
    """
    out: list[int] = []
    data = bits.to_bytes((bits.bit_length() + 7) >> 3, "little")
    table = _BYTE_BITS
    for at, byte in enumerate(data):
        if byte:
            base = at << 3
            out += [base + k for k in table[byte]]
    return out


class Base:
    """The first match of shared rules over every cell: who takes which cells, and
    the cells decided before each rule."""

    __slots__ = ("_dec", "allowed", "firsts", "pairs", "prefix", "size")

    def __init__(
        self,
        rules: Sequence[int],
        masks: Sequence[int],
        full: int,
        size: int,
        decide: Callable[[int], Decision],
        default: Decision,
    ) -> None:
        undecided = full
        #: The rules that take some cell, in order, and the union of what the
        #: first ``k`` of them take (``prefix[k]``).
        self.firsts: list[int] = []
        self.prefix: list[int] = [0]
        #: The allowed decisions with their cells (disjoint).
        self.pairs: list[tuple[Decision, int]] = []
        for i in rules:
            hit = masks[i] & undecided
            if not hit:
                continue
            undecided ^= hit
            self.firsts.append(i)
            self.prefix.append(self.prefix[-1] | hit)
            d = decide(i)
            if d.allowed:
                self.pairs.append((d, hit))
            if not undecided:
                break
        if undecided and default.allowed:
            self.pairs.append((default, undecided))
        self.allowed = 0
        for _, b in self.pairs:
            self.allowed |= b
        self.size = size
        self._dec: list[Decision | None] | None = None

    def decided_before(self, rule: int) -> int:
        """The cells some shared rule before ``rule`` (an index) takes."""
        return self.prefix[bisect_left(self.firsts, rule)]

    def decisions(self) -> list[Decision | None]:
        """Each cell's allowed decision (None: denied), worked out once."""
        dec = self._dec
        if dec is None:
            dec = self._dec = [None] * self.size
            for d, b in self.pairs:
                for c in bit_indices(b):
                    dec[c] = d
        return dec


class Part:
    """A row's decisions over the cells: its :class:`Base` (None: every decision is
    in ``pairs``), the cells it took from it or left out (``taken``), and the
    allowed decisions it took, with their cells (disjoint)."""

    __slots__ = ("base", "pairs", "size", "taken")

    def __init__(
        self, base: Base | None, taken: int, pairs: list[tuple[Decision, int]], size: int
    ) -> None:
        self.base = base
        self.size = size
        self.taken = taken
        self.pairs = pairs

    @property
    def allowed(self) -> int:
        """The cells some decision allows (worked out when asked: a map holds many
        parts, and this is one more bitset each)."""
        base = self.base
        allowed = 0 if base is None else base.allowed & ~self.taken
        for _, b in self.pairs:
            allowed |= b
        return allowed

    def items(self) -> Iterator[tuple[Decision, int]]:
        """Every allowed decision with its cells (disjoint, none empty)."""
        base = self.base
        if base is not None:
            taken = self.taken
            for d, b in base.pairs:
                left = b & ~taken if taken else b
                if left:
                    yield d, left
        yield from self.pairs

    def decisions(self) -> list[Decision | None]:
        """Each cell's allowed decision (None: denied)."""
        base = self.base
        dec: list[Decision | None]
        if base is None:
            dec = [None] * self.size
        else:
            dec = base.decisions().copy()
            for c in bit_indices(self.taken & base.allowed):
                dec[c] = None
        for d, b in self.pairs:
            for c in bit_indices(b):
                dec[c] = d
        return dec


def row_part(
    base: Base,
    extras: Sequence[int],
    masks: Sequence[int],
    decide: Callable[[int], Decision],
    start: int,
    full: int,
    intra: int,
) -> Part:
    """A v1 row: ``base`` with the cells its ``extras`` (rule indices, in order)
    take; ``start`` the cells the source may reach at all (an external zone: public
    ones), ``intra`` the cells decided by ``intra_zone`` before any rule."""
    taken = full & ~start
    pairs: list[tuple[Decision, int]] = []
    if intra:
        hit = intra & ~taken if taken else intra  # the zone's own bitset, shared
        if hit:
            pairs.append((INTRA_ZONE, hit))
            taken = taken | hit if taken else hit
    for e in extras:
        hit = masks[e] & ~(base.decided_before(e) | taken)
        if hit:
            taken |= hit
            d = decide(e)
            if d.allowed:
                pairs.append((d, hit))
    return Part(base, taken, pairs, base.size)


def layered_part(
    plan: LayerPlan, hits: Sequence[tuple[int, int]], start: int, intra: int, size: int
) -> Part:
    """A row of a layered section: ``hits`` the candidate rules whose `from` matches,
    with their masks, in flat order.  Each layer decides every cell on its own (as
    :meth:`~ztsim.engine.layers.LayerPlan.decide` does); a cell is allowed when every
    layer allows it, named by each layer's deciding rule (or default)."""
    pairs: list[tuple[Decision, int]] = []
    if intra:
        hit = intra & start
        if hit:
            pairs.append((INTRA_ZONE, hit))
            start &= ~hit
    layer_of, tier_of, actions = plan.layer_of, plan.tier_of, plan.actions
    combos: list[tuple[tuple[int, ...], int]] = [((), start)] if start else []
    pos, end = 0, len(hits)
    for layer, default_allow in enumerate(plan.defaults):
        undecided, tier, tier_open = start, -1, 0
        allows: list[tuple[int, int]] = []
        while pos < end and layer_of[hits[pos][0]] == layer:
            i, mask = hits[pos]
            pos += 1
            if tier_of[i] != tier:
                tier, tier_open = tier_of[i], undecided
            hit = mask & tier_open
            if not hit:
                continue
            tier_open ^= hit
            if actions[i] != _PASS:  # decided in this layer
                undecided &= ~hit
                if actions[i] == _ALLOW:
                    allows.append((i, hit))
        if default_allow and undecided:
            allows.append((-1, undecided))
        combos = [
            ((*who, i), both) for who, bits in combos for i, b in allows if (both := bits & b)
        ]
        if not combos:
            break
    yes = [True] * len(plan.defaults)
    pairs += [(plan.name(yes, who), bits) for who, bits in combos]
    return Part(None, 0, pairs, size)
