"""The pytest side of reporting, on the controller: collect every test report, then write the
certificate, print the verdict and feed pytest-html. Registered by the plugin when a target is
configured (never on a pytest-xdist worker)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from conformance._client import Target
from conformance._model import Policy
from conformance._registry import Rule
from conformance._report import _certificate as certificates
from conformance._report._collect import Gatherer
from conformance._report._evidence import EVIDENCE
from conformance._report._page import body, page
from conformance._report._redact import Redactor
from conformance._report._terminal import blocks, encodable, verdict_line
from conformance.rules import REGISTRY

NAME = "conformance-report"


class VerdictSink:
    """Handed to `pytest.main(plugins=[...])` by `conformance run`: the session puts its
    certificate here, so the run's verdict comes from the run, not from a file read back."""

    def __init__(self) -> None:
        self.certificate: dict[str, Any] | None = None
        self.crashes: list[tuple[str, str]] = []  # (test, traceback) of internal errors


class ReportSession:
    """Aggregates reports into rule results; writes and shows the certificate."""

    def __init__(
        self,
        config: pytest.Config,
        target: Target,
        *,
        policy: Policy,
        insecure: bool,
        certificate: Path | None = None,
        baseline: list[str] | None = None,
        reach: dict[str, set[str]] | None = None,
        html: Path | None = None,
        junit: Path | None = None,
    ) -> None:
        self.html = html
        self.junit = junit
        self.config = config
        self.target = target
        self.policy = policy
        self.insecure = insecure
        self.path = certificate
        self.baseline = baseline
        self.redactor = Redactor(target.secrets())
        self.gatherer = Gatherer(policy=policy, reach=reach)
        self.started = time.time()
        self.certificate: dict[str, Any] | None = None
        self.html_report: Any = None  # pytest-html's report data, for the title

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started = time.time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.gatherer.add(report)
        evidence = getattr(report, EVIDENCE, None)
        if report.when == "call" and evidence and self.config.get_verbosity() > 0:
            self._progress(evidence)

    def _progress(self, evidence: dict[str, Any]) -> None:
        """`-v`: one line per request of the test (what was sent, what came back, how long)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        shown = evidence["exchanges"]
        for number, exchange in enumerate(shown, 1):
            answer = f"{exchange['status'] or 'no answer'} {exchange['reason']}".rstrip()
            events = f", {exchange['events']} events" if exchange["stream"] else ""
            ended = f", {exchange['stopped']}" if exchange["stopped"] else ""
            seconds = (exchange["timing"]["total_ms"] or 0) / 1000
            line = f"    request {number}: {answer}{events}, {seconds:.2f} s{ended}"
            reporter.write_line(encodable(line, _encoding(reporter)))
        if evidence["exchanges_total"] > len(shown):
            reporter.write_line(f"    ... {evidence['exchanges_total'] - len(shown)} more")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        certificate = self.final()
        if self.path is not None:
            certificates.write(certificate, self.path)
        if self.html is not None:
            self.html.parent.mkdir(parents=True, exist_ok=True)
            self.html.write_text(page(certificate, self.gatherer, self._page_title()), "utf-8")
        if self.junit is not None:
            from conformance._report import _junit

            _junit.write(certificate, self.gatherer, self.junit)
        for plugin in self.config.pluginmanager.get_plugins():
            if isinstance(plugin, VerdictSink):
                plugin.certificate = certificate
                plugin.crashes = [
                    (t.nodeid, t.traceback) for t in self.gatherer.errors() if t.error == "error"
                ]
        if self.html_report is not None:  # pytest-html writes the page after this hook
            self.html_report.title = f"{certificate['verdict']}: {self._title()}"
        if self.baseline is not None and session.exitstatus in (0, 1):
            passes = certificates.passes(certificate)
            session.exitstatus = pytest.ExitCode.OK if passes else pytest.ExitCode.TESTS_FAILED

    def final(self) -> dict[str, Any]:
        """The certificate of the session (built once, at its end)."""
        if self.certificate is None:
            clients = self._replay_clients()
            info = certificates.RunInfo(
                self.target.base_url,
                self.target.model,
                self.target.profile,
                self.policy.fail_on,
                self.insecure,
                self.started,
                time.time() - self.started,
                selection(self.config),
            )
            self.certificate = certificates.build(
                info,
                self.gatherer,
                profile_rules(self.target.profile),
                self.redactor,
                self.baseline,
                clients=clients,
            )
        return self.certificate

    def _replay_clients(self) -> dict[str, Any] | None:
        """With `--clients`: the readings of the session's spooled streams (by the workers
        started with it), the client rules' evidence added to the rule results, and the
        `clients` member."""
        if not self.target.replay:
            return None
        from conformance._report._clients import NAME as REPLAY
        from conformance._report._clients import REPLAYER, replay_spool

        replayer = self.config.stash.get(REPLAYER, None)
        replayed = replay_spool(self.target.replay, self.target.profile, replayer)
        self.gatherer.add_session_evidence(REPLAY, replayed.evidence)
        return replayed.member(self.redactor)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.gatherer.tests:  # nothing ran (a usage error, an empty selection)
            return
        certificate = self.final()
        encoding = _encoding(terminalreporter)

        def write(text: str, **markup: bool) -> None:
            terminalreporter.write_line(encodable(text, encoding), **markup)

        terminalreporter.section("conformance")
        for block in blocks(certificate):
            write(block)
        colour = {"CERTIFIED": "green", "NOT CERTIFIED": "red"}.get(
            certificate["verdict"], "yellow"
        )
        write(verdict_line(certificate), bold=True, **{colour: True})
        for reason in certificate["reasons"]:
            if "failed" not in reason.split(":")[0]:
                write(f"  - {reason}")
        baseline = certificate["baseline"]
        if baseline is not None:
            write(
                f"baseline: {'passed' if baseline['passed'] else 'FAILED'} (known failures: "
                f"{', '.join(baseline['known_failures']) or 'none'}; new failures: "
                f"{', '.join(baseline['new_failures']) or 'none'}; stale entries: "
                f"{', '.join(baseline['stale']) or 'none'})"
            )
        from conformance._report._clients import summary_lines

        for line in summary_lines(certificate.get("clients")):
            write(line)
        if self.path is not None and self.html is None:
            write(f"certificate: {self.path} (sha256 {certificate['digest']['value']})")

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        self.html_report = report
        report.title = self._title()

    def _title(self) -> str:
        return f"conformance report for {self.redactor.url(self.target.base_url)}"

    def _page_title(self) -> str:
        return f"{self.final()['verdict']}: {self._title()}"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        """A pytest-html page (`pytest --html`) gets the report's sections above its table."""
        from conformance._report._page import CSS

        prefix.extend([f"<style>{CSS}</style>", body(self.final(), self.gatherer)])


