"""The screens of the TUI: the main screen and the help screen."""
