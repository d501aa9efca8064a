"""One module per ``ztsim`` command; each has ``register(subparsers)`` and may set ``ORDER``."""
