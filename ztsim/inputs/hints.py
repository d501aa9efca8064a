"""Hints that teach: the closest known name, a service written without its protocol,
and YAML's syntax errors in plain words.

Every message of an input error says what is wrong; these add what to write
instead, when it can be told with confidence:

- :class:`Suggester` finds the known name closest to an unknown one (an unknown key,
  zone, host, credential...) with the standard library's
  :func:`difflib.get_close_matches`, and suggests it only when it is close enough
  (:data:`CUTOFF`) and closer than any other (a tie suggests nothing);
- :func:`port_hint` says how to write a bare port (``5432``) as ``PORT/PROTO``;
- :func:`yaml_syntax_hint` puts one plain sentence on top of the YAML parser's
  message (libyaml's words are about tokens and indicators, not about indentation).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from types import UnionType
from typing import Annotated, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = [
    "BUDGET",
    "CUTOFF",
    "Suggester",
    "did_you_mean",
    "keys_at",
    "port_hint",
    "yaml_syntax_hint",
]

#: How similar (``difflib``'s ratio, 0 to 1, compared without case) a known name
#: must be to be suggested: ``difflib``'s own default.  ``wbe`` -> ``web`` (0.67)
#: and ``servce`` -> ``service`` (0.92) are suggested; ``db`` -> ``dmz`` (0.4) is not.
CUTOFF = 0.6

#: Known names one :class:`Suggester` compares at most, over all its look-ups
#: (each look-up compares every known name): a policy naming hundreds of hosts of
#: another topology against an estate of 50,000 hosts stays a bounded cost.  Past
#: it, nothing more is suggested (the same input gives the same hints).
BUDGET = 200_000


class Suggester:
    """The closest of a set of known names to an unknown one, for "did you mean".

    >>> s = Suggester(["web", "payroll-db", "internet"])
    >>> s.hint("wbe"), s.hint("Internet"), s.hint("db"), s.hint("zz")
    (" (did you mean 'web'?)", " (did you mean 'internet'?)", '', '')

    A tie between two known names suggests neither (it would be a guess):

    >>> Suggester(["api-01", "api-02"]).hint("api")
    ''
    """

    def __init__(self, known: Iterable[str], budget: int = BUDGET) -> None:
        self._known = known
        self._lower: dict[str, str] | None = None  # built on the first look-up
        self._cache: dict[str, str | None] = {}
        self._budget = budget

    def closest(self, name: object) -> str | None:
        """The known name closest to ``name``, or ``None`` (none close, a tie, or
        the budget spent)."""
        if not isinstance(name, str) or not name:
            return None
        if name in self._cache:
            return self._cache[name]
        if self._lower is None:
            lower: dict[str, str] = {}
            for k in sorted(str(k) for k in self._known):
                lower.setdefault(k.lower(), k)
            self._lower = lower
        found: str | None = None
        if len(self._lower) <= self._budget:
            self._budget -= len(self._lower)
            found = _closest(name.lower(), self._lower)
        self._cache[name] = found
        return found

    def hint(self, name: object) -> str:
        """``" (did you mean 'NAME'?)"`` for the closest known name, or ``""``."""
        found = self.closest(name)
        return "" if found is None or found == name else f" (did you mean {found!r}?)"


def _closest(word: str, lower: dict[str, str]) -> str | None:
    """The one known name (``lower``: lowercased -> as declared) closest to ``word``."""
    got = difflib.get_close_matches(word, lower, n=2, cutoff=CUTOFF)
    if not got:
        return None
    if len(got) == 2:
        best, second = (difflib.SequenceMatcher(None, word, g).ratio() for g in got)
        if best == second:
            return None
    return lower[got[0]]


def did_you_mean(name: object, known: Iterable[str]) -> str:
    """``" (did you mean 'NAME'?)"`` for the known name closest to ``name``, or ``""``.

    >>> did_you_mean("servce", ["service", "name", "public", "encrypted"])
    " (did you mean 'service'?)"
    """
    return Suggester(known).hint(name)


#: A port written without its protocol, perhaps reversed (``tcp/443``) or with a colon.
_BARE_PORT = re.compile(r"\s*([0-9]{1,5})\s*")
_SWAPPED = re.compile(r"\s*(tcp|udp|sctp)\s*[/:]\s*([0-9]{1,5})\s*", re.IGNORECASE)
_COLON = re.compile(r"\s*([0-9]{1,5})\s*:\s*(tcp|udp|sctp)\s*", re.IGNORECASE)


def port_hint(value: object) -> str:
    """What to write instead of a service missing ``/PROTO`` (or written backwards),
    as ``": write 5432/tcp (or 5432/udp)"``; ``""`` when there is nothing to say.

    The same for ``5432`` that YAML read as a number and ``"5432"`` in quotes:

    >>> port_hint(5432), port_hint("5432")
    (': write 5432/tcp (or 5432/udp)', ': write 5432/tcp (or 5432/udp)')
    >>> port_hint("tcp/443"), port_hint("53:udp"), port_hint(True), port_hint(70000)
    (': write 443/tcp', ': write 53/udp', '', '')
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        return ""
    text = str(value)
    if m := _BARE_PORT.fullmatch(text):
        port = int(m.group(1))
        return f": write {port}/tcp (or {port}/udp)" if port <= 65535 else ""
    if m := _SWAPPED.fullmatch(text):
        return f": write {int(m.group(2))}/{m.group(1).lower()}"
    if m := _COLON.fullmatch(text):
        return f": write {int(m.group(1))}/{m.group(2).lower()}"
    return ""


