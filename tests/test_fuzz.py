"""Fuzzing every command with mutated shipped files (issue #23: no crash, whatever the input).

The shipped topologies, policies and assertions are mutated (byte flips, deleted
or repeated lines, renamed keys, values swapped between nodes, values of another
type, indentation shifts, YAML tags, and the same after a conversion to JSON),
and the loader and every command run on the result in-process through
:func:`ztsim.cli.main.main`.  Whatever the input, the exit status is 0, 1 or 2 (never
3, an internal error, nor an escaped exception), and a run that exits 2 says
where, with at least one ``FILE:LINE:COL: error:`` line.

The budget is small by default (300 examples a test, about 25 s on this 2-core
machine, the same examples every run); ``ZTSIM_FUZZ_EXAMPLES=N`` runs N random
examples per test instead, for a longer local run.  A failure is printed with the
command and the mutated file, so it can be replayed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ztsim.cli.main import main

EXAMPLES = int(os.environ.get("ZTSIM_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=30),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=not os.environ.get("ZTSIM_FUZZ_EXAMPLES"),  # CI: the same examples every run
    print_blob=True,
    # No shrinking: an example takes about a second, and the failure message shows
    # the mutated file and the command (shrinking took minutes for one failure).
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    report_multiple_bugs=True,
    database=None,  # nothing written into the repository
)

#: A diagnostic line, as the bad-input contract words it.
DIAGNOSTIC = re.compile(r"^.+:\d+:\d+: error: ", re.M)


@dataclass(frozen=True)
class Scenario:
    """A shipped topology with the policies and assertions written for it."""

    topology: Path
    policies: tuple[Path, ...]
    assertions: Path | None


def _scenarios() -> list[Scenario]:
    out = []
    for topo in sorted((ROOT / "topologies").glob("*.yaml")):
        folder = ROOT / "policies" / topo.stem
        pols = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
        if not pols:
            pols = sorted((ROOT / "policies").glob("*.yaml"))
        asserts = ROOT / "assertions" / topo.name
        out.append(Scenario(topo, tuple(pols), asserts if asserts.exists() else None))
    return out


SCENARIOS = _scenarios()


# --------------------------------------------------------------------------- mutations


def _walk(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node's path in ``data`` (the root included)."""
    paths = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            paths.extend(_walk(v, (*path, k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            paths.extend(_walk(v, (*path, i)))
    return paths


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(data, path[:-1])[path[-1]] = value
    return data


#: Values of other types (and YAML 1.1 oddities) put in place of a node.
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    float("inf"),
    float("nan"),
    10**30,
    "",
    "any",
    "*",
    "on",
    "1:30",
    "017",
    "４４３/tcp",
    "443/tcp",
    "0-65535/any",
    "x" * 300,
    "\u202e\u0000\x1b[31m",
    [],
    [None],
    {},
    {"zone": None},
    {"": 1},
    [[[]]],
]


class Mutator:
    """Applies one random mutation at a time to a file's text, keeping it text."""

    def __init__(self, draw: Callable[..., Any], text: str, vocabulary: list[Any]) -> None:
        self.draw = draw
        self.text = text
        #: The scalars of the scenario's files (see :meth:`borrow_scalar`).
        self.vocabulary = vocabulary

    def _index(self, n: int) -> int:
        return int(self.draw(st.integers(0, max(n - 1, 0))))

    def _data(self) -> Any:
        try:
            return yaml.safe_load(self.text)
        except Exception:  # an earlier mutation broke it (`!!int topology` is a ValueError)
            return None

    def byte_flip(self) -> None:
        raw = bytearray(self.text.encode())
        if raw:
            raw[self._index(len(raw))] = self.draw(st.integers(0, 255))
        self.text = raw.decode("utf-8", errors="replace")

    def delete_line(self) -> None:
        lines = self.text.splitlines(keepends=True)
        if lines:
            del lines[self._index(len(lines))]
        self.text = "".join(lines)

    def duplicate_line(self) -> None:
        lines = self.text.splitlines(keepends=True)
        if lines:
            i = self._index(len(lines))
            lines.insert(i, lines[i])
        self.text = "".join(lines)

    def rename_key(self) -> None:
        keys = sorted(set(re.findall(r"([A-Za-z_][A-Za-z_-]*):", self.text)))
        if not keys:
            return
        old = keys[self._index(len(keys))]
        new = self.draw(
            st.sampled_from([*keys, "from", "to", "host", "zone", "labels", "kind", "ztsim"])
            | st.text(string.ascii_lowercase + "_-", min_size=1, max_size=8)
        )
        spots = [m.start(1) for m in re.finditer(rf"\b({re.escape(old)}):", self.text)]
        at = spots[self._index(len(spots))]
        self.text = self.text[:at] + new + self.text[at + len(old) :]

    def indent(self) -> None:
        lines = self.text.splitlines(keepends=True)
        if not lines:
            return
        i = self._index(len(lines))
        shift = self.draw(st.sampled_from([-4, -2, -1, 1, 2, 4]))
        if shift > 0:
            lines[i] = " " * shift + lines[i]
        else:
            lines[i] = re.sub(rf"^ {{0,{-shift}}}", "", lines[i])
        self.text = "".join(lines)

    def insert_tag(self) -> None:
        spots = [m.end() for m in re.finditer(r": |- ", self.text)]
        if not spots:
            return
        tag = self.draw(
            st.sampled_from(
                [
                    "!!str ",
                    "!!int ",
                    "!!float ",
                    "!!bool ",
                    "!!null ",
                    "!!binary ",
                    "!!set ",
                    "!!omap ",
                    "!!timestamp ",
                    "!!python/object:os.system ",
                    "!custom ",
                    "&a ",
                    "*a ",
                    "<<: ",
                    "? ",
                    "!!merge ",
                ]
            )
        )
        at = spots[self._index(len(spots))]
        self.text = self.text[:at] + tag + self.text[at:]

    def _structural(self, change: Callable[[Any, list[tuple[Any, ...]]], Any]) -> None:
        data = self._data()
        if data is None:
            return self.byte_flip()
        paths = _walk(data)
        data = change(data, paths)
        self.text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200)
        return None

    def swap_values(self) -> None:
        def change(data: Any, paths: list[tuple[Any, ...]]) -> Any:
            a, b = paths[self._index(len(paths))], paths[self._index(len(paths))]
            if a[: len(b)] == b or b[: len(a)] == a:
                return data  # one holds the other
            va, vb = _get(data, a), _get(data, b)
            _set(data, a, vb)
            return _set(data, b, va)

        self._structural(change)

    def borrow_scalar(self) -> None:
        """A scalar replaced by another of the scenario's (an id, a service, a level):
        mostly still valid, so the engine and the renderers see odd but legal input."""
        scalars = self.vocabulary

        def change(data: Any, paths: list[tuple[Any, ...]]) -> Any:
            leaves = [p for p in paths if not isinstance(_get(data, p), dict | list)]
            if not leaves or not scalars:
                return data
            return _set(data, leaves[self._index(len(leaves))], self.draw(st.sampled_from(scalars)))

        self._structural(change)

    def change_type(self) -> None:
        def change(data: Any, paths: list[tuple[Any, ...]]) -> Any:
            target = paths[self._index(len(paths))]
            return _set(data, target, self.draw(st.sampled_from(ODD_VALUES)))

        self._structural(change)

    def to_json(self) -> None:
        data = self._data()
        if data is not None:
            with contextlib.suppress(TypeError, ValueError):  # dates, sets: no JSON
                self.text = json.dumps(data, indent=self.draw(st.sampled_from([None, 1])))


MUTATIONS = [
    "byte_flip",
    "delete_line",
    "duplicate_line",
    "rename_key",
    "indent",
    "insert_tag",
    "swap_values",
    "change_type",
    "borrow_scalar",
]


# --------------------------------------------------------------------------- commands


def _commands(topo: str, pols: list[str], asserts: str | None) -> dict[str, list[str]]:
    """Every command, as argv, on the scenario's files (in the current folder)."""
    p = pols[0]
    q = pols[-1]
    policy_args = [a for pol in pols for a in ("-p", pol)]
    cmds = {
        "check-text": ["check", topo, *policy_args],
        "check-json": ["check", topo, *policy_args, "--format", "json"],
        "check-sarif": ["check", topo, "-p", p, "--format", "sarif"],
        "check-junit": ["check", topo, "-p", p, "--format", "junit"],
        "check-github": ["check", topo, "-p", p, "--format", "github"],
        "check-markdown": ["check", topo, *policy_args, "--format", "markdown", "--rules"],
        "paths": ["paths", topo, "-p", p, "--format", "json", "--max-paths", "2"],
        "diff": ["diff", topo, "--base", p, "--proposed", q, "--format", "json"],
        "diff-markdown": ["diff", topo, "--base", q, "--proposed", p, "--format", "markdown"],
        "lint": ["lint", *pols, "--topology", topo],
        "harden": ["harden", topo, "--policy", p, "--exhaustive-limit", "2"],
        "graph": ["graph", topo, "--policy", p, "--format", "json"],
        "graph-graphml": ["graph", topo, "--policy", p, "--format", "graphml"],
        "validate": ["validate", topo, *pols],
        "schema": ["schema"],
    }
    if asserts is not None:
        cmds["check-assert"] = ["check", topo, "-p", p, "--assert", asserts, "--format", "json"]
        cmds["validate"].append(asserts)
    return cmds


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            status = exc.code if isinstance(exc.code, int) else 2
    return status, out.getvalue(), err.getvalue()


def _check(argv: list[str], files: dict[str, str]) -> None:
    status, _out, err = _run(argv)
    shown = "\n".join(f"--- {name}:\n{text}" for name, text in files.items())
    assert status in (0, 1, 2), f"ztsim {' '.join(argv)} exited {status}\n{err}\n{shown}"
    assert "Traceback" not in err, f"ztsim {' '.join(argv)}: a traceback\n{err}\n{shown}"
    if status == 2 and not err.startswith("usage:"):
        assert DIAGNOSTIC.search(err), f"ztsim {' '.join(argv)}: exit 2, no FILE:LINE:COL\n{err}"


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZTSIM_CACHE", "off")
    monkeypatch.setenv("ZTSIM_PARALLEL", "off")
    monkeypatch.chdir(tmp_path)


_VOCABULARY: dict[Path, list[Any]] = {}


def _vocabulary(scenario: Scenario) -> list[Any]:
    """Every distinct scalar of the scenario's files, in a stable order."""
    known = _VOCABULARY.get(scenario.topology)
    if known is None:
        seen: dict[Any, None] = {}
        for f in [scenario.topology, *scenario.policies, scenario.assertions]:
            if f is not None:
                data = yaml.safe_load(f.read_text())
                for p in _walk(data):
                    v = _get(data, p)
                    if not isinstance(v, dict | list):
                        seen.setdefault((type(v).__name__, v), None)
        known = _VOCABULARY[scenario.topology] = [v for _t, v in seen]
    return known


@st.composite
def _case(draw: Callable[..., Any]) -> tuple[Scenario, str, str, str]:
    """A scenario, which of its files to mutate, the mutated text and its file name."""
    scenario = draw(st.sampled_from(SCENARIOS))
    choices = [scenario.topology, *scenario.policies]
    if scenario.assertions is not None:
        choices.append(scenario.assertions)
    victim = draw(st.sampled_from(choices))
    m = Mutator(draw, victim.read_text(), _vocabulary(scenario))
    as_json = draw(st.booleans()) and draw(st.booleans())  # a quarter of the cases
    if as_json:
        m.to_json()
    for name in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)):
        getattr(m, name)()
    suffix = ".json" if as_json else ".yaml"
    return scenario, str(victim), m.text, suffix


