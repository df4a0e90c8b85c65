"""The ``python -m asgibridge`` command line: ``check``, ``run`` and ``doctor``.

``check pkg.module:app [--json]``: exit status 0 when the app passed every
scenario (warnings, i.e. violations every major server tolerates, do not fail
it unless ``--strict``), 1 when there was an error violation, an app error or a
timeout, 2 when the command could not run (bad arguments, the app could not be
imported). ``run -- CMD [ARGS...]`` and ``doctor``: see `asgibridge._activation`
(this module only dispatches).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from ._errors import with_notes

__all__ = ("main",)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m asgibridge",
        description="asgibridge tools.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check",
        help="run an ASGI app through lifespan, HTTP and websocket scenarios under the "
        "spec validator",
        description="Run an ASGI app (lifespan; GET, HEAD, streamed POST, a client "
        "disconnect; a websocket connect) under the ASGI spec validator and report "
        "every violation with its rule id and spec section.",
    )
    check.add_argument("app", help="the app to check, as pkg.module:attribute")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--path", default="/", help="HTTP path to request (default: /)")
    check.add_argument(
        "--ws-path", default=None, help="websocket path to connect to (default: --path)"
    )
    check.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="RULE",
        help="a rule id (or prefix*) not to report; may be repeated",
    )
    check.add_argument(
        "--strict",
        action="store_true",
        help="fail on warnings too (violations of the spec's letter that servers tolerate, "
        "e.g. mixed-case response header names)",
    )
    check.add_argument(
        "--host",
        default=None,
        help="the Host header of the check's requests (default: one Django's ALLOWED_HOSTS "
        "accepts when the app is a Django project, else testserver)",
    )
    check.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds each scenario may take before it is cancelled (default: 10)",
    )
    commands.add_parser(
        "run",
        help="run a command (uvicorn, daphne, gunicorn, pytest, manage.py, -m module) in "
        "this process with asgibridge installed as asgiref",
        description="Install asgibridge as asgiref, then run CMD as if started directly "
        "(same process, argv, exit status and signals). Children that re-execute Python "
        "get ASGIBRIDGE_AS_ASGIREF=1.",
        usage="python -m asgibridge run -- CMD [ARGS...]",
    )
    doctor = commands.add_parser(
        "doctor",
        help="show which package serves 'import asgiref' and why",
        description="Report which package serves 'import asgiref' in this environment, "
        "through which activation path, the versions, and any real asgiref loaded "
        "alongside. Exit status 0 when asgibridge serves asgiref, else 1.",
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        0 (clean, or warnings only without ``--strict``), 1 (error violations,
        app errors or timeouts) or 2 (could not run).

    Example:
        >>> main(["check", "no_such_module_here:app"])  # doctest: +SKIP
        2
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["run"]:  # everything after "run" belongs to the command
        from ._activation.launcher import main as run

        return run(arguments[1:])
    args = _parser().parse_args(arguments)
    if args.command == "doctor":
        from ._activation.doctor import main as doctor

        return doctor(as_json=args.json)
    from ._asgi.check.scenarios import load_app, run_check

    try:
        app = load_app(args.app)
    except (ImportError, AttributeError) as exc:
        print(f"asgibridge check: cannot load {args.app!r}: {with_notes(exc)}", file=sys.stderr)
        return 2
    try:
        result = run_check(
            app,
            path=args.path,
            websocket_path=args.ws_path,
            timeout=args.timeout,
            target=args.app,
            ignore=args.ignore,
            host=args.host,
            strict=args.strict,
        )
    except ValueError as exc:  # an --ignore pattern that names no rule
        print(f"asgibridge check: {with_notes(exc)}", file=sys.stderr)
        return 2
    text = json.dumps(result.as_dict(), indent=2) if args.json else result.format()
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head`: the reader left early; no traceback for that
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the flush at exit would raise again
    return 0 if result.ok else 1
