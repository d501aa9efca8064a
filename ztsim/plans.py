"""Plans (attack paths) and their verdicts under a policy (spec §6).

A plan is extracted on demand from a :class:`~ztsim.engine.Solution`: follow the
cheapest derivation of the goal back to the entry, then drop every step the rest
does not need.  Further distinct plans come Yen-style: ban one step of a plan
already found and solve again; candidates are kept cheapest first.  A plan is then
judged against each policy: blocked at its first forbidden step (with the rule,
``default``, ``mfa`` or ``encrypt_in_transit`` that forbids it), or open with the
probability that the policy's detection sees it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ztsim.engine import AttackModel, Fact, Solution, Step, solve
from ztsim.policy import CompiledPolicy, Decision, selector_matches_host, selector_matches_zone
from ztsim.profiling import phase
from ztsim.techniques import technique_matches

__all__ = [
    "Plan",
    "PlanVerdict",
    "StepVerdict",
    "extract_plan",
    "judge",
    "k_plans",
    "minimize",
    "plan_solve",
    "plans_from_solution",
]


@dataclass(frozen=True)
class Plan:
    """An ordered list of steps from an entry point to a goal."""

    goal: Fact
    steps: tuple[Step, ...]

    @property
    def cost(self) -> int:
        """The number of steps (spec §6)."""
        return len(self.steps)

    @property
    def key(self) -> frozenset[tuple[str, ...]]:
        """The set of step keys: two plans with the same steps are the same plan."""
        return frozenset(s.key for s in self.steps)

    @property
    def sort_key(self) -> tuple[int, tuple[tuple[str, ...], ...]]:
        """Cheapest first, then a deterministic order on the steps."""
        return (self.cost, tuple(s.key for s in self.steps))

    @property
    def entry(self) -> str:
        """The id of the entry point the plan starts from."""
        first = self.steps[0]
        return first.key[1] if first.kind == "enter" else "?"

    @property
    def techniques(self) -> tuple[str, ...]:
        """The ATT&CK technique ids of its steps, in order (steps without one skipped)."""
        return tuple(s.technique for s in self.steps if s.technique)

    @property
    def ident(self) -> str:
        """A short stable identifier (for the TUI and reports)."""
        import hashlib

        text = "|".join(":".join(k) for k in sorted(self.key))
        return hashlib.sha1(f"{self.goal}|{text}".encode()).hexdigest()[:8]


def _schedule(steps: Sequence[Step], goal: Fact) -> list[Step] | None:
    """Order ``steps`` so each needs only what earlier ones gave; None if impossible."""
    have: set[Fact] = set()
    remaining = list(steps)
    ordered: list[Step] = []
    progress = True
    while remaining and progress:
        progress = False
        for i, st in enumerate(remaining):
            if all(p in have for p in st.pre):
                ordered.append(st)
                have.update(st.post)
                del remaining[i]
                progress = True
                break
    if remaining or goal not in have:
        return None
    return ordered


def minimize(steps: Sequence[Step], goal: Fact) -> list[Step]:
    """Drop every step the plan can do without, keeping a valid order.

    Greedy, last step first: a step is dropped when the others still reach the
    goal.  The result has no step that could be dropped (spec §6).
    """
    current = _schedule(steps, goal)
    if current is None:
        raise ValueError("not a valid plan")
    i = len(current) - 1
    while i >= 0:
        trial = current[:i] + current[i + 1 :]
        ordered = _schedule(trial, goal)
        if ordered is not None:
            current = ordered
        i -= 1
    return current


def _derive(sol: Solution, goal: Fact, override: dict[Fact, Step]) -> dict[Fact, Step] | None:
    """The derivation tree of ``goal``: each fact's best step unless overridden.

    Returns the chosen step per fact, or None when an override makes a fact
    depend on itself (no plan then).
    """
    chosen: dict[Fact, Step] = {}
    in_progress: set[Fact] = set()

    def visit(f: Fact) -> bool:
        if f in chosen:
            return True
        if f in in_progress:
            return False
        in_progress.add(f)
        st = override.get(f) or sol.best[f]
        for p in st.pre:
            if not visit(p):
                return False
        in_progress.discard(f)
        chosen[f] = st
        return True

    return chosen if visit(goal) else None


def _plan_from(sol: Solution, goal: Fact, chosen: dict[Fact, Step]) -> Plan:
    steps: dict[tuple[str, ...], Step] = {}
    rank: dict[tuple[str, ...], int] = {}
    for f, st in chosen.items():
        order = sol.order[f]
        if st.key not in rank or order < rank[st.key]:
            rank[st.key] = order
        steps[st.key] = st
    ordered = sorted(steps.values(), key=lambda s: (rank[s.key], s.key))
    return Plan(goal, tuple(minimize(ordered, goal)))


def extract_plan(sol: Solution, goal: Fact) -> Plan | None:
    """The plan behind the cheapest derivation of ``goal`` in ``sol``, or None."""
    if goal not in sol.cost:
        return None
    with phase("plans"):
        chosen = _derive(sol, goal, {})
        assert chosen is not None  # best derivations never loop: costs strictly grow
        return _plan_from(sol, goal, chosen)


#: How many alternative derivations of one fact are tried per plan.
MAX_SIDETRACKS = 4


#: Up to this many hosts, plans are listed from a full attack graph.
EXHAUSTIVE_HOSTS = 300


def k_plans(
    model: AttackModel,
    policy: CompiledPolicy,
    goal: Fact,
    k: int,
    *,
    solution: Solution | None = None,
) -> list[Plan]:
    """Up to ``k`` distinct plans for ``goal`` under ``policy``, cheapest first.

    Solves once (every step instance on small topologies, a few alternatives per
    target on large ones) unless ``solution`` is given, then enumerates plans with
    :func:`plans_from_solution`.
    """
    if solution is None:
        solution = plan_solve(model, policy)
    return plans_from_solution(solution, goal, k)


def plan_solve(model: AttackModel, policy: CompiledPolicy) -> Solution:
    """A solve rich in alternative derivations, for listing several plans per goal.

    Small topologies get every step instance (exhaustive); large ones a few
    alternatives per target, which keeps plan listing fast.
    """
    if len(model.topology.hosts) <= EXHAUSTIVE_HOSTS:
        return solve(model, policy, exhaustive=True)
    return solve(model, policy, alternatives=3)


def plans_from_solution(
    sol: Solution,
    goal: Fact,
    k: int,
    *,
    derivations: dict[Fact, list[Step]] | None = None,
) -> list[Plan]:
    """Up to ``k`` distinct plans for ``goal`` in ``sol``, cheapest first.

    The first is the cheapest derivation.  Further plans swap the derivation of
    one fact of a plan already found for another step that derives it (a
    *sidetrack*, as in Eppstein's k-shortest paths), keeping the other choices;
    candidates are taken cheapest first.  No solve is repeated: alternatives come
    from the steps the solve fired, so solve with ``exhaustive=True`` (every step
    instance) or ``alternatives > 1`` for a richer choice.

    Parameters
    ----------
    sol
        A complete solve under the policy.
    derivations
        ``sol.derivations()``, when already computed (it is shared across goals).
    """
    if k <= 0 or goal not in sol.cost:
        return []
    with phase("plans"):
        alts = derivations if derivations is not None else sol.derivations()
        first_chosen = _derive(sol, goal, {})
        assert first_chosen is not None
        first = _plan_from(sol, goal, first_chosen)
        seen = {first.key}
        counter = 0
        heap: list[
            tuple[
                tuple[int, tuple[tuple[str, ...], ...]],
                int,
                Plan,
                dict[Fact, Step],
                dict[Fact, Step],
            ]
        ] = [(first.sort_key, counter, first, {}, first_chosen)]
        accepted: list[Plan] = []
        while heap and len(accepted) < k:
            _, _, plan, override, chosen = heapq.heappop(heap)
            accepted.append(plan)
            if len(accepted) == k:
                break
            used = plan.key
            for f in sorted(chosen, key=lambda x: sol.order[x]):
                if chosen[f].key not in used or f in override:
                    continue
                for alt in alts.get(f, ())[: MAX_SIDETRACKS + 1]:
                    if alt.key == chosen[f].key:
                        continue
                    nov = {**override, f: alt}
                    nchosen = _derive(sol, goal, nov)
                    if nchosen is None:
                        continue
                    cand = _plan_from(sol, goal, nchosen)
                    if cand.key in seen:
                        continue
                    seen.add(cand.key)
                    counter += 1
                    heapq.heappush(heap, (cand.sort_key, counter, cand, nov, nchosen))
        return sorted(accepted, key=lambda p: p.sort_key)


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class StepVerdict:
    """What a policy says of one step of a plan."""

    allowed: bool
    blocked_by: str | None
    explanation: str
    decision: Decision | None
    detections: tuple[str, ...]


@dataclass(frozen=True)
class PlanVerdict:
    """What a policy says of a whole plan: blocked where and why, or open."""

    policy: str
    blocked: bool
    step: int | None
    blocked_by: str | None
    explanation: str
    p_detected: float | None
    steps: tuple[StepVerdict, ...]

    @property
    def short(self) -> str:
        """``blocked: RULE`` or ``open P=0.42`` for tables."""
        if self.blocked:
            return f"blocked: {self.blocked_by}"
        return f"open P(det)={self.p_detected:.2f}"


def _describe(d: Decision, policy: CompiledPolicy) -> str:
    """``Decision.describe`` memoised per policy (plans share most of their steps)."""
    cache = policy.describe_cache
    text = cache.get(d)
    if text is None:
        text = cache[d] = d.describe(policy.loaded)
    return text


def _step_verdict(
    step: Step, policy: CompiledPolicy
) -> tuple[bool, str | None, str, Decision | None]:
    if step.flow is not None:
        d = policy.flow(*step.flow)
        src, host, svc = step.flow
        what = f"flow {src} -> {host}:{svc} {_describe(d, policy)}"
        if not d.allowed:
            return False, d.rule, what, d
        if step.kind == "login" and step.credential in policy.mfa:
            return False, "mfa", f"credential {step.credential} is under MFA", d
        return True, None, what, d
    if step.kind == "sniff":
        if policy.encrypt_in_transit:
            return False, "encrypt_in_transit", "encrypt_in_transit: the flow cannot be read", None
        assert step.traffic is not None
        t = policy.topology.model.traffic[step.traffic]
        d = policy.traffic(t.source, t.to, t.service)
        what = f"traffic {t.source} -> {t.to} {t.service} {_describe(d, policy)}"
        if not d.allowed:
            return False, d.rule, what, d
        return True, None, what, d
    if step.egress is not None:
        d = policy.egress(*step.egress)
        host, dest, svc = step.egress
        what = f"egress {host} -> {dest} {svc} {_describe(d, policy)}"
        if not d.allowed:
            return False, d.rule, what, d
        return True, None, what, d
    return True, None, "no network flow: not a policy decision", None


def _detections(step: Step, policy: CompiledPolicy) -> tuple[str, ...]:
    if step.technique is None:
        return ()
    topo = policy.topology
    hits: list[str] = []
    seeing = policy.detections_by_technique.get(step.technique)
    if seeing is None:
        seeing = policy.detections_by_technique[step.technique] = [
            det
            for det in policy.loaded.model.controls.detection
            if any(technique_matches(t, step.technique) for t in det.techniques)
        ]
    for det in seeing:
        where = step.host
        if where in topo.hosts:
            ok = selector_matches_host(det.where, topo.hosts[where])
        elif where is not None:
            ok = selector_matches_zone(det.where, where)
        else:
            ok = det.where.is_any
        if ok:
            hits.append(det.id)
    return tuple(hits)


def judge(plan: Plan, policy: CompiledPolicy) -> PlanVerdict:
    """Judge ``plan`` against ``policy`` (spec §6).

    Blocked at the first step the policy forbids; otherwise open, with
    ``P(detected) = 1 - prod(1 - p)`` over every detection entry that matches some
    step (each entry counted once, however many steps it sees).
    """
    with phase("judge"):
        return _judge(plan, policy)


def _judge(plan: Plan, policy: CompiledPolicy) -> PlanVerdict:
    verdicts: list[StepVerdict] = []
    first_block: int | None = None
    for i, st in enumerate(plan.steps):
        ok, by, why, decision = _step_verdict(st, policy)
        verdicts.append(StepVerdict(ok, by, why, decision, _detections(st, policy)))
        if not ok and first_block is None:
            first_block = i
    name = policy.loaded.name
    if first_block is not None:
        sv = verdicts[first_block]
        return PlanVerdict(
            name,
            True,
            first_block,
            sv.blocked_by,
            f"step {first_block + 1}: {sv.explanation}",
            None,
            tuple(verdicts),
        )
    probs = {d.id: d.probability for d in policy.loaded.model.controls.detection}
    matched = sorted({d for sv in verdicts for d in sv.detections})
    miss = 1.0
    for d in matched:
        miss *= 1.0 - probs[d]
    p = round(1.0 - miss, 6)
    return PlanVerdict(name, False, None, None, "open", p, tuple(verdicts))


def merge_plans(groups: Iterable[Iterable[Plan]]) -> list[Plan]:
    """Merge plan lists without duplicates, cheapest first, ties in a fixed order."""
    out: dict[frozenset[tuple[str, ...]], Plan] = {}
    for group in groups:
        for p in group:
            out.setdefault(p.key, p)
    return sorted(out.values(), key=lambda p: p.sort_key)
