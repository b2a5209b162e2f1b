"""The pytest plugin: options, the suite's collection, fixtures, and the verdict's reporting.

Loaded through the `pytest11` entry point by every pytest run where the suite is installed,
so it imports nothing heavy at module level. With a target given on the command line
(`--target-url`) or in the environment (`CONFORMANCE_TARGET_URL`) and no paths, pytest runs
exactly the conformance suite: the packaged `suite/` tests and the YAML `cases/`. (A
`target_url` ini value sets the target of the tests that do run, but does not replace the
paths pytest collects: a project's own ini keeps its own `testpaths`.)
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conformance._budget import DEFAULT_MAX_REQUESTS
from conformance._model import DEFAULT_PROFILE, Policy
from conformance._options import (
    BASELINE,
    CERTIFICATE,
    GROUP,
    HEADER_HELP,
    OPTIONS,
    REPORT_HTML,
    REPORT_JUNIT,
    Option,
)

if TYPE_CHECKING:
    from conformance._budget import Demand, Meter
    from conformance._cases import Case
    from conformance._client import Client, Target, TimeBudget
    from conformance._outcome import Outcome


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "streaming chat-completion conformance")
    for option in OPTIONS:
        if option.is_flag:
            help_text = f"{option.help} {option.env_help()}"
            group.addoption(option.flag, action="store_true", default=None, help=help_text)
        else:
            group.addoption(
                option.flag,
                default=None,
                help=f"{option.help} {option.env_help()} [ini {option.dest}]",
            )
        parser.addini(option.dest, option.help, default=None)
    group.addoption(
        "--header",
        action="append",
        default=[],
        metavar="'Name: value'",
        help=HEADER_HELP,
    )


def _resolve(config: pytest.Config, option: Option) -> Any:
    """CLI > environment > ini > default; a bad value names where it came from."""
    for source, raw in (
        (option.flag, config.getoption(option.dest)),
        *((f"${env}", os.environ.get(env)) for env in option.envs),
        (f"ini {option.dest}", config.getini(option.dest)),
    ):
        if raw is None or raw in ("", []):
            continue
        if isinstance(raw, bool):
            return raw
        try:
            return option.convert(str(raw))
        except ValueError as exc:
            raise pytest.UsageError(f"{source}: invalid value {raw!r}: {exc}") from exc
    return option.default


def suite_paths() -> list[str]:
    """The packaged suite tests and case files pytest collects for a target."""
    from conformance._schemas import resource_dir

    return [str(Path(__file__).parent / "suite"), str(resource_dir("cases"))]


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    namespace = early_config.known_args_namespace
    target = getattr(namespace, "target_url", None) or os.environ.get("CONFORMANCE_TARGET_URL")
    if target and not namespace.file_or_dir:
        args.extend(suite_paths())


@dataclass(frozen=True, slots=True)
class Settings:
    """The resolved conformance options of one pytest run."""

    target: Target | None
    policy: Policy
    property_examples: int
    insecure: bool
    concurrency: int = 8
    shrink: bool = True
    preflight: bool = True
    max_requests: int = DEFAULT_MAX_REQUESTS


def _headers(config: pytest.Config) -> tuple[tuple[str, str], ...]:
    headers = []
    for raw in config.getoption("header") or []:
        name, sep, value = raw.partition(":")
        if not sep or not name.strip():
            raise pytest.UsageError(f"--header {raw.split(':')[0]!r}...: expected 'Name: value'")
        headers.append((name.strip(), value.strip()))
    return tuple(headers)


def build_settings(config: pytest.Config) -> Settings:
    """Resolve every option into Settings (raising UsageError on a bad value)."""
    from conformance._client import Target
    from conformance._model import Limits

    values = {o.dest: _resolve(config, o) for o in OPTIONS}
    limits = Limits(
        idle_timeout=values["target_timeout"],
        deadline=values["deadline"],
        max_events=values["max_events"],
        max_bytes=values["max_bytes"],
        max_line=values["max_line"],
    )
    verify: bool | str = values["ca_bundle"] or True
    if values["insecure"]:
        verify = False
    target = None
    if values["target_url"]:
        _check_url(values["target_url"])
        _check_profile(values["profile"])
        target = Target(
            values["target_url"],
            values["model"],
            values["api_key"],
            _headers(config),
            verify,
            limits,
            values["profile"],
            _replay_spool(config) if values["clients"] else None,
            _time_budget(config, values["budget"], values["unresponsive_after"]),
        )
    return Settings(
        target,
        values["fail_on"],
        values["property_examples"],
        values["insecure"],
        values["concurrency"],
        not values["no_shrink"],
        not values["no_preflight"],
        values["max_requests"],
    )


STARTED = "conformance_started"
"""The key of the run's start (wall clock) in an xdist worker's input: one budget per run."""


def _time_budget(config: pytest.Config, seconds: float, unresponsive_after: int) -> TimeBudget:
    from conformance._client import TimeBudget

    started = getattr(config, "workerinput", {}).get(STARTED)
    budget = TimeBudget(seconds, unresponsive_after)
    if started is not None:
        budget.started = float(started)
    return budget


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, on the controller: every worker counts the budget from the run's start."""
    target = node.config.stash[SETTINGS].target
    if target is not None and target.time_budget is not None:
        node.workerinput[STARTED] = target.time_budget.started


