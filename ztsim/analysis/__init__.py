"""The headless facade the CLI, the TUI and the pytest helpers share: judge a
scenario (:func:`ztsim.analysis.analyze.analyze`) and re-judge it as files change
(:class:`ztsim.analysis.workspace.Workspace`).
"""
