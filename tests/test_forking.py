"""Work on two cores gives what one core gives, whatever happens in the child.

``fork_map``, ``Tickets`` and ``Helper`` on their own, then ``analyze`` sharing its
policies with a child: same results, same JSON, a failing or garbling child
leaving its share to the parent.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import PARENT, TAKE, parent_takes_at_most

import ztsim.analysis.analyze
import ztsim.analysis.judged
import ztsim.analysis.results
import ztsim.analysis.twocores
import ztsim.engine.impact
from ztsim.analysis.analyze import Needs, analyze
from ztsim.analysis.results import PolicyResult
from ztsim.engine.attack import AttackModel
from ztsim.inputs.checks import policy_warnings
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.loader import load_policies, load_topology, policy_from_text
from ztsim.model.diagnostics import Diagnostic
from ztsim.output.checkjson import check_json_text, result_text
from ztsim.output.jsontext import dump_json
from ztsim.perf.forking import PIPE_BYTES, Helper, Tickets, fork_map

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZTSIM_PARALLEL", raising=False)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 101])
def test_same_results_in_the_same_order(n: int) -> None:
    items = list(range(n))
    assert fork_map(lambda x: (x, x * x), items) == [(x, x * x) for x in items]


def test_half_of_the_items_run_in_a_child() -> None:
    parent = os.getpid()
    pids = fork_map(lambda _: os.getpid(), list(range(6)))
    assert pids[0::2] == [parent] * 3
    assert all(p != parent for p in pids[1::2])


def test_a_failing_child_leaves_its_share_to_the_parent() -> None:
    parent = os.getpid()

    def only_here(x: int) -> int:
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return x + 1

    assert fork_map(only_here, list(range(7))) == list(range(1, 8))


def test_results_pickle_refuses_are_computed_in_the_parent() -> None:
    out = fork_map(lambda x: lambda: x, list(range(5)))  # a lambda does not pickle
    assert [f() for f in out] == list(range(5))


def test_an_error_in_the_parent_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = os.getpid()

    def fails_here(x: int) -> int:
        if os.getpid() == parent:
            raise ValueError(x)
        return x

    with pytest.raises(ValueError):
        fork_map(fails_here, list(range(4)))
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # the child was reaped


def test_off_means_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZTSIM_PARALLEL", "off")
    parent = os.getpid()
    assert fork_map(lambda _: os.getpid(), list(range(6))) == [parent] * 6


def test_plans_by_goal_on_two_cores_are_the_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    topo = load_topology(ROOT / "topologies" / "pajemploi.yaml")
    pols = load_policies([ROOT / "policies"])
    expected = analyze(topo, pols)
    wanted = {g: expected.plans(g, 4) for g in expected.goals}
    monkeypatch.setattr(ztsim.analysis.judged, "PARALLEL_HOSTS", 0)
    a = analyze(topo, pols)
    got = a.plans_by_goal(list(reversed(a.goals)), 4)
    assert list(got) == list(reversed(a.goals))
    assert got == wanted


def _scenario() -> tuple[LoadedTopology, list[LoadedPolicy]]:
    return load_topology(ROOT / "topologies" / "pajemploi.yaml"), load_policies([ROOT / "policies"])


def test_each_ticket_is_taken_once(tmp_path: Path) -> None:
    tickets = Tickets(500)
    got = tmp_path / "child"

    def serve(receive: Any, send: Any) -> None:
        taken = []
        while (i := tickets.take()) is not None:
            taken.append(i)
        send(taken)

    helper = Helper(serve)
    try:
        here = []
        while (i := tickets.take()) is not None:
            here.append(i)
        there = helper.receive()
    finally:
        helper.close()
        tickets.close()
    assert isinstance(there, list)
    assert sorted(here + there) == list(range(500))
    assert here == sorted(here) and there == sorted(there)
    assert not got.exists()


def test_tickets_fit_in_a_pipe() -> None:
    Tickets(Tickets.MOST).close()  # written whole without a reader: must not block
    with pytest.raises(ValueError):
        Tickets(Tickets.MOST + 1)


def test_a_helper_talks_both_ways() -> None:
    def serve(receive: Any, send: Any) -> None:
        while (x := receive()) is not None:
            send([x, os.getpid()])

    helper = Helper(serve)
    try:
        for x in (1, "two", list(range(400_000))):  # the last is larger than a pipe holds
            assert helper.send(x)
            got = helper.receive()
            assert isinstance(got, list) and got[0] == x and got[1] != os.getpid()
    finally:
        helper.close()
    assert helper.receive() is None and not helper.send(1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are Linux's")
def test_a_message_that_fits_the_pipe_is_sent_while_the_other_is_busy() -> None:
    """The parent of ``check`` sends its plans (600 KB on L) and goes on counting:
    the send must not wait for the child to read."""
    gate_read, gate_write = os.pipe()

    def serve(receive: Any, send: Any) -> None:
        os.read(gate_read, 1)  # busy until the parent has sent
        send(receive())

    helper = Helper(serve)
    try:
        big = "x" * (PIPE_BYTES // 2)
        done = threading.Event()
        sender = threading.Thread(target=lambda: helper.send(big) and done.set(), daemon=True)
        sender.start()
        sender.join(timeout=30)
        assert done.is_set(), "send waited for the child to read"
        os.write(gate_write, b"!")
        assert helper.receive() == big
    finally:
        os.write(gate_write, b"!")
        helper.close()
        os.close(gate_read)
        os.close(gate_write)


@pytest.mark.parametrize("how", ["raise", "exit", "garble", "nothing"])
def test_a_helper_that_fails_sends_none(how: str) -> None:
    def serve(receive: Any, send: Any) -> None:
        if how == "raise":
            raise RuntimeError("the child fails")
        if how == "exit":
            os._exit(3)
        if how == "garble":
            send(lambda: 1)  # pickle refuses: nothing goes
            return

    helper = Helper(serve)
    try:
        assert helper.receive() is None
    finally:
        helper.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # the child was reaped


def test_closing_a_helper_ends_a_busy_child() -> None:
    def serve(receive: Any, send: Any) -> None:
        while True:
            pass

    helper = Helper(serve)
    helper.close()  # does not wait for the loop
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_a_helper_closed_without_waiting_is_reaped_by_the_next_fork() -> None:
    """``check`` does not wait for its child's teardown: the child is reaped later,
    and no zombie outlives the next fork."""

    def serve(receive: Any, send: Any) -> None:
        while True:
            pass

    Helper(serve).close(wait=False)
    Helper(lambda receive, send: None).close()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def _solved_where(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Log each policy judged, with the process that judged it."""
    judge = ztsim.analysis.results.judge_policy

    def spy(model: AttackModel, policy: LoadedPolicy, *rest: Any, **kw: Any) -> PolicyResult:
        with log.open("a") as f:
            f.write(f"{os.getpid()} {policy.name}\n")
        return judge(model, policy, *rest, **kw)

    monkeypatch.setattr(ztsim.analysis.analyze, "judge_policy", spy)
    monkeypatch.setattr(ztsim.analysis.twocores, "judge_policy", spy)


