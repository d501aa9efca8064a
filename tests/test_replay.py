"""A solve is reused after an edit only when the edited policy answers alike
(:func:`ztsim.engine.replay.same_answers`): then a fresh solve of the edited policy is
the earlier solve, fact for fact, cost for cost, step for step.

Each rule of a heterogeneous estate's policies is edited in turn (its action flipped,
its services narrowed, its source widened); where the check says "same answers",
the edited policy is solved anew and compared with the earlier solve.  The edits
must also hit both outcomes, so that neither branch is left untested.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest

from ztsim.analysis.analyze import Needs, analyze
from ztsim.analysis.workspace import Workspace
from ztsim.engine.attack import AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.fixpoint import Solution, goal_facts, solve
from ztsim.engine.plans import goal_costs, plan_solve
from ztsim.engine.replay import same_answers
from ztsim.inputs.loader import load_policies, load_topology, policy_from_text
from ztsim.output.checkjson import check_json_text, result_text

#: A rule line (segmentation `r`, egress `e`): its id, its action and its `from`
#: (``any`` or a mapping, one level nested).
RULE = re.compile(
    r"^    - \{id: ([re]\d+), action: (allow|deny), from: (any|\{(?:[^{}]|\{[^{}]*\})*\}), ", re.M
)


@pytest.fixture(scope="module")
def estate(h600: Path) -> Path:
    """The heterogeneous estate of 600 hosts shared by the session (``conftest.h600``)."""
    return h600


def _flip(m: re.Match[str]) -> str:
    other = "deny" if m.group(2) == "allow" else "allow"
    return m.group(0).replace(f"action: {m.group(2)}", f"action: {other}", 1)


def _widen(m: re.Match[str]) -> str:
    return m.group(0).replace(f"from: {m.group(3)}", "from: any", 1)


EDITS: dict[str, Callable[[re.Match[str]], str]] = {"flip": _flip, "widen": _widen}


def _edited(text: str) -> Iterator[tuple[str, str]]:
    """Texts with one rule edited (every fourth segmentation rule, every egress rule),
    each edit in turn."""
    for n, m in enumerate(RULE.finditer(text)):
        if n % 4 and m.group(1)[0] == "r":
            continue
        for name, edit in EDITS.items():
            new = edit(m)
            if new != m.group(0):
                yield f"{m.group(1)} {name}", text[: m.start()] + new + text[m.end() :]


def _same_solve(a: Solution, b: Solution) -> None:
    assert a.cost == b.cost
    assert list(a.order) == list(b.order)
    assert a.best == b.best
    assert list(a.fired) == list(b.fired)


@pytest.mark.parametrize("solver", [solve, plan_solve], ids=["solve", "plan_solve"])
def test_same_answers_means_the_same_solve(estate: Path, solver: Callable[..., Solution]) -> None:
    topology = load_topology(estate / "topology.yaml")
    model = AttackModel(topology)
    outcomes: dict[bool, int] = {True: 0, False: 0}
    for path in sorted((estate / "policies").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        before = model.compile(policy_from_text(text, str(path)))
        earlier = solver(model, before)
        for _, new_text in _edited(text):
            after = model.compile(policy_from_text(new_text, str(path)), previous=before)
            same = same_answers(before, after)
            outcomes[same] += 1
            if same:
                _same_solve(earlier, solver(model, after))
    assert outcomes[True] > 0 and outcomes[False] > 0, outcomes



def test_a_replayed_recheck_reports_what_a_cold_check_does(estate: Path, tmp_path: Path) -> None:
    # The whole report (goals, plans, flows, rule impact), byte for byte, after
    # edits of which some are replayed and some solved.
    shutil.copytree(estate, tmp_path / "s")
    topology, policies = tmp_path / "s" / "topology.yaml", tmp_path / "s" / "policies"
    ws = Workspace(topology)
    ws.analyze([policies])
    path = policies / "h-two.yaml"
    text = path.read_text(encoding="utf-8")
    count = len(RULE.findall(text))
    kinds = set()
    for i in range(3, count, max(1, count // 6)):
        m = list(RULE.finditer(text))[i]  # (positions shift with each edit)
        text = text[: m.start()] + _flip(m) + text[m.end() :]
        path.write_text(text, encoding="utf-8")
        replays = ws.stats.replays
        hot = check_json_text(ws.analyze([policies]))
        kinds.add(ws.stats.replays > replays)
        needs = Needs(warnings=True, result_text=result_text)
        cold = analyze(load_topology(topology), load_policies([policies]), needs)
        assert hot == check_json_text(cold), m.group(1)
    assert kinds == {True, False}


class _Recording:
    """A compiled policy that records which of its attributes are read."""

    def __init__(self, inner: CompiledPolicy) -> None:
        self._inner = inner
        self.asked: set[str] = set()

    def __getattr__(self, name: str) -> object:
        self.asked.add(name)
        return getattr(self._inner, name)


#: What :func:`~ztsim.engine.replay.same_answers` compares (or holds equal by
#: requiring the earlier classes and target groups): a solve or a goal's cost that
#: reads anything else of the policy must have it compared there first.
COMPARED = {
    "reach",
    "source_class",
    "targets",
    "egress_allowed",
    "egress_class",
    "traffic",
    "mfa",
    "encrypt_in_transit",
}


def test_the_solve_asks_only_what_replay_compares(estate: Path) -> None:
    topology = load_topology(estate / "topology.yaml")
    model = AttackModel(topology)
    goals = goal_facts(topology)
    for policy in load_policies([estate / "policies"]):
        recording = _Recording(model.compile(policy))
        compiled = cast(CompiledPolicy, recording)
        for sol in (solve(model, compiled), plan_solve(model, compiled)):
            goal_costs(sol, goals, False)
        assert recording.asked and recording.asked <= COMPARED, recording.asked - COMPARED
