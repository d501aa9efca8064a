"""The code paths the docs name exist: a moved or renamed module fails here, not in the
hands of a reader."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

DOCS = ["README.md", "docs/architecture.md", "benchmarks/README.md"]
#: Folders the docs name that are generated (git-ignored), so absent from a fresh clone.
GENERATED = {"benchmarks/out/"}
PATH = re.compile(r"(?<![\w/.])((?:ztsim|tests|benchmarks)/[\w/]+(?:\.py|/))")


@pytest.mark.parametrize("doc", DOCS)
def test_every_code_path_a_doc_names_exists(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    named = sorted(set(PATH.findall(text)))
    assert named, f"{doc} names no code path: the pattern is wrong"
    missing = [p for p in named if p not in GENERATED and not (ROOT / p).exists()]
    assert not missing, f"{doc} names paths that do not exist: {missing}"


def test_the_architecture_page_names_every_package() -> None:
    text = (ROOT / "docs/architecture.md").read_text(encoding="utf-8")
    packages = sorted(p.name for p in (ROOT / "ztsim").iterdir() if (p / "__init__.py").is_file())
    assert [p for p in packages if f"{p}/" not in text] == []