@pytest.mark.parametrize(("for_plans", "for_check"), [(False, False), (False, True), (True, False)])
def test_policies_judged_on_two_cores_give_the_same_results(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, for_plans: bool, for_check: bool
) -> None:
    topo, pols = _scenario()
    monkeypatch.setenv("ZTSIM_PARALLEL", "off")
    expected = analyze(topo, pols, Needs(plan_listing=for_plans))
    monkeypatch.delenv("ZTSIM_PARALLEL")
    monkeypatch.setattr(ztsim.analysis.judged, "PARALLEL_HOSTS", 0)
    log = tmp_path / "judged"
    _solved_where(monkeypatch, log)
    parent_takes_at_most(monkeypatch, 1)
    got = analyze(topo, pols, Needs(plan_listing=for_plans, rule_impact=for_check))
    # Each policy judged once, in one process or the other; for plan listing, here.
    # (check also judges the reference policy here, on small topologies.)
    judged = [line.split() for line in log.read_text().splitlines() if "reference" not in line]
    assert sorted(name for _, name in judged) == sorted(p.name for p in pols)
    here = [name for pid, name in judged if pid == str(os.getpid())]
    if for_plans:
        assert here == [p.name for p in pols]
    else:  # at most one ticket here, whichever the child left (it may take all first)
        assert len(here) <= 1
    assert got.to_json() == expected.to_json()
    assert check_json_text(got) == dump_json(expected.to_json())
    for a, b in zip(got.results, expected.results, strict=True):
        assert a.stats == b.stats
        assert a.solution.policy is a.compiled and a.solution.model is got.model
        assert a.solution.cost == b.solution.cost and a.solution.fired == b.solution.fired
        assert a.solution.best == b.solution.best
        assert list(a.solution.order.items()) == list(b.solution.order.items())
    assert [got.plans(g, 3) for g in got.goals] == [expected.plans(g, 3) for g in expected.goals]


