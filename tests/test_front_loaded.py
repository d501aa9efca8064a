"""The topology's label pair counts, read off its host groups, are the plain count.

:attr:`~ztsim.inputs.loaded.LoadedTopology.label_pair_counts` takes the number of
distinct groups under each pair from :attr:`~ztsim.inputs.loaded.LoadedTopology.host_groups`
(one pass over the groups for both); :func:`~ztsim.inputs.loaded.label_pair_counts`
counts them on its own.  These must agree, on an estate where groups repeat and
share label objects, and on hosts with no labels at all.
"""

from __future__ import annotations

from ztsim.inputs.loaded import label_pair_counts
from ztsim.inputs.loader import topology_from_text


def _estate(n: int) -> str:
    lines = [
        "ztsim: 1\nkind: topology\nname: counts\n",
        "zones:\n  - {id: internet, external: true}\n  - {id: a}\n  - {id: b}\nhosts:\n",
    ]
    for i in range(n):
        labels = "" if i % 11 == 0 else f"    labels: {{tier: t{i % 3}, app: p{i % 7}}}\n"
        if i % 13 == 0:
            labels = f"    labels: {{tier: t{i % 3}, env: e{i % 2}, app: p{i % 5}}}\n"
        lines.append(f"  - id: h{i}\n    zone: {'a' if i % 2 else 'b'}\n{labels}")
    return "".join(lines)


def test_pair_counts_are_those_of_the_plain_count() -> None:
    for n in (1, 40, 600):
        topo = topology_from_text(_estate(n))
        plain = label_pair_counts(topo.label_groups.values())
        assert topo.label_pair_counts == plain
        assert sum(plain.values()) == sum(
            len(labels) for _, labels in set(topo.label_groups.values())
        )
