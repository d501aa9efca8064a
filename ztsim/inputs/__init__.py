"""Where a file is read and checked: YAML/JSON documents with their positions,
validation into :mod:`ztsim.model`, reference checks, topologies, policies, assertions.
"""
