"""Client replay (`--clients`): real client libraries read the reference server's streams.

The Python libraries come from the `clients` extra, the JavaScript ones from the project's
own `conformance clients install`. In CI (CI=true) a missing library fails these tests
instead of skipping them; node itself is optional (CI installs the JS libraries only where
node exists), so without node the JS expectations are skipped, visibly.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conformance._dispatch import Context, Dispatcher
from conformance._model import (
    DEFAULT_POLICY,
    ChoiceRead,
    ClientReading,
    Exchange,
    Finding,
    Level,
    Policy,
    Reading,
)
from conformance._replay import (
    RECORD_LIMIT,
    Availability,
    Recorded,
    Replayer,
    Tap,
    _engine,
    _libraries,
    _workers,
    availability,
    client_matrix,
    recorded,
    replay,
    replayable,
    sent_reading,
)
from conformance._replay._diagnose import NOT_FRAMING, SPLIT, _cause, variant
from conformance._replay._recorded import constructs_of
from conformance._replay._spool import write
from conformance.server import ServerThread
from tests.streams import check, good_body, ok_exchange

ROOT = Path(__file__).resolve().parents[1]
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PYTHON_LIBRARIES = ("openai-python", "httpx-sse")
JS_LIBRARIES = ("openai-node", "vercel-ai")

# (variation, library) -> how the pinned library mis-reads it; every other pair reads exactly
MISREADS = {
    ("bom", "openai-python"): "chunks",
    ("bom", "httpx-sse"): "chunks",
    ("field-blocks", "openai-python"): "error",
    ("field-blocks", "httpx-sse"): "error",
    ("field-blocks", "openai-node"): "error",
    ("charset-latin1", "httpx-sse"): "content",
}
CONSTRUCT = {
    "bom": "leading BOM",
    "field-blocks": "event block without data",
    "charset-latin1": "charset=iso-8859-1 in Content-Type",
}


def _need(names: tuple[str, ...]) -> None:
    """Skip (fail in CI) unless every library of `names` is available."""
    missing = [s.missing for s in availability(names) if not s.available]
    if missing:
        if CI:
            pytest.fail(f"client libraries missing in CI: {missing}")
        pytest.skip(f"client libraries missing: {missing}")


@pytest.fixture(scope="session")
def js_clients() -> None:
    """The pinned JS libraries, installed by the project's own command (needs node)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed on this machine: the JS clients cannot run")
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "clients", "install"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    _engine._node.node_version.cache_clear()


