"""The `conformance` command: serve the reference server, run the suite, list the rules."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from conformance._model import DEFAULT_PROFILE, Exit

EXIT_OK, EXIT_USAGE = Exit.OK, Exit.USAGE
EXIT_CODES = """exit status:
  0  certified (run); every recording conformant (check)
  1  not certified: a MUST finding (or SHOULD with --fail-on should); a recording not conformant
  2  a set-up or usage error: unreachable target, refused API key, wrong base URL, unknown
     model, bad option; an unreadable recording
  3  incomplete: what ran passed, but a MUST rule was not exercised or not selected (a -k run)
  4  an internal error: a bug in the suite (the traceback is saved to a file)"""


def _serve(args: argparse.Namespace, extra: list[str]) -> int:
    from conformance.server import FAULTS, VARIATIONS, serve

    if args.fault and args.fault not in FAULTS:
        print(f"unknown fault {args.fault!r}; known: {', '.join(sorted(FAULTS))}", file=sys.stderr)
        return EXIT_USAGE
    if args.variation and args.variation not in VARIATIONS:
        print(
            f"unknown variation {args.variation!r}; known: {', '.join(sorted(VARIATIONS))}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        serve(
            args.host, args.port, fault=args.fault, variation=args.variation, api_key=args.api_key
        )
    except OSError as exc:  # the port is taken, the host is not ours
        print(f"conformance serve: cannot listen on {args.host}:{args.port}: "
              f"{exc.strerror or exc}", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    return EXIT_OK


def _faults(args: argparse.Namespace, extra: list[str]) -> int:
    from conformance.server import FAULTS, VARIATIONS

    for fault in FAULTS.values():
        print(f"fault      {fault.name:28} breaks {fault.rule_id:30} {fault.description}")
    for variation in VARIATIONS.values():
        print(f"variation  {variation.name:28} (legal) {variation.description}")
    return EXIT_OK


def _rules(args: argparse.Namespace, extra: list[str]) -> int:
    from conformance.rules import REGISTRY

    if args.markdown:
        print(rules_markdown())
        return EXIT_OK
    members = _profile_members()
    for rule in REGISTRY:
        needs = f" (needs {', '.join(sorted(rule.needs))})" if rule.needs else ""
        only = f" [{', '.join(members[rule.id])} only]" if members[rule.id] else ""
        print(f"{rule.id:30} {rule.level:6} {rule.scope:10} {rule.title}{needs}{only}")
        if args.verbose:
            print(f"{'':30} {rule.source}: {rule.sentence}")
    checked = sum(1 for rule in REGISTRY if callable(rule.check))
    print(f"{len(REGISTRY)} rules, {checked} with a check function")
    return EXIT_OK


def _profile_members() -> dict[str, list[str]]:
    """Per rule id, the profiles that have it when some profiles leave it out, else []."""
    from conformance._profiles import load_profile, profile_names
    from conformance.rules import REGISTRY

    profiles = [load_profile(name) for name in profile_names()]
    members = {}
    for rule in REGISTRY:
        having = [p.name for p in profiles if rule.id in p.rule_ids]
        members[rule.id] = [] if len(having) == len(profiles) else having
    return members


def rules_markdown() -> str:
    """The README's rule table: id, level, what it checks, and where the rule comes from."""
    from conformance.rules import REGISTRY

    members = _profile_members()
    rows = ["| rule | level | requirement | source |", "| --- | --- | --- | --- |"]
    for rule in REGISTRY:
        live = " (live only)" if "live" in rule.needs else ""
        only = f" ({', '.join(members[rule.id])})" if members[rule.id] else ""
        rows.append(f"| `{rule.id}` | {rule.level} | {rule.title}{live}{only} | {rule.source} |")
    return "\n".join(rows)


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    from conformance._cli_run import run

    return run(args, extra)


def _verify_report(args: argparse.Namespace, extra: list[str]) -> int:
    from pathlib import Path

    from conformance._report._certificate import verify_file

    code, message = verify_file(Path(args.file))
    print(message, file=sys.stdout if code == EXIT_OK else sys.stderr)
    return code


def _check(args: argparse.Namespace, extra: list[str]) -> int:
    from conformance._cli_check import check_files

    return check_files(
        args.paths,
        profile=args.profile,
        fmt=args.format,
        show_text=args.show_text,
        fail_on=args.fail_on,
        clients=args.clients,
        jobs=getattr(args, "jobs", None),
    )


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"not a number of worker processes: {text!r}")
    return jobs


