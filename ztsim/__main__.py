"""``python -m ztsim`` runs the command line."""

from ztsim.cli.main import entry

entry()
