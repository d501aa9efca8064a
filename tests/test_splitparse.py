"""Split parsing (ztsim.perf.splitparse) gives the data of a whole parse, or declines.

The cut is made at line boundaries found by regular expressions; these tests try
to make such a boundary lie: multi-line quoted scalars and flow collections whose
continuation lines look like list items or top-level keys, items at column 0,
comments, duplicate keys across the parts.  In every case the answer must be the
whole parse's data or ``None``.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ztsim.perf import splitparse
from ztsim.perf.fastbuild import fast_build
from ztsim.perf.splitparse import split_build, split_points


def _build(text: str) -> tuple[Any, bool]:
    return fast_build(text, None)


@pytest.fixture(autouse=True)
def _small_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split even small texts (the real threshold is megabytes)."""
    monkeypatch.setattr(splitparse, "MIN_BYTES", 0)


def _whole(text: str) -> Any:
    try:
        return _build(text)[0]
    except Exception:  # any failure: the split parse must decline
        return "<error>"


def _agree(text: str) -> Any:
    """Assert the split parse equals the whole parse (or declines); return it."""
    got = split_build(text, _build)
    if got is not None:
        assert got == _whole(text)
        assert list(got) == list(_whole(text))
    return got


_TRICKY = st.sampled_from(
    [
        "plain",
        "with: colon",
        "a\n  - b",
        "a\n- b",
        "x\nkey: y",
        "- dash",
        "# not a comment",
        "'quoted'",
        'say "hi"',
        "[not, a, list]",
        "{not: a map}",
        "tail\n",
        "",
        "yes",
        "0x1F",
        "multi\n\nline\n\n  - deep",
    ]
)
_SCALARS = st.one_of(_TRICKY, st.integers(-5, 5), st.booleans(), st.none(), st.text(max_size=8))
_ITEMS = st.dictionaries(
    st.sampled_from(["id", "zone", "name", "labels", "services"]),
    st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3), st.dictionaries(_TRICKY, _SCALARS)),
    min_size=1,
    max_size=4,
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A document with a long top-level list, dumped in one of several styles."""
    doc: dict[str, Any] = {}
    if draw(st.booleans()):
        doc["name"] = draw(_SCALARS)
    doc["hosts"] = draw(st.lists(_ITEMS, min_size=2, max_size=12))
    if draw(st.booleans()):
        doc["traffic"] = draw(st.lists(_ITEMS, max_size=3))
    if draw(st.booleans()):
        doc["after"] = draw(_SCALARS)
    flow = draw(st.sampled_from([False, None]))
    indent = draw(st.sampled_from([2, 4]))
    width = draw(st.sampled_from([20, 80, 10_000]))
    text = yaml.safe_dump(doc, default_flow_style=flow, indent=indent, width=width, sort_keys=False)
    if draw(st.booleans()):  # items at column 0, as some editors write them
        text = text.replace("\n  - ", "\n- ").replace("\n    ", "\n  ")
    if draw(st.booleans()):
        text = text.replace("\nhosts:\n", "\nhosts:  # the estate\n# a comment\n\n")
    return text


@settings(max_examples=300, deadline=None)
@given(documents())
def test_split_parse_equals_the_whole_parse(text: str) -> None:
    """Whatever the styles and scalars, the answer is the whole parse's, or None."""
    _agree(text)


def test_a_plain_topology_is_split_and_equal() -> None:
    hosts = "".join(f"  - id: h{i}\n    zone: z\n    labels: {{role: web}}\n" for i in range(50))
    text = f"ztsim: 1\nkind: topology\nhosts:\n{hosts}traffic:\n  - {{from: h1, to: h2}}\n"
    got = _agree(text)
    assert got is not None
    assert len(got["hosts"]) == 50
    assert list(got) == ["ztsim", "kind", "hosts", "traffic"]


def test_items_at_column_zero() -> None:
    hosts = "".join(f"- id: h{i}\n  zone: z\n" for i in range(20))
    got = _agree(f"hosts:\n{hosts}name: x\n")
    assert got is not None and len(got["hosts"]) == 20


