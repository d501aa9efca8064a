"""No terminal injection, valid XML whatever the names (issue #23, point 13).

Names from user files (topology and policy names, rule and detection ids, labels,
classifications, descriptions, file names) may hold control characters (ESC, CR,
BEL, C1's CSI), bidi overrides and zero-width characters.  Every output of every
command must show them escaped, JSON must escape them, and JUnit and GraphML must
stay valid XML.  The scenario here carries such a name in every free-text field.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztsim.cli.main import main
from ztsim.model.textsafe import json_safe, safe, safe_lines
from ztsim.output.escape import github_data, github_property, markdown_code, markdown_text

#: One of each class of character a name must not send to a terminal raw.
EVIL = (
    "\x1b[2J\x1b]0;title\x07\r\x08\x7f\x9b31m\x85\x00\t\n\u202a\u202e\u2066\u2069"
    "\u200e\u200f\u061c\u200b\u200d\ufeff\u2028\u2029\U000e0001"
    "[bold]x[/bold] [/nope] |<b>&`%,:\n::error file=x::injected"
)

#: Characters a terminal, a bidi algorithm or an XML parser acts on.
DANGEROUS = frozenset(
    [chr(c) for c in range(0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + list("\u061c\u200b\u200c\u200d\u200e\u200f\u2028\u2029\ufeff")
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
)


def raw_bad(text: str, allowed: str = "\n") -> set[str]:
    """The characters of ``text`` that must not be there raw (not printable, not ``allowed``)."""
    return {c for c in text if c not in allowed and (c in DANGEROUS or not c.isprintable())}


def yaml_quoted(text: str) -> str:
    """``text`` as a YAML double-quoted scalar, every character outside printable ASCII escaped."""
    out = []
    for c in text:
        n = ord(c)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= n < 0x7F:
            out.append(c)
        elif n < 0x100:
            out.append(f"\\x{n:02x}")
        elif n < 0x10000:
            out.append(f"\\u{n:04x}")
        else:
            out.append(f"\\U{n:08x}")
    return '"' + "".join(out) + '"'


def write_scenario(folder: Path, evil: str) -> None:
    """A small topology, a policy and a proposed policy naming everything with ``evil``."""

    def q(prefix: str) -> str:
        return yaml_quoted(prefix + evil)

    (folder / "topo.yaml").write_text(
        f"""ztsim: 1
kind: topology
name: {q("T")}
description: {q("T")}
zones:
  - {{id: internet, external: true, description: {q("Z")}}}
  - {{id: dmz}}
  - {{id: data}}
credentials:
  - {{id: pw}}
hosts:
  - id: web
    zone: dmz
    labels: {{tier: {q("L")}}}
    services:
      - {{service: 443/tcp, name: {q("S")}, public: true}}
    vulnerabilities:
      - {{id: CVE-1, service: 443/tcp, gives: user}}
    credentials:
      - {{credential: pw, requires: user}}
  - id: db
    zone: data
    services:
      - {{service: 5432/tcp}}
    logins:
      - {{credential: pw, service: 5432/tcp, gives: service}}
    data:
      - {{id: records, classification: {q("C")}, records: 10, requires: service,
         service: 5432/tcp, integrity: true}}
external:
  - {{id: c2, fqdn: c2.attacker.example, role: c2}}
traffic:
  - {{from: internet, to: web, service: 443/tcp}}
  - {{from: web, to: db, service: 5432/tcp}}
""",
        encoding="utf-8",
    )
    (folder / "pol.yaml").write_text(
        f"""ztsim: 1
kind: policy
name: {q("P")}
description: {q("P")}
segmentation:
  default: deny
  rules:
    - {{id: {q("R1")}, action: allow, from: {{zone: internet}}, to: {{host: web}},
       services: [443/tcp], description: {q("D")}}}
    - {{id: {q("R2")}, action: allow, from: {{labels: {{tier: {q("L")}}}}}, to: {{zone: data}}}}
controls:
  detection:
    - {{id: {q("W")}, techniques: [{q("X")}, T1190], probability: 0.5}}
""",
        encoding="utf-8",
    )
    (folder / "pol2.yaml").write_text(
        f"""ztsim: 1
kind: policy
name: {q("Q")}
segmentation:
  default: deny
  rules:
    - {{id: {q("S1")}, action: allow, from: {{zone: internet}}, to: {{host: web}},
       services: [443/tcp]}}
    - {{id: {q("S2")}, action: allow, from: {{zone: internet}}, to: {{host: web}},
       services: [443/tcp]}}
    - {{id: {q("S3")}, action: deny, from: {{labels: {{tier: {q("L")}}}}}, to: {{zone: data}}}}
egress:
  default: deny
