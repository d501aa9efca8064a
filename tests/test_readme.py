"""The README's examples are real: its YAML blocks load, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from ztsim.cli import build_parser
from ztsim.loader import policy_from_text, topology_from_text

README = Path(__file__).resolve().parents[1] / "README.md"


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
