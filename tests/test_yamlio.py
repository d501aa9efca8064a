"""The fast YAML builder is ``yaml.safe_load`` to the letter, and its positions are exact."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ztsim import parsecache
from ztsim.yamlio import YamlInputError, _index_positions, load_document, parse_text

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(
    [
        *ROOT.glob("topologies/*.yaml"),
        *ROOT.glob("policies/**/*.yaml"),
        *ROOT.glob("assertions/*.yaml"),
    ]
)

TRICKY = [
    "a: &x [1, 2]\nb: *x\n",
    "a: yes\nb: '1'\nc: 1.5\nd: ~\ne: 2020-01-01\nf: 0x1f\ng: .inf\nh: -0\n",
    "a: !!str 1\nb: !!int '7'\n",
    "- {a: 1}\n- [b, c]\n- ''\n- null\n",
    "<<: {a: 1}\nb: 2\n",  # merge keys: handled by the standard loader
    "a: >\n  folded\n  text\nb: |\n  literal\n",
    "? complex\n: value\n",
    "empty: {}\nlist: []\n",
]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_files_parse_as_safe_load(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert parse_text(text, str(path)).data == yaml.safe_load(text)


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_documents_parse_as_safe_load(text: str) -> None:
    assert parse_text(text).data == yaml.safe_load(text)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_positions_recorded_while_parsing_equal_the_index(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    recorded = parse_text(text, str(path), positions=True).positions()
    indexed = _index_positions(text)
    assert recorded.nodes == indexed.nodes
    assert recorded.keys == indexed.keys


def test_duplicate_keys_are_refused_with_their_line() -> None:
    with pytest.raises(YamlInputError) as err:
        parse_text("a: 1\nb: 2\na: 3\n")
    assert err.value.mark is not None and err.value.mark.line == 3
    assert "duplicate key 'a'" in err.value.message


def test_positions_kept_by_the_parse_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Positions recorded while parsing come back from the cache (made marks on first use)."""
    monkeypatch.setenv("ZTSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ZTSIM_CACHE", "on")
    monkeypatch.setattr(parsecache, "MIN_BYTES", 0)
    path = ROOT / "policies" / "zero-trust.yaml"
    first = load_document(path, positions=True)
    second = load_document(path, positions=True)  # from the cache
    assert first.recorded_positions() is not None
    assert second.recorded_positions() == first.recorded_positions()
    assert second.positions() is second.recorded_positions()
    third = load_document(path)  # no positions recorded: indexed only when asked
    assert third.recorded_positions() is None
    assert third.positions() == first.positions()
    assert third.recorded_positions() is third.positions()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shallow_positions_are_the_top_of_the_full_index(path: Path) -> None:
    """``depth=3`` records exactly the paths of at most 3 steps; look-ups below index the rest."""
    text = path.read_text(encoding="utf-8")
    full = _index_positions(text)
    doc = parse_text(text, str(path), positions=True, depth=3)
    shallow = doc.recorded_positions()
    assert shallow is not None and shallow.depth == 3
    assert shallow.nodes == {k: m for k, m in full.nodes.items() if len(k) <= 3}
    assert shallow.keys == {k: m for k, m in full.keys.items() if len(k) <= 3}
    deep = [k for k in full.nodes if len(k) > 3]
    for k in deep[:50]:
        assert doc.node_mark(k) == full.nodes[k]
    assert doc.positions().nodes == full.nodes  # indexed from the text when needed
    assert doc.recorded_positions() is shallow


def test_shallow_positions_kept_by_the_parse_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZTSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ZTSIM_CACHE", "on")
    monkeypatch.setattr(parsecache, "MIN_BYTES", 0)
    path = ROOT / "policies" / "zero-trust.yaml"
    first = load_document(path, positions=True, depth=3)
    second = load_document(path, positions=True, depth=3)  # from the cache
    full = load_document(path, positions=True)  # another flavour: not the shallow entry
    deep = next(k for k in full.positions().nodes if len(k) > 3)
    assert second.node_mark(deep) == full.positions().nodes[deep]
    assert second.node_mark(("segmentation", "rules", 0)) == first.node_mark(
        ("segmentation", "rules", 0)
    )
    assert second.recorded_positions() == first.recorded_positions()
    assert second.positions().nodes == full.positions().nodes


def test_error_deep_in_a_rule_is_located_exactly(tmp_path: Path) -> None:
    """Shallow rule positions: an error five steps down still names its own line and column."""
    from ztsim.diagnostics import InputError
    from ztsim.loader import load_policy

    path = tmp_path / "p.yaml"
    path.write_text(
        "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
        "    - id: a\n      action: allow\n      from: {zone: z}\n"
        "      to:\n        labels:\n          app: [not, a, string]\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        load_policy(path)
    first = err.value.diagnostics[0]
    assert (first.line, first.column) == (11, 16), str(first)


def test_equal_leaves_are_built_once_and_scalars_kept_apart_by_type() -> None:
    text = (
        "z: [{x: 1, y: true}, 1.0, '1', p, q]\n"  # every scalar below seen once before
        "a: [{x: 1, y: true}, {x: 1, y: true}, {x: 1.0, y: 1}, {x: '1', y: true}]\n"
        "b: {x: 1, y: true}\n"
        "c: [p, q]\n"
        "d: [p, q]\n"
        "e: {y: true, x: 1}\n"
        "f: {x: 1, y: true, z: [1]}\n"
        "g: {x: 1, y: true, z: [1]}\n"
    )
    data = parse_text(text).data
    assert data == yaml.safe_load(text)
    a = data["a"]
    assert a[0] is a[1] is data["b"]  # the same plain scalars, in the same order
    assert data["z"][0] == a[0] and data["z"][0] is not a[0]  # the first holds new keys
    assert a[2] is not a[0] and a[3] is not a[0]  # 1.0 and 1 and '1' are not 1 and true
    assert data["c"] is data["d"]
    assert data["e"] is not data["b"]  # key order is part of a mapping's text
    assert data["f"]["z"] is data["g"]["z"]
    assert data["f"] is data["g"]  # a mapping of shared leaves is a leaf too
    quoted = parse_text("a: {k: 'v w'}\nb: {k: 'v w'}\nc: {k: 'v w'}\n").data
    assert quoted["b"] is quoted["c"]  # equal quoted strings are one string


def test_anchored_nodes_are_never_replaced_by_an_equal_leaf() -> None:
    text = "a: [1, 2]\nb: &x [1, 2]\nc: *x\n"
    data = parse_text(text).data
    assert data == yaml.safe_load(text)
    assert data["b"] is data["c"]  # what the alias names
    assert data["a"] is not data["b"]


def test_shared_leaves_survive_the_parse_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZTSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(parsecache, "MIN_BYTES", 0)
    f = tmp_path / "t.yaml"
    f.write_text("hosts:\n" + "".join(f"  - {{id: h{i}, s: [{{p: 1}}]}}\n" for i in range(3)))
    first = load_document(f).data
    again = load_document(f).data  # from the cache
    assert again == first
    assert again["hosts"][1]["s"] is again["hosts"][2]["s"]
