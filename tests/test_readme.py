"""The README's and the docs' examples are real: produced by the code, re-run here.

- Its YAML blocks load, its commands exist, its quick start is first.
- Every output sample in ``README.md``, ``docs/*.md`` (and ``docs/tui-screen.txt``,
  the TUI's main screen) is what the code prints
  today: a fenced ``text``, ``console``, ``json`` or unlabelled block either starts
  with ``$ ztsim ...`` (the command is run from the repository root, standard output
  piped, so 120 columns, and compared line by line), or is preceded by a marker line
  saying how it is produced or why it is not run::

      <!-- sample: head 12 -->          the command's first 12 lines, then "..."
      <!-- sample: json; run: ztsim check topology.yaml --policy policies/zero-trust.yaml
           --format json; files: readme -->   (one line) the JSON of that command on the
                                          README's own topology and policy blocks, one
                                          entry of each list (then "...")
      <!-- sample: tui 120x40 -->         the TUI's main screen on the bundled scenario
      <!-- sample: tui 100x40 keys: down w -->  the same after those keys (Textual names)
      <!-- sample: not run (REASON) -->   excluded explicitly: a synopsis, a hypothetical
                                          scenario, or output that depends on the
                                          machine (timings)

Regenerate every sample from the code (after an intended change, then review the
diff)::

    python tests/test_readme.py --update
    ZTSIM_UPDATE_DOCS=1 pytest tests/test_readme.py     # the same, from pytest
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ztsim.cli.main import build_parser
from ztsim.inputs.loader import policy_from_text, topology_from_text

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
#: Whole files that are one sample each, with the marker that says how it is produced.
FILE_SAMPLES = {ROOT / "docs" / "tui-screen.txt": "tui 120x40"}

#: Fenced blocks of these languages are output samples (or must say why not).
OUTPUT_LANGS = ("text", "console", "json", "")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.S | re.M)
_MARKER = re.compile(r"^<!-- sample: (.*?) -->$")
_JSON_WIDTH = 88


def _blocks(lang: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_readme_yaml_examples_load() -> None:
    blocks = _blocks("yaml")
    kinds = []
    for block in blocks:
        if "kind: topology" in block:
            topology_from_text(block, "README.md")
            kinds.append("topology")
        elif "kind: policy" in block:
            policy_from_text(block, "README.md")
            kinds.append("policy")
    assert "topology" in kinds and "policy" in kinds


def test_readme_starts_with_the_two_quick_start_commands() -> None:
    blocks = _blocks("sh")
    assert "pip install -e ." in blocks[0] and "ztsim check" in blocks[0]
    assert "pip install -e '.[dev]'" in blocks[1] and "pytest" in blocks[1]


def test_readme_commands_exist() -> None:
    text = README.read_text(encoding="utf-8")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    known = set(sub.choices)  # type: ignore[arg-type]
    for cmd in set(re.findall(r"`ztsim ([a-z]+)", text)):
        assert cmd in known, f"README mentions `ztsim {cmd}`, which does not exist"


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class Sample:
    """One fenced output block of a document."""

    path: Path
    line: int  # of the opening fence
    start: int  # offsets of the body in the document's text
    end: int
    lang: str
    body: str
    marker: str | None

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"


def samples(path: Path) -> list[Sample]:
    """The output blocks of ``path``, in order."""
    text = path.read_text(encoding="utf-8")
    if path in FILE_SAMPLES:
        return [Sample(path, 1, 0, len(text), "text", text, FILE_SAMPLES[path])]
    out = []
    for m in _FENCE.finditer(text):
        lang = m.group(1)
        if lang not in OUTPUT_LANGS:
            continue
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.match(before)
        line = text.count("\n", 0, m.start()) + 1
        out.append(
            Sample(
                path,
                line,
                m.start(2),
                m.end(2),
                lang,
                m.group(2),
                marker.group(1) if marker else None,
            )
        )
    return out


def _run(argv: list[str], cwd: Path) -> str:
    """``python -m ztsim ARGV``'s standard output, piped (fixed width, no colour)."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("ZTSIM_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "ztsim", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode in (0, 1), f"`ztsim {shlex.join(argv)}` failed:\n{done.stderr}"
    return done.stdout


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _command(sample: Sample) -> str:
    first = sample.body.splitlines()[0]
    lines = _lines(_run(shlex.split(first[2:])[1:], ROOT))
    head = re.fullmatch(r"head (\d+)", sample.marker or "")
    if head:
        lines = [*lines[: int(head.group(1))], "..."]
    return "\n".join([first, *lines]) + "\n"


