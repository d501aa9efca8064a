"""Every k8s verdict names a Kubernetes object and its FILE:LINE (issue 25, point 6).

Each command and format is run on the shipped example (``examples/k8s/``), with and
without its NetworkPolicies, with the overlay ``attack.yaml`` plus an entry making a
service public that no manifest publishes; every "allowed by", "denied by" and
"by segmentation/egress" in the output must name a manifest (or overlay) line, and
no layer's default (which is no object) may decide anything: not from outside to
a service only the overlay publishes, nor in ``reach --all-ports`` from outside to
a port nothing publishes.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT

from ztsim.cli.main import main
from ztsim.inputs.k8s.importer import import_k8s

WORKLOADS = "examples/k8s/workloads"
POLICIES = "examples/k8s/policies"

#: attack.yaml with shop/api's 8081/tcp made public by the overlay alone.
PUBLIC_ENTRY = """\
  - select: {workload: shop/api}
    services:
      - {service: 8081/tcp, public: true}
"""

#: The start of a verdict's words (a decision naming its rule; a fix's "segmentation
#: layer ... allows it today").
VERDICT = re.compile(
    r"\b(?:(?:allowed |denied )?by (?:segmentation|egress)\b"
    r"|(?:segmentation|egress) (?:layer|rule) )"
)
#: A manifest's or overlay's place.
PLACE = re.compile(r"[\w./-]+\.ya?ml:\d+")
#: A layer's default named as the decider.
DEFAULT = re.compile(
    r"\b(?:egress-side|ingress-side|to-outside)/default(?![\w-])"
    r"|\blayer [\w-]+ default\b|\brule default\b|no Kubernetes object"
)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "4000")  # a verdict on one line


@pytest.fixture(scope="module")
def overlay(tmp_path_factory: pytest.TempPathFactory) -> str:
    text = (ROOT / "examples/k8s/attack.yaml").read_text("utf-8")
    head, tail = text.split("external:\n", 1)
    path = tmp_path_factory.mktemp("overlay") / "attack.yaml"
    path.write_text(head + PUBLIC_ENTRY + "external:\n" + tail, "utf-8")
    return str(path)


def _public_line(overlay: str) -> int:
    lines = Path(overlay).read_text("utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if "public: true" in line)


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    return out


def unplaced(text: str) -> list[str]:
    """The verdicts of ``text`` that name no FILE:LINE, or a layer's default."""
    bad = []
    for line in text.replace("\\n", "\n").splitlines():
        starts = [m.start() for m in VERDICT.finditer(line)]
        for a, b in zip(starts, [*starts[1:], len(line)], strict=False):
            said = line[a:b]
            if not PLACE.search(said) or DEFAULT.search(said):
                bad.append(said)
    return bad


def _defaults(rule: str) -> list[str]:
    """The layers' defaults a decision's ``L1/R1+L2/R2`` names."""
    return [p for p in rule.split("+") if p.endswith("/default")]


def _placed_parts(location: str, rule: str) -> bool:
    """Whether ``location`` names each layer ``rule`` names at a FILE:LINE."""
    said = location.split(" and ")
    return len(said) == len(rule.split("+")) and all(PLACE.search(s) for s in said)


def unplaced_fields(out: str, fmt: str) -> list[str]:
    """What :func:`unplaced` finds in the fields of JSON or CSV output: a decision's
    ``rule`` naming a default, a ``location`` without each layer's FILE:LINE, an
    ``explanation`` (or a plan's ``by``) unplaced."""
    bad: list[str] = []
    rows: list[dict[str, str]] = []
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
    else:
        todo: list[object] = [json.loads(out)]
        while todo:
            node = todo.pop()
            if isinstance(node, dict):
                todo.extend(node.values())
                if {"decided_by", "location", "by", "fix"} & node.keys():
                    rows.append(node)
            elif isinstance(node, list):
                todo.extend(node)
    for row in rows:
        rule = str(row.get("rule") or row.get("by") or "")
        bad += _defaults(rule)
        if row.get("location") and not _placed_parts(str(row["location"]), rule):
            bad.append(str(row["location"]))
        bad += unplaced(str(row.get("explanation") or "")) + unplaced(str(row.get("fix") or ""))
        if "fix" not in row and not (row.get("location") or row.get("explanation")):
            bad.append(f"a decision with no place: {row}")
    return bad


def test_unplaced_finds_what_it_guards() -> None:
    assert unplaced(
        "x (allowed by segmentation rule egress-side/default+ingress-side/a at f.yaml:2)"
    )
    assert unplaced("flow denied by segmentation layer egress-side rule r at k8s/")
    assert not unplaced(
        "denied by segmentation layer egress-side rule np-x/default-deny at a.yaml:3"
    )
    assert unplaced("deny a -> b 1/tcp; segmentation rule l/x+m/y allows it today: ...")


def _estates(overlay: str) -> list[list[str]]:
    flat = ["--k8s", WORKLOADS, "--overlay", overlay]
    return [flat, ["--k8s", WORKLOADS, "--k8s", POLICIES, "--overlay", overlay]]