@pytest.fixture(scope="module")
def table() -> Any:
    spec = importlib.util.spec_from_file_location("client_table", ROOT / "scripts/client_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def variation_readings(table: Any, js_clients: None) -> list[ClientReading]:
    _need(PYTHON_LIBRARIES + JS_LIBRARIES)
    return table.readings()  # type: ignore[no-any-return]


def _findings(readings: list[ClientReading]) -> list[Finding]:
    dispatch = Dispatcher(context=Context(live=True, replay=True))
    for reading in readings:
        dispatch.client(reading)
    return dispatch.findings


# -- the reference server's variations through the real libraries --------------------------


@pytest.mark.slow
def test_each_library_misreads_exactly_the_expected_constructs(
    variation_readings: list[ClientReading],
) -> None:
    from conformance.rules.clients import differ

    seen = {}
    for reading in variation_readings:
        assert reading.got is not None, reading.unavailable
        aspects = {d.aspect for d in differ(reading.sent, reading.got)}
        if aspects:
            seen[(reading.stream, reading.library)] = aspects
    assert set(seen) == set(MISREADS)
    for key, aspect in MISREADS.items():
        assert aspect in seen[key], (key, seen[key])


@pytest.mark.slow
def test_each_finding_names_the_library_its_version_and_the_construct(
    variation_readings: list[ClientReading],
) -> None:
    for (variation, library), _ in MISREADS.items():
        mine = [r for r in variation_readings if (r.stream, r.library) == (variation, library)]
        findings = _findings(mine)
        assert findings, (variation, library)
        for finding in findings:
            assert finding.rule_id == "client." + library.replace("-", "_")
            assert finding.level is Level.SHOULD
            pinned = _libraries.BY_NAME[library].pinned
            assert f"{library} {pinned} (" in finding.message
            assert CONSTRUCT[variation] in finding.message
    for (variation, library), _ in MISREADS.items():
        for reading in variation_readings:
            if (reading.stream, reading.library) == (variation, library):
                assert reading.cause.startswith(f"caused by {CONSTRUCT[variation]}"), reading
            assert finding.expected and finding.received


@pytest.mark.slow
def test_plain_stream_is_read_exactly_by_every_library(
    variation_readings: list[ClientReading],
) -> None:
    plain = [r for r in variation_readings if r.stream == "plain"]
    assert {r.library for r in plain} == set(PYTHON_LIBRARIES + JS_LIBRARIES)
    assert _findings(plain) == []


@pytest.mark.slow
def test_readme_table_is_generated_from_a_run(
    table: Any, variation_readings: list[ClientReading]
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert table.replace(readme, table.render(variation_readings)) == readme, (
        "README.md is stale: run python scripts/client_table.py --write"
    )


# -- a whole run with --clients ------------------------------------------------------------


RUN = [sys.executable, "-m", "conformance", "run", "--out", "reports"]


def _run(cwd: Path, url: str, *args: str) -> tuple[int, str, dict[str, Any]]:
    done = subprocess.run(
        [*RUN, "--target-url", url, "--", "--clients", "--property-examples", "3", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    [path] = (cwd / "reports").glob("*.json")
    return done.returncode, done.stdout, json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_clean_server_every_client_reads_every_completion_exactly(
    js_clients: None, reference_server: ServerThread, tmp_path: Path
) -> None:
    _need(PYTHON_LIBRARIES + JS_LIBRARIES)
    code, stdout, certificate = _run(tmp_path, reference_server.base_url)
    assert code == 0, stdout[-3000:]
    clients = certificate["clients"]
    assert clients["streams"] >= 15 and clients["not_replayed"] == 0
    rows = clients["matrix"]
    assert {r["library"] for r in rows} == set(PYTHON_LIBRARIES + JS_LIBRARIES)
    for row in rows:
        assert row["available"] and row["version"] == _libraries.BY_NAME[row["library"]].pinned
        assert row["streams"] == row["exact"] == clients["streams"], row
        assert row["mismatches"] == []
    streams = clients["streams"]
    assert f"client replay: {streams} stream(s) replayed" in stdout
    for library in PYTHON_LIBRARIES + JS_LIBRARIES:
        pinned = _libraries.BY_NAME[library].pinned
        assert re.search(
            rf"^  {library} {pinned} \(.+\): {streams} of {streams} read exactly$", stdout, re.M
        )
    statuses = {r["id"]: (r["status"], r["judged"]) for r in certificate["rules"]}
    for rule_id in ("client.openai_python", "client.httpx_sse", "client.openai_node"):
        assert statuses[rule_id] == ("passed", statuses[rule_id][1]) and statuses[rule_id][1] > 0
    verified = subprocess.run(
        [sys.executable, "-m", "conformance", "verify-report", str(next(tmp_path.rglob("*.json")))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.slow
def test_vercel_ai_rule_catches_a_missing_finish_reason(
    js_clients: None, reference_server: ServerThread, tmp_path: Path
) -> None:
    _need(JS_LIBRARIES)
    code, stdout, certificate = _run(tmp_path, reference_server.url(fault="no-finish-reason"))
    assert code == 0, stdout[-3000:]  # the fault breaks a SHOULD rule: a warning only
    vercel = next(r for r in certificate["rules"] if r["id"] == "client.vercel_ai")
    assert vercel["status"] == "warned", vercel  # SHOULD: shown, not failing by default
    assert "ended without a finish reason" in vercel["findings"][0]["message"]
    row = next(r for r in certificate["clients"]["matrix"] if r["library"] == "vercel-ai")
    assert row["raised"] > 0 and row["mismatches"]
    streams = row["streams"]
    assert re.search(
        rf"^  vercel-ai .+: 0 of {streams} read exactly; mis-read: \d+ not caused by its framing",
        stdout,
        re.M,
    )
    mismatch = row["mismatches"][0]
    assert mismatch["cause"].startswith("not caused by its framing (the same events in plain")


@pytest.mark.slow
def test_under_xdist_the_workers_spool_and_the_controller_replays(
    reference_server: ServerThread, tmp_path: Path
) -> None:
    _need(PYTHON_LIBRARIES)
    code, stdout, certificate = _run(tmp_path, reference_server.base_url, "-n", "2")
    assert code == 0, stdout[-3000:]
    clients = certificate["clients"]
    assert clients["streams"] >= 15 and clients["not_replayed"] == 0
    for row in clients["matrix"]:
        if row["available"]:
            assert row["streams"] == row["exact"] == clients["streams"], row


# -- offline: conformance check --clients --------------------------------------------------


def test_check_clients_replays_a_recording(tmp_path: Path) -> None:
    _need(PYTHON_LIBRARIES)
    path = tmp_path / "bom.sse"
    path.write_bytes(b"\xef\xbb\xbf" + good_body())
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "check", "--clients", "--format", "json", str(path)],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]  # a client's mis-read fails nothing
    document = json.loads(done.stdout)
    [recording] = document["recordings"]
    rules = {f["rule"] for f in recording["findings"]}
    assert {"client.openai_python", "client.httpx_sse"} <= rules
    assert all("leading BOM" in f["message"] for f in recording["findings"])
    rows = {r["library"]: r for r in document["clients"]}
    assert rows["openai-python"]["mismatches"][0]["constructs"] == ["leading BOM"]


def test_without_clients_the_client_rules_judge_nothing(tmp_path: Path) -> None:
    path = tmp_path / "plain.sse"
    path.write_bytes(good_body())
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "check", "--format", "json", str(path)],
        capture_output=True,
        timeout=300,
        check=False,
    )
    [recording] = json.loads(done.stdout)["recordings"]
    reasons = {n["rule"]: n["reason"] for n in recording["not_applicable"]}
    assert reasons["client.vercel_ai"].startswith("client replay is off (--clients")
    assert "client.openai_python" not in recording["judged"]


# -- not available, never passed ------------------------------------------------------------


def test_a_missing_library_is_not_available_with_its_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_engine, "_python_version", lambda package: None)
    monkeypatch.setattr(_engine._node, "node_version", lambda: None)
    result = check(good_body())
    tap = Tap()
    tap.take(good_body())
    from conformance._replay import recorded

    readings = replay([recorded("s", ok_exchange(), tap, result)])
    assert [r.got for r in readings] == [None] * 4
    dispatch = Dispatcher(context=Context(replay=True))
    for reading in readings:
        dispatch.client(reading)
    unjudged = dispatch.unjudged()
    assert "pip install 'streaming-conformance[clients]'" in unjudged["client.openai_python"]
    assert "conformance clients install" in unjudged["client.vercel_ai"]
    assert not dispatch.judged and not dispatch.findings
    rows = client_matrix(readings)
    assert [r["available"] for r in rows] == [False] * 4
    assert all(r["unavailable"].startswith("not available") for r in rows)


def test_a_stream_over_the_replay_limit_is_not_replayed() -> None:
    body = good_body()
    tap = Tap(limit=len(body) - 1)
    tap.take(body)
    assert tap.overflow and tap.pieces == []
    why = replayable(check(body), ok_exchange(), tap)
    assert why is not None and "replay limit" in why
    assert RECORD_LIMIT == 1024 * 1024


# -- the replay workers: started with the session, bounded --------------------------------


def _recording(label: str = "s", body: bytes | None = None) -> Recorded:
    body = good_body() if body is None else body
    tap = Tap()
    tap.take(body)
    return recorded(label, ok_exchange(), tap, check(body))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def test_the_workers_read_each_stream_as_it_lands(tmp_path: Path) -> None:
    """A stream written while the session runs is read before the session ends: the
    worker's output has its readings while the worker still waits for more."""
    _need(PYTHON_LIBRARIES)
    replayer = Replayer(tmp_path, PYTHON_LIBRARIES).start()
    try:
        write(tmp_path / "0001", _recording("first"))
        worker = replayer.workers["python"]
        for _ in range(1200):  # up to a minute (a loaded machine imports slowly)
            if len(_lines(worker.out)) == 3:
                break
            assert worker.process is not None and worker.process.poll() is None
            time.sleep(0.05)
        assert {(line["file"], line["library"]) for line in _lines(worker.out)} == {
            ("0001.json", "openai-python"),
            ("0001.json", "httpx-sse"),
        }
        write(tmp_path / "0002", _recording("second", b"\xef\xbb\xbf" + good_body()))
        readings = replayer.finish()
    finally:
        replayer.close()
    assert [(r.library, r.stream) for r in readings] == [
        ("openai-python", "first"),
        ("openai-python", "first"),
        ("openai-python", "second"),
        ("openai-python", "second"),
        ("httpx-sse", "first"),
        ("httpx-sse", "second"),
    ]
    assert replayer.streams == 2
    rows = client_matrix(readings)
    assert [(r["streams"], r["exact"]) for r in rows] == [(2, 1), (2, 1), (2, 1)]


def _fake_node(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """The node worker replaced by a Python program (`code`), its library made available."""
    node = _libraries.BY_NAME["openai-node"]
    monkeypatch.setattr(
        _engine, "availability", lambda names=None: [Availability(node, "6.30.1", "Node.js")]
    )
    monkeypatch.setattr(
        _engine._node, "command", lambda folder, names: [sys.executable, "-c", code]
    )


@pytest.mark.parametrize(
    ("code", "limits", "outcome"),
    [
        ("import time; time.sleep(600)", {"STALL": 0.5}, "stopped answering for 0.5 s"),
        (
            "import sys, time\nwhile True:\n    sys.stdout.write('x'); sys.stdout.flush(); "
            "time.sleep(0.05)",
            {"FINISH_TIMEOUT": 1.0, "PER_RECORDING": 0.0},
            "took longer than 1 s",
        ),
        ("import sys; sys.stderr.write('it broke'); sys.exit(3)", {}, "failed: it broke"),
        ("import sys; sys.stdin.read()", {}, "wrote no reading of 1 stream(s)"),
    ],
    ids=["silent", "endless", "crash", "no-reading"],
)
def test_a_failing_worker_ends_in_a_named_outcome_and_is_stopped(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    code: str,
    limits: dict[str, float],
    outcome: str,
) -> None:
    for name, value in limits.items():
        monkeypatch.setattr(_workers, name, value)
    _fake_node(monkeypatch, code)
    replayer = Replayer(tmp_path).start()
    write(tmp_path / "0001", _recording())
    try:
        [reading] = replayer.finish()
    finally:
        replayer.close()
    assert reading.got is None
    assert reading.unavailable == f"not available: the node replay {outcome}"
    process = replayer.workers["node"].process
    assert process is not None and process.poll() is not None


def test_ctrl_c_is_the_sessions_the_workers_read_on(tmp_path: Path) -> None:
    """An interrupt (the terminal sends it to the whole process group) ends the session,
    which then ends its workers: the workers themselves read on."""
    _need(PYTHON_LIBRARIES)
    replayer = Replayer(tmp_path).start()
    try:
        write(tmp_path / "0001", _recording("first"))
        for worker in replayer.workers.values():
            for _ in range(1200):  # until it is past its start-up (a minute at most)
                if _lines(worker.out):
                    break
                time.sleep(0.05)
            assert worker.process is not None
            worker.process.send_signal(signal.SIGINT)
        write(tmp_path / "0002", _recording("second"))
        readings = replayer.finish()
    finally:
        replayer.close()
    assert all(r.got is not None for r in readings), [r.unavailable for r in readings]
    assert {r.stream for r in readings} == {"first", "second"}


def test_an_unreadable_spool_file_is_skipped_by_the_worker_and_the_session(
    tmp_path: Path,
) -> None:
    _need(PYTHON_LIBRARIES)
    (tmp_path / "0000.json").write_text("{not json", encoding="utf-8")
    write(tmp_path / "0001", _recording("good"))
    replayer = Replayer(tmp_path, ["httpx-sse"]).start()
    try:
        [reading] = replayer.finish()
    finally:
        replayer.close()
    assert reading.stream == "good" and reading.got is not None
    assert replayer.streams == 1


def test_a_worker_that_cannot_start_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_node(monkeypatch, "")
    monkeypatch.setattr(_engine._node, "command", lambda folder, names: [str(tmp_path / "none")])
    replayer = Replayer(tmp_path).start()
    [reading] = replayer.finish()
    assert reading.unavailable.startswith("not available: the node replay could not be started")


def test_the_terminal_shows_the_matrix_in_a_line_per_library() -> None:
    from conformance._report._clients import summary_lines

    def row(library: str, entry: str, exact: int, mismatches: list[Any]) -> dict[str, Any]:
        return {
            "library": library,
            "entry": entry,
            "version": "1.0",
            "runtime": "Python 3.11.7",
            "available": True,
            "unavailable": None,
            "streams": 3,
            "exact": exact,
            "mismatches": mismatches,
        }

    bom = {"stream": "t", "differences": ["d"], "constructs": ["leading BOM"]}
    cr = {**bom, "constructs": ["bare CR line endings", "id: field"], "cause": "caused by x"}
    member = {
        "streams": 3,
        "not_replayed": 1,
        "matrix": [
            row("one", "a()", 1, [bom, cr]),
            row("one", "b()", 2, [bom]),
            row("two", "c()", 3, []),
            {**row("three", "d()", 0, []), "available": False, "unavailable": "not available: x"},
        ],
    }
    assert summary_lines(member) == [
        "client replay: 3 stream(s) replayed, 1 judged stream(s) not replayable",
        "  one 1.0 (Python 3.11.7): 1 of 3 read exactly by a(), 2 of 3 read exactly by b(); "
        "mis-read: 1 not diagnosed (with leading BOM), 1 caused by x",
        "  two 1.0 (Python 3.11.7): 3 of 3 read exactly",
        "  three 1.0 (Python 3.11.7): not available: x",
    ]
    assert summary_lines(None) == []


def test_the_package_names_resolve_on_first_use() -> None:
    """`conformance._replay` imports its parts lazily (the Python worker imports only what it
    reads with): every exported name resolves."""
    import conformance._replay as package

    assert sorted(package._EXPORTS) == sorted(package.__all__)
    assert all(getattr(package, name) is not None for name in package.__all__)
    with pytest.raises(AttributeError):
        package.nothing  # noqa: B018


# -- policy -----------------------------------------------------------------------------------


def test_client_findings_fail_only_when_asked() -> None:
    sent = Reading((ChoiceRead(0, "Hi", (), "stop"),), 3)
    got = Reading((ChoiceRead(0, "i", (), "stop"),), 2)
    reading = ClientReading("httpx-sse", "e", "0.4.3", "Python", "s", sent, got, ("leading BOM",))
    [finding] = _findings([reading])
    assert "read choice 0's content as 'i'" in finding.message
    assert "the stream has: leading BOM" in finding.message
    assert not DEFAULT_POLICY.fails(finding)
    assert not Policy(fail_on_should=True).fails(finding)
    assert Policy(fail_on_clients=True).fails(finding)
    assert Policy(fail_on_clients=True).fails_level(Level.SHOULD, "client.httpx_sse")


# -- what caused a mis-reading: minimal variants ------------------------------------------


def _gzip_recording(body: bytes) -> Recorded:
    exchange = Exchange(
        status=200,
        reason="OK",
        response_headers=[("content-type", "text/event-stream"), ("content-encoding", "gzip")],
    )
    tap = Tap()
    tap.take(gzip.compress(body))
    return recorded("gzip", exchange, tap, check(body, exchange=exchange))


def _with_head(body: bytes, content_type: str) -> Recorded:
    exchange = ok_exchange(content_type)
    tap = Tap()
    tap.take(body)
    return recorded("head", exchange, tap, check(body, exchange=exchange))


CONSTRUCT_BODIES = {
    "leading BOM": lambda: _recording(body=b"\xef\xbb\xbf" + good_body()),
    "bare CR line endings": lambda: _recording(body=good_body().replace(b"\n", b"\r")),
    "CRLF line endings": lambda: _recording(body=good_body().replace(b"\n", b"\r\n")),
    "event block without data": lambda: _recording(body=b"retry: 10\n\nevent: x\n\n" + good_body()),
    "event: field": lambda: _recording(body=good_body().replace(b"data:", b"event: m\ndata:")),
    "id: field": lambda: _recording(body=good_body().replace(b"data:", b"id: 7\ndata:")),
    "retry: field": lambda: _recording(body=b"retry: 10\n" + good_body()),
    "unknown field": lambda: _recording(body=good_body().replace(b"data:", b"foo: 1\ndata:")),
    "comment before the first event": lambda: _recording(body=b": hi\n\n" + good_body()),
    "comment between events": lambda: _recording(body=good_body().replace(b"\n\n", b"\n: k\n\n")),
    "multi-line data": lambda: _recording(body=good_body().replace(b'{"id"', b'{\ndata: "id"')),
    "invalid UTF-8": lambda: _recording(body=good_body().replace(b"Hel", b"H\xffl")),
    "unterminated final event": lambda: _recording(body=good_body() + b"data: [DONE]"),
    "charset=iso-8859-1 in Content-Type": lambda: _with_head(
        good_body(), "text/event-stream; charset=iso-8859-1"
    ),
    "gzip content coding": lambda: _gzip_recording(good_body()),
}


@pytest.mark.parametrize("construct", list(CONSTRUCT_BODIES))
def test_a_variant_leaves_out_one_construct_and_keeps_what_the_events_say(
    construct: str,
) -> None:
    """Each construct the diagnosis can take out: the variant, read again by the checker,
    no longer has it, has every other construct the stream had, and says the same."""
    original = CONSTRUCT_BODIES[construct]()
    assert construct in original.constructs, original.constructs
    out = variant(original, [construct], "v", "openai-python")
    assert out.only == ("openai-python",) and len(out.chunks) == 1
    headers = {k.lower(): v for k, v in out.headers}
    body = out.chunks[0]
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    exchange = ok_exchange(headers["content-type"])
    exchange.response_headers.extend(
        (k, v) for k, v in out.headers if k.lower() == "content-encoding"
    )
    result = check(body, exchange=exchange)
    left = constructs_of(result, exchange)
    assert construct not in left
    others = set(original.constructs) - {construct}
    if construct == "event block without data":  # its fields go with the blocks
        others -= {"event: field", "retry: field"}
    assert set(left) == others, left
    assert result.state is not None
    assert sent_reading(result.state) == original.sent


def test_the_cause_is_what_the_variants_read_exactly_without() -> None:
    bom, cr = "leading BOM", "bare CR line endings"
    assert _cause({"": True, "*": True, bom: True, cr: False}, split=True) == SPLIT
    assert _cause({"": False, "*": False, bom: False, cr: False}, split=True) == NOT_FRAMING
    assert _cause({"": False}, split=False) == NOT_FRAMING
    only = _cause({"": False, "*": True, bom: True, cr: False}, split=True)
    assert only.startswith("caused by leading BOM (replayed without it")
    both = _cause({"": False, "*": True, bom: True, cr: True}, split=True)
    assert both.startswith("caused by leading BOM and bare CR line endings (replayed without any")
    either = _cause({"": False, "*": True, bom: False, cr: False}, split=False)
    assert either.startswith("caused by leading BOM or bare CR line endings (")
    assert _cause({"": True, bom: True}, split=False).startswith("caused by leading BOM (")


def test_a_mis_reading_is_diagnosed_by_replaying_variants() -> None:
    """The BOM is found among several constructs (CRLF line endings and comments between
    events, which the libraries read): the finding names it as the cause."""
    _need(PYTHON_LIBRARIES)
    body = b"\xef\xbb\xbf" + good_body().replace(b"\n\n", b"\n: k\n\n").replace(b"\n", b"\r\n")
    readings = replay([_recording("mixed", body)], PYTHON_LIBRARIES)
    assert {r.library for r in readings} == set(PYTHON_LIBRARIES)
    for reading in readings:
        constructs = ("leading BOM", "CRLF line endings", "comment between events")
        assert set(reading.constructs) == set(constructs)
        assert reading.cause.startswith("caused by leading BOM (replayed without it"), reading
    [finding, *_] = _findings(readings)
    assert "caused by leading BOM" in finding.message
    assert "the stream has:" not in finding.message
    rows = client_matrix(readings)
    assert rows[0]["mismatches"][0]["cause"] == readings[0].cause


def test_variants_that_cannot_be_read_diagnose_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance._replay import _diagnose

    recording = _recording("bom", b"\xef\xbb\xbf" + good_body())
    sent = recording.sent
    got = Reading(sent.choices, sent.chunks - 1)
    reading = ClientReading("httpx-sse", "e", "0.4.3", "Python", "bom", sent, got, ("leading BOM",))
    monkeypatch.setattr(
        _engine,
        "replay",
        lambda variants, names, **options: [replace(reading, got=None, unavailable="x")],
    )
    assert _diagnose.diagnose([(reading, recording)]) == {}
    assert _diagnose.with_causes([reading], [recording]) == [reading]


def test_the_budget_goes_to_each_set_of_constructs_first() -> None:
    from conformance._replay._diagnose import _varied

    def pair(label: str, constructs: tuple[str, ...]) -> tuple[ClientReading, Recorded]:
        recording = Recorded(label, 200, [], [b""], Reading(), constructs)
        reading = ClientReading("l", "e", "1", "Python", label, Reading(), Reading())
        return reading, recording

    alike = [pair(f"bom{n}", ("leading BOM",)) for n in range(3)]
    other = pair("cr", ("bare CR line endings",))
    order = [reading.stream for reading, _ in _varied([*alike, other])]
    assert order == ["bom0", "cr", "bom1", "bom2"]


def test_the_html_page_shows_the_matrix_linked_to_the_rule() -> None:
    from conformance._report._page import clients

    def row(library: str, **extra: Any) -> dict[str, Any]:
        base = {
            "library": library,
            "entry": "",
            "rule": f"client.{library}",
            "version": "1.0",
            "runtime": "Node.js 20",
            "available": True,
            "unavailable": None,
            "streams": 4,
            "exact": 4,
            "content_read": 4,
            "tool_calls_intact": 4,
            "finish_reason_seen": 4,
            "raised": 0,
            "mismatches": [],
        }
        return {**base, **extra}

    misread = {"stream": "t", "differences": ["d"], "constructs": [], "cause": "caused by <x>"}
    page = clients(
        {
            "clients": {
                "streams": 4,
                "matrix": [
                    row("one", exact=2, raised=1, mismatches=[misread, misread]),
                    row("two"),
                    row("three", available=False, unavailable="not available: npm install"),
                ],
            }
        }
    )
    assert "Client libraries (4 streams replayed)" in page
    assert '<a href="#rule-client-one">one</a>' in page  # a mis-reading links to its findings
    assert "<td>two</td>" in page  # nothing to link to
    assert "<td>2 of 4</td>" in page and "2 caused by &lt;x&gt;" in page
    assert '<td colspan="6">not available: npm install</td>' in page
    assert clients({"clients": None}) == "" and clients({}) == ""