""",
        encoding="utf-8",
    )


#: (argv, output format) of every command and format that prints names.
RUNS: list[tuple[list[str], str]] = [
    (["check", "topo.yaml", "-p", "pol.yaml"], "text"),
    (["check", "topo.yaml", "-p", "pol.yaml", "--rules"], "text"),
    *(
        (["check", "topo.yaml", "-p", "pol.yaml", "--format", f], f)
        for f in ("json", "junit", "sarif", "github", "markdown")
    ),
    (["check", "topo.yaml", "-p", "pol.yaml", "--baseline", "pol2.yaml"], "text"),
    (["paths", "topo.yaml", "-p", "pol.yaml", "--rules"], "text"),
    (["paths", "topo.yaml", "-p", "pol.yaml", "--format", "json"], "json"),
    (["diff", "topo.yaml", "--base", "pol.yaml", "--proposed", "pol2.yaml"], "text"),
    *(
        (["diff", "topo.yaml", "--base", "pol.yaml", "--proposed", "pol2.yaml", "--format", f], f)
        for f in ("markdown", "json")
    ),
    (["lint", "pol.yaml", "pol2.yaml", "-t", "topo.yaml"], "text"),
    (["lint", "pol.yaml", "-t", "topo.yaml", "--format", "json"], "json"),
    (["harden", "topo.yaml", "--policy", "pol.yaml"], "text"),
    (["harden", "topo.yaml", "--policy", "pol.yaml", "--format", "json"], "json"),
    (["validate", "topo.yaml", "pol.yaml", "pol2.yaml"], "text"),
    (["graph", "topo.yaml", "-p", "pol.yaml", "--format", "graphml"], "graphml"),
    (["graph", "topo.yaml", "-p", "pol.yaml", "--format", "dot"], "dot"),
    (["graph", "topo.yaml", "-p", "pol.yaml", "--format", "json"], "json"),
]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``ztsim ARGV`` in the current folder: exit status, stdout, stderr."""
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def check_output(argv: list[str], fmt: str, code: int, out: str, err: str) -> Any:
    """Assert the contract on one run's output; return the parsed document if any."""
    where = " ".join(argv)
    assert code in (0, 1, 3), f"{where}: exit {code}\n{err}"  # 3: harden incomplete
    assert "Traceback" not in err, where
    assert not raw_bad(err), f"{where}: stderr {sorted(map(hex, map(ord, raw_bad(err))))}"
    assert not raw_bad(out), f"{where}: stdout {sorted(map(hex, map(ord, raw_bad(out))))}"
    if fmt in ("junit", "graphml"):
        return ET.fromstring(out.encode("utf-8"))
    if fmt in ("json", "sarif"):
        return json.loads(out)
    if fmt == "github":
        for line in out.splitlines():
            assert line.startswith(("::error ", "::warning ", "::notice ")), line
        return out.splitlines()
    return None


@pytest.fixture
def evil_folder(tmp_path: Path) -> Path:
    write_scenario(tmp_path, EVIL)
    return tmp_path


