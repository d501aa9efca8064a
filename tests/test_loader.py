"""Loading: every kind of bad input is reported at FILE:LINE:COL of the offending node."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ztsim.inputs.documents
import ztsim.inputs.guards
from ztsim.cli.main import main
from ztsim.inputs.checks import policy_warnings
from ztsim.inputs.loader import (
    load_file,
    load_policies,
    load_policy,
    load_topology,
    policy_from_text,
    topology_from_text,
)
from ztsim.model.diagnostics import Diagnostic, InputError

ROOT = Path(__file__).resolve().parents[1]
HEADER = "ztsim: 1\nkind: topology\nname: t\n"
ZONES = "zones:\n  - id: internet\n    external: true\n  - id: lan\n"  # lines 4-7


def problems(
    tmp_path: Path, text: str, loader: Callable[[Path], Any] = load_topology, name: str = "t.yaml"
) -> list[Diagnostic]:
    """Write ``text`` to a file, load it, and return the diagnostics it raises."""
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        loader(f)
    diags = info.value.diagnostics
    assert all(d.path == str(f) for d in diags)
    assert str(info.value).startswith(f"{f}:")
    return diags


def pos(text: str, needle: str) -> tuple[int, int]:
    """1-based (line, column) of the ``^`` in ``needle``, which occurs once in ``text``."""
    bare = needle.replace("^", "")
    assert text.count(bare) == 1, f"{bare!r} must occur once"
    offset = text.index(bare) + needle.index("^")
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def unmark(marked: str) -> tuple[str, tuple[int, int]]:
    """Remove the single ``^`` of ``marked``; return the text and where the ``^`` stood."""
    assert marked.count("^") == 1
    offset = marked.index("^")
    line = marked.count("\n", 0, offset) + 1
    return marked.replace("^", ""), (line, offset - marked.rfind("\n", 0, offset))


def only(tmp_path: Path, text: str, **kw: Any) -> tuple[int, int, str]:
    """The single error of ``text``: (line, column, message)."""
    diags = problems(tmp_path, text, **kw)
    assert len(diags) == 1, [str(d) for d in diags]
    d = diags[0]
    assert d.level == "error"
    return d.line, d.column, d.message


# --------------------------------------------------------------------------- schema


def test_unknown_key_points_at_the_key(tmp_path: Path):
    """A typo is an error at the misspelt key, never silently ignored."""
    text = HEADER + "zones:\n  - id: internet\n    extrenal: true\n"
    line, col, msg = only(tmp_path, text)
    assert (line, col) == pos(text, "^extrenal") == (6, 5)
    assert "unknown key 'extrenal'" in msg


def test_unknown_key_in_a_policy_rule(tmp_path: Path):
    """Same in a policy: a misspelt ``action`` in a flow-style rule."""
    text = (
        "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
        "    - {id: r1, action: deny, form: {zone: lan}}\n"
    )
    line, col, msg = only(tmp_path, text, loader=load_policy)
    assert (line, col) == pos(text, "^form")
    assert "unknown key 'form'" in msg


def test_missing_key_points_at_the_mapping(tmp_path: Path):
    """A host without ``zone``: the error stands at the host's mapping."""
    text = HEADER + ZONES + "hosts:\n  - id: h\n    labels: {}\n"
    line, col, msg = only(tmp_path, text)
    assert (line, col) == pos(text, "  - ^id: h")
    assert "missing required key 'zone'" in msg


def test_missing_header_key(tmp_path: Path):
    """No ``kind``: the file's root."""
    line, col, msg = only(tmp_path, "ztsim: 1\nname: t\n")
    assert (line, col) == (1, 1)
    assert "kind" in msg


def test_wrong_format_version(tmp_path: Path):
    """``ztsim: 2`` is pointed at."""
    text = "ztsim: 2\nkind: topology\nname: t\n"
    line, col, msg = only(tmp_path, text)
    assert (line, col) == pos(text, "^2")
    assert "version" in msg


def test_wrong_kind_for_the_loader(tmp_path: Path):
    """A policy given where a topology is expected."""
    text = "ztsim: 1\nkind: policy\nname: p\n"
    line, col, msg = only(tmp_path, text)
    assert (line, col) == pos(text, "^policy")
    assert "expected a topology" in msg


@pytest.mark.parametrize(
    ("snippet", "words"),
    [("    external: yes please\n", "boolean"), ("    external: 1\n", "boolean")],
)
def test_wrong_type(tmp_path: Path, snippet: str, words: str):
    """A value of the wrong type is pointed at (strict booleans: no 1 for true)."""
    text = HEADER + "zones:\n  - id: internet\n" + snippet
    got = only(tmp_path, text)
    assert got[:2] == pos(text, "external: ^")
    assert words in got[2]