def _encoding(terminalreporter: Any) -> str | None:
    """The encoding the terminal writes in (None: unknown)."""
    writer = getattr(terminalreporter, "_tw", None)
    stream = getattr(writer, "_file", None)
    return getattr(stream, "encoding", None)


def selection(config: pytest.Config) -> dict[str, Any]:
    """What the run was asked to run: paths, -k, -m and --maxfail (as given)."""
    option = config.option
    return {
        "paths": [str(arg) for arg in config.args],
        "keyword": getattr(option, "keyword", "") or "",
        "markexpr": getattr(option, "markexpr", "") or "",
        "maxfail": getattr(option, "maxfail", 0) or 0,
    }


def profile_rules(name: str) -> list[Rule[Any]]:
    """The rules a certificate lists: those of the profile (not those it excludes)."""
    from conformance._profiles import load_profile

    return load_profile(name).rules()


def create(
    config: pytest.Config,
    target: Target,
    *,
    policy: Policy,
    insecure: bool,
    certificate: str | None,
    baseline: str | None,
    reach: dict[str, set[str]] | None = None,
    html: str | None = None,
    junit: str | None = None,
) -> ReportSession:
    """A ReportSession for the options given (a bad baseline is a usage error)."""
    from conformance._report._baseline import BaselineError, load_baseline

    ids = None
    if baseline:
        try:
            ids = load_baseline(Path(baseline), (r.id for r in REGISTRY))
        except BaselineError as exc:
            raise pytest.UsageError(f"--baseline: {exc}") from exc
    return ReportSession(
        config,
        target,
        policy=policy,
        insecure=insecure,
        certificate=Path(certificate) if certificate else None,
        baseline=ids,
        reach=reach,
        html=Path(html) if html else None,
        junit=Path(junit) if junit else None,
    )
