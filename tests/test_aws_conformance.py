"""Conformance of the AWS import on dumps adapted from Batfish (issue 28, "Conformance").

Each case of tests/aws/batfish/ (Apache-2.0, see its README) is read by the
``describe-*`` reader, compiled, loaded as ``ztsim import aws`` does, and judged
by the engine's ``reach --all-ports``.  Two ways of checking it:

- expectations written by hand from AWS's documented semantics (the comments
  say why), for the two small cases;
- the naive evaluator (tests/aws_reference.py) on every ordered pair of hosts,
  from the internet to every host and from every host to outside blocks, for
  TCP and UDP at every port bound the dump names: equal where the hosts have one
  address each; where an instance has several interfaces, ztsim (one host, any of
  its addresses per check) may allow more, never less.

``python tests/test_aws_conformance.py`` prints the agreement count.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import pytest
from aws_reference import Reference

from ztsim.engine.connectivity import reach_map
from ztsim.inputs.aws.compile import policy_document, publish_exposed, topology_document
from ztsim.inputs.aws.compile_index import EstateIndex
from ztsim.inputs.aws.describe import read_describe
from ztsim.inputs.aws.importer import _as_manifests
from ztsim.inputs.aws.objects import Estate
from ztsim.inputs.k8s.importer import imported_from_drafts

CASES_DIR = Path(__file__).resolve().parent / "aws" / "batfish"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
OUTSIDE = ["8.8.8.0/24", "0.0.0.0/0", "10.0.0.0/16", "38.140.26.0/24"]

Spans = dict[tuple[str, str], list[tuple[str, int, int]]]


def judge(case: str) -> tuple[Estate, Spans]:
    """``case`` read, compiled, loaded and reached (every port)."""
    estate = read_describe([CASES_DIR / case])
    index = EstateIndex(estate)
    topo = publish_exposed(topology_document(estate, case, index))
    topo.document["external"] = [{"id": f"probe:{b}", "cidr": b} for b in OUTSIDE]
    policy = policy_document(estate, topo, case, index)
    imported = imported_from_drafts(_as_manifests(estate), topo, policy, case)
    spans = {
        (c.source, c.target): [(r.proto, r.low, r.high) for r in c.allowed.services]
        for c in reach_map(imported.topology, imported.policy, all_ports=True).connections()
    }
    return estate, spans


def allows(spans: Spans, src: str, dst: str, proto: str, port: int) -> bool:
    """The engine allows ``src`` to open ``port/proto`` on ``dst``."""
    return any(p == proto and lo <= port <= hi for p, lo, hi in spans.get((src, dst), []))


# -- by hand --------------------------------------------------------------------------

#: (case, source, destination, protocol, port, allowed), each from AWS's documentation.
EXPECTED = [
    # public-subnet: one instance with a public address, in a subnet whose table
    # routes 0.0.0.0/0 to the VPC's internet gateway; its group admits 22/tcp from
    # 0.0.0.0/0; the ACL allows everything both ways.
    ("public-subnet", "internet", "i-06669a407b2ef3ae5", "tcp", 22, True),
    ("public-subnet", "internet", "i-06669a407b2ef3ae5", "tcp", 80, False),  # no SG rule
    ("public-subnet", "internet", "i-06669a407b2ef3ae5", "udp", 22, False),
    # Egress: the group allows all out, the route leads to the gateway, and the
    # instance has a public address; the VPC's own block goes by the local route.
    ("public-subnet", "i-06669a407b2ef3ae5", "probe:8.8.8.0/24", "tcp", 443, True),
    ("public-subnet", "i-06669a407b2ef3ae5", "probe:8.8.8.0/24", "udp", 53, True),
    ("public-subnet", "i-06669a407b2ef3ae5", "probe:10.0.0.0/16", "tcp", 443, False),
    # public-private-subnet: i-094... in the public subnet (public address, route to
    # the gateway); i-099... in the private one (no public address; its main table
    # routes 0.0.0.0/0 to a virtual private gateway).  Both groups admit 22/tcp from
    # 0.0.0.0/0 (which holds the other's private address) and allow all out.
    ("public-private-subnet", "internet", "i-094a9e5b545a4fde4", "tcp", 22, True),
    ("public-private-subnet", "internet", "i-094a9e5b545a4fde4", "tcp", 443, False),
    # A rule open to 0.0.0.0/0 on a host without a public address: not from outside.
    ("public-private-subnet", "internet", "i-099cf38911942421c", "tcp", 22, False),
    ("public-private-subnet", "i-094a9e5b545a4fde4", "i-099cf38911942421c", "tcp", 22, True),
    ("public-private-subnet", "i-099cf38911942421c", "i-094a9e5b545a4fde4", "tcp", 22, True),
    ("public-private-subnet", "i-094a9e5b545a4fde4", "i-099cf38911942421c", "tcp", 80, False),
    ("public-private-subnet", "i-099cf38911942421c", "i-094a9e5b545a4fde4", "udp", 22, False),
    ("public-private-subnet", "i-094a9e5b545a4fde4", "probe:8.8.8.0/24", "tcp", 443, True),
    # The private subnet's way out is a VPN gateway: ztsim does not follow it and
    # takes it as a way out (conservative, docs/aws.md).
    ("public-private-subnet", "i-099cf38911942421c", "probe:8.8.8.0/24", "tcp", 443, True),
]


@pytest.mark.parametrize("case", sorted({e[0] for e in EXPECTED}))
def test_expected_by_hand(case: str) -> None:
    _, spans = judge(case)
    wrong = [e for e in EXPECTED if e[0] == case and allows(spans, e[1], e[2], e[3], e[4]) != e[5]]
    assert wrong == []


# -- against the reference ------------------------------------------------------------


def compare(case: str) -> tuple[int, list[str]]:
    """Probes made, and each disagreement with the reference (a multi-interface
    host may be allowed more by ztsim: only less is a disagreement for it)."""
    estate, spans = judge(case)
    ref = Reference(estate)
    multi = {i.id for i in estate.instances if len(i.interfaces) > 1}
    hosts = sorted(ref.hosts)
    ports = sorted(ref.port_bounds())
    probes, wrong = 0, []

    def check(what: str, got: bool, want: bool, loose: bool) -> None:
        nonlocal probes
        probes += 1
        if got != want and not (loose and got and not want):
            wrong.append(f"{case}: {what}: engine {got}, reference {want}")

    for proto in ("tcp", "udp"):
        for port in ports:
            for a in hosts:
                for b in hosts:
                    if a != b:
                        got = allows(spans, a, b, proto, port)
                        want = ref.host_to_host(a, b, proto, port)
                        check(f"{a} -> {b} {port}/{proto}", got, want, bool({a, b} & multi))
                for block in OUTSIDE:
                    got = allows(spans, a, f"probe:{block}", proto, port)
                    want = ref.host_to_outside(a, ipaddress.ip_network(block), proto, port)
                    check(f"{a} -> {block} {port}/{proto}", got, want, a in multi)
                got = allows(spans, "internet", a, proto, port)
                want = ref.internet_to_host(a, proto, port, each_layer=True)
                check(f"internet -> {a} {port}/{proto}", got, want, a in multi)
    return probes, wrong


@pytest.mark.parametrize("case", CASES)
def test_agrees_with_the_reference(case: str) -> None:
    probes, wrong = compare(case)
    assert probes > 0
    assert wrong == []


def main() -> int:
    """Print the agreement count over every case."""
    total, bad = 0, []
    for case in CASES:
        probes, wrong = compare(case)
        total += probes
        bad += wrong
    for line in bad:
        print(line)
    print(f"{len(CASES) - len({w.split(':')[0] for w in bad})}/{len(CASES)} cases agree "
          f"({total:,} probes)")  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
