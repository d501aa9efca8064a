"""The JSON text ``check`` prints: ``dump_json(analysis.to_json())``, written faster.

Rule-impact rows are most of the text on large estates: they are written by
:func:`ztsim.engine.impact.rows_json_text` and put in as
:class:`~ztsim.output.jsontext.Encoded` text, each result written once at depth 0
(by :func:`result_text`, on two cores ahead, see
:attr:`ztsim.analysis.analyze.Needs.result_text`) and put in the same way.
"""

from __future__ import annotations

from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import PolicyResult, result_json
from ztsim.engine.impact import RuleImpact, rows_json_text
from ztsim.output.jsontext import Encoded, dump, dump_json
from ztsim.perf.profiling import phase

__all__ = ["check_json_text", "result_text"]


def check_json_text(a: Analysis) -> str:
    """The bytes of ``dump_json(a.to_json())``: the JSON text ``check`` prints."""
    return dump_json(a.json_object(lambda i: Encoded(a.written_text(i, result_text))))


def result_text(r: PolicyResult, rows: list[RuleImpact]) -> str:
    """``dump(result_json(r, rows as JSON))``, the rows written by ``rows_json_text``.

    A result holds no float (ids, counts, flags and ``null``), so the writer skips
    its float checks (``floats=False``); ``tests/test_judge_json.py`` holds that.
    """
    with phase("output"):
        return dump(result_json(r, Encoded(rows_json_text(rows))), floats=False)
