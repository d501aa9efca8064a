"""Per-flow checks of ``ztsim lint`` against a topology (a mixin of the linter).

Every concrete flow (source host or external zone, destination host, offered
service) and egress (host, destination, service) is decided under the policy;
each rule is then judged by what it matches and decides, compared with the
topology's legitimate traffic and with the attack steps of the reference policy's
full attack graph.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ztsim.engine.attack import AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.fixpoint import solve
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology, reference_policy
from ztsim.model.matching import destination_touched, selector_matches_host, selector_matches_zone
from ztsim.model.schema import EgressRule, SegmentationRule
from ztsim.model.services import parse_service
from ztsim.whatif.yamlout import rule_line

__all__ = ["CONCRETE_LIMIT", "EXHAUSTIVE_LIMIT", "FlowChecks"]

Level = Literal["error", "warning", "info"]
Section = Literal["segmentation", "egress"]
#: (source host or external zone, destination, service)
Flow = tuple[str, str, str]
#: Above this many (source, destination, rule) combinations the per-flow checks are skipped.
CONCRETE_LIMIT = 3_000_000
#: Above this many hosts the attack steps come from the cheapest-derivation solve only.
EXHAUSTIVE_LIMIT = 300
_ATTACKER_ROLES = ("c2", "web-service")


class FlowChecks:
    """The per-flow checks; the linter provides ``policy``, ``notes`` and ``add``."""

    policy: LoadedPolicy
    notes: list[str]

    def add(
        self, level: Level, code: str, section: Section, rule: str | None, msg: str, fix: str
    ) -> None:
        """Record a finding (implemented by the linter)."""
        raise NotImplementedError

    def concrete(self, topo: LoadedTopology) -> None:
        """Run every per-flow check against ``topo``."""
        pol = self.policy.model
        if pol.segmentation.layered or pol.egress.layered:
            # The per-flow checks read one first-match list (v1); for layers they
            # would name the wrong deciders: said, not guessed.
            self.notes.append(
                "per-flow checks are for v1 sections; a layered policy (model v1.1) gets "
                "the policy-only checks (shadowing per tier)"
            )
            return
        rules = pol.segmentation.rules
        model = AttackModel(topo)
        compiled = model.compile(self.policy)
        hosts = topo.model.hosts
        sources = [h.id for h in hosts] + sorted(topo.external_zones)
        if len(sources) * len(hosts) * max(1, len(rules)) > CONCRETE_LIMIT:
            self.notes.append(
                f"topology {topo.name} is too large for per-flow checks; ran policy-only checks"
            )
            return
        attack_flows, attack_egress = self._attack_steps(model, len(hosts) <= EXHAUSTIVE_LIMIT)
        legit = {(t.source, t.to, t.service) for t in topo.model.traffic}
        tally, default_in = _decide_segmentation(
            topo, compiled, rules, sources, attack_flows, legit
        )
        if default_in:
            self._default_allow_in(topo.name, default_in)
        for i, r in enumerate(rules):
            self._judge_rule(
                "segmentation",
                r.id,
                r.action,
                tally.matched[i],
                tally.decided[i],
                tally.deciders[i],
                legit,
                attack_flows,
                topo,
            )
        self._egress(topo, compiled, legit, attack_egress)

    def _attack_steps(self, model: AttackModel, exhaustive: bool) -> tuple[set[Flow], set[Flow]]:
        """The flows and the egress the reference policy's attack graph uses."""
        sol = solve(model, model.compile(reference_policy()), exhaustive=exhaustive)
        if not exhaustive:
            self.notes.append("attack steps from the cheapest derivations only (large topology)")
        fired = sol.fired.values()
        return (
            {st.flow for st in fired if st.flow is not None},
            {st.egress for st in fired if st.egress is not None},
        )

    def _default_allow_in(self, name: str, default_in: list[Flow]) -> None:
        """Report the attack steps that only the default allow lets through."""
        eg = "; ".join(f"{s} -> {d} {svc}" for s, d, svc in default_in[:2])
        self.add(
            "warning",
            "default-allow",
            "segmentation",
            None,
            f"default allow lets {len(default_in)} attack step flow(s) through in "
            f"topology {name} (e.g. {eg})",
            "set segmentation.default: deny and allow the legitimate flows "
            "(`ztsim harden` proposes narrow rules)",
        )

    def _judge_rule(
        self,
        section: Section,
        rid: str,
        action: str,
        matched: int,
        decided: list[Flow],
        deciders: Counter[str],
        legit: set[Flow],
        attack: set[Any],
        topo: LoadedTopology,
    ) -> None:
        name = topo.name
        if matched == 0:
            self.add(
                "warning",
                "no-match",
                section,
                rid,
                f"matches no flow in topology {name}: its selectors pick no host (or no "
                "offered service)",
                "check the selectors and services, or remove the rule",
            )
            return
        if not decided:
            first = deciders.most_common(1)[0][0]
            self.add(
                "warning",
                "shadowed",
                section,
                rid,
                f"never decides in topology {name}: every flow it matches ({matched}) is "
                f"decided earlier, mostly by {first}",
                f"move {rid} above {first}, or remove it",
            )
            return
        needed = [f for f in decided if f in legit]
        attacks = [f for f in decided if f in attack and f not in legit]
        if not needed and not attacks:
            self.add(
                "info",
                "unused",
                section,
                rid,
                f"decides {len(decided)} flow(s) in topology {name}, none of them legitimate "
                "traffic or an attack step",
                "remove it, or keep it to document intent",
            )
            return
        if action != "allow" or len(needed) == len(decided):
            return
        surplus = len(decided) - len(needed)
        eg = "; ".join(f"{s} -> {d} {svc}" for s, d, svc in attacks[:2])
        level: Level = "warning" if attacks else "info"
        msg = (
            f"allows {len(decided)} flow(s) in topology {name}, {len(needed)} needed by "
            f"legitimate traffic; {surplus} more"
            + (f", {len(attacks)} of them attack steps (e.g. {eg})" if attacks else "")
        )
        self.add(level, "broad-allow", section, rid, msg, self._narrow(rid, needed, topo))

    def _narrow(self, rid: str, needed: list[Flow], topo: LoadedTopology) -> str:
        if not needed:
            return f"remove {rid}: no legitimate flow needs it"
        srcs = sorted({s for s, _, _ in needed})
        hosts = [s for s in srcs if s in topo.hosts]
        zones = [s for s in srcs if s not in topo.hosts]
        src: dict[str, Any] = (
            {"host": hosts}
            if hosts and not zones
            # Several external zones: a zone list (any of them, spec §3).
            else ({"zone": zones[0] if len(zones) == 1 else zones} if not hosts else {})
        )
        rule: dict[str, Any] = {"id": rid, "action": "allow"}
        if src:
            rule["from"] = src
        rule["to"] = {"host": sorted({d for _, d, _ in needed})}
        rule["services"] = sorted({svc for _, _, svc in needed})
        return f"narrow it to the legitimate flows: {rule_line(rule)}"

    def _egress(
        self,
        topo: LoadedTopology,
        compiled: CompiledPolicy,
        legit: set[Flow],
        attack: set[Any],
    ) -> None:
        rules = self.policy.model.egress.rules
        tally, default_out = _decide_egress(topo, compiled, rules, legit)
        dests = topo.destinations
        for i, r in enumerate(rules):
            outs = [
                f
                for f in tally.decided[i]
                if dests[f[1]].role in _ATTACKER_ROLES and r.action == "allow"
            ]
            if outs:
                self._attacker_egress(topo, r.id, outs, legit, attack)
            else:
                self._judge_rule(
                    "egress",
                    r.id,
                    r.action,
                    tally.matched[i],
                    tally.decided[i],
                    tally.deciders[i],
                    legit,
                    attack,
                    topo,
                )
        if default_out:
            n = len({h for h, _, _ in default_out})
            names = sorted({dests[d].address for _, d, _ in default_out})
            self.add(
                "error",
                "egress-attacker",
                "egress",
                None,
                f"default allow lets {n} host(s) reach {', '.join(names)}",
                "set egress.default: deny and allow only the legitimate egress "
                "(`ztsim harden` writes it)",
            )

    def _attacker_egress(
        self, topo: LoadedTopology, rid: str, outs: list[Flow], legit: set[Flow], attack: set[Any]
    ) -> None:
        """Judge an allow rule that decides egress to attacker-usable destinations."""
        risky = [f for f in outs if f not in legit]
        if not risky:
            self.add(
                "warning",
                "egress-attacker",
                "egress",
                rid,
                "legitimate traffic goes to an attacker-usable destination through it: "
                "the attacker can use it too",
                "restrict its sources; consider DLP",
            )
            return
        dests = topo.destinations
        names = sorted({f"{dests[d].address} ({dests[d].role})" for _, d, _ in risky})
        used = len({h for h, _, _ in risky})
        self.add(
            "error",
            "egress-attacker",
            "egress",
            rid,
            f"lets {used} host(s) reach {', '.join(names)}: an exfiltration channel"
            + (" (an attack step of this topology)" if set(risky) & attack else ""),
            "replace wildcard patterns by the exact FQDNs the hosts need, and deny "
            "attacker-usable destinations before it",
        )


