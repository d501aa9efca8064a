"""The parse cache only ever makes a run faster: same data, same positions, safe fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ztsim import parsecache
from ztsim.loader import load_policy, load_topology

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("ZTSIM_CACHE_DIR", str(folder))
    monkeypatch.setenv("ZTSIM_CACHE", "on")
    monkeypatch.setattr(parsecache, "MIN_BYTES", 0)
    return folder


def test_second_load_comes_from_the_cache_and_is_identical(cache: Path) -> None:
    path = ROOT / "topologies" / "pajemploi.yaml"
    first = load_topology(path)
    assert len(list(cache.iterdir())) == 1
    second = load_topology(path)
    assert first.model == second.model


def test_policy_positions_survive_the_cache(cache: Path) -> None:
    path = ROOT / "policies" / "zero-trust.yaml"
    first = load_policy(path)
    second = load_policy(path)  # from the cache
    rules = [r.id for r in first.model.segmentation.rules]
    assert [first.rule_mark("segmentation", r) for r in rules] == [
        second.rule_mark("segmentation", r) for r in rules
    ]


def test_a_damaged_entry_falls_back_to_parsing(cache: Path) -> None:
    path = ROOT / "topologies" / "pajemploi.yaml"
    good = load_topology(path)
    for entry in cache.iterdir():
        entry.write_bytes(b"not marshal data")
    assert load_topology(path).model == good.model


def test_off_writes_nothing(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZTSIM_CACHE", "off")
    load_topology(ROOT / "topologies" / "pajemploi.yaml")
    assert not cache.exists()


def test_an_edit_is_a_new_key(cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "t.yaml"
    text = (ROOT / "topologies" / "pajemploi.yaml").read_text(encoding="utf-8")
    src.write_text(text, encoding="utf-8")
    load_topology(src)
    src.write_text(text.replace("records: 1200000", "records: 7"), encoding="utf-8")
    edited = load_topology(src)
    assert edited.data["payroll-records"][1].records == 7
    assert len(list(cache.iterdir())) == 2


def test_node_marks_from_the_cache_equal_the_parsed_ones(cache: Path) -> None:
    """``Document.node_mark`` answers from the stored pairs exactly as the full index."""
    from ztsim.yamlio import load_document

    path = ROOT / "policies" / "zero-trust.yaml"
    parsed = load_document(path, positions=True)
    cached = load_document(path, positions=True)  # from the cache, positions not built
    assert cached._stored_marks is not None
    nodes = parsed.positions().nodes
    for p, mark in nodes.items():
        assert cached.node_mark(p) == mark
        assert parsed.node_mark(p) == mark
    assert cached.node_mark(("no", "such", 0)) is None
    # Many at once, from the stored pairs or not, as one at a time.
    paths = [*nodes, ("no", "such", 0)]
    assert cached.node_marks(paths) == [*nodes.values(), None]
    assert parsed.node_marks(paths) == [*nodes.values(), None]
    shallow = load_document(path, positions=True, depth=3)  # deeper paths: indexed
    assert shallow.node_marks(paths) == [*nodes.values(), None]
    # Building the whole index afterwards still gives every mark, as Marks.
    assert cached.positions().nodes == nodes
    assert all(type(m).__name__ == "Mark" for m in cached.positions().nodes.values())
