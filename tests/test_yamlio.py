"""The fast YAML builder is ``yaml.safe_load`` to the letter, and its positions are exact."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from ztsim.inputs.documents import load_document, parse_text
from ztsim.inputs.positions import YamlInputError, _index_positions
from ztsim.perf import parsecache

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
    from ztsim.inputs.loader import load_policy
    from ztsim.model.diagnostics import InputError

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


# --------------------------------------------------------------------------- hostile input
# (issue #23 points 8 and 9: every problem at its real line and column, bounded reads)


def _error(text: str, name: str = "t.yaml") -> YamlInputError:
    from ztsim.inputs.documents import document_from_bytes

    with pytest.raises(YamlInputError) as err:
        document_from_bytes(name, text.encode("utf-8"))
    return err.value


def _at(err: YamlInputError) -> tuple[int, int]:
    assert err.mark is not None, err.message
    return err.mark.line, err.mark.column


@pytest.mark.parametrize(
    ("snippet", "words"),
    [
        ("!!int 12x", "cannot read '12x' as !!int"),
        ("!!float abc", "cannot read 'abc' as !!float"),
        ("!!timestamp 2025-13-45", "as !!timestamp: month must be in 1..12"),
        ("!!bool maybe", "cannot read 'maybe' as !!bool"),
        ("!!binary aGVsbG8=", "tag !!binary is not accepted"),
        ("!!set {a, b}", "tag !!set is not accepted"),
        ("!!omap [a: 1]", "tag !!omap is not accepted"),
        ("!!pairs [a: 1]", "tag !!pairs is not accepted"),
        ("!foo bar", "could not determine a constructor for the tag '!foo'"),
        ("!!python/object/apply:os.system [echo]", "could not determine a constructor"),
        ("9" * 5000, "integer of 5,000 digits: more than the 4,300"),
    ],
)
@pytest.mark.parametrize("merge", [False, True], ids=["fast", "standard-loader"])
def test_scalars_that_do_not_build_are_errors_at_their_place(
    snippet: str, words: str, merge: bool
) -> None:
    """Both readers (the fast builder; the standard loader, taken for merge keys)
    say where the bad scalar is, instead of a ValueError with no position."""
    head = "<<: {z: 1}\n" if merge else ""
    err = _error(f"{head}a: 1\nb:\n  - c: {snippet}\n")
    assert words in err.message
    assert _at(err) == (3 + (1 if merge else 0), 8)


def test_a_timestamp_key_is_a_key_not_a_crash() -> None:
    doc = parse_text("a:\n  !!timestamp 2025-01-01: x\n")
    import datetime

    assert doc.data == {"a": {datetime.date(2025, 1, 1): "x"}}


@pytest.mark.parametrize(
    ("raw", "where", "words"),
    [
        (b"a: 1\nb: x\x00y\n", (2, 5), "character U+0000 is not allowed"),
        (b"a: 1\n\x07b: 2\n", (2, 1), "character U+0007 is not allowed"),
        (b"a: 1\nb: caf\xe9\n", (2, 7), "not UTF-8 text: byte(s) e9"),
        ("a: é\nb: \u00e9".encode() + b"\xff\n", (2, 5), "not UTF-8 text: byte(s) ff"),
    ],
)
def test_bad_characters_and_bytes_at_their_line_and_column(
    raw: bytes, where: tuple[int, int], words: str
) -> None:
    from ztsim.inputs.documents import document_from_bytes

    with pytest.raises(YamlInputError) as err:
        document_from_bytes("t.yaml", raw)
    assert words in err.value.message
    assert _at(err.value) == where


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: &x [1, *x]\n",  # fast builder
        "<<: {z: 1}\nb: &x {c: *x}\n",  # standard loader (merge key)
    ],
)
def test_recursive_alias_at_the_alias(text: str) -> None:
    err = _error(text)
    assert "recursive alias *x" in err.message
    assert _at(err) == (2, text.splitlines()[1].index("*x") + 1)


def test_alias_bomb_refused_at_the_alias_that_crosses_the_limit() -> None:
    from ztsim.inputs.guards import expansion_limit

    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"{c}: &{c} [" + ", ".join([f"*{p}"] * 10) + "]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    text = "\n".join(lines) + "\n"
    start = time.perf_counter()
    err = _error(text)
    assert time.perf_counter() - start < 2.0
    assert f"more than {expansion_limit(len(text)):,}" in err.message
    assert err.message.startswith("alias *e stands for 111,111 nodes")
    assert _at(err) == (6, 8)


def test_aliases_within_the_allowance_are_read() -> None:
    """Sharing by aliases as estates do (a service list named by many hosts) is fine."""
    hosts = "".join(f"  - {{id: h{i}, services: *s}}\n" for i in range(2000))
    doc = parse_text("s: &s [{service: 443/tcp}, {service: 22/tcp}]\nhosts:\n" + hosts)
    assert len(doc.data["hosts"]) == 2000


def test_nesting_built_by_aliases_is_bounded() -> None:
    """Aliases of aliases nest past libyaml's own 1,000 levels: refused, no RecursionError."""
    text = "a: &a " + "[" * 900 + "1" + "]" * 900 + "\n"
    text += "b: &b " + "[" * 900 + "*a" + "]" * 900 + "\n"
    err = _error(text)
    assert "more than 1,000 levels deep" in err.message
    assert _at(err) == (2, 907)


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ('{"a": "x\\ud800y"}', (1, 9), "lone surrogate"),
        ('{"a":\n "\\udc00"}', (2, 3), "lone surrogate"),
        ('{"a": "\\ud83d\\ude80 \\ud83d"}', (1, 21), "lone surrogate"),
        ('{"a": 1,\n "b": ' + "7" * 4400 + "}", (2, 7), "integer of 4,400 digits"),
        ("[" * 5000 + "]" * 5000, (1, 501), "nested more than 500 levels deep"),
    ],
)
def test_json_hostile_values_at_their_place(text: str, where: tuple[int, int], words: str) -> None:
    err = _error(text, "t.json")
    assert words in err.message
    assert _at(err) == where


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "\\ud83d\\ude80"}',  # a pair: one character
        '{"a": "\\\\ud800"}',  # an escaped backslash, then text
        '{"a": "\\\\\\\\ud800"}',
    ],
)
def test_json_surrogate_pairs_and_escaped_backslashes_are_text(text: str) -> None:
    from ztsim.inputs.documents import document_from_bytes

    doc = document_from_bytes("t.json", text.encode())
    assert doc.data == json.loads(text)
    doc.data["a"].encode("utf-8")  # printable


