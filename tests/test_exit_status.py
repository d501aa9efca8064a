"""Exit statuses that mean what they say (issue #23, points 5 and 6).

Each command's ``--help`` lists exactly the statuses it can return (the table
``ztsim.cli.exitcodes.EXIT_STATUSES``, checked against the code), and output that cannot
be delivered (a reader gone, a full disk) never exits 0: status 4, one line on
standard error, no traceback and no interpreter noise.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from ztsim.cli.exitcodes import EXIT_STATUSES, ExitCode, exit_epilog
from ztsim.cli.main import build_parser, main
from ztsim.perf.heap import OUTPUT_FAILED

T = "topologies/pajemploi.yaml"
FLAT = "policies/flat.yaml"
ZT = "policies/zero-trust.yaml"
COMMANDS_DIR = ROOT / "ztsim" / "cli" / "commands"

#: Every command that prints on standard output, in each of its output forms.
PRINTING: dict[str, list[str]] = {
    "check-text": ["check", T, "-p", FLAT],
    "check-json": ["check", T, "-p", FLAT, "--format", "json"],
    "check-junit": ["check", T, "-p", FLAT, "--format", "junit"],
    "check-sarif": ["check", T, "-p", FLAT, "--format", "sarif"],
    "check-github": ["check", T, "-p", FLAT, "--format", "github"],
    "check-markdown": ["check", T, "-p", FLAT, "--format", "markdown"],
    "paths": ["paths", T, "-p", FLAT],
    "diff": ["diff", T, "--base", FLAT, "--proposed", ZT],
    "lint": ["lint", FLAT, "-t", T],
    "harden": ["harden", T, "-p", FLAT],
    "graph": ["graph", T, "-p", FLAT, "--format", "dot"],
    "schema": ["schema"],
    "validate": ["validate", T, FLAT],
}


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(sub.choices)  # type: ignore[union-attr]


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def _exit_section(text: str) -> str:
    return text[text.index("exit status:") :]


def _codes_in_help(section: str) -> set[int]:
    lines = section.splitlines()[1:]
    return {
        int(line.split()[0])
        for line in lines
        if line.startswith("  ") and line.split()[0].isdigit()
    }


def _returned_members(command: str) -> set[ExitCode]:
    """The ``ExitCode.X`` members a command's module names (what its run can return)."""
    tree = ast.parse((COMMANDS_DIR / f"{command}.py").read_text("utf-8"))
    names = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "ExitCode"
    }
    return {ExitCode[n] for n in names}


def test_every_command_has_its_table() -> None:
    """No command without its own statuses, no table without its command."""
    assert set(EXIT_STATUSES) == set(_commands())


@pytest.mark.parametrize("command", _commands())
def test_help_lists_exactly_the_command_statuses(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """``ztsim CMD --help`` lists each status of its table with its meaning, and no other."""
    section = _exit_section(_help(capsys, command))
    table = EXIT_STATUSES[command]
    assert _codes_in_help(section) == {int(c) for c, _ in table}
    for code, meaning in table:
        first = meaning.split("\n")[0]
        assert f"  {int(code):<4} {first}" in section, (command, code)
    assert section == exit_epilog(command)


@pytest.mark.parametrize("command", _commands())
def test_table_covers_what_the_code_returns(command: str) -> None:
    """Every ExitCode the command's module names, and what main() adds, is in its table."""
    listed = {int(c) for c, _ in EXIT_STATUSES[command]}
    named = {int(m) for m in _returned_members(command)}
    assert named <= listed, (command, named - listed)
    # main() turns an input error, a bug and (outside the TUI) an output failure or
    # Ctrl-C into these, for any command.
    from_main = {ExitCode.INVALID, ExitCode.INTERNAL}
    if command != "tui":
        from_main |= {ExitCode.OUTPUT, ExitCode.INTERRUPTED}
    assert {int(c) for c in from_main} <= listed


def test_one_means_the_gate_fails_under_each_name() -> None:
    """Status 1 is the failing gate under every command's name for it; 4 is runtime's."""
    gate = {ExitCode.REACHABLE, ExitCode.FINDINGS, ExitCode.REGRESSION, ExitCode.INCOMPLETE}
    assert {int(c) for c in gate} == {1}
    assert int(ExitCode.OUTPUT) == OUTPUT_FAILED == 4
    assert len({int(c) for c in ExitCode}) == len(set(ExitCode))  # no two meanings share


def test_top_level_help_lists_every_status(capsys: pytest.CaptureFixture[str]) -> None:
    """``ztsim --help`` lists every status any command returns."""
    section = _exit_section(_help(capsys))
    every = {int(c) for table in EXIT_STATUSES.values() for c, _ in table}
    assert _codes_in_help(section) == every


# --------------------------------------------------------------------- output failures


def _run_closed(argv: list[str]) -> tuple[int, str]:
    """Run ``python -m ztsim ARGV`` with standard output a pipe nobody reads."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ztsim", *argv], stdout=w, stderr=subprocess.PIPE, cwd=ROOT
    )
    os.close(w)
    os.close(r)  # the reader is gone before the first write
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode()


def _run_full(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``python -m ztsim ARGV`` with standard output on /dev/full (ENOSPC)."""
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "ztsim", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=120,
            check=False,
            env=env,
        )
    return proc.returncode, proc.stderr.decode()