def _replay_spool(config: pytest.Config) -> str:
    """The folder where this run's streams wait for client replay: made by the controller,
    inherited by pytest-xdist workers through the environment, removed at the end."""
    from conformance._replay._spool import SPOOL_ENV

    folder = os.environ.get(SPOOL_ENV)
    if folder and hasattr(config, "workerinput"):
        return folder
    import tempfile

    folder = tempfile.mkdtemp(prefix="conformance-replay-")
    os.environ[SPOOL_ENV] = folder
    config.add_cleanup(lambda: _remove_spool(folder))
    return folder


def _remove_spool(folder: str) -> None:
    import shutil

    from conformance._replay._spool import SPOOL_ENV

    if os.environ.get(SPOOL_ENV) == folder:
        del os.environ[SPOOL_ENV]
    shutil.rmtree(folder, ignore_errors=True)


def _check_url(url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise pytest.UsageError(
            f"--target-url {url!r}: expected the API's base URL with its scheme, "
            "e.g. https://api.example.com/v1"
        )


def _check_profile(name: str) -> None:
    from conformance._profiles import UnknownProfileError, load_profile

    try:
        load_profile(name)
    except UnknownProfileError as exc:
        raise pytest.UsageError(f"--profile: {exc}") from None


SETTINGS = pytest.StashKey[Settings]()
OUTCOME = pytest.StashKey["Outcome"]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SETTINGS] = build_settings(config)
    config.addinivalue_line("markers", "conformance: a test of the conformance suite")
    config.addinivalue_line(
        "markers",
        "conformance_requests(fixed=0, shared=False, priority=1): the requests a suite test "
        "sends (`fixed` may be a function of the Settings and the test's parameters)",
    )
    if config.stash[SETTINGS].target is not None:
        keep_hypothesis_files_out_of_the_working_directory()
    _preflight(config)
    _register_reports(config)


