"""Plans in short: what tells apart plans that read alike (goal, cost, techniques).

Plans of one goal and cost often share their technique chain and differ only in
where a step is launched from or where the data leaves to.  The TUI's paths
matrix, the HTML report's matrix and the incident analysis' lists of plans all
show the same short form, so the three agree on what sets a plan apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Iterable, Sequence

from ztsim.engine.extraction import Plan
from ztsim.engine.steps import Step

__all__ = ["differences", "short_step", "via"]


def via(steps: Iterable[Step], hosts: Container[str]) -> str:
    """The hosts a plan moves through, in short: ``portal-web>api-01>payroll-db api-01⇒c2``.

    Targets of exploit and login steps joined by ``>``; ``,HOST`` when a step
    starts from a host held earlier rather than the last one; then where the
    data leaves from and to (``SOURCE⇒DESTINATION``).  Plans whose technique
    chains read the same usually differ here.
    """
    out = ""
    last: str | None = None
    for st in steps:
        source = st.source if st.source in hosts else None
        if st.kind in ("exploit", "login"):
            if out:
                jump = source is not None and source != last
                out += f",{source}>" if jump else ">"
            out += st.target or "?"
            last = st.target
        elif st.kind in ("exfiltrate", "exfiltrate-direct"):
            out += f" {source or ''}⇒{st.target or '?'}"
    return out


def short_step(st: Step) -> str:
    """A step in a few characters, for :func:`differences`."""
    if st.kind == "enter":
        return st.key[1]
    if st.kind in ("exploit", "login"):
        return f"{st.source}→{st.target}"
    if st.kind.startswith("exfiltrate"):
        return f"{st.source}⇒{st.target}"
    if st.kind == "escalate":
        return f"root@{st.host}"
    return f"{st.target}@{st.host}"


def differences(plans: Sequence[Plan], hosts: Container[str]) -> list[str]:
    """For each plan, what tells it apart from the plans of the same goal and cost.

    Those rows read the same in the matrix (goal, cost, often the verdicts), so
    each gets the steps that not every plan of its group shares, rarest first
    (then in plan order), in short (``api-01→payroll-db api-01⇒c2``: a hop, where the data leaves
    from and to; ``CREDENTIAL@HOST`` where one is stolen; the entry point when
    entries differ).  A plan alone in its group
    gets its :func:`via`.  Steps that read the same in short (two sniffs of one
    credential from different flows) can leave two rows alike: the plan id is
    added to those.
    """
    groups: dict[tuple[object, int], list[int]] = {}
    for n, p in enumerate(plans):
        groups.setdefault((p.goal, p.cost), []).append(n)
    out = [""] * len(plans)
    for members in groups.values():
        if len(members) == 1:
            p = plans[members[0]]
            out[members[0]] = via(p.steps, hosts)
            continue
        # compared as shown: steps differing only in what the short form omits are alike
        shorts = {n: list(dict.fromkeys(short_step(s) for s in plans[n].steps)) for n in members}
        count = Counter(x for xs in shorts.values() for x in xs)
        for n in members:
            # rarest first, so a narrow column still shows what sets the row apart
            rare = sorted(
                (x for x in shorts[n] if count[x] < len(members)),
                key=lambda x: count[x],
            )
            out[n] = " ".join(rare)
        seen = Counter(out[n] for n in members)
        for n in members:
            if seen[out[n]] > 1:
                out[n] = f"{out[n]} #{plans[n].ident}".strip()
    return out
