"""``python -m ztsim`` runs the command line."""

import sys

from ztsim.cli import main

sys.exit(main())
