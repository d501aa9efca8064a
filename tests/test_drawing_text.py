"""The plan drawn with box characters (ztsim/output/drawing/text.py): description and drawing.

A golden drawing of a shipped plan (open, and blocked under a policy), then
properties over random plans: every line fits the width, every step number shows,
the blocking step is marked once with its rule, names are escaped and cut, and
the same input gives the same lines.
"""

from __future__ import annotations

import ipaddress
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from ztsim.analysis.analyze import analyze
from ztsim.engine.steps import Step
from ztsim.inputs.scenario import load_scenario
from ztsim.output.drawing.text import (
    MIN_WIDTH,
    PlanDrawing,
    PlanPicture,
    draw_plan,
    picture_of,
    plain,
    plan_picture,
)

GOLDEN_OPEN = """\
╭─ internet ────────╮           ╭─ dmz ──────╮           ╭─ app ─────────────────────────╮
│ internet-attacker ├─2 T1190──▶│ portal-web ├─3 T1210──▶│ api-01                        ├─…
│ 1 enter           │ 443/tcp   │            │ 8081/tcp  │ 4 T1552 steal db-app-password │
╰───────────────────╯           ╰────────────╯           ╰───────────────────────────────╯
                  ╭─ data ──────────────────────────╮                 ╭─ external ──────────╮
…─5 T1078────────▶│ payroll-db                      ├─7 T1041────────▶│ c2                  │
  5432/tcp        │ 6 T1213 collect payroll-records │ 443/tcp         │ c2.attacker.example │
  from portal-web │                                 │ from portal-web │                     │
                  ╰─────────────────────────────────╯                 ╰─────────────────────╯"""

GOLDEN_BLOCKED_76 = """\
╭─ internet ────────╮           ╭─ dmz ──────╮
│ internet-attacker ├─2 T1190──▶│ portal-web ├─…
│ 1 enter           │ 443/tcp   │            │
╰───────────────────╯           ╰────────────╯
            ╭─ app ─────────────────────────╮
…─3 T1210──✗│ api-01                        ├─…
  8081/tcp  │ 4 T1552 steal db-app-password │
  ✗ default │                               │
            ╰───────────────────────────────╯"""


#: The end of the same plan at 44 cells when c2 is given by an IPv6 block: the
#: block broken after a group, its prefix length kept with the last one.
GOLDEN_BLOCK_44_END = """\
                  ╭─ external ─────╮
…─7 T1041────────▶│ c2             │
  443/tcp         │ 2001:db8:abcd: │
  from portal-web │ 12::/64        │
                  ╰────────────────╯"""

C2 = "{id: c2, fqdn: c2.attacker.example, role: c2}"


def _pajemploi_with_c2(tmp: Path, c2: str) -> PlanPicture:
    """The first plan of Pajemploi with its c2 destination written ``c2`` instead."""
    text = Path("topologies/pajemploi.yaml").read_text(encoding="utf-8")
    assert C2 in text
    topo = tmp / "pajemploi.yaml"
    topo.write_text(text.replace(C2, c2), encoding="utf-8")
    sc = load_scenario(str(topo), ["policies"])
    a = analyze(sc.topology, sc.policies)
    row = a.plans(a.goals[0], 1)[0]
    return picture_of(row.plan.steps, row.plan.entry, a.topology)


@cache
def _pajemploi() -> tuple[PlanPicture, int, str]:
    """The first plan of the shipped Pajemploi scenario, and where segmented blocks it."""
    sc = load_scenario("topologies/pajemploi.yaml", ["policies"])
    a = analyze(sc.topology, sc.policies)
    row = a.plans(a.goals[0], 1)[0]
    seg = next(v for v in row.verdicts if v.policy == "segmented")
    assert seg.step is not None and seg.blocked_by is not None
    return picture_of(row.plan.steps, row.plan.entry, a.topology), seg.step + 1, seg.blocked_by


def test_golden_open_plan_at_120_columns():
    picture, _, _ = _pajemploi()
    assert plain(draw_plan(picture, 116)) == GOLDEN_OPEN


