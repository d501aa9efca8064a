"""JSON text as ``json.dumps(data, indent=2, ensure_ascii=False)`` writes it, by orjson.

The standard library's encoder runs in Python when it indents; the results of
large estates are several megabytes of flat records (rule-impact rows, plan
steps).  orjson writes the same text in C, but for four details handled here:

* floats below 1e-4 in magnitude (``1e-7`` and ``0.00001`` where Python writes
  ``1e-07`` and ``1e-05``): those few tokens are rewritten with ``float.__repr__``;
* NaN and infinities, which orjson writes as ``null``: when the text holds a
  ``null``, the value is searched for them, and the standard library writes it
  if one is there;
* lone surrogates, integers beyond 64 bits and non-string keys, which orjson
  refuses: the standard library writes those values (they are rare);
* :class:`Encoded`, a value already written (plans share their steps; rule-impact
  rows come written, see :func:`ztsim.engine.impact.rows_json_text`): orjson puts
  a marker where it goes, replaced by its text indented to the marker's depth.

No Textual, no rich: the engine's processes use it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from ztsim.model.textsafe import json_safe

__all__ = ["Encoded", "dump", "dump_json"]

# Dataclasses and datetimes are not JSON here (they go to ``dump``'s default, which
# refuses them, as json.dumps does); non-string keys make orjson raise.
_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME

# A float token orjson writes unlike float.__repr__ ends a line (no JSON string
# holds a raw newline, so the token is outside strings): a one-digit negative
# exponent, or a decimal 0.0000... .  Literal prefixes keep the scan fast.
_SHORT_EXPONENT = re.compile(r"e-\d,?(?=\n|\Z)")
_SMALL_DECIMAL = re.compile(r"0\.0000\d*,?(?=\n|\Z)")
_FLOAT_TOKEN = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


class _Refused(Exception):
    """A value orjson would write unlike json.dumps (the standard library writes it)."""


def dump_json(data: Any) -> str:
    """Stable JSON text (2-space indent, keys in insertion order).

    The bytes of ``json.dumps(data, indent=2, ensure_ascii=False)`` (written by
    orjson, see the module's docstring), then passed through
    :func:`ztsim.model.textsafe.json_safe` (non-printable characters as ``\\uXXXX``).

    >>> print(dump_json({"name": "web\\u202e"}), end="")  # a bidi override, escaped
    {
      "name": "web\\u202e"
    }
    """
    # DEL, C1, bidi and zero-width characters as \uXXXX: same data, no terminal escape
    return json_safe(dump(data)) + "\n"


class Encoded:
    """A value already written as JSON at depth 0 (re-indented where it is put)."""

    __slots__ = ("at", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.at: dict[int, str] = {0: text}

    def indented(self, depth: int) -> str:
        """The text as written at ``depth`` (JSON strings hold no raw newline)."""
        got = self.at.get(depth)
        if got is None:
            got = self.at[depth] = self.text.replace("\n", "\n" + "  " * depth)
        return got


def dump(data: Any, *, floats: bool = True) -> str:
    """``json.dumps(data, indent=2, ensure_ascii=False)`` (plus :class:`Encoded`).

    ``floats=False``: the caller vouches that ``data`` holds no float (only strings,
    ints, bools, ``None``, lists, dicts and :class:`Encoded`), so orjson's text is
    already the standard library's: the search for NaN behind each ``null`` (a walk
    of the whole value) and the rewrite of small floats (a scan of the whole text)
    are skipped.  ``check``'s results are such values, and the ``null`` of a goal
    not reached made every one pay the walk.

    >>> import json
    >>> data = {"host": "café", "ports": [22, 443], "p": 1e-05, "tag": None}
    >>> dump(data) == json.dumps(data, indent=2, ensure_ascii=False)
    True
    >>> print(dump({"plans": Encoded('[\\n  "a"\\n]'), "n": 1}))  # re-indented in place
    {
      "plans": [
        "a"
      ],
      "n": 1
    }
    """
    encoded: list[Encoded] = []

    def default(o: Any) -> Any:
        if type(o) is Encoded:
            # A raw control character: orjson writes none outside this marker.
            encoded.append(o)
            return orjson.Fragment(b"\x01%d\x01" % (len(encoded) - 1))
        if isinstance(o, float) and math.isfinite(o):  # a float subclass
            return float(o)
        raise _Refused

    try:
        text = orjson.dumps(data, default=default, option=_OPTIONS).decode()
        if floats and "null" in text and _non_finite(data):
            raise _Refused
    except (TypeError, _Refused):  # orjson's JSONEncodeError is a TypeError
        return _dump_stdlib(data)
    if floats:
        text = _python_floats(text)
    if encoded:
        text = _put_in(text, [f"\x01{i}\x01" for i in range(len(encoded))], encoded)
    return text


def _non_finite(data: Any) -> bool:
    """Whether ``data`` holds a NaN or an infinity (orjson writes them as null).

    The standard library's C encoder finds them (``allow_nan=False``), faster than a
    walk in Python over the same values.
    """
    try:
        _FINITE.encode(data)
    except ValueError:
        return True
    return False


def _encoded_as_null(o: Any) -> None:
    if type(o) is Encoded:  # its text is put in as it is
        return None
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


_FINITE = json.JSONEncoder(
    allow_nan=False, check_circular=False, separators=(",", ":"), default=_encoded_as_null
)


def _python_floats(text: str) -> str:
    """orjson's text with its small floats written as ``float.__repr__`` writes them."""
    spans = []
    for pattern in (_SHORT_EXPONENT, _SMALL_DECIMAL):
        for m in pattern.finditer(text):
            end = m.end() - 1 if text[m.end() - 1] == "," else m.end()
            start = max(text.rfind(" ", 0, m.start()), text.rfind("\n", 0, m.start())) + 1
            if _FLOAT_TOKEN.fullmatch(text, start, end):
                spans.append((start, end))
    if not spans:
        return text
    out = []
    at = 0
    for start, end in sorted(spans):
        out.append(text[at:start])
        out.append(float.__repr__(float(text[start:end])))
        at = end
    out.append(text[at:])
    return "".join(out)


