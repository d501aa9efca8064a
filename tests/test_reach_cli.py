"""``ztsim reach`` on the command line: golden JSON on the shipped scenarios, every
format, ``--output``, escaping of hostile names, exit statuses.

Golden files are ``tests/test_reach_golden/TOPOLOGY--POLICY[--all-ports].json``:
the JSON of ``ztsim reach`` on each shipped topology with each of its policies.
After an intended change, regenerate them and review the diff::

    ZTSIM_UPDATE_GOLDEN=1 python -m pytest tests/test_reach_cli.py -k golden
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from ztsim.cli.exitcodes import ExitCode
from ztsim.cli.main import main
from ztsim.engine.connectivity import reach_map
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.loader import load_policies, load_topology, policy_from_text
from ztsim.output.jsontext import dump_json
from ztsim.output.reach import reach_json, reach_object

GOLDEN = Path(__file__).parent / "test_reach_golden"
UPDATE = bool(os.environ.get("ZTSIM_UPDATE_GOLDEN"))

#: Each shipped topology and its policies (pajemploi's: the top-level *.yaml).
SHIPPED = {
    "pajemploi": ["policies/flat.yaml", "policies/segmented.yaml", "policies/zero-trust.yaml"],
    "k8s-shop": sorted(str(p.relative_to(ROOT)) for p in (ROOT / "policies/k8s-shop").glob("*")),
    "corporate": sorted(str(p.relative_to(ROOT)) for p in (ROOT / "policies/corporate").glob("*")),
}
CASES = [
    (topo, pol, all_ports)
    for topo, pols in SHIPPED.items()
    for pol in pols
    for all_ports in (False, True)
]

T = "topologies/pajemploi.yaml"
ZT = "policies/zero-trust.yaml"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ golden JSON


@pytest.mark.parametrize(("topology", "policy", "all_ports"), CASES)
def test_golden_json(
    capsys: pytest.CaptureFixture[str], topology: str, policy: str, all_ports: bool
) -> None:
    """The JSON map of each shipped scenario is byte for byte the reviewed golden file."""
    argv = ["reach", f"topologies/{topology}.yaml", "-p", policy, "--format", "json"]
    if all_ports:
        argv.append("--all-ports")
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        code, out, _ = _run(capsys, *argv)
    finally:
        os.chdir(cwd)
    assert code == ExitCode.OK
    name = f"{topology}--{Path(policy).stem}{'--all-ports' if all_ports else ''}.json"
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8"), f"regenerate {name} (see module docstring)"


def test_golden_by_hand() -> None:
    """What the goldens hold, checked by hand on Pajemploi's zero-trust policy: its
    allow rules, pair by pair (public services only from the internet), and the one
    allowed egress; the flat policy lets everything through."""
    data = json.loads((GOLDEN / "pajemploi--zero-trust.json").read_text("utf-8"))
    (result,) = data["results"]
    pairs = {(c["from"], c["to"]): c for c in result["connections"]}
    assert len(pairs) == 26
    assert pairs[("internet", "portal-web")]["services"] == ["443/tcp"]
    assert pairs[("jump-host", "payroll-db")]["rules"] == [
        {
            "rule": "bastion-ssh",
            "section": "segmentation",
            "decided_by": "rule",
            "location": "policies/zero-trust.yaml:30",
            "services": ["22/tcp"],
        },
        {
            "rule": "bastion-dba",
            "section": "segmentation",
            "decided_by": "rule",
            "location": "policies/zero-trust.yaml:33",
            "services": ["5432/tcp"],
        },
    ]
    assert pairs[("payments-batch", "bank-api")]["rules"][0]["section"] == "egress"
    assert not any(to == "c2" for _, to in pairs)
    flat = json.loads((GOLDEN / "pajemploi--flat--all-ports.json").read_text("utf-8"))
    every = ["0-65535/tcp", "0-65535/udp", "0-65535/sctp", "0-65535/icmp"]
    assert all(c["services"] == every for c in flat["results"][0]["connections"])


@pytest.mark.parametrize(("topology", "policy", "all_ports"), CASES[:6])
def test_fast_json_is_dump_json(topology: str, policy: str, all_ports: bool) -> None:
    """The JSON writer (shared parts written once) gives ``dump_json``'s bytes."""
    topo = load_topology(ROOT / f"topologies/{topology}.yaml")
    maps = [reach_map(topo, p, all_ports=all_ports) for p in load_policies([ROOT / policy])]
    assert reach_json(topo, maps) == dump_json(reach_object(topo, maps))