def test_golden_blocked_plan_at_80_columns():
    picture, step, rule = _pajemploi()
    lines = draw_plan(picture, 76, blocked=step, rule=rule)
    assert plain(lines[:9]) == GOLDEN_BLOCKED_76
    # steps after the block are dimmed, the mark is styled
    styles = {str(s.style) for line in lines[9:] for s in line.spans if s.style}
    assert styles and all("dim" in s or s in ("blue", "bold blue") for s in styles)


def test_description_of_the_shipped_plan():
    picture, _, _ = _pajemploi()
    assert [n.label for n in picture.nodes] == [
        "internet-attacker",
        "portal-web",
        "api-01",
        "payroll-db",
        "c2",
    ]
    assert [n.zone for n in picture.nodes] == ["internet", "dmz", "app", "data", None]
    assert [(e.step, e.technique, e.first) for e in picture.edges] == [
        (2, "T1190", True),
        (3, "T1210", True),
        (5, "T1078", True),
        (7, "T1041", True),
    ]
    assert [(n.step, n.node, n.subject) for n in picture.notes] == [
        (1, 0, None),
        (4, 2, "db-app-password"),
        (6, 3, "payroll-records"),
    ]
    assert picture.steps == 7


def test_renderable_draws_at_the_width_it_is_given():
    from rich.console import Console

    picture, step, rule = _pajemploi()
    console = Console(width=76, record=True, color_system=None, highlight=False)
    console.print(PlanDrawing(picture, blocked=step, rule=rule))
    text = console.export_text()
    assert text.rstrip("\n") == plain(draw_plan(picture, 76, blocked=step, rule=rule))


def test_cidr_destination_shows_its_block(tmp_path: Path):
    picture = _pajemploi_with_c2(tmp_path, "{id: c2, cidr: 2001:DB8:abcd:12::/64, role: c2}")
    assert (picture.nodes[-1].block, picture.nodes[-1].detail) == ("2001:db8:abcd:12::/64", None)
    assert plain(draw_plan(picture, 44)).endswith(GOLDEN_BLOCK_44_END)
    assert "│ c2                    │\n" in plain(draw_plan(picture, 116))
    assert "│ 2001:db8:abcd:12::/64 │\n" in plain(draw_plan(picture, 116))
    picture = _pajemploi_with_c2(tmp_path, "{id: c2, cidr: 203.0.113.0/24, role: c2}")
    assert "│ 203.0.113.0/24 │" in plain(draw_plan(picture, 44))


def test_named_destination_shows_its_fqdn_and_no_block():
    picture, _, _ = _pajemploi()
    assert (picture.nodes[-1].detail, picture.nodes[-1].block) == ("c2.attacker.example", None)


# the plan hypothesis found wider than 44 cells (by one): a lone node in a band
# with an arrow whose lines took 18 cells, more than the band had left
REGRESSION_44 = [
    ("enter", None, "outside"),
    ("exploit", "outside", "h:0000000\x1b"),
    *[("exploit", "outside", "h:1")] * 5,
    ("exploit", "h:0000000\x1b", "h:0"),
    ("exploit", "outside", "h:1"),
    ("login", "outside", "h:0"),
    ("exfiltrate", "outside", "c2"),
]


def test_a_lone_node_and_its_arrow_fit_44_cells():
    steps = [
        _step(n, k, s, t, s if k == "exfiltrate" else t)
        for n, (k, s, t) in enumerate(REGRESSION_44, 1)
    ]
    zone_of = {"h:1": "0", "h:0000000\x1b": "0", "h:0": "0"}
    picture = plan_picture(steps, "entry", zone_of, {"c2": None})
    for width in range(MIN_WIDTH, 60):
        lines = draw_plan(picture, width)
        assert max(cell_len(t.plain) for t in lines) <= width, (width, plain(lines))
    assert "…─11 T1565.001──▶│ c2" in plain(draw_plan(picture, 44))
    # the arrow's lines get 17 cells at 44: the escaped name is cut to fit
    assert "  from h:0000000\\x… │" in plain(draw_plan(picture, 44))


@pytest.mark.parametrize("width", [0, 1, 24, 43])
def test_below_the_narrowest_width_the_drawing_is_the_narrowest(width: int):
    picture, step, rule = _pajemploi()
    assert draw_plan(picture, width, blocked=step, rule=rule) == draw_plan(
        picture, MIN_WIDTH, blocked=step, rule=rule
    )


