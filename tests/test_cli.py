"""The command line contract of spec §7, run in-process (plus one real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from conftest import ROOT

from ztsim.cli.main import build_parser, main
from ztsim.inputs.loader import load_policy

PAJEMPLOI = str(ROOT / "topologies" / "pajemploi.yaml")
POLICIES = ROOT / "policies"

TOPO = """\
ztsim: 1
kind: topology
name: mini
zones: [{id: internet, external: true}, {id: dmz}, {id: lan}]
credentials: [{id: db-pw}]
hosts:
  - id: web
    zone: dmz
    services: [{service: 443/tcp, public: true}, {service: 22/tcp}]
    vulnerabilities: [{id: CVE-W, service: 443/tcp}]
    credentials: [{credential: db-pw}]
  - id: web2
    zone: dmz
    services: [{service: 22/tcp}]
  - id: db
    zone: lan
    services: [{service: 5432/tcp}]
    logins: [{credential: db-pw, service: 5432/tcp, gives: service}]
    data:
      - {id: rows, requires: service, service: 5432/tcp, integrity: true, records: 42}
      - {id: notes}
external:
  - {id: c2, fqdn: c2.evil.example, role: c2}
  - {id: bank, fqdn: api.bank.example}
traffic:
  - {from: internet, to: web, service: 443/tcp}
  - {from: web, to: db, service: 5432/tcp, credential: db-pw}
  - {from: web, to: web2, service: 22/tcp}
  - {from: web, to: bank, service: 443/tcp}
  - {from: internet, to: web, service: 22/tcp}
"""

OPEN = """\
ztsim: 1
kind: policy
name: open
"""

CLOSED = """\
ztsim: 1
kind: policy
name: closed
segmentation:
  default: deny
  intra_zone: allow
  rules:
    - {id: web-in, action: allow, from: {zone: internet}, to: {host: web}, services: [443/tcp]}
    - {id: web-db, action: allow, from: {host: web}, to: {host: db}, services: [5432/tcp]}
egress:
  default: deny
controls:
  mfa: [db-pw]
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A folder with mini.yaml and policies/{open,closed}.yaml (plus noise to ignore)."""
    (tmp_path / "mini.yaml").write_text(TOPO)
    pol = tmp_path / "policies"
    pol.mkdir()
    (pol / "open.yaml").write_text(OPEN)
    (pol / "closed.yaml").write_text(CLOSED)
    (pol / "README.txt").write_text("not a policy")
    (pol / "old").mkdir()
    (pol / "old" / "broken.yaml").write_text("not: [valid")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``ztsim ARGS`` in-process; return (status, stdout, stderr)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- exit statuses


def test_exit_0_when_no_goal_is_reachable(capsys):
    """Zero trust alone: nothing reachable, exit 0."""
    code, out, _ = run(capsys, "check", PAJEMPLOI, "--policy", str(POLICIES / "zero-trust.yaml"))
    assert code == 0
    assert out.startswith("PASS")


def test_exit_1_when_a_goal_is_reachable(capsys):
    """A flat network: exit 1, and the same when one of several policies fails."""
    code, out, _ = run(capsys, "check", PAJEMPLOI, "--policy", str(POLICIES / "flat.yaml"))
    assert code == 1
    assert out.startswith("FAIL")
    flat, zt = str(POLICIES / "flat.yaml"), str(POLICIES / "zero-trust.yaml")
    assert run(capsys, "check", PAJEMPLOI, "-p", zt, "-p", flat)[0] == 1


def test_no_policy_judges_the_reference(capsys, scenario: Path):
    """Without --policy the reference policy (allow everything) is judged."""
    code, out, _ = run(capsys, "check", str(scenario / "mini.yaml"), "--format", "json")
    assert code == 1
    assert [r["policy"] for r in json.loads(out)["results"]] == ["reference"]


def test_exit_2_on_a_bad_file_with_location(capsys, tmp_path: Path):
    """Invalid input: exit 2, FILE:LINE:COL on stderr, no traceback, nothing on stdout."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(TOPO.replace("    zone: lan\n", "    zone: lan\n    zone_typo: x\n", 1))
    code, out, err = run(capsys, "check", str(bad))
    assert code == 2
    assert out == ""
    assert f"{bad}:17:5: error: unknown key 'zone_typo'" in err
    assert "Traceback" not in err


def test_exit_2_on_a_bad_policy_and_a_bad_topology_together(capsys, tmp_path: Path):
    """Errors of every file are reported in one run."""
    (tmp_path / "t.yaml").write_text("ztsim: 1\nkind: topology\nname: t\nzones: 3\n")
    (tmp_path / "p.yaml").write_text("ztsim: 1\nkind: policy\nname: p\nbogus: 1\n")
    code, _, err = run(capsys, "check", str(tmp_path / "t.yaml"), "-p", str(tmp_path / "p.yaml"))
    assert code == 2
    assert f"{tmp_path / 't.yaml'}:4:8: error" in err
    assert f"{tmp_path / 'p.yaml'}:4:1: error: unknown key 'bogus'" in err


