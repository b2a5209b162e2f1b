"""Reports and certification: `conformance run` and its exit statuses, the JSON certificate
and `verify-report`, baselines, --fail-on, redaction of every secret, and the HTML report.

The end-to-end runs are shared per module (each `conformance run` is a real subprocess
against the reference server on a loopback socket); the rest runs pytest in process."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance import cli
from conformance._check import StreamChecker
from conformance._cli_run import report_stem
from conformance._client import LiveResult
from conformance._outcome import Outcome
from conformance._report import _certificate as certificates
from conformance._report._baseline import BaselineError, judge_baseline, load_baseline
from conformance._report._evidence import evidence_of, redact_report
from conformance._report._redact import REDACTED, Redactor, visible_line_endings
from conformance._report._svg import timing_chart
from conformance._report._timing import percentile, stream_timing
from conformance._schemas import SchemaChecker
from conformance.server import ServerThread, create_app
from tests.streams import chunk, good_body, ok_exchange, sse

FAST = ["--property-examples", "2"]
NAME = re.compile(r"^127\.0\.0\.1-\d+-\d{8}T\d{6}Z\.(html|json|xml)$")


# -- running `conformance run` ---------------------------------------------------------------


@dataclass
class Run:
    """One `conformance run` subprocess and what it wrote."""

    code: int
    stdout: str
    stderr: str
    out: Path

    def file(self, ext: str) -> Path:
        (found,) = self.out.glob(f"*.{ext}")
        return found

    def certificate(self) -> dict[str, Any]:
        return json.loads(self.file("json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]

    def html(self) -> str:
        return self.file("html").read_text(encoding="utf-8")


def conformance_run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--out", "reports", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, cwd / "reports")


@pytest.fixture(scope="module")
def clean_run(reference_server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return conformance_run(
        tmp_path_factory.mktemp("clean"), "--target-url", reference_server.base_url, *FAST
    )


@pytest.fixture(scope="module")
def fault_run(reference_server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return conformance_run(
        tmp_path_factory.mktemp("fault"),
        "--target-url",
        reference_server.url(fault="wrong-object"),
        *FAST,
    )


def _statuses(certificate: dict[str, Any]) -> dict[str, str]:
    """Each rule's status; the client rules (which judge nothing without --clients: see
    tests/test_clients.py) are checked to be not selected and left out."""
    statuses = {rule["id"]: rule["status"] for rule in certificate["rules"]}
    clients = {r: s for r, s in statuses.items() if r.startswith("client.")}
    if "clients" not in certificate:
        assert set(clients.values()) == {"not_selected"}, clients
    return {r: s for r, s in statuses.items() if r not in clients}


# -- `conformance run`: files, exit statuses, summary ------------------------------------------


@pytest.mark.slow
def test_clean_server_is_certified(clean_run: Run) -> None:
    assert clean_run.code == 0, clean_run.stdout[-3000:] + clean_run.stderr[-2000:]
    assert sorted(p.suffix for p in clean_run.out.iterdir()) == [".html", ".json", ".xml"]
    assert all(NAME.match(p.name) for p in clean_run.out.iterdir())
    certificate = clean_run.certificate()
    assert certificate["verdict"] == "CERTIFIED" and certificate["reasons"] == []
    assert set(_statuses(certificate).values()) == {"passed"}
    assert certificate["summary"]["must_failed"] == 0
    assert certificate["run"]["tests"]["passed"] >= 15
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", certificate["run"]["date"])
    lines = clean_run.stdout.rstrip().splitlines()
    verdict = next(line for line in lines if line.startswith("CERTIFIED: "))
    assert "MUST: 0 rules failed" in verdict
    assert lines[-1] == "exit status 0 (certified)"
    assert lines.count(verdict) == 1  # printed once
    assert certificate["run"]["selection"]["not_run"] == []
    judged = [rule for rule in certificate["rules"] if not rule["id"].startswith("client.")]
    assert all(rule["judged"] > 0 and rule["why"] is None for rule in judged)
    assert str(Path("reports") / clean_run.file("json").name) in clean_run.stdout


@pytest.mark.slow
def test_certificate_names_the_suite_and_the_target(
    clean_run: Run, reference_server: ServerThread
) -> None:
    certificate = clean_run.certificate()
    assert SchemaChecker("certificate").errors(certificate) == []
    assert certificate["suite"]["version"] == __import__("conformance").__version__
    commit = certificates.git_commit()
    assert certificate["suite"]["commit"] == commit
    assert certificate["target"] == {
        "url": reference_server.base_url,
        "model": "alphaedge-large-3-2512",
        "profile": "alphaedge",
        "insecure": False,
    }
    assert certificate["digest"]["value"] == certificates.digest(certificate)


@pytest.mark.slow
def test_fault_is_not_certified(fault_run: Run) -> None:
    assert fault_run.code == 1, fault_run.stdout[-3000:]
    certificate = fault_run.certificate()
    statuses = _statuses(certificate)
    assert statuses.pop("chunk.object") == "failed"
    assert set(statuses.values()) == {"passed"}
    assert certificate["verdict"] == "NOT CERTIFIED"
    assert certificate["reasons"] == ["1 MUST rule failed: chunk.object"]
    assert "\nNOT CERTIFIED: MUST: 1 rule failed" in fault_run.stdout
    assert "(failed: chunk.object)" in fault_run.stdout
    assert fault_run.stdout.rstrip().endswith("exit status 1 (not certified)")
    assert "= conformance =" in fault_run.stdout  # the plugin's own terminal section


@pytest.mark.slow
def test_unreachable_target_exits_2(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = conformance_run(tmp_path, "--target-url", f"http://127.0.0.1:{port}/v1", *FAST)
    assert run.code == 2, run.stdout[-3000:]
    assert "conformance set-up error: cannot connect to" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert not run.out.exists() or not list(run.out.iterdir())  # nothing was certified
    assert "exit status 2 (a set-up or usage error" in run.stdout


@pytest.mark.slow
def test_xdist_gives_one_report_and_the_same_certificate(
    clean_run: Run, reference_server: ServerThread, tmp_path: Path
) -> None:
    run = conformance_run(tmp_path, "--target-url", reference_server.base_url, *FAST, "-n", "2")
    assert run.code == 0, run.stdout[-3000:]
    assert len(list(run.out.iterdir())) == 3
    certificate, single = run.certificate(), clean_run.certificate()
    assert "gw0" in run.stdout or "2 workers" in run.stdout

    # the property tests draw their requests at random: what a rule judged, and whether a
    # property judged it at all, differ from run to run; whether it judged something does not
    def shape(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                **rule,
                "judged": rule["judged"] > 0,
                "tests": [t for t in rule["tests"] if "_requests_" not in t],
                "counts": {k: v for k, v in rule["counts"].items() if k != "tests"},
            }
            for rule in rules
        ]

    assert shape(certificate["rules"]) == shape(single["rules"])
    assert certificate["run"]["tests"] == single["run"]["tests"]
    assert 'data-rule="sse.done_present"' in run.html()


def test_report_stem_names_host_port_and_utc_time() -> None:
    from datetime import UTC, datetime

    when = datetime(2026, 11, 25, 18, 0, 0, tzinfo=UTC)
    assert report_stem("http://127.0.0.1:8000/v1", when) == "127.0.0.1-8000-20261125T180000Z"
    assert report_stem("https://api.example.com/v1", when) == "api.example.com-443-20261125T180000Z"
    assert report_stem("http://[::1]:9/v1", when) == "1-9-20261125T180000Z"


# -- verify-report ---------------------------------------------------------------------------


@pytest.mark.slow
def test_verify_report_accepts_the_certificate_as_written(
    clean_run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["verify-report", str(clean_run.file("json"))]) == 0
    assert "valid: CERTIFIED" in capsys.readouterr().out


@pytest.mark.slow
def test_verify_report_rejects_a_changed_result(
    clean_run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = clean_run.file("json").read_text(encoding="utf-8")
    tampered = tmp_path / "tampered.json"
    tampered.write_text(
        text.replace('"status": "passed"', '"status": "failed"', 1), encoding="utf-8"
    )
    assert cli.main(["verify-report", str(tampered)]) == 1
    assert "digest mismatch" in capsys.readouterr().err


@pytest.mark.slow
def test_any_byte_of_the_results_changed_is_rejected(clean_run: Run) -> None:
    data = clean_run.file("json").read_bytes()
    start, end = data.index(b'"rules": ['), data.index(b'"run": {')
    assert certificates.verify(data)[0] == 0
    positions = [i for i in range(start, end) if not chr(data[i]).isspace()]
    step = max(1, len(positions) // 400)
    for position in positions[::step]:
        changed = bytearray(data)
        changed[position] = _other(data[position])
        code, message = certificates.verify(bytes(changed))
        assert code != 0, (position, data[position - 20 : position + 20], message)


def _other(byte: int) -> int:
    char = chr(byte)
    if char.isdigit():
        return ord("7" if char != "7" else "3")
    return ord("x" if char != "x" else "y")


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (b"{not json", 2, "not a readable JSON certificate"),
        (b"\xff\xfe", 2, "not a readable JSON certificate"),
        (b'{"format": 1}', 1, "does not match schemas/certificate.json"),
    ],
)
def test_verify_report_unreadable_or_invalid(
    tmp_path: Path, content: bytes, code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "certificate.json"
    path.write_bytes(content)
    assert cli.main(["verify-report", str(path)]) == code
    assert message in capsys.readouterr().err


def test_verify_report_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify-report", str(tmp_path / "nope.json")]) == 2
    assert "cannot read it" in capsys.readouterr().err


# -- the plugin in process: options, baselines, --fail-on, selections -------------------------


def _plugin_run(pytester: pytest.Pytester, url: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = pytester.runpytest_inprocess(
        "--target-url", url, "--certificate", "cert.json", *FAST, *args
    )
    certificate = json.loads((pytester.path / "cert.json").read_text(encoding="utf-8"))
    return int(result.ret), certificate


def test_a_selection_leaves_rules_not_selected_and_the_run_incomplete(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    code, certificate = _plugin_run(pytester, reference_server.base_url, "-k", "minimal")
    statuses = _statuses(certificate)
    assert code == 0 and statuses["sse.done_present"] == "passed"
    assert statuses["request.malformed_json"] == "not_selected"
    assert statuses["stream.id_unique"] == "not_selected"
    rule = next(r for r in certificate["rules"] if r["id"] == "sse.done_present")
    assert rule["tests"] == ["streaming.yaml::minimal conversation"]
    assert certificate["verdict"] == "INCOMPLETE"
    assert re.match(
        r"\d+ MUST rules not selected \(the run's selection: -k 'minimal'\): "
        r"request\.malformed_json",
        certificate["reasons"][0],
    )
    selection = certificate["run"]["selection"]
    assert selection["keyword"] == "minimal"
    assert selection["ran"] == ["streaming.yaml::minimal conversation"]
    assert "bad_requests.yaml::body that is not JSON" in selection["not_run"]


def test_should_finding_warns_and_fails_only_under_fail_on_should(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    url = reference_server.url(fault="created-drift")
    code, certificate = _plugin_run(pytester, url)
    assert code == 0
    assert _statuses(certificate)["stream.created_consistent"] == "warned"
    assert certificate["verdict"] == "CERTIFIED"
    assert certificate["summary"]["warned"] == 1
    assert certificate["run"]["fail_on"] == "must"
    code, certificate = _plugin_run(pytester, url, "--fail-on", "should")
    assert code == 1
    assert _statuses(certificate)["stream.created_consistent"] == "failed"
    assert certificate["verdict"] == "NOT CERTIFIED"
    assert certificate["run"]["fail_on"] == "should"
    assert certificate["reasons"] == [
        "1 SHOULD rule failed (--fail-on should): stream.created_consistent"
    ]


def test_baseline_covers_known_failures(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    pytester.makefile(".txt", baseline="# known\nchunk.object\n")
    code, certificate = _plugin_run(
        pytester,
        reference_server.url(fault="wrong-object"),
        "--baseline",
        "baseline.txt",
    )
    assert code == 0
    assert certificate["verdict"] == "NOT CERTIFIED"
    assert certificate["baseline"]["passed"] is True
    assert certificate["baseline"]["known_failures"] == ["chunk.object"]
    assert certificates.exit_code(certificate, 1) == 0


def test_stale_baseline_entry_fails_the_run(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    pytester.makefile(".yaml", baseline="- chunk.object\n- chunk.id\n- request.no_5xx\n")
    result = pytester.runpytest_inprocess(
        "--target-url",
        reference_server.url(fault="wrong-object"),
        "--certificate",
        "cert.json",
        "-k",
        "minimal",
        "--baseline",
        "baseline.yaml",
        *FAST,
    )
    certificate = json.loads((pytester.path / "cert.json").read_text(encoding="utf-8"))
    assert result.ret == 1
    assert certificate["baseline"]["stale"] == ["chunk.id"]
    assert certificate["baseline"]["unexercised"] == ["request.no_5xx"]
    assert certificate["baseline"]["passed"] is False
    assert certificates.exit_code(certificate, 1) == 1
    result.stdout.fnmatch_lines(["*baseline: FAILED*stale entries: chunk.id*"])


def test_new_failure_outside_the_baseline_fails(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    pytester.makefile(".txt", baseline="sse.done_present\n")
    code, certificate = _plugin_run(
        pytester,
        reference_server.url(fault="wrong-object"),
        "--baseline",
        "baseline.txt",
    )
    assert code == 1
    assert certificate["baseline"]["new_failures"] == ["chunk.object"]
    assert certificate["baseline"]["stale"] == ["sse.done_present"]


def test_baseline_with_an_unknown_rule_is_a_usage_error(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    pytester.makefile(".txt", baseline="chunk.object\nno.such_rule\n")
    result = pytester.runpytest_inprocess(
        "--target-url", reference_server.base_url, "--baseline", "baseline.txt"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown rule ids: no.such_rule" in result.stderr.str()


def test_insecure_run_is_never_certified(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    code, certificate = _plugin_run(
        pytester, reference_server.base_url, "-k", "minimal", "--insecure"
    )
    assert code == 0  # pytest's own outcome: every test passed
    assert certificate["target"]["insecure"] is True
    assert certificate["verdict"] == "NOT CERTIFIED"
    assert any("--insecure" in reason for reason in certificate["reasons"])
    assert certificates.exit_code(certificate, code) == 1


def test_baseline_file_forms(tmp_path: Path) -> None:
    known = ["chunk.id", "chunk.object"]
    lines, listed, bad = tmp_path / "a.txt", tmp_path / "b.yaml", tmp_path / "c.yaml"
    lines.write_text("chunk.id  # flaky vendor\n\nchunk.object\n", encoding="utf-8")
    listed.write_text("[chunk.object, chunk.id, chunk.id]\n", encoding="utf-8")
    bad.write_text("- chunk.id\n- {a: 1}\n", encoding="utf-8")
    assert load_baseline(lines, known) == known
    assert load_baseline(listed, known) == known
    with pytest.raises(BaselineError, match="list of rule ids"):
        load_baseline(bad, known)
    with pytest.raises(BaselineError, match="cannot read"):
        load_baseline(tmp_path / "missing", known)


def test_judge_baseline() -> None:
    rules = [
        {"id": "a.x", "status": "failed"},
        {"id": "b.x", "status": "passed"},
        {"id": "c.x", "status": "warned"},
        {"id": "d.x", "status": "not_applicable"},
    ]
    verdict = judge_baseline(["a.x", "c.x", "d.x"], rules)
    assert verdict == {
        "rules": ["a.x", "c.x", "d.x"],
        "known_failures": ["a.x"],
        "new_failures": [],
        "stale": ["c.x"],
        "unexercised": ["d.x"],
        "passed": False,
    }
    assert judge_baseline(["a.x"], rules)["passed"] is True
    assert judge_baseline([], rules)["new_failures"] == ["a.x"]


# -- redaction ------------------------------------------------------------------------------


class HeaderEcho:
    """A server that gives request headers (and the query) back: in the plain-text body of
    every error, in a comment opening every stream, and in an `X-Echo` header on every
    response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = sorted(
            scope["headers"], key=lambda h: h[0] not in (b"authorization", b"x-tenant")
        )
        echoed = "; ".join(f"{k.decode()}: {v.decode()}" for k, v in headers)
        echoed += f"; query: {scope['query_string'].decode()}"
        self.seen.append(echoed)
        await self.app(scope, receive, self._sender(send, echoed))

    @staticmethod
    def _sender(send: Send, echoed: str) -> Callable[[Message], Any]:
        state = {"status": 200, "stream": False, "first": True}

        async def echo(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = _start(message, state, echoed)
            elif message["type"] == "http.response.body":
                if not state["first"] and state["status"] >= 400:  # type: ignore[operator]
                    return
                message = _body(message, state, echoed)
            await send(message)

        return echo


def _start(message: Message, state: dict[str, object], echoed: str) -> Message:
    status = state["status"] = message["status"]
    headers = [
        (k, v)
        for k, v in message.get("headers", [])
        if not (status >= 400 and k.lower() in (b"content-length", b"content-type"))
    ]
    state["stream"] = any(
        k.lower() == b"content-type" and v.startswith(b"text/event-stream") for k, v in headers
    )
    if status >= 400:
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
    return {**message, "headers": [*headers, (b"x-echo", echoed.encode())]}


def _body(message: Message, state: dict[str, object], echoed: str) -> Message:
    first, state["first"] = state["first"], False
    if state["status"] >= 400:  # type: ignore[operator]
        return {
            "type": "http.response.body",
            "body": f"you sent {echoed}".encode(),
            "more_body": False,
        }
    if first and state["stream"]:
        return {**message, "body": f": you sent {echoed}\n\n".encode() + message["body"]}
    return message


def _leaks(data: bytes, secrets: list[str]) -> list[str]:
    """Each secret (or its distinctive start, or a base64 form) found in `data`."""
    found = []
    for secret in secrets:
        forms = [secret, secret[:16]]
        forms += [base64.b64encode(secret.encode()[i : i + 30]).decode()[4:24] for i in range(3)]
        found += [f"{secret[:6]}...: {form!r}" for form in forms if form.encode() in data]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("key_given", [True, False], ids=["api-key", "url-credentials"])
def test_no_secret_is_written_anywhere(tmp_path: Path, key_given: bool) -> None:
    """The API key, a `--header` value, the URL's user name and password, the Basic token
    made of them and a query value, all echoed back by the target in headers, error bodies
    and stream comments, appear in no output and no file of the run."""
    key = "sk-sentinel-" + uuid.uuid4().hex * 3  # long: an excerpt cuts it off midway
    header = "hdr-sentinel-" + uuid.uuid4().hex
    user, password = "usr-" + uuid.uuid4().hex[:12], "pw-sentinel-" + uuid.uuid4().hex
    query = "qry-sentinel-" + uuid.uuid4().hex
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    echo = HeaderEcho(create_app())
    with ServerThread(echo) as server:
        url = server.base_url.replace("http://", f"http://{user}:{password}@") + f"?key={query}"
        run = conformance_run(
            tmp_path,
            "--target-url",
            url,
            *FAST,
            "--header",
            f"X-Tenant: {header}",
            "-vv",
            "--showlocals",
            env={"ALPHAEDGE_API_KEY": key if key_given else ""},
        )
    sent = key if key_given else basic
    assert any(sent in seen and header in seen and query in seen for seen in echo.seen)
    assert run.code == 1, run.stdout[-3000:]  # plain-text error bodies fail error.json_body
    secrets = [key, header, user, password, basic, query]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.suffix for p in written} == {".html", ".json", ".xml"}
    for path in written:
        assert _leaks(path.read_bytes(), secrets) == [], path
    output = (run.stdout + run.stderr).encode()
    assert _leaks(output, secrets) == []
    assert REDACTED in run.html() and REDACTED in run.stdout
    page = html.unescape(run.html())
    assert ("$ALPHAEDGE_API_KEY" in page) is key_given
    assert "$CONFORMANCE_HEADER_X_TENANT" in page and "${CONFORMANCE_QUERY_KEY}" in page
    assert "/v1/chat/completions?key=" in page  # the query stays after the path
    note = "credentials are sent as a Basic" if not key_given else "are NOT sent: --api-key"
    assert note in run.stdout


