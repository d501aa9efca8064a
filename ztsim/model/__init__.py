"""The spec's vocabulary (``model-v1.md``), with no I/O: the schema, techniques, diagnostics.

Everything else imports from here; this layer imports nothing of ztsim's.
"""
