"""The `conformance` command: serve the reference server, run the suite, list the rules."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

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
    serve(args.host, args.port, fault=args.fault, variation=args.variation, api_key=args.api_key)
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
    )


def _clients(args: argparse.Namespace, extra: list[str]) -> int:
    from conformance._cli_clients import install, listing

    return install() if args.action == "install" else listing()


def _add_check(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check",
        help="judge recorded streams offline (raw SSE, curl -i output, HAR)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="recorded stream(s)")
    check.add_argument(
        "--profile", default=DEFAULT_PROFILE, help="rule profile: alphaedge, openai or mistral"
    )
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument(
        "--show-text",
        action="store_true",
        help="print each choice's reassembled message and tool calls",
    )
    check.add_argument(
        "--fail-on",
        default="must",
        type=_fail_on,
        help="must (default): MUST findings fail; should: SHOULD findings fail too; "
        "clients: a client library's mis-reading fails too (comma-separated)",
    )
    check.add_argument(
        "--clients",
        action="store_true",
        help="replay each recording through the installed client libraries "
        "(see `conformance clients`) and report where one reads it differently",
    )
    check.set_defaults(func=_check)


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
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the built-in reference server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--fault", help="serve with a named fault (see `conformance faults`)")
    serve.add_argument("--variation", help="serve a legal variation of the framing")
    serve.add_argument(
        "--api-key", help="answer 401 to requests without 'Authorization: Bearer KEY'"
    )
    serve.set_defaults(func=_serve)

    faults = commands.add_parser("faults", help="list the reference server's faults")
    faults.set_defaults(func=_faults)

    rules = commands.add_parser("rules", help="list every rule with its level")
    rules.add_argument("-v", "--verbose", action="store_true", help="also print the sentence")
    rules.add_argument("--markdown", action="store_true", help="print the README's table")
    rules.set_defaults(func=_rules)

    run = commands.add_parser(
        "run",
        help="run the suite and write the reports (pytest arguments may follow)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--target-url", help="API base URL; default: start the built-in server")
    run.add_argument("--model", help="model to request")
    run.add_argument("--profile", default=DEFAULT_PROFILE)
    run.add_argument("--out", default="reports", help="directory for the reports")
    run.add_argument(
        "--fail-on",
        type=_fail_on,
        help="must (default): MUST findings fail; should: SHOULD findings fail too "
        "[env CONFORMANCE_FAIL_ON]",
    )
    run.add_argument("--baseline", help="file of known-failing rule ids")
    run.set_defaults(func=_run)
    _add_check(commands)

    clients = commands.add_parser(
        "clients",
        help="list the client libraries --clients replays through "
        "(`conformance clients install`: install the pinned JavaScript ones with npm ci)",
    )
    clients.add_argument("action", nargs="?", choices=("list", "install"), default="list")
    clients.set_defaults(func=_clients)

    verify = commands.add_parser(
        "verify-report",
        help="check a JSON certificate against "
        "its schema and its sha256 digest (a digest, not a signature)",
    )
    verify.add_argument("file", help="the certificate (.json) written by `conformance run`")
    verify.set_defaults(func=_verify_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `conformance` console script and `python -m conformance`."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.func(args, extra))
    except KeyboardInterrupt:
        return 130
    except Exception:  # a bug in the suite: say so, keep the traceback, exit 4
        return _internal_error()


def _internal_error() -> int:
    import tempfile
    import time
    import traceback

    path = Path(tempfile.gettempdir()) / f"conformance-crash-{time.strftime('%Y%m%dT%H%M%S')}.txt"
    try:
        path.write_text(traceback.format_exc(), encoding="utf-8")
        where = f"the traceback is in {path}"
    except OSError:
        where = "the traceback could not be saved"
    print(f"conformance: this is a bug in the suite ({where}); please report it", file=sys.stderr)
    return Exit.INTERNAL