# ------------------------------------------------------------------ every format


def test_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "reach", T, "-p", ZT, "--to", "host:payroll-db")
    assert code == ExitCode.OK
    lines = out.splitlines()
    assert lines[0] == (f"policy zero-trust ({ZT}): 5 connections, services the destinations serve")
    assert (
        "jump-host -> payroll-db  22/tcp, 5432/tcp  (22/tcp: allowed by segmentation rule "
        f"bastion-ssh at {ZT}:30; 5432/tcp: allowed by segmentation rule bastion-dba at {ZT}:33)"
    ) in lines


def test_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "reach",
        T,
        "-p",
        ZT,
        "-p",
        "policies/flat.yaml",
        "--format",
        "json",
        "--from",
        "host:payments-batch",
    )
    assert code == ExitCode.OK
    data = json.loads(out)
    assert [r["policy"] for r in data["results"]] == ["zero-trust", "flat"]
    conns = data["results"][0]["connections"]
    assert [(c["from"], c["to"]) for c in conns] == [
        ("payments-batch", "bank-api"),
        ("payments-batch", "payroll-db"),
    ]
    assert set(conns[0]) == {"from", "to", "services", "rules"}


def test_csv(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "reach", T, "-p", ZT, "--format", "csv", "--to", "host:payroll-db")
    assert code == ExitCode.OK
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == [
        "policy",
        "from",
        "to",
        "service",
        "section",
        "rule",
        "decided_by",
        "location",
    ]
    assert [
        "zero-trust",
        "jump-host",
        "payroll-db",
        "5432/tcp",
        "segmentation",
        "bastion-dba",
        "rule",
        f"{ZT}:33",
    ] in rows
    assert len(rows) == 1 + 6  # five connections, one of them with two services


def test_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "reach", T, "-p", ZT, "--format", "md", "--to", "host:bo-app")
    assert code == ExitCode.OK
    assert out.startswith(f"## zero-trust ({ZT})\n\n4 connections; services the destinations")
    assert "| from | to | services | decided by |" in out
    assert "| vpn-gw | bo-app | 8443/tcp | allowed by segmentation rule vpn-to-backoffice" in out


def test_dot(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "reach", T, "-p", ZT, "--format", "dot")
    assert code == ExitCode.OK
    assert out.startswith('digraph "zero-trust" {\n')
    assert '  "internet" [shape=ellipse, style=dashed];' in out
    assert '  "bank-api" [shape=ellipse];' in out
    assert '  "internet" -> "portal-web" [label="443/tcp", tooltip="allowed by' in out
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=out, text=True, check=True, capture_output=True)