def _write(
    scenario: Scenario, victim: str, text: str, suffix: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Copy the scenario into the current folder, the victim mutated.

    Returns the name each source file was written as, and the mutated file's text
    by its name (shown when a check fails).
    """
    names: dict[str, str] = {}
    mutated_files: dict[str, str] = {}
    for i, src in enumerate([scenario.topology, *scenario.policies, scenario.assertions]):
        if src is None:
            continue
        mutated = str(src) == victim
        name = f"f{i}{suffix if mutated else '.yaml'}"
        content = text if mutated else src.read_text()
        Path(name).write_text(content, encoding="utf-8")
        names[str(src)] = name
        if mutated:
            mutated_files[name] = content
    return names, mutated_files


@FUZZ
@given(case=_case(), command=st.sampled_from(sorted(_commands("t", ["p"], "a"))))
def test_every_command_survives_mutated_input(
    case: tuple[Scenario, str, str, str], command: str
) -> None:
    scenario, victim, text, suffix = case
    names, mutated = _write(scenario, victim, text, suffix)
    topo = names[str(scenario.topology)]
    pols = [names[str(p)] for p in scenario.policies]
    asserts = names.get(str(scenario.assertions)) if scenario.assertions else None
    commands = _commands(topo, pols, asserts)
    # An assertions command on a scenario without assertions: validate instead.
    _check(commands.get(command, commands["validate"]), mutated)


@FUZZ
@given(case=_case())
def test_the_loader_survives_mutated_input(case: tuple[Scenario, str, str, str]) -> None:
    """Every file through ``validate`` (the loader's three kinds, each file read once)."""
    scenario, victim, text, suffix = case
    names, mutated = _write(scenario, victim, text, suffix)
    _check(["validate", *names.values()], mutated)
