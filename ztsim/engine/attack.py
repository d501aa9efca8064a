"""The attacker's view of a topology, shared by the solves of every policy.

:class:`AttackModel` indexes what each host offers an attacker (its remote and
local vulnerabilities, logins and stored credentials, the data it holds) and
buckets the attack targets once for every policy compiled against it.  What a
host's lists give is worked out once per combination of lists, as a
:class:`HostShape`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from functools import cached_property
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.targets import TargetLayout, TargetsByGroup, layout_of
from ztsim.inputs.loaded import LabelGroup, LoadedPolicy, LoadedTopology
from ztsim.model.schema import DataItem, Host, Login, Vulnerability
from ztsim.perf.profiling import phase

__all__ = [
    "NO_SHAPE",
    "AttackModel",
    "HostShape",
]

#: What of a service, a stored credential sets a host apart (C-level getters: these
#: run for every host).
_SERVICE_SIG = attrgetter("service", "public", "encrypted")
_STORE_SIG = attrgetter("credential", "requires")
_new = tuple.__new__


def _canonical(items: list[tuple[Any, ...]]) -> tuple[tuple[Any, ...], ...]:
    """``items`` as a sorted tuple (most lists here have zero or one element)."""
    if len(items) > 1:
        items.sort()
    return tuple(items)


class HostShape(NamedTuple):
    """What a host's lists give the model's indices: the same for every host that
    lists the very same lists (see :meth:`AttackModel._index`)."""

    #: Remote vulnerabilities by service, services in first-listed order.
    remote: dict[str, tuple[Vulnerability, ...]]
    local: tuple[Vulnerability, ...]
    #: Logins by service, services in first-listed order.
    logins: dict[str, tuple[Login, ...]]
    #: (credential, requires) of each stored credential, in order.
    stores: tuple[tuple[str, str], ...]
    #: The host's attack target services (a remote vulnerability or a login), sorted.
    own: tuple[str, ...]
    #: Those the host offers, with whether it offers them publicly (its first listing).
    offers: tuple[tuple[str, bool], ...]


class _Shapes:
    """The :class:`HostShape` of hosts' lists, each list's part worked out once.

    Hosts list the very same lists (:class:`~ztsim.model.fields.SharedList`) in many
    combinations (benchmark L: 7,000 combinations of a few hundred lists), so
    each part is derived per list, found by the identity that
    :func:`~ztsim.model.schema.lists_key` gives.  A target's signature is worked
    out only when asked (:meth:`signature`): hosts kept apart (data, traffic, entry
    points) never need one, and on a heterogeneous estate they are most targets.
    """

    def __init__(self) -> None:
        self._vulns: dict[int, tuple[Any, ...]] = {}
        self._logins: dict[int, dict[str, tuple[Login, ...]]] = {}
        self._stores: dict[int, tuple[tuple[str, str], ...]] = {}
        #: Canonical parts of signatures, per list (services, vulnerabilities,
        #: logins, stored credentials), and the signatures, per lists key.
        self._parts: tuple[dict[int, tuple[Any, ...]], ...] = ({}, {}, {}, {})
        self._signatures: dict[tuple[int, int, int, int], Hashable] = {}

    def of(self, h: Host, key: tuple[int, int, int, int]) -> HostShape:
        """The shape of ``h``, whose :func:`~ztsim.model.schema.lists_key` is ``key``."""
        _, k_vulns, k_stores, k_logins = key
        vulns = self._vulns.get(k_vulns)
        if vulns is None:
            vulns = self._vulns[k_vulns] = _vulns_part(h.vulnerabilities)
        by_service = self._logins.get(k_logins)
        if by_service is None:
            by_service = self._logins[k_logins] = _logins_part(h.logins)
        stores = self._stores.get(k_stores)
        if stores is None:
            stores = self._stores[k_stores] = tuple(map(_STORE_SIG, h.credentials))
        remote, local = vulns
        own: tuple[str, ...] = ()
        offers: list[tuple[str, bool]] = []
        if remote or by_service:
            if remote and by_service:
                own = tuple(sorted({*remote, *by_service}))
            else:
                one = remote or by_service
                own = tuple(one) if len(one) == 1 else tuple(sorted(one))
            for svc in own:
                offer = h.offer(svc)
                if offer is not None:
                    offers.append((svc, offer.public))
        elif not (local or stores):
            return NO_SHAPE
        # tuple.__new__ skips the named tuple's Python-level __new__ (a shape per host).
        return _new(HostShape, (remote, local, by_service, stores, own, tuple(offers)))

    def signature(self, h: Host, key: tuple[int, int, int, int]) -> Hashable:
        """What tells target ``h`` (lists key ``key``) from other hosts besides the
        policy: its services, vulnerabilities, logins and stored credentials, each a
        sorted tuple."""
        sig = self._signatures.get(key)
        if sig is None:
            k_services, k_vulns, k_stores, k_logins = key
            services, vulns, logins, stores = self._parts
            sig = self._signatures[key] = (
                _part(services, k_services, h.services, _SERVICE_SIG),
                _part(vulns, k_vulns, h.vulnerabilities, _vuln_sig),
                _part(logins, k_logins, h.logins, _LOGIN_SIG),
                _part(stores, k_stores, h.credentials, _STORE_SIG),
            )
        return sig


#: The shape of a host whose lists give the solver nothing (no vulnerability, login
#: or stored credential): such hosts are not in :attr:`AttackModel.shapes`.
NO_SHAPE = HostShape({}, (), {}, (), (), ())


def _vulns_part(vulns: list[Vulnerability]) -> tuple[Any, ...]:
    """``(remote by service, local)`` of a vulnerabilities list."""
    if len(vulns) == 1:  # most lists (no loop, no comprehension)
        v = vulns[0]
        return ({}, (v,)) if v.local else ({v.service: (v,)}, ())
    remote: dict[str, list[Vulnerability]] = {}
    local: list[Vulnerability] = []
    for v in vulns:
        if v.local:
            local.append(v)
        else:
            assert v.service is not None
            remote.setdefault(v.service, []).append(v)
    return {svc: tuple(vs) for svc, vs in remote.items()}, tuple(local)


def _logins_part(logins: list[Login]) -> dict[str, tuple[Login, ...]]:
    """The logins of a list by service."""
    if len(logins) == 1:  # most lists (no loop, no comprehension)
        return {logins[0].service: (logins[0],)}
    by_service: dict[str, list[Login]] = {}
    for lg in logins:
        by_service.setdefault(lg.service, []).append(lg)
    return {svc: tuple(ls) for svc, ls in by_service.items()}


def _vuln_sig(v: Vulnerability) -> tuple[Any, ...]:
    return (v.service or "", v.local, v.gives)


#: What of a login sets a host apart.
_LOGIN_SIG = attrgetter("credential", "service", "gives")


def _part(
    memo: dict[int, tuple[Any, ...]], k: int, items: Sequence[Any], getter: Callable[[Any], Any]
) -> tuple[Any, ...]:
    """The canonical (sorted) signature part of the list ``items``, whose identity is ``k``."""
    got = memo.get(k)
    if got is None:
        got = memo[k] = _canonical(list(map(getter, items)))
    return got


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
        stored credentials; its signature when a layout asks for it) is worked out
        once per combination of lists (:func:`~ztsim.model.schema.lists_key`: hosts of
        a large estate share them, see :mod:`ztsim.perf.dedupe`) as a
        :class:`HostShape`, and each host is indexed by
        its shape alone: on L, one entry per host instead of five or six.
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
        #: Per host with anything in its lists, their :class:`HostShape`.
        self.shapes: dict[str, HostShape] = {}
        #: Per host, its (zone, label pairs), shared by equal hosts (class keys).
        self.groups: dict[str, LabelGroup] = topology.label_groups
        logins_by_cred, shape_by_host = self.logins_by_cred, self.shapes
        shapes: dict[tuple[int, int, int, int], HostShape] = {}
        self._shapes = _Shapes()
        shape_of = self._shapes.of
        # Target hosts that offer a target service, with their lists key and shape: the
        # layout's input.
        self._offering: list[tuple[str, Host, tuple[int, int, int, int], HostShape]] = []
        offering = self._offering.append
        for h, key in zip(m.hosts, topology.lists_keys, strict=True):
            shape = shapes.get(key)
            if shape is None:
                shape = shapes[key] = shape_of(h, key)
            if shape is NO_SHAPE:
                if not h.data:
                    continue
            else:
                shape_by_host[h.id] = shape
                if shape.logins:
                    for lg in h.logins:
                        logins_by_cred[lg.credential].append((h, lg))
                if shape.offers:
                    offering((h.id, h, key, shape))
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
        apart, signature = self.apart, self._shapes.signature
        out: dict[str, Hashable] = {}
        for h, key in zip(self.topology.model.hosts, self.topology.lists_keys, strict=True):
            hid = h.id
            if hid in apart:
                out[hid] = None
            else:
                sh = self.shapes.get(hid)
                if sh is not None and sh.own:
                    out[hid] = signature(h, key)
        return out

    @cached_property
    def targets(self) -> tuple[tuple[str, str], ...]:
        """Every (host, service) with a remote vulnerability or a login, sorted."""
        return tuple(sorted((h, svc) for h, sh in self.shapes.items() for svc in sh.own))

    @cached_property
    def layout(self) -> TargetLayout:
        """This model's targets bucketed once for every policy.

        :func:`~ztsim.engine.targets.target_layout` of the model's targets, groups and
        signatures (but for the numbers of signatures, which compilations do not
        depend on), worked out per target
        host from its shape (the services it offers as targets, its signature)
        rather than per target: on L, 41,000 hosts instead of 46,000 targets, one
        signature hashed per shape, no offer looked up per target.
        """
        groups, apart, signature = self.groups, self.apart, self._shapes.signature
        per_group: TargetsByGroup = {}
        numbers: dict[Hashable, int] = {}
        by_shape: dict[int, int] = {}  # id of a shape -> its signature's number
        loners: list[str] = []
        # Host by host in order of id, each host's services in order: every bucket and
        # twin list fills in order, as layout_of takes them.
        for hid, h, key, shape in sorted(self._offering, key=itemgetter(0)):
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
            if hid in apart:
                loners.append(hid)
                continue
            n = by_shape.get(id(shape))
            if n is None:
                sig = signature(h, key)
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
