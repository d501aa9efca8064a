"""Issue 27, points 7 and 9: text that follows the terminal, ``check`` saying what to
run next, consistent options (``lint TOPOLOGY``, ``--goal`` forms) and usage errors
without a made-up ``FILE:1:1``."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from ztsim.cli.main import main
from ztsim.output.tables import Column, box_table, output_width, wrap_line

PAJ = str(ROOT / "topologies/pajemploi.yaml")
POLS = ROOT / "policies"

_words = st.text(alphabet="abcdefgh-().>", min_size=1, max_size=12)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- point 7: widths


def test_piped_output_follows_columns(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "90")
    code, out, _ = _run(capsys, "check", PAJ, "-p", str(POLS / "segmented.yaml"))
    assert code == 1
    assert max(len(line) for line in out.splitlines()) <= 90
    monkeypatch.delenv("COLUMNS")
    _, wide, _ = _run(capsys, "check", PAJ, "-p", str(POLS / "segmented.yaml"))
    assert max(len(line) for line in wide.splitlines()) > 90  # 120 when piped, no COLUMNS


def test_output_width_reads_columns_only_when_piped() -> None:
    assert output_width(True, {"COLUMNS": "50"}) is None  # the terminal's (rich reads it)
    assert output_width(False, {"COLUMNS": "50"}) == 50
    assert output_width(False, {}) == 120


@settings(max_examples=80, deadline=None)
@given(
    cells=st.lists(st.lists(_words, min_size=1, max_size=6).map(" ".join), min_size=1, max_size=4),
    width=st.integers(min_value=10, max_value=60),
)
def test_table_cells_never_break_inside_a_word(cells: list[str], width: int) -> None:
    t = box_table([Column("a"), Column("b", wrap=False)], [[c, "x"] for c in cells], width)
    words = {w for c in cells for w in c.split(" ") if w}
    shown = [line.split("│")[1].strip() for line in t.lines[3:-1]]
    pieces = {w for line in shown for w in line.split(" ") if w}
    assert pieces <= words  # every word printed is a whole word of some cell
    assert " ".join(shown).split() == " ".join(cells).split()  # and nothing is lost


@settings(max_examples=80, deadline=None)
@given(words=st.lists(_words, min_size=1, max_size=20), width=st.integers(5, 40))
def test_long_lines_wrap_at_spaces_only(words: list[str], width: int) -> None:
    text = "  " + " ".join(words)
    lines = wrap_line(text, width)
    assert " ".join(line.strip() for line in lines).split() == words
    for line in lines:
        assert len(line) <= width or len(line.split()) == 1  # only a lone word overflows


def test_plan_column_keeps_each_technique_with_its_host(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = _run(capsys, "check", PAJ, "-p", str(POLS / "flat.yaml"))
    assert "T1190 portal-web" in out and "T1041 c2" in out
    cells = [line.split("│")[5].strip() for line in out.splitlines() if line.count("│") == 6]
    for cell in filter(None, cells):
        for unit in cell.removeprefix("> ").split(" > "):
            assert re.fullmatch(r"T\d{4}(\.\d{3})? \S+", unit), unit


# ---------------------------------------------------------------- point 7: next steps


def test_check_says_what_to_run_next_for_a_reachable_goal(capsys) -> None:
    _, out, _ = _run(capsys, "check", PAJ, "-p", str(POLS / "flat.yaml"))
    assert f"    ztsim paths {PAJ} -p {POLS / 'flat.yaml'}\n" in out
    assert f"    ztsim harden {PAJ} -p {POLS / 'flat.yaml'}\n" in out


def test_check_says_what_blocks_a_blocked_goal(capsys) -> None:
    _, out, _ = _run(capsys, "check", PAJ, "-p", str(POLS / "zero-trust.yaml"))
    assert "blocked: exfiltrate(payroll-records): its cheapest plan (cost 7," in out
    assert "stops at step 3: flow portal-web -> api-01:8081/tcp denied by" in out
    assert "ztsim harden" not in out  # nothing to harden


def test_next_commands_are_quoted_for_the_shell(capsys, tmp_path) -> None:
    odd = tmp_path / "my topo.yaml"
    odd.write_text((ROOT / "topologies/pajemploi.yaml").read_text())
    _, out, _ = _run(capsys, "check", str(odd), "-p", str(POLS / "flat.yaml"))
    assert f"ztsim paths '{odd}' -p" in out


# ---------------------------------------------------------------- point 9


@pytest.mark.parametrize(
    ("goal", "shown"),
    [
        ("payroll-records", ["exfiltrate(payroll-records)", "tamper(payroll-records)"]),
        ("exfiltrate(payroll-records)", ["exfiltrate(payroll-records)"]),
        ("tamper(payroll-records)", ["tamper(payroll-records)"]),
    ],
)
def test_goal_takes_data_or_a_goal(capsys, goal: str, shown: list[str]) -> None:
    code, out, _ = _run(capsys, "paths", PAJ, "--goal", goal, "-k", "1", "--format", "json")
    assert code == 1
    import json

    assert [g["goal"] for g in json.loads(out)["goals"]] == shown


def test_an_unknown_goal_is_a_usage_error_with_a_suggestion(capsys) -> None:
    code, out, err = _run(capsys, "paths", PAJ, "--goal", "payroll-record")
    assert code == 2 and out == ""
    assert err.startswith(
        "ztsim paths: error: --goal 'payroll-record': no data item 'payroll-record' in the "
        "topology (did you mean 'payroll-records'?)"
    )
    assert ":1:1:" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["paths", PAJ, "-k", "0"],
        ["check", PAJ, "-k", "0", "--baseline", str(POLS / "flat.yaml")],
        ["harden", PAJ, "-p", str(POLS / "flat.yaml"), "--kinds", "nope"],
        ["check", PAJ, "-p", str(POLS / "flat.yaml"), "--format", "sarif", "--output", ""],
    ],
)
def test_usage_errors_carry_no_fake_position(capsys, argv: list[str]) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.startswith(f"ztsim {argv[0]}: error: ")
    assert ":1:1:" not in err and "<command line>" not in err


def test_lint_takes_the_topology_first(capsys) -> None:
    new = _run(capsys, "lint", PAJ, "--policy", str(POLS / "segmented.yaml"))
    old = _run(capsys, "lint", str(POLS / "segmented.yaml"), "--topology", PAJ)
    assert new[0] == old[0] == 1 and new[1] == old[1]
    assert "deprecated" not in new[2]
    assert (
        "ztsim lint: note: `lint POLICY... [--topology TOPOLOGY]` is deprecated; write " in (old[2])
    )
    assert f"`ztsim lint {PAJ} --policy {POLS / 'segmented.yaml'}`" in old[2]


def test_lint_without_topology_and_its_mistakes(capsys) -> None:
    code, out, err = _run(capsys, "lint", "--policy", str(POLS / "segmented.yaml"))
    assert code == 0 and "policy only" in out and "deprecated" not in err
    code, _, err = _run(capsys, "lint", PAJ, PAJ, "-p", str(POLS / "flat.yaml"))
    assert code == 2 and err.startswith("ztsim lint: error: one topology at most")
    code, _, err = _run(capsys, "lint", PAJ, "-t", PAJ, "-p", str(POLS / "flat.yaml"))
    assert code == 2 and "given twice" in err
    code, _, err = _run(capsys, "lint")
    assert code == 2 and err.startswith("ztsim lint: error: no policy")


def test_a_large_estate_names_the_command_instead_of_judging_here(capsys, monkeypatch) -> None:
    import ztsim.output.console as console

    monkeypatch.setattr(console, "PARALLEL_HOSTS", 1)  # every topology is "large"
    _, out, _ = _run(capsys, "check", PAJ, "-p", str(POLS / "zero-trust.yaml"))
    assert "  2 blocked goal(s); where each plan stops:\n" in out
    assert f"    ztsim paths {PAJ} -p {POLS / 'zero-trust.yaml'}\n" in out
    assert "its cheapest plan" not in out
