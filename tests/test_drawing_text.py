"""The plan drawn with box characters (ztsim/output/drawing/text.py): description and drawing.

A golden drawing of a shipped plan (open, and blocked under a policy), then
properties over random plans: every line fits the width, every step number shows,
the blocking step is marked once with its rule, names are escaped and cut, and
the same input gives the same lines.
"""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from ztsim.analysis.analyze import analyze
from ztsim.engine.steps import Step
from ztsim.inputs.scenario import load_scenario
from ztsim.output.drawing.text import (
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
    return steps, zone_of, {"c2": draw(st.one_of(st.none(), NAMES))}


@settings(max_examples=150, deadline=None)
@given(plans(), st.integers(44, 200), st.data())
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
