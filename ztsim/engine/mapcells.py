"""The destination side of a connectivity map (:mod:`ztsim.engine.connectivity`): its
cells, and how a row of decisions over them is read back as (destination, allowed)
entries.

A *cell* is one bit of a row: a (destination class, service, public) group in the
default mode, a destination class with ``all_ports``.  Destination hosts with the
same cells share a *signature*: a row is read once per signature, then per host in
id order.  What a row allows a destination is one :class:`Allowed`, interned, so
renderers work once per object.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import compress
from typing import NamedTuple

from ztsim.engine.classes import ClassKey
from ztsim.engine.decisions import Decision
from ztsim.engine.maprows import Part, bit_indices
from ztsim.engine.targets import bitset_of, groups_with_masks
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.services import PortRange, TransportProtocol, parse_service

__all__ = [
    "PROTOCOLS",
    "Allowed",
    "Cells",
    "Connection",
    "Grant",
    "PolicyMap",
    "Row",
    "Seg",
    "Span",
    "covers",
    "merge_ranges",
    "stretches",
]

#: Every transport protocol of the model, in the order services are listed.
PROTOCOLS: tuple[TransportProtocol, ...] = ("tcp", "udp", "sctp", "icmp")
_RANK = {p: i for i, p in enumerate(PROTOCOLS)}
_TOP = 65535

#: A stretch of ports of one protocol: (protocol, low, high).
Span = tuple[TransportProtocol, int, int]

#: How many expanded (destination, allowed) entries a map keeps for rows read
#: again (the sources of one row are rarely adjacent by id).
_KEEP = 2_000_000


class Grant(NamedTuple):
    """What one decision allows on a connection: the services and where it is written."""

    decision: Decision
    services: tuple[PortRange, ...]
    #: ``FILE:LINE`` of the deciding rule (or of the ``default`` / ``intra_zone`` key);
    #: the policy file alone where no line is known.
    location: str


class Allowed(NamedTuple):
    """Everything a source may open to a destination: shared by every pair of hosts
    of the same classes (rendered once per object, not per pair)."""

    services: tuple[PortRange, ...]
    #: In spec §4's order: ``intra_zone``, then rules in file order, then ``default``.
    grants: tuple[Grant, ...]


class Connection(NamedTuple):
    """One ordered pair with at least one allowed service."""

    source: str
    target: str
    allowed: Allowed


def merge_ranges(spans: Iterable[Span]) -> tuple[PortRange, ...]:
    """Spans of ports merged where they touch or overlap, sorted by protocol then port.

    >>> [str(r) for r in merge_ranges([("udp", 53, 53), ("tcp", 81, 90), ("tcp", 80, 80)])]
    ['80-90/tcp', '53/udp']
    """
    out: list[PortRange] = []
    for proto, low, high in sorted(spans, key=lambda s: (_RANK[s[0]], s[1], s[2])):
        last = out[-1] if out else None
        if last is not None and last.proto == proto and low <= last.high + 1:
            if high > last.high:
                out[-1] = PortRange(last.low, high, proto)
        else:
            out.append(PortRange(low, high, proto))
    return tuple(out)


def starts(ranges: Iterable[PortRange]) -> dict[TransportProtocol, set[int]]:
    """Where the stretches no range of ``ranges`` splits start, per protocol."""
    points: dict[TransportProtocol, set[int]] = {p: {0} for p in PROTOCOLS}
    for r in ranges:
        for proto in PROTOCOLS if r.proto == "*" else (r.proto,):
            points[proto].add(r.low)
            if r.high < _TOP:
                points[proto].add(r.high + 1)
    return points


def stretches(ranges: Iterable[PortRange]) -> list[Span]:
    """The stretches of ports, per protocol, that none of ``ranges`` splits: a first
    match over the ranges decides each stretch alike.  In protocol, then port order."""
    points = starts(ranges)
    out: list[Span] = []
    for proto in PROTOCOLS:
        lows = sorted(points[proto])
        ends = [p - 1 for p in lows[1:]] + [_TOP]
        out.extend((proto, low, high) for low, high in zip(lows, ends, strict=True))
    return out


def covers(ranges: tuple[PortRange, ...], span: Span) -> bool:
    """Whether ``ranges`` cover a stretch that none of them splits (its first port
    tells)."""
    proto, low, _ = span
    return any((r.proto == "*" or r.proto == proto) and r.low <= low <= r.high for r in ranges)


#: A row's decisions on host cells: one :class:`Part` (default mode), or one per
#: stretch of ports allowing something (``all_ports``); None when there is no cell.
Seg = Part | tuple[tuple[Span, Part], ...] | None


class Row(NamedTuple):
    """What the sources of one row may open: host cells, then external destinations."""

    seg: Seg
    egress: tuple[tuple[str, Allowed], ...]


#: A destination signature: its cells with their spans of ports (default mode).
_Sig = tuple[tuple[int, Span], ...]


class Cells:
    """A map's destinations: the cells (as :class:`~ztsim.engine.targets.TargetGroups`,
    whose masks :func:`~ztsim.engine.reach.rule_masks` reads), the signatures of the
    destination hosts, and the reading of rows over them.

    ``hosts`` are the destination hosts, ``externals`` the external destinations;
    ``dest_class`` classes a host as a destination; ``all_ports`` makes a cell of
    each class, else of each (class, service, public) served.
    """

    def __init__(
        self,
        topology: LoadedTopology,
        policy: LoadedPolicy,
        hosts: Sequence[str],
        externals: Sequence[str],
        dest_class: Callable[[str], ClassKey],
        all_ports: bool,
        rule_order: Mapping[tuple[str, str], int],
    ) -> None:
        self.policy = policy
        self.all_ports = all_ports
        self.rule_order = rule_order
        self.locations: dict[Decision, str] = {}
        #: One Allowed per distinct content, so renderers work once per object.
        self.interned: dict[tuple[tuple[Span, Decision], ...], Allowed] = {}
        numbers: dict[tuple[ClassKey, str, bool], int] = {}
        members: list[list[str]] = []
        #: Each signature's cells, its hosts' count, each host's signature, and the
        #: signatures holding each cell.
        self.sigs: list[_Sig] = []
        self.weights: list[int] = []
        self.sig_of: dict[str, int] = {}
        # Signatures are numbered by their cells (ints, in span order); each cell's
        # span and place in that order is found once, when the cell is.
        sig_numbers: dict[tuple[int, ...], int] = {}
        cell_span: list[Span] = []
        cell_rank: list[tuple[int, int]] = []
        host_of = topology.hosts
        for h in hosts:
            ck = dest_class(h)
            cells: list[int] = []
            offers = (
                [("", False)] if all_ports else [(o.service, o.public) for o in host_of[h].services]
            )
            for service, public in offers:
                key = (ck, service, public)
                c = numbers.get(key)
                if c is None:
                    c = numbers[key] = len(members)
                    members.append([])
                    svc = parse_service(service) if service else None
                    span: Span = ("tcp", 0, 0) if svc is None else (svc.proto, svc.port, svc.port)
                    cell_span.append(span)
                    cell_rank.append((_RANK[span[0]], span[1]))
                members[c].append(h)
                cells.append(c)
            if not cells:
                continue  # serves nothing: never a destination in the default mode
            if len(cells) > 1:
                cells.sort(key=cell_rank.__getitem__)
            sig = tuple(cells)
            n = sig_numbers.get(sig)
            if n is None:
                n = sig_numbers[sig] = len(self.sigs)
                self.sigs.append(tuple((c, cell_span[c]) for c in sig))
                self.weights.append(0)
            self.weights[n] += 1
            self.sig_of[h] = n
        self.of_cell: list[list[int]] = [[] for _ in members]
        for n, cells_of in enumerate(self.sigs):
            for c, _ in cells_of:
                self.of_cell[c].append(n)
        #: The cells as target groups, with their masks.
        cell_hosts = tuple(tuple(m) for m in members)
        self.groups = groups_with_masks(tuple(numbers), cell_hosts, cell_hosts)
        self.size = len(members)
        #: The cells by how many hosts they hold (``all_ports``: one signature each).
        weighed: dict[int, list[int]] = defaultdict(list)
        for c, m in enumerate(members):
            weighed[len(m)].append(c)
        self.by_weight = {w: bitset_of(cs, self.size) for w, cs in weighed.items()}
        #: Each base's count of hosts reached (:meth:`hosts_reached`), by its id.
        self.base_counts: dict[int, tuple[object, int]] = {}
        order = [*self.sig_of.items(), *((e, -1) for e in externals)]
        #: Every destination, sorted by id, with its signature (-1: external).
        self.dest_order = sorted(order)

    # ------------------------------------------------------------------ reading

    @staticmethod
    def allowed_cells(seg: Seg) -> int:
        """The cells a row allows something to (on some port)."""
        if seg is None:
            return 0
        if isinstance(seg, Part):
            return seg.allowed
        cells = 0
        for _, part in seg:
            cells |= part.allowed
        return cells

    def has(self, cells: bytes, sig: int) -> bool:
        """Whether ``cells`` (a bitset's little-endian bytes) hold a cell of ``sig``."""
        size = len(cells)
        return any(c >> 3 < size and cells[c >> 3] >> (c & 7) & 1 for c, _ in self.sigs[sig])

    def hosts_reached(self, seg: Seg, cells: int) -> int:
        """How many destination hosts a row allows something to (``cells`` its
        :meth:`allowed_cells`): per weight with ``all_ports`` (a signature is a cell);
        else from its base's count, corrected on the cells the row changed."""
        if self.all_ports:
            return sum(w * (cells & bits).bit_count() for w, bits in self.by_weight.items())
        base = seg.base if isinstance(seg, Part) else None
        if base is None:
            return self.count_sigs(cells)
        known = self.base_counts.get(id(base))
        if known is None:
            known = self.base_counts[id(base)] = (base, self.count_sigs(base.allowed))
        count = known[1]
        changed = cells ^ base.allowed
        if changed:
            now = _bytes(cells)
            before = _bytes(base.allowed)
            touched = {s for c in bit_indices(changed) for s in self.of_cell[c]}
            for s in touched:
                count += self.weights[s] * (self.has(now, s) - self.has(before, s))
        return count

    def count_sigs(self, cells: int) -> int:
        """How many destination hosts hold some of ``cells``."""
        flags = bytearray(len(self.sigs))
        of_cell = self.of_cell
        for c in bit_indices(cells):
            for s in of_cell[c]:
                flags[s] = 1
        return sum(compress(self.weights, flags))

    def per_sig(self, seg: Seg) -> list[Allowed | None] | None:
        """What a row allows each signature (None: nothing to any)."""
        if seg is None:
            return None
        if isinstance(seg, Part):
            if not seg.allowed:
                return None
            dec = seg.decisions()
            out: list[Allowed | None] = []
            for sig in self.sigs:
                kept = tuple((span, d) for c, span in sig if (d := dec[c]) is not None)
                out.append(self.interned_allowed(kept) if kept else None)
            return out
        if not seg:
            return None
        # all_ports: a cell is a class, a signature its one cell.
        per: list[list[tuple[Span, Decision]]] = [[] for _ in range(self.size)]
        for span, part in seg:  # in stretch order: each list sorted
            for d, bits in part.items():
                for c in bit_indices(bits):
                    per[c].append((span, d))
        return [self.interned_allowed(tuple(x)) if x else None for x in per]

    def expand(self, row: Row) -> list[tuple[str, Allowed]]:
        """A row's (destination, allowed) entries, sorted by destination id."""
        per_sig = self.per_sig(row.seg)
        egress = dict(row.egress)
        if per_sig is None:
            return [(d, a) for d, s in self.dest_order if s < 0 and (a := egress.get(d))]
        out: list[tuple[str, Allowed]] = []
        for d, s in self.dest_order:
            a = per_sig[s] if s >= 0 else egress.get(d)
            if a is not None:
                out.append((d, a))
        return out

    # ------------------------------------------------------------------ results

    def allowed(self, decided: Iterable[tuple[Span, Decision]]) -> Allowed | None:
        """The allowed spans of ``decided`` as one shared :class:`Allowed` (None: none)."""
        kept = tuple(sorted(((s, d) for s, d in decided if d.allowed), key=_span_order))
        return self.interned_allowed(kept) if kept else None

    def interned_allowed(self, kept: tuple[tuple[Span, Decision], ...]) -> Allowed:
        """``kept`` (allowed spans, sorted) as one shared :class:`Allowed`."""
        known = self.interned.get(kept)
        if known is None:
            by_decision: dict[Decision, list[Span]] = defaultdict(list)
            for span, decision in kept:
                by_decision[decision].append(span)
            grants = tuple(
                Grant(d, merge_ranges(spans), self.location(d))
                for d, spans in sorted(by_decision.items(), key=lambda kv: self.rank(kv[0]))
            )
            known = self.interned[kept] = Allowed(merge_ranges(s for s, _ in kept), grants)
        return known

    def rank(self, decision: Decision) -> tuple[int, int]:
        """Spec §4's order: intra_zone, then rules in file order, then the default."""
        if decision.reason == "rule":
            order = self.rule_order.get((decision.section, decision.rule_id))
            return (1, len(self.rule_order) if order is None else order)
        return (0, 0) if decision.reason in ("intra_zone", "self") else (2, 0)

    def location(self, decision: Decision) -> str:
        """``FILE:LINE`` of what decided (a rule, the ``default`` or ``intra_zone`` key)."""
        known = self.locations.get(decision)
        if known is None:
            pol = self.policy
            if decision.parts is not None and decision.allowed:
                # Every layer's rule named: a policy that places each (a Kubernetes
                # import: source's and destination's policies) says them all.
                known = pol.rule_location(decision.section, decision.rule)
            elif decision.reason == "rule" or decision.parts is not None:
                known = pol.rule_location(decision.section, decision.rule_id)
            else:
                key = "intra_zone" if decision.reason == "intra_zone" else "default"
                mark = pol.doc.node_mark((decision.section, key)) if pol.doc else None
                known = f"{pol.path}:{mark.line}" if mark else pol.path
            self.locations[decision] = known
        return known


def _bytes(bits: int) -> bytes:
    """A bitset's little-endian bytes (bit ``c`` at byte ``c >> 3``)."""
    return bits.to_bytes((bits.bit_length() + 7) >> 3, "little")


def _span_order(item: tuple[Span, Decision]) -> tuple[int, int]:
    span = item[0]
    return (_RANK[span[0]], span[1])


class PolicyMap:
    """The allowed-connectivity map of one policy, per row until read.

    ``sources`` maps each source id (sorted) to its row in ``rows``; ``cells`` reads
    the rows.
    """

    def __init__(
        self,
        policy: LoadedPolicy,
        all_ports: bool,
        sources: Mapping[str, int],
        rows: Sequence[Row],
        cells: Cells,
    ) -> None:
        self.policy = policy
        self.all_ports = all_ports
        self.sources = sources
        self.rows = rows
        self.cells = cells
        self._kept: OrderedDict[int, list[tuple[str, Allowed]]] = OrderedDict()
        self._kept_size = 0

    def count(self) -> int:
        """How many connections :meth:`connections` yields, without listing them."""
        members: dict[int, list[str]] = defaultdict(list)
        for source, r in self.sources.items():
            members[r].append(source)
        cells = self.cells
        total = 0
        for r, sources in members.items():
            row = self.rows[r]
            allowed = cells.allowed_cells(row.seg)
            total += len(sources) * (cells.hosts_reached(row.seg, allowed) + len(row.egress))
            held = _bytes(allowed)
            for s in sources:
                sig = cells.sig_of.get(s)
                if sig is not None and cells.has(held, sig):
                    total -= 1  # a host alone with itself
        return total

    def row(self, index: int) -> list[tuple[str, Allowed]]:
        """Row ``index`` expanded: what its sources may open, sorted by destination id
        (a source's own id included where it is a destination)."""
        kept = self._kept
        found = kept.get(index)
        if found is not None:
            kept.move_to_end(index)
            return found
        found = kept[index] = self.cells.expand(self.rows[index])
        self._kept_size += len(found)
        while self._kept_size > _KEEP and len(kept) > 1:
            self._kept_size -= len(kept.popitem(last=False)[1])
        return found

    def connections(self) -> Iterator[Connection]:
        """Every connection, sorted by source then destination id (a host reaching
        itself left out)."""
        for source, r in self.sources.items():
            for target, allowed in self.row(r):
                if target != source:
                    yield Connection(source, target, allowed)

    def connected(self, source: str) -> bool:
        """Whether ``source`` (a host or an external zone) has some connection."""
        row = self.rows[self.sources[source]]
        if row.egress:
            return True
        cells = self.cells
        allowed = cells.allowed_cells(row.seg)
        hosts = cells.hosts_reached(row.seg, allowed)
        sig = cells.sig_of.get(source)
        if sig is not None and cells.has(_bytes(allowed), sig):
            hosts -= 1  # itself
        return hosts > 0

    def externals(self) -> set[str]:
        """The external destinations some source may open something to."""
        return {e for row in self.rows for e, _ in row.egress}
