"""Golden output: what a person or a program reads is pinned, so any change to it is a visible
diff. `UPDATE_GOLDEN=1 pytest tests/test_golden.py` rewrites the files in tests/golden/ after
a deliberate change (review the diff before committing it)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from conformance._check import StreamChecker
from conformance._cli_check import check_files
from conformance._client import LiveResult
from conformance._model import Policy
from conformance._outcome import ConformanceFailure, Outcome
from conformance._profiles import load_profile
from conformance._report import _certificate as certificates
from conformance._report._collect import Gatherer
from conformance._report._evidence import evidence_of
from conformance._report._redact import Redactor
from tests.streams import chunk, completion, ok_exchange, sse

GOLDEN = Path(__file__).parent / "golden"
URL = "http://127.0.0.1:8000/v1/chat/completions"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed (UPDATE_GOLDEN=1 rewrites)"


def _exchange(body: bytes, request: bytes = b'{"stream":true}') -> LiveResult:
    checker = StreamChecker(live=False, requested_n=1)
    head = ok_exchange()
    head.url, head.request_body = URL, request
    checker.check_response(head)
    checker.feed(body)
    result = checker.finish()
    curl = f"curl -sS -N -i {URL} --data-binary '{request.decode()}'"
    live = LiveResult(request, head, curl, result, findings=list(result.findings))
    live.judged.update(result.judged)
    live.timing.first_byte, live.timing.total = 0.004, 0.01
    live.timing.events.extend(0.005 + i / 1000 for i in range(result.events))
    return live


def _broken() -> bytes:
    chunks = completion()
    chunks[2]["object"] = "chat.completion"
    return sse(chunks, done=False)


def test_failure_text() -> None:
    outcome = Outcome([_exchange(_broken()), _exchange(sse(completion(), done=False))])
    failure = ConformanceFailure(outcome, outcome.failing(Policy()))
    assert_golden("failure.txt", str(failure) + "\n")


def test_check_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "capture.sse"
    path.write_bytes(_broken() + sse([chunk("late")], done=False))
    assert check_files([str(path)]) == 1
    text = capsys.readouterr().out.replace(str(path), "capture.sse")
    assert_golden("check.txt", text)
    assert check_files([str(path)], fmt="json") == 1
    document = capsys.readouterr().out.replace(str(path), "capture.sse")
    assert_golden("check.json", document)


class _Report:
    """The parts of a pytest TestReport the gatherer reads."""

    def __init__(self, nodeid: str, outcome: str, evidence: dict[str, Any]) -> None:
        self.nodeid, self.when, self.outcome = nodeid, "call", outcome
        self.failed = outcome == "failed"
        self.skipped = False
        self.longreprtext = ""
        self.conformance = evidence


def test_certificate() -> None:
    redactor = Redactor(["sk-golden-secret-0123"])
    gatherer = Gatherer(policy=Policy())
    for nodeid, body in (("streaming.yaml::minimal", sse(completion())), ("x::broken", _broken())):
        evidence = evidence_of(Outcome([_exchange(body)]), redactor)
        failed = any(f["level"] == "MUST" for f in evidence["findings"])
        gatherer.add(_Report(nodeid, "failed" if failed else "passed", evidence))  # type: ignore[arg-type]
    info = certificates.RunInfo(
        URL.removesuffix("/chat/completions"), "m", "alphaedge", "must", False, 0.0, 1.5
    )
    certificate = certificates.build(info, gatherer, load_profile().rules(), redactor)
    certificate = {**certificate, "suite": {**certificate["suite"], "commit": None}}
    certificate = certificates.seal(certificate)
    assert certificates.verify(certificates.dumps(certificate).encode())[0] == 0
    assert_golden("certificate.json", json.dumps(certificate, indent=2, sort_keys=True) + "\n")
