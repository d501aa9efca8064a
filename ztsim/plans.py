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
from ztsim.techniques import technique_matches

__all__ = [
    "Plan",
    "PlanVerdict",
    "StepVerdict",
    "extract_plan",
    "judge",
    "k_plans",
    "minimize",
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


def extract_plan(sol: Solution, goal: Fact) -> Plan | None:
    """The plan behind the cheapest derivation of ``goal`` in ``sol``, or None."""
    if goal not in sol.cost:
        return None
    needed: dict[tuple[str, ...], Step] = {}
    rank: dict[tuple[str, ...], int] = {}
    stack: list[Fact] = [goal]
    seen: set[Fact] = set()
    while stack:
        f = stack.pop()
        if f in seen:
            continue
        seen.add(f)
        st = sol.best[f]
        order = sol.order[f]
        if st.key not in needed or order < rank[st.key]:
            rank[st.key] = order
        needed[st.key] = st
        stack.extend(st.pre)
    steps = sorted(needed.values(), key=lambda s: (rank[s.key], s.key))
    return Plan(goal, tuple(minimize(steps, goal)))


def k_plans(
    model: AttackModel,
    policy: CompiledPolicy,
    goal: Fact,
    k: int,
    *,
    solution: Solution | None = None,
) -> list[Plan]:
    """Up to ``k`` distinct plans for ``goal`` under ``policy``, cheapest first.

    Yen-style: each plan found spawns candidates by banning one of its steps (on
    top of the bans that produced it) and solving again; the cheapest candidate
    not seen yet is taken next.

    Parameters
    ----------
    solution
        A complete solve under ``policy`` to take the first plan from (saves one
        solve); solved here when omitted.
    """
    if k <= 0:
        return []
    first_sol = solution if solution is not None else solve(model, policy, stop_at=goal)
    first = extract_plan(first_sol, goal)
    if first is None:
        return []
    accepted = [first]
    seen = {first.key}
    tried: set[frozenset[tuple[str, ...]]] = set()
    heap: list[
        tuple[tuple[int, tuple[tuple[str, ...], ...]], int, Plan, frozenset[tuple[str, ...]]]
    ] = []
    counter = 0

    def spur(plan: Plan, bans: frozenset[tuple[str, ...]]) -> None:
        nonlocal counter
        for st in plan.steps:
            nb = bans | {st.key}
            if nb in tried:
                continue
            tried.add(nb)
            q = extract_plan(solve(model, policy, banned=nb, stop_at=goal), goal)
            if q is not None and q.key not in seen:
                seen.add(q.key)
                counter += 1
                heapq.heappush(heap, (q.sort_key, counter, q, nb))

    spur(first, frozenset())
    while len(accepted) < k and heap:
        _, _, q, nb = heapq.heappop(heap)
        accepted.append(q)
        if len(accepted) < k:
            spur(q, nb)
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


def _step_verdict(
    step: Step, policy: CompiledPolicy
) -> tuple[bool, str | None, str, Decision | None]:
    loaded = policy.loaded
    if step.flow is not None:
        d = policy.flow(*step.flow)
        src, host, svc = step.flow
        what = f"flow {src} -> {host}:{svc} {d.describe(loaded)}"
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
        what = f"traffic {t.source} -> {t.to} {t.service} {d.describe(loaded)}"
        if not d.allowed:
            return False, d.rule, what, d
        return True, None, what, d
    if step.egress is not None:
        d = policy.egress(*step.egress)
        host, dest, svc = step.egress
        what = f"egress {host} -> {dest} {svc} {d.describe(loaded)}"
        if not d.allowed:
            return False, d.rule, what, d
        return True, None, what, d
    return True, None, "no network flow: not a policy decision", None


def _detections(step: Step, policy: CompiledPolicy) -> tuple[str, ...]:
    if step.technique is None:
        return ()
    topo = policy.topology
    hits: list[str] = []
    for det in policy.loaded.model.controls.detection:
        if not any(technique_matches(t, step.technique) for t in det.techniques):
            continue
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