def test_wrong_type_list_instead_of_mapping(tmp_path: Path):
    """``labels`` must be a mapping."""
    text = HEADER + ZONES + "hosts:\n  - id: h\n    zone: lan\n    labels: [web]\n"
    line, col, msg = only(tmp_path, text)
    assert (line, col) == pos(text, "^[web]")
    assert "labels" in msg and "dictionary" in msg


def test_wrong_type_records(tmp_path: Path):
    """``records`` is a count."""
    text = (
        HEADER + ZONES + "hosts:\n  - id: h\n    zone: lan\n"
        "    data:\n      - {id: d, records: many}\n"
    )
    assert only(tmp_path, text)[:2] == pos(text, "^many")


@pytest.mark.parametrize(
    ("service", "words"),
    [
        ("44x/tcp", "not PORT/PROTO"),
        ("443", "not PORT/PROTO"),
        ("443/tpc", "not PORT/PROTO"),
        ("70000/tcp", "out of range"),
        ("8000-8999/tcp", "not PORT/PROTO"),  # ranges only in policy rules
    ],
)
def test_bad_service_syntax_in_topology(tmp_path: Path, service: str, words: str):
    """A host service that is not ``PORT/PROTO``, at the value."""
    text = (
        HEADER
        + ZONES
        + f'hosts:\n  - id: h\n    zone: lan\n    services:\n      - {{service: "{service}"}}\n'
    )
    line, col, msg = only(tmp_path, text)
    assert (line, col) == pos(text, '{service: ^"')
    assert words in msg


def test_bad_service_in_external_destination(tmp_path: Path):
    """External destination services are checked too."""
    text = HEADER + ZONES + "external:\n  - {id: bank, fqdn: api.bank.example, services: [https]}\n"
    line, col, msg = only(tmp_path, text)
    assert (line, col) in (pos(text, "^[https]"), pos(text, "[^https]"))  # list or item
    assert "not PORT/PROTO" in msg


@pytest.mark.parametrize(
    ("services", "words"),
    [
        ("[8000-7000/tcp]", "empty port range"),
        ("[http]", "not PORT/PROTO, LOW-HIGH/PROTO or any"),
        ("[1-70000/tcp]", "out of range"),
    ],
)
def test_bad_service_syntax_in_policy(tmp_path: Path, services: str, words: str):
    """Rule services: ``PORT/PROTO``, ``LOW-HIGH/PROTO`` or ``any``, else an error here."""
    text = (
        "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
        f"    - {{id: r1, action: allow, services: {services}}}\n"
    )
    line, col, msg = only(tmp_path, text, loader=load_policy)
    assert (line, col) in (pos(text, "^" + services), pos(text, "[^" + services[1:]))
    assert words in msg


def test_bad_fqdn_pattern(tmp_path: Path):
    """An egress pattern that is not a name, ``*.suffix`` or ``*``."""
    text = (
        "ztsim: 1\nkind: policy\nname: p\negress:\n  rules:\n"
        '    - {id: e1, action: allow, to: ["bad name"]}\n'
    )
    line, col, msg = only(tmp_path, text, loader=load_policy)
    assert (line, col) in (pos(text, '^["bad'), pos(text, '[^"bad'))
    assert "bad name" in msg


@pytest.mark.parametrize(
    ("marked", "value"),
    [
        ('zones:\n  - {id: internet, external: true}\n  - id: ^"bad zone"\n', "bad zone"),
        ("credentials:\n  - {id: ^-key}\n", "-key"),
        ('hosts:\n  - {id: ^"h\u00f4te", zone: lan}\n', "h\u00f4te"),
        ('hosts:\n  - {id: h, zone: lan, data: [{id: ^"a b"}]}\n', "a b"),
        ('external:\n  - {id: ^"c2!", fqdn: c2.example}\n', "c2!"),
        ('entry_points:\n  - {id: ^"\\nep", zone: internet}\n', "\nep"),
    ],
)
def test_invalid_declared_id(tmp_path: Path, marked: str, value: str):
    """A declared id outside the id alphabet: one error at the id, worded for people."""
    text, where = unmark(HEADER + ("" if marked.startswith("zones:") else ZONES) + marked)
    line, col, msg = only(tmp_path, text)
    assert (line, col) == where
    assert msg.endswith(f"invalid id {value!r}: use letters, digits and _ . : @ / + -")


def test_reference_ids_are_not_restricted_to_the_id_alphabet(tmp_path: Path):
    """Only declarations are checked against the alphabet; a reference is just unknown."""
    text = HEADER + ZONES + 'hosts:\n  - {id: h, zone: "no such zone"}\n'
    assert "unknown zone 'no such zone'" in only(tmp_path, text)[2]


