"""The panes of the TUI, one widget per module."""