def test_a_child_that_judged_nothing_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    topo, pols = _scenario()
    expected = check_json_text(analyze(topo, pols))
    monkeypatch.setattr(ztsim.analysis.judged, "PARALLEL_HOSTS", 0)
    monkeypatch.setattr(Tickets, "take", lambda self: None if os.getpid() != PARENT else TAKE(self))
    assert check_json_text(analyze(topo, pols, Needs(rule_impact=True))) == expected


@pytest.mark.parametrize("for_check", [False, True])
def test_policies_a_child_fails_to_judge_are_judged_here(
    monkeypatch: pytest.MonkeyPatch, for_check: bool
) -> None:
    topo, pols = _scenario()
    expected = analyze(topo, pols).to_json()
    monkeypatch.setattr(ztsim.analysis.judged, "PARALLEL_HOSTS", 0)
    finish = ztsim.analysis.results._finish

    def only_here(*args: Any) -> PolicyResult:
        if os.getpid() != PARENT:
            raise RuntimeError("the child fails")
        return finish(*args)

    monkeypatch.setattr(ztsim.analysis.results, "_finish", only_here)
    parent_takes_at_most(monkeypatch, 1)
    assert analyze(topo, pols, Needs(rule_impact=for_check)).to_json() == expected


@pytest.mark.parametrize("when", [1, 2])
def test_an_unreadable_answer_is_worked_out_here(
    monkeypatch: pytest.MonkeyPatch, when: int
) -> None:
    """The child's first answer (its policies) or second (their rule impact) garbled."""
    topo, pols = _scenario()
    expected = check_json_text(analyze(topo, pols))
    monkeypatch.setattr(ztsim.analysis.judged, "PARALLEL_HOSTS", 0)
    receive, calls = Helper.receive, []

    def garbled(self: Helper) -> object:
        got = receive(self)
        calls.append(got)
        return {"junk": got} if len(calls) == when else got

    monkeypatch.setattr(Helper, "receive", garbled)
    parent_takes_at_most(monkeypatch, 1)
    a = analyze(topo, pols, Needs(rule_impact=True))
    assert len(calls) == when
    assert check_json_text(a) == expected


@pytest.mark.parametrize("garbled", [False, True])
def test_rule_impact_counted_in_the_child_is_the_same(
    monkeypatch: pytest.MonkeyPatch, garbled: bool
) -> None:
    topo, pols = _scenario()
    expected = analyze(topo, pols).check_rules()
    monkeypatch.setattr(ztsim.analysis.judged, "PARALLEL_HOSTS", 0)
    parent_takes_at_most(monkeypatch, 0)
    a = analyze(topo, pols, Needs(rule_impact=True))
    # The child took every policy: nothing was compiled or solved here.
    assert all(r._compiled is None and r._solution is None for r in a.results)
    assert len(a._blobs) == len(pols) and not a._rules  # sent, read when asked
    if garbled:  # rows that cannot be read are counted here instead
        a._blobs = dict.fromkeys(a._blobs, b"garbled")
    assert a.check_rules() == expected
    assert all(r._compiled is None for r in a.results) is not garbled


@pytest.mark.parametrize("reference", [True, False])
@pytest.mark.parametrize("parent_takes", [0, 1])
def test_json_written_by_either_process_is_the_same(
    monkeypatch: pytest.MonkeyPatch, parent_takes: int, reference: bool
) -> None:
    """With the reference's plans in the basis (small topologies), this process sends
    the merged basis; without, its own plans, which the child merges with its own."""
    if not reference:
        monkeypatch.setattr(ztsim.engine.impact, "REFERENCE_LIMIT", 0)
    topo, pols = _scenario()
    plain = analyze(topo, pols)
    expected_json, expected_rules = check_json_text(plain), plain.check_rules()
    monkeypatch.setattr(ztsim.analysis.judged, "PARALLEL_HOSTS", 0)
    parent_takes_at_most(monkeypatch, parent_takes)
    a = analyze(topo, pols, Needs(result_text=result_text))
    assert len(a._texts) == len(pols)  # written ahead, here or in the child
    assert check_json_text(a) == expected_json
    assert sum(r._compiled is not None for r in a.results) <= parent_takes  # judged here
    assert a.check_rules() == expected_rules  # the child's rows, read now


