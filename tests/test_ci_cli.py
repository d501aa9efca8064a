"""``ztsim check`` with --assert/--baseline/--output/CI formats, and ``ztsim schema``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from test_ci_scenario import TOPOLOGY, write_assertions, write_policy

from ztsim.analysis.analyze import analyze
from ztsim.cli.main import main
from ztsim.inputs.loader import load_policies, load_topology
from ztsim.output.console import dump_json

PAJEMPLOI = str(ROOT / "topologies" / "pajemploi.yaml")
SHIPPED = [
    ("pajemploi", "policies/zero-trust.yaml", "policies/flat.yaml"),
    ("k8s-shop", "policies/k8s-shop/network-policies.yaml", "policies/k8s-shop/default-allow.yaml"),
    ("corporate", "policies/corporate/tiered.yaml", "policies/corporate/flat.yaml"),
]


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared scenario written to files; the working folder is tmp_path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "topology.yaml").write_text(TOPOLOGY, "utf-8")
    for name in ("open", "tight", "broken"):
        write_policy(tmp_path, name)
    write_assertions(
        tmp_path,
        "  - {id: no-exfil, type: no-exfiltration}\n"
        "  - {id: flows, type: traffic-allowed, severity: warning}\n",
    )
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- spec §7 unchanged


def test_without_assert_json_is_exactly_spec_7(capsys: pytest.CaptureFixture[str]) -> None:
    pols = [str(ROOT / "policies" / "zero-trust.yaml"), str(ROOT / "policies" / "flat.yaml")]
    code, out, _ = run(capsys, PAJEMPLOI, "-p", pols[0], "-p", pols[1], "--format", "json")
    expected = analyze(load_topology(PAJEMPLOI), load_policies(pols))
    assert out == dump_json(expected.to_json())
    assert code == 1 == expected.exit_code
    code, out, _ = run(capsys, PAJEMPLOI, "-p", pols[0])
    assert code == 0 and out.startswith("PASS")


def test_without_assert_ci_formats_report_the_goals(
    scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "topology.yaml", "-p", "tight.yaml", "--format", "junit")
    root = ET.fromstring(out)
    names = [c.attrib["name"] for c in root.iter("testcase")]
    assert names == ["exfiltrate(records)", "tamper(records)", "exfiltrate(notes)"]
    assert root.attrib["failures"] == "1" and code == 1  # tampering is reachable under tight
    code, out, _ = run(capsys, "topology.yaml", "-p", "tight.yaml", "--format", "github")
    assert out.count("::error ") == 1 and "tamper(records)" in out


# --------------------------------------------------------------------------- --assert


def test_assert_exit_codes(scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "topology.yaml", "-p", "tight.yaml", "--assert", "assertions.yaml")
    assert code == 0, out  # exfiltration blocked; tampering is not asserted
    code, out, _ = run(capsys, "topology.yaml", "-p", "broken.yaml", "--assert", "assertions.yaml")
    assert code == 0 and "WARN   flows [warning]" in out  # only a warning fails
    code, out, _ = run(
        capsys,
        "topology.yaml",
        "-p",
        "open.yaml",
        "-p",
        "tight.yaml",
        "--assert",
        "assertions.yaml",
    )
    assert code == 1 and out.startswith("FAIL")


def test_assert_errors_are_located_and_exit_2(
    scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_assertions(
        scene, "  - {id: a, type: no-exfiltration, data: nope}\n  - {id: b, typo: 1}\n"
    )
    code, out, err = run(capsys, "topology.yaml", "--assert", "assertions.yaml")
    assert code == 2 and out == ""
    assert "assertions.yaml:6:" in err and "Traceback" not in err
    write_assertions(scene, "  - {id: a, type: no-exfiltration, data: nope}\n")
    code, _, err = run(capsys, "topology.yaml", "--assert", "assertions.yaml", "-p", "missing.yaml")
    assert code == 2 and "missing.yaml" in err
    code, _, err = run(capsys, "topology.yaml", "--assert", "assertions.yaml")
    assert code == 2 and "assertions.yaml:5:42: error: assertion a: unknown data item 'nope'" in err


def test_output_writes_the_report_and_prints_the_summary(
    scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "topology.yaml",
        "-p",
        "open.yaml",
        "--assert",
        "assertions.yaml",
        "--format",
        "sarif",
        "--output",
        "out.sarif",
    )
    assert code == 1
    assert out.startswith("FAIL: 2 assertion(s) x 1 policy")
    assert "wrote sarif report to out.sarif" in err
    log = json.loads((scene / "out.sarif").read_text("utf-8"))
    assert log["version"] == "2.1.0" and log["runs"][0]["results"]
    # Spec §7 path too: json into the file, text on the terminal.
    code, out, _ = run(
        capsys, "topology.yaml", "-p", "open.yaml", "--format", "json", "-o", "o.json"
    )
    assert code == 1 and out.startswith("FAIL") and json.loads((scene / "o.json").read_text())
    code, _, err = run(
        capsys, "topology.yaml", "--format", "junit", "-o", str(scene / "no" / "x.xml")
    )
    assert code == 2 and "cannot write --output" in err


def test_same_input_same_bytes(scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("text", "json", "junit", "sarif", "github", "markdown"):
        args = [
            "topology.yaml",
            "-p",
            "open.yaml",
            "-p",
            "tight.yaml",
            "--assert",
            "assertions.yaml",
        ]
        first = run(capsys, *args, "--format", fmt)
        assert first == run(capsys, *args, "--format", fmt), fmt


# --------------------------------------------------------------------------- --baseline


def test_baseline_fails_only_on_what_is_new(
    scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["topology.yaml", "-p", "open.yaml", "--assert", "assertions.yaml"]
    code, out, _ = run(capsys, *args, "--baseline", "open.yaml")
    assert code == 0 and "known debt" in out and "KNOWN  no-exfil" in out
    code, out, _ = run(capsys, *args, "--baseline", "tight.yaml")
    assert code == 1 and "FAIL   no-exfil" in out
    # Without --assert: goals; tampering is reachable under both open and tight.
    code, out, _ = run(capsys, "topology.yaml", "-p", "tight.yaml", "--baseline", "open.yaml")
    assert code == 0 and "KNOWN  tamper(records)" in out
    code, out, _ = run(capsys, *args, "--baseline", "tight.yaml", "--format", "sarif")
    states = {r["baselineState"] for r in json.loads(out)["runs"][0]["results"]}
    assert states == {"new"}


def test_baseline_errors(scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (scene / "bad.yaml").write_text(
        "ztsim: 1\nkind: policy\nname: bad\nsegmentation: {default: maybe}\n"
    )
    code, _, err = run(capsys, "topology.yaml", "--baseline", "bad.yaml")
    assert code == 2 and "bad.yaml:4:" in err
    code, _, err = run(capsys, "topology.yaml", "--baseline", "open.yaml", "--max-paths", "0")
    assert code == 2 and "--max-paths" in err


# --------------------------------------------------------------------------- shipped scenarios


@pytest.mark.parametrize(("name", "hardened", "flat"), SHIPPED)
def test_shipped_assertions_hold_when_hardened_and_fail_when_flat(
    name: str,
    hardened: str,
    flat: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    topo, checks = f"topologies/{name}.yaml", f"assertions/{name}.yaml"
    code, out, _ = run(capsys, topo, "-p", hardened, "--assert", checks, "--strict")
    assert code == 0 and "FAIL " not in out and "WARN " not in out, out
    code, out, _ = run(capsys, topo, "-p", flat, "--assert", checks, "--format", "junit")
    root = ET.fromstring(out)
    assert code == 1 and int(root.attrib["failures"]) >= 5


# --------------------------------------------------------------------------- schema


def _schema(capsys: pytest.CaptureFixture[str], *kind: str) -> dict[str, object]:
    assert main(["schema", *kind]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert out == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return data


def test_schema_validates_every_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema

    schemas = {k: _schema(capsys, k) for k in ("topology", "policy", "assertions")}
    anyfile = _schema(capsys)
    files = sorted(ROOT.glob("topologies/*.yaml")) + sorted(ROOT.glob("policies/**/*.yaml"))
    files += sorted(ROOT.glob("assertions/*.yaml"))
    assert len(files) >= 12
    for f in files:
        doc = yaml.safe_load(f.read_text("utf-8"))
        jsonschema.Draft202012Validator(schemas[doc["kind"]]).validate(doc)
        jsonschema.Draft202012Validator(anyfile).validate(doc)


def test_schema_rejects_typos(capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema

    schema = _schema(capsys, "assertions")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    v = jsonschema.Draft202012Validator(schema)
    good = {
        "ztsim": 1,
        "kind": "assertions",
        "name": "x",
        "assertions": [
            {
                "id": "a",
                "type": "no-flow",
                "from": "any",
                "to": {"zone": "data"},
                "services": "22/tcp",
            }
        ],
    }
    v.validate(good)
    for bad in (
        {**good, "extra": 1},
        {**good, "assertions": [{"id": "a", "type": "no-flw"}]},
        {**good, "assertions": [{"id": "a", "type": "no-exfiltration", "dta": "x"}]},
        {**good, "assertions": [{"id": "a", "type": "max-undetected", "probability": 2}]},
    ):
        assert not v.is_valid(bad), bad
    with pytest.raises(SystemExit) as exc:
        main(["schema", "nonsense"])
    assert exc.value.code == 2
    capsys.readouterr()


# --------------------------------------------------------------------------- integrations


def test_pre_commit_hooks() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"ztsim-validate", "ztsim-check"}
    for h in hooks.values():
        assert h["language"] == "python" and h["files"] == r"\.(yaml|yml)$"
        assert h["entry"].split()[0] == "ztsim"
    assert hooks["ztsim-check"]["pass_filenames"] is False


def test_github_actions_example() -> None:
    text = (ROOT / "examples" / "ci" / "github-actions.yml").read_text("utf-8")
    wf = yaml.safe_load(text)
    steps = wf["jobs"]["ztsim"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert wf["permissions"]["security-events"] == "write"
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "--format sarif --output ztsim.sarif" in runs and '>> "$GITHUB_STEP_SUMMARY"' in runs
    for name in (
        "topologies/pajemploi.yaml",
        "policies/zero-trust.yaml",
        "assertions/pajemploi.yaml",
    ):
        assert (ROOT / name).is_file(), name


def test_bytes_do_not_depend_on_hash_seeds(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    args = [
        "topologies/pajemploi.yaml",
        "-p",
        "policies/",
        "--assert",
        "assertions/pajemploi.yaml",
        "--baseline",
        "policies/segmented.yaml",
        "--format",
        "sarif",
    ]
    outs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-m", "ztsim", "check", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1]
