"""Golden results of the shipped scenarios: what each policy lets through, and what it breaks.

The expectations are written out by hand (derived from the YAML and checked against
the engine). When a scenario changes on purpose, update them here and say why.
"""

from __future__ import annotations

from functools import cache

import pytest
from conftest import ROOT

from ztsim.analysis.analyze import analyze
from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import goal_label
from ztsim.inputs.loaded import reference_policy
from ztsim.inputs.loader import load_policies, load_topology

SCENARIOS = {
    "pajemploi": "policies",  # the top-level *.yaml only
    "k8s-shop": "policies/k8s-shop",
    "corporate": "policies/corporate",
}

PAYROLL = {"exfiltrate(payroll-records)", "tamper(payroll-records)"}
CORPORATE_ALL = {
    "exfiltrate(hr-records)",
    "exfiltrate(finance-ledger)",
    "tamper(finance-ledger)",
    "exfiltrate(ntds-dit)",
}

# topology -> policy -> goals reachable
REACHABLE: dict[str, dict[str, set[str]]] = {
    "pajemploi": {
        # everything open: portal exploit -> API actuator -> DB password -> C2
        "flat": PAYROLL,
        # zone rules: portal -> log collector (logging rule from any) -> PwnKit root ->
        # sniff the DBA's plaintext psql -> superuser shell on the DB -> open egress
        "segmented": PAYROLL,
        # portal still falls, but MFA, encryption and the egress allowlist contain it
        "zero-trust": set(),
    },
    "k8s-shop": {
        # ingress -> checkout; orders DB read with its password; egress open: T1567 too
        "default-allow": {"exfiltrate(card-data)", "exfiltrate(customer-pii)"},
        # ingress -> frontend -> checkout -> orders DB; shop namespace may upload to
        # *.blob.cloudstore.example, which covers the attacker's bucket
        "broad-egress": {"exfiltrate(customer-pii)"},
        # same path to the orders DB, but nothing leaves (exact allowlist, partners only)
        "network-policies": set(),
    },
    "corporate": {
        # PrintNightmare from the laptop, sniff SMB/TDS/backup credentials on the server LAN
        "corporate-flat": CORPORATE_ALL,
        # print server falls, but workstation isolation, encryption and MFA contain it
        "corporate-tiered": set(),
    },
}

# topology -> policy -> (from, to, service, deciding rule) of each broken legitimate flow
BROKEN: dict[str, dict[str, set[tuple[str, str, str, str]]]] = {
    "pajemploi": {"flat": set(), "segmented": set(), "zero-trust": set()},
    "k8s-shop": {"default-allow": set(), "broad-egress": set(), "network-policies": set()},
    "corporate": {"corporate-flat": set(), "corporate-tiered": set()},
}

# topology -> policy -> goal -> cost (steps, entry included) of the cheapest plan found
COSTS: dict[str, dict[str, dict[str, int]]] = {
    "pajemploi": {
        # enter, exploit portal, exploit actuator, steal, login DB, collect, exfil/tamper
        "flat": {"exfiltrate(payroll-records)": 7, "tamper(payroll-records)": 7},
        # enter, exploit portal, exploit collector, escalate, sniff, login, collect, out
        "segmented": {"exfiltrate(payroll-records)": 8, "tamper(payroll-records)": 8},
    },
    "k8s-shop": {
        # enter, exploit ingress, exploit checkout / payments debug, steal, login,
        # collect, exfiltrate
        "default-allow": {"exfiltrate(card-data)": 7, "exfiltrate(customer-pii)": 7},
        # one more hop: ingress -> frontend -> checkout
        "broad-egress": {"exfiltrate(customer-pii)": 8},
    },
    "corporate": {
        # enter, PrintNightmare (root on print-01), sniff, login, collect, exfil/tamper
        "corporate-flat": dict.fromkeys(CORPORATE_ALL, 6),
    },
}


@cache
def analysis(topology: str) -> Analysis:
    """The scenario judged under its policy folder (cached: several tests read it)."""
    topo = load_topology(ROOT / "topologies" / f"{topology}.yaml")
    return analyze(topo, load_policies([ROOT / SCENARIOS[topology]]))


CASES = [(t, p) for t, pols in REACHABLE.items() for p in pols]


