"""``dump_json`` writes exactly what ``json.dumps(indent=2, ensure_ascii=False)`` does.

The writer has a fast path for lists of flat records (dicts of scalars); these tests
draw JSON values rich in such lists, in one shape or several, mixed with nested
values, odd keys and every kind of scalar.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ztsim.render import dump_json

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
    assert dump_json(value) == json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def test_records_with_nested_or_non_string_keys_fall_back() -> None:
    value = [{"a": 1, "b": [1, {"c": None}]}, {1: "x"}, {"a": 1, "b": 2}, ({"t": (1, 2)},)]
    assert dump_json(value) == json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def test_unserialisable_values_still_raise() -> None:
    try:
        dump_json([{"a": object()}])
    except TypeError as exc:
        assert "not JSON serializable" in str(exc)
    else:  # pragma: no cover - the assertion message says what went wrong
        raise AssertionError("an object() value must raise TypeError")