def hypothesis_home() -> Path:
    """Where hypothesis keeps its files in a conformance run: a cache folder of the user's
    (`$XDG_CACHE_HOME`, else `~/.cache`), never the directory the run is started from."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "streaming-conformance" / "hypothesis"


def keep_hypothesis_files_out_of_the_working_directory() -> None:
    """Point hypothesis (its character tables and caches; the suite keeps no example
    database) at `hypothesis_home()`, unless $HYPOTHESIS_STORAGE_DIRECTORY chooses. Through
    the environment, which hypothesis reads when it first stores something (and xdist
    workers inherit): importing hypothesis here would cost a set-up error a second."""
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(hypothesis_home()))


def _preflight(config: pytest.Config) -> None:
    """On the controller, before any test: one valid request; a set-up mistake (unreachable
    target, refused key, wrong base URL, unknown model) is a usage error, not a verdict."""
    settings = config.stash[SETTINGS]
    option = config.option
    if (
        settings.target is None
        or not settings.preflight
        or hasattr(config, "workerinput")
        or getattr(option, "collectonly", False)
        or getattr(option, "help", False)
    ):
        return
    from conformance._preflight import SetupError, preflight

    try:
        preflight(settings.target)
    except SetupError as exc:
        from conformance._report._redact import Redactor

        said = Redactor(settings.target.secrets()).text(str(exc))  # the URL may hold some
        raise pytest.UsageError(f"conformance set-up error: {said}") from None


def _register_reports(config: pytest.Config) -> None:
    """On the controller of a run with a target: rule results, certificate, HTML summary."""
    settings = config.stash[SETTINGS]
    collecting = getattr(config.option, "collectonly", False)
    if settings.target is None or hasattr(config, "workerinput") or collecting:
        return
    if settings.target.replay:  # first: the replay workers start while the rest loads
        from conformance._report._clients import start_replay

        start_replay(config, settings.target.replay)
    from conformance._report._session import NAME, create

    config.pluginmanager.register(
        create(
            config,
            settings.target,
            policy=settings.policy,
            insecure=settings.insecure,
            certificate=_resolve(config, CERTIFICATE),
            baseline=_resolve(config, BASELINE),
            reach=suite_reach(settings.target.profile),
            html=_resolve(config, REPORT_HTML),
            junit=_resolve(config, REPORT_JUNIT),
        ),
        NAME,
    )


def suite_reach(profile_name: str) -> dict[str, set[str]]:
    """Every test of the suite for a profile (`file::name`) and the rules it can exercise."""
    from conformance._cases import case_files, load_cases, reach
    from conformance._profiles import load_profile
    from conformance.suite import REACH

    profile = load_profile(profile_name)
    tests = {
        f"{case.file}::{case.description}": reach(case).rules(profile)
        for path in case_files()
        for case in load_cases(path)
        if profile.runs(case.feature)
    }
    tests.update({name: test.rules(profile) for name, test in REACH.items()})
    return tests


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash[SETTINGS]
    target = settings.target
    if target is None:
        return ["conformance: no target (pass --target-url to certify an endpoint)"]
    from conformance._report._redact import Redactor

    limits = target.limits
    shown = Redactor(target.secrets()).url(target.base_url)
    lines = [
        f"conformance target: {shown} (model {target.model}, profile {target.profile})",
        f"conformance options: fail-on={settings.policy.fail_on} "
        f"timeout={limits.idle_timeout:g}s "
        f"deadline={limits.deadline:g}s max-events={limits.max_events} "
        f"max-bytes={limits.max_bytes} max-line={limits.max_line} "
        f"api-key={'set' if target.api_key else 'none'} headers={len(target.headers)} "
        f"max-requests={settings.max_requests}{_budget_options(target)}",
        *_authorization_note(target),
    ]
    if settings.insecure:
        lines.append(
            "WARNING: TLS verification is OFF (--insecure): the target is not "
            "authenticated and this run cannot certify it."
        )
    return lines


def _budget_options(target: Target) -> str:
    budget = target.time_budget
    if budget is None:
        return ""
    return f" budget={budget.seconds:g}s unresponsive-after={budget.unresponsive_after}"


def _authorization_note(target: Target) -> list[str]:
    """A line saying what became of credentials in the target URL (never silently lost)."""
    if target.url_credentials() is None:
        return []
    source = (target.authorization() or ("", ""))[0]
    if source == "the URL's credentials":
        return ["conformance: the target URL's credentials are sent as a Basic Authorization"]
    return [f"conformance: the target URL's credentials are NOT sent: {source} sets Authorization"]


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def conformance_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved conformance options."""
    return pytestconfig.stash[SETTINGS]


@pytest.fixture(scope="session")
def conformance_client(conformance_settings: Settings) -> Iterator[Client]:
    """A client bound to the target under test."""
    from conformance._client import Client

    if conformance_settings.target is None:
        pytest.skip("no conformance target: pass --target-url")
    with Client(conformance_settings.target) as client:
        yield client


@pytest.fixture
def conformance_budget(request: pytest.FixtureRequest) -> Meter:
    """The requests this test may still send (see `--max-requests`)."""
    from conformance._budget import Meter

    return Meter(request.node.stash.get(ALLOWANCE, 0))


# -- the request budget -------------------------------------------------------------------