def test_labels_must_be_text():
    """YAML numbers and booleans as label values (hosts and selectors) are errors:
    `on`, `1.10` or `017` read back as text would no longer be what was written."""
    with pytest.raises(InputError) as err:
        topology_from_text(
            HEADER
            + ZONES
            + "hosts:\n  - {id: h, zone: lan, labels: {pci: true, env: 1, v: 1.5, a: b}}\n"
        )
    assert [(d.column, d.message.split(":")[0]) for d in err.value.diagnostics] == [
        (38, "hosts.0.labels.pci"),
        (49, "hosts.0.labels.env"),
        (55, "hosts.0.labels.v"),
    ]
    assert "quote it" in err.value.diagnostics[0].message
    with pytest.raises(InputError, match=r"rules\.0\.from\.labels\.pci: a label value"):
        policy_from_text(
            "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
            "    - {id: r, action: allow, from: {host: h, labels: {pci: on}}, to: any}\n"
        )


def test_service_listed_twice(tmp_path: Path):
    """A host offering the same service twice: an error at each repeat."""
    text = (
        HEADER
        + ZONES
        + "hosts:\n  - id: h\n    zone: lan\n    services:\n"
        + "      - {service: 22/tcp}\n      - {service: 443/tcp}\n"
        + "      - {service: 22/TCP}\n      - {service: 22/tcp}\n"
    )
    diags = problems(tmp_path, text)
    assert [(d.line, d.column) for d in diags] == [
        pos(text, "{service: ^22/TCP}"),
        pos(text, "      - {service: 443/tcp}\n      - {service: 22/TCP}\n      - {service: ^22"),
    ]
    assert all(d.message == "service 22/tcp listed twice" for d in diags)


def test_probability_out_of_range(tmp_path: Path):
    """Detection probabilities lie in [0, 1]."""
    text = (
        "ztsim: 1\nkind: policy\nname: p\ncontrols:\n  detection:\n"
        "    - {id: d, techniques: [T1190], probability: 1.5}\n"
    )
    assert only(tmp_path, text, loader=load_policy)[:2] == pos(text, "^1.5")


# --------------------------------------------------------------------------- references


def test_duplicate_ids_across_lists(tmp_path: Path):
    """One id space per topology: a host named like a credential, data like a zone."""
    text = (
        HEADER
        + ZONES
        + "credentials:\n  - id: k\n"  # 8-9
        + "hosts:\n  - id: k\n    zone: lan\n"  # 10-12
        + "    data:\n      - {id: lan}\n"  # 13-14
        + "entry_points:\n  - {id: internet, zone: internet}\n"  # 15-16
    )
    diags = problems(tmp_path, text)
    got = sorted((d.line, d.column, d.message) for d in diags)
    assert [(line, col) for line, col, _ in got] == [
        pos(text, "  - id: ^k\n    zone"),
        pos(text, "{id: ^lan}"),
        pos(text, "{id: ^internet,"),
    ]
    assert "duplicate id 'k' (first declared at line 9)" in got[0][2]
    assert "duplicate id 'lan' (first declared at line 7)" in got[1][2]
    assert "duplicate id 'internet'" in got[2][2]


def test_duplicate_rule_ids_in_a_policy(tmp_path: Path):
    """Rule ids are unique within a policy."""
    text = (
        "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
        "    - {id: r, action: allow}\n    - {id: r, action: deny}\n"
    )
    line, col, msg = only(tmp_path, text, loader=load_policy)
    assert (line, col) == pos(text, "{id: ^r, action: deny")
    assert "first at line 6" in msg


def test_rule_ids_unique_across_sections(tmp_path: Path):
    """The same id for a segmentation rule and an egress rule is an error."""
    text = (
        "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
        "    - {id: r, action: allow}\negress:\n  rules:\n    - {id: r, action: deny}\n"
    )
    line, _col, msg = only(tmp_path, text, loader=load_policy)
    assert line == 9 and "'r'" in msg