def test_the_child_merges_the_basis_as_impact_basis_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ztsim.analysis.judged import impact_basis
    from ztsim.analysis.results import goal_plans
    from ztsim.analysis.twocores import _basis_from

    monkeypatch.setattr(ztsim.engine.impact, "REFERENCE_LIMIT", 0)
    topo, pols = _scenario()
    a = analyze(topo, pols)
    mine = {1: a.results[1]}
    theirs = {i: goal_plans(a.results[i]) for i in (0, 2)}
    assert _basis_from(theirs, mine, 3) == impact_basis(a)[0]
    assert _basis_from({0: theirs[0]}, mine, 3) is None  # a policy missing
    assert _basis_from({**theirs, 1: []}, mine, 3) is None  # one both judged
    assert _basis_from("junk", mine, 3) is None


WARNED = """\
ztsim: 1
kind: policy
name: warned
segmentation:
  default: allow
  rules:
    - {id: ghost-zone, from: {zone: nowhere}, to: {zone: dmz}, services: [443/tcp], action: deny}
    - {id: ghost-host, from: {host: [nobody, vpn-gw]}, to: any, services: [22/tcp], action: deny}
    - {id: no-match, from: {labels: {role: no-such}}, to: any, services: [22/tcp], action: deny}
controls:
  mfa: [no-such-credential]
"""


def _warned_scenario() -> tuple[LoadedTopology, list[LoadedPolicy], list[Diagnostic]]:
    """Pajemploi, its policies and one that warns; every policy's warnings, in order."""
    topo, pols = _scenario()
    pols = [*pols, policy_from_text(WARNED, "warned.yaml")]
    return topo, pols, [w for p in pols for w in policy_warnings(p, topo)]


@pytest.mark.parametrize("parent_takes", [0, 1, 99])
def test_warnings_worked_out_by_either_process_are_the_same(
    monkeypatch: pytest.MonkeyPatch, parent_takes: int
) -> None:
    topo, pols, expected = _warned_scenario()
    assert len(expected) >= 4
    assert analyze(topo, pols, Needs(warnings=True)).warnings == expected
    assert analyze(topo, pols).warnings is None
    monkeypatch.setattr(ztsim.analysis.judged, "PARALLEL_HOSTS", 0)
    parent_takes_at_most(monkeypatch, parent_takes)
    for for_check in (False, True):
        needs = Needs(rule_impact=for_check, warnings=True)
        assert analyze(topo, pols, needs).warnings == expected


@pytest.mark.parametrize("answer", [None, "junk", ["not a diagnostic"]])
def test_warnings_the_child_garbles_are_worked_out_here(
    monkeypatch: pytest.MonkeyPatch, answer: object
) -> None:
    topo, pols, expected = _warned_scenario()
    monkeypatch.setattr(ztsim.analysis.judged, "PARALLEL_HOSTS", 0)
    parent_takes_at_most(monkeypatch, 0)  # the child takes every ticket, warnings included
    receive = Helper.receive

    def garbled(self: Helper) -> object:
        got = receive(self)
        if isinstance(got, tuple):  # the first answer: (policies, warnings)
            assert got[1] == expected
            return (got[0], answer)
        return got

    monkeypatch.setattr(Helper, "receive", garbled)
    assert analyze(topo, pols, Needs(rule_impact=True, warnings=True)).warnings == expected


@pytest.mark.parametrize("extra", [[], ["--format", "json"], ["--rules"], ["--strict"]])
def test_check_on_two_cores_prints_what_one_core_prints(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
) -> None:
    from ztsim.cli.main import main

    (tmp_path / "warned.yaml").write_text(WARNED)
    args = [
        "check",
        str(ROOT / "topologies" / "pajemploi.yaml"),
        "--policy",
        str(ROOT / "policies"),
        "--policy",
        str(tmp_path / "warned.yaml"),
        *extra,
    ]
    monkeypatch.setenv("ZTSIM_PARALLEL", "off")
    expected = main(args), capsys.readouterr()
    monkeypatch.delenv("ZTSIM_PARALLEL")
    monkeypatch.setattr(ztsim.analysis.judged, "PARALLEL_HOSTS", 0)
    parent_takes_at_most(monkeypatch, 1)
    got = main(args), capsys.readouterr()
    assert got == expected
    assert expected[0] == (2 if "--strict" in extra else 1)
    assert expected[1].err.count("warned.yaml:") >= 4