@pytest.mark.slow
def test_a_set_up_error_names_no_secret_of_the_url(
    tmp_path: Path, reference_server: ServerThread
) -> None:
    """The pre-flight's advice quotes the URL it was given: without its credentials."""
    password, query = "pw-sentinel-" + uuid.uuid4().hex, "qry-sentinel-" + uuid.uuid4().hex
    root = reference_server.base_url.removesuffix("/v1")
    url = root.replace("http://", f"http://user:{password}@") + f"/?key={query}"
    run = conformance_run(tmp_path, "--target-url", url)
    assert run.code == 2, run.stdout[-2000:] + run.stderr[-2000:]
    assert "nothing answers at" in run.stderr
    assert _leaks((run.stdout + run.stderr).encode(), [password, query]) == []


def test_redactor() -> None:
    redactor = Redactor(["sk-0123456789abcdef", "tiny", None, ""])
    assert redactor.text("a sk-0123456789abcdef b tiny") == f"a {REDACTED} b {REDACTED}"
    assert redactor.text("cut: 'sk-0123456789a'") == f"cut: '{REDACTED}'"
    assert redactor.text("sk-0123 is too short to tell") == "sk-0123 is too short to tell"
    assert redactor.deep({"tiny": ["x tiny", 3, None]}) == {REDACTED: [f"x {REDACTED}", 3, None]}
    assert (
        redactor.url("https://user:pw@h.example:8443/v1?key=tiny&b=2#f")
        == f"https://{REDACTED}@h.example:8443/v1?key={REDACTED}&b={REDACTED}"
    )
    assert Redactor([]).text("tiny") == "tiny"