# Each body marks the offending node with ^ (removed before loading).
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("hosts:\n  - {id: h, zone: ^dmz}\n", "unknown zone 'dmz'"),
        (
            "hosts:\n  - id: h\n    zone: lan\n    credentials: [{credential: ^nope}]\n",
            "unknown credential 'nope'",
        ),
        (
            "hosts:\n  - {id: h, zone: lan, services: [{service: 22/tcp}]}\n"
            "traffic:\n  - {from: h, to: ^ghost, service: 22/tcp}\n",
            "unknown destination 'ghost'",
        ),
        (
            "hosts:\n  - {id: h, zone: lan, services: [{service: 22/tcp}]}\n"
            "traffic:\n  - {from: ^nobody, to: h, service: 22/tcp}\n",
            "unknown source 'nobody'",
        ),
        (
            "hosts:\n  - {id: h, zone: lan, services: [{service: 22/tcp}]}\n"
            "traffic:\n  - {from: h, to: h, service: 22/tcp, credential: ^zz}\n",
            "unknown credential 'zz'",
        ),
        (
            "hosts:\n  - {id: h, zone: lan, services: [{service: 22/tcp}]}\n"
            "traffic:\n  - {from: ^lan, to: h, service: 22/tcp}\n",
            "internal",
        ),
        (
            "hosts:\n  - {id: h, zone: lan}\nentry_points:\n  - {id: e, host: ^ghost}\n",
            "unknown host 'ghost'",
        ),
        (
            "hosts:\n  - {id: h, zone: lan}\nentry_points:\n  - {id: e, zone: ^mars}\n",
            "unknown zone 'mars'",
        ),
        (
            "hosts:\n  - {id: h, zone: lan}\nentry_points:\n  - {id: e, zone: ^lan}\n",
            "internal",
        ),
        (
            "hosts:\n  - {id: h, zone: lan}\n"
            "entry_points:\n  - {id: e, zone: internet, credentials: [^nope]}\n",
            "unknown credential 'nope'",
        ),
        ("hosts:\n  - {id: h, zone: ^internet}\n", "external zones hold no hosts"),
    ],
)
def test_unknown_references(tmp_path: Path, body: str, words: str):
    """Every reference to an undeclared id is an error at the reference."""
    text, where = unmark(HEADER + ZONES + body)
    got = only(tmp_path, text)
    assert got[:2] == where
    assert words in got[2]


HOST_H = "hosts:\n  - id: h\n    zone: lan\n    services: [{service: 443/tcp}]\n"


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ("    vulnerabilities: [{id: V, service: ^22/tcp}]\n", "vulnerability"),
        ("    logins: [{credential: k, service: ^22/tcp}]\n", "login"),
        ("    data: [{id: d, requires: service, service: ^5432/tcp}]\n", "data item"),
        ("traffic:\n  - {from: h, to: h, service: ^25/tcp}\n", "traffic"),
        (
            "external:\n  - {id: bank, fqdn: api.bank.example}\n"
            "traffic:\n  - {from: h, to: bank, service: ^8443/tcp}\n",
            "destination 'bank' does not offer",
        ),
        (
            "external:\n  - {id: bank, fqdn: api.bank.example, services: [8443/tcp]}\n"
            "traffic:\n  - {from: h, to: bank, service: ^443/tcp}\n",
            "destination 'bank' does not offer",
        ),
    ],
)
def test_service_not_offered(tmp_path: Path, body: str, what: str):
    """A vulnerability, login, data item or flow naming a service the target lacks."""
    text, where = unmark(HEADER + ZONES + HOST_H + body + "credentials: [{id: k}]\n")
    got = only(tmp_path, text)
    assert got[:2] == where
    assert what in got[2] and "not offer" in got[2]


def test_several_reference_errors_reported_at_once(tmp_path: Path):
    """Two problems in one file: two diagnostics, sorted by position."""
    text = HEADER + ZONES + "hosts:\n  - {id: a, zone: dmz}\n  - {id: b, zone: wan}\n"
    diags = problems(tmp_path, text)
    assert [(d.line, d.column) for d in diags] == [pos(text, "^dmz"), pos(text, "^wan")]


def test_several_schema_errors_reported_at_once(tmp_path: Path):
    """Schema problems are all reported too, not just the first."""
    text = HEADER + "zones:\n  - id: internet\n    extrenal: true\n  - idd: lan\n"
    diags = problems(tmp_path, text)
    assert len(diags) >= 2
    assert (6, 5) in {(d.line, d.column) for d in diags}
    assert any(d.line == 7 for d in diags)


def test_errors_of_several_policy_files_reported_together(tmp_path: Path):
    """``load_policies`` collects the errors of every file."""
    (tmp_path / "a.yaml").write_text("ztsim: 1\nkind: policy\nname: a\nbogus: 1\n")
    (tmp_path / "b.yaml").write_text("ztsim: 1\nkind: policy\nname: b\negress: {default: x}\n")
    with pytest.raises(InputError) as info:
        load_policies([tmp_path])
    assert sorted((Path(d.path).name, d.line) for d in info.value.diagnostics) == [
        ("a.yaml", 4),
        ("b.yaml", 4),
    ]


# --------------------------------------------------------------------------- YAML level


