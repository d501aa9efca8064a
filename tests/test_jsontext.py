"""``dump_json`` writes exactly what ``json.dumps(indent=2, ensure_ascii=False)`` does
(non-printable characters then escaped by ``json_safe``).

The writer has a fast path for lists of flat records (dicts of scalars); these tests
draw JSON values rich in such lists, in one shape or several, mixed with nested
values, odd keys and every kind of scalar.  Text written ahead (``Encoded``) and
the rule rows' own writer (``rows_json_text``) give the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ztsim.jsontext import Encoded, dump, dump_json
from ztsim.textsafe import json_safe
from ztsim.whatif.impact import RuleImpact, rows_json_text

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
KEYS = st.sampled_from(["a", "b", "rule", 'q"uote', "é", "\n", ""]) | st.text(max_size=4)


def _values() -> st.SearchStrategy[Any]:
    flat = st.dictionaries(KEYS, SCALARS, max_size=5)
    return st.recursive(
        SCALARS | flat,
        lambda inner: (
            st.lists(inner, max_size=5)
            | st.lists(flat, max_size=6)  # records of mixed shapes
            | st.lists(flat, min_size=1, max_size=1).map(lambda one: one * 4)  # one shape
            | st.dictionaries(KEYS, inner, max_size=4)
        ),
        max_leaves=30,
    )


@settings(max_examples=300, deadline=None)
@given(_values())
def test_dump_json_is_json_dumps(value: Any) -> None:
    assert dump_json(value) == json_safe(json.dumps(value, indent=2, ensure_ascii=False)) + "\n"


def test_records_with_nested_or_non_string_keys_fall_back() -> None:
    value = [{"a": 1, "b": [1, {"c": None}]}, {1: "x"}, {"a": 1, "b": 2}, ({"t": (1, 2)},)]
    assert dump_json(value) == json_safe(json.dumps(value, indent=2, ensure_ascii=False)) + "\n"


def test_unserialisable_values_still_raise() -> None:
    try:
        dump_json([{"a": object()}])
    except TypeError as exc:
        assert "not JSON serializable" in str(exc)
    else:  # pragma: no cover - the assertion message says what went wrong
        raise AssertionError("an object() value must raise TypeError")


@settings(max_examples=100, deadline=None)
@given(_values(), st.integers(min_value=0, max_value=3))
def test_encoded_text_is_put_in_at_any_depth(value: Any, depth: int) -> None:
    nested: Any = value
    written: Any = Encoded(dump(value))
    for i in range(depth):
        nested, written = {"k": [nested, i]}, {"k": [written, i]}
    assert dump_json(written) == json_safe(json.dumps(nested, indent=2, ensure_ascii=False)) + "\n"


NAMES = st.text(max_size=6) | st.sampled_from(["default", 'r"1', "é\u2028", "\x00\n"])
COUNTS = st.integers(min_value=0, max_value=10**6)
ROWS = st.lists(
    st.builds(
        RuleImpact,
        st.sampled_from(["segmentation", "egress"]),
        NAMES,
        st.sampled_from(["allow", "deny"]),
        st.none() | st.integers(min_value=1, max_value=10**6),
        COUNTS,
        COUNTS,
        COUNTS,
        COUNTS,
        COUNTS,
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(ROWS)
def test_rows_json_text_is_the_rows_json(rows: list[RuleImpact]) -> None:
    expected = json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False)
    assert rows_json_text(rows) == expected
    assert dump_json({"rules": Encoded(rows_json_text(rows))}) == dump_json(
        {"rules": [r.to_json() for r in rows]}
    )


@pytest.mark.parametrize(
    "data",
    [
        {},
        [],
        {"a": [], "b": {}, "c": [{}], "d": [[]]},
        {"é": 'naïve "q" \\ \n\t\u2028 \x00', "n": None, "t": True, "f": False},
        {"i": 3, "neg": -7, "x": 0.1, "z": -0.0, "big": 1e300, "small": 1e-7, "r": 0.123456},
        {1: "int key", 2.5: "float key", False: "bool key", None: "none key"},
        [1, [2, [3, {"k": (4, 5)}]], "s", None],
        {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")},
    ],
)
def test_edge_cases_are_json_dumps(data: Any) -> None:
    assert dump_json(data) == json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"
