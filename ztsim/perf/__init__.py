"""Plumbing that exists only for speed and decides nothing.

The fast YAML builder, forking, prefetching, split parsing, the parse cache,
incremental re-parsing, garbage-collector settings, profiling, validation by
shared object.  Each fast path here has a slow twin it is tested against;
deleting this package's effects would change timings, never a verdict.  It
imports only :mod:`ztsim.model` and :mod:`ztsim.inputs.positions`.
"""
