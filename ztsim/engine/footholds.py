"""A lower bound on plan cost tighter than h_max: one foothold, or one more step.

:func:`ztsim.engine.mincost.hmax` bounds a plan by its longest chain of steps.  A
chain starts at a step without preconditions (an ``enter``: the attacker's
foothold), and holds only one such step.  So a plan with ``m`` footholds costs at
least ``h(goal) + m - 1``; and a plan with a single foothold ``e`` is a plan of the
graph where ``e`` is the only step without preconditions, so it costs at least that
graph's h_max, ``h_e(goal)``.  Every plan therefore costs at least::

    min(h(goal) + 1, min over footholds e of h_e(goal))

which is above ``h(goal)`` whenever no single foothold reaches the goal within
``h(goal)`` steps: the common case of a plan that needs one foothold to reach a
service and another to send the data out, where h_max counts only the longer
branch.

:func:`single_foothold_levels` gives ``min_e h_e`` for every fact in one walk
(each fact carries the bitset of footholds reaching it so far), not one h_max
pass per foothold: a fact is revisited only when a foothold first reaches it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ztsim.engine.steps import Fact

__all__ = ["MAX_FOOTHOLDS", "foothold_bound", "single_foothold_levels"]

#: Above this many steps without preconditions no bound is worked out (the walk's
#: cost grows with their number; the caller keeps h_max).
MAX_FOOTHOLDS = 64


def single_foothold_levels(
    steps: Iterable[tuple[tuple[Fact, ...], tuple[Fact, ...]]],
) -> dict[Fact, int] | None:
    """Per fact, the least h_max over the graphs keeping one step without preconditions.

    ``steps``: each step's (preconditions, outputs), as :func:`~ztsim.engine.mincost.hmax`
    takes them.  ``levels[f] = min over footholds e of h_e(f)``, where ``h_e`` is the
    h_max of the graph whose only step without preconditions is ``e`` (facts no single
    foothold derives are missing).  None when there are more than
    :data:`MAX_FOOTHOLDS` footholds.

    >>> a, b, c, g = ("f", "a"), ("f", "b"), ("f", "c"), ("f", "g")
    >>> steps = [((), (a,)), ((), (b,)), ((a,), (c,)), ((c, b), (g,)), ((c,), (b,))]
    >>> sorted((single_foothold_levels(steps) or {}).items())
    [(('f', 'a'), 1), (('f', 'b'), 1), (('f', 'c'), 2), (('f', 'g'), 4)]

    (h_max of ``g`` is 3, from ``c`` and the second foothold ``b``; from ``a``
    alone, ``b`` comes after ``c``.)
    """
    footholds: list[tuple[Fact, ...]] = []
    # Steps with one precondition (most) are listed under it with their outputs;
    # the others by index, their preconditions ANDed when one of them grows.
    single: dict[Fact, list[Fact]] = {}
    users: dict[Fact, list[int]] = {}
    pres: list[tuple[Fact, ...]] = []
    posts: list[tuple[Fact, ...]] = []
    for pre, post in steps:
        if not pre:
            footholds.append(post)
        elif len(pre) == 1:
            got = single.get(pre[0])
            if got is None:
                single[pre[0]] = list(post)
            else:
                got.extend(post)
        else:
            i = len(pres)
            pres.append(pre)
            posts.append(post)
            for p in pre:
                found = users.get(p)
                if found is None:
                    users[p] = [i]
                else:
                    found.append(i)
    if len(footholds) > MAX_FOOTHOLDS:
        return None
    #: Per fact, the footholds reaching it within the levels walked so far.
    reached: dict[Fact, int] = {}
    levels: dict[Fact, int] = {}
    # What each fact gains at the next level: footholds, as bits.
    gains: dict[Fact, int] = {}
    for bit, post in enumerate(footholds):
        for f in post:
            gains[f] = gains.get(f, 0) | (1 << bit)
    level = 1
    get = reached.get
    while gains:
        grown: list[Fact] = []
        for f, bits in gains.items():
            old = get(f, 0)
            if bits & ~old:
                reached[f] = old | bits
                if not old:
                    levels[f] = level
                grown.append(f)
        # The next level reads the masks as they stand at the end of this one.
        level += 1
        nxt: dict[Fact, int] = {}
        looked: set[int] = set()
        for f in grown:
            bits = reached[f]
            for q in single.get(f, ()):
                add = bits & ~get(q, 0)
                if add:
                    nxt[q] = nxt.get(q, 0) | add
            for i in users.get(f, ()):
                if i in looked:
                    continue
                looked.add(i)
                both = -1
                for p in pres[i]:
                    both &= get(p, 0)
                    if not both:
                        break
                if both:
                    for q in posts[i]:
                        add = both & ~get(q, 0)
                        if add:
                            nxt[q] = nxt.get(q, 0) | add
        gains = nxt
    return levels


def foothold_bound(hmax: Mapping[Fact, int], single: Mapping[Fact, int] | None, goal: Fact) -> int:
    """The lower bound of the module's docstring on every plan deriving ``goal``.

    ``hmax``: the graph's h_max (``goal`` in it); ``single``: its
    :func:`single_foothold_levels` (None: not worked out, h_max is kept).

    >>> foothold_bound({("g",): 2}, {}, ("g",)), foothold_bound({("g",): 2}, None, ("g",))
    (3, 2)
    """
    h = hmax[goal]
    if single is None:
        return h
    return min(h + 1, single.get(goal, h + 1))