@pytest.mark.parametrize(("argv", "fmt"), RUNS, ids=[" ".join(a[:1] + a[4:]) for a, _ in RUNS])
def test_every_output_escapes_names(
    argv: list[str],
    fmt: str,
    evil_folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(evil_folder)
    code, out, err = run(argv, capsys)
    doc = check_output(argv, fmt, code, out, err)
    if fmt == "json" and argv[0] == "check":
        # JSON keeps the exact names: escaped as \uXXXX, decoded back the same
        assert doc["results"][0]["policy"] == "P" + EVIL
    if fmt == "junit":
        names = [s.get("name") for s in doc.iter("testsuite")]
        assert names and all("\\x1b[2J" in (n or "") for n in names)
    if fmt == "github":
        # one command per line, whatever the names: the injected one is data
        assert all("::error file=x::injected" not in line.split("::", 2)[1] for line in doc)
    if fmt == "text" and argv[0] == "check" and "--baseline" not in argv:
        first = out.split("\ntopology ")[0]  # the verdict, wrapped at the width
        assert first.startswith("FAIL: ") and "\\x1b[2J" in first and "\\r" in first
    if fmt == "markdown":
        # HTML only inside code spans (literal there); tables keep their columns
        prose = re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", out)
        assert "<b>" not in prose and "&lt;b" in out
        for table in re.findall(r"(?:^\|.*\|$\n?)+", out, flags=re.M):
            widths = {len(re.findall(r"(?<!\\)\|", row)) for row in table.splitlines()}
            assert len(widths) == 1, table


def test_errors_quote_names_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_scenario(tmp_path, EVIL)
    (tmp_path / "bad.yaml").write_text(
        "ztsim: 1\nkind: policy\nname: x\nsegmentation:\n  rules:\n"
        f"    - {{id: r, action: allow, from: {{zone: {yaml_quoted('Z' + EVIL)}}}}}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["check", "topo.yaml", "-p", "bad.yaml"], capsys)
    assert not raw_bad(err) and not raw_bad(out)
    code, out, err = run(["validate", "--strict", "topo.yaml", "bad.yaml"], capsys)
    assert code == 2 and not raw_bad(err) and "bad.yaml:6:" in err


@pytest.mark.skipif(os.name != "posix", reason="file names with control characters")
def test_a_file_name_with_an_escape_is_shown_escaped(
    evil_folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(evil_folder)
    name = "p\x1b[2J\u202e\udcff.yaml"  # a byte that is not UTF-8 arrives as a lone surrogate
    os.rename(b"pol.yaml", os.fsencode(name))
    for argv, fmt in RUNS[:7]:
        argv = [name if a == "pol.yaml" else a for a in argv]
        code, out, err = run(argv, capsys)
        check_output(argv, fmt, code, out, err)
    code, out, err = run(["check", "topo.yaml", "-p", "missing\x1b[2J.yaml"], capsys)
    assert code == 2 and "missing\\x1b[2J.yaml:1:1: error" in err and not raw_bad(err)


# -- the escapers themselves


def test_safe_escapes_every_dangerous_character_and_keeps_the_rest() -> None:
    assert safe("payroll-db ü 漢字 🙂") == "payroll-db ü 漢字 🙂"
    assert safe("\x1b[2J\r\n\t\x9b\u202e\u200b\ufeff\udcff\U000e0001") == (
        "\\x1b[2J\\r\\n\\t\\x9b\\u202e\\u200b\\ufeff\\udcff\\U000e0001"
    )
    assert all(not raw_bad(safe(c), allowed="") for c in DANGEROUS)
    assert safe_lines("a\x1b\nb\r") == "a\\x1b\nb\\r"


def test_json_safe_keeps_the_data() -> None:
    data = {"name": EVIL + "\udcff", "é": ["\x7f", "ok"]}
    text = json.dumps(data, indent=2, ensure_ascii=False)
    assert json.loads(json_safe(text)) == data
    assert not raw_bad(json_safe(text))
    plain = json.dumps({"a": "b"}, indent=2)
    assert json_safe(plain) is plain


def test_markdown_and_github_escapers() -> None:
    assert markdown_text("a|b <img> *x* [l](u)") == "a\\|b &lt;img&gt; \\*x\\* \\[l\\](u)"
    assert markdown_code("x") == "`x`"
    assert markdown_code("a``b") == "``` a``b ```"
    assert github_data("a\nb\x1b%") == "a%0Ab\\x1b%25"
    assert github_property("f,i:l\ne") == "f%2Ci%3Al%0Ae"


# -- the property: any name, every format


_NASTY = st.characters(
    categories=("Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Lu", "Nd", "Po", "Sm"),
    exclude_characters="\ud800",
).filter(lambda c: not (0xD800 <= ord(c) <= 0xDFFF))

_FORMATS = [r for r in RUNS if r[0][0] in ("check", "paths", "graph") and r[1] != "dot"][:9]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.text(_NASTY, min_size=1, max_size=12))
def test_any_name_in_every_format(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / str(abs(hash(name)))
    folder.mkdir(exist_ok=True)
    write_scenario(folder, name)
    monkeypatch.chdir(folder)
    for argv, fmt in _FORMATS:
        code, out, err = run(argv, capsys)
        check_output(argv, fmt, code, out, err)


# -- the TUI: names are never markup, never raw escapes


async def test_tui_shows_names_escaped_and_never_as_markup(
    evil_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.app import App
    from textual.widgets import DataTable

    from ztsim.tui.app import ZtsimApp
    from ztsim.tui.export import write_export
    from ztsim.tui.scenario import Scenario
    from ztsim.tui.widgets.policies import PoliciesTable

    monkeypatch.chdir(evil_folder)
    app = ZtsimApp(Scenario("topo.yaml", ("pol.yaml", "pol2.yaml")))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screens = []
        for tab in ("paths", "topology", "traffic", "diff"):
            app.main.action_tab(tab)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            screens.append(app.export_screenshot())
            for table in app.screen.query(DataTable):
                cells = [str(c) for r in range(table.row_count) for c in table.get_row_at(r)]
                labels = [c.label.plain for c in table.columns.values()]
                assert not any(raw_bad(x) for x in cells + labels), tab
        # what the app hands Textual's notify: escaped, and never read as markup
        sent: list[tuple[str, dict[str, Any]]] = []
        monkeypatch.setattr(App, "notify", lambda self, m, **kw: sent.append((m, kw)))
        app.notify("wrote p\x1b[2J[bold]x[/nope].yaml", title="\x9b2J")
        assert (
            sent
            == [
                ("wrote p\\x1b[2J[bold]x[/nope].yaml", sent[0][1]),
            ]
            and sent[0][1]["markup"] is False
            and sent[0][1]["title"] == "\\x9b2J"
        )
        # the exports of each view: Markdown escaped, JSON escaped and exact
        for tab in ("paths", "topology", "traffic"):
            app.main.action_tab(tab)
            await pilot.pause()
            for fmt in ("md", "json"):
                path = write_export(app.vm, app.main.export_state(), fmt, directory=evil_folder)
                text = path.read_text(encoding="utf-8")
                assert not raw_bad(text), (tab, fmt)
                if fmt == "json":
                    json.loads(text)
                else:
                    assert "<b>" not in text and "&lt;b>" in text, tab
        row = app.main.query_one(PoliciesTable).get_row_at(0)
        # the policy's name as written: markup left literal, escapes as text
        assert "[bold]x[/bold] [/nope]" in row[0].plain and "\\x1b[2J" in row[0].plain
    for svg in screens:
        assert not raw_bad(svg), sorted(hex(ord(c)) for c in raw_bad(svg))