ALLOWANCE = pytest.StashKey[int]()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Allot each conformance test its requests within `--max-requests`, less the pre-flight
    request (the same way on every xdist worker); a test that does not fit is skipped,
    saying why."""
    settings = config.stash[SETTINGS]
    if settings.target is None:
        return
    from conformance._budget import allot

    planned = [(item, demand) for item in items if (demand := _demand(item, settings))]
    total = settings.max_requests - (1 if settings.preflight else 0)  # the pre-flight request
    allowances = allot([demand for _, demand in planned], total)
    for (item, _), allowance in zip(planned, allowances, strict=True):
        if allowance is None:
            reason = f"not run: the --max-requests budget ({settings.max_requests}) is spent"
            item.add_marker(pytest.mark.skip(reason=reason))
        else:
            item.stash[ALLOWANCE] = allowance


def _demand(item: pytest.Item, settings: Settings) -> Demand | None:
    from conformance._budget import Demand

    if isinstance(item, CaseItem):
        return Demand(fixed=item.case.repeat, priority=0)
    marker = item.get_closest_marker("conformance_requests")
    if marker is None:
        return None
    fixed = marker.kwargs.get("fixed", 0)
    if callable(fixed):
        callspec = getattr(item, "callspec", None)
        fixed = fixed(settings, dict(callspec.params) if callspec else {})
    shared = bool(marker.kwargs.get("shared", False))
    return Demand(int(fixed), shared, int(marker.kwargs.get("priority", 1)))


# -- verdicts -------------------------------------------------------------------------------


def judge(item: pytest.Item, outcome: Outcome) -> None:
    """Record what a test established on the item (for the reports); raise if a finding
    fails it under the run's policy. SHOULD findings that do not fail are shown as warnings."""
    from conformance._outcome import ConformanceFailure

    policy = item.config.stash[SETTINGS].policy
    item.stash[OUTCOME] = outcome
    failing = outcome.failing(policy)
    warnings = [(n, f) for n, f in outcome.located() if not policy.fails(f)]
    if warnings:
        from conformance._render import render_failure

        item.add_report_section("call", "SHOULD warnings", render_failure(outcome, warnings))
        item.user_properties.append(("should_warnings", [f.rule_id for _, f in warnings]))
    if failing:
        raise ConformanceFailure(outcome, failing)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the test's evidence to its report (it travels with it under xdist) and
    redact every secret from the report."""
    report = yield
    target = item.config.stash[SETTINGS].target
    if target is not None:
        from conformance._client import TargetUnreachable
        from conformance._report._evidence import record

        excinfo = call.excinfo
        unreachable = excinfo is not None and excinfo.errisinstance(
            (TargetUnreachable, TargetUnreachableError)
        )
        if excinfo is not None and report.when == "call":
            report.longrepr = _failure_text(excinfo.value, unreachable) or report.longrepr
        record(
            report,
            item.stash.get(OUTCOME, None),
            excinfo.value if excinfo else None,
            target.secrets(),
            unreachable=unreachable,
        )
        if report.when == "call" and OUTCOME in item.stash:
            del item.stash[OUTCOME]  # its evidence is on the report: the exchanges may go
    return report


def _failure_text(exc: BaseException, unreachable: bool) -> str | None:
    """A failing test's text: one line per failing rule (the conformance section at the end
    shows each rule's first finding in full), or the one line of an unreachable target;
    never the suite's source, object reprs or hypothesis's notes. None: a real error."""
    from conformance._outcome import ConformanceFailure
    from conformance._render import render_brief

    if unreachable:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    failures = [exc] if isinstance(exc, ConformanceFailure) else []
    if isinstance(exc, BaseExceptionGroup):
        failures = [e for e in exc.exceptions if isinstance(e, ConformanceFailure)]
    if not failures:
        return None
    return "\n".join(render_brief(failure.failing) for failure in failures)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from conformance._schemas import resource_dir

    if file_path.suffix == ".yaml" and file_path.parent == resource_dir("cases"):
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFile(pytest.File):
    """A YAML case file; each test in it becomes a CaseItem."""

    def collect(self) -> Iterator[CaseItem]:
        from conformance._cases import load_cases
        from conformance._profiles import load_profile

        target = self.config.stash[SETTINGS].target
        profile = load_profile(target.profile if target else DEFAULT_PROFILE)
        for case in load_cases(self.path):
            if profile.runs(case.feature):
                yield CaseItem.from_parent(self, name=case.description, case=case)


class CaseItem(pytest.Item):
    """One YAML case, run against the target."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.add_marker("conformance")

    def runtest(self) -> None:
        from conformance._cases import run_case
        from conformance._client import Client, TargetUnreachable

        target = self.config.stash[SETTINGS].target
        if target is None:
            pytest.skip("no conformance target: pass --target-url")
        with Client(target) as client:
            try:
                outcome = run_case(self.case, client)
            except TargetUnreachable as exc:
                raise TargetUnreachableError(str(exc)) from None
        if outcome.unsupported:
            pytest.skip(outcome.unsupported)
        judge(self, outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from conformance._outcome import ConformanceFailure

        if isinstance(excinfo.value, ConformanceFailure | TargetUnreachableError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"case: {self.case.description}"


def _stopped_early(terminalreporter: Any, target: Target) -> None:
    """Say so when the run stopped sending requests: the budget, or an unresponsive target."""
    budget = target.time_budget
    if budget is None:
        return
    if len(budget.failures) >= budget.unresponsive_after:
        why = (
            f"the target is unresponsive: {len(budget.failures)} requests in a row failed at "
            f"the transport (last: {budget.failures[-1]})"
        )
    elif budget.left() <= 0:
        why = f"the run's budget of {budget.seconds:g} s (--budget) was spent"
    else:
        return
    from conformance._report._redact import Redactor

    said = Redactor(target.secrets()).text(why)
    terminalreporter.write_sep("!", f"the run stopped early: {said}", red=True)


class TargetUnreachableError(Exception):
    """The target could not be reached: an error, not a conformance failure."""


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    settings = config.stash[SETTINGS]
    if settings.target is not None and settings.insecure:
        terminalreporter.write_sep(
            "!",
            "WARNING: TLS verification was OFF (--insecure): the target was not authenticated",
            red=True,
            bold=True,
        )
    if settings.target is not None:
        _stopped_early(terminalreporter, settings.target)
