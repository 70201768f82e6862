"""The ``turbosec`` command line: thin modules that parse arguments, call a capability, render."""
