"""The attack fixpoint: what an attacker can reach under one policy (spec §5).

Facts only grow.  The engine is a worklist over facts in the style of MulVAL,
ordered like Knuth's generalisation of Dijkstra's algorithm: a fact is *finalised*
when it leaves the priority queue, and a step fires as soon as all its
preconditions are finalised, offering its outputs at cost ``1 + sum(cost of
preconditions)``.  Reachability is the plain fixpoint (every fact that can be
derived is); the ordering only makes the first derivation recorded for each fact
its cheapest one, so plans can be explained and extracted without enumerating
paths.

Facts are tuples:

``("zone", z)``
    the attacker stands in external zone ``z``;
``("priv", h, "user" | "root")``
    code execution on host ``h`` at least at that level;
``("session", h, s, origin)``
    a ``service`` session to service ``s`` of ``h``, opened from external zone
    ``origin`` or from inside (``origin == "*"``);
``("cred", c)``, ``("data", d)``
    a credential held, a data item collected;
``("exfil", d)``, ``("tamper", d)``
    the goals.

Scale: a source position is expanded once per equivalence class of hosts (see
:meth:`ztsim.engine.compiled.CompiledPolicy.reach`), and a target (host, service) is handed
to the rules for each kind of origin once, with its cheapest source.  Set
``exhaustive=True`` to fire every step instance instead (a full attack graph, for
small topologies).
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from typing import Any, NamedTuple

from ztsim.engine.compiled import (
    CompiledPolicy,
    LabelGroup,
    TargetLayout,
    TargetsByGroup,
    iter_bits,
    layout_of,
)
from ztsim.inputs.loader import LoadedPolicy, LoadedTopology
from ztsim.model.schema import DataItem, Host, Login, Vulnerability
from ztsim.perf.profiling import phase

__all__ = [
    "INSIDE",
    "AttackModel",
    "Fact",
    "Solution",
    "Step",
    "goal_facts",
    "solve",
]

Fact = tuple[str, ...]
#: The origin of a session opened from a host inside the organisation.
INSIDE = "*"


class Step(NamedTuple):
    """One attacker action: what it needs, what it gives, and why it was possible.

    A named tuple, immutable and compared by value: a solve on a large estate
    builds hundreds of thousands, and a frozen dataclass took four times as long
    to build (each field set through ``object.__setattr__``).

    Attributes
    ----------
    key
        Identity of the step (used to ban it when searching further plans).
    kind
        ``enter``, ``exploit``, ``login``, ``escalate``, ``steal``, ``sniff``,
        ``collect``, ``exfiltrate``, ``exfiltrate-direct`` or ``tamper``.
    technique
        The ATT&CK technique id (``None`` for an entry with none of its own).
    source, target
        Where the step is launched from and what it acts on (host, zone,
        credential, data item or external destination ids).
    service
        The service used, when there is one.
    reason
        The fact of the topology that enabled it (a vulnerability, a login, a
        stored credential, a traffic flow...), in words.
    host
        Where the step happens, for detection ``where`` selectors.
    flow
        ``(source, host, service)`` of the network flow it needs, if any.
    egress
        ``(host, destination, service)`` of the egress it needs, if any.
    credential
        The credential a login uses (MFA blocks it).
    traffic
        Index of the sniffed ``traffic`` flow.
    """

    key: tuple[str, ...]
    kind: str
    technique: str | None
    source: str | None
    target: str | None
    service: str | None
    reason: str
    pre: tuple[Fact, ...]
    post: tuple[Fact, ...]
    host: str | None = None
    flow: tuple[str, str, str] | None = None
    egress: tuple[str, str, str] | None = None
    credential: str | None = None
    traffic: int | None = None


def _gives(host: str, service: str, level: str, origin: str) -> tuple[Fact, ...]:
    if level == "service":
        return (("session", host, service, origin),)
    if level == "root":
        return (("priv", host, "root"), ("priv", host, "user"))
    return (("priv", host, "user"),)


#: What of a service, a stored credential sets a host apart (C-level getters: these
#: run for every host).
_SERVICE_SIG = attrgetter("service", "public", "encrypted")
_STORE_SIG = attrgetter("credential", "requires")


def _canonical(items: list[tuple[Any, ...]]) -> tuple[tuple[Any, ...], ...]:
    """``items`` as a sorted tuple (most lists here have zero or one element)."""
    if len(items) > 1:
        items.sort()
    return tuple(items)


class _Shape(NamedTuple):
    """What a host's lists give the model's indices: the same for every host that
    lists the very same lists (see :meth:`AttackModel._index`)."""

    #: Remote vulnerabilities by service, services in first-listed order.
    remote: dict[str, tuple[Vulnerability, ...]]
    local: tuple[Vulnerability, ...]
    #: Logins by service, services in first-listed order.
    logins: dict[str, tuple[Login, ...]]
    #: (credential, requires) of each stored credential, in order.
    stores: tuple[tuple[str, str], ...]
    #: What tells an attack target from other hosts besides the policy (services,
    #: vulnerabilities, logins, stored credentials); None for a host that is no
    #: target (no remote vulnerability, no login).
    signature: Hashable
    #: The host's attack target services (a remote vulnerability or a login), sorted.
    own: tuple[str, ...]
    #: Those the host offers, with whether it offers them publicly (its first listing).
    offers: tuple[tuple[str, bool], ...]


class _Shapes:
    """The :class:`_Shape` of hosts' lists, each list's part worked out once.

    Hosts list the very same lists (:class:`~ztsim.model.schema.SharedList`) in many
    combinations (benchmark L: 7,000 combinations of a few hundred lists), so
    each part is derived per list, found by the identity that
    :func:`~ztsim.model.schema.lists_key` gives.
    """

    def __init__(self) -> None:
        self._services: dict[int, tuple[tuple[Any, ...], ...]] = {}
        self._vulns: dict[int, tuple[Any, ...]] = {}
        self._logins: dict[int, tuple[Any, ...]] = {}
        self._stores: dict[int, tuple[Any, ...]] = {}

    def of(self, h: Host, key: tuple[int, int, int, int]) -> _Shape:
        """The shape of ``h``, whose :func:`~ztsim.model.schema.lists_key` is ``key``."""
        k_services, k_vulns, k_stores, k_logins = key
        vulns = self._vulns.get(k_vulns)
        if vulns is None:
            vulns = self._vulns[k_vulns] = _vulns_part(h.vulnerabilities)
        logins = self._logins.get(k_logins)
        if logins is None:
            logins = self._logins[k_logins] = _logins_part(h.logins)
        stores = self._stores.get(k_stores)
        if stores is None:
            found = tuple(map(_STORE_SIG, h.credentials))
            stores = self._stores[k_stores] = (found, _canonical(list(found)))
        remote, local, vuln_sig = vulns
        by_service, login_sig = logins
        signature: Hashable = None
        own: tuple[str, ...] = ()
        offers: list[tuple[str, bool]] = []
        if remote or by_service:
            services = self._services.get(k_services)
            if services is None:
                services = self._services[k_services] = _canonical(
                    list(map(_SERVICE_SIG, h.services))
                )
            signature = (services, vuln_sig, login_sig, stores[1])
            own = tuple(sorted({*remote, *by_service}))
            for svc in own:
                offer = h.offer(svc)
                if offer is not None:
                    offers.append((svc, offer.public))
        if not (remote or local or by_service or stores[0]):
            return _NOTHING
        return _Shape(remote, local, by_service, stores[0], signature, own, tuple(offers))


#: The shape of a host whose lists give the solver nothing (no vulnerability, login
#: or stored credential): such hosts are not in :attr:`AttackModel.shapes`.
_NOTHING = _Shape({}, (), {}, (), None, (), ())


def _vulns_part(vulns: list[Vulnerability]) -> tuple[Any, ...]:
    """``(remote by service, local, canonical signature part)`` of a vulnerabilities list."""
    remote: dict[str, list[Vulnerability]] = {}
    local: list[Vulnerability] = []
    for v in vulns:
        if v.local:
            local.append(v)
        else:
            assert v.service is not None
            remote.setdefault(v.service, []).append(v)
    return (
        {svc: tuple(vs) for svc, vs in remote.items()},
        tuple(local),
        _canonical([(v.service or "", v.local, v.gives) for v in vulns]),
    )


def _logins_part(logins: list[Login]) -> tuple[Any, ...]:
    """``(logins by service, canonical signature part)`` of a logins list."""
    by_service: dict[str, list[Login]] = {}
    for lg in logins:
        by_service.setdefault(lg.service, []).append(lg)
    return (
        {svc: tuple(ls) for svc, ls in by_service.items()},
        _canonical([(lg.credential, lg.service, lg.gives) for lg in logins]),
    )


class AttackModel:
    """Topology-only indices shared by the solves of every policy.

    Parameters
    ----------
    topology
        The loaded topology.
    """

    def __init__(self, topology: LoadedTopology) -> None:
        with phase("model"):
            self._index(topology)

    def _index(self, topology: LoadedTopology) -> None:
        """Build the indices (one pass over the hosts: at 100,000 hosts every pass costs).

        What a host's lists give (its vulnerabilities and logins by service, its
        stored credentials, its signature) is worked out once per combination of
        lists (:func:`~ztsim.model.schema.lists_key`: hosts of a large estate share them,
        see :mod:`ztsim.perf.dedupe`) as a :class:`_Shape`, and each host is indexed by
        its shape alone: on L, one entry per host instead of five or six (0.1 s).
        The per-host tables of earlier versions (:attr:`vulns`, :attr:`logins`,
        :attr:`signatures`, :attr:`targets`...) are built from the shapes when
        asked; the solver reads the shapes.
        """
        self.topology = topology
        m = topology.model
        self.logins_by_cred: dict[str, list[tuple[Host, Login]]] = defaultdict(list)
        self.data_on: dict[str, list[DataItem]] = defaultdict(list)
        self.data_by_service: dict[tuple[str, str], list[DataItem]] = defaultdict(list)
        self.data_host: dict[str, Host] = {}
        # Hosts that must stay apart from look-alikes (see ``signatures``): traffic
        # endpoints, entry points and, added below, hosts that hold data.
        apart = {t.source for t in m.traffic} | {t.to for t in m.traffic}
        apart |= {ep.host for ep in topology.entry_points if ep.host is not None}
        #: Per host with anything in its lists, their :class:`_Shape`.
        self.shapes: dict[str, _Shape] = {}
        #: Per host, its (zone, label pairs), shared by equal hosts (class keys).
        self.groups: dict[str, LabelGroup] = topology.label_groups
        logins_by_cred, shape_by_host = self.logins_by_cred, self.shapes
        shapes: dict[tuple[int, int, int, int], _Shape] = {}
        shape_of = _Shapes().of
        # Target hosts that offer a target service, with their shape: the layout's input.
        self._offering: list[tuple[str, _Shape]] = []
        offering = self._offering.append
        for h, key in zip(m.hosts, topology.lists_keys, strict=True):
            shape = shapes.get(key)
            if shape is None:
                shape = shapes[key] = shape_of(h, key)
            if shape is _NOTHING:
                if not h.data:
                    continue
            else:
                shape_by_host[h.id] = shape
                if shape.logins:
                    for lg in h.logins:
                        logins_by_cred[lg.credential].append((h, lg))
                if shape.offers:
                    offering((h.id, shape))
            if h.data:
                hid = h.id
                apart.add(hid)
                for d in h.data:
                    self.data_on[hid].append(d)
                    self.data_host[d.id] = h
                    if d.requires == "service" and d.service is not None:
                        self.data_by_service[(hid, d.service)].append(d)
        #: Hosts that never share a representative with look-alikes.
        self.apart: frozenset[str] = frozenset(apart)
        self.exfil_destinations = tuple(
            sorted(
                (
                    (e.id, s)
                    for e in m.external
                    if e.role in ("c2", "web-service")
                    for s in e.services
                ),
            )
        )
        self.entry_points = topology.entry_points

    @cached_property
    def vulns(self) -> dict[tuple[str, str], tuple[Vulnerability, ...]]:
        """Remote vulnerabilities per (host, service)."""
        return {(h, svc): vs for h, sh in self.shapes.items() for svc, vs in sh.remote.items()}

    @cached_property
    def logins(self) -> dict[tuple[str, str], tuple[Login, ...]]:
        """Logins per (host, service)."""
        return {(h, svc): ls for h, sh in self.shapes.items() for svc, ls in sh.logins.items()}

    @cached_property
    def local_vulns(self) -> dict[str, tuple[Vulnerability, ...]]:
        """Local vulnerabilities per host that has any."""
        return {h: sh.local for h, sh in self.shapes.items() if sh.local}

    @cached_property
    def stores(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """(credential, requires) of each stored credential, per host that stores any."""
        return {h: sh.stores for h, sh in self.shapes.items() if sh.stores}

    @cached_property
    def own_targets(self) -> dict[str, tuple[str, ...]]:
        """Per attack target host, its target services, sorted."""
        return {h: sh.own for h, sh in self.shapes.items() if sh.own}

    @cached_property
    def signatures(self) -> dict[str, Hashable]:
        """Per attack target host (a remote vulnerability or a login), what tells it
        from other hosts besides the policy (its services, vulnerabilities, logins and
        stored credentials); ``None`` to keep a host apart (it holds data, is an entry
        point or a traffic endpoint).  Other hosts have no entry; hosts in order."""
        apart = self.apart
        out: dict[str, Hashable] = {}
        for h in self.topology.hosts:
            if h in apart:
                out[h] = None
            else:
                sh = self.shapes.get(h)
                if sh is not None and sh.signature is not None:
                    out[h] = sh.signature
        return out

    @cached_property
    def targets(self) -> tuple[tuple[str, str], ...]:
        """Every (host, service) with a remote vulnerability or a login, sorted."""
        return tuple(sorted((h, svc) for h, sh in self.shapes.items() for svc in sh.own))

    @cached_property
    def layout(self) -> TargetLayout:
        """This model's targets bucketed once for every policy.

        :func:`~ztsim.engine.compiled.target_layout` of the model's targets, groups and
        signatures (but for the order of groups, buckets and twins, and the numbers
        of signatures, which compilations do not depend on), worked out per target
        host from its shape (the services it offers as targets, its signature)
        rather than per target: on L, 41,000 hosts instead of 46,000 targets, one
        signature hashed per shape, no offer looked up per target.
        """
        groups, apart = self.groups, self.apart
        per_group: TargetsByGroup = {}
        numbers: dict[Hashable, int] = {}
        by_shape: dict[int, int] = {}  # id of a shape -> its signature's number
        loners: list[str] = []
        for hid, shape in self._offering:
            group = groups[hid]
            entry = per_group.get(group)
            if entry is None:
                entry = per_group[group] = ({}, {})
            buckets, twins = entry
            for offer in shape.offers:  # (service, public)
                bucket = buckets.get(offer)
                if bucket is None:
                    buckets[offer] = [hid]
                else:
                    bucket.append(hid)
            sig = None if hid in apart else shape.signature
            if sig is None:
                loners.append(hid)
                continue
            n = by_shape.get(id(shape))
            if n is None:
                n = by_shape[id(shape)] = numbers.setdefault(sig, len(numbers))
            twin = twins.get(n)
            if twin is None:
                twins[n] = [hid]
            else:
                twin.append(hid)
        return layout_of(per_group, loners)

    def compile(
        self,
        policy: LoadedPolicy,
        *,
        compress: bool = True,
        previous: CompiledPolicy | None = None,
    ) -> CompiledPolicy:
        """Compile ``policy`` against this topology, grouping this model's targets.

        ``compress=False`` keeps every host a class of its own (for tests);
        ``previous``, an earlier version of the policy compiled by this model, lends
        its target groups when they fit (see :class:`~ztsim.engine.compiled.CompiledPolicy`).
        """
        with phase("compile"):
            return CompiledPolicy(
                policy,
                self.topology,
                groups=self.groups,
                compress=compress,
                previous=previous,
                layout=self.layout,
            )


def goal_facts(topology: LoadedTopology) -> list[Fact]:
    """Every goal of spec §6: exfiltration of each data item, tampering of integrity items."""
    goals: list[Fact] = []
    # The data table lists the items in file order: no walk over every host.
    for _, d in topology.data.values():
        goals.append(("exfil", d.id))
        if d.integrity:
            goals.append(("tamper", d.id))
    return goals


@dataclass
class Solution:
    """The fixpoint under one policy: every derived fact, its cost and its best step."""

    model: AttackModel
    policy: CompiledPolicy
    cost: dict[Fact, int] = field(default_factory=dict)
    order: dict[Fact, int] = field(default_factory=dict)
    best: dict[Fact, Step] = field(default_factory=dict)
    fired: dict[tuple[str, ...], Step] = field(default_factory=dict)
    complete: bool = True

    def derivations(self) -> dict[Fact, list[Step]]:
        """Every fired step that derives each fact, cheapest first (ties by key).

        A step counts for a fact only when all its preconditions were derived.
        """
        cost = self.cost
        out: dict[Fact, list[tuple[int, tuple[str, ...], Step]]] = defaultdict(list)
        for key, st in self.fired.items():
            if all(p in cost for p in st.pre):
                c = 1 + sum(cost[p] for p in st.pre)
                for f in st.post:
                    if f in cost:
                        out[f].append((c, key, st))
        return {f: [st for _, _, st in sorted(lst)] for f, lst in out.items()}

    def reachable(self, fact: Fact) -> bool:
        """Whether ``fact`` was derived."""
        return fact in self.cost

    @property
    def facts(self) -> int:
        """How many facts were derived."""
        return len(self.cost)


class _Solver:
    """One run of the fixpoint (see :func:`solve`)."""

    def __init__(
        self,
        model: AttackModel,
        policy: CompiledPolicy,
        banned: frozenset[tuple[str, ...]],
        exhaustive: bool,
        alternatives: int = 1,
    ) -> None:
        self.m = model
        self.p = policy
        self.topo = model.topology
        self.banned = banned
        # With bans, hosts of one class and the first source of a target are no
        # longer interchangeable: fire every instance so no alternative is missed.
        self.exhaustive = exhaustive or bool(banned)
        self.sol = Solution(model, policy)
        self.heap: list[tuple[int, int, Fact, Step]] = []
        self.counter = itertools.count()
        self.alternatives = alternatives
        self.done: dict[tuple[tuple[str, ...], str], int] = defaultdict(int)
        self.reach_count: dict[tuple[str, str, str], int] = defaultdict(int)
        self.reachers: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        self.reached_mask: dict[str, int] = defaultdict(int)
        self.classes_done: set[object] = set()
        self.exfil_sources: list[tuple[str, list[tuple[str, str]]]] = []
        self.exfil_classes: set[object] = set()
        self.exfil_done: dict[str, int] = defaultdict(int)
        # Data items held that may still gain an exfiltration step, in the order they
        # were collected (all of them when exhaustive): a new egress source offers
        # itself to these only, not to every item held (quadratic on 100,000 hosts).
        self.exfil_pending: dict[str, None] = {}
        self.ext_sessions: dict[str, list[Fact]] = defaultdict(list)
        self.sniff_by_zone = self._sniffable()

    # ------------------------------------------------------------------ plumbing

    def _sniffable(self) -> dict[str, list[tuple[int, str, frozenset[str]]]]:
        """Traffic flows whose credential can be sniffed under this policy (rule 6)."""
        out: dict[str, list[tuple[int, str, frozenset[str]]]] = defaultdict(list)
        if self.p.encrypt_in_transit:
            return out
        hosts = self.topo.hosts
        for i, t in enumerate(self.topo.model.traffic):
            if t.credential is None:
                continue
            if t.to in hosts:
                offer = hosts[t.to].offer(t.service)
                if offer is not None and offer.encrypted:
                    continue
            if not self.p.traffic(t.source, t.to, t.service).allowed:
                continue
            ends = frozenset(x for x in (t.source, t.to) if x in hosts)
            for zone in sorted({hosts[x].zone for x in ends}):
                out[zone].append((i, t.credential, ends))
        return out

    def fire(self, step: Step) -> bool:
        """Offer a step's outputs, unless it is banned.  Returns whether it fired."""
        if step.key in self.banned:
            return False
        cost = self.sol.cost
        c = 1
        for f in step.pre:  # at most two preconditions: a loop beats sum() here
            c += cost[f]
        fired = self.sol.fired
        if step.key not in fired:
            fired[step.key] = step
        heap = self.heap
        for f in step.post:
            if f not in cost:
                heapq.heappush(heap, (c, next(self.counter), f, step))
        return True

    def spent(self, template: tuple[str, ...], origin: str) -> bool:
        """Whether enough instances of ``template`` fired for ``origin`` (never when
        exhaustive).  Asked before a step is built: most offers are refused."""
        return not self.exhaustive and self.done[(template, origin)] >= self.alternatives

    def fire_counted(self, template: tuple[str, ...], origin: str, step: Step) -> None:
        """Fire ``step``, an instance of ``template`` that :meth:`spent` let through."""
        if self.fire(step):
            self.done[(template, origin)] += 1

    # ------------------------------------------------------------------ steps

    def _technique_in(self, origin: str, outside: str, inside: str) -> str:
        return outside if origin != INSIDE else inside

    def on_reach(self, host: str, service: str, source: str, origin: str) -> None:
        """``source`` may open a flow to ``host:service``: fire exploits and logins."""
        tag = (host, service, origin)
        if not self.exhaustive and self.reach_count[tag] >= self.alternatives:
            return
        self.reach_count[tag] += 1
        self.reachers[(host, service)].append((source, origin))
        shape = self.m.shapes.get(host, _NOTHING)
        vulns = shape.remote.get(service)
        if vulns:
            flow = (source, host, service)
            for v in vulns:
                template = ("exploit", host, service, v.id)
                if self.spent(template, origin):
                    continue
                step = Step(
                    key=("exploit", source, host, service, v.id),
                    kind="exploit",
                    technique=self._technique_in(origin, "T1190", "T1210"),
                    source=source,
                    target=host,
                    service=service,
                    reason=f"vulnerability {v.id} on {host}:{service} gives {v.gives}",
                    pre=(self._stand(source),),
                    post=_gives(host, service, v.gives, origin),
                    host=host,
                    flow=flow,
                )
                self.fire_counted(template, origin, step)
        logins = shape.logins.get(service)
        if logins:
            cost = self.sol.cost
            mfa = self.p.mfa
            for lg in logins:
                if ("cred", lg.credential) not in cost or lg.credential in mfa:
                    continue
                self._login_once(source, origin, host, lg)

    def _login_once(self, source: str, origin: str, host: str, lg: Login) -> None:
        """Fire the login of ``source`` to ``host`` with ``lg``, unless enough fired."""
        template = ("login", host, lg.service, lg.credential, lg.gives)
        if not self.spent(template, origin):
            self.fire_counted(template, origin, self._login(source, origin, host, lg))

    def _stand(self, source: str) -> Fact:
        if source in self.topo.external_zones:
            return ("zone", source)
        return ("priv", source, "user")

    def _login(self, source: str, origin: str, host: str, lg: Login) -> Step:
        outside = origin != INSIDE
        return Step(
            key=("login", source, host, lg.service, lg.credential, lg.gives),
            kind="login",
            technique="T1078" if outside or lg.gives == "service" else "T1021",
            source=source,
            target=host,
            service=lg.service,
            reason=f"credential {lg.credential} accepted by {host}:{lg.service} as {lg.gives}",
            pre=(self._stand(source), ("cred", lg.credential)),
            post=_gives(host, lg.service, lg.gives, origin),
            host=host,
            flow=(source, host, lg.service),
            credential=lg.credential,
        )

    def expand_source(self, source: str, origin: str) -> None:
        """A new attacker position: hand every target it can reach to :meth:`on_reach`."""
        p = self.p
        is_host = origin == INSIDE
        class_key: object = p.source_class(source) if is_host else source
        first_of_class = class_key not in self.classes_done
        if first_of_class or self.exhaustive:
            self.classes_done.add(class_key)
            mask = p.reach(source)
            tg = p.targets
            new = mask if self.exhaustive else mask & ~self.reached_mask[origin]
            self.reached_mask[origin] |= mask
            groups = tg.members if self.exhaustive else tg.representatives
            for gi in iter_bits(new):
                svc = tg.keys[gi][1]
                for h in groups[gi]:
                    self.on_reach(h, svc, source, origin)
        if is_host:
            for svc in self.m.shapes.get(source, _NOTHING).own:
                self.on_reach(source, svc, source, origin)

    def add_exfil_source(self, host: str) -> None:
        """A host with code execution: can it send data out through egress (rule 8)?"""
        ck = self.p.source_class(host)
        if ck in self.exfil_classes and not self.exhaustive:
            return
        self.exfil_classes.add(ck)
        options = [
            (dest, svc)
            for dest, svc in self.m.exfil_destinations
            if self.p.egress_class(host, dest, svc).allowed
        ]
        if not options:
            return
        self.exfil_sources.append((host, options))
        for d in list(self.exfil_pending):
            self.try_exfil(d, [(host, options)])

    def try_exfil(self, data_id: str, sources: Iterable[tuple[str, list[tuple[str, str]]]]) -> None:
        if not self.exhaustive and self.exfil_done[data_id] >= self.alternatives:
            return
        dests = self.topo.destinations
        for host, options in sources:
            for dest, svc in options:
                role = dests[dest].role
                step = Step(
                    key=("exfiltrate", data_id, host, dest, svc),
                    kind="exfiltrate",
                    technique="T1041" if role == "c2" else "T1567",
                    source=host,
                    target=dest,
                    service=svc,
                    reason=f"egress {host} -> {dests[dest].fqdn} ({role}) on {svc}",
                    pre=(("data", data_id), ("priv", host, "user")),
                    post=(("exfil", data_id),),
                    host=host,
                    egress=(host, dest, svc),
                )
                if self.fire(step) and not self.exhaustive:
                    self.exfil_done[data_id] += 1
                    if self.exfil_done[data_id] >= self.alternatives:
                        del self.exfil_pending[data_id]
                        return

    def collect(self, d: DataItem, host: str, pre: Fact, origin: str | None) -> None:
        via_session = origin is not None
        self.fire(
            Step(
                key=("collect", d.id, "session", origin) if origin else ("collect", d.id, "exec"),
                kind="collect",
                technique="T1213" if via_session else "T1005",
                source=host,
                target=d.id,
                service=d.service if via_session else None,
                reason=(
                    f"{d.id} is served by {host}:{d.service}"
                    if via_session
                    else f"{d.id} is stored on {host} (requires {d.requires})"
                ),
                pre=(pre,),
                post=(("data", d.id),),
                host=host,
            )
        )

    def exfil_direct(self, d: DataItem, session: Fact) -> None:
        _, host, svc, zone = session
        self.fire(
            Step(
                key=("exfiltrate-direct", d.id, zone),
                kind="exfiltrate-direct",
                technique="T1041",
                source=host,
                target=zone,
                service=svc,
                reason=f"session to {host}:{svc} opened from {zone} carries {d.id} out",
                pre=(session, ("data", d.id)),
                post=(("exfil", d.id),),
                host=host,
            )
        )

    # ------------------------------------------------------------------ handlers

    def enter(self) -> None:
        for ep in self.m.entry_points:
            post: list[Fact] = []
            if ep.zone is not None:
                post.append(("zone", ep.zone))
                technique, host, where = ep.technique, None, f"zone {ep.zone}"
            else:
                assert ep.host is not None
                post.extend(_gives(ep.host, "", ep.level, INSIDE))
                technique, host, where = (
                    ep.technique or "T1566",
                    ep.host,
                    f"{ep.level} on {ep.host}",
                )
            post.extend(("cred", c) for c in ep.credentials)
            creds = f" holding {', '.join(ep.credentials)}" if ep.credentials else ""
            self.fire(
                Step(
                    key=("enter", ep.id),
                    kind="enter",
                    technique=technique,
                    source=None,
                    target=ep.host or ep.zone,
                    service=None,
                    reason=f"entry point {ep.id}: {where}{creds}",
                    pre=(),
                    post=tuple(post),
                    host=host or ep.zone,
                )
            )

    def on_fact(self, f: Fact) -> None:
        kind = f[0]
        if kind == "zone":
            self.expand_source(f[1], f[1])
        elif kind == "priv":
            self.on_priv(f[1], f[2])
        elif kind == "session":
            self.on_session(f)
        elif kind == "cred":
            self.on_cred(f[1])
        elif kind == "data":
            self.on_data(f[1])

    def on_priv(self, host: str, level: str) -> None:
        fact: Fact = ("priv", host, level)
        shape = self.m.shapes.get(host, _NOTHING)
        if level == "user":
            self.expand_source(host, INSIDE)
            self.add_exfil_source(host)
            for v in shape.local:
                self.fire(
                    Step(
                        key=("escalate", host, v.id),
                        kind="escalate",
                        technique="T1068",
                        source=host,
                        target=host,
                        service=None,
                        reason=f"local vulnerability {v.id} on {host} gives root",
                        pre=(fact,),
                        post=(("priv", host, "root"),),
                        host=host,
                    )
                )
        for cred, requires in shape.stores:
            if requires == level:
                self.fire(
                    Step(
                        key=("steal", host, cred),
                        kind="steal",
                        technique="T1552" if requires == "user" else "T1003",
                        source=host,
                        target=cred,
                        service=None,
                        reason=f"{cred} is stored on {host} (readable as {requires})",
                        pre=(fact,),
                        post=(("cred", cred),),
                        host=host,
                        credential=cred,
                    )
                )
        for d in self.m.data_on.get(host, ()):
            need = "user" if d.requires in ("service", "user") else "root"
            if need == level:
                self.collect(d, host, fact, None)
        if level == "root":
            zone = self.topo.hosts[host].zone
            traffic = self.topo.model.traffic
            for i, cred, ends in self.sniff_by_zone.get(zone, ()):
                if host in ends:
                    continue
                # Like exploits and logins, a flow is sniffed by its first few root
                # holders only (they finalise cheapest first): every later sniffer
                # gives the same credential, and a busy zone has thousands of them.
                template = ("sniff", str(i))
                if self.spent(template, INSIDE):
                    continue
                t = traffic[i]
                self.fire_counted(
                    template,
                    INSIDE,
                    Step(
                        key=("sniff", host, str(i)),
                        kind="sniff",
                        technique="T1557",
                        source=host,
                        target=cred,
                        service=t.service,
                        reason=f"traffic {t.source} -> {t.to} {t.service} carries {cred} in clear",
                        pre=(fact,),
                        post=(("cred", cred),),
                        host=host,
                        credential=cred,
                        traffic=i,
                    ),
                )

    def on_session(self, f: Fact) -> None:
        _, host, svc, origin = f
        for d in self.m.data_by_service.get((host, svc), ()):
            self.collect(d, host, f, origin)
            if origin != INSIDE:
                self.ext_sessions[d.id].append(f)
                if ("data", d.id) in self.sol.cost:
                    self.exfil_direct(d, f)

    def on_cred(self, cred: str) -> None:
        if cred in self.p.mfa:
            return
        reachers = self.reachers
        for h, lg in self.m.logins_by_cred.get(cred, ()):
            found = reachers.get((h.id, lg.service))
            if found:
                for source, origin in list(found):
                    self._login_once(source, origin, h.id, lg)

    def on_data(self, data_id: str) -> None:
        self.exfil_pending[data_id] = None
        host = self.m.data_host[data_id]
        d = next(x for x in host.data if x.id == data_id)
        if d.integrity:
            self.fire(
                Step(
                    key=("tamper", data_id),
                    kind="tamper",
                    technique="T1565.001",
                    source=host.id,
                    target=data_id,
                    service=None,
                    reason=f"{data_id} has integrity: true and the attacker can reach it",
                    pre=(("data", data_id),),
                    post=(("tamper", data_id),),
                    host=host.id,
                )
            )
        for session in self.ext_sessions.get(data_id, ()):
            self.exfil_direct(d, session)
        self.try_exfil(data_id, list(self.exfil_sources))

    # ------------------------------------------------------------------ main loop

    def run(self, stop_at: Fact | None) -> Solution:
        sol = self.sol
        cost, order, best = sol.cost, sol.order, sol.best
        self.enter()
        heap = self.heap
        while heap:
            c, _, f, step = heapq.heappop(heap)
            if f in cost:
                continue
            cost[f] = c
            order[f] = len(order)
            best[f] = step
            if f == stop_at:
                sol.complete = False
                break
            self.on_fact(f)
        return sol


