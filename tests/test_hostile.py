"""The hostile-input corpus: every case a clear answer, nothing else (issue #23).

Each folder of ``tests/hostile/cases/`` is one case: its input files and a
``case.toml`` saying how to run ``ztsim`` on them and what must come out::

    description = "a FIFO given as the topology"
    args = ["check", "pipe.yaml"]          # argv of `python -m ztsim`
    exit = 2                               # the expected exit status
    stderr = ["pipe.yaml:1:1: error"]      # substrings stderr must contain
    stdout = []                            # substrings stdout must contain
    setup = "gen.py"                       # optional: run first, in the copy
                                           # (tests/hostile/lib on its PYTHONPATH)
    fifos = ["pipe.yaml"]                  # optional: named pipes made in the copy
    symlinks = {"zero.yaml" = "/dev/zero"} # optional: links made in the copy
    stdin = "..."                          # optional: fed to standard input
    env = {ZTSIM_CACHE = "off"}            # optional: extra environment
    writes = ["out.json"]                  # optional: files the run may write

The case runs in a temporary copy of its folder, as a separate process, and
must: exit with ``exit``; print every ``stderr``/``stdout`` substring; never
print a traceback; finish within :data:`TIME_LIMIT` seconds and
:data:`RSS_LIMIT_MB` of peak resident memory; and change or create no file of
the copy except those in ``writes`` (nothing written on error, no input lost).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CASES = Path(__file__).parent / "hostile" / "cases"
LIB = Path(__file__).parent / "hostile" / "lib"

#: Wall-clock bound of one run, in seconds.
TIME_LIMIT = 20.0
#: Bound on one run's peak resident memory, in MB.
RSS_LIMIT_MB = 1024
#: Address-space ceiling set on the child, so that a runaway case fails fast
#: instead of taking the machine down (well above RSS_LIMIT_MB: Python maps more
#: than it touches).
AS_CEILING = 6 * 1024**3

_KEYS = {
    "description",
    "args",
    "exit",
    "stderr",
    "stdout",
    "setup",
    "fifos",
    "symlinks",
    "stdin",
    "env",
    "writes",
}


@dataclass(frozen=True)
class Case:
    """One hostile case, as its ``case.toml`` describes it."""

    name: str
    folder: Path
    args: list[str]
    exit: int
    description: str = ""
    stderr: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    setup: str | None = None
    fifos: list[str] = field(default_factory=list)
    symlinks: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, folder: Path) -> Case:
        """Read ``folder/case.toml`` (unknown keys are a mistake in the corpus)."""
        data: dict[str, Any] = tomllib.loads((folder / "case.toml").read_text("utf-8"))
        unknown = set(data) - _KEYS
        assert not unknown, f"{folder.name}/case.toml: unknown keys {sorted(unknown)}"
        return cls(name=folder.name, folder=folder, **data)


def _cases() -> list[Case]:
    if not CASES.is_dir():
        return []
    return [Case.read(p) for p in sorted(CASES.iterdir()) if (p / "case.toml").is_file()]


def _snapshot(root: Path) -> dict[str, tuple[str, bytes | str]]:
    """Every entry under ``root``: regular files by content, the rest by kind/target."""
    out: dict[str, tuple[str, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", "")
            elif p.is_file():
                out[rel] = ("file", p.read_bytes())
            else:
                out[rel] = ("special", "")
    return out


def _prepare(case: Case, work: Path) -> None:
    shutil.copytree(case.folder, work, symlinks=True)
    if case.setup:
        # Setup scripts may share code from tests/hostile/lib.
        path = os.pathsep.join(p for p in (str(LIB), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path}
        subprocess.run([sys.executable, case.setup], cwd=work, env=env, check=True, timeout=60)
    for name in case.fifos:
        os.mkfifo(work / name)
    for name, target in case.symlinks.items():
        os.symlink(target, work / name)


def _limit_address_space() -> None:  # runs in the child, before exec
    os.setsid()
    resource.setrlimit(resource.RLIMIT_AS, (AS_CEILING, AS_CEILING))


@dataclass
class Run:
    """What one run of a case did."""

    status: int
    stdout: str
    stderr: str
    seconds: float
    rss_mb: float
    timed_out: bool


def run_case(case: Case, work: Path, cache: Path) -> Run:
    """Run ``python -m ztsim`` on the prepared copy ``work``; measure time and memory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZTSIM_")}
    env.update({"ZTSIM_CACHE_DIR": str(cache), "COLUMNS": "120", "NO_COLOR": "1"})
    env.update(case.env)
    out_path, err_path = work.parent / "stdout", work.parent / "stderr"
    stdin: Any = subprocess.DEVNULL
    if case.stdin is not None:
        in_path = work.parent / "stdin"
        in_path.write_text(case.stdin, encoding="utf-8")
        stdin = in_path.open("rb")
    start = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ztsim", *case.args],
            cwd=work,
            env=env,
            stdin=stdin,
            stdout=out,
            stderr=err,
            preexec_fn=_limit_address_space,
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(TIME_LIMIT, kill)
        timer.start()
        try:
            _, raw_status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(raw_status)
    if stdin is not subprocess.DEVNULL:
        stdin.close()
    return Run(
        status=proc.returncode,
        stdout=out_path.read_text("utf-8", errors="replace"),
        stderr=err_path.read_text("utf-8", errors="replace"),
        seconds=time.monotonic() - start,
        rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        timed_out=timed_out.is_set(),
    )


def test_corpus_is_not_empty() -> None:
    """The corpus exists: a missing folder must not pass as 'no case failed'."""
    assert len(_cases()) >= 60


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.name)
def test_hostile_case(case: Case, tmp_path: Path) -> None:
    """One hostile case gets exactly its expected answer, within bounds, writing nothing."""
    work = tmp_path / "case"
    _prepare(case, work)
    before = _snapshot(work)
    run = run_case(case, work, tmp_path / "cache")
    context = f"\n--- {case.name}: {case.description}\n--- stdout:\n{run.stdout[-3000:]}"
    context += f"\n--- stderr:\n{run.stderr[-3000:]}"
    assert not run.timed_out, f"no answer within {TIME_LIMIT} s" + context
    assert run.rss_mb < RSS_LIMIT_MB, f"peak memory {run.rss_mb:.0f} MB" + context
    assert "Traceback" not in run.stderr, "a traceback" + context
    assert run.status == case.exit, f"exit {run.status}, expected {case.exit}" + context
    for text in case.stderr:
        assert text in run.stderr, f"stderr lacks {text!r}" + context
    for text in case.stdout:
        assert text in run.stdout, f"stdout lacks {text!r}" + context
    after = _snapshot(work)
    allowed = set(case.writes)
    keys = before.keys() | after.keys()
    changed = sorted(k for k in keys if before.get(k) != after.get(k) and k not in allowed)
    assert not changed, f"files changed or created: {changed}" + context
