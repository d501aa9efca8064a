"""Where a verdict is decided: flow decisions (spec §4), the attacker's fixpoint
(§5), attack plans and their verdicts (§6), and policy impact.
"""
