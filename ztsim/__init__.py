"""ztsim: a zero-trust egress and segmentation policy simulator.

The core (this package minus :mod:`ztsim.tui`) is headless: it never imports
Textual.  Typical use::

    from ztsim import analyze, load_topology, load_policies
    analysis = analyze(load_topology("topologies/pajemploi.yaml"), load_policies(["policies/"]))
    print(analysis.exit_code)
"""

from __future__ import annotations

from ztsim._version import __version__
from ztsim.analysis.analyze import analyze
from ztsim.analysis.judged import Analysis
from ztsim.inputs.loader import load_policies, load_policy, load_topology
from ztsim.model.diagnostics import Diagnostic, InputError

__all__ = [
    "Analysis",
    "Diagnostic",
    "InputError",
    "__version__",
    "analyze",
    "load_policies",
    "load_policy",
    "load_topology",
]