#: libyaml's problems (a part of the message) and the plain sentence put on top.
_YAML_SENTENCES: tuple[tuple[str, str], ...] = (
    (
        "expected '-' indicator",
        "this line is not lined up with the list items above it (each item starts "
        "with `- ` at the same indentation): check its indentation",
    ),
    (
        "did not find expected key",
        "this line is not lined up with the keys above it (the keys of one mapping "
        "start at the same column): check its indentation and the line before",
    ),
    (
        "mapping values are not allowed",
        "a `key: value` stands where a plain value was expected: usually this line is "
        "indented deeper than the key above it, or a value holding `: ` needs quotes",
    ),
    (
        "expected <block end>",
        "this line is indented more or less than the lines around it: check its indentation",
    ),
    (
        "could not find expected ':'",
        "a key has no `:` after it (or a plain value runs over several lines): check "
        "this line and the one before",
    ),
    (
        "did not find expected ',' or ']'",
        "a `[...]` list written on one line is not closed, or lacks a comma between items",
    ),
    (
        "did not find expected ',' or '}'",
        "a `{...}` mapping written on one line is not closed, or lacks a comma between items",
    ),
    (
        "found undefined alias",
        "a `*name` alias refers to no `&name` anchor above it (quote the value if the `*` is text)",
    ),
)


def yaml_syntax_hint(problem: str, line_text: str | None = None, context: str = "") -> str | None:
    """One plain sentence for YAML syntax ``problem`` (libyaml's words), or ``None``.

    ``line_text``: the text of the line the parser stopped at, which tells a tab
    used for indentation from another character that cannot start a token;
    ``context``: the parser's context (``while scanning a quoted scalar``).

    >>> yaml_syntax_hint("did not find expected '-' indicator")[:40]
    'this line is not lined up with the list '
    >>> yaml_syntax_hint("found character that cannot start any token", "\\tzone: dmz")
    'YAML does not accept tabs for indentation: indent with spaces'
    >>> yaml_syntax_hint("something else") is None
    True
    """
    if "cannot start any token" in problem and line_text is not None and "\t" in line_text:
        return "YAML does not accept tabs for indentation: indent with spaces"
    if "unexpected end of stream" in problem and "quoted" in context:
        return "the file ends inside a quoted value: a quote is not closed"
    for part, sentence in _YAML_SENTENCES:
        if part in problem:
            return sentence
    return None


# --------------------------------------------------------------------------- schema keys


def keys_at(model: object, loc: Sequence[str | int]) -> list[str]:
    """The keys the schema ``model`` accepts in the mapping at ``loc`` (a place as
    pydantic names it: keys, indexes, perhaps union tags), sorted; ``[]`` when none
    is known there.

    >>> from ztsim.model.schema import Topology
    >>> keys_at(Topology, ("hosts", 0, "services", 3))
    ['encrypted', 'name', 'public', 'service']
    """
    types: list[object] = [model]
    for step in loc:
        found = [t for m in types for t in _children(m, step)]
        if found:  # a step naming nothing (pydantic's union tags) is passed over
            types = found
    keys: set[str] = set()
    for t in types:
        for m in _members(t):
            if isinstance(m, type) and issubclass(m, BaseModel):
                keys.update(k for n, f in m.model_fields.items() for k in (f.alias or n,))
    return sorted(keys)


def _members(annotation: object) -> list[object]:
    """The types ``annotation`` stands for: ``Annotated`` unwrapped, unions flattened."""
    if get_origin(annotation) is Annotated:
        return _members(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return [m for a in get_args(annotation) for m in _members(a)]
    return [annotation]


def _children(annotation: object, step: str | int) -> list[object]:
    """The types of what ``step`` names inside a value of ``annotation``."""
    out: list[object] = []
    for m in _members(annotation):
        origin = get_origin(m)
        if isinstance(step, int):
            if origin is list:
                out.append(get_args(m)[0])
        elif isinstance(m, type) and issubclass(m, BaseModel):
            for name, f in m.model_fields.items():
                if step in (name, f.alias):
                    out.append(f.annotation)
        elif origin is dict:
            out.append(get_args(m)[1])
    return out
