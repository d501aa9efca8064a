"""The loader's fast paths against their plain definitions.

Validation of a large topology walks its hosts once (:func:`ztsim.inputs.checks.check_topology`
builds the host tables as it checks them), answers "does this selector match any
host" from the hosts' (zone, label set) groups (:class:`ztsim.inputs.loaded.HostGroups`),
and reads label values in pydantic-core (:data:`ztsim.model.fields.LabelText`).  Each is
checked here against the obvious definition on random inputs, and the messages of
bad label values against the ones a plain string field gives.
"""

from __future__ import annotations

import random

import pytest
import yaml

from ztsim.engine.fixpoint import goal_facts
from ztsim.inputs.checks import _selector_matches_any, policy_warnings
from ztsim.inputs.loaded import HostGroups, HostTables
from ztsim.inputs.loader import policy_from_text, topology_from_text
from ztsim.model.diagnostics import InputError
from ztsim.model.fields import LABEL_TEXT_MESSAGE
from ztsim.model.schema import Host
from ztsim.model.selectors import Selector

HEADER = "ztsim: 1\nkind: topology\nname: t\n"
ZONES = (
    "zones:\n  - {id: internet, external: true}\n  - {id: lan}\n  - {id: dmz}\n  - {id: empty}\n"
)
PHEADER = "ztsim: 1\nkind: policy\nname: p\n"

LABELS = {"tier": ("web", "db", "app"), "env": ("prod", "dev"), "pci": ("in-scope",)}


def _random_topology(rng: random.Random, n: int) -> str:
    lines = [HEADER, ZONES, "hosts:\n"]
    for i in range(n):
        keys = rng.sample(sorted(LABELS), rng.randint(0, len(LABELS)))
        labels = ", ".join(f"{k}: {rng.choice(LABELS[k])}" for k in keys)
        zone = rng.choice(("lan", "dmz"))
        lines.append(f"  - {{id: h{i}, zone: {zone}, labels: {{{labels}}}}}\n")
    return "".join(lines)


