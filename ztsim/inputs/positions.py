"""Where FILE:LINE:COL come from: marks, node paths and the positions of a document.

A :class:`Document` is a file's data and text; the line and column of each of
its nodes are found on demand (recording them while parsing would double the
cost of reading a 100,000-host topology): recorded by the parser when asked,
kept by the parse cache, or indexed once from the parser's events.
:func:`locate` walks them along a location path such as
``("hosts", 3, "services", 0)``, the way pydantic names a problem.

Two more things live here because every reader shares them and ``ztsim.perf``
may import only this module of :mod:`ztsim.inputs`: :class:`YamlInputError` (a
file's problem at its mark), and what a YAML scalar reads as (the plain-scalar
resolution of ``safe_load``, the tags refused, the messages for both), which the
strict loader of :mod:`ztsim.inputs.documents`, the fast builder of
:mod:`ztsim.perf.fastbuild` and the key names of :func:`locate` must agree on.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml

__all__ = [
    "INT_DIGITS",
    "REFUSED_TAGS",
    "SURROGATE_ESCAPE",
    "BaseSafeLoader",
    "Document",
    "Mark",
    "NodePath",
    "Positions",
    "YamlInputError",
    "bad_scalar",
    "locate",
    "offset_mark",
    "plain_tag",
    "refused_tag",
]

try:  # pragma: no cover - depends on how PyYAML was built
    BaseSafeLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover
    BaseSafeLoader = yaml.SafeLoader


class Mark(NamedTuple):
    """A 1-based line and column in a source file.

    A named tuple rather than a dataclass: a policy parse records one per node
    (about 200,000 for 10,000 rules), and tuples are built several times faster.
    """

    line: int
    column: int


class YamlInputError(Exception):
    """A file that cannot be read as a document: syntax, size, aliases, keys."""

    def __init__(self, path: str, mark: Mark | None, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.mark = mark
        self.message = message


def offset_mark(text: str, offset: int) -> Mark:
    """The 1-based line and column of character ``offset`` of ``text``."""
    line_start = text.rfind("\n", 0, offset) + 1
    return Mark(text.count("\n", 0, offset) + 1, offset - line_start + 1)


# -- what a scalar reads as (shared by both builders and by the key names) ----------

_STR = "tag:yaml.org,2002:str"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
_WILDCARD = _IMPLICIT.get(None, [])
_SCALARS = yaml.constructor.SafeConstructor.yaml_constructors
_CONSTRUCTOR = yaml.constructor.SafeConstructor()

#: YAML 1.1 tags safe_load knows that build what a ztsim file never holds: bytes,
#: sets (in no stable order), ordered pairs (tuples).  Refused wherever they appear
#: (pydantic would quietly read bytes as text and a set as a list).
REFUSED_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("binary", "set", "omap", "pairs"))

#: Python's limit on the digits of an integer read from text (``int_max_str_digits``).
INT_DIGITS = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300


def plain_tag(value: str) -> str:
    """The tag ``safe_load`` resolves a plain scalar to (same table, same order)."""
    resolvers = _IMPLICIT.get(value[0] if value else "", [])
    for tag, regexp in (*resolvers, *_WILDCARD):
        if regexp.match(value):
            return str(tag)
    return _STR


def _scalar_value(text: str) -> Any:
    """What plain scalar ``text`` reads as (``~`` is ``None``, ``12`` is 12...)."""
    tag = plain_tag(text)
    return _SCALARS[tag](_CONSTRUCTOR, yaml.ScalarNode(tag, text))


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


def refused_tag(tag: str) -> str:
    """The message for a node tagged with one of :data:`REFUSED_TAGS`."""
    return (
        f"tag {_short_tag(tag)} is not accepted: a ztsim file holds mappings, lists, "
        "strings, numbers, booleans and null"
    )


def bad_scalar(tag: str, value: str, exc: Exception) -> str:
    """The message for scalar ``value`` that tag ``tag`` cannot build."""
    shown = value if len(value) <= 40 else value[:37] + "..."
    if isinstance(exc, ValueError) and "digits" in str(exc) and tag.endswith(":int"):
        digits = sum(c.isdigit() for c in value)
        return (
            f"integer of {digits:,} digits: more than the {INT_DIGITS:,} this reader accepts "
            "(quote it if it is text)"
        )
    reason = exc.problem if isinstance(exc, yaml.YAMLError) else None  # type: ignore[attr-defined]
    reason = reason or (str(exc) if not isinstance(exc, KeyError) else "not a valid value")
    return f"cannot read {shown!r} as {_short_tag(tag)}: {reason}"


# -- positions ---------------------------------------------------------------------

NodePath = tuple[str | int, ...]


@dataclass(frozen=True)
class Positions:
    """Marks of every node (by path) and of every mapping key (by the path it opens).

    ``depth``: ``None`` when every node is indexed; else only the paths of at most
    ``depth`` steps are (shallow positions, see
    :func:`ztsim.inputs.documents.load_document`).
    """

    nodes: dict[NodePath, Mark]
    keys: dict[NodePath, Mark]
    depth: int | None = None

    def covers(self, path: NodePath) -> bool:
        """Whether ``path`` is within the indexed depth (indexed, if it exists)."""
        return self.depth is None or len(path) <= self.depth


def _index_positions(text: str, wanted: set[NodePath] | None = None) -> Positions:
    """Index node positions by walking libyaml events (no node tree, no resolver).

    With ``wanted``, stop as soon as every one of those node paths is indexed
    (the set is emptied as they are found): a node's ancestors start before it,
    so locating any of them in the partial index gives what the full one would.
    """
    nodes: dict[NodePath, Mark] = {}
    keys: dict[NodePath, Mark] = {}
    # Frame: [is_mapping, path, next_index_or_key, expecting_key]
    stack: list[list[Any]] = []
    try:
        for ev in yaml.parse(text, Loader=BaseSafeLoader):
            if isinstance(ev, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
                if stack and stack[-1][0] and stack[-1][3] is None:
                    stack[-1][3] = True  # a complex key ended: its value comes next
                continue
            if not isinstance(
                ev,
                yaml.ScalarEvent
                | yaml.MappingStartEvent
                | yaml.SequenceStartEvent
                | yaml.AliasEvent,
            ):
                continue
            sm = ev.start_mark
            mark = Mark(sm.line + 1, sm.column + 1) if sm is not None else Mark(1, 1)
            path: NodePath | None
            if not stack:
                path = ()
            else:
                top = stack[-1]
                if not top[0]:
                    path = None if top[1] is None else (*top[1], top[2])
                    top[2] += 1
                elif top[3]:
                    # This node is a key.
                    if isinstance(ev, yaml.ScalarEvent):
                        top[2] = ev.value
                        if top[1] is not None:
                            keys[(*top[1], ev.value)] = mark
                        top[3] = False
                        continue
                    top[2] = None
                    top[3] = None  # complex key: ignore its inside
                    path = None
                else:
                    path = None if top[1] is None or top[2] is None else (*top[1], top[2])
                    top[3] = True
            if path is not None:
                nodes[path] = mark
                if wanted is not None and path in wanted:
                    wanted.discard(path)
                    if not wanted:
                        break
            if isinstance(ev, yaml.MappingStartEvent):
                stack.append([True, path, None, True])
            elif isinstance(ev, yaml.SequenceStartEvent):
                stack.append([False, path, 0, False])
    except yaml.YAMLError:
        pass  # what was indexed before the error stays usable
    return Positions(nodes, keys)


#: The typed-key tables of :func:`_typed_keys`, by the identity of their positions.
_TYPED_KEYS: dict[int, tuple[Positions, dict[tuple[NodePath, str], NodePath]]] = {}


def _typed_keys(pos: Positions) -> dict[tuple[NodePath, str], NodePath]:
    """The keys of ``pos`` whose text a plain scalar resolves to something other
    than a string, by (parent path, ``repr`` of the value): the names pydantic's
    locations give them.  Built on the error path only, once per positions."""
    hit = _TYPED_KEYS.get(id(pos))
    if hit is not None and hit[0] is pos:
        return hit[1]
    table: dict[tuple[NodePath, str], NodePath] = {}
    for path in pos.keys:
        text = path[-1]
        if not isinstance(text, str) or plain_tag(text) == _STR:
            continue
        try:
            value = _scalar_value(text)
        except Exception:  # a key the reader refused: it has no name to give
            continue
        table.setdefault((path[:-1], repr(value)), path)
        table.setdefault((path[:-1], str(value)), path)
    if len(_TYPED_KEYS) > 8:
        _TYPED_KEYS.clear()
    _TYPED_KEYS[id(pos)] = (pos, table)
    return table


def locate(doc: Document, loc: tuple[str | int, ...], *, key: bool = False) -> Mark:
    """Find where ``loc`` stands in ``doc``.

    Walks the composed node tree along ``loc`` as far as it goes and returns the
    mark of the deepest node reached (the key itself with ``key=True``, useful for
    an unknown key).  Steps that do not name a node, such as pydantic's union tags,
    are skipped.

    Examples
    --------
    >>> from ztsim.inputs.documents import parse_text
    >>> doc = parse_text("a:\\n  - {b: 1}\\n")
    >>> locate(doc, ("a", 0, "b"))
    Mark(line=2, column=9)
    """
    return _locate_in(doc.positions(), loc, key)


def _locate_in(pos: Positions, loc: tuple[str | int, ...], key: bool) -> Mark:
    """:func:`locate` in the positions ``pos``."""
    path: NodePath = ()
    resolved_last = False
    typed: dict[tuple[NodePath, str], NodePath] | None = None
    for step in loc:
        resolved_last = False
        for cand in ((*path, step), (*path, str(step))):
            if cand in pos.nodes:
                path = cand
                resolved_last = True
                break
        else:
            # A key that is no string (``~:``, ``12:``, a date) is named by the
            # repr of its value (pydantic's loc); the index knows it by its text.
            if typed is None:
                typed = _typed_keys(pos)
            found = typed.get((path, str(step)))
            if found is not None:
                path = found
                resolved_last = True
    if key and resolved_last and path in pos.keys:
        return pos.keys[path]
    return pos.nodes.get(path, Mark(1, 1))


# -- documents -----------------------------------------------------------------------

#: Characters YAML reads as line breaks that JSON does not (NEL, LINE and PARAGRAPH
#: SEPARATOR).
_JSON_NOT_BREAKS = re.compile("[\u0085\u2028\u2029]")

#: A ``\\uXXXX`` escape of a UTF-16 surrogate (D800-DFFF), with the backslashes before it.
SURROGATE_ESCAPE = re.compile(r"(\\+)u[dD]([89abAB]|[c-fC-F])[0-9a-fA-F]{2}")


@dataclass
class Document:
    """One loaded file: its data and, on demand, where each node stands."""

    path: str
    data: Any
    text: str
    is_json: bool = False
    _positions: Positions | None = field(default=None, repr=False)
    #: Every node's position, indexed from the text when recorded ones are shallow.
    _indexed: Positions | None = field(default=None, repr=False, compare=False)
    #: Positions as the parse cache stores them, turned into :class:`Positions` on
    #: first use (most runs never look one up: only a problem or a shown rule does).
    _stored_marks: Any = field(default=None, repr=False, compare=False)
    #: The stored node marks as a dict of (line, column) pairs (see :meth:`node_mark`).
    _stored_nodes: dict[NodePath, tuple[int, int]] | None = field(
        default=None, repr=False, compare=False
    )

    def positions(self) -> Positions:
        """Where every node stands (indexed once from the parser's events, then cached)."""
        recorded = self.recorded_positions()
        if recorded is not None and recorded.depth is None:
            return recorded
        if self._indexed is None:
            self._indexed = _index_positions(self._text_to_index())
            if recorded is None:
                self._positions = self._indexed
        return self._indexed

    def _text_to_index(self) -> str:
        text = self.text
        if self.is_json and "\\u" in text:
            # YAML refuses surrogate escapes, which JSON writes characters past
            # U+FFFF with (a pair): index a copy where each is an escape of the
            # same length YAML accepts (positions only; the data is read already).
            text = SURROGATE_ESCAPE.sub(lambda m: m.group(1) + "u0058", text)
        if self.is_json and ("\u2028" in text or "\u0085" in text or "\u2029" in text):
            # NEL, LS and PS break lines for YAML, not in JSON (where they can only
            # stand inside strings): every line after one was reported one too far.
            # (`in` first: far cheaper than the substitution on the common text.)
            text = _JSON_NOT_BREAKS.sub("X", text)
        return text

    def locate_many(self, requests: Sequence[tuple[NodePath, bool]]) -> list[Mark]:
        """:func:`locate` of each ``(loc, key)`` of ``requests``.

        When nothing is indexed yet, the text is indexed only as far as the last
        node asked for (the first errors of a flood are near the top of a large
        file): exactly what the full index would give for each of them.
        """
        if (
            self._indexed is None
            and self._positions is None
            and self._stored_marks is None
            and requests
        ):
            wanted = {loc for loc, _ in requests}
            partial = _index_positions(self._text_to_index(), wanted)
            if wanted:  # not all found: it ran to the end, it is the full index
                self._indexed = self._positions = partial
            return [_locate_in(partial, loc, key) for loc, key in requests]
        return [locate(self, loc, key=key) for loc, key in requests]

    def node_mark(self, path: NodePath) -> Mark | None:
        """Where the node at ``path`` starts, if it is indexed (see :meth:`node_marks`)."""
        return self.node_marks((path,))[0]

    def node_marks(self, paths: Sequence[NodePath]) -> list[Mark | None]:
        """Where the node at each of ``paths`` starts (``None`` where none is indexed).

        The same answers as ``positions().nodes.get(path)``, but when the parse
        cache kept the positions, without turning every stored pair into a
        :class:`Mark` (200,000 of them for a 10,000-rule policy, when a run asks
        for the lines of its rules only): one look-up per path.
        """
        stored = self._stored_marks
        if self._positions is None and stored is not None:
            limit = _stored_depth(stored)
            if limit is None or all(len(p) <= limit for p in paths):
                raw = self._stored_nodes
                if raw is None:
                    raw = self._stored_nodes = dict(stored[0])
                get, make = raw.get, Mark._make
                return [None if (pair := get(p)) is None else make(pair) for p in paths]
        recorded = self.recorded_positions()
        return [
            recorded.nodes.get(p)
            if recorded is not None and recorded.covers(p)
            else self.positions().nodes.get(p)
            for p in paths
        ]

    def stored_marks(self) -> Any:
        """The recorded positions as the parse cache stores them (``None`` if none were).

        What a cached or prefetched parse hands back beside the data.
        """
        if self._positions is None:
            return self._stored_marks
        return _marks_form(self._positions)

    def recorded_positions(self) -> Positions | None:
        """The positions recorded while parsing (or kept by the parse cache), if any.

        Unlike :meth:`positions`, never indexes the text: ``None`` when the file
        was read without ``positions=True`` and nothing has indexed it since.
        """
        stored = self._stored_marks
        if self._positions is None and stored is not None:
            # marshal gives tuples back as tuples: the paths need no conversion.
            make = Mark._make
            nodes = self._stored_nodes if self._stored_nodes is not None else stored[0]
            items = nodes.items() if isinstance(nodes, dict) else nodes
            self._positions = Positions(
                {k: make(v) for k, v in items},
                {k: make(v) for k, v in stored[1]},
                _stored_depth(stored),
            )
            self._stored_marks = self._stored_nodes = None
        return self._positions


def _stored_depth(stored: Any) -> int | None:
    """The depth of positions as the parse cache keeps them: (nodes, keys[, depth])."""
    return stored[2] if len(stored) > 2 else None


def _marks_form(pos: Positions) -> tuple[Any, ...]:
    """Positions as the parse cache stores them: plain tuples, which marshal carries."""
    return (
        [(k, (m.line, m.column)) for k, m in pos.nodes.items()],
        [(k, (m.line, m.column)) for k, m in pos.keys.items()],
        pos.depth,
    )