# ------------------------------------------------------------------ JSON samples


def _abridged(value: Any) -> Any:
    """One entry of each list (then ``"..."`` when there were more)."""
    if isinstance(value, dict):
        return {k: _abridged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_abridged(value[0]), "..."] if len(value) > 1 else [_abridged(v) for v in value]
    return value


def _compact(value: Any, indent: int = 0) -> str:
    """JSON laid out for reading: on one line when it fits, else items packed in lines."""
    flat = json.dumps(value, ensure_ascii=False)
    if indent + len(flat) <= _JSON_WIDTH or not isinstance(value, dict | list) or not value:
        return flat
    if isinstance(value, list):
        items = [_compact(v, indent + 1) for v in value]
    else:
        items = []
        for k, v in value.items():
            key = json.dumps(k, ensure_ascii=False) + ": "
            items.append(key + _compact(v, indent + 1 + len(key)))
    # Pack single-line items into lines up to the width; a multi-line item stands alone.
    lines: list[str] = []
    for item in items:
        last = lines[-1] if lines else None
        if (
            last is not None
            and "\n" not in item
            and "\n" not in last
            and indent + 1 + len(last) + 2 + len(item) <= _JSON_WIDTH
        ):
            lines[-1] = f"{last}, {item}"
        else:
            lines.append(item)
    pad = " " * (indent + 1)
    open_, close = ("[", "]") if isinstance(value, list) else ("{", "}")
    return open_ + f",\n{pad}".join(lines) + close


def _readme_files(dest: Path) -> None:
    """The README's topology and policy blocks as files (``topology.yaml``, ``policies/``)."""
    (dest / "policies").mkdir()
    for block in _blocks("yaml"):
        if "kind: topology" in block:
            (dest / "topology.yaml").write_text(block, encoding="utf-8")
        elif "kind: policy" in block:
            name = re.search(r"^name: (\S+)$", block, re.M)
            assert name is not None
            (dest / "policies" / f"{name.group(1)}.yaml").write_text(block, encoding="utf-8")


def _json(sample: Sample) -> str:
    assert sample.marker is not None
    parts = dict(p.strip().split(": ", 1) for p in sample.marker.split(";")[1:])
    assert parts.get("files") == "readme", f"{sample.name}: unknown files {parts.get('files')}"
    argv = shlex.split(parts["run"])
    assert argv[0] == "ztsim"
    with tempfile.TemporaryDirectory() as tmp:
        _readme_files(Path(tmp))
        data = json.loads(_run(argv[1:], Path(tmp)))
    return _compact(_abridged(data)) + "\n"


# ------------------------------------------------------------------ the TUI screen


