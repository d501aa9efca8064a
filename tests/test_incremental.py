"""Re-parsing only the edited item (ztsim.perf.incremental) against a full parse.

Whatever the edit, :func:`patch_document` must either decline (``None``) or give
exactly what parsing the whole new text gives: the same data and the same
recorded positions.  When the new text does not parse, it must decline.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ztsim.inputs.documents import parse_text
from ztsim.inputs.positions import Document, YamlInputError
from ztsim.perf.incremental import patch_document

ROOT = Path(__file__).resolve().parent.parent
POLICY = (ROOT / "policies" / "segmented.yaml").read_text(encoding="utf-8")
BLOCK = """\
ztsim: 1
kind: policy
name: block
segmentation:
  default: deny
  rules:
    - id: r1
      action: allow
      from: {zone: a}
      to:
        zone: b
        labels: {app: web}
      services: [443/tcp, 80/tcp]
    # a comment between rules
    - id: r2
      action: deny
      from:
        host: [h1, h2]
    - id: r3
      action: allow
egress:
  default: deny
  rules:
    - {id: e1, action: allow, to: ["*.example"], services: [443/tcp]}
    - {id: e2, action: deny, to: [c2.example]}
"""

FRAGMENTS = [
    "      action: deny",
    "      action: allow",
    "    - id: new",
    "      description: added",
    "        labels: {tier: db}",
    "      services: [22/tcp]",
    "  # comment",
    "",
    "- x",
    "   bad: [",
    "      id: r1",
    "      x: &a 1",
    "\tindented: tab",
    "      note: |",
    "        block text",
]


def _full(text: str) -> Document | None:
    try:
        return parse_text(text, "p.yaml", positions=True)
    except YamlInputError:
        return None


def _check(old_text: str, new_text: str) -> bool:
    """Assert the patch agrees with a full parse; return whether it patched."""
    old = parse_text(old_text, "p.yaml", positions=True)
    patched = patch_document(old, new_text)
    full = _full(new_text)
    if patched is None:
        return False
    assert full is not None, "patched a text that does not parse"
    assert patched.data == full.data
    assert patched._positions == full._positions
    assert patched.text == new_text
    return True


@st.composite
def edits(draw: st.DrawFn, base: str) -> str:
    lines = base.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 2))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["replace", "insert", "delete", "tweak", "flip", "flip"]))
        frag = draw(st.sampled_from(FRAGMENTS)) + "\n"
        if op == "replace":
            lines[i] = frag
        elif op == "insert":
            lines.insert(i, frag)
        elif op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "flip":  # the architect's edit: a rule's action or a port
            for a, b in (("allow", "deny"), ("deny", "allow"), ("443/tcp", "8443/tcp")):
                if a in lines[i]:
                    lines[i] = lines[i].replace(a, b, 1)
                    break
        else:
            old = lines[i]
            j = draw(st.integers(0, max(0, len(old) - 2)))
            ch = draw(st.sampled_from(["x", "1", " ", ":", "-", "{", "}", "#", '"']))
            lines[i] = old[:j] + ch + old[j + 1 :]
    return "".join(lines)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_patch_agrees_with_full_parse(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from([BLOCK, POLICY]))
    event(f"patched: {_check(base, data.draw(edits(base)))}")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    - id: r1\n      action: allow", "    - id: r1\n      action: deny"),
        ("      from:\n        host: [h1, h2]", "      from:\n        host: [h1, h3, h4]"),
        ("      services: [443/tcp, 80/tcp]\n", "      services: [443/tcp]\n      x: 1\n"),
        ("{id: e2, action: deny, to: [c2.example]}", "{id: e2, action: allow, to: [c2.x]}"),
    ],
)
def test_one_rule_edits_are_patched(old: str, new: str) -> None:
    """Edits inside one rule are handled locally (and agree with a full parse)."""
    assert old in BLOCK
    assert _check(BLOCK, BLOCK.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    - id: r3\n", "    - id: r3\n    - id: r4\n"),  # a new item
        ("    - id: r2\n", "    - id: r2\n  other: 1\n"),  # a dedent: not one item
        ("  default: deny\n  rules:", "  default: allow\n  rules:"),  # not in an item
        ("      action: deny\n", "      action: &a deny\n"),  # anchors: full parse
        ("      action: deny\n", "      action: [deny\n"),  # broken: full parse reports it
    ],
)
def test_other_edits_are_declined(old: str, new: str) -> None:
    assert old in BLOCK
    assert not _check(BLOCK, BLOCK.replace(old, new, 1))


def test_a_rule_of_a_large_policy_is_patched_quickly() -> None:
    """Patching one rule of a 5,000-rule policy gives the full parse's document."""
    rules = "".join(
        f"    - id: r{i}\n      action: allow\n      from: {{zone: z{i % 7}}}\n"
        f"      to: {{labels: {{app: a{i}}}}}\n      services: [443/tcp]\n"
        for i in range(5000)
    )
    text = f"ztsim: 1\nkind: policy\nname: big\nsegmentation:\n  rules:\n{rules}"
    new = text.replace(
        "    - id: r2500\n      action: allow", "    - id: r2500\n      action: deny"
    )
    assert _check(text, new)