QUICK = [
    ["reach", "--all-ports", "--format", "text"],
    ["check", "--format", "sarif"],
    ["paths", "--format", "text"],
]
SLOW = [
    *(["check", "--format", f] for f in ("text", "json")),
    ["paths", "--format", "json"],
    *(["reach", "--format", f] for f in ("text", "json", "csv", "md", "dot")),
    *(["reach", "--all-ports", "--format", f] for f in ("json", "csv", "md", "dot")),
]


@pytest.mark.parametrize(
    "command",
    [*QUICK, *(pytest.param(c, marks=pytest.mark.slow) for c in SLOW)],
    ids=lambda c: "-".join(c),
)
def test_every_verdict_is_placed(
    capsys: pytest.CaptureFixture[str], overlay: str, command: list[str]
) -> None:
    for estate in _estates(overlay):
        out = _run(capsys, [command[0], *estate, *command[1:]])
        fmt = command[-1]
        if fmt in ("json", "csv", "sarif"):
            assert unplaced_fields(out, fmt) == []
        else:
            assert VERDICT.search(out) or command[0] != "reach"
        assert unplaced(out) == []


@pytest.mark.parametrize("fmt", ["text", pytest.param("json", marks=pytest.mark.slow), "markdown"])
def test_every_diff_verdict_is_placed(
    capsys: pytest.CaptureFixture[str], overlay: str, fmt: str
) -> None:
    base = ["--k8s", WORKLOADS, "--k8s", POLICIES]
    head = ["--k8s-proposed", WORKLOADS]
    for argv in (base + head, ["--k8s", WORKLOADS, *head, "--k8s-proposed", POLICIES]):
        out = _run(capsys, ["diff", *argv, "--overlay", overlay, "--format", fmt])
        if fmt == "json":
            assert unplaced_fields(out, fmt) == []
        else:
            assert VERDICT.search(out) or fmt == "markdown"
        assert unplaced(out) == []


def test_reach_names_every_layer_at_its_line(
    capsys: pytest.CaptureFixture[str], overlay: str
) -> None:
    """Each layer of an allowed connection is named at its line, never a default:
    from outside to a port nothing publishes (the Namespace), to a service only the
    overlay makes public (the overlay's entry)."""
    out = _run(
        capsys,
        ["reach", "--k8s", WORKLOADS, "--overlay", overlay, "--all-ports", "--format", "json"],
    )
    (result,) = json.loads(out)["results"]
    grants = {
        (c["from"], c["to"], s): r
        for c in result["connections"]
        for r in c["rules"]
        for s in r["services"]
    }
    for rule in grants.values():
        parts = rule["rule"].split("+")
        assert not [p for p in parts if p.endswith("/default")], rule
        said = rule["location"].split(" and ")
        assert len(said) == len(parts) and all(PLACE.search(s) for s in said), rule
    unpublished = grants[("internet", "shop/api", "0-8080/tcp")]
    assert unpublished["rule"] == "egress-side/from-outside-shop+ingress-side/unisolated-in-shop"
    assert unpublished["location"].startswith(
        "Namespace shop (from outside: no egress side) at examples/k8s/workloads/namespaces.yaml:2"
    )
    public = grants[("internet", "shop/api", "8081/tcp")]
    assert public["rule"].startswith("egress-side/published-overlay-shop/api-8081/tcp+")
    assert public["location"].startswith(
        f"overlay shop-attack: 8081/tcp made public (from outside: no egress side) at "
        f"{overlay}:{_public_line(overlay)} and "
    )


def test_the_overlay_entry_that_publishes_is_named_after_manifests(overlay: str) -> None:
    """A service a manifest publishes keeps its publisher's name, even when the
    overlay marks it public too; the overlay is named where it alone publishes."""
    text = Path(overlay).read_text("utf-8") + (
        "  - {from: internet, to: shop/web, service: 8080/tcp}\n"
    )
    extra = "\n".join(
        ["  - select: {workload: shop/web}", "    services: [{service: 8080/tcp, public: true}]"]
    )
    path = Path(overlay).with_name("both.yaml")
    path.write_text(text.replace("external:\n", extra + "\nexternal:\n", 1), "utf-8")
    imported = import_k8s([WORKLOADS], path)
    published = imported.topology_draft.published
    assert [p.name for p in published[("shop/web", "8080/tcp")]] == [
        "Ingress shop/shop",
        "overlay shop-attack: 8080/tcp made public",
    ]
    rules = imported.policy_draft.provenance
    assert "published-ingress-shop/shop-8080/tcp" in rules
    assert "published-overlay-shop/web-8080/tcp" not in rules
    assert rules["published-overlay-shop/api-8081/tcp"].source.line == _public_line(overlay)


def test_report_takes_the_manifests(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``report --k8s`` (its help offers it) imports the manifests; it was ignored
    ('a TOPOLOGY file ... is needed')."""
    out = tmp_path / "r.html"
    argv = [
        "report",
        "--k8s",
        WORKLOADS,
        "--k8s",
        POLICIES,
        "--overlay",
        "examples/k8s/attack.yaml",
    ]
    _run(capsys, [*argv, "--output", str(out)])
    page = out.read_text("utf-8")
    # Each plan's blocking step, with the NetworkPolicy and where it is written.
    assert "examples/k8s/policies/default-deny.yaml:3" in page
