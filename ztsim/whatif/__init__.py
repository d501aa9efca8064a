"""What-if analyses for policy authors: diff, harden, lint, and intent assertions.

Headless like the rest of the core: the command modules and the TUI call these.

* :mod:`ztsim.whatif.diff` — what a proposed policy changes against a base one;
* :mod:`ztsim.whatif.harden` — a small, verified set of changes that closes every goal;
* :mod:`ztsim.whatif.lint` — shadowed, dead, duplicate and over-broad rules;
* :mod:`ztsim.whatif.intent` — evaluating intent assertions, each violation with the
  fix ``harden`` would make (which is why intent sits here and not in
  :mod:`ztsim.analysis`: its fixes are a what-if).

Per-rule impact is an engine question and lives in :mod:`ztsim.engine.impact`.
"""
