"""What :func:`ztsim.perf.dedupe.shared_host_parts` gives on a heterogeneous estate.

Most services, logins, stores, vulnerabilities and label mappings there occur
once or a few times.  These tests hold the shortcut to plain validation on such
data: the same models in the same places, every part a model (one per parsed
object) before pydantic sees the hosts, any invalid part still detected, and the
label groups the engine reads from the shared labels the plain ones.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from ztsim.inputs.documents import parse_text
from ztsim.model.fields import Labels, SharedList
from ztsim.model.schema import CredentialStore, HostService, Login, Topology, Vulnerability
from ztsim.perf.dedupe import MIN_ITEMS, shared_host_parts

_PART_MODELS: dict[str, type[BaseModel]] = {
    "services": HostService,
    "logins": Login,
    "credentials": CredentialStore,
    "vulnerabilities": Vulnerability,
}


def _mixed_topology(n: int, odd: str = "") -> str:
    """``n`` hosts: services shared by many, logins, stores, vulnerabilities and
    labels mostly their own (a few shared), in the generator's flow style; ``odd``
    replaces the last host's vulnerability list."""
    lines = [
        "ztsim: 1\nkind: topology\nname: mixed\n",
        "zones:\n  - {id: internet, external: true}\n  - {id: lan}\n  - {id: dmz}\n",
        "credentials:\n" + "".join(f"  - {{id: c{i}}}\n" for i in range(n)),
        "hosts:\n",
    ]
    for i in range(n):
        vulns = (
            f"[{{id: CVE-{i}, service: 443/tcp, gives: root}}, "
            f"{{id: CVE-L{i % 3}, local: true, gives: root}}]"
        )
        if odd and i == n - 1:
            vulns = odd
        lines.append(
            f"  - id: h{i}\n"
            f"    zone: {'lan' if i % 2 else 'dmz'}\n"
            f"    labels: {{tier: t{i % 4}, app: a{i % 7}, n: '{i % 5}'}}\n"
            f"    services: [{{service: 443/tcp, public: {'true' if i % 3 else 'false'}}}, "
            f"{{service: 22/tcp}}]\n"
            f"    logins: [{{credential: c{i}, service: 22/tcp, gives: root}}]\n"
            f"    credentials: [{{credential: c{(i + 1) % n}, requires: user}}]\n"
            f"    vulnerabilities: {vulns}\n"
        )
    return "".join(lines)


def test_shared_parts_are_the_models_plain_validation_gives() -> None:
    data = parse_text(_mixed_topology(MIN_ITEMS + 40)).data
    ready = shared_host_parts(data)
    assert isinstance(ready, dict)
    for h in ready["hosts"]:
        # Models (and Labels) already, before pydantic sees the host: a list left
        # as read would be validated again by pydantic, equal but for nothing.
        host = h if isinstance(h, dict) else h.__dict__
        assert type(host["labels"]) is Labels and host["labels"]
        for name, model in _PART_MODELS.items():
            assert type(host[name]) is SharedList
            assert all(type(x) is model for x in host[name])
    fast, plain = Topology.model_validate(ready), Topology.model_validate(data)
    assert fast == plain
    for a, b in zip(fast.hosts, plain.hosts, strict=True):
        assert list(a.labels.items()) == list(b.labels.items())  # in order
        assert a.model_dump() == b.model_dump() and repr(a) == repr(b)
    # One model per parsed object (by identity), shared by every list that holds it.
    for name in _PART_MODELS:
        model_of: dict[int, object] = {}
        for parsed, host in zip(data["hosts"], fast.hosts, strict=True):
            for x, v in zip(parsed[name], getattr(host, name), strict=True):
                assert model_of.setdefault(id(x), v) is v
        assert len({id(v) for v in model_of.values()}) == len(model_of)
        if name == "services":
            assert len(model_of) < len(fast.hosts)  # shared as read


@pytest.mark.parametrize(
    "odd",
    [
        "[{id: CVE-x, service: 443/tcp, gives: nobody}]",
        "[{id: CVE-x, service: bogus}]",
        "[7]",
        "[{id: CVE-x, local: true, gives: root, colour: red}]",
    ],
)
def test_one_invalid_part_among_many_is_detected(odd: str) -> None:
    # The caller validates the data as read on any error; it needs only to know.
    data = parse_text(_mixed_topology(MIN_ITEMS + 40, odd)).data
    with pytest.raises(ValidationError):
        Topology.model_validate(data)
    with pytest.raises(ValidationError):
        shared_host_parts(data)


def test_invalid_labels_are_detected() -> None:
    text = _mixed_topology(MIN_ITEMS + 40).replace("n: '3'}", "n: 3}", 1)
    data = parse_text(text).data
    with pytest.raises(ValidationError):
        Topology.model_validate(data)
    with pytest.raises(ValidationError):
        shared_host_parts(data)


def test_label_groups_of_a_mixed_estate_are_the_plain_ones() -> None:
    from ztsim.inputs.loader import topology_from_text

    topo = topology_from_text(_mixed_topology(MIN_ITEMS + 40))
    groups = topo.label_groups
    first: dict[object, dict[str, str]] = {}  # each group's first host's labels
    for h in topo.model.hosts:
        group = groups[h.id]
        assert group == (h.zone, frozenset(h.labels.items()))
        # Each group's set iterates as the set of the first host with it would:
        # what reads it in order (reports) reads what it read before.
        labels = first.setdefault(group, h.labels)
        assert list(group[1]) == list(frozenset(labels.items()))
    assert len({id(g) for g in groups.values()}) == len(first)  # equal groups: one object
