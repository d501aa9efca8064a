"""Whether a solve under an earlier version of a policy is the solve under the new one.

The fixpoint (:mod:`ztsim.engine.fixpoint`) and the goals' plans
(:mod:`ztsim.engine.plans`) read a compiled policy through a few questions only:
the target groups and the class of each source, the groups each source class
reaches, egress per host, which credential-carrying flows are allowed (to sniff
them), the credentials under MFA and whether transit is encrypted.  Both are
deterministic, so a new version that answers every question the earlier solve
asked as the earlier version did has the very same solve: the same facts, costs,
order and first derivations, hence the same plans.

An edit of a rule no attacker position meets (shadowed by an earlier rule, or
deciding only flows between hosts the attacker never holds) changes no such
answer: a re-check (:class:`ztsim.analysis.workspace.Workspace`) then re-judges
only the legitimate flows, whose deciding rules may have changed.

The comparison is conservative: anything it cannot compare cheaply (other target
groups or classes, another egress section, label expressions) counts as a change.
Its soundness rests on the list of questions: ``tests/test_replay.py`` records what
a solve and the goals' costs read of the policy and fails on anything not compared
here, so a new question must be added to :func:`same_answers` first.

    >>> from ztsim.inputs.bundled import pajemploi
    >>> from ztsim.inputs.loader import load_policy, load_topology
    >>> from ztsim.engine.attack import AttackModel
    >>> from ztsim.engine.fixpoint import solve
    >>> topology, policies = pajemploi()
    >>> model = AttackModel(load_topology(topology))
    >>> before = model.compile(load_policy(policies / "zero-trust.yaml"))
    >>> _ = solve(model, before)
    >>> again = model.compile(load_policy(policies / "zero-trust.yaml"), previous=before)
    >>> same_answers(before, again)
    True
"""

from __future__ import annotations

from ztsim.engine.compiled import CompiledPolicy

__all__ = ["same_answers"]


def same_answers(previous: CompiledPolicy, policy: CompiledPolicy) -> bool:
    """Whether ``policy`` answers every question a solve under ``previous`` asked
    (so far) as ``previous`` did; ``policy`` must be compiled with ``previous``.

    Asks ``policy`` the reach of every source class ``previous`` was asked about
    (each answer kept in ``policy``'s memo, where a solve would put it) and the
    decisions of the credential-carrying traffic flows.
    """
    if (
        policy.classes is not previous.classes
        or policy.targets is not previous.targets
        or policy.lowered is not None
        or previous.lowered is not None
        or policy.mfa != previous.mfa
        or policy.encrypt_in_transit != previous.encrypt_in_transit
        # Egress is judged from its section alone (rules in order, layers, default)
        # and the classes, the same here.
        or policy.loaded.model.egress != previous.loaded.model.egress
    ):
        return False
    return _same_reach(previous, policy) and _same_sniffable(previous, policy)


def _same_reach(previous: CompiledPolicy, policy: CompiledPolicy) -> bool:
    """Every source class (or external zone) ``previous`` reached from: the same groups."""
    reach_of = policy.reach_of
    return all(reach_of(key) == mask for key, mask in previous.asked_reach().items())


def _same_sniffable(previous: CompiledPolicy, policy: CompiledPolicy) -> bool:
    """The same credential-carrying traffic flows allowed (what rule 6 may sniff)."""
    for t in policy.topology.model.traffic:
        if t.credential is None:
            continue
        old = previous.traffic(t.source, t.to, t.service)
        if policy.traffic(t.source, t.to, t.service).allowed != old.allowed:
            return False
    return True
