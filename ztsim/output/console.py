"""Text and JSON renderings of analyses, for the command line.

Rendering is deterministic: the same analysis gives the same bytes (rich renders
at a fixed width and without colour when the output is not a terminal).  Every line
holding user text is escaped as one line (:func:`ztsim.model.textsafe.safe`, by
:class:`~ztsim.output.tables.StyledLines` and :func:`~ztsim.output.tables.box_table` for
their lines and cells): a name's control, bidi or newline characters are shown
escaped, never sent to the terminal.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable, Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.text import Text

from ztsim.analysis.judged import PARALLEL_HOSTS, Analysis
from ztsim.analysis.results import PlanRow, PolicyResult, goal_label
from ztsim.engine.plans import Plan
from ztsim.engine.steps import Fact, Step
from ztsim.engine.verdicts import PlanVerdict, judge
from ztsim.model.techniques import technique
from ztsim.model.textsafe import json_safe, safe
from ztsim.output.jsontext import Encoded, dump, dump_json
from ztsim.output.tables import BoxTable, Cell, Column, StyledLines, box_table

__all__ = [
    "dump_json",
    "paths_json",
    "paths_json_text",
    "plan_chain",
    "render_check",
    "render_paths",
    "render_rule_impact",
    "select_goals",
    "step_line",
]


def render_check(console: Console, a: Analysis, rules: bool = False) -> None:
    """The verdict on top, then one summary table per policy (and per rule with ``rules``).

    Under each table, what to run next: ``ztsim paths`` for the plans to the reachable
    goals and ``ztsim harden`` for a fix; for a blocked goal, what stops its
    cheapest plan.  Everything is gathered and printed at once, the tables drawn by
    :func:`ztsim.output.tables.box_table` (rich's own tables are slow on a large estate).
    """
    out: list[RenderableType] = []
    bad = [r for r in a.results if r.reachable_goals]
    policies = f"polic{'y' if len(a.results) == 1 else 'ies'}"
    head = StyledLines()
    if bad:
        verdict = (
            f"FAIL: the attacker reaches a goal under {len(bad)} of {len(a.results)} {policies} "
            f"({', '.join(r.policy.name for r in bad)})"
        )
        head.add(verdict, "bold red")
    else:
        verdict = (
            f"PASS: no exfiltration or tampering goal is reachable under "
            f"{'the' if len(a.results) == 1 else 'any of the'} {len(a.results)} {policies}"
        )
        head.add(verdict, "bold green")
    head.add(f"topology {a.topology.name} ({a.topology.path})")
    _loud_warnings(head, a)
    out.append(head)
    for r in a.results:
        broken = r.broken_traffic
        title = StyledLines()
        title.add("")
        title.add(
            f"{r.policy.name} ({r.policy.path}): {len(r.reachable_goals)}/{len(r.goals)} goals "
            f"reachable: {r.records_exfiltrable:,} records exfiltrable, "
            f"{r.records_tamperable:,} records tamperable, "
            f"{len(broken)}/{len(r.traffic)} legitimate flows broken",
            "italic",
        )
        rows: list[list[Cell]] = [
            [
                goal_label(g.goal),
                ("REACHABLE", "red") if g.reachable else ("blocked", "green"),
                g.cost_text,
                "" if g.records is None else f"{g.records:,}",
                plan_chain(g.plan.steps) if g.plan else "",
            ]
            for g in r.goals
        ]
        out += [title, _table(console, _GOAL_COLUMNS, rows)]
        lines = StyledLines()
        if not all(g.cost_exact for g in r.goals):
            lines.add("  ≤N (≥L): a plan of N steps found, at least L steps proven needed")
        for t in broken:
            what = f"{t.source} -> {t.to} {t.service}: {t.decision.describe(r.policy)}"
            lines.add(f"  broken: {what}", "yellow")
        _policy_warnings(lines, a, r)
        _why_blocked(lines, a, r)
        _next_commands(lines, a, r)
        out.append(lines)
    console.print(Group(*out), soft_wrap=True)
    if rules:
        from ztsim.analysis.judged import check_impact

        render_rule_impact(console, check_impact(a))


def _loud_warnings(head: StyledLines, a: Analysis) -> None:
    """Under the verdict, what makes it say less than it seems: no data item (nothing
    can be exfiltrated, so the pass judges nothing), and policies naming what the
    topology lacks (a typo there silently changes what a rule matches)."""
    if not a.topology.data:
        head.add(
            "warning: the topology holds no data item: nothing can be exfiltrated or "
            "tampered with, so this verdict judges nothing",
            "bold yellow",
        )
    n = sum(w.omitted or 1 for w in a.warnings or [])
    if n:
        head.add(
            f"warning: {n:,} policy warning{'s' if n > 1 else ''}: names the topology lacks, or "
            "selectors that match nothing in it, so some rules do not match what they seem to "
            "(a typo? listed under each policy; --strict makes them errors)",
            "bold yellow",
        )


#: A policy's warnings listed under its table; the rest are counted.
LISTED_WARNINGS = 5


def _policy_warnings(lines: StyledLines, a: Analysis, r: PolicyResult) -> None:
    """The policy's warnings (names the topology lacks), each at its FILE:LINE:COL."""
    mine = [w for w in a.warnings or [] if w.path == r.policy.path]
    for w in mine[:LISTED_WARNINGS]:
        lines.add(f"  warning: {w.path}:{w.line}:{w.column}: {w.message}", "yellow")
    more = sum(w.omitted or 1 for w in mine[LISTED_WARNINGS:])
    if more:
        lines.add(f"  warning: ... and {more:,} more (listed on standard error)", "yellow")


#: Blocked goals explained per policy under ``check``'s table; the rest are counted.
#: From :data:`~ztsim.analysis.judged.PARALLEL_HOSTS` hosts, none is: ``paths`` is named.
WHY_BLOCKED = 3


def _why_blocked(lines: StyledLines, a: Analysis, r: PolicyResult) -> None:
    """For a blocked goal, where this policy stops the cheapest plan found to it
    (under a judged policy, else under the reference policy)."""
    blocked = [g for g in r.goals if not g.reachable]
    if blocked and len(a.topology.hosts) >= PARALLEL_HOSTS:
        # Judging a plan needs the policy compiled here, which a large estate's check
        # leaves to a second core: the explanation is one command away instead.
        lines.add(f"  {len(blocked)} blocked goal(s); where each plan stops:")
        lines.add(f"    {_command('paths', a, r)}")
        return
    for g in blocked[:WHY_BLOCKED]:
        found = _cheapest_plan(a, g.goal)
        if found is None:
            lines.add(f"  blocked: {goal_label(g.goal)}: no plan even with every flow allowed")
            continue
        plan, under = found
        v = judge(plan, r.compiled)
        lines.add(
            f"  blocked: {goal_label(g.goal)}: its cheapest plan (cost {plan.cost}, "
            f"open under {under}) stops at {v.explanation}",
            "green",
        )
    if len(blocked) > WHY_BLOCKED:
        more = len(blocked) - WHY_BLOCKED
        lines.add(f"  ... and {more} more blocked goal(s); where each plan stops:")
        lines.add(f"    {_command('paths', a, r)}")


def _cheapest_plan(a: Analysis, goal: Fact) -> tuple[Plan, str] | None:
    """The cheapest plan to ``goal`` among the judged policies' own (and the policy),
    else the reference policy's."""
    found = [
        (g.plan, x.policy.name)
        for x in a.results
        for g in x.goals
        if g.goal == goal and g.plan is not None
    ]
    if found:
        return min(found, key=lambda f: (f[0].cost, f[0].key))
    ref = next((g for g in a.reference.goals if g.goal == goal), None)
    if ref is None or ref.plan is None:
        return None
    return ref.plan, "the reference policy (everything allowed)"


def _command(name: str, a: Analysis, r: PolicyResult, *more: str) -> str:
    """``ztsim NAME TOPOLOGY -p POLICY ...`` (or the run's ``--k8s``/``--overlay``),
    quoted for a POSIX shell."""
    policy = r.policy.path if r.policy.path != "<reference>" else None
    return shlex.join(["ztsim", name, *a.topology.arguments(policy), *more])


def _next_commands(lines: StyledLines, a: Analysis, r: PolicyResult) -> None:
    """What to run next for a policy under which a goal is reachable: each command
    on a line of its own, to be copied whole."""
    reachable = r.reachable_goals
    if not reachable:
        return
    goals: list[str] = []
    if len(reachable) < len(r.goals):
        for g in reachable:
            goals += ["--goal", goal_label(g.goal)]
    if r.policy.path == "<reference>":
        lines.add("  next: the plans, step by step (then judge a policy with --policy):")
    else:
        lines.add("  next: the plans, step by step, and the fewest changes that close them:")
    lines.add(f"    {_command('paths', a, r, *goals)}")
    if r.policy.path != "<reference>":
        lines.add(f"    {_command('harden', a, r)}")


def plan_chain(steps: Sequence[Step]) -> str:
    """A plan's steps as ``T1190 portal-web > T1210 api-01 > ...``: each technique and
    the host it acts on (the destination for exfiltration)."""
    return " > ".join(f"{st.technique} {_acts_on(st)}" for st in steps if st.technique is not None)


def _acts_on(st: Step) -> str:
    """The host a step acts on: where a credential is read, data collected or
    tampered with, else the step's target (a host, or where data is sent)."""
    if st.kind in ("steal", "sniff", "collect", "tamper") and st.source:
        return st.source
    return st.target or st.source or "-"


_GOAL_COLUMNS = (
    Column("goal", soft="("),
    Column("verdict", wrap=False),
    Column("cost", right=True, wrap=False),
    Column("records", right=True, wrap=False),
    Column("cheapest plan", sep=" > "),
)

_IMPACT_COLUMNS = (
    Column("section", wrap=False),
    Column("rule", soft="-_."),
    Column("line", right=True, wrap=False),
    Column("action", wrap=False),
    # plans it enables / of those open / plans it blocks / legitimate flows it allows, denies
    *(
        Column(name, right=True, wrap=False)
        for name in ("enables", "open", "blocks", "flows", "denies")
    ),
)


def _table(console: Console, columns: Sequence[Column], rows: list[list[Cell]]) -> BoxTable:
    """``rows`` drawn for ``console``: its width, and ASCII when it cannot show boxes."""
    ascii_only = not console.encoding.lower().startswith("utf")
    return box_table(columns, rows, console.width, ascii_only=ascii_only)


def render_rule_impact(console: Console, impacts: Sequence[tuple[Any, Sequence[Any]]]) -> None:
    """One table per policy: per rule, plans it enables (open) and blocks, flows it carries.

    ``impacts`` pairs each :class:`~ztsim.analysis.results.PolicyResult` with its
    :class:`~ztsim.engine.impact.RuleImpact` rows.
    """
    out: list[RenderableType] = []
    for r, rows in impacts:
        cells: list[list[Cell]] = [
            [
                x.section,
                x.rule,
                safe(x.place(r.policy.path)),  # FILE:LINE when not the policy's own file
                x.action,
                str(x.plans_enabled),
                str(x.plans_open),
                str(x.plans_blocked),
                str(x.traffic),
                str(x.traffic_denied),
            ]
            for x in rows
        ]
        title = f"per-rule impact: {r.policy.name} ({r.policy.path})"
        out += [Text(""), Text(safe(title), style="italic")]
        table = _table(console, _IMPACT_COLUMNS, cells)
        if max(map(cell_len, table.lines), default=0) <= console.width:
            out.append(table)
            continue
        # Too wide for the terminal (the counts cannot wrap): a table per section,
        # without the section column.
        for section in dict.fromkeys(row[0] for row in cells):
            part = [row[1:] for row in cells if row[0] == section]
            out += [Text(f"  {section}"), _table(console, _IMPACT_COLUMNS[1:], part)]
    if out:
        console.print(Group(*out), soft_wrap=True)


def step_line(step: Step) -> str:
    """One line for a step: technique, source -> target, service."""
    tech = technique(step.technique)
    tname = f"{tech.id} {tech.name}" if tech else "-"
    src = step.source or "-"
    svc = f" {step.service}" if step.service else ""
    return f"{step.kind:<17} {tname:<46} {src} -> {step.target}{svc}"


def render_paths(console: Console, a: Analysis, rows_by_goal: dict[Fact, list[PlanRow]]) -> None:
    """Every plan, step by step, then its verdict under each policy.

    The lines are gathered and printed at once: one ``print`` per line costs more
    than the rest of ``paths`` on a large estate.
    """
    out = StyledLines()
    for goal, rows in rows_by_goal.items():
        out.add(f"== {goal_label(goal)}: {len(rows)} plan(s)", "bold")
        if not rows:
            out.add("   no plan: unreachable even under the reference policy")
        for n, row in enumerate(rows, 1):
            p = row.plan
            out.add(
                f"-- plan {n} [{p.ident}] cost {p.cost}, entry {p.entry}, "
                f"found under {', '.join(row.found_under)}"
            )
            for i, st in enumerate(p.steps, 1):
                out.add(f"   {i:>2}. {step_line(st)}")
                out.add(f"       because {st.reason}", "dim")
            for v in row.verdicts:
                if v.blocked:
                    out.add(f"   {v.policy}: BLOCKED at {v.explanation}", "green")
                else:
                    out.add(f"   {v.policy}: OPEN, P(detected)={v.p_detected:.2f}", "red")
        out.add("")
    if out.lines:
        console.print(out, soft_wrap=True)


def paths_json(a: Analysis, rows_by_goal: dict[Fact, list[PlanRow]]) -> dict[str, Any]:
    """Plans and verdicts as one JSON object."""
    return _paths_data(a, rows_by_goal, _step_json, _verdict_json, list)


def paths_json_text(a: Analysis, rows_by_goal: dict[Fact, list[PlanRow]]) -> str:
    """``dump_json(paths_json(a, rows_by_goal))``, the same bytes, written faster.

    Plans share most of their steps, and many share verdicts: each step's JSON is
    written once and reused (:class:`Encoded`), as is each distinct verdict and
    list of policy names, and the rest goes through :func:`_dump`, which writes
    what ``json.dumps(..., indent=2, ensure_ascii=False)`` does without its
    generators.
    """
    steps: dict[int, tuple[Step, Encoded]] = {}
    verdicts: dict[tuple[Any, ...], Encoded] = {}
    names: dict[tuple[str, ...], Encoded] = {}

    def step(st: Step) -> Encoded:
        # Keyed by id: the entry holds the step, so the id is not reused meanwhile.
        hit = steps.get(id(st))
        if hit is None or hit[0] is not st:
            hit = steps[id(st)] = (st, Encoded(dump(_step_json(st))))
        return hit[1]

    def verdict(v: PlanVerdict) -> Encoded:
        data = _verdict_json(v)
        # Keyed by the values and their types (1 == 1.0 == True, yet each is written
        # apart); floats by their text (0.0 == -0.0).
        key = tuple((type(x), repr(x) if isinstance(x, float) else x) for x in data.values())
        hit = verdicts.get(key)
        if hit is None:
            hit = verdicts[key] = Encoded(dump(data))
        return hit

    def found_under(policies: tuple[str, ...]) -> Encoded:
        hit = names.get(policies)
        if hit is None:
            hit = names[policies] = Encoded(dump(list(policies)))
        return hit

    return json_safe(dump(_paths_data(a, rows_by_goal, step, verdict, found_under))) + "\n"


def _paths_data(
    a: Analysis,
    rows_by_goal: dict[Fact, list[PlanRow]],
    step: Callable[[Step], Any],
    verdict: Callable[[PlanVerdict], Any],
    found_under: Callable[[tuple[str, ...]], Any],
) -> dict[str, Any]:
    goals: list[dict[str, Any]] = []
    for goal, rows in rows_by_goal.items():
        goals.append(
            {
                "goal": goal_label(goal),
                "kind": "exfiltration" if goal[0] == "exfil" else "tampering",
                "data": goal[1],
                "plans": [
                    {
                        "id": row.plan.ident,
                        "cost": row.plan.cost,
                        "entry": row.plan.entry,
                        "found_under": found_under(row.found_under),
                        "steps": [step(st) for st in row.plan.steps],
                        "verdicts": [verdict(v) for v in row.verdicts],
                    }
                    for row in rows
                ],
            }
        )
    from ztsim.analysis.judged import rows_impact

    plan_rows = [row for rows in rows_by_goal.values() for row in rows]
    impact = rows_impact(a, [row.verdicts for row in plan_rows])
    rules = [
        {"policy": r.policy.name, "file": r.policy.path, "rules": [x.to_json() for x in xs]}
        for r, xs in impact
    ]
    return {"topology": a.topology.name, "goals": goals, "rules": rules}


def _step_json(st: Step) -> dict[str, Any]:
    return {
        "kind": st.kind,
        "technique": st.technique,
        "technique_name": t.name if (t := technique(st.technique)) else None,
        "source": st.source,
        "target": st.target,
        "service": st.service,
        "because": st.reason,
    }


def _verdict_json(v: PlanVerdict) -> dict[str, Any]:
    return {
        "policy": v.policy,
        "blocked": v.blocked,
        "step": None if v.step is None else v.step + 1,
        "by": v.blocked_by,
        "explanation": v.explanation,
        "p_detected": v.p_detected,
    }


def goals_selected(a: Analysis, data: Sequence[str] | None) -> list[Fact]:
    """The goals about the data items named (all goals when none is named)."""
    if not data:
        return a.goals
    return [g for g in a.goals if g[1] in set(data)]


_GOAL_FORM = re.compile(r"(exfiltrate|tamper)\((.*)\)")


def select_goals(goals: Sequence[Fact], specs: Sequence[str] | None) -> list[Fact]:
    """The goals ``--goal`` names, in the order of ``goals`` (all when none is named).

    A spec is ``DATA`` (both goals about it), ``exfiltrate(DATA)`` or
    ``tamper(DATA)``.  A spec naming no goal raises :class:`ValueError` with one
    message per such spec (the closest data id suggested).

    >>> goals = [("exfil", "db"), ("tamper", "db"), ("exfil", "logs")]
    >>> select_goals(goals, ["db"])
    [('exfil', 'db'), ('tamper', 'db')]
    >>> select_goals(goals, ["tamper(db)", "exfiltrate(logs)"])
    [('tamper', 'db'), ('exfil', 'logs')]
    >>> try:
    ...     select_goals(goals, ["tamper(logs)", "dbb"])
    ... except ValueError as exc:
    ...     print("\\n".join(exc.args[0]))
    --goal 'tamper(logs)': logs has no such goal (its goals: exfiltrate(logs))
    --goal 'dbb': no data item 'dbb' in the topology (did you mean 'db'?)
    """
    if not specs:
        return list(goals)
    data_ids = sorted({g[1] for g in goals})
    wanted: set[Fact] = set()
    problems: list[str] = []
    for spec in specs:
        m = _GOAL_FORM.fullmatch(spec.strip())
        data = m.group(2).strip() if m else spec.strip()
        kinds = ("exfil" if m.group(1) == "exfiltrate" else "tamper",) if m else ("exfil", "tamper")
        about = [g for g in goals if g[1] == data]
        if not about:
            close = difflib.get_close_matches(data, data_ids, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"--goal {spec!r}: no data item {data!r} in the topology{hint}")
            continue
        chosen = [g for g in about if g[0] in kinds]
        if not chosen:
            have = ", ".join(goal_label(g) for g in about)
            problems.append(f"--goal {spec!r}: {data} has no such goal (its goals: {have})")
        wanted.update(chosen)
    if problems:
        raise ValueError(problems)
    return [g for g in goals if g in wanted]
