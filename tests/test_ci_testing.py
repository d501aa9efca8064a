"""``ztsim.testing``: pytest helpers returning True or raising a readable AssertionError."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from test_ci_scenario import policy, topology, write_assertions, write_policy

from ztsim.model.diagnostics import InputError
from ztsim.testing import (
    assert_assertions,
    assert_egress_denied,
    assert_max_undetected,
    assert_min_attack_cost,
    assert_no_exfiltration,
    assert_no_flow,
    assert_no_tampering,
    assert_traffic_allowed,
)


def test_no_exfiltration_with_paths_and_loaded_objects(tmp_path: Path) -> None:
    topo_path = tmp_path / "topology.yaml"
    topology(tmp_path)
    tight = write_policy(tmp_path, "tight")
    assert assert_no_exfiltration(topo_path, tight) is True
    assert assert_no_exfiltration(str(topo_path), str(tight), data="records") is True
    assert assert_no_exfiltration(topology(), [policy("tight"), policy("sealed")]) is True
    with pytest.raises(AssertionError) as exc:
        assert_no_exfiltration(topology(), policy("open"), classification=["pii"])
    text = str(exc.value)
    assert "no-exfiltration: no exfiltration of classification pii: fails under policy open" in text
    # The counter-example as a table: header, then one numbered row per step.
    assert "#  step" in text and "technique" in text and "policy decision" in text
    assert "T1552 Unsecured Credentials" in text


def test_no_exfiltration_from_an_entry_point() -> None:
    assert assert_no_exfiltration(topology(), policy("no-internet"), entry="internet-attacker")
    with pytest.raises(AssertionError, match="from entry point insider"):
        assert_no_exfiltration(topology(), policy("no-internet"), entry="insider")


def test_reference_policy_when_none() -> None:
    with pytest.raises(AssertionError, match="fails under policy reference"):
        assert_no_exfiltration(topology(), None)


def test_no_tampering() -> None:
    assert assert_no_tampering(topology(), policy("sealed"), data="records")
    with pytest.raises(AssertionError, match="tamper"):
        assert_no_tampering(topology(), policy("tight"))


def test_min_attack_cost_and_max_undetected() -> None:
    assert assert_min_attack_cost(topology(), policy("open"), steps=5)
    with pytest.raises(AssertionError, match="a plan of 5 steps"):
        assert_min_attack_cost(topology(), policy("open"), steps=6, goal="exfiltration")
    assert assert_max_undetected(
        topology(), policy("watched"), probability=0.5, entry="internet-attacker"
    )
    with pytest.raises(AssertionError, match=r"undetected with probability above 0\.4"):
        assert_max_undetected(
            topology(), policy("watched"), probability=0.4, entry="internet-attacker"
        )


def test_no_flow_and_egress() -> None:
    assert assert_no_flow(topology(), policy("tight"), source={"zone": "data"}, to="any")
    with pytest.raises(AssertionError, match="segmentation rule app-db"):
        assert_no_flow(topology(), policy("tight"), source={"zone": "dmz"}, to={"zone": "data"})
    assert assert_egress_denied(topology(), policy("tight"), to=["c2", "bucket"])
    with pytest.raises(AssertionError, match=r"web -> c2 \(c2.evil.example\) 443/tcp"):
        assert_egress_denied(topology(), policy("open"), source={"host": "web"}, to="c2")


def test_traffic_allowed() -> None:
    assert assert_traffic_allowed(topology(), policy("tight"))
    assert assert_traffic_allowed(topology(), policy("broken"), to="partner")
    with pytest.raises(AssertionError, match="legitimate flow web -> db 5432/tcp is denied"):
        assert_traffic_allowed(
            topology(), policy("broken"), source="web", to="db", service="5432/tcp"
        )


def test_bad_names_are_input_errors_not_passes() -> None:
    with pytest.raises(InputError, match="unknown data item 'recrods'"):
        assert_no_exfiltration(topology(), policy("tight"), data="recrods")
    with pytest.raises(InputError, match="unknown zone 'dmzz'"):
        assert_no_flow(topology(), policy("tight"), source={"zone": "dmzz"}, to="any")
    with pytest.raises(ValueError):
        assert_max_undetected(topology(), policy("tight"), probability=1.5)


def test_assert_assertions_file(tmp_path: Path) -> None:
    path = write_assertions(
        tmp_path, "  - {id: a, type: no-exfiltration}\n  - {id: b, type: traffic-allowed}\n"
    )
    assert assert_assertions(topology(), policy("tight"), path)
    with pytest.raises(AssertionError, match="b: legitimate traffic"):
        assert_assertions(topology(), policy("broken"), str(path))


def test_shipped_scenarios_through_the_helpers() -> None:
    topo = ROOT / "topologies" / "pajemploi.yaml"
    zt = ROOT / "policies" / "zero-trust.yaml"
    assert assert_assertions(topo, zt, ROOT / "assertions" / "pajemploi.yaml")
    assert assert_no_exfiltration(topo, zt, entry="leaked-vpn-password")
    with pytest.raises(AssertionError):
        assert_no_exfiltration(topo, ROOT / "policies" / "flat.yaml")


def test_ci_modules_are_headless() -> None:
    code = (
        "import sys, ztsim.testing, ztsim.output.reports\n"
        "import ztsim.cli.commands.check, ztsim.cli.commands.schema\n"
        "from ztsim.output.reports import render\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'textual']\n"
        "sys.exit(1 if bad else 0)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
