"""The conformance options, shared by the pytest plugin and `conformance run`: each with its
help, default, environment variable and ini twin. Standard library only: the CLI builds its
help from these without importing pytest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance._budget import DEFAULT_MAX_REQUESTS
from conformance._model import DEFAULT_PROFILE, Policy

GROUP = "conformance"
DEFAULT_MODEL = "alphaedge-large-3-2512"


@dataclass(frozen=True, slots=True)
class Option:
    """One command-line option with its environment-variable and ini twins."""

    flag: str
    help: str
    default: Any = None
    convert: Callable[[str], Any] = str
    is_flag: bool = False
    shown: str = ""  # the default as a person reads it (when `default` is in other units)
    also_env: str = ""  # a second environment variable, read after the first

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env(self) -> str:
        return "CONFORMANCE_" + self.dest.upper()

    @property
    def envs(self) -> tuple[str, ...]:
        """The environment variables it reads, in order."""
        return (self.env, self.also_env) if self.also_env else (self.env,)

    def env_help(self) -> str:
        """`[env NAME]` or `[env NAME or OTHER]` for a help text."""
        return f"[env {' or '.join(self.envs)}]"


def _mib(value: str) -> int:
    return int(float(value) * 1024 * 1024)


def _at_least(value: float, floor: float) -> float:
    if not value >= floor:  # NaN too
        raise ValueError(f"must be at least {floor:g}")
    return value


TRUE = ("1", "true", "yes", "on")
"""What sets a flag from the environment or an ini file."""


def _yes(value: str) -> bool:
    return value.lower() in TRUE


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


CERTIFICATE = Option("--certificate", "Write the JSON certificate of the run to this file.")
REPORT_HTML = Option(
    "--report-html", "Write the HTML report of the run (one self-contained page) to this file."
)
REPORT_JUNIT = Option(
    "--report-junit",
    "Write JUnit XML with a test case per rule (and per test) to this file, for CI dashboards.",
)
BASELINE = Option(
    "--baseline",
    "File of known-failing rule ids (one per line or a YAML "
    "list): failures within it pass; an entry that now passes fails the run.",
)

OPTIONS = (
    Option(
        "--target-url",
        "Base URL of the API under test, e.g. https://api.example.com/v1; "
        "requests go to {base}/chat/completions.",
    ),
    Option(
        "--api-key",
        "API key sent as a bearer token; never written to any output.",
        also_env="ALPHAEDGE_API_KEY",
    ),
    Option("--model", "Model to request.", DEFAULT_MODEL),
    Option("--profile", "Rule profile (the documented API by default).", DEFAULT_PROFILE),
    Option("--target-timeout", "Idle read timeout in seconds.", 30.0, float),
    Option("--deadline", "Whole-stream deadline in seconds.", 120.0, float),
    Option("--max-events", "Most events read from one stream.", 100_000, int),
    Option(
        "--max-bytes", "Most MiB read from one response body.", 64 * 1024 * 1024, _mib, shown="64"
    ),
    Option("--max-line", "Longest SSE line accepted, in MiB.", 1024 * 1024, _mib, shown="1"),
    Option(
        "--property-examples",
        "Requests each hypothesis property sends (a paid target is billed for each).",
        10,
        int,
    ),
    Option("--concurrency", "Streams the concurrency test opens at once.", 8, _positive),
    Option(
        "--max-requests",
        "Most requests the whole run sends to the target, shrinking included (a paid target "
        "is billed for each): tests that do not fit are not run, the hypothesis properties "
        "share what the others leave.",
        DEFAULT_MAX_REQUESTS,
        _positive,
    ),
    Option(
        "--no-shrink",
        "Report a failing property example as found, without the extra "
        "requests hypothesis sends to shrink it to a minimal one.",
        False,
        _yes,
        is_flag=True,
    ),
    Option(
        "--insecure",
        "Do not verify the target's TLS certificate (loudly reported).",
        False,
        _yes,
        is_flag=True,
    ),
    Option("--ca-bundle", "CA bundle file used to verify the target's TLS certificate."),
    Option(
        "--fail-on",
        "What fails a test and the run: must (MUST findings; SHOULD findings are warnings), "
        "should (SHOULD findings fail too) or clients (a client library's mis-reading fails "
        "too); comma-separated.",
        Policy(),
        Policy.parse,
    ),
    Option(
        "--no-preflight",
        "Skip the one valid request sent before the suite to catch set-up mistakes "
        "(unreachable target, refused key, wrong base URL, unknown model).",
        False,
        _yes,
        is_flag=True,
    ),
    Option(
        "--clients",
        "Replay every judged stream through the installed client libraries (openai, "
        "httpx-sse; openai-node and the Vercel AI SDK after `conformance clients install`) "
        "and report where one reads it differently (client.* rules).",
        False,
        _yes,
        is_flag=True,
    ),
    CERTIFICATE,
    REPORT_HTML,
    REPORT_JUNIT,
    BASELINE,
    Option(
        "--budget",
        "Seconds the whole run may spend on the target; requests still due when it is spent "
        "are not sent (their tests end without a verdict).",
        600.0,
        lambda v: _at_least(float(v), 1.0),
        shown="600",
    ),
    Option(
        "--unresponsive-after",
        "Transport failures in a row (no answer in time, a reset, no HTTP) after which the "
        "target is unresponsive and the run sends nothing more.",
        3,
        _positive,
    ),
)

HEADER_HELP = "Extra request header 'Name: value' (repeatable); its value is never written out."
