"""JSON text as ``json.dumps(data, indent=2, ensure_ascii=False)`` writes it, faster.

The standard library's encoder runs in Python when it indents; the results of
large estates are several megabytes of flat records (rule-impact rows, plan
steps), which :func:`dump` writes a record at a time.  :class:`Encoded` holds a
value already written, put in as it is (plans share their steps; rule-impact
rows come written, see :func:`ztsim.whatif.impact.rows_json_text`).

No Textual, no rich: the engine's processes use it.
"""

from __future__ import annotations

from json.encoder import encode_basestring
from typing import Any

from ztsim.textsafe import json_safe

__all__ = ["Encoded", "dump", "dump_json"]


def dump_json(data: Any) -> str:
    """Stable JSON text (2-space indent, keys in insertion order).

    The bytes of ``json.dumps(data, indent=2, ensure_ascii=False)``, written by
    :func:`dump` without the standard library's generators (several times faster
    on the multi-megabyte results of large estates), then passed through
    :func:`ztsim.textsafe.json_safe` (non-printable characters as ``\\uXXXX``).
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


def dump(data: Any) -> str:
    """``json.dumps(data, indent=2, ensure_ascii=False)`` (plus :class:`Encoded`)."""
    out: list[str] = []
    _write(data, 0, out)
    return "".join(out)


def _scalar(o: Any) -> str | None:
    if isinstance(o, str):
        return encode_basestring(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        if o != o:
            return "NaN"
        if o == float("inf"):
            return "Infinity"
        if o == -float("inf"):
            return "-Infinity"
        return float.__repr__(o)
    return None


def _key(k: Any) -> str:
    if isinstance(k, str):
        return encode_basestring(k)
    text = _scalar(k)
    if text is None:
        raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")
    return encode_basestring(text)


def _flat_dict(o: dict[Any, Any], depth: int, shape: list[Any]) -> str | None:
    """A non-empty dict of string keys and scalar values as :func:`_write` writes it.

    ``None`` when some value is a container or not JSON (:func:`_write` then writes
    it, or raises).  ``shape`` holds the keys of the last dict written and the text
    before each value, reused while the keys repeat (records of one kind).
    """
    keys = tuple(o)
    if keys != shape[0]:
        if any(type(k) is not str for k in keys):
            return None
        inner = ",\n" + "  " * (depth + 1)
        heads = [inner + encode_basestring(k) + ": " for k in keys]
        heads[0] = "{" + heads[0][1:]
        shape[0], shape[1] = keys, heads
    parts = []
    for head, v in zip(shape[1], o.values(), strict=True):
        tv = type(v)
        if tv is str:
            parts.append(head + encode_basestring(v))
        elif tv is int:
            parts.append(head + int.__repr__(v))
        elif v is None:
            parts.append(head + "null")
        elif v is True:
            parts.append(head + "true")
        elif v is False:
            parts.append(head + "false")
        elif tv is float and (text := _scalar(v)) is not None:
            parts.append(head + text)
        else:
            return None
    parts.append("\n" + "  " * depth + "}")
    return "".join(parts)


def _write(o: Any, depth: int, out: list[str]) -> None:
    t = type(o)
    if t is dict:
        if not o:
            out.append("{}")
            return
        sep = ",\n" + "  " * (depth + 1)
        first = "{" + sep[1:]
        for k, v in o.items():
            head = first if first else sep
            first = ""
            # Plain keys and values written here (most are), the rest by a call.
            key = encode_basestring(k) if type(k) is str else _key(k)
            tv = type(v)
            if tv is str:
                out.append(f"{head}{key}: {encode_basestring(v)}")
            elif v is None:
                out.append(f"{head}{key}: null")
            elif tv is int:
                out.append(f"{head}{key}: {int.__repr__(v)}")
            elif v is True:
                out.append(f"{head}{key}: true")
            elif v is False:
                out.append(f"{head}{key}: false")
            else:
                out.append(f"{head}{key}: ")
                _write(v, depth + 1, out)
        out.append("\n" + "  " * depth + "}")
    elif t is list or t is tuple:
        if not o:
            out.append("[]")
            return
        sep = ",\n" + "  " * (depth + 1)
        first = "[" + sep[1:]
        shape: list[Any] = [None, None]  # the last flat dict's keys and their heads
        for v in o:
            out.append(first if first else sep)
            first = ""
            # Lists of flat records (rule impact rows, plan steps, verdicts) are most
            # of a large result: each is written in one piece when it can be.
            text = _flat_dict(v, depth + 1, shape) if type(v) is dict and v else None
            if text is None:
                _write(v, depth + 1, out)
            else:
                out.append(text)
        out.append("\n" + "  " * depth + "]")
    elif t is Encoded:
        out.append(o.indented(depth))
    else:
        text = _scalar(o)
        if text is not None:
            out.append(text)
        elif isinstance(o, dict):
            _write(dict(o), depth, out)
        elif isinstance(o, (list, tuple)):
            _write(list(o), depth, out)
        else:
            raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")
