"""docs/whatif.md shows real output: each complete ``console`` block is re-run and compared."""

from __future__ import annotations

import re
import shlex

import pytest
from conftest import ROOT

from ztsim.cli.main import main

DOC = ROOT / "docs" / "whatif.md"
README = ROOT / "README.md"


def _blocks(doc=DOC) -> list[tuple[str, str]]:
    out = []
    for block in re.findall(r"```console\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S):
        first, _, rest = block.partition("\n")
        if rest.rstrip().endswith("..."):
            continue  # an excerpt, not the whole output
        out.append((first.removeprefix("$ "), rest))
    return out


def test_doc_has_the_pajemploi_hardening_example():
    cmds = [c for c, _ in _blocks()]
    assert "ztsim harden topologies/pajemploi.yaml --policy policies/flat.yaml" in cmds


@pytest.mark.parametrize(("cmd", "expected"), _blocks() + _blocks(README))
def test_doc_output_is_current(cmd: str, expected: str, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    main(shlex.split(cmd)[1:])
    assert capsys.readouterr().out == expected