def test_exit_2_on_a_missing_file(capsys, tmp_path: Path):
    """A missing topology or policy file: exit 2 with its name."""
    missing = tmp_path / "nope.yaml"
    code, _, err = run(capsys, "check", str(missing))
    assert code == 2
    assert f"{missing}:1:1: error: cannot read file" in err
    code, _, err = run(capsys, "check", PAJEMPLOI, "--policy", str(missing))
    assert code == 2 and str(missing) in err and "Traceback" not in err


def test_exit_2_on_an_empty_policy_folder(capsys, tmp_path: Path):
    """A policy folder without policies is a usage problem, not a silent pass."""
    code, _, err = run(capsys, "check", PAJEMPLOI, "--policy", str(tmp_path))
    assert code == 2
    assert "no policy file found" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],  # missing TOPOLOGY
        ["check", PAJEMPLOI, "--format", "xml"],
        ["frobnicate"],
        ["check", PAJEMPLOI, "--no-such-option"],
        ["graph", PAJEMPLOI],  # --format is required
        ["paths", PAJEMPLOI, "--max-paths", "many"],
    ],
)
def test_exit_2_on_bad_usage(capsys, argv: list[str]):
    """Usage errors exit 2 with a message, no traceback (argparse's, or the command's
    own: ``check`` alone names what is missing, a TOPOLOGY or ``--k8s PATH``)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_exit_2_without_a_command(capsys):
    """``ztsim`` alone prints help and exits 2."""
    assert main([]) == 2
    assert "usage:" in capsys.readouterr().out


def test_paths_bad_arguments_exit_2(capsys):
    """``--max-paths 0`` and an unknown ``--goal`` are invalid input."""
    assert run(capsys, "paths", PAJEMPLOI, "--max-paths", "0")[0] == 2
    code, _, err = run(capsys, "paths", PAJEMPLOI, "--goal", "no-such-data")
    assert code == 2 and "no-such-data" in err


# --------------------------------------------------------------------------- JSON


def test_check_json_shape(capsys, scenario: Path):
    """Exactly spec §7's keys and types, with known values on the mini scenario."""
    code, out, _ = run(
        capsys,
        "check",
        str(scenario / "mini.yaml"),
        "--policy",
        str(scenario / "policies"),
        "--format",
        "json",
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["topology"] == "mini"
    assert [r["policy"] for r in doc["results"]] == ["closed", "open"]  # folder, sorted
    for r in doc["results"]:
        assert {"policy", "file", "exfiltration", "tampering", "traffic"} <= set(r)
        assert isinstance(r["file"], str) and r["file"].endswith(".yaml")
        for e in r["exfiltration"]:
            assert {"data", "reachable", "cost", "records"} <= set(e)
            assert isinstance(e["reachable"], bool)
            assert e["cost"] is None if not e["reachable"] else isinstance(e["cost"], int)
            assert e["records"] is None or isinstance(e["records"], int)
        for e in r["tampering"]:
            assert {"data", "reachable", "cost"} <= set(e)
        for t in r["traffic"]:
            assert {"from", "to", "service", "allowed", "rule"} <= set(t)
            assert isinstance(t["allowed"], bool) and isinstance(t["rule"], str)

    closed, opened = doc["results"]
    unreachable = {"reachable": False, "cost": None, "cost_exact": True, "cost_lower_bound": None}
    assert closed["exfiltration"] == [
        {"data": "rows", **unreachable, "records": 42},
        {"data": "notes", **unreachable, "records": None},
    ]
    assert closed["tampering"] == [{"data": "rows", **unreachable, "records": 42}]
    assert [
        (t["from"], t["to"], t["service"], t["allowed"], t["rule"]) for t in closed["traffic"]
    ] == [
        ("internet", "web", "443/tcp", True, "web-in"),
        ("web", "db", "5432/tcp", True, "web-db"),
        ("web", "web2", "22/tcp", True, "intra_zone"),
        ("web", "bank", "443/tcp", False, "default"),
        ("internet", "web", "22/tcp", False, "topology"),
    ]
    # open: enter, exploit, steal, login, collect, exfiltrate (from web) = 6 steps
    six = {"reachable": True, "cost": 6, "cost_exact": True, "cost_lower_bound": 6}
    assert opened["exfiltration"][0] == {"data": "rows", **six, "records": 42}
    assert opened["tampering"] == [{"data": "rows", **six, "records": 42}]
    assert [t["rule"] for t in opened["traffic"]] == [
        "default",
        "default",
        "default",
        "default",
        "topology",
    ]


def test_check_json_on_a_shipped_scenario(capsys):
    """Every ``rule`` is a rule id of its policy, ``default``, ``topology``, ``self`` or
    ``intra_zone``."""
    code, out, _ = run(capsys, "check", PAJEMPLOI, "--policy", str(POLICIES), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert [r["policy"] for r in doc["results"]] == ["flat", "segmented", "zero-trust"]
    for r in doc["results"]:
        pol = load_policy(r["file"])
        ids = {x.id for x in pol.model.segmentation.rules} | {x.id for x in pol.model.egress.rules}
        for t in r["traffic"]:
            assert t["rule"] in ids | {"default", "topology", "self", "intra_zone"}


# --------------------------------------------------------------------------- folders, help


def test_policy_folder_expansion(capsys, scenario: Path):
    """A folder means its *.yaml files, sorted; other files and subfolders are ignored."""
    folder = run(capsys, "check", str(scenario / "mini.yaml"), "-p", str(scenario / "policies"))
    files = run(
        capsys,
        "check",
        str(scenario / "mini.yaml"),
        "-p",
        str(scenario / "policies" / "closed.yaml"),
        "-p",
        str(scenario / "policies" / "open.yaml"),
    )
    assert folder == files
    assert folder[0] == 1


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(sub.choices)  # type: ignore[union-attr]


def test_commands_are_registered():
    """The core commands are all there."""
    assert {"validate", "check", "paths", "graph"} <= set(_commands())


@pytest.mark.parametrize("command", _commands())
def test_every_command_help_has_an_example(capsys, command: str):
    """``ztsim CMD --help`` explains the command and shows an example."""
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out
    assert f"ztsim {command}" in out


def python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` as a real process from the project's root, output captured."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
        env=env,
    )


def test_python_dash_m_help():
    """``python -m ztsim --help`` works as a real process."""
    proc = python("-m", "ztsim", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: ztsim" in proc.stdout and "check" in proc.stdout
    assert proc.stderr == ""


def test_real_process_writes_everything_before_its_hard_exit(capsys):
    """The program leaves with ``os._exit``: its output and status are still whole.

    Run twice, piped, the report is the in-process one byte for byte, and the
    status is the command's; an error goes out on standard error with status 2.
    """
    argv = ["paths", PAJEMPLOI, "--policy", str(POLICIES), "--format", "json"]
    code, expected, _ = run(capsys, *argv)
    for _ in range(2):
        proc = python("-m", "ztsim", *argv)
        assert proc.returncode == code == 1
        assert proc.stdout == expected
    bad = python("-m", "ztsim", "check", "missing.yaml")
    assert bad.returncode == 2
    assert bad.stderr.startswith("missing.yaml:1:1: error: cannot read file")


def test_hard_exit_flushes_what_is_still_buffered():
    """Text left in the stdio buffers by small writes still goes out, and the status holds."""
    script = (
        "import sys\n"
        "from ztsim.perf.heap import hard_exit\n"
        "sys.stdout.write('out' * 10)\n"
        "sys.stderr.write('err')\n"
        "hard_exit(3)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as usual
    proc = python("-c", script, env=env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "out" * 10, "err")


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--format", "json"],
        ["check"],
        ["paths", "--format", "json"],
        ["paths"],
    ],
)
def test_output_is_deterministic(capsys, argv: list[str]):
    """Two runs, byte-identical output."""
    args = [argv[0], PAJEMPLOI, "--policy", str(POLICIES), *argv[1:]]
    first = run(capsys, *args)
    second = run(capsys, *args)
    assert first == second
    assert first[1]


def test_validate_shipped_files(capsys):
    """``validate`` accepts the shipped topology with its policies."""
    code, out, err = run(capsys, "validate", PAJEMPLOI, str(POLICIES))
    assert code == 0, err
    assert out.startswith("ok: 1 topology, 3 policies")


# --------------------------------------------------------------------------- graph


def test_graph_graphml(capsys, tmp_path: Path):
    """GraphML parses with networkx and has fact and step nodes."""
    out = tmp_path / "g.graphml"
    code, _, err = run(capsys, "graph", PAJEMPLOI, "--format", "graphml", "-o", str(out))
    assert code == 0
    assert f"wrote {out}" in err
    g = nx.read_graphml(out)
    kinds = {a.get("type") for _, a in g.nodes(data=True)}
    assert kinds == {"fact", "step"}
    assert g.has_node("exfil:payroll-records")


def test_graph_json(capsys):
    """JSON node-link data parses and names nodes and edges."""
    code, out, _ = run(
        capsys, "graph", PAJEMPLOI, "--format", "json", "-p", str(POLICIES / "flat.yaml")
    )
    assert code == 0
    data = json.loads(out)
    assert data["nodes"] and data["edges"]
    assert any(n["id"] == "exfil:payroll-records" for n in data["nodes"])


def test_graph_dot(capsys):
    """DOT output is a digraph."""
    code, out, _ = run(capsys, "graph", PAJEMPLOI, "--format", "dot", "--cheapest")
    assert code == 0
    assert out.startswith("digraph")
    assert out.rstrip().endswith("}")
    assert " -> " in out
