"""``python -m ztsim`` runs the command line."""

from ztsim.cli import entry

entry()
