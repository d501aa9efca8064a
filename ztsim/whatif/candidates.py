"""The candidate changes that could forbid an attack step, for ``ztsim harden``.

:class:`Context` holds the scenario (topology, current policy, which legitimate
flows it allows today) and builds, for a step, every :class:`~ztsim.whatif.changes.Change`
that may forbid it: a deny of that exact flow, the destination service restricted to
its legitimate clients, ``intra_zone: rules`` when same-zone flows skip the rules,
MFA on the login's credential, encryption against a sniff, and egress denies or an
allowlist against an exfiltration.  Each change's real effect is measured by
compiling the changed policy (:meth:`Context.compiled_with`), never assumed.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ztsim.engine.attack import AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.decisions import Decision
from ztsim.engine.steps import Fact, Step
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.matching import destination_touched
from ztsim.model.rules import to_pattern
from ztsim.whatif.changes import GROUPS, Change, Rule, apply_changes, slug, step_allowed

__all__ = ["KEEP_COMPILED", "Context", "Unclosable", "why_open"]

#: Compiled policies a :class:`Context` keeps (least recently used dropped first).
KEEP_COMPILED = 8


def _key(changes: Sequence[Change]) -> tuple[tuple[str, ...], ...]:
    """A set of changes as a memo key (their keys, sorted)."""
    return tuple(sorted(c.key for c in changes))


@dataclass
class Context:
    """The scenario being hardened, the candidate changes it offers, and their effects.

    Parameters
    ----------
    model
        The topology's attack model.
    policy
        The current policy.
    keep_traffic
        Build only changes that keep every legitimate flow the policy allows.
    kinds
        The change groups allowed (keys of :data:`GROUPS`).
    """

    model: AttackModel
    policy: LoadedPolicy
    keep_traffic: bool = True
    kinds: frozenset[str] = frozenset(GROUPS)
    _memo: dict[tuple[str, ...], Change] = field(default_factory=dict)
    # Compiled policies are large (megabytes each on 10,000 hosts) and a search builds
    # hundreds: the last few are kept, and the small answers they gave are memoised.
    _compiled: OrderedDict[tuple[Any, ...], CompiledPolicy] = field(default_factory=OrderedDict)
    _verdicts: dict[tuple[Any, ...], bool] = field(default_factory=dict)
    _broken: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.topo: LoadedTopology = self.model.topology
        self.compiled = self.model.compile(self.policy)
        traffic = self.topo.model.traffic
        self.decisions: list[Decision] = [
            self.compiled.traffic(t.source, t.to, t.service) for t in traffic
        ]
        self.legit_flows: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        self.clients: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.legit_egress: list[tuple[str, str, str]] = []
        for i, t in enumerate(traffic):
            if not self.decisions[i].allowed:
                continue  # already broken: nothing to keep, and never re-opened
            if t.to in self.topo.hosts:
                self.legit_flows[(t.source, t.to, t.service)].append(i)
                if t.source not in self.clients[(t.to, t.service)]:
                    self.clients[(t.to, t.service)].append(t.source)
            else:
                self.legit_egress.append((t.source, t.to, t.service))
        self.intra_allow = self.policy.model.segmentation.intra_zone == "allow"

    # ------------------------------------------------------------------ evaluation

    def _kept(self, key: tuple[Any, ...]) -> CompiledPolicy | None:
        known = self._compiled.get(key)
        if known is not None:
            self._compiled.move_to_end(key)
        return known

    def _keep(self, key: tuple[Any, ...], compiled: CompiledPolicy) -> CompiledPolicy:
        self._compiled[key] = compiled
        if len(self._compiled) > KEEP_COMPILED:
            self._compiled.popitem(last=False)
        return compiled

    def compiled_with(
        self, changes: Sequence[Change], previous: CompiledPolicy | None = None
    ) -> CompiledPolicy:
        """The current policy with ``changes`` applied, compiled for the fixpoint.

        ``previous``, a compilation of a superset of ``changes``, lends its target
        groups and the decisions the difference cannot affect (see
        :meth:`ztsim.engine.fixpoint.AttackModel.compile`).  The last :data:`KEEP_COMPILED`
        compilations are kept.
        """
        key = _key(changes)
        known = self._kept(key)
        if known is None:
            pol = apply_changes(self.policy.model, changes)
            loaded = LoadedPolicy(pol, "<hardened>")
            known = self._keep(key, self.model.compile(loaded, previous=previous))
        return known

    def decider_with(self, changes: Sequence[Change]) -> CompiledPolicy:
        """Like :meth:`compiled_with`, for single decisions only (no target grouping)."""
        key = ("decide", *_key(changes))
        known = self._kept(key) or self._kept(key[1:])
        if known is None:
            pol = apply_changes(self.policy.model, changes)
            known = self._keep(key, CompiledPolicy(LoadedPolicy(pol, "<hardened>"), self.topo))
        return known

    def allows(self, step: Step, changes: Sequence[Change]) -> bool:
        """Whether the policy with ``changes`` still lets ``step`` happen (memoised)."""
        what = (
            step.flow,
            step.kind == "login" and step.credential,
            step.kind == "sniff" and step.traffic,
            step.egress,
        )
        key = (_key(changes), what)
        known = self._verdicts.get(key)
        if known is None:
            known = self._verdicts[key] = step_allowed(step, self.decider_with(changes))
        return known

    def breaks(self, changes: Sequence[Change]) -> list[int]:
        """Indices of legitimate flows allowed now and denied once ``changes`` apply."""
        key = _key(changes)
        known = self._broken.get(key)
        if known is None:
            after = self.decider_with(changes)
            known = self._broken[key] = [
                i
                for i, t in enumerate(self.topo.model.traffic)
                if self.decisions[i].allowed
                and not after.traffic(t.source, t.to, t.service).allowed
            ]
        return list(known)

    def is_intra_skipped(self, step: Step) -> bool:
        """Whether the step's flow skips the rules today (``intra_zone: allow``)."""
        return step.flow is not None and self.compiled.flow(*step.flow).reason == "intra_zone"

    # ------------------------------------------------------------------ candidates

    def candidates(self, step: Step) -> list[Change]:
        """Every change that may forbid ``step`` (to be confirmed by evaluation)."""
        out: list[Change] = []
        seg = "segmentation" in self.kinds
        if step.flow is not None:
            s, d, svc = step.flow
            reason = self.compiled.flow(s, d, svc).reason
            if seg and reason not in ("self", "topology"):
                legit = (s, d, svc) in self.legit_flows
                if not legit or not self.keep_traffic:
                    out.append(self.deny_flow(s, d, svc))
                if not legit:
                    out.append(self.restrict(d, svc))
                if reason == "intra_zone":
                    out.append(self.intra_zone_switch())
            if step.kind == "login" and step.credential and "mfa" in self.kinds:
                out.append(self.mfa(step.credential))
        elif step.kind == "sniff":
            if "encryption" in self.kinds:
                out.append(self.encrypt())
            if seg and not self.keep_traffic and step.traffic is not None:
                t = self.topo.model.traffic[step.traffic]
                if t.to in self.topo.hosts:
                    out.append(self.deny_flow(t.source, t.to, t.service))
        elif step.egress is not None and "egress" in self.kinds:
            h, dest, svc = step.egress
            out.append(self.deny_egress(h, dest, svc))
            out.append(self.deny_destination(dest))
            if self.policy.model.egress.default == "allow":
                out.append(self.egress_allowlist())
        return out

    def _memoised(self, change: Change) -> Change:
        return self._memo.setdefault(change.key, change)

    def _source(self, s: str) -> dict[str, Any]:
        return {"zone": s} if s in self.topo.external_zones else {"host": [s]}

    def deny_flow(self, s: str, d: str, svc: str) -> Change:
        """Deny exactly ``s -> d:svc``, first in the list."""
        key = ("deny-flow", d, svc, s)
        if key in self._memo:
            return self._memo[key]
        rule = {
            "id": f"harden-deny-{s}-to-{d}-{slug(svc)}",
            "action": "deny",
            "from": self._source(s),
            "to": {"host": [d]},
            "services": [svc],
            "description": f"ztsim harden: no flow {s} -> {d} {svc}",
        }
        legit = (s, d, svc) in self.legit_flows
        text = f"deny {s} -> {d} {svc}" + (" (breaks this legitimate flow)" if legit else "")
        return self._memoised(Change("deny-flow", key, text, seg_rules=(rule,)))

    def restrict(self, d: str, svc: str) -> Change:
        """Allow ``d:svc`` only from its legitimate clients; deny every other source."""
        key = ("restrict-service", d, svc)
        if key in self._memo:
            return self._memo[key]
        clients = self.clients.get((d, svc), [])
        hosts = [c for c in clients if c in self.topo.hosts]
        zones = [c for c in clients if c not in self.topo.hosts]
        rules: list[Rule] = []
        base = f"harden-{d}-{slug(svc)}"
        if hosts:
            rules.append(
                {
                    "id": f"{base}-clients",
                    "action": "allow",
                    "from": {"host": hosts},
                    "to": {"host": [d]},
                    "services": [svc],
                    "description": f"ztsim harden: the legitimate clients of {d} {svc}",
                }
            )
        for z in zones:
            rules.append(
                {
                    "id": f"{base}-from-{z}",
                    "action": "allow",
                    "from": {"zone": z},
                    "to": {"host": [d]},
                    "services": [svc],
                    "description": f"ztsim harden: legitimate flow {z} -> {d} {svc}",
                }
            )
        rules.append(
            {
                "id": f"{base}-others",
                "action": "deny",
                "to": {"host": [d]},
                "services": [svc],
                "description": f"ztsim harden: nobody else reaches {d} {svc}",
            }
        )
        if clients:
            text = f"restrict {d} {svc} to its legitimate clients ({', '.join(clients)})"
        else:
            text = f"deny every flow to {d} {svc} (no legitimate flow uses it)"
        return self._memoised(Change("restrict-service", key, text, seg_rules=tuple(rules)))

    def intra_zone_switch(self) -> Change:
        """``intra_zone: rules``, with exact allows for today's legitimate same-zone flows."""
        key: tuple[str, ...] = ("intra-zone-rules",)
        if key in self._memo:
            return self._memo[key]
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for (s, d, svc), _ in sorted(self.legit_flows.items()):
            h = self.topo.hosts.get(s)
            if h is not None and h.zone == self.topo.hosts[d].zone and s != d:
                groups[(d, svc)].append(s)
        rules = tuple(
            {
                "id": f"harden-same-zone-{d}-{slug(svc)}",
                "action": "allow",
                "from": {"host": srcs},
                "to": {"host": [d]},
                "services": [svc],
                "description": "ztsim harden: legitimate same-zone flow, now under the rules",
            }
            for (d, svc), srcs in sorted(groups.items())
        )
        n = sum(len(v) for v in groups.values())
        text = (
            "set segmentation.intra_zone: rules (same-zone flows go through the rules), "
            f"keeping the {n} legitimate same-zone flow(s) with explicit allows"
        )
        return self._memoised(
            Change("intra-zone-rules", key, text, seg_rules=rules, intra_zone_rules=True)
        )

    def _egress_allows(self, pattern: str, services: Sequence[str], only: str | None) -> list[Rule]:
        """Exact allows for legitimate egress a deny of ``pattern`` would otherwise catch."""
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        dests = self.topo.destinations
        for h, dest, svc in self.legit_egress:
            if only is not None and h != only:
                continue
            if svc in services and destination_touched(to_pattern(pattern), dests[dest]):
                groups[(dest, svc)].append(h)
        return [
            {
                "id": f"harden-egress-{dest}-{slug(svc)}",
                "action": "allow",
                "from": {"host": sorted(set(hs))},
                "to": [dests[dest].address],
                "services": [svc],
                "description": f"ztsim harden: legitimate egress to {dest}",
            }
            for (dest, svc), hs in sorted(groups.items())
        ]

    def deny_egress(self, h: str, dest: str, svc: str) -> Change:
        """Deny egress from one host to one destination pattern on one service."""
        key = ("deny-egress", h, dest, svc)
        if key in self._memo:
            return self._memo[key]
        pattern = self.topo.destinations[dest].address
        rules = [{**r, "id": f"{r['id']}-{h}"} for r in self._egress_allows(pattern, [svc], only=h)]
        rules.append(
            {
                "id": f"harden-deny-{h}-to-{dest}-{slug(svc)}",
                "action": "deny",
                "from": {"host": [h]},
                "to": [pattern],
                "services": [svc],
                "description": f"ztsim harden: no egress {h} -> {pattern}",
            }
        )
        text = f"deny egress {h} -> {pattern} {svc}"
        return self._memoised(Change("deny-egress", key, text, egress_rules=tuple(rules)))

    def deny_destination(self, dest: str) -> Change:
        """Deny egress from every host to one attacker-usable destination."""
        key = ("deny-destination", dest)
        if key in self._memo:
            return self._memo[key]
        e = self.topo.destinations[dest]
        rules = self._egress_allows(e.address, e.services, only=None)
        rules.append(
            {
                "id": f"harden-deny-to-{dest}",
                "action": "deny",
                "to": [e.address],
                "services": list(e.services),
                "description": f"ztsim harden: no egress to {e.address} ({e.role})",
            }
        )
        text = f"deny egress to {e.address} ({e.role} {dest}) from every host"
        return self._memoised(Change("deny-destination", key, text, egress_rules=tuple(rules)))

    def egress_allowlist(self) -> Change:
        """``egress.default: deny``, allowing the legitimate egress the default allowed."""
        key: tuple[str, ...] = ("egress-allowlist",)
        if key in self._memo:
            return self._memo[key]
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for h, dest, svc in self.legit_egress:
            d = self.compiled.egress(h, dest, svc)
            # Layered (model v1.1): the allowlist goes to the first layer (apply_changes).
            if (d.allowed and d.parts[0][1] == "default") if d.parts else d.reason == "default":
                groups[(dest, svc)].append(h)
        dests = self.topo.destinations
        tail = tuple(
            {
                "id": f"harden-allowlist-{dest}-{slug(svc)}",
                "action": "allow",
                "from": {"host": sorted(set(hs))},
                "to": [dests[dest].address],
                "services": [svc],
                "description": f"ztsim harden: legitimate egress to {dest}",
            }
            for (dest, svc), hs in sorted(groups.items())
        )
        n = sum(len(set(v)) for v in groups.values())
        text = (
            "egress allowlist: set egress.default: deny and allow only the "
            f"{n} legitimate egress flow(s) the default let through"
        )
        return self._memoised(
            Change("egress-allowlist", key, text, egress_tail=tail, egress_default_deny=True)
        )

    def mfa(self, cred: str) -> Change:
        """MFA on a credential: stolen copies can no longer be used."""
        key = ("mfa", cred)
        if key in self._memo:
            return self._memo[key]
        users = sorted(
            {
                f"{t.source} -> {t.to}"
                for t in self.topo.model.traffic
                if t.credential == cred and t.source in self.topo.hosts
            }
        )
        note = None
        if users:
            note = (
                f"used by {', '.join(users)}: for a service account, bind it to its workload "
                "(mTLS, workload identity, short-lived tokens) to the same effect"
            )
        text = f"require MFA for credential {cred} (a stolen copy can no longer be used)"
        return self._memoised(Change("mfa", key, text, mfa=cred, note=note))

    def encrypt(self) -> Change:
        """Encryption in transit everywhere: no credential can be sniffed."""
        key: tuple[str, ...] = ("encrypt",)
        if key in self._memo:
            return self._memo[key]
        text = (
            "encrypt traffic in transit (controls.encrypt_in_transit: true): no credential sniffing"
        )
        return self._memoised(Change("encrypt", key, text, encrypt=True))