def test_duplicate_yaml_keys(tmp_path: Path):
    """A key given twice in one mapping is an error at the second one."""
    text = HEADER + "zones:\n  - id: a\n    external: true\n    id: b\n"
    line, col, msg = only(tmp_path, text)
    assert (line, col) == pos(text, "^id: b")
    assert "duplicate key 'id' (first at line 5)" in msg


def test_duplicate_top_level_key(tmp_path: Path):
    """Also at the top level, e.g. two ``hosts:`` sections."""
    text = HEADER + ZONES + "hosts: []\nhosts: []\n"
    assert only(tmp_path, text)[:2] == pos(text, "[]\n^hosts")


def test_invalid_yaml_syntax(tmp_path: Path):
    """A syntax error is located by the parser."""
    text = HEADER + "zones:\n  - id: a\n   external: true\n"
    line, col, msg = only(tmp_path, text)
    assert (line, col) == pos(text, "   ^external")
    assert msg.startswith("invalid YAML")


def test_unclosed_flow_sequence(tmp_path: Path):
    """An unclosed ``[``."""
    text = HEADER + "zones: [{id: a, external: true}\n"
    line, _col, msg = only(tmp_path, text)
    assert line == 5
    assert "invalid YAML" in msg


def test_several_documents(tmp_path: Path):
    """One document per file: the second one is pointed at."""
    text = HEADER + ZONES + "---\nztsim: 1\n"
    line, col, msg = only(tmp_path, text)
    assert (line, col) == pos(text, "---\n^ztsim")
    assert "several YAML documents" in msg


def test_empty_file(tmp_path: Path):
    """An empty file is an error, not a crash."""
    assert "empty" in only(tmp_path, "")[2]


def test_not_a_mapping(tmp_path: Path):
    """A top-level list."""
    line, col, msg = only(tmp_path, "- a\n- b\n")
    assert (line, col) == (1, 1)
    assert "mapping" in msg


BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{c}: &{c} [{','.join(['*' + p] * 9)}]"
            for p, c in zip("abcdefghi", "bcdefghij", strict=True)
        ),
    ]
)


def test_alias_bomb_is_refused_fast(tmp_path: Path):
    """Billion laughs (9^10 nodes once expanded): a clear error, in well under a second."""
    start = time.perf_counter()
    line, col, msg = only(tmp_path, BILLION_LAUGHS + "\n")
    assert time.perf_counter() - start < 2.0
    assert "aliases are expanded" in msg
    # At the alias that takes the document past the limit (200,000 + 2 per character).
    assert (line, col) == (6, 11) and msg.startswith("alias *e stands for 66,430 nodes")


@pytest.mark.parametrize("text", ["zones: &z [*z]\n", "a: &a\n  b: *a\n"])
def test_recursive_alias(tmp_path: Path, text: str):
    """A node that contains itself is refused, not looped on."""
    assert "recursive alias" in only(tmp_path, HEADER + text)[2]


def test_huge_file_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Files above MAX_BYTES are refused before being read."""
    text = HEADER + ZONES
    monkeypatch.setattr(ztsim.inputs.guards, "MAX_BYTES", len(text) - 1)
    line, col, msg = only(tmp_path, text)
    assert (line, col) == (1, 1)
    assert "file too large" in msg and "ZTSIM_MAX_BYTES" in msg
    monkeypatch.setattr(ztsim.inputs.guards, "MAX_BYTES", len(text))
    (tmp_path / "ok.yaml").write_text(text)
    assert load_topology(tmp_path / "ok.yaml").name == "t"


def test_missing_file(tmp_path: Path):
    """A missing file is a diagnostic, not an exception trace."""
    with pytest.raises(InputError) as info:
        load_topology(tmp_path / "nope.yaml")
    assert "cannot read file" in str(info.value)


# --------------------------------------------------------------------------- JSON


def test_json_input_same_schema(tmp_path: Path):
    """A ``.json`` file with the same schema loads like its YAML twin."""
    doc = {
        "ztsim": 1,
        "kind": "topology",
        "name": "j",
        "zones": [{"id": "internet", "external": True}, {"id": "lan"}],
        "hosts": [{"id": "h", "zone": "lan", "services": [{"service": "22/tcp"}]}],
    }
    f = tmp_path / "t.json"
    f.write_text(json.dumps(doc, indent=1))
    t = load_topology(f)
    assert (t.name, sorted(t.hosts), sorted(t.external_zones)) == ("j", ["h"], ["internet"])
    assert isinstance(load_file(f), type(t))


def test_json_errors_are_located(tmp_path: Path):
    """Unknown keys in JSON point at the key; syntax errors at the parser's position."""
    text = (
        '{"ztsim": 1, "kind": "topology", "name": "t",\n'
        ' "zones": [{"id": "a", "external": false}],\n'
        ' "hosts": [{"id": "h", "zone": "a", "bogus": 1}]}\n'
    )
    line, col, msg = only(tmp_path, text, name="t.json")
    assert (line, col) == pos(text, '^"bogus"')
    assert "unknown key 'bogus'" in msg
    text = '{"ztsim": 1,\n "name": "t",,}\n'
    line, col, msg = only(tmp_path, text, name="t.json")
    assert (line, col) == pos(text, ",^,}")
    assert "invalid JSON" in msg


