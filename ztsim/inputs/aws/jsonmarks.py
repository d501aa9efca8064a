"""Where the objects and lists of a JSON text start, fast (layer ``inputs``).

The generic position index (:meth:`~ztsim.inputs.positions.Document.positions`)
replays the text through a YAML parser: exact for any document, but most of an
import's time on a large ``describe-instances`` output.  A JSON text needs far
less: one regular expression walks its strings and brackets, tracking the path,
and records where each container (``{`` or ``[``) down to a depth starts.
Problems are still placed by the generic index (they are few).
"""

from __future__ import annotations

import re
from bisect import bisect_right

from ztsim.inputs.collector import Loc

__all__ = ["container_marks"]

#: A JSON string, its loop unrolled (a character class per run, not an
#: alternation per character).
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
#: In order: a key with a scalar value and its comma (nothing to record: one match
#: where three were), a key before a container (group 1), a string in a list,
#: or a structural character.
_TOKEN = re.compile(
    rf'{_STRING}\s*:\s*(?:{_STRING}|[^\s{{\[,}}\]"]+)\s*,?|({_STRING})\s*:|{_STRING}|[{{}}\[\],]'
)


def container_marks(text: str, depth: int = 6) -> dict[Loc, tuple[int, int]]:
    """Path -> (line, column), 1-based, of every object and list of ``text`` (a
    well-formed JSON document, already parsed) at most ``depth`` steps deep."""
    lines = [m.end() for m in re.finditer("\n", text)]
    out: dict[Loc, tuple[int, int]] = {}
    path: list[str | int] = []
    kinds: list[str] = []  # "{" or "[" per open container
    key: str | int | None = None  # the step the next value takes
    for m in _TOKEN.finditer(text):
        tok = m.group()
        first = tok[0]
        if first == '"':
            quoted = m.group(1)
            if quoted is not None:
                key = _key(quoted)
            continue
        if first in "{[":
            if kinds:
                path.append(key if key is not None else 0)
            if len(path) <= depth:
                at = m.start()
                line = bisect_right(lines, at)
                column = at - (lines[line - 1] if line else 0) + 1
                out[tuple(path)] = (line + 1, column)
            kinds.append(first)
            key = 0 if first == "[" else None
        elif first in "}]":
            kinds.pop()
            if path:
                step = path.pop()
                key = step if kinds and kinds[-1] == "[" else None
        elif kinds and kinds[-1] == "[":  # a comma in a list: the next item
            key = (key if isinstance(key, int) else 0) + 1
    return out


def _key(quoted: str) -> str:
    inner = quoted[1:-1]
    if "\\" not in inner:
        return inner
    import json

    value: str = json.loads(quoted)
    return value
