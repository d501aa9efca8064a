"""The HTML report (``ztsim report``), its pictures and the Mermaid diagrams: no browser.

Golden bytes for the Pajemploi report, determinism, hostile names (escaped in
HTML, SVG and Mermaid), the layout's guarantees on the shipped scenarios' plans,
``graph --plan`` / ``--format svg`` / DOT clusters, and the command's errors.
Headless Chromium renders the reports in ``tests/test_report_html_browser.py``.

Update the golden file after a deliberate change with
``ZTSIM_UPDATE_GOLDEN=1 python -m pytest tests/test_report_html.py`` and read its diff.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import ROOT

from ztsim._version import __version__
from ztsim.analysis.analyze import Needs, analyze
from ztsim.cli.main import main
from ztsim.inputs.loader import load_policies, load_topology
from ztsim.output.drawing.attack import block_marks, plan_figure, plans_figure, topology_places
from ztsim.output.drawing.layout import Route
from ztsim.output.drawing.mermaid import figure_mermaid, mermaid_text
from ztsim.output.drawing.svg import FOLD_WIDTH, figure_layout

GOLDEN = ROOT / "tests" / "report_golden" / "pajemploi.html"
SCENARIOS = [
    ("pajemploi", "topologies/pajemploi.yaml", "policies", "assertions/pajemploi.yaml"),
    ("k8s-shop", "topologies/k8s-shop.yaml", "policies/k8s-shop", "assertions/k8s-shop.yaml"),
    ("corporate", "topologies/corporate.yaml", "policies/corporate", "assertions/corporate.yaml"),
]


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # relative paths in the reports, whatever the checkout


def _report(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "report.html"
    assert main(["report", *args, "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_golden_pajemploi_report(tmp_path: Path) -> None:
    """The Pajemploi report, byte for byte (the version normalised)."""
    text = _report(
        tmp_path,
        "topologies/pajemploi.yaml",
        "-p",
        "policies",
        "--assert",
        "assertions/pajemploi.yaml",
    )
    text = text.replace(f"ztsim {__version__}", "ztsim VERSION")
    if os.environ.get("ZTSIM_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "topo", "pols", "asserts"), SCENARIOS)
def test_report_is_deterministic_and_self_contained(
    tmp_path: Path, name: str, topo: str, pols: str, asserts: str
) -> None:
    """Same input, same bytes; no URL to fetch; one plan picture per matrix row."""
    first = _report(tmp_path, topo, "-p", pols, "--assert", asserts)
    assert _report(tmp_path, topo, "-p", pols, "--assert", asserts) == first
    assert not re.search(r"(src|href)=\"(?!#)", first), "a link or source outside the page"
    assert "<script" not in first and "@import" not in first and "url(http" not in first
    rows = first.split('<section id="matrix">')[1].split("</section>")[0].count("<tr>") - 1
    assert rows > 0 and first.count('class="figure plan-picture"') == rows
    _well_formed(first)


class _Checker(HTMLParser):
    VOID: ClassVar[set[str]] = {"meta", "br", "path", "rect"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: object) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def _well_formed(text: str) -> None:
    """Every tag closed in order (the SVG's too)."""
    c = _Checker()
    c.feed(text)
    assert c.stack == []


HOSTILE = "<script>alert(1)</script>\"'&#x1b;|`end\x1b[2J\u202e"


def _hostile_scenario(tmp_path: Path) -> tuple[Path, Path]:
    """Hostile names (quotes, tags, entities, controls, bidi) where the schema allows
    them: the topology's and the policy's names, and the files' paths."""
    name = HOSTILE.replace("\\", "\\\\").replace('"', '\\"')
    name = name.replace("\x1b", "\\e").replace("\u202e", "\\u202e")
    folder = tmp_path / "d<b>\x1b\u202e"
    folder.mkdir()
    topo = folder / "t<script>.yaml"
    topo.write_text(
        f"""ztsim: 1
kind: topology
name: "{name}"
zones:
  - {{id: internet, external: true}}
  - {{id: dmz}}
credentials:
  - {{id: cred}}
hosts:
  - id: web
    zone: dmz
    services: [{{service: 443/tcp, public: true}}]
    vulnerabilities: [{{id: V1, service: 443/tcp, gives: user}}]
    credentials: [{{credential: cred, requires: user}}]
    data: [{{id: records, records: 5, integrity: true}}]
external:
  - {{id: c2, fqdn: c2.example, role: c2}}
""",
        encoding="utf-8",
    )
    pol = folder / 'p"<i>.yaml'
    pol.write_text(
        f"""ztsim: 1
kind: policy
name: "{name}"
segmentation:
  default: deny
  rules:
    - {{id: web-in, action: allow, from: {{zone: internet}}, to: {{zone: dmz}}}}
egress:
  default: deny
""",
        encoding="utf-8",
    )
    return topo, pol


def test_hostile_names_are_escaped(tmp_path: Path) -> None:
    """HTML, SVG and Mermaid: no tag, no control or bidi character gets through."""
    topo, pol = _hostile_scenario(tmp_path)
    text = _report(tmp_path, str(topo), "-p", str(pol))
    assert "<script" not in text and "<i>" not in text and "d<b>" not in text
    assert "\x1b" not in text and "\u202e" not in text
    assert "&lt;script&gt;" in text and "\\x1b" in text and "\\u202e" in text
    _well_formed(text)
    md = tmp_path / "check.md"
    main(["check", str(topo), "-p", str(pol), "--format", "markdown", "-o", str(md)])
    blocks = re.findall(r"```mermaid\n(.*?)```", md.read_text(encoding="utf-8"), re.S)
    assert blocks
    for block in blocks:
        _mermaid_shape(block)


_LABEL = r'"[^"<>`|\n\\]*"'  # escaped labels: none of these inside (<br> apart)
_MERMAID_LINE = re.compile(
    "|".join(
        [
            r"flowchart LR",
            rf"  subgraph z\d+\[{_LABEL}\]",
            r"  end",
            rf"    n\d+\[{_LABEL}\]",
            rf"  n\d+ -->\|{_LABEL}\| n\d+",
            r"  n\d+ -\.-> n\d+",
            r"  linkStyle \d+(,\d+)* stroke:#1a7f37,stroke-width:3px",
        ]
    )
)


def _mermaid_shape(block: str) -> None:
    """Each line one of the forms we write, labels escaped (syntax shape of Mermaid)."""
    lines = block.rstrip("\n").split("\n")
    assert lines[0] == "flowchart LR"
    depth = 0
    for line in lines:
        assert _MERMAID_LINE.fullmatch(line.replace("<br>", "")), line
        depth += line.startswith("  subgraph") - (line == "  end")
        assert depth in (0, 1)
    assert depth == 0


def test_mermaid_text_escapes_what_ends_a_label() -> None:
    assert mermaid_text('"]-->x') == "#quot;]--#gt;x"
    assert mermaid_text("#quot;") == "#35;quot;"  # an entity in a name stays text
    assert mermaid_text("a\nb") == "a#92;nb"  # shown as a\\n, never a line break


@pytest.mark.parametrize(("name", "topo", "pols", "asserts"), SCENARIOS)
def test_markdown_mermaid_of_shipped_scenarios(
    tmp_path: Path, name: str, topo: str, pols: str, asserts: str
) -> None:
    """Every counter-example gets a Mermaid diagram of the expected shape."""
    out = tmp_path / "check.md"
    main(["check", topo, "-p", pols, "--assert", asserts, "--format", "markdown", "-o", str(out)])
    md = out.read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", md, re.S)
    assert len(blocks) == md.count("| # | step |")  # one per plan table
    for block in blocks:
        _mermaid_shape(block)


def _plans(topo: str, pols: str):  # type: ignore[no-untyped-def]
    t, ps = load_topology(topo), load_policies([pols])
    a = analyze(t, ps, Needs(plan_listing=True))
    return t, ps, [row for rows in a.plans_by_goal(a.goals, 5).values() for row in rows]


@pytest.mark.parametrize(("name", "topo", "pols", "asserts"), SCENARIOS)
def test_plan_pictures_layout(name: str, topo: str, pols: str, asserts: str) -> None:
    """Every plan of the shipped scenarios: no two boxes overlap, lanes are disjoint,
    each step's arrow goes left to right, and laying out again gives the same."""
    t, ps, rows = _plans(topo, pols)
    for row in rows:
        fig = plan_figure(row.plan.ident, "p", row.plan.steps, t, block_marks(row.verdicts, ps))
        lay = figure_layout(fig)
        boxes = list(lay.boxes.values()) + [r.label for r in lay.routes if r.label is not None]
        for i, b in enumerate(boxes):
            assert not any(b.overlaps(c) for c in boxes[i + 1 :])
        lanes = [b for _, b in lay.lanes]
        for i, b in enumerate(lanes):
            assert not any(b.overlaps(c) for c in lanes[i + 1 :])
        for e in fig.edges:
            if e.lines:  # a step
                assert lay.boxes[e.target].x > lay.boxes[e.source].x
        assert figure_layout(fig) == lay
        # one node per position, every step but the entry drawn as an arrow
        assert sum(1 for e in fig.edges if e.lines) == row.plan.cost - 1


def _pieces(route: Route) -> list[list[tuple[float, float]]]:
    """A route cut at its breaks: the lines drawn without lifting the pen."""
    cuts = [0, *route.breaks, len(route.points)]
    return [list(route.points[a:b]) for a, b in pairwise(cuts)]


@pytest.mark.parametrize(("name", "topo", "pols", "asserts"), SCENARIOS)
def test_plan_pictures_fold_to_a_laptop_width(
    name: str, topo: str, pols: str, asserts: str
) -> None:
    """Folded in rows no wider than FOLD_WIDTH (a laptop shows them whole): boxes and
    lanes still never overlap, each piece of an arrow goes left to right inside the
    drawing, each step's arrow ends at its target, and the same bytes twice."""
    t, ps, rows = _plans(topo, pols)
    zones, external = topology_places(t)
    figs = [
        plan_figure(row.plan.ident, "p", row.plan.steps, t, block_marks(row.verdicts, ps))
        for row in rows
    ]
    figs.append(
        plans_figure(
            "g", "g", [r.plan.steps for r in rows], zones=zones, external=external, numbered=False
        )
    )
    folded = 0
    for fig in figs:
        lay = figure_layout(fig, FOLD_WIDTH)
        folded += any(r.breaks for r in lay.routes)
        assert lay.width <= FOLD_WIDTH
        boxes = list(lay.boxes.values()) + [r.label for r in lay.routes if r.label is not None]
        for i, b in enumerate(boxes):
            assert not any(b.overlaps(c) for c in boxes[i + 1 :])
            assert b.x >= 0 and b.right <= lay.width and b.y >= 0 and b.bottom <= lay.height
        lanes = [b for _, b in lay.lanes]
        for i, b in enumerate(lanes):
            assert not any(b.overlaps(c) for c in lanes[i + 1 :])
        for e, route in zip(fig.edges, lay.routes, strict=True):
            if e.lines:  # a step: left to right piece by piece, into its target
                target = lay.boxes[e.target]
                assert route.points[-1] == (target.x, target.cy)
                for piece in _pieces(route):
                    xs = [x for x, _ in piece]
                    assert xs == sorted(xs), (fig.ident, e.source, e.target)
        assert figure_layout(fig, FOLD_WIDTH) == lay
    assert folded, "no picture of the shipped scenarios is folded: the test tests nothing"


def test_merged_figure_has_every_step() -> None:
    t, _, rows = _plans("topologies/pajemploi.yaml", "policies")
    zones, external = topology_places(t)
    fig = plans_figure(
        "g", "g", [r.plan.steps for r in rows], zones=zones, external=external, numbered=False
    )
    lines = figure_mermaid(fig)
    assert lines[0] == "flowchart LR" and len(fig.nodes) < sum(r.plan.cost for r in rows)


# --------------------------------------------------------------------------- the commands


def test_diff_report(tmp_path: Path) -> None:
    text = _report(
        tmp_path,
        "topologies/pajemploi.yaml",
        "--base",
        "policies/segmented.yaml",
        "--proposed",
        "policies/zero-trust.yaml",
    )
    opened = text.split('<section id="opened">')[1].split("</section>")[0]
    closed = text.split('<section id="closed">')[1].split("</section>")[0]
    assert 'class="figure plan-picture"' not in opened
    assert closed.count('class="figure plan-picture"') >= 1
    assert '<div class="side">' in text
    _well_formed(text)


@pytest.mark.parametrize(
    "args",
    [
        ["--base", "policies/flat.yaml"],
        ["--base", "policies/flat.yaml", "--proposed", "policies/segmented.yaml", "-p", "policies"],
        ["-p", "policies", "--goal", "no-such-data"],
        ["-p", "policies", "-k", "0"],
    ],
)
def test_report_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["report", "topologies/pajemploi.yaml", *args, "-o", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    # how the command was called, not a file: no made-up FILE:1:1 (issue 27 point 9)
    assert err.startswith("ztsim report: error: ") and ":1:1:" not in err


@pytest.mark.parametrize(
    ("goal", "drawn"),
    [
        ("payroll-records", "exfiltrate(payroll-records)"),
        ("exfiltrate(payroll-records)", "exfiltrate(payroll-records)"),
        ("tamper(payroll-records)", "tamper(payroll-records)"),
    ],
)
def test_report_goal_takes_every_form(tmp_path: Path, goal: str, drawn: str) -> None:
    """``--goal`` as everywhere: DATA, exfiltrate(DATA) or tamper(DATA)."""
    text = _report(tmp_path, "topologies/pajemploi.yaml", "-p", "policies", "--goal", goal)
    assert f"Around <b>{drawn}</b>" in text


def test_report_never_over_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    topo = tmp_path / "t.yaml"
    topo.write_bytes((ROOT / "topologies" / "pajemploi.yaml").read_bytes())
    assert main(["report", str(topo), "-o", str(topo)]) == 2
    assert topo.read_bytes() == (ROOT / "topologies" / "pajemploi.yaml").read_bytes()


def test_graph_plan_and_svg(capsys: pytest.CaptureFixture[str]) -> None:
    """--plan ID: that plan's sub-graph (DOT with zones as clusters) or its drawing."""
    _, _, rows = _plans("topologies/pajemploi.yaml", "policies/segmented.yaml")
    plan = rows[0].plan
    base = ["graph", "topologies/pajemploi.yaml", "-p", "policies/segmented.yaml"]
    assert main([*base, "--plan", plan.ident, "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph") and "subgraph cluster_0" in dot and 'label="zone dmz"' in dot
    assert dot.count("shape=box") == plan.cost
    assert main([*base, "--plan", plan.ident, "--format", "svg"]) == 0
    svg = capsys.readouterr().out
    assert svg.startswith("<?xml") and svg.count('class="figure plan-picture"') == 1
    assert "blocked: segmented" in svg
    assert main([*base, "--format", "svg"]) == 0
    assert capsys.readouterr().out.count("<svg") == 1
    assert main([*base, "--plan", "nope", "--format", "svg"]) == 2
    assert "no such plan" in capsys.readouterr().err


def test_graph_dot_clusters_and_readable_labels(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "topologies/pajemploi.yaml", "--format", "dot", "--cheapest"]) == 0
    dot = capsys.readouterr().out
    assert 'label="zone internet"' in dot
    assert 'label="T1190 Exploit Public-Facing Application\\n443/tcp"' in dot
    assert 'label="portal-web\\nuser"' in dot


@pytest.mark.parametrize(("name", "topo", "pols", "asserts"), SCENARIOS)
def test_matrix_via_tells_alike_plans_apart(
    tmp_path: Path, name: str, topo: str, pols: str, asserts: str
) -> None:
    """Plans x policies: rows of one goal and cost differ in what a reader sees besides
    the plan id (the TUI's via: hops, where the data leaves, the credential taken)."""
    text = _report(tmp_path, topo, "-p", pols, "--assert", asserts)
    matrix = text[text.index('id="matrix"') : text.index('id="plans"')]
    seen: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for row in re.findall(r"<tr>(.*?)</tr>", matrix)[1:]:
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        goal, _ident, *rest = cells
        seen.setdefault((goal, rest[1]), []).append(tuple(rest))
    assert seen
    for rows in seen.values():
        assert len(set(rows)) == len(rows), rows


def test_a_rule_location_never_breaks_inside(tmp_path: Path) -> None:
    """FILE:LINE in a verdict cell stays on one line ('policies/zero-' / 'trust.yaml:11'
    read in Chromium at 1366 px)."""
    text = _report(tmp_path, "topologies/pajemploi.yaml", "-p", "policies")
    assert '<span class="muted tok">(policies/zero-trust.yaml:11)</span>' in text
    assert ".tok{white-space:nowrap}" in text

