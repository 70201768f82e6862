"""The ``turbosec`` console script: a light dispatcher in front of the full CLI.

Commands that run in deploy steps or on every log line pay for their start-up each time.
For those (``verify``, ``watch test``), a plain invocation is handled by a small parser
that imports only what the command needs; anything else (help, other options, mistakes)
goes to the Typer application in :mod:`turbosec.cli.main`, which behaves the same.
"""

from __future__ import annotations

import sys


def entry() -> None:
    args = sys.argv[1:]
    code: int | None = None
    if args[:1] == ["verify"]:
        from turbosec.cli.verify_run import fast_verify

        code = fast_verify(args[1:])
    elif "watch" in args[:4] and "test" in args[:5]:  # global flags may come first
        from turbosec.watch.testcmd import quick_main

        code = quick_main(args)
    if code is not None:
        sys.exit(code)
    from turbosec.cli.main import run

    sys.exit(run(args))