# --------------------------------------------------------------------------- warnings

WARN_TOPO = (
    HEADER + ZONES + "credentials: [{id: k}]\nhosts:\n  - {id: h, zone: lan, labels: {tier: web}}\n"
)

WARN_POLICY = """\
ztsim: 1
kind: policy
name: p
segmentation:
  rules:
    - {id: r1, action: allow, from: {zone: ghost}, to: {host: nobody}}
    - {id: r2, action: allow, from: {labels: {tier: nothing}}}
    - {id: r3, action: allow, from: {host: [h, missing]}}
    - {id: r4, action: allow, from: {zone: internet, labels: {tier: web}}}
egress:
  rules:
    - {id: e1, action: allow, from: {zone: lan, labels: {x: y}}}
controls:
  mfa: [k, unknown-cred]
  detection:
    - {id: d1, techniques: [T1190], where: {zone: nowhere}, probability: 0.5}
"""


def test_policy_warnings_unknown_ids_and_empty_selectors(tmp_path: Path):
    """What a shared policy names that this topology lacks: warnings, located."""
    (tmp_path / "p.yaml").write_text(WARN_POLICY)
    policy = load_policy(tmp_path / "p.yaml")
    topo = topology_from_text(WARN_TOPO)
    got = [(d.line, d.column, d.level, d.message) for d in policy_warnings(policy, topo)]
    assert all(level == "warning" for _, _, level, _ in got)
    assert [(line, col) for line, col, _, _ in got] == [
        pos(WARN_POLICY, "{zone: ^ghost}"),
        pos(WARN_POLICY, "{host: ^nobody}"),
        pos(WARN_POLICY, "from: ^{labels: {tier: nothing}}"),  # matches nothing
        pos(WARN_POLICY, "[h, ^missing]"),  # the item of the list
        pos(WARN_POLICY, "from: ^{zone: internet, labels"),  # labels never match outside
        pos(WARN_POLICY, "from: ^{zone: lan, labels: {x: y}}"),  # nothing has both
        pos(WARN_POLICY, "[k, ^unknown-cred]"),
        pos(WARN_POLICY, "{zone: ^nowhere}"),
    ]
    messages = [m for *_, m in got]
    assert "zone 'ghost'" in messages[0] and "host 'nobody'" in messages[1]
    assert "matches nothing" in messages[2] and "'missing'" in messages[3]
    assert "'unknown-cred'" in messages[6] and "'nowhere'" in messages[7]


def test_policy_without_warnings(tmp_path: Path):
    """A policy that fits the topology gives no warning."""
    (tmp_path / "p.yaml").write_text(
        "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
        "    - {id: r, action: allow, from: {zone: internet}, to: {labels: {tier: web}}}\n"
        "controls: {mfa: [k]}\n"
    )
    assert policy_warnings(load_policy(tmp_path / "p.yaml"), topology_from_text(WARN_TOPO)) == []


