"""pytest helpers: state security intent as plain asserts (in the style of pybatfish).

Each helper judges one intent assertion (see ``docs/assertions.md``) under one or
more policies, returns ``True`` when it holds under all of them, and otherwise
raises :class:`AssertionError` whose message holds, per failing policy, the
violations and a table of the cheapest counter-example plan::

    from ztsim.testing import assert_no_exfiltration, assert_traffic_allowed

    def test_payroll_stays_in():
        assert_no_exfiltration("topologies/pajemploi.yaml", "policies/zero-trust.yaml",
                               data="payroll-records")

    def test_business_flows():
        assert_traffic_allowed("topologies/pajemploi.yaml", "policies/zero-trust.yaml")

Topologies and policies are given as paths or as loaded objects; a policy may be
a list (every policy must satisfy the intent) or ``None`` (the reference policy,
which allows everything).  Names the topology lacks are errors
(:class:`~ztsim.model.diagnostics.InputError`), never a silent pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from ztsim.inputs.assertions import (
    Assertion,
    LoadedAssertions,
    assertion_errors,
    load_assertions,
)
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.loader import load_policies, load_topology
from ztsim.model.diagnostics import InputError
from ztsim.output.reports.common import describe, violation_text
from ztsim.whatif.intent import Report, evaluate

__all__ = [
    "assert_assertions",
    "assert_egress_denied",
    "assert_max_undetected",
    "assert_min_attack_cost",
    "assert_no_exfiltration",
    "assert_no_flow",
    "assert_no_tampering",
    "assert_traffic_allowed",
]

TopologyArg = str | Path | LoadedTopology
PolicyArg = str | Path | LoadedPolicy | Sequence[str | Path | LoadedPolicy] | None
SelectorArg = str | Mapping[str, Any]
Names = str | Sequence[str] | None

_ADAPTER: TypeAdapter[Assertion] = TypeAdapter(Assertion)


def _topology(t: TopologyArg) -> LoadedTopology:
    return t if isinstance(t, LoadedTopology) else load_topology(t)


def _policies(p: PolicyArg) -> list[LoadedPolicy]:
    if p is None:
        return []
    items = [p] if isinstance(p, str | Path | LoadedPolicy) else list(p)
    return [x if isinstance(x, LoadedPolicy) else load_policies([x])[0] for x in items]


def _names(v: Names) -> str | list[str] | None:
    return v if v is None or isinstance(v, str) else list(v)


def _failure_message(report: Report) -> str:
    parts = []
    for o in report.outcomes:
        if o.status == "pass":
            continue
        head = f"{o.assertion.id}: {describe(o.assertion)}: fails under policy {o.policy.name}"
        body = "\n".join(violation_text(v, o.policy, "  ") for v in o.violations)
        parts.append(f"{head}\n{body}")
    return "\n\n".join(parts)


def _check(
    topology: TopologyArg,
    policy: PolicyArg,
    assertions: LoadedAssertions | list[Assertion],
) -> bool:
    topo = _topology(topology)
    errors = assertion_errors(assertions, topo)
    if errors:
        raise InputError(errors)
    report = evaluate(topo, _policies(policy), assertions)
    if any(o.status != "pass" for o in report.outcomes):
        raise AssertionError(_failure_message(report))
    return True


def _one(topology: TopologyArg, policy: PolicyArg, fields: dict[str, Any]) -> bool:
    clean = {k: v for k, v in fields.items() if v is not None}
    return _check(topology, policy, [_ADAPTER.validate_python(clean)])


def assert_no_exfiltration(
    topology: TopologyArg,
    policy: PolicyArg = None,
    *,
    data: Names = None,
    classification: Names = None,
    entry: str | None = None,
) -> bool:
    """No selected data item (all by default) can be exfiltrated, from ``entry`` if given.

    On the bundled example (``topologies/pajemploi.yaml``):

    >>> from ztsim.inputs.bundled import pajemploi
    >>> topology, policies = pajemploi()
    >>> assert_no_exfiltration(topology, policies / "zero-trust.yaml")
    True
    >>> assert_no_exfiltration(topology, policies / "flat.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    AssertionError: no-exfiltration: ...: fails under policy flat
    ...
    """
    fields = {"data": _names(data), "classification": _names(classification), "entry": entry}
    return _one(topology, policy, {"id": "no-exfiltration", "type": "no-exfiltration", **fields})


def assert_no_tampering(
    topology: TopologyArg,
    policy: PolicyArg = None,
    *,
    data: Names = None,
    classification: Names = None,
    entry: str | None = None,
) -> bool:
    """No selected data item with ``integrity: true`` can be tampered with."""
    fields = {"data": _names(data), "classification": _names(classification), "entry": entry}
    return _one(topology, policy, {"id": "no-tampering", "type": "no-tampering", **fields})


def assert_min_attack_cost(
    topology: TopologyArg,
    policy: PolicyArg = None,
    *,
    steps: int,
    data: Names = None,
    classification: Names = None,
    goal: str = "any",
    entry: str | None = None,
    plans: int = 5,
) -> bool:
    """No plan to a selected goal is cheaper than ``steps`` steps, proven: fails when a
    cheaper plan is found, and when the goal's proven lower bound is under ``steps``."""
    fields = {
        "data": _names(data),
        "classification": _names(classification),
        "entry": entry,
        "goal": goal,
        "steps": steps,
        "plans": plans,
    }
    return _one(topology, policy, {"id": "min-attack-cost", "type": "min-attack-cost", **fields})


def assert_max_undetected(
    topology: TopologyArg,
    policy: PolicyArg = None,
    *,
    probability: float,
    data: Names = None,
    classification: Names = None,
    goal: str = "any",
    entry: str | None = None,
    plans: int = 5,
) -> bool:
    """No listed open plan goes undetected with a probability above ``probability``."""
    fields = {
        "data": _names(data),
        "classification": _names(classification),
        "entry": entry,
        "goal": goal,
        "probability": probability,
        "plans": plans,
    }
    return _one(topology, policy, {"id": "max-undetected", "type": "max-undetected", **fields})


def assert_no_flow(
    topology: TopologyArg,
    policy: PolicyArg = None,
    *,
    source: SelectorArg,
    to: SelectorArg,
    services: Names = None,
) -> bool:
    """Segmentation: nothing matching ``source`` opens a flow to ``to`` (policy selectors)."""
    fields = {"from": source, "to": to, "services": _names(services)}
    return _one(topology, policy, {"id": "no-flow", "type": "no-flow", **fields})


def assert_egress_denied(
    topology: TopologyArg,
    policy: PolicyArg = None,
    *,
    source: SelectorArg = "any",
    to: Names = "*",
    services: Names = None,
) -> bool:
    """No host matching ``source`` may reach the destinations ``to`` (ids or FQDN patterns)."""
    fields = {"from": source, "to": _names(to), "services": _names(services)}
    return _one(topology, policy, {"id": "egress-denied", "type": "egress-denied", **fields})


def assert_traffic_allowed(
    topology: TopologyArg,
    policy: PolicyArg = None,
    *,
    source: str | None = None,
    to: str | None = None,
    service: str | None = None,
) -> bool:
    """The named flow, or every declared ``traffic`` flow matching the given fields, is allowed.

    >>> from ztsim.inputs.bundled import pajemploi
    >>> topology, policies = pajemploi()
    >>> assert_traffic_allowed(topology, policies / "zero-trust.yaml", to="payroll-db")
    True
    """
    fields = {"from": source, "to": to, "service": service}
    return _one(topology, policy, {"id": "traffic-allowed", "type": "traffic-allowed", **fields})


def assert_assertions(
    topology: TopologyArg, policy: PolicyArg, assertions: str | Path | LoadedAssertions
) -> bool:
    """Every assertion of an assertions file holds (warnings included)."""
    loaded = assertions if isinstance(assertions, LoadedAssertions) else load_assertions(assertions)
    return _check(topology, policy, loaded)
