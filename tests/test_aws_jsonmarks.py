"""The AWS reader's fast JSON container marks (ztsim/inputs/aws/jsonmarks.py)
against the generic position index (a YAML replay of the text), on random JSON
written as the AWS CLI and ``terraform show -json`` write it, and others."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ztsim.inputs.aws.jsonmarks import container_marks
from ztsim.inputs.positions import Document

#: Keys and strings with what trips a tokenizer: quotes, backslashes, colons,
#: brackets, commas, non-ASCII.
_TEXT = st.text(alphabet=st.sampled_from('ab:,{}[]"\\ é\t'), max_size=6)
_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), _TEXT,
    st.floats(allow_nan=False, allow_infinity=False),
)  # fmt: skip
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=25,
)


def _containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every object and list in ``value``."""
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _containers(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in _containers(v, (*path, i))]
    return []


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.dictionaries(_TEXT, _JSON, max_size=4), st.lists(_JSON, max_size=4)),
    st.sampled_from([None, 0, 1, 2, 4]),
    st.booleans(),
)
def test_marks_are_the_generic_index(value: Any, indent: int | None, ascii_only: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    marks = container_marks(text, depth=100)
    doc = Document("x.json", value, text, is_json=True)
    paths = _containers(value)
    # Duplicate keys in a generated dict cannot occur; each container is found once.
    assert set(marks) == set(paths)
    for path in paths:
        mark = doc.node_mark(path)
        assert mark is not None
        assert marks[path] == (mark.line, mark.column), (path, text)


def test_depth_limits_the_marks() -> None:
    text = json.dumps({"a": [{"b": {"c": []}}]}, indent=2)
    assert set(container_marks(text, depth=2)) == {(), ("a",), ("a", 0)}