def _clients(args: argparse.Namespace, extra: list[str]) -> int:
    from conformance._cli_clients import install, listing

    return install() if args.action == "install" else listing()


def _add_check(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check",
        allow_abbrev=False,
        help="judge recorded streams offline (raw SSE, curl -i output, HAR)",
        description="Judge recorded streams (raw SSE bodies, curl -i output, HAR files) with "
        "the rules\na recording can show.",
        epilog=EXIT_CODES,
        formatter_class=_Help,
    )
    check.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="recorded stream(s): files, folders (their .sse, .har, .txt, .http, .curl and .log "
        "files, subfolders included) or globs (quoted; ** for any depth)",
    )
    check.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=argparse.SUPPRESS,  # one per core, counted when needed
        metavar="N",
        help="check files in N worker processes (default: one per core); the output keeps the "
        "order of the paths",
    )
    check.add_argument(
        "--profile", default=DEFAULT_PROFILE, help="rule profile: alphaedge, openai or mistral"
    )
    check.add_argument(
        "--format", choices=("text", "json"), default="text", help="text for people, JSON for tools"
    )
    check.add_argument(
        "--show-text",
        action="store_true",
        help="print each choice's reassembled message and tool calls",
    )
    check.add_argument(
        "--fail-on",
        default="must",
        type=_fail_on,
        help="must: MUST findings fail; should: SHOULD findings fail too; clients: a client "
        "library's mis-reading fails too (comma-separated)",
    )
    check.add_argument(
        "--clients",
        action="store_true",
        help="replay each recording through the installed client libraries "
        "(see `conformance clients`) and report where one reads it differently",
    )
    check.set_defaults(func=_check)


RUN_EPILOG = """what may follow, after `--` or among the options above:
  any pytest option, e.g. -k EXPR (select tests by name), -m MARK, -x (stop at the first
  failure), -n 2 (run on two processes), -v (one line per request), --maxfail N
  (a selection that leaves a MUST rule unjudged makes the run INCOMPLETE)

every option above also reads its environment variable, then its ini value in the
pytest configuration (command line > environment > ini > default)

"""