@pytest.mark.parametrize("fmt", ["text", "json", "csv", "md", "dot"])
def test_empty_map(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """A map with no connection still says so, in a valid document."""
    argv = ["reach", T, "-p", ZT, "--from", "host:bo-ws-01", "--to", "host:payroll-db"]
    code, out, _ = _run(capsys, *argv, "--format", fmt)
    assert code == ExitCode.OK
    expected = {
        "text": f"policy zero-trust ({ZT}): no connection, services the destinations serve\n",
        "csv": "policy,from,to,service,section,rule,decided_by,location\n",
        "md": f"## zero-trust ({ZT})\n\nno connection; services the destinations serve.\n",
        "dot": 'digraph "zero-trust" {\n  rankdir=LR;\n  node [shape=box];\n}\n',
    }
    if fmt == "json":
        assert json.loads(out)["results"][0]["connections"] == []
    else:
        assert out == expected[fmt]


def test_large_maps_are_written_in_pieces() -> None:
    """Pieces (one or more per policy), joined the bytes of the whole (every format)."""
    from ztsim.output.reach import FORMATS, iter_reach, render_reach

    topo = load_topology(ROOT / T)
    maps = [reach_map(topo, p, all_ports=True) for p in load_policies([ROOT / "policies"])]
    for fmt in FORMATS:
        pieces = list(iter_reach(fmt, topo, maps))
        assert len(pieces) >= (1 if fmt == "csv" else len(maps))
        assert "".join(pieces) == render_reach(fmt, topo, maps)


def test_no_policy_is_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "reach", T, "--from", "zone:internet")
    assert code == ExitCode.OK
    assert out.startswith("policy reference (<reference>): 2 connections")


def test_output_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--output writes the same bytes as standard output, and never over an input."""
    target = tmp_path / "map.json"
    code, out, err = _run(capsys, "reach", T, "-p", ZT, "--format", "json", "-o", str(target))
    assert code == ExitCode.OK and out == ""
    assert "wrote json to" in err
    _, printed, _ = _run(capsys, "reach", T, "-p", ZT, "--format", "json")
    assert target.read_text("utf-8") == printed
    code, _, err = _run(capsys, "reach", T, "-p", ZT, "-o", ZT)
    assert code == ExitCode.INVALID and "input" in err


def test_bad_selector_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "reach", T, "--to", "label:app")
    assert code == ExitCode.INVALID and out == ""
    assert "ztsim reach: error: --to 'label:app': term 'label:app': write label:KEY=VALUE" in err


def test_closed_pipe_is_status_4() -> None:
    r, w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ztsim", "reach", T, "-p", "policies/flat.yaml"],
        stdout=w,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    os.close(w)
    os.close(r)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.OUTPUT
    assert "ztsim: cannot write output: Broken pipe" in err.decode()


# ------------------------------------------------------------------ hostile names

_HOSTILE = (
    'ztsim: 1\nkind: policy\nname: "=HYPERLINK(\\"x\\")|<b>\\"\\e[2J"\n'
    "segmentation:\n  default: deny\n  rules:\n"
    '    - {id: "-r|\\"<i>`x`\\u202e", action: allow, from: any, to: any}\n'
)


@pytest.fixture
def hostile() -> tuple[LoadedTopology, list[LoadedPolicy]]:
    topo = load_topology(ROOT / T)
    return topo, [policy_from_text(_HOSTILE, 'p"\\\n.yaml')]


def test_hostile_names_are_escaped(hostile: tuple[LoadedTopology, list[LoadedPolicy]]) -> None:
    """No control character, no formula, no broken table, quote or JSON in any format."""
    from ztsim.output.reach import reach_csv, reach_dot, reach_markdown, reach_text

    topo, pols = hostile
    maps = [reach_map(topo, p) for p in pols]
    for text in (reach_text(maps), reach_markdown(maps), reach_dot(topo, maps)):
        assert "\x1b" not in text and "\u202e" not in text
        assert all(line.isprintable() for line in text.splitlines())
    rows = list(csv.reader(io.StringIO(reach_csv(maps))))
    assert rows[1][0].startswith("'=HYPERLINK") and rows[1][5].startswith("'-r|")
    md = reach_markdown(maps)
    assert "\\|&lt;b&gt;" in md and "&lt;i&gt;\\`x\\`" in md
    dot = reach_dot(topo, maps)
    assert dot.startswith('digraph "=HYPERLINK(\\"x\\")|<b>\\"\\\\x1b[2J" {')
    assert reach_json(topo, maps) == dump_json(reach_object(topo, maps))
    data = json.loads(reach_json(topo, maps))
    assert data["results"][0]["policy"] == '=HYPERLINK("x")|<b>"\x1b[2J'