def test_every_shipped_policy_is_covered():
    """The folders hold exactly the policies named here (a new one needs expectations)."""
    for topology in SCENARIOS:
        names = {r.policy.name for r in analysis(topology).results}
        assert names == set(REACHABLE[topology]) == set(BROKEN[topology]), topology


@pytest.mark.parametrize(("topology", "policy"), CASES)
def test_reachable_goals(topology: str, policy: str):
    """Exactly the expected goals are reachable under each policy."""
    r = next(x for x in analysis(topology).results if x.policy.name == policy)
    assert {goal_label(g.goal) for g in r.reachable_goals} == REACHABLE[topology][policy]


@pytest.mark.parametrize(("topology", "policy"), CASES)
def test_broken_traffic(topology: str, policy: str):
    """Exactly the expected legitimate flows are broken, each by the expected rule."""
    r = next(x for x in analysis(topology).results if x.policy.name == policy)
    got = {(t.source, t.to, t.service, t.decision.rule) for t in r.broken_traffic}
    assert got == BROKEN[topology][policy]


@pytest.mark.parametrize(("topology", "policy"), [(t, p) for t, c in COSTS.items() for p in c])
def test_cheapest_costs(topology: str, policy: str):
    """The cheapest plan found for each reachable goal has the expected number of steps."""
    r = next(x for x in analysis(topology).results if x.policy.name == policy)
    assert {goal_label(g.goal): g.cost for g in r.reachable_goals} == COSTS[topology][policy]


@pytest.mark.parametrize("topology", sorted(SCENARIOS))
def test_reference_reaches_at_least_what_any_policy_reaches(topology: str):
    """The reference policy allows everything: its reachable goals include every policy's."""
    a = analysis(topology)
    ref = {goal_label(g.goal) for g in a.reference.reachable_goals}
    assert a.reference.policy.name == reference_policy().name
    for r in a.results:
        assert {goal_label(g.goal) for g in r.reachable_goals} <= ref
    assert ref == {goal_label(g) for g in a.goals}  # every goal is possible in principle


@pytest.mark.parametrize("topology", sorted(SCENARIOS))
def test_exit_code(topology: str):
    """Each scenario has at least one failing policy: the CI verdict is 1."""
    assert analysis(topology).exit_code == 1


def test_pajemploi_plans_show_the_seven_techniques():
    """Over all goals, the plans of Analysis.plans(goal, k=5) use the seven key techniques."""
    a = analysis("pajemploi")
    used: set[str] = set()
    for goal in a.goals:
        for row in a.plans(goal, k=5):
            used.update(row.plan.techniques)
    assert {"T1078", "T1190", "T1565.001", "T1557", "T1021", "T1005", "T1041"} <= used


def test_pajemploi_zero_trust_blocks_every_listed_plan():
    """Every plan found anywhere is blocked by zero-trust, and open under flat."""
    a = analysis("pajemploi")
    for goal in a.goals:
        rows = a.plans(goal, k=5)
        assert rows
        for row in rows:
            zt, flat = row.verdict("zero-trust"), row.verdict("flat")
            assert zt is not None and zt.blocked
            assert flat is not None and not flat.blocked


# topology -> policy -> (records exfiltrable, records tamperable): said separately, so a
# policy that stops exfiltration but not tampering never reads "0 records at risk"
RECORDS: dict[str, dict[str, tuple[int, int]]] = {
    "pajemploi": {
        "flat": (1_200_000, 1_200_000),
        "segmented": (1_200_000, 1_200_000),
        "zero-trust": (0, 0),
    },
    "k8s-shop": {
        # card-data (120,000) and customer-pii (350,000); neither has integrity: true
        "default-allow": (470_000, 0),
        "broad-egress": (350_000, 0),
        "network-policies": (0, 0),
    },
    "corporate": {
        # hr-records 2,400 + finance-ledger 180,000 + ntds-dit 2,600 out; only the
        # ledger has integrity: true
        "corporate-flat": (185_000, 180_000),
        "corporate-tiered": (0, 0),
    },
}


@pytest.mark.parametrize(("topology", "policy"), CASES)
def test_records_exfiltrable_and_tamperable(topology: str, policy: str):
    """The records the attacker can exfiltrate, and those it can tamper with."""
    r = next(x for x in analysis(topology).results if x.policy.name == policy)
    assert (r.records_exfiltrable, r.records_tamperable) == RECORDS[topology][policy]
    assert r.records_at_risk == r.records_exfiltrable  # the spec's key keeps its meaning