def _put_in(text: str, markers: list[str], encoded: list[Encoded]) -> str:
    """``text`` with each marker (in order) replaced by its value's text at its depth."""
    out = []
    at = 0
    for marker, value in zip(markers, encoded, strict=True):
        i = text.index(marker, at)
        line = text[text.rfind("\n", 0, i) + 1 : i]
        # A value's depth is its line's indent: "  " * depth, then maybe its key.
        out.append(text[at:i])
        out.append(value.indented((len(line) - len(line.lstrip(" "))) // 2))
        at = i + len(marker)
    out.append(text[at:])
    return "".join(out)


def _dump_stdlib(data: Any) -> str:
    """``json.dumps`` of ``data``, each :class:`Encoded` put in by a marker string.

    The markers are strings no string of ``data`` writes the same way: one that
    did is seen (its text appears more often than the markers) and a longer tag
    is tried.
    """
    tag = "#"
    while True:
        markers: list[str] = []
        encoded: list[Encoded] = []
        text = json.dumps(_swapped(data, tag, markers, encoded), indent=2, ensure_ascii=False)
        if not markers:
            return text
        written = [json.dumps(m, ensure_ascii=False) for m in markers]
        if text.count(json.dumps(f"\x00{tag}", ensure_ascii=False)[:-1]) == len(markers):
            return _put_in(text, written, encoded)
        tag += "#"


def _swapped(o: Any, tag: str, markers: list[str], encoded: list[Encoded]) -> Any:
    """``o`` with each :class:`Encoded` swapped for a marker string (noted in order)."""
    if type(o) is Encoded:
        encoded.append(o)
        markers.append(f"\x00{tag}{len(markers)}\x00")
        return markers[-1]
    if isinstance(o, dict):
        return {k: _swapped(v, tag, markers, encoded) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_swapped(v, tag, markers, encoded) for v in o]
    return o
