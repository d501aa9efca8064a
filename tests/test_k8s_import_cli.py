"""``ztsim import k8s`` and ``--k8s`` on the commands, on the shipped example (issue 25).

The example (``examples/k8s/``): workloads, their network policies, and the
overlay ``attack.yaml``.  Without the policies an exfiltration path exists; with
them it is blocked, and every "blocked by" / "allowed by" names the manifest.
After a change to the mapping or the compiler, regenerate the golden import (and
review its diff)::

    ztsim import k8s examples/k8s/workloads examples/k8s/policies \
        --output examples/k8s/imported --force
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from conftest import ROOT

from ztsim.cli.main import main
from ztsim.inputs.k8s.importer import import_k8s

EXAMPLE = ROOT / "examples" / "k8s"
WORKLOADS = "examples/k8s/workloads"
POLICIES = "examples/k8s/policies"
OVERLAY = "examples/k8s/attack.yaml"
SEGMENTED = ["--k8s", WORKLOADS, "--k8s", POLICIES, "--overlay", OVERLAY]
FLAT = ["--k8s", WORKLOADS, "--overlay", OVERLAY]


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


def test_import_writes_the_golden_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "imported"
    code, stdout, _ = _run(capsys, "import", "k8s", WORKLOADS, POLICIES, "-o", str(out))
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["overlay.yaml", "policy.yaml", "topology.yaml"]
    golden = EXAMPLE / "imported"
    for name in ("topology.yaml", "policy.yaml", "overlay.yaml"):
        assert (out / name).read_bytes() == (golden / name).read_bytes(), name
    assert "imported 3 workload(s) in 2 namespace(s)" in stdout


def test_import_is_deterministic(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for d in ("a", "b"):
        assert _run(capsys, "import", "k8s", POLICIES, WORKLOADS, "-o", str(tmp_path / d))[0] == 0
    for name in ("topology.yaml", "policy.yaml", "overlay.yaml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_policy_comments_name_each_rule_s_manifest() -> None:
    text = (EXAMPLE / "imported" / "policy.yaml").read_text("utf-8")
    assert "# NetworkPolicy shop/default-deny (examples/k8s/policies/default-deny.yaml:" in text
    assert "# CiliumNetworkPolicy shop/api-payments (examples/k8s/policies/api-fqdn.yaml:" in text


def test_existing_files_are_kept(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("mine\n")
    code, _, err = _run(capsys, "import", "k8s", WORKLOADS, "-o", str(tmp_path))
    assert code == 2
    assert "policy.yaml:1:1: error: exists already" in err
    assert (tmp_path / "policy.yaml").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy.yaml"]  # nothing written
    code, _, _ = _run(capsys, "import", "k8s", WORKLOADS, "-o", str(tmp_path), "--force")
    assert code == 0
    assert (tmp_path / "policy.yaml").read_text().startswith("# Policy compiled")


def test_bad_manifest_is_placed_and_nothing_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\n"
        "spec:\n  podSelector: {}\n  policyTypes: [Sideways]\n"
    )
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, "import", "k8s", str(bad), "-o", str(out))
    assert code == 2
    assert f"{bad}:6:" in err and "error" in err and "Traceback" not in err
    assert not out.exists() and stdout == ""


def test_output_must_be_a_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = _run(capsys, "import", "k8s", WORKLOADS, "-o", str(f))
    assert code == 2 and "names a folder" in err


def test_hostile_names_never_reach_the_terminal_raw(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ns = tmp_path / "evil\x1b[31m"
    ns.mkdir()
    (ns / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\n"
        "spec: {containers: [{name: c}]}\n"
    )
    code, out, err = _run(capsys, "import", "k8s", str(ns), "-o", str(tmp_path / "o"))
    assert code == 0
    assert "\x1b" not in out and "\x1b" not in err


# --------------------------------------------------------------------------- --k8s


def test_check_fails_without_the_policies(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "check", *FLAT)
    assert code == 1
    assert "REACHABLE" in out


def test_check_passes_with_the_policies(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "check", *SEGMENTED)
    assert code == 0, out
    # What stops the plan: the NetworkPolicy, its manifest and line (the object's first).
    assert (
        "flow shop/web -> data/postgres:5432/tcp denied by segmentation layer egress-side rule "
        "np-shop/default-deny-eg-isolate at NetworkPolicy shop/default-deny at "
        "examples/k8s/policies/default-deny.yaml:3"
    ) in " ".join(out.split())


def test_next_hints_repeat_the_k8s_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "check", *FLAT)
    assert code == 1
    hints = [line.strip() for line in out.splitlines() if line.strip().startswith("ztsim ")]
    tail = f"--k8s {WORKLOADS} --overlay {OVERLAY}"
    assert hints == [f"ztsim paths {tail}", f"ztsim harden {tail}"]
    for hint in hints:  # each runs as printed
        code, again, err = _run(capsys, *shlex.split(hint)[1:])
        assert code in (0, 1) and again and "error" not in err, hint


def test_hint_words_name_every_path_quoted(tmp_path: Path) -> None:
    spaced = tmp_path / "my manifests"
    spaced.mkdir()
    (spaced / "p.yaml").write_text((EXAMPLE / "workloads" / "shop.yaml").read_text("utf-8"))
    topo = import_k8s([str(spaced), POLICIES]).topology
    words = ["--k8s", str(spaced), "--k8s", POLICIES]
    assert topo.arguments("ignored") == topo.arguments(None) == words
    assert shlex.split(shlex.join(words)) == words


def test_blocked_by_names_the_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "paths", *SEGMENTED, "--format", "json")
    assert code == 0
    assert "NetworkPolicy shop/" in out and "examples/k8s/policies/" in out
    json.loads(out)


def test_sarif_points_at_the_manifests(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "check", *FLAT, "--format", "sarif")
    assert code == 1
    places = {
        (
            loc["physicalLocation"]["artifactLocation"]["uri"],
            loc["physicalLocation"]["region"]["startLine"],
        )
        for run in json.loads(out)["runs"]
        for r in run["results"]
        for loc in r["locations"]
    }
    # The fix goes where the outside gets in: the Ingress publishing the web front
    # (examples/k8s/workloads/shop.yaml:59), whose rule allows the first step.
    assert places == {("examples/k8s/workloads/shop.yaml", 59)}
    (text,) = {r["message"]["text"] for run in json.loads(out)["runs"] for r in run["results"]}
    assert "at Ingress shop/shop (from outside: no egress side) at examples/k8s/workloads" in text
    # Every step allowed names a Kubernetes object and its line, none a layer default.
    assert "default" not in text
    assert "at Namespace shop (no policy isolates these pods for egress) at examples/k8s/" in text


def test_diff_k8s_opens_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "diff",
        "--k8s",
        WORKLOADS,
        "--k8s",
        POLICIES,
        "--k8s-proposed",
        WORKLOADS,
        "--overlay",
        OVERLAY,
    )
    assert code == 1  # removing the policies opens the exfiltration
    flat = " ".join(out.split())
    assert "opened exfiltrate(customers): blocked -> reachable" in flat
    # The opened plan names what held it closed; each removed rule, its manifest.
    assert "base flow shop/web -> data/postgres:5432/tcp denied by segmentation layer " in flat
    assert "NetworkPolicy shop/default-deny at examples/k8s/policies/default-deny.yaml:3" in flat
    assert "removed np-shop/web-eg-0-0-0 (NetworkPolicy shop/web at " in flat
    assert "examples/k8s/policies/shop.yaml:14)" in flat
    assert f"({WORKLOADS}:" not in flat  # never a line of the folder itself


def test_k8s_with_a_topology_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "check", "topologies/pajemploi.yaml", "--k8s", WORKLOADS)
    assert code == 2 and "--k8s replaces TOPOLOGY" in err
    # said as a usage error (no fake place), and how to give several manifest paths
    assert err.startswith("ztsim: error: ") and "<command line>" not in err
    code, _, err = _run(capsys, "check", "--k8s", WORKLOADS, "examples/k8s/policies")
    assert code == 2 and "repeat the option, --k8s A --k8s B" in err
    code, _, err = _run(capsys, "check", "--overlay", OVERLAY, "topologies/pajemploi.yaml")
    assert code == 2 and "--overlay goes with --k8s" in err


def test_bad_overlay_and_bad_manifest_reported_together(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    overlay = tmp_path / "o.yaml"
    overlay.write_text("ztsim: 1\nkind: overlay\nwrokloads: []\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: 3}\n")
    code, _, err = _run(capsys, "check", "--k8s", str(bad), "--overlay", str(overlay))
    assert code == 2
    assert f"{overlay}:3:1" in err and f"{bad}:4:" in err


def test_import_api_matches_the_command() -> None:
    imported = import_k8s([WORKLOADS, POLICIES])
    assert imported.policy.path == WORKLOADS
    assert [h.id for h in imported.topology.model.hosts] == [
        "data/postgres",
        "shop/api",
        "shop/web",
    ]


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="POSIX permissions (root writes anyway)"
)
def test_read_only_target_refused_before_writing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "overlay.yaml").write_text("keep\n")
    os.chmod(tmp_path / "overlay.yaml", 0o444)
    code, _, _ = _run(capsys, "import", "k8s", WORKLOADS, "-o", str(tmp_path), "--force")
    assert code == 2
    assert (tmp_path / "overlay.yaml").read_text() == "keep\n"
    assert not (tmp_path / "topology.yaml").exists()


def test_reach_names_both_sides_objects(capsys: pytest.CaptureFixture[str]) -> None:
    """A connection is allowed by the source's egress side and the destination's
    ingress side: reach names both NetworkPolicies at their lines, never a default."""
    code, out, _ = _run(capsys, "reach", *SEGMENTED, "--format", "json")
    assert code == 0
    (result,) = json.loads(out)["results"]
    where = {
        (c["from"], c["to"]): [r["location"] for r in c["rules"]] for c in result["connections"]
    }
    assert where[("shop/api", "data/postgres")] == [
        "NetworkPolicy shop/api at examples/k8s/policies/shop.yaml:36 and "
        "NetworkPolicy data/postgres at examples/k8s/policies/shop.yaml:54"
    ]
    assert not any("default" in loc for locs in where.values() for loc in locs)
    code, out, _ = _run(capsys, "reach", *FLAT, "--format", "json")
    (result,) = json.loads(out)["results"]
    assert all(
        "no policy isolates these pods" in r["location"] or "from outside" in r["location"]
        for c in result["connections"]
        for r in c["rules"]
    )
