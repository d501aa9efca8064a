"""Reading one large YAML document on two cores: split at list items, parse in parallel.

Parsing is the floor of a large check: libyaml hands over millions of events, one
Python object each, on a single core.  A topology is mostly one long block
sequence (``hosts:``), whose items can be parsed on their own.  So the text is cut
in three parts at line boundaries: the head (the document up to the middle of
that sequence), the middle (the rest of the sequence, under its key) and the tail
(the top-level keys after it).  A forked child parses the middle while this
process parses the head and the tail; the child's data comes back through a pipe
with :mod:`marshal`.

Exactness: each part must parse on its own.  A cut at a line that starts an item
(``- `` at the items' indentation) or a top-level key is a real boundary of block
YAML: nothing spans it but quoted scalars and flow collections (``"…``, ``[…``,
``{…``) running over several lines, and a part that ends inside one of those hits
the end of its text and fails.  Any failure, and anything this module does not
handle (anchors, directives, several documents, a top-level duplicate key, values
:mod:`marshal` cannot carry, no ``fork``, threads running), makes
:func:`split_build` answer ``None``: the caller then parses the whole text as
before, which also gives the exact error message.
"""

from __future__ import annotations

import marshal
import re
from collections.abc import Callable
from typing import Any

from ztsim.perf.forking import Forked, enabled

__all__ = ["MIN_BYTES", "enabled", "split_build", "split_points"]

#: Documents smaller than this are parsed in one piece (a fork would cost more than it saves).
MIN_BYTES = 2 * 1024 * 1024


# Patterns that start with a literal newline where they can: the regex engine then
# skips ahead to candidates quickly (a multiline ``^`` is tried at every character).
_MARKER = re.compile(r"\n(?:---|\.\.\.)(?=\s|\Z)")  # a document start or end
_KEY_LINE = re.compile(r"^[^\s#'\"\-?:\[\]{},&*!|>%@`][^:#\n]*:[ \t]*(#[^\n]*)?$", re.M)
_STOP = re.compile(r"\n[^\s#]")
_STOP_AT_ITEMS = re.compile(r"\n[^\s#-]")
_CONTENT = re.compile(r"^([ ]*)[^ \n#]", re.M)


def split_points(text: str) -> tuple[str, int, int] | None:
    """Where to cut: ``(key line, start of the middle, start of the tail)``, offsets.

    The largest top-level block sequence is cut at the item start that leaves
    about half of the text to the middle part.  ``None`` when the text has no
    top-level block sequence of two items or more.
    """
    best: tuple[int, str, int, int, re.Pattern[str]] | None = None
    pos = 0
    while True:
        key = _KEY_LINE.search(text, pos)
        if key is None:
            break
        body = key.end() + 1
        first = _CONTENT.search(text, body)
        if first is None:
            break
        indent = first.group(1)
        is_seq = text.startswith("- ", first.end() - 1) or text.startswith("-\n", first.end() - 1)
        # The block ends at the next line that starts at column 0 (other than an
        # item, when the items themselves start there) and is no comment.
        stop = _STOP_AT_ITEMS if indent == "" else _STOP
        end_match = stop.search(text, first.start())
        end = end_match.start() + 1 if end_match else len(text)
        if is_seq:
            item = re.compile(rf"^{indent}-( |$)", re.M)
            second = item.search(text, first.end(), end)
            if second is not None and (best is None or end - body > best[0]):
                best = (end - body, key.group(0) + "\n", end, body, item)
        pos = max(end, key.end() + 1)
    if best is None:
        return None
    _, key_line, end, body, item = best
    # The middle is text[cut:end]; it should hold about half of the text.
    target = max(end - len(text) // 2, body)
    found = item.search(text, target, end)
    if found is None or found.start() == body:
        found = item.search(text, body + 1, end)
    if found is None:
        return None
    first_item = item.search(text, body, end)
    if first_item is not None and first_item.start() == found.start():
        return None  # the cut must leave at least one item in the head
    return key_line, found.start(), end


def split_build(text: str, build: Callable[[str], tuple[Any, bool]]) -> Any | None:
    """The data of ``text`` parsed in two processes, or ``None`` to parse it whole.

    ``build`` parses one text as ``safe_load`` would and returns ``(data,
    aliased)`` (:func:`ztsim.perf.fastbuild.build_plain`); it is called on each part.
    """
    if len(text) < MIN_BYTES or not enabled():
        return None
    if "&" in text or _MARKER.search(text) or text.startswith("%") or "\n%" in text:
        return None  # anchors, several documents or directives: not cut here
    where = split_points(text)
    if where is None:
        return None
    key_line, cut, end = where
    head, middle, tail = text[:cut], key_line + text[cut:end], text[end:]
    child = Forked(lambda: marshal.dumps(build(middle)[0]))
    try:
        try:
            first = build(head)[0]
            rest = build(tail)[0] if tail.strip() else None
        except Exception:  # the whole parse reports the error
            first = rest = None
        blob = child.result()
    finally:
        child.close()
    if blob is None or not isinstance(first, dict):
        return None
    return _joined(first, blob, rest)


def _joined(first: dict[Any, Any], blob: bytes, rest: Any) -> Any | None:
    """The head's data ``first`` with the middle's items (``blob``, from the child)
    and the tail's keys ``rest`` put back, or ``None`` when they do not fit together."""
    try:
        second = marshal.loads(blob)
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(second, dict) or len(second) != 1:
        return None
    ((key, items),) = second.items()
    if not isinstance(items, list) or not isinstance(first.get(key), list):
        return None
    if list(first)[-1] != key:
        return None  # the key is not where the cut put it
    if rest is not None:
        if not isinstance(rest, dict) or any(k in first for k in rest):
            return None  # a top-level key twice: the whole parse reports it
        first.update(rest)
    first[key].extend(items)
    return first
