"""Packaging glue: ship topologies/ and policies/ inside the wheel as package data.

`topologies/`, `policies/` and `assertions/` at the repository root stay the editable
source of truth; this maps them to `ztsim/scenarios/...` in the built package so that
`ztsim tui` finds the bundled Pajemploi scenario after a plain `pip install`, and
`ztsim init` copies a whole scenario (topology, policies, assertions).
Everything else is configured in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["ztsim", "ztsim.*"]),
        "ztsim.scenarios.topologies",
        "ztsim.scenarios.policies",
        "ztsim.scenarios.assertions",
    ],
    package_dir={
        "ztsim.scenarios.topologies": "topologies",
        "ztsim.scenarios.policies": "policies",
        "ztsim.scenarios.assertions": "assertions",
    },
    package_data={
        "ztsim": ["py.typed", "tui/*.tcss", "data/*.yaml"],
        "ztsim.scenarios.topologies": ["*.yaml"],
        "ztsim.scenarios.policies": ["*.yaml", "*/*.yaml"],
        "ztsim.scenarios.assertions": ["*.yaml"],
    },
)