def test_strict_turns_warnings_into_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Without --strict: warnings on stderr and a verdict; with it: exit 2, errors."""
    (tmp_path / "t.yaml").write_text(WARN_TOPO)
    (tmp_path / "p.yaml").write_text(WARN_POLICY)
    args = ["check", str(tmp_path / "t.yaml"), "--policy", str(tmp_path / "p.yaml")]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"{tmp_path / 'p.yaml'}:6:44: warning: zone 'ghost'" in err
    assert main([*args, "--strict"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'p.yaml'}:6:44: error: zone 'ghost'" in err
    # Eight warnings of the files, and one of check's: this estate holds no data item.
    assert err.count(": error: ") == 9
    assert "error: no data item on any host" in err
    assert "Traceback" not in err


def test_traffic_from_outside_to_a_non_public_service_warns():
    """A business flow no policy can allow is a topology warning, not an error."""
    text = (
        HEADER
        + ZONES
        + "hosts:\n  - {id: h, zone: lan, services: [{service: 22/tcp}], data: [{id: d}]}\n"
        + "traffic:\n  - {from: internet, to: h, service: 22/tcp}\n"
    )
    t = topology_from_text(text)
    w = [(w.level, w.line, w.column) for w in t.warnings]
    assert w == [("warning", *pos(text, "h, service: ^22/tcp}"))]


# ------------------------------------------------------------------ floods (issue #23 pt 10)


def _hosts(entries: list[str]) -> str:
    return HEADER + ZONES + "hosts:\n" + "".join(f"  - {e}\n" for e in entries)


def test_an_error_flood_lists_the_first_ones_and_counts_the_rest(tmp_path: Path):
    from ztsim.model.diagnostics import MAX_LISTED

    n = 5000  # more than one validation part (VALIDATION_CHUNK)
    diags = problems(tmp_path, _hosts(["{}"] * n))
    listed, (summary,) = diags[:-1], diags[-1:]
    assert len(listed) == MAX_LISTED
    assert [(d.line, d.message) for d in listed[:2]] == [
        (9, "missing required key 'id'"),
        (9, "missing required key 'zone'"),
    ]
    assert summary.omitted == 2 * n - MAX_LISTED
    assert summary.message.startswith(f"... and {2 * n - MAX_LISTED:,} more error(s)")
    assert (summary.line, summary.column) == (9 + MAX_LISTED // 2, 5)  # the first not listed
    assert InputError(diags).error_count == 2 * n


def test_the_error_count_is_printed_in_full(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    f = tmp_path / "t.yaml"
    f.write_text(_hosts(["{id: a}"] * 3000), encoding="utf-8")
    assert main(["check", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 100 + 2
    assert "... and 2,900 more error(s) in this file" in err
    assert err.endswith("ztsim: 3,000 error(s) in input\n")


def test_errors_of_long_lists_are_those_of_a_whole_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Validated in parts or whole, the same errors at the same places, in the same order."""
    import ztsim.inputs.collector
    import ztsim.inputs.validate

    monkeypatch.setattr(ztsim.inputs.collector, "MAX_LISTED", 100_000)
    entries = [f"{{id: h{i}, zone: lan}}" for i in range(60)]
    for i in (3, 17, 18, 59):
        entries[i] = f"{{id: h{i}, zone: lan, port: {i}}}"
    entries[40] = "{zone: lan}"
    text = _hosts(entries) + "credentials: [{id: c, extra: 1}]\n"
    whole = problems(tmp_path, text)
    monkeypatch.setattr(ztsim.inputs.validate, "VALIDATION_CHUNK", 7)
    parts = problems(tmp_path, text)
    assert [str(d) for d in parts] == [str(d) for d in whole]
    assert len(whole) == 6


def test_valid_long_lists_give_the_model_of_a_whole_validation(monkeypatch: pytest.MonkeyPatch):
    import ztsim.inputs.validate
    import ztsim.model.schema

    text = (ROOT / "topologies" / "corporate.yaml").read_text(encoding="utf-8")
    whole = topology_from_text(text).model
    monkeypatch.setattr(ztsim.inputs.validate, "VALIDATION_CHUNK", 2)
    assert topology_from_text(text).model == whole
    pol = (ROOT / "policies" / "zero-trust.yaml").read_text(encoding="utf-8")
    assert policy_from_text(pol).model == ztsim.model.schema.Policy.model_validate(
        ztsim.inputs.documents.parse_text(pol).data
    )


def test_warnings_are_capped_too(tmp_path: Path):
    topo = topology_from_text(HEADER + ZONES + "hosts:\n  - {id: a, zone: lan}\n")
    rules = "".join(
        f"    - {{id: r{i}, action: allow, from: {{host: ghost{i}}}}}\n" for i in range(250)
    )
    pol = policy_from_text(
        "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n" + rules, "p.yaml"
    )
    warnings = policy_warnings(pol, topo)
    assert len(warnings) == 101 and warnings[-1].omitted == 150
    assert warnings[-1].level == "warning" and warnings[-1].line == 6 + 100


@pytest.mark.parametrize(
    ("marked", "words"),
    [
        ("    ^~: x\n", "hosts.0: key None is not a string"),
        ("    labels:\n      a: b\n      ^12: x\n", "hosts.0.labels: key 12 is not a string"),
        ("    labels:\n      ^2025-01-01: x\n", "key datetime.date(2025, 1, 1) is not a string"),
        ("    labels: {a: b, ^null: x}\n", "hosts.0.labels: key None is not a string"),
    ],
)
def test_keys_that_are_not_strings_are_reported_at_the_key(tmp_path: Path, marked: str, words: str):
    body, (line, col) = unmark(marked)
    text = HEADER + ZONES + "hosts:\n  - id: a\n    zone: lan\n" + body
    got = only(tmp_path, text)
    assert words in got[2]
    assert got[:2] == (line + 10, col)