def _assert_output_failure(code: int, err: str, reason: str) -> None:
    assert code == ExitCode.OUTPUT, err
    assert f"ztsim: cannot write output: {reason}" in err
    assert err.count("cannot write output") == 1
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("name", sorted(PRINTING))
def test_full_disk_is_status_4(name: str) -> None:
    """Every printing command, standard output on a full disk: 4, one line, no trace."""
    code, err = _run_full(PRINTING[name])
    _assert_output_failure(code, err, "No space left on device")


@pytest.mark.parametrize("name", sorted(PRINTING))
def test_closed_pipe_is_status_4(name: str) -> None:
    """Every printing command, its reader gone: 4, one line, no trace, no noise."""
    code, err = _run_closed(PRINTING[name])
    _assert_output_failure(code, err, "Broken pipe")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_write_that_only_fails_at_the_final_flush_is_caught() -> None:
    """Buffered (no PYTHONUNBUFFERED), a short output fails only when flushed: still 4."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    code, err = _run_full(["validate", T], env=env)
    _assert_output_failure(code, err, "No space left on device")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_hard_exit_checks_its_flush() -> None:
    """hard_exit: a verdict whose output stays unflushed becomes 4, said once on stderr."""
    script = (
        "import sys\n"
        "from ztsim.perf.heap import hard_exit\n"
        "sys.stdout.write('ok' * 10)\n"
        "hard_exit(int(sys.argv[1]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    for given, expected in ((0, 4), (1, 4), (2, 2), (3, 3)):
        with open("/dev/full", "wb") as full:
            proc = subprocess.run(
                [sys.executable, "-c", script, str(given)],
                stdout=full,
                stderr=subprocess.PIPE,
                env=env,
                cwd=ROOT,
                timeout=60,
                check=False,
            )
        err = proc.stderr.decode()
        assert proc.returncode == expected
        assert err == "ztsim: cannot write output: No space left on device\n"


def test_head_reading_one_line_of_a_long_report() -> None:
    """``ztsim paths ... | head -1`` on a report longer than a pipe holds: 4, not 0 or 1."""
    argv = [sys.executable, "-m", "ztsim", "paths", "topologies/corporate.yaml", "-k", "50"]
    for env in (None, {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}):
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env
        )
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # what head -1 does
        err = proc.stderr.read().decode()
        proc.wait(timeout=120)
        assert first.startswith(b"== ")
        _assert_output_failure(proc.returncode, err, "Broken pipe")


def test_a_closed_standard_output_is_status_4() -> None:
    """``ztsim check ... >&-``: Python gives sys.stdout None; print() would drop it all."""
    proc = subprocess.run(
        [sys.executable, "-m", "ztsim", "check", T, "-p", FLAT],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.close(1),
    )
    _assert_output_failure(proc.returncode, proc.stderr.decode(), "standard output is closed")


class _Failing:
    """A standard output whose writes fail with ``error`` (in-process, no subprocess)."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, error: OSError) -> None:
        self.error = error

    def write(self, text: str) -> int:
        raise self.error

    def flush(self) -> None:
        """Nothing buffered."""

    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (BrokenPipeError(32, "Broken pipe"), "Broken pipe"),
        (OSError(28, "No space left on device"), "No space left on device"),
        (OSError(5, "Input/output error"), "Input/output error"),
    ],
)
@pytest.mark.parametrize("argv", [["schema"], ["paths", T, "-p", FLAT], ["check", T, "-p", FLAT]])
def test_main_returns_4_on_a_failing_standard_output(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: OSError,
    reason: str,
    argv: list[str],
) -> None:
    """main() itself (the Python API) returns OUTPUT, never OK, whoever writes (rich or not)."""
    monkeypatch.chdir(ROOT)
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", _Failing(error))
    code = main(argv)
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == ExitCode.OUTPUT
    assert err.endswith(f"ztsim: cannot write output: {reason}\n")
