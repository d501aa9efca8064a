"""AWS estates in: ``describe-*`` JSON and Terraform plans (issue 28, layer ``inputs``).

The readers build the frozen objects of :mod:`ztsim.inputs.aws.objects`, each
with its FILE:LINE:COL; :mod:`ztsim.inputs.aws.compile` maps them to ztsim's
topology and layered policy drafts (the Kubernetes import's
:class:`~ztsim.inputs.k8s.drafts.TopologyDraft` and
:class:`~ztsim.inputs.k8s.drafts.PolicyDraft`).
"""

from __future__ import annotations

from ztsim.inputs.aws.objects import Estate

__all__ = ["Estate"]