@dataclass(frozen=True)
class Unclosable:
    """A goal no allowed change closes, the plan that stays open, and why."""

    goal: Fact
    steps: tuple[Step, ...]
    needs: tuple[str, ...]  # the legitimate flows (or facts) that keep it open


def traffic_label(topo: LoadedTopology, i: int) -> str:
    """``source -> to service`` of legitimate flow ``i``."""
    t = topo.model.traffic[i]
    return f"{t.source} -> {t.to} {t.service}"


def why_open(ctx: Context, step: Step) -> str | None:
    """Why no allowed change forbids a policy-decided step (None if not policy-decided)."""
    topo = ctx.topo
    if step.flow is not None:
        s, d, svc = step.flow
        reason = ctx.compiled.flow(s, d, svc).reason
        if reason == "self":
            return f"{s} reaching itself (never a policy decision)"
        if (s, d, svc) in ctx.legit_flows:
            return f"legitimate flow {s} -> {d} {svc}"
        return f"flow {s} -> {d} {svc} (no allowed change kind forbids it)"
    if step.kind == "sniff" and step.traffic is not None:
        return f"legitimate flow {traffic_label(topo, step.traffic)} (sniffed)"
    if step.egress is not None:
        h, dest, svc = step.egress
        if (h, dest, svc) in ctx.legit_egress:
            return f"legitimate egress {h} -> {dest} {svc}"
        return f"egress {h} -> {dest} {svc} (no allowed change kind forbids it)"
    return None