@dataclass
class _Tally:
    """Per rule index: flows it matches, flows it decides, rules deciding the others."""

    matched: Counter[int] = field(default_factory=Counter)
    decided: defaultdict[int, list[Flow]] = field(default_factory=lambda: defaultdict(list))
    deciders: defaultdict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def _rule_scopes(
    topo: LoadedTopology, rules: Sequence[SegmentationRule], sources: list[str]
) -> tuple[list[set[str]], list[set[str]]]:
    """Per rule, the sources (hosts or external zones) and destination hosts it selects."""
    src_sets = [
        {
            s
            for s in sources
            if (
                selector_matches_host(r.source, topo.hosts[s])
                if s in topo.hosts
                else selector_matches_zone(r.source, s)
            )
        }
        for r in rules
    ]
    dst_sets = [{h.id for h in topo.model.hosts if selector_matches_host(r.to, h)} for r in rules]
    return src_sets, dst_sets


def _decide_segmentation(
    topo: LoadedTopology,
    compiled: CompiledPolicy,
    rules: Sequence[SegmentationRule],
    sources: list[str],
    attack_flows: set[Flow],
    legit: set[Flow],
) -> tuple[_Tally, list[Flow]]:
    """Tally every concrete flow by rule; also the attack steps the default lets through."""
    hosts = topo.model.hosts
    src_sets, dst_sets = _rule_scopes(topo, rules, sources)
    tally = _Tally()
    matched, decided, deciders = tally.matched, tally.decided, tally.deciders
    default_in: list[Flow] = []
    for s in sources:
        for h in hosts:
            cands = [i for i in range(len(rules)) if s in src_sets[i] and h.id in dst_sets[i]]
            for svc in h.services:
                d = compiled.flow(s, h.id, svc.service)
                if d.reason in ("self", "intra_zone", "topology"):
                    continue
                flow = (s, h.id, svc.service)
                hits = [i for i in cands if any(rg.covers(svc.parsed) for rg in rules[i].ranges)]
                for i in hits:
                    matched[i] += 1
                if hits:
                    decided[hits[0]].append(flow)
                    for i in hits[1:]:
                        deciders[i][rules[hits[0]].id] += 1
                elif d.allowed and flow in attack_flows and flow not in legit:
                    default_in.append(flow)
    return tally, default_in


