"""``ztsim import aws|terraform`` and ``--aws``/``--terraform`` on the commands (issue 28, 4-6).

The example (``examples/aws/``): a small VPC as ``describe-*`` JSON and as a
Terraform plan (with its ``main.tf``) that adds a reporting instance, SSH open
to the world and allowed into the database; the overlay ``attack.yaml``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from ztsim.cli.main import main

DESCRIBE = "examples/aws/describe"
PLAN = "examples/aws/terraform/plan.json"
OVERLAY = "examples/aws/attack.yaml"
AWS = ["--aws", DESCRIBE, "--overlay", OVERLAY]
TF = ["--terraform", PLAN, "--overlay", OVERLAY]


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- import


@pytest.mark.parametrize(
    ("argv", "summary"),
    [
        (["import", "aws", DESCRIBE], "imported 4 host(s) in 4 subnet(s)"),
        (["import", "terraform", PLAN], "imported 5 host(s) in 4 subnet(s) (proposed estate)"),
        (["import", "terraform", PLAN, "--side", "base"], "imported 4 host(s) in 4 subnet(s)"),
    ],
)
def test_import_writes_three_files_the_same_every_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], summary: str
) -> None:
    texts = []
    for run in ("a", "b"):
        out = tmp_path / run
        code, stdout, _ = _run(capsys, *argv, "--output", str(out))
        assert code == 0 and summary in stdout
        assert sorted(p.name for p in out.iterdir()) == [
            "overlay.yaml",
            "policy.yaml",
            "topology.yaml",
        ]
        texts.append({p.name: p.read_bytes() for p in out.iterdir()})
    assert texts[0] == texts[1]
    policy = texts[0]["policy.yaml"].decode()
    assert "Kubernetes" not in policy.splitlines()[1]
    assert "# security group sg-0b1c2d3e4f5a60103 (shop-db)" in policy


def test_import_refuses_to_overwrite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(capsys, "import", "aws", DESCRIBE, "-o", str(out))[0] == 0
    code, _, err = _run(capsys, "import", "aws", DESCRIBE, "-o", str(out))
    assert code == 2 and "exists already" in err


@pytest.mark.parametrize("fmt", ["aws", "terraform"])
def test_malformed_json_exit_2_nothing_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    if fmt == "aws":
        source = tmp_path / "dump"
        shutil.copytree(ROOT / DESCRIBE, source)
        bad = source / "security-groups.json"
        bad.write_text(
            bad.read_text().replace('"GroupId": "sg-0b1c2d3e4f5a60102",', '"GroupId" "x",')
        )
        given = str(source)
    else:
        bad = tmp_path / "plan.json"
        bad.write_text(
            '{\n  "format_version": "1.2",\n  "resource_changes": [\n    {"address": }\n'
        )
        given = str(bad)
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, "import", fmt, given, "--output", str(out))
    assert code == 2
    assert f"{bad}:" in err and "Traceback" not in err
    line, col = err.split(f"{bad}:", 1)[1].split(":")[:2]
    assert line.isdigit() and col.isdigit() and int(line) > 1
    assert not out.exists() and "wrote" not in stdout


def test_bad_plan_shape_on_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps({"resource_changes": [{"type": "aws_vpc", "change": {"after": {}}}]})
    )
    code, _, err = _run(capsys, "check", "--terraform", str(plan))
    assert code == 2 and f"{plan}:1:" in err and "'address' and 'type'" in err


@pytest.mark.parametrize("source", [["--aws", DESCRIBE], ["--terraform", PLAN]])
def test_overlay_problems_come_in_one_pass(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, source: list[str]
) -> None:
    """A key the schema refuses and a vulnerability on a service the host does not
    offer, said together (as for Kubernetes, issue 25 point 5)."""
    overlay = tmp_path / "o.yaml"
    overlay.write_text(
        "ztsim: 1\nkind: overlay\nname: o\nworkloads:\n"
        "  - select: {workload: orders-db}\n"
        "    vulnerabilities: [{id: CVE-1, service: 9999/tcp}]\n"
        "    bogus: 1\n"
    )
    code, stdout, err = _run(capsys, "check", *source, "--overlay", str(overlay))
    assert code == 2 and "Traceback" not in err and not stdout
    assert f"{overlay}:6:" in err and "9999/tcp" in err, err
    assert f"{overlay}:7:" in err and "unknown key 'bogus'" in err, err


# --------------------------------------------------------------------------- the commands


def test_check_aws_names_the_security_group_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "check", *AWS, "--format", "json")
    assert code == 1
    data = json.loads(out)
    (result,) = data["results"]
    assert [g["reachable"] for g in result["exfiltration"]] == [True]
    # Point 3: the S3 prefix list is an exfiltration channel, said where it is.
    assert "security groups filter no names" in err and "security-groups.json:" in err
    code, out, _ = _run(capsys, "check", *AWS)
    assert code == 1 and "ztsim paths --aws examples/aws/describe --overlay" in out


def test_paths_blocked_by_the_security_groups(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "paths", *AWS, "--max-paths", "20")
    assert code == 1
    # The load balancer's group allows egress to the app servers only.
    assert (
        "flow i-0a1b2c3d4e5f60701 -> orders-db:5432/tcp denied by segmentation layer sg-egress"
        in out
    )
    assert (
        "egress i-0a1b2c3d4e5f60701 -> attacker-bucket 443/tcp denied by egress layer sg-egress"
        in out
    )


def test_diff_on_one_plan_says_what_it_opens(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "diff", *TF)
    assert code == 1
    assert "base plan-prior" in out and "proposed plan-planned" in out
    assert "opened" in out and "internet -> aws_instance.reporting 22/tcp" in out
    # The rules named with their Terraform address and .tf file.
    assert "aws_security_group.reporting ingress[0] at examples/aws/terraform/main.tf:" in out
    assert "aws_vpc_security_group_ingress_rule.db_from_reporting" in out
    code, out, _ = _run(capsys, "diff", *TF, "--format", "json")
    assert code == 1 and json.loads(out)


def test_diff_of_two_dumps(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "diff", "--aws", DESCRIBE, "--aws-proposed", DESCRIBE,
                        "--overlay", OVERLAY)  # fmt: skip
    assert code == 0 and "opens 0 goal(s) and 0 plan(s)" in out


def test_reach_on_a_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "reach", *TF, "--all-ports", "--format", "json",
                        "--from", "zone:internet")  # fmt: skip
    assert code == 0
    (result,) = json.loads(out)["results"]
    targets = {c["to"] for c in result["connections"]}
    # The reporting instance and the load balancer are exposed; nothing else is.
    assert targets == {"aws_instance.reporting", "i-0a1b2c3d4e5f60701"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "topologies/pajemploi.yaml", "--aws", DESCRIBE], "--aws replaces TOPOLOGY"),
        (["check", "--aws", DESCRIBE, "--terraform", PLAN], "give one source of the estate"),
        (["check", "topologies/pajemploi.yaml", "--overlay", OVERLAY], "--overlay goes with"),
        (["diff", "--aws", DESCRIBE], "--aws (the estate in force) and --aws-proposed go"),
        (["harden", *TF, "--write", "x.yaml"], "--write is not available with"),
        (["tui", "--terraform", PLAN, "--aws", DESCRIBE], "give one source of the estate"),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2 and message in err


def test_tui_scenario_imports_a_plan() -> None:
    from ztsim.tui.scenario import Scenario

    scenario = Scenario.from_aws([PLAN], "terraform", OVERLAY)
    assert scenario.imported and [str(f) for f in scenario.files()] == [PLAN, OVERLAY]
    topo, pols, _ = scenario.load()
    assert "aws_instance.reporting" in {h.id for h in topo.model.hosts} and len(pols) == 1


# --------------------------------------------------------------------------- the benchmark


def test_benchmark_smoke_dumps_and_plan_agree(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/aws.py at its smallest size: the same bytes from the same seed, and
    the describe-* dump and the Terraform plan of one estate judged alike."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import aws as bench  # benchmarks/ is not a package

    monkeypatch.setattr(bench, "OUT", tmp_path / "a")
    describe, plan, overlay = bench.generate("S")
    monkeypatch.setattr(bench, "OUT", tmp_path / "b")
    again = bench.generate("S")[1]
    assert plan.read_bytes() == again.read_bytes()
    verdicts = []
    for source in (["--aws", str(describe)], ["--terraform", str(plan)]):
        code, out, _ = _run(capsys, "check", *source, "--overlay", str(overlay), "--format", "json")
        (result,) = json.loads(out)["results"]
        verdicts.append((code, [(g["data"], g["reachable"]) for g in result["exfiltration"]]))
    assert verdicts[0] == verdicts[1]
    assert verdicts[0][0] == 1