def test_json_positions_after_a_surrogate_pair_are_exact() -> None:
    from ztsim.inputs.documents import document_from_bytes
    from ztsim.inputs.positions import locate

    text = '{"a": "\\ud83d\\ude80",\n "b": 1}'
    doc = document_from_bytes("t.json", text.encode())
    assert locate(doc, ("b",)) == (2, 7)


def test_partial_index_locates_as_the_full_one() -> None:
    """``locate_many`` on a fresh document indexes only up to the nodes asked for,
    and answers what the full index answers."""
    text = "a:\n" + "".join(f"  - {{b: {i}, c: [x, y]}}\n" for i in range(3000)) + "z: 1\n"
    asked = [(("a", 3, "c", 1), False), (("a", 10, "b"), True), (("a", 2), False)]
    fresh = parse_text(text)
    partial = fresh.locate_many(asked)
    assert fresh._indexed is None  # stopped early: not kept as the index
    full = parse_text(text)
    full.positions()
    assert partial == full.locate_many(asked)
    missing = parse_text(text)
    assert missing.locate_many([(("nope", 1), False)]) == [(1, 1)]
    assert missing._indexed is not None  # ran to the end: kept


# --------------------------------------------------------------------------- files


def _read_error(path: str, **kw: Any) -> str:
    from ztsim.inputs.guards import read_bytes_bounded

    with pytest.raises(YamlInputError) as err:
        read_bytes_bounded(path, **kw)
    return err.value.message


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    start = time.perf_counter()
    assert "not a regular file: a FIFO" in _read_error(str(fifo))
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_before_reading(device: str) -> None:
    assert "not a regular file: a character device" in _read_error(device)


def test_a_folder_and_a_missing_file_are_refused(tmp_path: Path) -> None:
    assert "is a directory" in _read_error(str(tmp_path))
    assert "cannot read file" in _read_error(str(tmp_path / "nope.yaml"))


def test_the_byte_bound_holds_for_files_and_streams(tmp_path: Path) -> None:
    from ztsim.inputs.guards import read_bytes_bounded

    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * 100)
    assert "file too large: 500 bytes (limit 499" in _read_error(str(big), limit=499)
    assert read_bytes_bounded(str(big), limit=500) == big.read_bytes()
    # A stream, where a command allows one: read up to the bound, then refused.
    start = time.perf_counter()
    message = _read_error("/dev/zero", allow_stream=True, limit=3 * 1024 * 1024)
    assert "more than 3,145,728 bytes" in message
    assert time.perf_counter() - start < 2.0
    assert "standard input ('-') is not accepted" in _read_error("-")