def _decide_egress(
    topo: LoadedTopology, compiled: CompiledPolicy, rules: Sequence[EgressRule], legit: set[Flow]
) -> tuple[_Tally, list[Flow]]:
    """Tally every egress by rule; also the attacker-usable egress the default allows."""
    index = {r.id: i for i, r in enumerate(rules)}
    tally = _Tally()
    matched, decided, deciders = tally.matched, tally.decided, tally.deciders
    default_out: list[Flow] = []
    for h in topo.model.hosts:
        for e in topo.model.external:
            for svc in e.services:
                d = compiled.egress(h.id, e.id, svc)
                hits = [
                    i
                    for i, r in enumerate(rules)
                    if selector_matches_host(r.source, h)
                    and any(rg.covers(parse_service(svc)) for rg in r.ranges)
                    and any(destination_touched(p, e) for p in r.to)
                ]
                for i in hits:
                    matched[i] += 1
                for i in hits[1:]:
                    deciders[i][rules[hits[0]].id] += 1
                if d.reason == "rule":
                    decided[index[d.rule]].append((h.id, e.id, svc))
                elif d.allowed and e.role in _ATTACKER_ROLES and (h.id, e.id, svc) not in legit:
                    default_out.append((h.id, e.id, svc))
    return tally, default_out
