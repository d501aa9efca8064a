"""Per-rule impact: the plans a rule enables or blocks, the legitimate flows it carries.

For each rule of a policy (and each section's ``default``), over a set of plans
judged against that policy:

* ``plans_enabled`` — plans with a step the rule allows (a flow, an egress, or the
  legitimate traffic a sniff step reads), counting only steps before the plan's
  blocking step, since later ones never happen; ``plans_open`` of those are open;
* ``plans_blocked`` — plans whose first forbidden step the rule denies;
* ``traffic`` — legitimate flows the rule decides and allows (they depend on it);
  ``traffic_denied`` — those it decides and denies (it breaks them).

``check`` counts over the cheapest plan per goal under each judged policy and,
for topologies of at most :data:`REFERENCE_LIMIT` hosts, under the reference
policy (:class:`ImpactBasis`, :func:`basis_impact`); ``paths`` counts over the
plans it lists (:func:`rule_impact`, from their verdicts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from json.encoder import encode_basestring
from typing import Any, NamedTuple, cast

from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.decisions import Decision
from ztsim.engine.extraction import Plan
from ztsim.engine.steps import Step
from ztsim.engine.verdicts import PlanVerdict, step_outcome
from ztsim.inputs.loaded import LoadedPolicy

__all__ = [
    "REFERENCE_LIMIT",
    "ImpactBasis",
    "ReducedBasis",
    "RuleImpact",
    "basis_impact",
    "counts_reference",
    "rows_json_text",
    "rule_impact",
]

#: Up to this many hosts, ``check`` also counts the reference policy's cheapest plans
#: (one more fixpoint); above it, only the judged policies' own.
REFERENCE_LIMIT = 2000

RuleRef = tuple[str, str]  # (section, rule id or "default")


class RuleImpact(NamedTuple):
    """What one rule (or a section's default) does to plans and legitimate flows.

    A named tuple: a check builds one per rule of every policy (tens of thousands
    on large estates), and a frozen dataclass is slower to build.
    """

    section: str
    rule: str
    action: str
    line: int | None
    plans_enabled: int
    plans_open: int
    plans_blocked: int
    traffic: int
    traffic_denied: int
    #: The file ``line`` is in (``None`` with it): the policy's own, or, for a
    #: policy compiled from other files (an AWS or Kubernetes import), the file
    #: of the object the rule compiles.
    file: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON row (``rule`` is the id or ``default``)."""
        return {
            "section": self.section,
            "rule": self.rule,
            "action": self.action,
            "file": self.file,
            "line": self.line,
            "plans_enabled": self.plans_enabled,
            "plans_open": self.plans_open,
            "plans_blocked": self.plans_blocked,
            "traffic": self.traffic,
            "traffic_denied": self.traffic_denied,
        }

    def place(self, policy_path: str) -> str:
        """Where the rule stands, for a table under the policy's title: its line
        in ``policy_path``, else ``FILE:LINE``, the file relative to the policy's
        folder (an import's: ``security-groups.json:12``); "" when unknown.

        >>> row = RuleImpact("egress", "r", "deny", 12, 0, 0, 0, 0, 0, "aws/sg.json")
        >>> row.place("aws"), row.place("aws/plan.json"), row.place("aws/sg.json")
        ('sg.json:12', 'sg.json:12', '12')
        """
        if self.line is None:
            return ""
        if self.file is None or self.file == policy_path:
            return str(self.line)
        file = self.file
        for folder in (policy_path, policy_path.rpartition("/")[0]):
            if folder and file.startswith(folder + "/"):
                file = file[len(folder) + 1 :]
                break
        return f"{file}:{self.line}"


def rows_json_text(rows: Sequence[RuleImpact]) -> str:
    """The JSON text of ``[x.to_json() for x in rows]``, as
    :func:`ztsim.output.jsontext.dump` writes it.

    Written a row at a time from pieces: large estates have tens of thousands of
    rows, and the general writer is slower.  Most rows count
    nothing (a rule no plan or flow uses): their counts are one constant piece.

    >>> import json
    >>> rows = [
    ...     RuleImpact("egress", "no-paste", "deny", 12, 0, 0, 1, 0, 0, "policy.yaml"),
    ...     RuleImpact("egress", "default", "allow", None, 0, 0, 0, 0, 0),
    ... ]
    >>> rows_json_text(rows) == json.dumps([r.to_json() for r in rows], indent=2)
    True
    >>> print(rows_json_text(rows[1:]))
    [
      {
        "section": "egress",
        "rule": "default",
        "action": "allow",
        "file": null,
        "line": null,
        "plans_enabled": 0,
        "plans_open": 0,
        "plans_blocked": 0,
        "traffic": 0,
        "traffic_denied": 0
      }
    ]
    """
    if not rows:
        return "[]"
    heads: dict[str, str] = {}  # by section: up to the rule id
    middles: dict[str, str] = {}  # by action: from after the rule id to the file
    files: dict[str | None, str] = {}  # by file: it and the key of the line
    parts = []
    for section, rule, action, line, enabled, open_, blocked, traffic, denied, file in rows:
        head = heads.get(section)
        if head is None:
            head = heads[section] = (
                f'  {{\n    "section": {encode_basestring(section)},\n    "rule": '
            )
        middle = middles.get(action)
        if middle is None:
            middle = middles[action] = (
                f',\n    "action": {encode_basestring(action)},\n    "file": '
            )
        placed = files.get(file)
        if placed is None:
            shown = "null" if file is None else encode_basestring(file)
            placed = files[file] = f'{shown},\n    "line": '
        at = "null" if line is None else int.__repr__(line)
        if enabled or open_ or blocked or traffic or denied:
            counts = _counts_text(enabled, open_, blocked, traffic, denied)
        else:
            counts = _NO_COUNTS
        parts.append(f"{head}{encode_basestring(rule)}{middle}{placed}{at}{counts}")
    return "[\n" + ",\n".join(parts) + "\n]"


def _counts_text(enabled: int, open_: int, blocked: int, traffic: int, denied: int) -> str:
    """A row's counts, from the comma after its line to its closing brace."""
    return (
        f',\n    "plans_enabled": {int.__repr__(enabled)},\n'
        f'    "plans_open": {int.__repr__(open_)},\n'
        f'    "plans_blocked": {int.__repr__(blocked)},\n'
        f'    "traffic": {int.__repr__(traffic)},\n'
        f'    "traffic_denied": {int.__repr__(denied)}\n  }}'
    )


_NO_COUNTS = _counts_text(0, 0, 0, 0, 0)


def _ref(d: Decision | None) -> RuleRef | None:
    if d is None or d.reason not in ("rule", "default"):
        return None
    return (d.section, d.rule)


def _refs(d: Decision) -> list[RuleRef]:
    """Each layer's rule a layered decision names, ``LAYER/RULE`` (model v1.1)."""
    if d.parts is None:
        return [(d.section, d.rule)]
    return [(d.section, f"{layer}/{rid}") for layer, rid in d.parts]


def rule_impact(
    compiled: CompiledPolicy,
    verdicts: Sequence[PlanVerdict],
    traffic: Sequence[Decision],
) -> list[RuleImpact]:
    """Count, per rule of ``compiled``, plans enabled, open and blocked and flows carried.

    ``verdicts`` are plan verdicts under this policy; ``traffic`` the decisions on
    the topology's legitimate flows under it.  Rows come in file order, each
    section's ``default`` after its rules.
    """
    pol = compiled.loaded
    layered = pol.model.segmentation.layered or pol.model.egress.layered
    counts = _counts(verdicts, traffic, layered)
    return _rows(pol, counts)


def _counts(
    verdicts: Sequence[PlanVerdict], traffic: Sequence[Decision], layered: bool
) -> dict[RuleRef, list[int]]:
    """Per rule: plans enabled, plans open, plans blocked, flows carried, flows denied."""
    counts: dict[RuleRef, list[int]] = {}

    def count(r: RuleRef, what: int) -> None:
        c = counts.get(r)
        if c is None:
            c = counts[r] = [0, 0, 0, 0, 0]
        c[what] += 1

    for v in verdicts:
        steps = v.steps if v.step is None else v.steps[: v.step]
        # The rules (or defaults) that allow some step taken: _ref, inlined (this
        # runs once per step of every plan).
        refs: set[RuleRef] = {
            (d.section, d.rule)
            for sv in steps
            if (d := sv.decision) is not None and d.allowed and d.reason in ("rule", "default")
        }
        if layered:  # model v1.1: each layer's rule of an allowed flow
            refs = {
                ref
                for sv in steps
                if (d := sv.decision) is not None and d.allowed and d.reason in ("rule", "default")
                for ref in _refs(d)
            }
        for ref in refs:
            count(ref, 0)
            if not v.blocked:
                count(ref, 1)
        if v.step is not None:
            d = v.steps[v.step].decision
            r = _ref(d)
            if r is not None and d is not None and not d.allowed:
                count(r, 2)
    _count_traffic(counts, traffic)
    return counts


def _count_traffic(counts: dict[RuleRef, list[int]], traffic: Iterable[Decision]) -> None:
    """Add the flows each rule carries (3) and denies (4) to ``counts``.

    Tens of thousands of flows share a few dozen decisions: each distinct one is
    counted once, with its number of flows.
    """
    for d, n in Counter(traffic).items():
        r = _ref(d)
        if r is None:
            continue
        if d.parts is not None and d.allowed:
            for part in _refs(d):
                _add(counts, part, 3, n)
        else:
            _add(counts, r, 3 if d.allowed else 4, n)


def _add(counts: dict[RuleRef, list[int]], r: RuleRef, what: int, n: int) -> None:
    c = counts.get(r)
    if c is None:
        c = counts[r] = [0, 0, 0, 0, 0]
    c[what] += n


class ReducedBasis:
    """A list of plans reduced to what a policy decides of them: each distinct step
    that a policy judges (a flow, a sniffed flow, an egress) once, and each plan as
    the indices of its judged steps, in order.

    The same for every policy: a check counts the impact of each of its policies
    over one basis, so each plan's steps are read and looked up once, not once per
    policy, and a policy judges each distinct step once (:func:`basis_impact`).
    Steps without a network flow never block a plan nor name a rule: they are left
    out.
    """

    __slots__ = ("plans", "steps")

    def __init__(self, plans: Iterable[Plan]) -> None:
        #: One step per distinct judged part (:func:`_judged_part`).
        self.steps: list[Step] = []
        #: Each plan's judged steps, as indices into :attr:`steps`.
        self.plans: list[tuple[int, ...]] = []
        by_part: dict[tuple[object, ...], int] = {}
        # Plans of one solve share their step objects: a step met again costs an
        # int look-up (the plans hold the steps, so no id is reused meanwhile).
        by_id: dict[int, int] = {}
        steps, out = self.steps, self.plans
        for plan in plans:
            found: list[int] = []
            for st in plan.steps:
                j = by_id.get(id(st))
                if j is None:
                    part = _judged_part(st)
                    if part is None:
                        j = -1
                    else:
                        j = by_part.get(part)
                        if j is None:
                            j = by_part[part] = len(steps)
                            steps.append(st)
                    by_id[id(st)] = j
                if j >= 0:
                    found.append(j)
            out.append(tuple(found))


def _judged_part(st: Step) -> tuple[object, ...] | None:
    """What a policy's verdict on ``st`` depends on, as
    :func:`~ztsim.engine.verdicts.step_outcome` reads it; ``None`` for a step no
    policy judges."""
    if st.flow is not None:
        return ("flow", st.flow, st.credential if st.kind == "login" else None)
    if st.kind == "sniff":
        return ("sniff", st.traffic)
    if st.egress is not None:
        return ("egress", st.egress)
    return None


class ImpactBasis(list[Plan]):
    """The plans ``check`` counts rule impact over, with their :class:`ReducedBasis`
    worked out once for all the policies counted over them."""

    _reduced: ReducedBasis | None = None

    def reduced(self) -> ReducedBasis:
        """The plans as :class:`ReducedBasis` (worked out on first use)."""
        found = self._reduced
        if found is None:
            found = self._reduced = ReducedBasis(self)
        return found

    def __reduce__(self) -> tuple[type[ImpactBasis], tuple[list[Plan]]]:
        # Sent to another process as its plans: the reduction is redone there if needed.
        return ImpactBasis, (list(self),)


def basis_impact(
    compiled: CompiledPolicy, plans: Sequence[Plan], traffic: Iterable[Decision]
) -> list[RuleImpact]:
    """:func:`rule_impact` over ``plans``, each judged to its blocking step, without
    judging them one by one.

    The rows are those of ``rule_impact(compiled, judge_plans(plans, compiled,
    whole=False), traffic)``: each distinct judged step is decided once
    (:func:`~ztsim.engine.verdicts.step_outcome`) and its rules interned, then each
    plan's judged steps are walked to its first blocked one.  No verdict, step
    verdict, explanation or detection is built: counting reads none of them.
    """
    basis = plans.reduced() if isinstance(plans, ImpactBasis) else ReducedBasis(plans)
    counts = _basis_counts(basis, compiled)
    _count_traffic(counts, traffic)
    return _rows(compiled.loaded, counts)


def _basis_counts(basis: ReducedBasis, compiled: CompiledPolicy) -> dict[RuleRef, list[int]]:
    """Per rule: plans enabled, open and blocked (flows not yet counted)."""
    refs: list[RuleRef] = []  # the rules named, each once
    index: dict[RuleRef, int] = {}

    def interned(r: RuleRef) -> int:
        i = index.get(r)
        if i is None:
            i = index[r] = len(refs)
            refs.append(r)
        return i

    # Per distinct step: the rules allowing it (None where it is blocked), and the
    # rule blocking it (-1 for none, or not blocked).
    allows: list[tuple[int, ...] | None] = []
    blocks: list[int] = []
    for st in basis.steps:
        allowed, d = step_outcome(st, compiled)
        if allowed:
            if d is not None and d.allowed and d.reason in ("rule", "default"):
                allows.append(tuple([interned(r) for r in _refs(d)]))
            else:
                allows.append(())
            blocks.append(-1)
        else:
            allows.append(None)
            r = _ref(d)
            blocks.append(interned(r) if r is not None and d is not None and not d.allowed else -1)
    enabled, open_, blocked = [0] * len(refs), [0] * len(refs), [0] * len(refs)
    for plan in basis.plans:
        taken: set[int] = set()
        for j in plan:
            got = allows[j]
            if got is None:  # blocked here: later steps never happen
                if blocks[j] >= 0:
                    blocked[blocks[j]] += 1
                break
            taken.update(got)
        else:
            for k in taken:
                open_[k] += 1
        for k in taken:
            enabled[k] += 1
    return {r: [enabled[k], open_[k], blocked[k], 0, 0] for k, r in enumerate(refs)}


#: The counts of a rule nothing touched.
_NONE = (0, 0, 0, 0, 0)


def _rows(pol: LoadedPolicy, counts: dict[RuleRef, list[int]]) -> list[RuleImpact]:
    """One row per rule of ``pol`` in file order, each section's default after its rules
    (model v1.1: a row per LAYER/RULE, each layer's default after its rules)."""
    marks = pol.rule_marks()
    # The file a mark is in (an import's: the object's).
    place = cast(Callable[[str, str], str], pol.rule_file)
    # One row per rule (tens of thousands on large policies, most with nothing
    # counted): one key and two lookups each, the row built as the tuple it is.
    rows: list[RuleImpact] = []
    append, new = rows.append, tuple.__new__

    def row(key: RuleRef, action: str) -> None:
        m = marks.get(key)
        line, file = (m.line, place(*key)) if m else (None, None)
        append(new(RuleImpact, (*key, action, line, *counts.get(key, _NONE), file)))

    model = pol.model
    for section, sec in (("segmentation", model.segmentation), ("egress", model.egress)):
        if sec.layers is not None:
            for i, (layer_id, layer_default) in enumerate(
                zip(sec.layer_ids(), [y.default for y in sec.layers], strict=True)
            ):
                for p in sec.placed_rules():
                    if p.layer_index == i:
                        row((section, f"{layer_id}/{p.rule.id}"), p.rule.action)
                row((section, f"{layer_id}/default"), layer_default)
            continue
        for rule in sec.rules:
            row((section, rule.id), rule.action)
        append(
            RuleImpact(
                section, "default", sec.default, None, *counts.get((section, "default"), _NONE)
            )
        )
    return rows


def counts_reference(hosts: int, paths: Sequence[str]) -> bool:
    """Whether :func:`ztsim.analysis.judged.impact_basis` adds the reference policy's
    plans, for a topology of ``hosts`` hosts and judged policies from ``paths``.

    >>> counts_reference(40, ["policies/flat.yaml"]), counts_reference(40, ["<reference>"])
    (True, False)
    >>> counts_reference(REFERENCE_LIMIT + 1, ["policies/flat.yaml"])
    False
    """
    return hosts <= REFERENCE_LIMIT and "<reference>" not in paths
