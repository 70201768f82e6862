"""The ``turbosec`` console script: a light dispatcher in front of the full CLI.

Commands that run in deploy steps or on every log line pay for their start-up each time.
For those (``verify``), a plain invocation is handled by a small parser that imports only
what the command needs; anything else (help, global options, mistakes) goes to the Typer
application in :mod:`turbosec.cli.main`, which behaves the same.
"""

from __future__ import annotations

import sys


def entry() -> None:
    args = sys.argv[1:]
    if args[:1] == ["verify"]:
        from turbosec.cli.verify_run import fast_verify

        code = fast_verify(args[1:])
        if code is not None:
            sys.exit(code)
    from turbosec.cli.main import run

    sys.exit(run(args))