def test_line_endings_are_made_visible() -> None:
    assert visible_line_endings("a\r\nb\rc\nd\ufeff\x00\te") == "a␍␊\nb␍\nc␊\nd[BOM]\\x00\te"


def test_report_text_is_redacted() -> None:
    report = pytest.TestReport(
        "t.py::x",
        ("t.py", 1, "x"),
        {},
        "failed",
        "E   received: b'Bearer sk-0123456789abcdef'",
        "call",
        [("Captured stdout call", "key sk-0123456789abcdef")],
        user_properties=[("echo", ["sk-0123456789abcdef"])],
    )
    redact_report(report, Redactor(["sk-0123456789abcdef"]))
    assert report.longreprtext == f"E   received: b'Bearer {REDACTED}'"
    assert report.sections == [("Captured stdout call", f"key {REDACTED}")]
    assert report.user_properties == [("echo", [REDACTED])]


def _live(body: bytes, url: str = "http://h/v1/chat/completions") -> LiveResult:
    checker = StreamChecker(live=False, requested_n=1)
    exchange = ok_exchange()
    exchange.url, exchange.request_body = url, b'{"stream":true,"key":"sk-0123456789abcdef"}'
    checker.check_response(exchange)
    checker.feed(body)
    result = checker.finish()
    live = LiveResult(b"", exchange, f"curl {url}", result, findings=list(result.findings))
    live.judged.update(result.judged)
    live.timing.first_byte, live.timing.total = 0.005, 0.02
    live.timing.events.extend(0.006 + i / 1000 for i in range(live.result.events))  # type: ignore[union-attr]
    return live


