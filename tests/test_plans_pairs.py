"""Every pair ``PairBound`` answers for, against the textbook h² (issue 26).

``tests/test_pairs.py`` asks the search about single goals; a pair's answer there
rarely turns on the steps giving its second fact.  Here each pair of facts of a
small random graph, at every threshold, is asked directly and compared with h²
worked out for every pair by the plain recurrence: leaving out the last steps that
give either fact of a pair (say, those giving the second) fails this.
"""

from __future__ import annotations

from hypothesis import given, settings
from test_pairs import _graph, _naive_h2, graphs

from ztsim.engine.pairs import PairBound
from ztsim.engine.steps import Step


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_every_pair_is_answered_as_the_textbook_h2(steps: list[Step]) -> None:
    givers, h = _graph(steps)
    every = sorted({f for s in steps for f in (*s.pre, *s.post)})
    naive = _naive_h2(steps, every)
    bound = PairBound(givers, h)
    derived = sorted(h)
    for a in derived:
        for b in derived:
            value = naive[frozenset((a, b))]
            for t in range(1, min(value, 20) + 3):
                bound._left = 10**6  # (what at_least sets: a budget no graph here uses up)
                assert bound._pair(a, b, t) == (value >= t), (a, b, t, value)
