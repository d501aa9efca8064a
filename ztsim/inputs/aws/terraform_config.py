"""What a Terraform plan's ``configuration`` says beyond the values: references and files.

A plan knows a value only once it is applied when it comes from a resource not
created yet (a new security group's id, say).  The plan's ``configuration``
section still says *which* resource it comes from (an expression's
``references``: ``["aws_security_group.app.id", "aws_security_group.app"]``), so
:class:`Configuration` gives, for a resource and one of its attributes, the
addresses its value refers to.  It also finds where each resource is declared in
the ``.tf`` files next to the plan (``resource "aws_security_group" "app" {``), so
a verdict names the file a person edits, when those files are there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ztsim.inputs.aws.objects import Source
from ztsim.inputs.guards import read_bytes
from ztsim.inputs.positions import YamlInputError

__all__ = ["Configuration", "config_key", "split_reference"]

#: ``[0]`` or ``["a"]`` at the end of a resource instance's address.
_INDEX = re.compile(r"\[[^\]]*\]$")
#: ``module.NAME`` or ``module.NAME[KEY]``, the module part of an address.
_MODULE_PART = re.compile(r"module\.[A-Za-z0-9_-]+(?:\[[^\]]*\])?\.")
#: A resource declaration in HCL: ``resource "TYPE" "NAME" {``.
_DECLARATION = re.compile(r'^[ \t]*resource[ \t]+"([A-Za-z0-9_-]+)"[ \t]+"([A-Za-z0-9_-]+)"', re.M)
#: A reference to a managed resource: ``TYPE.NAME``, an optional ``[KEY]``, an attribute.
_REFERENCE = re.compile(
    r"^(?P<resource>aws_[A-Za-z0-9_]+\.[A-Za-z0-9_-]+)(?P<index>\[[^\]]*\])?(?:\.(?P<attr>\w+))?"
)


def config_key(address: str) -> str:
    """The configuration's key of a resource instance: its module path (without
    instance keys) and ``TYPE.NAME`` (without its own).

    >>> config_key('module.net["a"].aws_subnet.private[2]')
    'module.net.aws_subnet.private'
    """
    modules = [_INDEX.sub("", m.group()[:-1]) for m in _MODULE_PART.finditer(address)]
    rest = _MODULE_PART.sub("", address)
    return ".".join([*modules, _INDEX.sub("", rest)])


def module_prefix(address: str) -> str:
    """The module part of an address, instance keys kept (``module.net[0].``), or ``""``."""
    return "".join(m.group() for m in _MODULE_PART.finditer(address))


def split_reference(reference: str) -> tuple[str, str | None, str | None] | None:
    """A reference to a managed AWS resource as (``TYPE.NAME``, ``[KEY]`` or ``None``,
    attribute or ``None``); ``None`` for anything else (``var.x``, ``data.y.z``,
    ``module.m.out``, ``each.value``).

    >>> split_reference("aws_security_group.app[0].id")
    ('aws_security_group.app', '[0]', 'id')
    >>> split_reference("var.office_cidr") is None
    True
    """
    m = _REFERENCE.match(reference)
    if m is None:
        return None
    return m.group("resource"), m.group("index"), m.group("attr")


class Configuration:
    """The ``configuration`` section of a plan: each resource's expressions, by
    :func:`config_key`, and where the ``.tf`` files declare it (when found).

    ``folder``: the folder of the plan file; its ``.tf`` files (and those of the
    local modules it calls, ``source = "./modules/net"``) are searched for the
    resources' declarations.  ``None``: no file is read.
    """

    def __init__(self, data: Any, folder: Path | None) -> None:
        self.expressions: dict[str, dict[str, Any]] = {}
        self._dirs: dict[str, Path | None] = {}
        root = data.get("root_module") if isinstance(data, dict) else None
        self._walk(root, "", folder)
        self._declared: dict[str, Source] | None = None

    def _walk(self, module: Any, prefix: str, folder: Path | None) -> None:
        if not isinstance(module, dict):
            return
        self._dirs[prefix] = folder
        for res in module.get("resources") or ():
            if isinstance(res, dict) and res.get("mode", "managed") == "managed":
                address = res.get("address")
                expressions = res.get("expressions")
                if isinstance(address, str) and isinstance(expressions, dict):
                    self.expressions[prefix + address] = expressions
        calls = module.get("module_calls")
        for name, call in (calls or {}).items() if isinstance(calls, dict) else ():
            if not isinstance(call, dict):
                continue
            source = call.get("source")
            sub = None
            if folder is not None and isinstance(source, str) and source.startswith((".", "/")):
                sub = folder / source  # a local module: its files are there
            self._walk(call.get("module"), f"{prefix}module.{name}.", sub)

    def references(self, address: str, attribute: str, block: str | None = None) -> list[str]:
        """The references of resource ``address``'s ``attribute`` (of every ``block``
        of that name when given: ``ingress`` of a security group), each once, in
        order; relative to the resource's module.  Empty when the configuration
        does not say (a constant, a variable, no configuration)."""
        expressions = self.expressions.get(config_key(address)) or {}
        if block is not None:
            blocks = expressions.get(block)
            found = [b.get(attribute) for b in blocks or () if isinstance(b, dict)]
        else:
            found = [expressions.get(attribute)]
        out: list[str] = []
        for expr in found:
            refs = expr.get("references") if isinstance(expr, dict) else None
            out.extend(r for r in refs or () if isinstance(r, str) and r not in out)
        return out

    def declared(self, address: str) -> Source | None:
        """Where the ``.tf`` files declare resource ``address`` (its ``resource``
        line), if they were found and declare it once."""
        if self._declared is None:
            self._declared = dict(self._declarations())
        return self._declared.get(config_key(address))

    def _declarations(self) -> Iterator[tuple[str, Source]]:
        seen: dict[str, int] = {}
        found: list[tuple[str, Source]] = []
        for prefix, folder in sorted(self._dirs.items()):
            if folder is None or not folder.is_dir():
                continue
            for tf in sorted(folder.glob("*.tf")):
                try:
                    text = read_bytes(str(tf)).decode("utf-8", errors="replace")
                except (OSError, YamlInputError):
                    continue  # only a place for a message: an unreadable file gives none
                for m in _DECLARATION.finditer(text):
                    key = f"{prefix}{m.group(1)}.{m.group(2)}"
                    line = text.count("\n", 0, m.start()) + 1
                    indent = len(m.group()) - len(m.group().lstrip(" \t"))
                    seen[key] = seen.get(key, 0) + 1
                    found.append((key, Source(str(tf), line, indent + 1)))
        # A name declared twice (two folders, a copy) places nothing: no guess.
        return iter([(k, s) for k, s in found if seen[k] == 1])