def test_evidence_links_each_violation_to_its_exchange() -> None:
    good = _live(good_body())
    bad_body = sse([chunk("", role=True), {**chunk("x"), "object": "nope"}, chunk(finish="stop")])
    bad = _live(bad_body + b": sk-0123456789abcdef\r\n\r\n", "http://h/v1?key=q")
    assert bad.result is not None
    evidence = evidence_of(Outcome([good, bad]), Redactor(["sk-0123456789abcdef"]))
    (violation,) = evidence["findings"]
    assert violation["rule"] == "chunk.object"
    assert violation["exchange"] == 1 and violation["event_index"] == 1
    assert violation["event"] == bad_body[violation["offset"] :].split(b"\n\n")[0].decode() + "\n\n"
    assert '"object":"nope"' in violation["event"]
    exchange = evidence["exchanges"][1]
    assert exchange["url"] == f"http://h/v1?key={REDACTED}"
    assert exchange["transcript"].endswith(f": {REDACTED}\r\n\r\n")
    assert REDACTED in exchange["request_body"] and exchange["status"] == 200
    assert exchange["timing"]["ttfb_ms"] == 5.0 and exchange["timing"]["first_content_ms"] == 7.0
    assert evidence["judged"]["chunk.object"] == 8 and evidence["judged"]["transport.complete"] == 2
    json.dumps(evidence)  # plain data: it crosses xdist workers