def _tui(sample: Sample) -> str:
    size = re.fullmatch(r"tui (\d+)x(\d+)(?: keys: (.+))?", sample.marker or "")
    assert size is not None, f"{sample.name}: marker 'tui WIDTHxHEIGHT [keys: KEY...]' expected"
    width, height = int(size.group(1)), int(size.group(2))
    keys = (size.group(3) or "").split()
    sys.path.insert(0, str(ROOT / "tests" / "tui"))
    try:
        from tui_support import settle
    finally:
        sys.path.pop(0)
    from rich.console import Console

    from ztsim.tui.app import ZtsimApp
    from ztsim.tui.scenario import Scenario

    async def shot() -> str:
        app = ZtsimApp(Scenario("topologies/pajemploi.yaml", ("policies",)))
        async with app.run_test(size=(width, height)) as pilot:
            await settle(pilot)  # type: ignore[arg-type]
            if keys:
                await pilot.press(*keys)
                await settle(pilot)  # type: ignore[arg-type]
            sink = io.StringIO()
            console = Console(width=width, height=height, record=True, file=sink)
            console.print(app.screen._compositor.render_update(full=True))
            return console.export_text()

    here = Path.cwd()
    os.chdir(ROOT)  # relative paths on screen, as the README's `ztsim tui` shows them
    try:
        text = asyncio.run(shot())
    finally:
        os.chdir(here)
    return "\n".join(_lines(text)) + "\n"


# ------------------------------------------------------------------ all of them


def expected(sample: Sample) -> str | None:
    """What the code produces for ``sample`` now (None: explicitly not run)."""
    marker = sample.marker or ""
    if marker.startswith("not run"):
        assert re.fullmatch(r"not run \(.+\)", marker), f"{sample.name}: say why: 'not run (WHY)'"
        return None
    if sample.body.startswith("$ ztsim "):
        return _command(sample)
    if marker.startswith("json;"):
        return _json(sample)
    if marker.startswith("tui "):
        return _tui(sample)
    raise AssertionError(
        f"{sample.name}: an output block neither run (`$ ztsim ...` or a `<!-- sample: ... -->` "
        "marker) nor excluded (`<!-- sample: not run (WHY) -->`)"
    )


def _same(sample: Sample, want: str) -> bool:
    if sample.marker and sample.marker.startswith("json;"):
        return _abridged_loads(sample.body) == json.loads(want)
    return _lines(sample.body) == _lines(want)


def _abridged_loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"the JSON sample does not parse: {exc}") from None


def update_docs() -> list[str]:
    """Rewrite every sample from the code; return the names of those that changed."""
    changed = []
    for path in [*DOCS, *FILE_SAMPLES]:
        text = path.read_text(encoding="utf-8")
        # From the end, so the earlier offsets stay valid.
        for sample in reversed(samples(path)):
            want = expected(sample)
            if want is None or _same(sample, want):
                continue
            text = text[: sample.start] + want + text[sample.end :]
            changed.append(sample.name)
        path.write_text(text, encoding="utf-8")
    return sorted(changed)


ALL = [s for path in [*DOCS, *FILE_SAMPLES] for s in samples(path)]


@pytest.mark.parametrize("sample", ALL, ids=[s.name for s in ALL])
def test_sample_is_what_the_code_prints(sample: Sample) -> None:
    if os.environ.get("ZTSIM_UPDATE_DOCS") == "1":
        pytest.skip("ZTSIM_UPDATE_DOCS=1: see test_update_docs")
    want = expected(sample)
    if want is None:
        pytest.skip(f"{sample.name}: {sample.marker}")
    assert _same(sample, want), (
        f"{sample.name} is not what the code prints now; regenerate with "
        f"`python tests/test_readme.py --update` and review. The code prints:\n{want}"
    )


def test_every_command_sample_is_found() -> None:
    """The samples this test checks, so a renamed fence cannot drop one silently."""
    commands = [s for s in ALL if s.body.startswith("$ ztsim ")]
    assert len(commands) >= 5
    assert any(s.marker and s.marker.startswith("json;") for s in ALL)
    assert any(s.marker and s.marker.startswith("tui ") for s in ALL)


@pytest.mark.skipif(os.environ.get("ZTSIM_UPDATE_DOCS") != "1", reason="ZTSIM_UPDATE_DOCS=1 only")
def test_update_docs() -> None:
    print("updated:", ", ".join(update_docs()) or "nothing")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_readme.py --update")
    names = update_docs()
    print("updated: " + (", ".join(names) if names else "nothing (every sample is current)"))