@pytest.mark.parametrize(
    "middle",
    [
        '  - id: "a\n  - id: b\n    zone: c"\n',  # a quoted scalar over an item-like line
        "  - id: 'a\n  - id: b'\n",
        "  - labels: {a: b,\n  - c: d}\n",  # a flow mapping over an item-like line
        "  - tags: [a,\n  - b]\n",
        '  - id: "a\nname: b"\n',  # a quoted scalar over a key-like line
    ],
)
def test_boundaries_inside_multiline_scalars_never_lie(middle: str) -> None:
    hosts = "".join(f"  - id: h{i}\n" for i in range(10))
    text = f"hosts:\n{hosts}{middle}{hosts.replace('id: h', 'id: k')}name: n\n"
    _agree(text)


def test_a_duplicate_top_level_key_across_parts_is_left_to_the_whole_parse() -> None:
    hosts = "".join(f"  - id: h{i}\n" for i in range(10))
    text = f"name: a\nhosts:\n{hosts}name: b\n"
    assert split_build(text, _build) is None


@pytest.mark.parametrize(
    "text",
    [
        "hosts:\n  - &a {id: h}\n  - *a\n  - {id: k}\n",  # anchors
        "%YAML 1.1\n---\nhosts:\n  - a\n  - b\n  - c\n",  # directives
        "hosts:\n  - a\n  - b\n---\nhosts:\n  - c\n",  # several documents
        "hosts: [a, b, c]\n",  # no block sequence
        "hosts:\n  - a\n",  # one item
        "hosts:\n  a: 1\n  b: 2\n",  # a mapping
    ],
)
def test_declines_what_it_does_not_cut(text: str) -> None:
    assert split_build(text, _build) is None


def test_broken_parts_decline() -> None:
    hosts = "".join(f"  - id: h{i}\n" for i in range(10))
    assert split_build(f"hosts:\n{hosts}  - id: [unclosed\n{hosts}", _build) is None
    assert split_build(f"hosts:\n{hosts}{hosts}  - {{a: 1, a: 2}}\n", _build) is None


def test_off_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZTSIM_PARALLEL", "off")
    hosts = "".join(f"  - id: h{i}\n" for i in range(10))
    assert split_build(f"hosts:\n{hosts}", _build) is None


def test_the_cut_is_near_the_middle() -> None:
    hosts = "".join(f"  - id: h{i:04}\n" for i in range(1000))
    text = f"hosts:\n{hosts}"
    where = split_points(text)
    assert where is not None
    key_line, cut, end = where
    assert key_line == "hosts:\n"
    assert end == len(text)
    assert abs((end - cut) - len(text) / 2) < 20
    assert text[cut:].startswith("  - id: h")


@pytest.mark.parametrize(
    "middle",
    [
        '  - id: "a\n  - id: b\n    zone: c"\n',
        "  - id: 'a\n  - id: b'\n",
        '  - id: "a\nname: b"\n',
        "  - note: |\n      text\n  - id: b\n",
    ],
)
def test_every_item_like_line_is_a_safe_cut(middle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the cut at each line that looks like an item or a top-level key: the
    answer is always the whole parse's or None, and real boundaries do split."""
    import re

    text = f"hosts:\n  - id: h0\n{middle}  - id: h9\nname: n\n"
    whole = _whole(text)
    lines = [m.start() for m in re.finditer(r"^(  - |[a-z])", text, re.M)]
    split_any = False
    for cut in lines[2:]:
        end = text.index("\nname: n") + 1
        for stop in {end, *[x for x in lines if x > cut]}:
            monkeypatch.setattr(
                splitparse, "split_points", lambda _t, c=cut, s=stop: ("hosts:\n", c, s)
            )
            got = split_build(text, _build)
            if got is not None:
                split_any = True
                assert got == whole, (cut, stop)
    assert split_any
