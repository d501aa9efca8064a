"""Where a counter-example should be fixed: the change ``ztsim harden`` would make.

A violated goal assertion comes with a counter-example plan.  Its "fix at" is the
rule, default or control of the policy whose change closes that plan without
breaking a legitimate flow, as ``ztsim harden`` would choose it:

1. Once per policy (lazily, only when some plan needs a location), ``harden`` runs
   on the whole topology, keeping legitimate traffic, with a bounded search
   (:data:`SEARCH_BUDGET` graph evaluations).  Its changes together close
   every goal they can, so they block every plan of those goals.
2. A plan is judged under the hardened policy: its first forbidden step, and the
   change that forbids it (alone, or with ``intra_zone: rules`` it depends on),
   give the location: the rule or default that decides that step today (a
   ``deny`` goes above it), ``segmentation.intra_zone``, ``egress.default`` for an
   allowlist, or ``controls`` for MFA and encryption.
3. A plan harden cannot close without breaking legitimate traffic (an
   *unclosable* goal) is tried against ``harden --no-keep-traffic``: the least
   harmful change, and the flows it breaks, are named.  Failing that, the plan's
   first policy-decided step is named with that honest note.

The search runs only when it is small, decided before it starts and from the
scenario alone, so the same input always gets the same answer: at most
:data:`SEARCH_HOSTS` hosts, :data:`SEARCH_STEPS` steps in the exhaustive attack
graph, and :data:`SEARCH_WORK` for candidate changes times (hosts + rules), so that
finding fixes stays a small part of a check (``harden`` itself searches further).
Otherwise (the documented fallback) the location is the first step of the plan
that is not a legitimate flow: its exact deny (legitimate neighbours kept by exact
allows, as harden builds them) closes the plan and breaks nothing; a sniff's is
encryption in transit.  The note says it is not harden's minimal choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.decisions import Decision
from ztsim.engine.plans import Plan
from ztsim.engine.steps import Step
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.positions import locate
from ztsim.whatif.changes import Change, apply_changes, step_allowed
from ztsim.whatif.outcomes import Location

__all__ = ["SEARCH_BUDGET", "SEARCH_HOSTS", "Fix", "FixFinder"]

#: Above this many hosts no harden search runs (harden's own exhaustive limit).
SEARCH_HOSTS = 300
#: Above this many steps in the exhaustive attack graph, no search runs (its exact
#: search evaluates the whole graph once per node; benchmarks/README.md has figures).
SEARCH_STEPS = 1000
#: Above this many candidate changes times (hosts + rules), no search runs: each
#: candidate is applied, validated and compiled once, so the bound caps the work per
#: policy (figures in benchmarks/README.md).
SEARCH_WORK = 25_000
#: Graph evaluations the exact search may spend per policy (harden's default is 20,000).
SEARCH_BUDGET = 500


@dataclass(frozen=True)
class Fix:
    """Where a plan should be fixed, and the change in words."""

    location: Location
    note: str


@dataclass
class _Proposal:
    """One harden run: its changes, each compiled alone, and the full set compiled."""

    changes: list[Change]
    alone: list[CompiledPolicy]
    full: CompiledPolicy | None
    keep_traffic: bool


class FixFinder:
    """The fix locations of one policy's counter-examples (harden run at most twice).

    Parameters
    ----------
    topology
        The whole topology (every entry point: harden's set closes plans from any).
    policy
        The judged policy.
    compiled
        ``policy`` compiled on ``topology`` (the analysis's).
    fallback
        Where to point when the policy has no file (the reference policy): the data item.
    """

    def __init__(
        self,
        topology: LoadedTopology,
        policy: LoadedPolicy,
        compiled: CompiledPolicy,
        fallback: Location,
    ) -> None:
        self.topo = topology
        self.policy = policy
        self.compiled = compiled
        self.fallback = fallback
        self._proposals: dict[bool, _Proposal] = {}
        self._searchable: bool | None = None
        traffic = topology.model.traffic
        self.legit: set[tuple[str, str, str]] = {
            (t.source, t.to, t.service)
            for t in traffic
            if compiled.traffic(t.source, t.to, t.service).allowed
        }

    # ------------------------------------------------------------------ harden

    def _proposal(self, keep_traffic: bool) -> _Proposal:
        known = self._proposals.get(keep_traffic)
        if known is None:
            from ztsim.whatif.harden import harden

            h = harden(
                self.topo,
                self.policy,
                keep_traffic=keep_traffic,
                exhaustive_limit=SEARCH_HOSTS,
                budget=SEARCH_BUDGET,
            )
            alone = [self._decider([c]) for c in h.changes]
            full = self._decider(h.changes) if h.changes else None
            known = self._proposals[keep_traffic] = _Proposal(h.changes, alone, full, keep_traffic)
        return known

    def _decider(self, changes: list[Change]) -> CompiledPolicy:
        pol = apply_changes(self.policy.model, changes)
        return CompiledPolicy(LoadedPolicy(pol, "<hardened>"), self.topo)

    def _blocking(self, plan: Plan, prop: _Proposal) -> tuple[Step, Change, str] | None:
        """The plan's first step the proposal forbids, the change responsible, in words.

        A step the changes forbid only together is a same-zone flow under
        ``intra_zone: allow``: the switch to ``rules`` goes with a rule (harden's pair).
        """
        if prop.full is None:
            return None
        for st in plan.steps:
            if step_allowed(st, prop.full):
                continue
            for c, alone in zip(prop.changes, prop.alone, strict=True):
                if not step_allowed(st, alone):
                    return st, c, c.text
            switch = next((c for c in prop.changes if c.kind == "intra-zone-rules"), None)
            for c in prop.changes:
                pair = [c, switch] if switch is not None and c is not switch else None
                if pair is not None and not step_allowed(st, self._decider(pair)):
                    return st, c, f"{c.text}, with {pair[1].text}"
            return st, prop.changes[0], "; ".join(c.text for c in prop.changes)
        return None

    def _broken(self, change: Change) -> list[str]:
        after = self._decider([change])
        return [
            f"{t.source} -> {t.to} {t.service}"
            for t in self.topo.model.traffic
            if (t.source, t.to, t.service) in self.legit
            and not after.traffic(t.source, t.to, t.service).allowed
        ]

    # ------------------------------------------------------------------ locations

    def _mark(self, loc: tuple[str, ...]) -> Location:
        """Where ``loc`` stands in the policy (the deepest part of it that is written)."""
        doc = self.policy.doc
        if doc is None:
            return self.fallback
        m = locate(doc, loc)
        return Location(self.policy.path, m.line, m.column)

    def _decision_location(self, d: Decision) -> Location:
        if d.reason == "rule":
            m = self.policy.rule_mark(d.section, d.rule)
            if m is not None:
                return Location(self.policy.rule_file(d.section, d.rule), m.line, m.column)
            return self._mark((d.section, "rules"))
        if d.reason == "intra_zone":
            return self._mark(("segmentation", "intra_zone"))
        return self._mark((d.section, "default"))

    def _step_decision(self, st: Step) -> Decision | None:
        if st.flow is not None:
            return self.compiled.flow(*st.flow)
        if st.egress is not None:
            return self.compiled.egress(*st.egress)
        if st.kind == "sniff" and st.traffic is not None:
            t = self.topo.model.traffic[st.traffic]
            return self.compiled.traffic(t.source, t.to, t.service)
        return None

    def _what(self, d: Decision | None) -> str:
        """What decides a step today, in words (``segmentation rule X``, ``egress default``)."""
        if d is None:
            return "the policy"
        if d.reason == "rule" and d.parts is not None:
            # Layered (model v1.1): each layer's rule at its FILE:LINE, since the
            # fix's one location names the first only (an import: its manifests).
            verdict = f"{'allowed' if d.allowed else 'denied'} by "
            return d.describe(self.policy).removeprefix(verdict)
        if d.reason == "rule":
            return f"{d.section} rule {d.rule}"
        if d.reason == "intra_zone":
            return "segmentation.intra_zone: allow"
        if d.reason == "self":
            return "a host reaching itself"
        return f"{d.section}.default: {'allow' if d.allowed else 'deny'}"

    def _setting(self, loc: tuple[str, ...]) -> tuple[Location, str]:
        """A setting's location, and ``in a.b`` (or ``add a.b`` when it is not written)."""
        doc = self.policy.doc
        name = ".".join(loc)
        written = doc is not None and doc.node_mark(loc) is not None
        return self._mark(loc), (f"in {name}" if written else f"add {name} to this policy")

    def _change_location(self, st: Step, c: Change) -> tuple[Location, str]:
        """Where change ``c`` goes to forbid ``st``, and why there, in words."""
        if c.kind == "mfa":
            return self._setting(("controls", "mfa"))
        if c.kind == "encrypt":
            return self._setting(("controls", "encrypt_in_transit"))
        if c.kind == "intra-zone-rules":
            return self._setting(("segmentation", "intra_zone"))
        if c.kind == "egress-allowlist":
            return self._setting(("egress", "default"))
        d = self._step_decision(st)
        if d is None:
            return self.fallback, "in the policy"
        return self._decision_location(d), f"{self._what(d)} allows it today"

    # ------------------------------------------------------------------ the fix

    def searchable(self) -> bool:
        """Whether harden's search is small enough to run here (decided once, deterministically).

        Counted before searching: the hosts, the steps of the exhaustive attack
        graph and the candidate changes (what the search's cost grows with).
        """
        known = self._searchable
        if known is None:
            known = False
            if len(self.topo.hosts) <= SEARCH_HOSTS:
                from ztsim.engine.attack import AttackModel
                from ztsim.engine.fixpoint import solve
                from ztsim.whatif.candidates import Context

                model = AttackModel(self.topo)
                ctx = Context(model, self.policy)
                sol = solve(model, ctx.compiled, exhaustive=True)
                steps = [st for st in sol.fired.values() if all(p in sol.cost for p in st.pre)]
                if len(steps) <= SEARCH_STEPS:
                    cands = {c.key for st in steps for c in ctx.candidates(st)}
                    pol = self.policy.model
                    size = (
                        len(self.topo.hosts) + len(pol.segmentation.rules) + len(pol.egress.rules)
                    )
                    known = len(cands) * size <= SEARCH_WORK
            self._searchable = known
        return known

    def fix(self, plan: Plan) -> Fix:
        """Where ``plan`` should be fixed, and the change that closes it, in words."""
        if not self.searchable():
            return self._first_step_fix(plan, searched=False)
        hit = self._blocking(plan, self._proposal(True))
        if hit is not None:
            st, c, text = hit
            loc, where = self._change_location(st, c)
            note = (
                f"{text}; {where}: this closes the plan and breaks no legitimate flow "
                "(ztsim harden's choice)"
            )
            return Fix(loc, note)
        hit = self._blocking(plan, self._proposal(False))
        if hit is not None:
            st, c, text = hit
            loc, where = self._change_location(st, c)
            broken = self._broken(c)
            cost = (
                f"breaks {len(broken)} legitimate flow(s): {'; '.join(broken)}"
                if broken
                else "breaks a legitimate flow"
            )
            note = (
                f"no change of this policy closes this plan without breaking legitimate "
                f"traffic; the least harmful: {text}; {where}: this {cost}"
            )
            return Fix(loc, note)
        return self._first_step_fix(plan, searched=True)

    def _first_step_fix(self, plan: Plan, searched: bool) -> Fix:
        """The first policy-decided step of the plan that is not legitimate traffic."""
        decided: list[tuple[Step, Decision]] = []
        for st in plan.steps:
            d = self._step_decision(st)
            if d is not None and d.reason not in ("self", "topology"):
                decided.append((st, d))
        for st, d in decided:
            if st.kind == "sniff":
                loc = self._mark(("controls", "encrypt_in_transit"))
                return Fix(
                    loc,
                    f"encrypt traffic in transit (controls.encrypt_in_transit: true) against "
                    f"the sniff on {st.source}: this closes the plan and breaks no legitimate flow"
                    + ("" if searched else _NOT_SEARCHED),
                )
            if st.flow is not None and st.flow in self.legit:
                continue
            if st.egress is not None and st.egress in self.legit:
                continue
            words = _step_words(st)
            note = (
                f"deny {words}; {self._what(d)} allows it today: the first step of this plan "
                "that is not legitimate traffic, denying it closes the plan and breaks no "
                "legitimate flow" + ("" if searched else _NOT_SEARCHED)
            )
            return Fix(self._decision_location(d), note)
        if decided:
            st, d = decided[0]
            note = (
                "no change of this policy closes this plan without breaking legitimate "
                f"traffic: every step the policy decides is a legitimate flow; the first, "
                f"{_step_words(st)}, is decided here ({self._what(d)})"
            )
            return Fix(self._decision_location(d), note)
        return Fix(
            self.fallback,
            "no policy change closes this plan: none of its steps is a policy decision "
            "(fix the topology: the vulnerability, stored credential or data item)",
        )


_NOT_SEARCHED = (
    " (not harden's choice: this estate is too large for check to run its search; "
    "`ztsim harden` proposes a minimal set)"
)


def _step_words(st: Step) -> str:
    if st.flow is not None:
        s, d, svc = st.flow
        return f"{s} -> {d} {svc}"
    if st.egress is not None:
        h, dest, svc = st.egress
        return f"egress {h} -> {dest} {svc}"
    return f"{st.kind} {st.source or ''} -> {st.target or ''}".strip()