# -- timing ----------------------------------------------------------------------------------


def test_percentiles_and_stream_timing() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0
    timing = stream_timing(0.010, [0.012, 0.013, 0.016, 0.030], 0.031, 1)
    assert timing["ttfb_ms"] == 10.0 and timing["first_content_ms"] == 13.0
    assert timing["gap_p50_ms"] == 3.0 and timing["gap_max_ms"] == 14.0
    assert timing["gap_p95_ms"] == 14.0
    assert timing["events"] == 4 and timing["events_per_s"] == 200.0
    assert timing["arrivals_ms"] == [12.0, 13.0, 16.0, 30.0]
    assert stream_timing(None, [], 0.0, None)["events_per_s"] is None


def test_first_content_event() -> None:
    assert _live(good_body()).result.first_content_event == 1  # type: ignore[union-attr]


def test_timing_chart_is_plain_svg_with_a_legend() -> None:
    svg = timing_chart([(1.0, 2.0), (3.0, None), (None, None)])
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<circle") == 3 and svg.count("<rect") == 2  # 2 points + 1 legend mark each
    assert "time to first byte" in svg and "time to first content" in svg
    assert "stream 1 to 3" in svg and "<script" not in svg


# -- the HTML report -------------------------------------------------------------------------


@pytest.mark.slow
def test_html_shows_verdict_rules_and_the_failed_rule(fault_run: Run) -> None:
    page = fault_run.html()
    text = html.unescape(page)
    assert 'class="verdict v-not-certified"' in page
    assert '<h1 id="title">NOT CERTIFIED: conformance report for http://127.0.0.1:' in page
    assert "NOT CERTIFIED" in text and "MUST: 1 rule failed" in text
    verdict = page[page.index('id="verdict"') : page.index('id="rules"')]
    assert '<a href="#rule-chunk-object"><code>chunk.object</code></a>' in verdict
    rows = re.findall(r'<tr class="r-(\w+)" data-rule="([^"]+)">', page)
    assert rows[0] == ("failed", "chunk.object")  # failures first
    statuses = _statuses(fault_run.certificate())
    assert [s for s, _ in rows].count("passed") == list(statuses.values()).count("passed")
    section = page[page.index('<article id="rule-chunk-object"') : page.index("</article>")]
    assert "[MUST] <code>chunk.object</code>" in section
    assert "&quot;object&quot;:&quot;chat.completion&quot;" in section
    shown = section[section.index('class="event"') :].split("</pre>")[0]
    assert html.unescape(re.sub(r"<[^>]+>", "", shown)).endswith("\\n\n\\n\n")
    assert "HTTP 200 OK" in section and "content-type: text/event-stream" in section
    assert "curl -sS -N -i" in html.unescape(section)
    assert "more like this" in section
    assert page.index('id="environment"') > page.index('id="findings"')  # details last


