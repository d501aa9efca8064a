"""What-if analyses for policy authors: diff, harden, lint and per-rule impact.

Headless like the rest of the core: the command modules and the TUI call these.

* :mod:`ztsim.whatif.diff` — what a proposed policy changes against a base one;
* :mod:`ztsim.whatif.harden` — a small, verified set of changes that closes every goal;
* :mod:`ztsim.whatif.lint` — shadowed, dead, duplicate and over-broad rules;
* :mod:`ztsim.whatif.impact` — per rule, the plans it enables or blocks and the
  legitimate flows that depend on it.

This package's ``__init__`` imports nothing, so :mod:`ztsim.analysis` can use
:mod:`ztsim.whatif.impact` (which imports no analysis: the impact of an
:class:`~ztsim.analysis.Analysis`, :func:`ztsim.analysis.check_impact` and kin, lives there).
"""