def solve(
    model: AttackModel,
    policy: CompiledPolicy,
    *,
    banned: Iterable[tuple[str, ...]] = (),
    stop_at: Fact | None = None,
    exhaustive: bool = False,
    alternatives: int = 1,
) -> Solution:
    """Run the attack fixpoint under one compiled policy.

    Parameters
    ----------
    model
        The topology's indices (:class:`AttackModel`).
    policy
        The policy, compiled by :meth:`AttackModel.compile`.
    banned
        Step keys the attacker may not use (what-if analyses).  A solve with bans
        fires every step instance, as ``exhaustive`` does, so it stays exact.
    stop_at
        Stop as soon as this fact is finalised (its cost and derivation are then
        final); the solution is marked incomplete.
    exhaustive
        Fire every step instance rather than the cheapest per target and origin:
        a full attack graph, quadratic in the hosts; for export of small topologies.
    alternatives
        Fire up to this many instances per target and origin (and exfiltrations per
        data item, sniffs per traffic flow) instead of one, so that
        :func:`ztsim.engine.plans.k_plans` finds alternative derivations without solving
        again.

    Returns
    -------
    Solution
        Every derived fact with its cost and cheapest derivation.

    Examples
    --------
    >>> from ztsim.inputs.loader import load_topology, reference_policy
    >>> topo = load_topology("topologies/pajemploi.yaml")  # doctest: +SKIP
    >>> model = AttackModel(topo)  # doctest: +SKIP
    >>> sol = solve(model, model.compile(reference_policy()))  # doctest: +SKIP
    >>> sol.reachable(("exfil", "payroll-records"))  # doctest: +SKIP
    True
    """
    with phase("fixpoint"):
        solver = _Solver(model, policy, frozenset(banned), exhaustive, max(1, alternatives))
        return solver.run(stop_at)
