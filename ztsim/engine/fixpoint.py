"""The attack fixpoint: what an attacker can reach under one policy (spec §5).

Facts only grow.  The engine is a worklist over facts in the style of MulVAL,
ordered like Knuth's generalisation of Dijkstra's algorithm: a fact is *finalised*
when it leaves the priority queue, and a step fires as soon as all its
preconditions are finalised, offering its outputs at cost ``1 + sum(cost of
preconditions)``.  Reachability is the plain fixpoint (every fact that can be
derived is); the ordering only makes the first derivation recorded for each fact
its cheapest one, so plans can be explained and extracted without enumerating
paths.

The facts and the steps (one constructor per row of spec §5) are in
:mod:`ztsim.engine.steps`; this module decides when each step fires: the
handler of each kind of fact (``on_priv``, ``on_session``...) offers the steps
that fact completes.

Scale: a source position is expanded once per equivalence class of hosts (see
:meth:`ztsim.engine.compiled.CompiledPolicy.reach`), and a target (host, service) is handed
to the rules for each kind of origin once, with its cheapest source.  Set
``exhaustive=True`` to fire every step instance instead (a full attack graph, for
small topologies).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable

from ztsim.engine.attack import NO_SHAPE, AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.steps import (
    INSIDE,
    Fact,
    Solution,
    Standing,
    Step,
    StepKey,
    collect_on_host_step,
    collect_through_session_step,
    enter_step,
    escalate_step,
    exfiltrate_directly_step,
    exfiltrate_step,
    exploit_step,
    goal_facts,
    login_step,
    sniff_step,
    steal_step,
    tamper_step,
)
from ztsim.engine.targets import iter_bits
from ztsim.model.schema import Login
from ztsim.perf.profiling import phase

__all__ = [
    "Solution",
    "goal_facts",
    "solve",
]


#: A flow whose credential can be sniffed: its index in the traffic list, the
#: credential, the hosts at its ends, and its step template with the origin
#: (:meth:`_Solver.spent`).
_Sniffable = tuple[int, str, frozenset[str], tuple[tuple[str, ...], str]]


class _Solver:
    """One run of the fixpoint (see :func:`solve`)."""

    def __init__(
        self,
        model: AttackModel,
        policy: CompiledPolicy,
        banned: frozenset[StepKey],
        exhaustive: bool,
        alternatives: int = 1,
    ) -> None:
        self.model = model
        self.policy = policy
        self.topo = model.topology
        self.banned = banned
        # With bans, hosts of one class and the first source of a target are no
        # longer interchangeable: fire every instance so no alternative is missed.
        self.exhaustive = exhaustive or bool(banned)
        self.sol = Solution(model, policy)
        # The facts offered, by cost: a bucket queue (Dial's), since every step
        # fired costs more than the fact being finalised (one plus the costs of its
        # preconditions, that fact among them), so costs are finalised in increasing
        # order and each bucket in the order offered: the order of a heap keyed by
        # (cost, order offered), without its logarithmic pushes and pops.
        self.buckets: dict[int, list[tuple[Fact, Step]]] = {}
        #: The costs of the buckets not yet finalised (a heap of distinct costs).
        self.costs: list[int] = []
        self.alternatives = alternatives
        # Whether reachers, exploits and logins are counted per target and origin: a
        # target is handed to on_reach at most twice per origin (as a representative
        # of its group when the origin first reaches it, as a host's own service), so
        # with two alternatives or more no count would ever refuse a step.
        self.counted = not self.exhaustive and alternatives == 1
        #: How many exfiltration channels are enough (see :meth:`add_exfil_source`).
        self.exfil_enough = float("inf") if self.exhaustive else alternatives
        self.done: dict[tuple[tuple[str, ...], str], int] = defaultdict(int)
        self.reach_count: dict[tuple[str, str, str], int] = {}
        self.reachers: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        self.reached_mask: dict[str, int] = defaultdict(int)
        self.classes_done: set[object] = set()
        self.exfil_sources: list[tuple[str, list[tuple[str, str]]]] = []
        self.exfil_classes: set[object] = set()
        #: How many channels the sources found offer in all (see :meth:`add_exfil_source`).
        self.exfil_channels = 0
        self.exfil_done: dict[str, int] = defaultdict(int)
        # Data items held that may still gain an exfiltration step, in the order they
        # were collected (all of them when exhaustive): a new egress source offers
        # itself to these only, not to every item held (quadratic on 100,000 hosts).
        self.exfil_pending: dict[str, None] = {}
        self.ext_sessions: dict[str, list[Fact]] = defaultdict(list)
        self.sniff_by_zone = self._sniffable()

    # ------------------------------------------------------------------ plumbing

    def _sniffable(self) -> dict[str, list[_Sniffable]]:
        """Traffic flows whose credential can be sniffed under this policy (rule 6),
        by the zone of each of their ends."""
        out: dict[str, list[_Sniffable]] = defaultdict(list)
        if self.policy.encrypt_in_transit:
            return out
        hosts = self.topo.hosts
        for i, t in enumerate(self.topo.model.traffic):
            if t.credential is None:
                continue
            if t.to in hosts:
                offer = hosts[t.to].offer(t.service)
                if offer is not None and offer.encrypted:
                    continue
            if not self.policy.traffic(t.source, t.to, t.service).allowed:
                continue
            ends = frozenset(x for x in (t.source, t.to) if x in hosts)
            for zone in sorted({hosts[x].zone for x in ends}):
                out[zone].append((i, t.credential, ends, (("sniff", str(i)), INSIDE)))
        return out

    def fire(self, step: Step) -> bool:
        """Offer a step's outputs, unless it is banned.  Returns whether it fired."""
        key = step.key  # a tuple: hashed anew at each look-up, so looked up once
        if self.banned and key in self.banned:
            return False
        cost = self.sol.cost
        c = 1
        for f in step.pre:  # at most two preconditions: a loop beats sum() here
            c += cost[f]
        self.sol.fired.setdefault(key, step)
        for f in step.post:
            if f not in cost:
                bucket = self.buckets.get(c)
                if bucket is None:
                    bucket = self.buckets[c] = []
                    heapq.heappush(self.costs, c)
                bucket.append((f, step))
        return True

    def spent(self, slot: tuple[tuple[str, ...], str]) -> bool:
        """Whether enough instances of a step template fired for an origin (``slot``:
        the two as a pair; never when exhaustive).  Asked before a step is built:
        most offers are refused."""
        return not self.exhaustive and self.done[slot] >= self.alternatives

    def fire_counted(self, slot: tuple[tuple[str, ...], str], step: Step) -> None:
        """Fire ``step``, an instance of ``slot``'s template that :meth:`spent` let through."""
        if self.fire(step):
            self.done[slot] += 1

    # ------------------------------------------------------------------ positions

    def _stand(self, source: str) -> Standing:
        """The fact of standing on ``source``: an external zone, or user on a host."""
        if source in self.topo.external_zones:
            return ("zone", source)
        return ("priv", source, "user")

    def expand_source(self, source: str, origin: str, class_key: object = None) -> None:
        """A new attacker position (of source class ``class_key``, for a host, when
        known): hand every target it can reach to :meth:`on_reach`."""
        policy = self.policy
        is_host = origin == INSIDE
        if not is_host:
            class_key = source
        elif class_key is None:
            class_key = policy.source_class(source)
        stand = self._stand(source)  # the same for every target: built once
        on_reach = self.on_reach
        if class_key not in self.classes_done or self.exhaustive:
            self.classes_done.add(class_key)
            mask = policy.reach(source)
            tg = policy.targets
            new = mask if self.exhaustive else mask & ~self.reached_mask[origin]
            self.reached_mask[origin] |= mask
            groups = tg.members if self.exhaustive else tg.representatives
            keys = tg.keys
            for gi in iter_bits(new):
                svc = keys[gi][1]
                for h in groups[gi]:
                    on_reach(h, svc, source, origin, stand)
        if is_host:
            for svc in self.model.shapes.get(source, NO_SHAPE).own:
                on_reach(source, svc, source, origin, stand)

    def add_exfil_source(self, host: str, ck: object) -> None:
        """A host with code execution (of source class ``ck``): can it send data out
        through egress (rule 8)?

        Unless exhaustive, only until the sources offer ``alternatives`` channels
        in all: every item pending then has that many exfiltrations, and every item
        collected later finds them among the first sources, so none later is read.
        """
        if self.exfil_channels >= self.exfil_enough:
            return
        if ck in self.exfil_classes and not self.exhaustive:
            return
        self.exfil_classes.add(ck)
        options = [
            (dest, svc)
            for dest, svc in self.model.exfil_destinations
            if self.policy.egress_allowed(host, dest, svc)
        ]
        if not options:
            return
        self.exfil_channels += len(options)
        self.exfil_sources.append((host, options))
        for d in list(self.exfil_pending):
            self.try_exfil(d, [(host, options)])

    # ------------------------------------------------------------------ steps

    def on_reach(self, host: str, service: str, source: str, origin: str, stand: Standing) -> None:
        """``source`` (standing on ``stand``) may open a flow to ``host:service``: fire
        exploits and logins (rows 2 and 3)."""
        counted = self.counted
        if counted:  # the first few reachers of a target only
            tag = (host, service, origin)
            n = self.reach_count.get(tag, 0)
            if n >= self.alternatives:
                return
            self.reach_count[tag] = n + 1
        shape = self.model.shapes.get(host, NO_SHAPE)
        vulns = shape.remote.get(service)
        if vulns:
            for v in vulns:
                if counted:
                    slot = (("exploit", host, service, v.id), origin)
                    if not self.spent(slot):
                        self.fire_counted(
                            slot, exploit_step(source, stand, host, service, v, origin)
                        )
                else:
                    self.fire(exploit_step(source, stand, host, service, v, origin))
        logins = shape.logins.get(service)
        if logins:
            cost = self.sol.cost
            mfa = self.policy.mfa
            waits = False  # a login still waiting for its credential: on_cred reads
            for lg in logins:
                cred = lg.credential
                if cred in mfa:
                    continue
                if ("cred", cred) in cost:
                    self._login_once(source, origin, host, lg, stand)
                else:
                    waits = True
            if waits:  # the reachers, all listed by then (a credential is finalised once)
                self.reachers[(host, service)].append((source, origin))

    def _login_once(
        self, source: str, origin: str, host: str, lg: Login, stand: Standing | None = None
    ) -> None:
        """Fire the login of ``source`` to ``host`` with ``lg``, unless counted and enough fired."""
        if stand is None:
            stand = self._stand(source)
        if not self.counted:
            self.fire(login_step(source, stand, host, lg, origin))
            return
        slot = (("login", host, lg.service, lg.credential, lg.gives), origin)
        if not self.spent(slot):
            self.fire_counted(slot, login_step(source, stand, host, lg, origin))

    def try_exfil(self, data_id: str, sources: Iterable[tuple[str, list[tuple[str, str]]]]) -> None:
        """Send ``data_id`` out from each of ``sources`` through their channels (row 8),
        until enough exfiltrations of it fired."""
        if not self.exhaustive and self.exfil_done[data_id] >= self.alternatives:
            return
        dests = self.topo.destinations
        for host, options in sources:
            for dest, svc in options:
                step = exfiltrate_step(data_id, host, dests[dest], svc)
                if self.fire(step) and not self.exhaustive:
                    self.exfil_done[data_id] += 1
                    if self.exfil_done[data_id] >= self.alternatives:
                        del self.exfil_pending[data_id]
                        return

    def sniff(self, host: str) -> None:
        """Root on ``host``: sniff the credentials of the flows its zone carries (row 6)."""
        zone = self.topo.hosts[host].zone
        flows = self.sniff_by_zone.get(zone)
        if not flows:
            return
        traffic = self.topo.model.traffic
        kept: list[_Sniffable] = []
        for flow in flows:
            i, cred, ends, slot = flow
            if host in ends:
                kept.append(flow)
                continue
            # Like exploits and logins, a flow is sniffed by its first few root
            # holders only (they finalise cheapest first): every later sniffer
            # gives the same credential, and a busy zone has thousands of them.
            if self.spent(slot):
                continue
            self.fire_counted(slot, sniff_step(host, i, traffic[i], cred))
            if not self.spent(slot):
                kept.append(flow)
        # A spent flow is never offered again: later root holders of the zone scan
        # only the flows still open (else each scans them all, for every zone).
        self.sniff_by_zone[zone] = kept

    # ------------------------------------------------------------------ handlers

    def enter(self) -> None:
        """Row 1: every entry point."""
        for ep in self.model.entry_points:
            self.fire(enter_step(ep))

    def on_fact(self, f: Fact) -> None:
        """A fact just finalised: offer the steps it completes."""
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
        """``level`` on ``host``: a new position (user), escalation, stolen credentials,
        data collected, and sniffing (root)."""
        shape = self.model.shapes.get(host, NO_SHAPE)
        if level == "user":
            ck = self.policy.source_class(host)  # asked once for both
            self.expand_source(host, INSIDE, ck)
            self.add_exfil_source(host, ck)
            for v in shape.local:
                self.fire(escalate_step(host, v))
        for cred, requires in shape.stores:
            if requires == level:
                self.fire(steal_step(host, cred, requires))
        for d in self.model.data_on.get(host, ()):
            need = "user" if d.requires in ("service", "user") else "root"
            if need == level:
                self.fire(collect_on_host_step(d, host, level))
        if level == "root":
            self.sniff(host)

    def on_session(self, f: Fact) -> None:
        """A session: collect what its service serves (row 7), and carry it out
        when opened from outside (row 9)."""
        _, host, svc, origin = f
        for d in self.model.data_by_service.get((host, svc), ()):
            self.fire(collect_through_session_step(d, f))
            if origin != INSIDE:
                self.ext_sessions[d.id].append(f)
                if ("data", d.id) in self.sol.cost:
                    self.fire(exfiltrate_directly_step(d, f))

    def on_cred(self, cred: str) -> None:
        """A credential: log in wherever it is accepted and a flow was reached (row 3)."""
        if cred in self.policy.mfa:
            return
        reachers = self.reachers
        for h, lg in self.model.logins_by_cred.get(cred, ()):
            found = reachers.get((h.id, lg.service))
            if found:
                for source, origin in found:  # a login never lists a reacher
                    self._login_once(source, origin, h.id, lg)

    def on_data(self, data_id: str) -> None:
        """Data collected: tamper (row 10), carry it out through sessions from outside
        (row 9) or through egress (row 8)."""
        self.exfil_pending[data_id] = None
        host = self.model.data_host[data_id]
        d = next(x for x in host.data if x.id == data_id)
        if d.integrity:
            self.fire(tamper_step(data_id, host.id))
        for session in self.ext_sessions.get(data_id, ()):
            self.fire(exfiltrate_directly_step(d, session))
        # Not a copy: firing never adds a source, and the first one that fires is
        # enough unless exhaustive (a copy per item is quadratic on large estates).
        self.try_exfil(data_id, self.exfil_sources)

    # ------------------------------------------------------------------ main loop

    def run(self, stop_at: Fact | None) -> Solution:
        """Finalise facts cheapest first until none is left (or ``stop_at`` is)."""
        sol = self.sol
        cost, order, best = sol.cost, sol.order, sol.best
        self.enter()
        costs, buckets = self.costs, self.buckets
        while costs:
            c = heapq.heappop(costs)
            # A for loop over a list sees what is appended to it meanwhile (nothing
            # is: steps fired now cost more than c).
            for f, step in buckets.pop(c):
                if f in cost:
                    continue
                cost[f] = c
                order[f] = len(order)
                best[f] = step
                if f == stop_at:
                    sol.complete = False
                    return sol
                self.on_fact(f)
        return sol


def solve(
    model: AttackModel,
    policy: CompiledPolicy,
    *,
    banned: Iterable[StepKey] = (),
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
    >>> from ztsim.inputs.loaded import reference_policy
    >>> from ztsim.inputs.loader import load_topology
    >>> topo = load_topology("topologies/pajemploi.yaml")  # doctest: +SKIP
    >>> model = AttackModel(topo)  # doctest: +SKIP
    >>> sol = solve(model, model.compile(reference_policy()))  # doctest: +SKIP
    >>> sol.reachable(("exfil", "payroll-records"))  # doctest: +SKIP
    True
    """
    with phase("fixpoint"):
        solver = _Solver(model, policy, frozenset(banned), exhaustive, max(1, alternatives))
        return solver.run(stop_at)
