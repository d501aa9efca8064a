"""Shallow positions recorded by the fast builder are exactly the top of the full index.

The fast builder (:mod:`ztsim.perf.fastbuild`) does not call its recorder for the
events under a collection at the depth limit (most of a policy's events, inside its
rules); these tests hold what it records, at every depth, to the index walked from
the parser's events, and the data to ``yaml.safe_load``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ztsim.inputs.documents import parse_text
from ztsim.inputs.positions import _index_positions

ROOT = Path(__file__).resolve().parents[1]

#: Nested mappings and sequences, flow and block, keys at every depth, an alias.
NESTED = """\
ztsim: 1
kind: policy
name: nested
segmentation:
  default: deny
  rules:
    - {id: r0, action: allow, from: {labels: {tier: web}}, to: any, services: [80/tcp]}
    - id: r1
      action: deny
      from: {zone: [a, b]}
      to:
        host: [h1, h2]
      services:
        - 22/tcp
        - 443/tcp
    - &shared {id: r2, action: allow, from: any, to: {zone: c}}
  list_of_lists: [[1, [2, [3, {deep: {deeper: [4]}}]]]]
egress:
  rules: []
top: [x, {y: z}]
"""


def _texts() -> list[str]:
    shipped = sorted(ROOT.glob("policies/**/*.yaml"))[:4]
    return [NESTED, *(p.read_text(encoding="utf-8") for p in shipped)]


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4, 5, None])
@pytest.mark.parametrize("text", _texts(), ids=lambda t: str(len(t)))
def test_recorded_positions_are_the_index_cut_at_depth(text: str, depth: int | None) -> None:
    full = _index_positions(text)
    doc = parse_text(text, "p.yaml", positions=True, depth=depth)
    recorded = doc.recorded_positions()
    assert recorded is not None and recorded.depth == depth
    limit = depth if depth is not None else 10**9
    assert recorded.nodes == {k: m for k, m in full.nodes.items() if len(k) <= limit}
    assert recorded.keys == {k: m for k, m in full.keys.items() if len(k) <= limit}
    assert doc.data == yaml.safe_load(text)


def test_positions_do_not_change_the_data() -> None:
    """With or without positions, the same data, leaves shared alike."""
    plain = parse_text(NESTED, "p.yaml").data
    shallow = parse_text(NESTED, "p.yaml", positions=True, depth=3).data
    assert plain == shallow
    rules = shallow["segmentation"]["rules"]
    assert rules[2] is not rules[0]
