"""``ztsim schema``: the JSON Schema of topology, policy and assertions files.

Generated from the pydantic models (``model_json_schema(by_alias=True)``), with
keys sorted so the output is stable, for editors: save it and add
``# yaml-language-server: $schema=PATH`` at the top of a YAML file.  A few fields
the loader accepts in a shorter form than the model stores (``to: any``, ``host:
web-1`` for ``[web-1]``, ``zone: dmz`` for ``[dmz]``, ``services: 443/tcp``) are
widened so the schema never rejects a file that ``ztsim validate`` accepts.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from ztsim.cli.common import add_command
from ztsim.cli.exitcodes import ExitCode

ORDER = 60

DIALECT = "https://json-schema.org/draft/2020-12/schema"
KINDS = ("topology", "policy", "assertions")

_ANY_SELECTOR = {"type": "string", "pattern": "^\\s*([Aa][Nn][Yy]|\\*)\\s*$"}


def _widen(schema: dict[str, Any]) -> dict[str, Any]:
    """Accept the short forms the loader's validators accept (see module docstring)."""
    defs: dict[str, Any] = schema.get("$defs", {})
    sel = defs.get("Selector")
    if sel is not None:
        props = sel["properties"]
        props["host"]["anyOf"].insert(0, {"type": "string", "minLength": 1})
        props["zone"]["anyOf"].insert(0, {"type": "string", "minLength": 1, "maxLength": 200})
        defs["Selector"] = {"anyOf": [sel, _ANY_SELECTOR]}  # a blank (null) is an error
        for key in ("description", "title"):
            if key in sel:
                defs["Selector"][key] = sel[key]
    for name, fields in (("SegmentationRule", ("services",)), ("EgressRule", ("services", "to"))):
        rule = defs.get(name)
        if rule is None:
            continue
        for f in fields:
            prop = rule["properties"][f]
            if "anyOf" in prop:
                prop["anyOf"].insert(0, {"type": "string"})
            else:
                rule["properties"][f] = {"anyOf": [{"type": "string"}, prop]}
    return schema


def json_schema(kind: str | None = None) -> dict[str, Any]:
    """The JSON Schema of one kind of file, or of any ztsim file (``kind`` None)."""
    from ztsim.inputs.assertions import AssertionSet
    from ztsim.model.schema import Policy, Topology

    models: dict[str, Any] = {"topology": Topology, "policy": Policy, "assertions": AssertionSet}
    if kind is None:
        union = Annotated[Topology | Policy | AssertionSet, Field(discriminator="kind")]
        schema = TypeAdapter(union).json_schema(by_alias=True)
        schema["title"] = "ztsim file (topology, policy or assertions)"
    else:
        schema = models[kind].model_json_schema(by_alias=True)
    schema = _widen(schema)
    schema["$schema"] = DIALECT
    return schema


def run(args: argparse.Namespace) -> int:
    """Print the schema as indented JSON with sorted keys."""
    text = json.dumps(json_schema(args.kind), indent=2, sort_keys=True, ensure_ascii=False)
    sys.stdout.write(text + "\n")
    return ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``schema`` to the parser."""
    p = add_command(
        sub,
        "schema",
        "Print the JSON Schema of topology, policy or assertions files (for editors: "
        "# yaml-language-server: $schema=FILE).",
        "ztsim schema assertions > schemas/assertions.schema.json",
    )
    p.add_argument(
        "kind",
        nargs="?",
        choices=KINDS,
        metavar="{topology,policy,assertions}",
        help="which kind of file (default: any of the three, told apart by `kind`)",
    )
    p.set_defaults(func=run)
