"""``dump_json`` writes exactly what ``json.dumps(indent=2, ensure_ascii=False)`` does
(non-printable characters then escaped by ``json_safe``).

The writer is orjson, with the details where it differs from json.dumps handled
around it: small floats (``1e-07``, ``1e-05``), NaN and infinities, lone
surrogates, integers beyond 64 bits, non-string keys (the standard library writes
those values), and text written ahead (``Encoded``, put in by markers).  These
tests draw JSON values rich in all of these, nested, with odd keys and every kind
of scalar (``json.dumps`` is the reference); the rule rows' own writer
(``rows_json_text``) gives the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ztsim.engine.impact import RuleImpact, rows_json_text
from ztsim.model.textsafe import json_safe
from ztsim.output.jsontext import Encoded, dump, dump_json

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(min_value=-1e-3, max_value=1e-3)  # orjson writes 1e-7 and 0.00001
    | st.text(max_size=8)
    # every code point, lone surrogates included (orjson refuses those)
    | st.text(st.characters(exclude_categories=()), max_size=4)
    # raw \x01 marks Encoded in orjson's text, "\x00#0\x00" in the standard library's
    | st.sampled_from(["\x010\x01", "\x00#0\x00", '"\x00#1\x00', "\\u0000#0", "null"])
)
KEYS = (
    st.sampled_from(["a", "b", "rule", 'q"uote', "é", "\n", "", "\ud800", "\x010\x01"])
    | st.text(max_size=4)
    | st.integers(min_value=-3, max_value=3)  # orjson refuses non-string keys
)


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
        [1e-7, -1e-5, 0.00012, 5e-324, 1e16, 1e15, 1.5e-300, {"x": 9.5e-05}],
        {"s": "\ud800 lone", "big": 2**64, "neg": -(2**63) - 1, "k": [[[]]]},
        ["e-1", "x 1e-7", "0.00001", "\x011\x01"],
    ],
)
def test_edge_cases_are_json_dumps(data: Any) -> None:
    assert dump_json(data) == json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


@pytest.mark.parametrize(
    "around",
    [
        {"plain": "x"},  # orjson
        {"s": "\x00#0\x00", "t": '"\x00#1\x00', "big": 2**70},  # json.dumps, marker-like data
        {"nan": float("nan"), "line": None},  # json.dumps: orjson writes NaN as null
        {"raw": "\x010\x01", "small": [1e-7, 0.00001]},
    ],
)
def test_encoded_is_put_in_whoever_writes(around: dict[str, Any]) -> None:
    inner = {"a": [1, {"b": 1e-6}], "c": "\x00#0\x00"}
    data = {**around, "e": [Encoded(dump(inner)), {"f": Encoded(dump(inner))}]}
    expected = {**around, "e": [inner, {"f": inner}]}
    assert dump_json(data) == json_safe(json.dumps(expected, indent=2, ensure_ascii=False)) + "\n"