PYTEST_OPTIONS = frozenset(
    {"-k", "-m", "-x", "-n", "-v", "-vv", "-vvv", "-q", "-s", "-p", "-W", "-r", "--tb", "-l",
     "--showlocals",
     "--maxfail", "--exitfirst", "--dist", "--durations", "--lf", "--ff"}
)  # fmt: skip
"""pytest options `conformance run` takes before `--` as well (others go after it)."""
RUN_SETS = frozenset({"--certificate", "--report-html", "--report-junit"})
"""Plugin options `conformance run` sets itself (it names the report files)."""


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help that shows each option's default, and keeps the epilog's lines."""


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from conformance._options import HEADER_HELP, OPTIONS

    run = commands.add_parser(
        "run",
        allow_abbrev=False,
        help="run the suite and write the reports (pytest arguments may follow)",
        description="Certify a target (by default the built-in reference server): run the "
        "suite through pytest,\nwrite the HTML report, the JSON certificate and JUnit XML.",
        epilog=RUN_EPILOG + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--out", default="reports", help="directory for the reports (default: reports)"
    )
    for option in OPTIONS:
        if option.flag in RUN_SETS:
            continue
        shown = option.shown or _shown(option.default)
        if option.flag == "--target-url":
            shown = "start the built-in reference server"
        what = f"{option.help} {option.env_help()}"
        if option.is_flag:
            run.add_argument(option.flag, action="store_true", default=None, help=what)
        else:
            run.add_argument(option.flag, default=None, metavar=option.dest.upper(),
                             help=f"{what} (default: {shown})")  # fmt: skip
    run.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                     help=HEADER_HELP)  # fmt: skip
    run.set_defaults(func=_run)


def _shown(value: object) -> str:
    from conformance._model import Policy

    if isinstance(value, Policy):
        return value.fail_on
    if value is None:
        return "none"
    return str(value)


def _fail_on(value: str) -> str:
    from conformance._model import Policy

    try:
        return Policy.parse(value).fail_on
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conformance",
        description=(
            "Conformance suite for streaming chat-completion APIs (SSE chat.completion.chunk)."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    from conformance import __version__

    parser.add_argument("--version", action="version", version=f"conformance {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        allow_abbrev=False,
        help="run the built-in reference server",
        description="Serve the reference implementation of the documented endpoint until "
        "interrupted;\neach fault and variation is also served under /fault/NAME/v1 and "
        "/variation/NAME/v1.",
        formatter_class=_Help,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free)")
    serve.add_argument("--fault", help="serve with a named fault (see `conformance faults`)")
    serve.add_argument("--variation", help="serve a legal variation of the framing")
    serve.add_argument(
        "--api-key", help="answer 401 to requests without 'Authorization: Bearer KEY'"
    )
    serve.set_defaults(func=_serve)

    faults = commands.add_parser(
        "faults",
        allow_abbrev=False,
        help="list the reference server's faults",
        description="List the reference server's faults (each breaks one rule) and legal "
        "variations.",
    )
    faults.set_defaults(func=_faults)

    rules = commands.add_parser(
        "rules",
        allow_abbrev=False,
        help="list every rule with its level",
        description="List every rule: id, level, scope, what it requires.",
        formatter_class=_Help,
    )
    rules.add_argument("-v", "--verbose", action="store_true", help="also print the sentence")
    rules.add_argument("--markdown", action="store_true", help="print the README's table")
    rules.set_defaults(func=_rules)

    _add_run(commands)
    _add_check(commands)

    clients = commands.add_parser(
        "clients",
        allow_abbrev=False,
        help="list the client libraries --clients replays through "
        "(`conformance clients install`: install the pinned JavaScript ones with npm ci)",
        formatter_class=_Help,
    )
    clients.add_argument(
        "action",
        nargs="?",
        choices=("list", "install"),
        default="list",
        help="list: what is available; install: the pinned npm packages into a cache folder",
    )
    clients.set_defaults(func=_clients)

    verify = commands.add_parser(
        "verify-report",
        allow_abbrev=False,
        help="check a JSON certificate against "
        "its schema and its sha256 digest (a digest, not a signature)",
        description="Check a certificate against schemas/certificate.json and recompute its "
        "sha256 digest:\nexit 0 when both hold, 1 when not, 2 when it cannot be read.",
    )
    verify.add_argument("file", help="the certificate (.json) written by `conformance run`")
    verify.set_defaults(func=_verify_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `conformance` console script and `python -m conformance`."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    unknown = _unknown(args.command, extra)
    if unknown:
        print(f"conformance {args.command}: {unknown}", file=sys.stderr)
        return Exit.USAGE
    try:
        return int(args.func(args, extra))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as SIGPIPE would
        _silence_stdout()
        return 128 + 13
    except Exception:  # a bug in the suite: say so, keep the traceback, exit 4
        return _internal_error()


def _unknown(command: str, extra: list[str]) -> str:
    """Why the arguments left over are wrong (empty: they are not): an unknown option, with
    the closest known one. `conformance run` passes pytest options on to pytest."""
    before = extra[: extra.index("--")] if "--" in extra else extra
    if command == "run":
        before = [a for a in before if not _pytest_option(a)]
    for argument in before:
        if not argument.startswith("-") and command == "run":
            continue
        name = argument.split("=", 1)[0]
        known = sorted(_known_options(command) | (PYTEST_OPTIONS if command == "run" else set()))
        import difflib  # an unknown argument only

        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        tail = " (other pytest options go after --)" if command == "run" else ""
        what = "option" if argument.startswith("-") else "argument"
        return f"unknown {what} {name}{hint}{tail}"
    return ""


def _pytest_option(argument: str) -> bool:
    name = argument.split("=", 1)[0]
    return name in PYTEST_OPTIONS or (len(name) > 2 and name[:2] in ("-r", "-W", "-p", "-k", "-m"))


def _known_options(command: str) -> set[str]:
    parser = _parser()
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        choice = getattr(action, "choices", {}).get(command)
        if choice is not None:
            return {s for a in choice._actions for s in a.option_strings}
    return set()


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that flushing it at exit cannot fail again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _internal_error() -> int:
    where = saved_traceback()
    print(f"conformance: this is a bug in the suite ({where}); please report it", file=sys.stderr)
    return Exit.INTERNAL


def saved_traceback() -> str:
    """Save the traceback of the exception being handled to a file of its own in the temporary
    folder (never printed); say where, for the message that asks for a bug report."""
    import os
    import tempfile
    import time
    import traceback

    try:
        handle, name = tempfile.mkstemp(
            prefix=f"conformance-crash-{time.strftime('%Y%m%dT%H%M%S')}-", suffix=".txt"
        )
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(traceback.format_exc())
    except OSError:
        return "the traceback could not be saved"
    return f"the traceback is in {name}"