def _random_selector(rng: random.Random, n: int) -> Selector:
    data: dict[str, object] = {}
    if rng.random() < 0.5:
        data["zone"] = rng.choice(("lan", "dmz", "empty", "internet"))
    elif rng.random() < 0.3:  # a zone list: any of them (spec §3)
        data["zone"] = rng.sample(("lan", "dmz", "empty", "internet"), rng.randint(1, 3))
    if rng.random() < 0.3:
        data["host"] = [f"h{rng.randrange(n + 2)}" for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.7:
        keys = rng.sample(sorted(LABELS), rng.randint(1, len(LABELS)))
        data["labels"] = {k: rng.choice((*LABELS[k], "other")) for k in keys}
    return Selector.model_validate(data)


def _plain_match(sel: Selector, hosts: list[Host], external: set[str]) -> bool:
    """What a selector matches, by definition: a host, or an external zone."""
    if sel.is_any:
        return True
    zones = sel.zone or ()
    if any(z in external for z in zones) and not sel.host and not sel.labels:
        return True
    return any(
        (sel.zone is None or h.zone in zones)
        and (not sel.host or h.id in sel.host)
        and all(h.labels.get(k) == v for k, v in (sel.labels or {}).items())
        for h in hosts
    )


@pytest.mark.parametrize("seed", range(8))
def test_selector_matches_any_is_the_plain_definition(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(0, 40)
    topo = topology_from_text(_random_topology(rng, n))
    hosts = list(topo.model.hosts)
    for _ in range(200):
        sel = _random_selector(rng, n)
        assert _selector_matches_any(sel, topo) == _plain_match(sel, hosts, {"internet"}), sel


def test_host_groups_index_distinct_zone_and_label_sets() -> None:
    topo = topology_from_text(
        HEADER
        + ZONES
        + "hosts:\n"
        + "  - {id: a, zone: lan, labels: {tier: web, env: prod}}\n"
        + "  - {id: b, zone: lan, labels: {env: prod, tier: web}}\n"  # same set, other order
        + "  - {id: c, zone: dmz, labels: {tier: web}}\n"
        + "  - {id: d, zone: dmz}\n"
    )
    groups = topo.host_groups
    assert groups.by_zone == {"lan": {0}, "dmz": {1, 2}}
    assert groups.by_label == {("tier", "web"): {0, 1}, ("env", "prod"): {0}}
    assert groups.any_match("lan", {"tier": "web", "env": "prod"})
    assert not groups.any_match("dmz", {"env": "prod"})
    assert groups.any_match(None, {})
    assert not groups.any_match("empty", {})
    assert not HostGroups.of_groups([]).any_match(None, {})


def test_host_tables_built_while_checking_are_the_plain_ones() -> None:
    rng = random.Random(1)
    text = _random_topology(rng, 30).replace(
        "  - {id: h3,", "  - {id: h3, data: [{id: d1}, {id: d2}],"
    )
    text = text.replace("  - {id: h7,", "  - {id: h7, data: [{id: d3}],")
    topo = topology_from_text(text)
    plain = HostTables.of(topo.model)
    assert list(topo.hosts.items()) == list(plain.hosts.items())
    assert list(topo.data.items()) == list(plain.data.items())
    assert list(topo.data) == ["d1", "d2", "d3"]


@pytest.mark.parametrize("seed", range(4))
def test_label_groups_are_the_plain_ones_one_object_per_value(seed: int) -> None:
    rng = random.Random(seed)
    text = _random_topology(rng, 60)
    # Hosts with the same labels written in another order share the group too.
    text += "  - {id: x1, zone: lan, labels: {tier: web, env: prod}}\n"
    text += "  - {id: x2, zone: lan, labels: {env: prod, tier: web}}\n"
    topo = topology_from_text(text)
    groups = topo.label_groups
    plain = {h.id: (h.zone, frozenset(h.labels.items())) for h in topo.model.hosts}
    assert groups == plain
    first: dict[object, object] = {}
    for group in groups.values():
        assert first.setdefault(group, group) is group  # equal groups: one object
    assert groups["x1"] is groups["x2"]


def test_goals_follow_the_data_items_in_file_order() -> None:
    topo = topology_from_text(
        HEADER
        + ZONES
        + "hosts:\n"
        + "  - {id: b, zone: lan, data: [{id: d2, integrity: true}, {id: d1}]}\n"
        + "  - {id: a, zone: lan}\n"
        + "  - {id: c, zone: dmz, data: [{id: d0, integrity: true}]}\n"
    )
    assert goal_facts(topo) == [
        ("exfil", "d2"),
        ("tamper", "d2"),
        ("exfil", "d1"),
        ("exfil", "d0"),
        ("tamper", "d0"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        "credentials:\n  - {id: lan}\n",
        "credentials:\n  - {id: x}\nhosts:\n  - {id: h, zone: lan, data: [{id: x}]}\n",
        "hosts:\n  - {id: x, zone: lan}\nexternal:\n  - {id: x, fqdn: a.example}\n",
        "external:\n  - {id: x, fqdn: a.example}\nentry_points:\n  - {id: x, zone: internet}\n",
        "hosts:\n  - {id: h, zone: lan, data: [{id: x}]}\nentry_points:\n  - {id: x, host: h}\n",
        "hosts:\n  - {id: h, zone: lan, data: [{id: x}]}\n"
        "  - {id: g, zone: lan, data: [{id: x}]}\n",
    ],
)
def test_an_id_declared_twice_across_lists_is_reported_at_the_second(body: str) -> None:
    text = HEADER + ZONES + body
    with pytest.raises(InputError) as info:
        topology_from_text(text)
    (diag,) = info.value.diagnostics
    assert diag.message.startswith("duplicate id "), diag
    lines = text.splitlines()
    ident = diag.message.split("'")[1]
    declared = [i + 1 for i, line in enumerate(lines) if f"id: {ident}" in line]
    assert diag.line == declared[-1]
    assert diag.message.endswith(f"(first declared at line {declared[0]})")


@pytest.mark.parametrize("value", ["null", "[a]", "{a: b}", "2020-01-01"])
def test_a_label_value_that_is_not_a_scalar_gets_the_string_error(value: str) -> None:
    text = HEADER + ZONES + f"hosts:\n  - {{id: h, zone: lan, labels: {{a: b, env: {value}}}}}\n"
    with pytest.raises(InputError) as info:
        topology_from_text(text)
    (diag,) = info.value.diagnostics
    assert diag.message == f"hosts.0.labels.env: {LABEL_TEXT_MESSAGE}"
    assert (diag.line, diag.column) == (10, text.splitlines()[9].index(value) + 1)


def test_a_selector_label_value_that_is_not_a_scalar_gets_the_string_error() -> None:
    text = PHEADER + "segmentation:\n  rules:\n    - {id: r, action: allow, to: {labels: {a: ~}}}\n"
    with pytest.raises(InputError) as info:
        policy_from_text(text)
    (diag,) = info.value.diagnostics
    assert diag.message == f"segmentation.rules.0.to.labels.a: {LABEL_TEXT_MESSAGE}"


def test_scalar_label_values_are_errors() -> None:
    text = HEADER + ZONES + "hosts:\n  - {id: h, zone: lan, labels: {pci: true, n: 1}}\n"
    with pytest.raises(InputError) as info:
        topology_from_text(text)
    assert [d.message for d in info.value.diagnostics] == [
        f"hosts.0.labels.{k}: {LABEL_TEXT_MESSAGE}" for k in ("pci", "n")
    ]
    # Quoted, they are text and match as written.
    topo = topology_from_text(text.replace("pci: true", "pci: 'true'").replace("n: 1", "n: '1'"))
    pol = policy_from_text(
        PHEADER + "segmentation:\n  rules:\n"
        "    - {id: r, action: allow, from: {labels: {pci: 'true', n: '1'}},"
        " to: {labels: {n: '2'}}}\n"
    )
    (warning,) = policy_warnings(pol, topo)
    assert warning.message == "selector `n=2` matches nothing in topology 't'"


def _shared_topology(n: int, bad: str | None = None) -> str:
    """``n`` hosts listing the same services, logins and stores (and one ``bad`` item)."""
    lines = [HEADER, ZONES, "credentials:\n  - {id: c1}\n  - {id: c2}\n", "hosts:\n"]
    for i in range(n):
        svc = "[{service: 22/tcp, encrypted: true}, {service: 443/tcp, public: true}]"
        if bad is not None and i % 100 == 7:
            svc = f"[{{service: 22/tcp, encrypted: true}}, {bad}]"
        login = "[{credential: c1, service: 22/tcp}]" if i % 2 else "[]"
        lines.append(
            f"  - {{id: h{i}, zone: lan, labels: {{tier: web}}, services: {svc}, "
            f"logins: {login}, credentials: [{{credential: c{1 + i % 2}}}], "
            f"vulnerabilities: [{{id: CVE-1, service: 443/tcp}}]}}\n"
        )
    return "".join(lines)


def test_shared_host_parts_give_the_models_plain_validation_gives() -> None:
    from ztsim.inputs.documents import parse_text
    from ztsim.model.schema import Topology
    from ztsim.perf.dedupe import MIN_ITEMS, shared_host_parts

    data = parse_text(_shared_topology(MIN_ITEMS + 10)).data
    ready = shared_host_parts(data)
    assert ready is not None  # the parse shared the hosts' lists: the shortcut is taken
    fast, plain = Topology.model_validate(ready), Topology.model_validate(data)
    assert fast == plain
    assert fast.hosts[1].logins[0] is fast.hosts[3].logins[0]  # validated once
    assert fast.hosts[0].credentials != fast.hosts[1].credentials
    assert fast.hosts[1].labels is fast.hosts[2].labels  # Labels, shared


@pytest.mark.parametrize(
    ("odd", "valid"),
    [
        ("{id: a.b@c/d+e:f, zone: lan, description: web server}", True),
        ("{id: bare, zone: lan}", True),
        ("{id: nolabels, zone: lan, labels: {}, services: [], logins: []}", True),
        ("{id: d, zone: lan, data: [{id: d1, records: 3}]}", True),
        ('{id: "nl\\n", zone: lan}', True),  # the pattern allows one newline at the end
        (f"{{id: h, zone: {'z' * 201}}}", False),
        ("{id: h, zone: ''}", False),
        (f"{{id: {'i' * 201}, zone: lan}}", False),
        ("{id: -h, zone: lan}", False),
        ("{id: 7, zone: lan}", False),
        ("{id: h, zone: lan, services: null}", False),
        ("{id: h, zone: lan, labels: null}", False),
        ("{id: h, zone: lan, description: 5}", False),
        ("{id: h, zone: lan, colour: red}", False),
    ],
)
def test_hosts_built_without_pydantic_are_the_ones_pydantic_builds(odd: str, valid: bool) -> None:
    from pydantic import ValidationError

    from ztsim.inputs.documents import parse_text
    from ztsim.model.schema import Topology
    from ztsim.perf.dedupe import MIN_ITEMS, shared_host_parts

    data = parse_text(_shared_topology(MIN_ITEMS + 10) + f"  - {odd}\n").data
    ready = shared_host_parts(data)
    assert isinstance(ready, dict)
    assert sum(type(h) is Host for h in ready["hosts"]) >= MIN_ITEMS  # built here
    if not valid:
        assert type(ready["hosts"][-1]) is dict  # left to pydantic, which refuses it
        with pytest.raises(ValidationError):
            Topology.model_validate(ready)
        with pytest.raises(ValidationError):
            Topology.model_validate(data)
        return
    fast, plain = Topology.model_validate(ready), Topology.model_validate(data)
    assert fast == plain
    for a, b in zip(fast.hosts, plain.hosts, strict=True):
        assert list(a.__dict__.items()) == list(b.__dict__.items())  # fields in order
        assert a.model_fields_set == b.model_fields_set
        assert (a.__pydantic_extra__, a.__pydantic_private__) == (None, None)
        assert repr(a) == repr(b) and a.model_dump() == b.model_dump()


def test_the_lists_keys_found_while_sharing_are_those_of_the_hosts() -> None:
    # shared_host_parts hands the check each plain host's lists_key; a wrong key
    # would merge hosts whose lists differ (their checks and their shapes).
    from ztsim.inputs.documents import parse_text
    from ztsim.model.schema import lists_key
    from ztsim.perf.dedupe import MIN_ITEMS, PlainKeys, shared_host_parts

    text = _shared_topology(MIN_ITEMS + 10) + "  - {id: d, zone: lan, data: [{id: d1}]}\n"
    found: PlainKeys = []
    ready = shared_host_parts(parse_text(text).data, found)
    assert isinstance(ready, dict) and len(found) == len(ready["hosts"])
    assert found[-1] is None  # a host with data is left to pydantic
    plain = [(e, built) for e, built in zip(found, ready["hosts"], strict=True) if e is not None]
    assert len(plain) >= MIN_ITEMS
    for (h, key), built in plain:
        assert h is built and key == lists_key(h)
    loaded = topology_from_text(text)
    assert loaded.lists_keys == [lists_key(h) for h in loaded.model.hosts]
    assert len(set(loaded.lists_keys)) < len(loaded.lists_keys)  # hosts share lists


def test_hosts_keep_their_shared_lists() -> None:
    from ztsim.model.fields import SharedList
    from ztsim.perf.dedupe import MIN_ITEMS

    hosts = topology_from_text(_shared_topology(MIN_ITEMS + 10)).model.hosts
    assert type(hosts[1].logins) is SharedList and hosts[1].logins is hosts[3].logins
    assert hosts[1].services is hosts[2].services and hosts[0].logins == []
    # A list that is not a SharedList is validated, item by item, as always.
    plain = Host.model_validate({"id": "h", "zone": "lan", "services": [{"service": "22/tcp"}]})
    assert type(plain.services) is list and plain.services[0].service == "22/tcp"


@pytest.mark.parametrize(
    ("login", "message"),
    [
        ("{credential: nope, service: 22/tcp}", "unknown credential 'nope'"),
        ("{credential: c1, service: 8080/tcp}", "login names service 8080/tcp, which host"),
    ],
)
def test_a_bad_shared_list_is_reported_at_every_host_that_lists_it(
    login: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ztsim.perf.dedupe import MIN_ITEMS

    monkeypatch.setattr("ztsim.inputs.collector.MAX_LISTED", 10_000)  # list them all

    n = MIN_ITEMS + 300
    text = _shared_topology(n).replace(
        "logins: [{credential: c1, service: 22/tcp}]", f"logins: [{login}]"
    )
    with pytest.raises(InputError) as err:
        topology_from_text(text)
    assert all(message in d.message for d in err.value.diagnostics)
    lines = sorted(d.line for d in err.value.diagnostics)
    assert lines == [13 + i for i in range(n) if i % 2]  # each host listing it, at its line


def test_model_indices_of_shared_lists_are_the_plain_ones() -> None:
    import json

    from ztsim.engine.attack import AttackModel
    from ztsim.inputs.loaded import LoadedTopology
    from ztsim.model.schema import Topology
    from ztsim.perf.dedupe import MIN_ITEMS

    text = _shared_topology(MIN_ITEMS + 10).replace(
        "vulnerabilities: [{id: CVE-1, service: 443/tcp}]",
        "vulnerabilities: [{id: CVE-1, service: 443/tcp}, {id: CVE-2, local: true, gives: root}]",
    )
    shared = AttackModel(topology_from_text(text))
    data = json.loads(json.dumps(yaml.safe_load(text)))  # every list its own
    plain = AttackModel(LoadedTopology(Topology.model_validate(data), "<plain>"))
    for name in ("vulns", "logins", "local_vulns", "stores", "signatures", "own_targets"):
        got, want = getattr(shared, name), getattr(plain, name)
        assert {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in got.items()} == {
            k: list(v) if isinstance(v, (list, tuple)) else v for k, v in want.items()
        }, name
    assert shared.targets == plain.targets
    assert dict(shared.logins_by_cred) == dict(plain.logins_by_cred)


def test_label_groups_of_shared_labels_are_the_plain_ones() -> None:
    from ztsim.inputs.loaded import LoadedTopology
    from ztsim.model.fields import Labels
    from ztsim.model.schema import Topology
    from ztsim.perf.dedupe import MIN_ITEMS

    rng = random.Random(3)
    text = _random_topology(rng, MIN_ITEMS * 2)
    topo = topology_from_text(text)
    assert type(topo.model.hosts[0].labels) is Labels
    plain = LoadedTopology(Topology.model_validate(yaml.safe_load(text)), "<plain>")
    assert type(plain.model.hosts[0].labels) is dict
    assert topo.label_groups == plain.label_groups


def test_shared_host_parts_are_skipped_when_nothing_is_shared() -> None:
    import json

    from ztsim.inputs.documents import parse_text
    from ztsim.perf.dedupe import MIN_ITEMS, shared_host_parts

    data = parse_text(_shared_topology(MIN_ITEMS + 10)).data
    unshared = json.loads(json.dumps(data))  # JSON input: every object its own
    assert shared_host_parts(unshared) is None
    assert shared_host_parts(parse_text(_shared_topology(10)).data) is None  # small


@pytest.mark.parametrize("bad", ["{service: 99999/tcp}", "{service: 1/tcp, public: 1}", "7"])
def test_a_bad_shared_item_is_reported_at_every_host_that_lists_it(bad: str) -> None:
    from ztsim.perf.dedupe import MIN_ITEMS

    n = MIN_ITEMS + 300
    with pytest.raises(InputError) as err:
        topology_from_text(_shared_topology(n, bad))
    lines = sorted(d.line for d in err.value.diagnostics)
    # Each host listing it is reported, at its own line (12 lines come before the hosts).
    assert lines == [13 + i for i in range(n) if i % 100 == 7]


def _shared_policy(n: int, bad: str | None = None) -> str:
    """``n`` rules repeating a few selectors (and one ``bad`` one every 100 rules)."""
    froms = ("{zone: lan}", "{labels: {tier: web}}", "any", "{host: h1}", "{zone: lan}")
    lines = [PHEADER, "segmentation:\n  default: deny\n  rules:\n"]
    for i in range(n):
        to = bad if bad is not None and i % 100 == 7 else "{labels: {tier: db, env: prod}}"
        lines.append(
            f"    - {{id: r{i}, action: allow, from: {froms[i % 5]}, to: {to}, "
            f"services: [22/tcp]}}\n"
        )
    lines.append("egress:\n  rules:\n")
    lines.extend(f"    - {{id: e{i}, action: deny, from: {froms[i % 3]}}}\n" for i in range(n))
    return "".join(lines)


def test_shared_rule_parts_give_the_models_plain_validation_gives() -> None:
    from ztsim.inputs.documents import parse_text
    from ztsim.model.schema import Policy
    from ztsim.perf.dedupe import MIN_ITEMS, shared_rule_parts

    data = parse_text(_shared_policy(MIN_ITEMS + 10)).data
    ready = shared_rule_parts(data)
    assert ready is not None
    fast, plain = Policy.model_validate(ready), Policy.model_validate(data)
    assert fast == plain
    rules = fast.segmentation.rules
    # The first of equal selectors holds scalars seen for the first time: it stays apart.
    assert rules[5].source is rules[10].source and rules[1].to is rules[2].to
    assert fast.egress.rules[2].source.is_any and rules[2].source.is_any
    assert shared_rule_parts(parse_text(_shared_policy(10)).data) is None  # small


@pytest.mark.parametrize("bad", ["{zone: 7}", "{host: []}", "{labels: {a: [1]}}", "[lan]"])
def test_a_bad_shared_selector_is_reported_at_every_rule_that_lists_it(bad: str) -> None:
    from ztsim.perf.dedupe import MIN_ITEMS

    n = MIN_ITEMS + 300
    with pytest.raises(InputError) as err:
        policy_from_text(_shared_policy(n, bad))
    lines = sorted({d.line for d in err.value.diagnostics})
    assert lines == [7 + i for i in range(n) if i % 100 == 7]  # 6 lines before the rules