def test_long_lists_never_reach_pydantic_whole(monkeypatch: pytest.MonkeyPatch):
    """The document validation sees a long list as models (valid) or empty (invalid
    parts, already reported): pydantic never holds the errors of all of it at once."""
    import ztsim.inputs.validate
    from ztsim.model.schema import Topology

    seen: list[list[object]] = []
    validate = Topology.model_validate

    def spy(data: Any, **kw: Any) -> Topology:
        seen.append(data["hosts"])
        return validate(data, **kw)

    monkeypatch.setattr(ztsim.inputs.validate, "VALIDATION_CHUNK", 7)
    monkeypatch.setattr(Topology, "model_validate", spy)
    with pytest.raises(InputError):
        topology_from_text(_hosts(["{}"] * 60))
    assert seen == [[]]
    seen.clear()
    topology_from_text(_hosts([f"{{id: h{i}, zone: lan}}" for i in range(60)]))
    assert len(seen) == 1 and len(seen[0]) == 60
    assert all(type(h).__name__ == "Host" for h in seen[0])


def test_a_long_list_inside_a_large_item_is_validated_in_parts(monkeypatch: pytest.MonkeyPatch):
    """One host listing thousands of bad services (a file of few, very large items):
    its list is validated in parts too, with the errors of a whole validation."""
    import ztsim.inputs.collector
    import ztsim.inputs.validate
    from ztsim.model.schema import Topology

    monkeypatch.setattr(ztsim.inputs.collector, "MAX_LISTED", 100_000)
    services = ["{service: 22/tcp}"] * 30
    services[4] = services[25] = "{}"
    text = _hosts(["{id: a, zone: lan, services: [" + ", ".join(services) + "]}"])
    with pytest.raises(InputError) as err:
        topology_from_text(text)
    whole = [str(d) for d in err.value.diagnostics]
    seen: list[object] = []
    validate = Topology.model_validate

    def spy(data: Any, **kw: Any) -> Topology:
        seen.append(data["hosts"][0]["services"])
        return validate(data, **kw)

    monkeypatch.setattr(ztsim.inputs.validate, "VALIDATION_CHUNK", 7)
    monkeypatch.setattr(ztsim.inputs.validate, "BIG_ITEM_BYTES", 10)
    monkeypatch.setattr(Topology, "model_validate", spy)
    with pytest.raises(InputError) as err:
        topology_from_text(text)
    parts = [str(d) for d in err.value.diagnostics]
    assert parts == whole and len(whole) == 2
    assert seen == [[]]


@pytest.mark.parametrize(
    "body",
    [
        # thousands of unknown keys at the top level and in a section
        "".join(f"k{i}: 1\n" for i in range(20)) + "hosts: [{id: a, zone: lan, x: 1}]\n",
        # a host (one large item) with many labels, some bad, and many unknown keys
        "hosts:\n  - id: a\n    zone: lan\n    labels: {"
        + ", ".join(f"k{i}: {'[x]' if i % 7 == 3 else 'v'}" for i in range(30))
        + "}\n"
        + "".join(f"    u{i}: 1\n" for i in range(12)),
    ],
    ids=["top-level-keys", "labels-and-keys-of-a-large-item"],
)
def test_mappings_with_many_keys_are_validated_in_parts(
    body: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown keys and bad label values of huge mappings: the errors of a whole
    validation, found part by part."""
    import ztsim.inputs.collector
    import ztsim.inputs.validate

    monkeypatch.setattr(ztsim.inputs.collector, "MAX_LISTED", 100_000)
    text = HEADER + ZONES + body
    with pytest.raises(InputError) as err:
        topology_from_text(text)
    whole = sorted(str(d) for d in err.value.diagnostics)
    monkeypatch.setattr(ztsim.inputs.validate, "VALIDATION_CHUNK", 5)
    monkeypatch.setattr(ztsim.inputs.validate, "BIG_ITEM_BYTES", 10)
    from ztsim.model.schema import Topology

    seen: list[dict[str, Any]] = []
    validate = Topology.model_validate

    def spy(data: Any, **kw: Any) -> Topology:
        seen.append(data)
        return validate(data, **kw)

    monkeypatch.setattr(Topology, "model_validate", spy)
    with pytest.raises(InputError) as err:
        topology_from_text(text)
    assert sorted(str(d) for d in err.value.diagnostics) == whole and len(whole) >= 12
    # What reached the whole validation: no mapping of more than a few keys.
    (data,) = seen
    assert len(data) <= 6
    assert all(len(h) <= 5 and len(h.get("labels") or ()) <= 5 for h in data["hosts"])