@pytest.mark.slow
def test_html_is_self_contained_with_timing(clean_run: Run) -> None:
    page = clean_run.html()
    assert 'class="verdict v-certified"' in page
    assert '<h1 id="title">CERTIFIED: conformance report for http://127.0.0.1:' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "url(http" not in page and "@import" not in page
    assert 'id="findings"' not in page  # nothing to show
    timing = page[page.index('id="timing"') :]
    assert "<svg" in timing and "time to first content" in timing
    assert "median" in timing and "95th percentile" in timing
    assert re.sub(r"<pre.*?</pre>", "", page, flags=re.S).isascii()  # no glyph a font lacks


@pytest.mark.slow
def test_curl_line_reproduces_the_fault(fault_run: Run) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    page = fault_run.html()
    failures = page[page.index('id="findings"') :]
    line = html.unescape(re.search(r'<pre class="curl">(.*?)</pre>', failures, re.S).group(1))  # type: ignore[union-attr]
    assert "$ALPHAEDGE_API_KEY" not in line  # no key was configured
    done = subprocess.run(
        ["sh", "-c", line], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert '"object":"chat.completion"' in done.stdout
    assert "data: [DONE]" in done.stdout


# -- JUnit: a test case per rule ---------------------------------------------------------------


@pytest.mark.slow
def test_junit_has_a_test_case_per_rule(fault_run: Run) -> None:
    import xml.etree.ElementTree as ET

    root = ET.parse(fault_run.file("xml")).getroot()
    rules, tests = root.findall("testsuite")
    assert rules.get("name") == "conformance rules" and tests.get("name") == "conformance tests"
    cases = {case.get("name"): case for case in rules.findall("testcase")}
    assert set(cases) == {rule["id"] for rule in fault_run.certificate()["rules"]}
    failed = cases["chunk.object"]
    properties = {p.get("name"): p.get("value") for p in failed.iter("property")}
    assert properties["rule"] == "chunk.object" and properties["level"] == "MUST"
    failure = failed.find("failure")
    assert failure is not None and "MUST chunk.object" in (failure.get("message") or "")
    assert "chat.completion" in (failure.text or "") and "reproduce with:" in (failure.text or "")
    assert cases["sse.done_present"].find("failure") is None
    assert cases["client.openai_python"].find("skipped") is not None  # not selected
    assert rules.get("failures") == "1"
    assert any(c.find("failure") is not None for c in tests.findall("testcase"))


def test_junit_text_carries_only_xml_characters() -> None:
    from conformance._report._junit import xml_text

    assert xml_text("a\x00b\x1b[31mc\ud800d\ufffe") == "a\\x00b\\x1b[31mc\\ud800d\\ufffe"
    assert xml_text("tab\tnl\ncr\r é 👋") == "tab\tnl\ncr\r é 👋"


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(foreground: str, background: str) -> float:
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_report_colours_meet_wcag_aa() -> None:
    from conformance._report._page import CSS

    def colour(selector: str, prop: str) -> str:
        found = re.search(re.escape(selector) + r"\{[^}]*?" + prop + r":(#[0-9a-f]{6})", CSS)
        assert found, (selector, prop)
        return found.group(1)

    text = colour("body", "color")
    assert _contrast(text, "#ffffff") >= 4.5
    for badge in ("s-passed", "s-failed", "s-warned", "s-not_applicable"):
        assert _contrast("#ffffff", colour(f".{badge}", "background")) >= 4.5, badge
    assert _contrast(colour("a", "color"), "#ffffff") >= 4.5
    assert _contrast(colour(".eol", "color"), "#f5f5f5") >= 4.5
    assert _contrast(colour(".dim", "color"), "#ffffff") >= 4.5
    for verdict in ("v-certified", "v-not-certified", "v-incomplete"):
        background = colour(f".{verdict}", "background")
        assert _contrast(colour(f".{verdict} .word", "color"), background) >= 4.5, verdict