# --------------------------------------------------------------------------- random plans

NAMES = st.text(alphabet=st.sampled_from("abcz-01_界\x1b\u202e"), min_size=1, max_size=30).filter(
    lambda s: s.strip() != ""
)


def _step(n: int, kind: str, source: str | None, target: str, host: str | None = None) -> Step:
    technique = {"enter": None, "exploit": "T1210", "login": "T1021"}.get(kind, "T1565.001")
    return Step(
        key=(kind, str(n)),
        kind=kind,  # type: ignore[arg-type]
        technique=technique,
        source=source,
        target=target,
        service="443/tcp" if kind in ("exploit", "login", "exfiltrate") else None,
        reason="",
        pre=(),
        post=(),
        host=host or target,
    )


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[Step], dict[str, str], dict[str, str | None]]:
    zones = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    hosts = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    hosts = [f"h:{h}" for h in hosts]
    zone_of = {h: draw(st.sampled_from(zones)) for h in hosts}
    steps = [_step(1, "enter", None, "outside", "outside")]
    held = ["outside"]
    for n in range(2, draw(st.integers(2, 12))):
        kind = draw(st.sampled_from(["exploit", "login", "steal", "escalate", "collect"]))
        if kind in ("exploit", "login"):
            target = draw(st.sampled_from(hosts))
            steps.append(_step(n, kind, draw(st.sampled_from(held)), target))
            held.append(target)
        elif len(held) > 1:
            host = draw(st.sampled_from(held[1:]))
            steps.append(_step(n, kind, host, draw(NAMES), host))
    source = draw(st.sampled_from(held))
    steps.append(_step(len(steps) + 1, "exfiltrate", source, "c2", source))
    return steps, zone_of, {"c2": draw(st.one_of(st.none(), NAMES, BLOCKS))}


#: Canonical CIDR blocks, IPv4 and IPv6, of any prefix length.
BLOCKS = st.ip_addresses().flatmap(
    lambda a: st.integers(0, a.max_prefixlen).map(
        lambda p: str(ipaddress.ip_network((a, p), strict=False))
    )
)
#: Widths, the narrow ones (where the caps have floors) often.
WIDTHS = st.one_of(st.integers(MIN_WIDTH, MIN_WIDTH + 8), st.integers(MIN_WIDTH, 200))


@settings(max_examples=150, deadline=None)
@given(plans(), WIDTHS, st.data())
def test_random_plans_fit_show_every_step_and_mark_the_block(plan, width, data):
    steps, zone_of, dests = plan
    picture = plan_picture(steps, "entry", zone_of, dests)
    assert picture.steps == len(steps)
    blocked = data.draw(st.one_of(st.none(), st.integers(1, len(steps))))
    lines = draw_plan(picture, width, blocked=blocked, rule="rule-x")
    text = plain(lines)
    assert lines == draw_plan(picture, width, blocked=blocked, rule="rule-x")
    # every line fits; names are escaped (no raw control or bidi character)
    assert all(cell_len(t.plain) <= width for t in lines), text
    assert "\x1b" not in text and "\u202e" not in text
    # the blocking step is marked once, with its rule
    assert text.count("✗ rule-x") == (blocked is not None)
    # every step number shows (as a label starting an arrow or a note)
    for n in range(1, len(steps) + 1):
        assert f"─{n} " in text or f"│ {n} " in text or f" {n} T" in text or f"{n} enter" in text, (
            n,
            text,
        )


@settings(max_examples=100, deadline=None)
@given(BLOCKS, WIDTHS)
def test_a_block_shows_whole_on_lines_that_fit(block: str, width: int):
    steps = [
        _step(1, "enter", None, "outside", "outside"),
        _step(2, "exfiltrate", "outside", "c2", "outside"),
    ]
    lines = [t.plain for t in draw_plan(plan_picture(steps, "entry", {}, {"c2": block}), width)]
    assert all(cell_len(line) <= width for line in lines)
    # the external frame is the last one: its lines under the name, to its bottom
    top = next(r for r, line in enumerate(lines) if "│ c2 " in line)
    left = lines[top].index("│ c2 ") + 2
    inside = [line[left:].rstrip(" │") for line in lines[top + 1 :] if "╰" not in line]
    assert "".join(inside) == block, "\n".join(lines)
