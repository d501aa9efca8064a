"""A draft as YAML text: the files ``ztsim import k8s`` writes (layer ``inputs``).

Containers (the document, its sections, layers and tiers) are written in block
style; every item of a list (a zone, a host, a rule) on one line in flow style,
as the shipped files write them (``- {id: x, action: deny, from: {zone: web}}``),
with a comment above it naming the Kubernetes object it comes from and that
object's FILE:LINE.  Hand-written rather than PyYAML's dumper: an estate of
10,000 workloads is written in a fraction of the dumper's time, and the bytes
are ours to keep stable.  ``yaml.safe_load`` of the text gives the document back
exactly (a property test holds it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ztsim.inputs.k8s.drafts import Provenance

__all__ = ["draft_yaml", "flow"]

#: A string written without quotes: words that start with a letter, a digit or
#: ``_./``, hold no character YAML gives a meaning in flow context, and are parted
#: by single spaces.  Strings YAML would read
#: as something else (numbers, booleans, null, dates) are quoted by :func:`_scalar`.
_PLAIN = re.compile(
    r"(?:[A-Za-z_./][A-Za-z0-9_./@+-]*|[0-9][A-Za-z0-9_./@+-]*)(?: [A-Za-z0-9_./@+-]+)*"
)
#: What YAML 1.1 (PyYAML) reads as a boolean or null, whatever the case.
_RESERVED = frozenset(["y", "yes", "n", "no", "true", "false", "on", "off", "null", "~"])
#: Looks like a number, a date or a sexagesimal to YAML 1.1: quoted.
_NUMBERISH = re.compile(
    r"[-+]?[0-9._]+(?:e[-+]?[0-9]+)?|0x[0-9a-f_]+|0b[01_]+|[0-9]{4}-[0-9]{2}-[0-9]{2}.*|\.inf|\.nan"
)
#: A character JSON leaves raw that YAML refuses or reads as a line break.
_UNPRINTABLE = re.compile(
    r"[^ -~\u00a0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


#: Keys whose value is written in block style (containers of the items listed).
_BLOCK_KEYS = frozenset({"segmentation", "egress", "controls", "layers", "tiers"})


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return _text(str(value))


@lru_cache(maxsize=1 << 16)
def _text(text: str) -> str:
    # Memoised: an import writes the same ids, labels and services many times over.
    if (
        _PLAIN.fullmatch(text)
        and text.lower() not in _RESERVED
        and not _NUMBERISH.fullmatch(text.lower())
    ):
        return text
    return _UNPRINTABLE.sub(_escape, json.dumps(text, ensure_ascii=False))


def flow(value: object) -> str:
    """``value`` (plain data) as one line of YAML flow style."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return _scalar(value)


def _comment(item: object, provenance: Mapping[str, Provenance]) -> str | None:
    if not isinstance(item, Mapping):
        return None
    ident = item.get("id")
    prov = provenance.get(ident) if isinstance(ident, str) else None
    if prov is None:
        return None
    # One line, whatever the names hold: a line break would end the comment.
    text = f"{prov.name} ({prov.source})"
    return _UNPRINTABLE.sub(_escape, text)


class _Out(list[str]):
    """The lines written, and (when asked) the provenance of the item each is in."""

    def __init__(self, origins: list[Provenance | None] | None) -> None:
        super().__init__()
        self.origins = origins
        self.current: Provenance | None = None

    def line(self, text: str) -> None:
        self.append(text)
        if self.origins is not None:
            self.origins.append(self.current)


def _block(
    out: _Out, data: Mapping[str, Any], indent: str, provenance: Mapping[str, Provenance]
) -> None:
    for key, value in data.items():
        name = _scalar(key)
        if isinstance(value, Mapping) and value and key in _BLOCK_KEYS:
            out.line(f"{indent}{name}:")
            _block(out, value, indent + "  ", provenance)
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            out.line(f"{indent}{name}:")
            outer = out.current
            for item in value:
                ident = item.get("id")
                out.current = provenance.get(ident, outer) if isinstance(ident, str) else outer
                note = _comment(item, provenance)
                if note is not None:
                    out.line(f"{indent}  # {note}")
                if any(k in _BLOCK_KEYS or k == "rules" for k in item):
                    # A layer or a tier: its own rules listed below it.
                    first, *rest = list(item.items())
                    out.line(f"{indent}  - {_scalar(first[0])}: {flow(first[1])}")
                    _block(out, dict(rest), indent + "    ", provenance)
                else:
                    out.line(f"{indent}  - {flow(item)}")
            out.current = outer
        else:
            out.line(f"{indent}{name}: {flow(value)}")


def draft_yaml(
    document: Mapping[str, Any],
    provenance: Mapping[str, Provenance],
    header: Sequence[str] = (),
    *,
    origins: list[Provenance | None] | None = None,
) -> str:
    """The document as YAML text, each listed item under a comment naming its source.

    ``header`` lines come first, as comments.  ``origins``, if given, is filled
    with one entry per line written: the provenance of the item the line is in
    (``None`` outside any).  Deterministic: the same document gives the same bytes.
    """
    out = _Out(origins)
    for line in header:
        out.line(f"# {line}" if line else "#")
    _block(out, document, "", provenance)
    return "\n".join(out) + "\n"
