"""The real recorded streams of ../shared/corpus/real/ judged offline under every profile, against
the verdicts written from the rules in tests/corpus_expectations.yaml; and one capture served
from a real socket gets the same verdict live as offline."""

from __future__ import annotations

import importlib.util
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance._client import Client, Target
from conformance._model import Finding, Level
from conformance._offline import RecordingResult, judge, recordings
from conformance._profiles import load_profile
from conformance.rules import REGISTRY
from tests.streams import read_request_body

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "real"
EXPECTATIONS = yaml.safe_load((ROOT / "tests" / "corpus_expectations.yaml").read_text())
CAPTURES: dict[str, dict[str, Any]] = EXPECTATIONS["captures"]
PROFILES = ("alphaedge", "openai", "mistral")

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(),
    reason=f"the real corpus is not at {CORPUS} (CI lays a copy of shared/ beside the clone)",
)


def expected(name: str, profile: str) -> tuple[set[str], set[str]]:
    """(MUST rule ids, SHOULD rule ids) the expectations file gives a capture."""
    entry = CAPTURES[name][profile]
    if entry == "conformant":
        return set(), set()
    return set(entry["must"]), set(entry.get("should", []))


def judged(name: str, profile: str) -> RecordingResult:
    [recording] = recordings(CORPUS / name)
    return judge(recording, load_profile(profile))


def rule_sets(item: RecordingResult) -> tuple[set[str], set[str]]:
    """(MUST rule ids, SHOULD rule ids) that the checker found broken."""
    assert item.result is not None, item.unreadable
    fired = set(item.result.found)
    return (
        {r for r in fired if REGISTRY[r].level is Level.MUST},
        {r for r in fired if REGISTRY[r].level is Level.SHOULD},
    )


def test_every_expectation_is_complete() -> None:
    for name, entry in CAPTURES.items():
        assert entry["framing"] in ("verbatim", "reconstructed"), name
        assert entry["provider"], name
        for profile in PROFILES:
            verdict = entry[profile]
            assert verdict == "conformant" or (
                set(verdict) <= {"must", "should", "reason"} and verdict["reason"]
            ), name


@needs_corpus
def test_expectations_cover_every_capture() -> None:
    assert {p.name for p in CORPUS.glob("*.sse")} == set(CAPTURES)


@needs_corpus
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_capture_gets_its_expected_verdict(name: str, profile: str) -> None:
    item = judged(name, profile)
    assert item.unreadable is None
    assert rule_sets(item) == expected(name, profile)
    assert item.verdict() == ("conformant" if not expected(name, profile)[0] else "not conformant")


@needs_corpus
@pytest.mark.parametrize("name", ["groq-error-midstream-1.sse", "openrouter-error-midstream-1.sse"])
def test_an_error_inside_a_200_stream_is_a_failed_completion(name: str) -> None:
    item = judged(name, "openai")
    assert item.result is not None
    [message] = item.completion_failures
    assert "Token limit reached" in message or "Tool call validation failed" in message
    [error] = [v for v in item.result.findings if v.rule_id == "stream.error_event"]
    at_error = [v for v in item.result.findings if v.event_index == error.event_index]
    assert at_error == [error], "the error event is not judged as a chunk or as framing"
    assert not any(v.rule_id.startswith(("sse.", "chunk.")) for v in item.result.findings)
    reasons = dict(item.not_applicable)
    assert reasons["sse.done_present"] == "not judged: the completion failed"


# -- the same capture, live ---------------------------------------------------------------------


class _Replay(socketserver.ThreadingTCPServer):
    """Answers every POST with one recorded body as a text/event-stream, in small pieces."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, body: bytes) -> None:
        self.body = body
        super().__init__(("127.0.0.1", 0), _ReplayHandler)


class _ReplayHandler(socketserver.StreamRequestHandler):
    server: _Replay

    def handle(self) -> None:
        read_request_body(self.rfile)
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        )
        body = self.server.body
        for start in range(0, len(body), 700):
            self.wfile.write(body[start : start + 700])
            self.wfile.flush()
        self.connection.shutdown(socket.SHUT_WR)


def _serve(body: bytes) -> Iterator[str]:
    server = _Replay(body)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _located(violations: list[Finding], rules: set[str]) -> set[tuple[Any, ...]]:
    return {
        (v.rule_id, v.event_index, v.offset, v.json_path) for v in violations if v.rule_id in rules
    }


@needs_corpus
@pytest.mark.parametrize(
    ("name", "profile"),
    [
        ("avian-reasoning-tool-call-1.sse", "alphaedge"),
        ("cerebras-tool-calls-no-done-1.sse", "openai"),
        ("groq-error-midstream-1.sse", "alphaedge"),
        ("anthropic-compat-tool-call-1.sse", "openai"),
        ("mistral-thinking-1.sse", "mistral"),
        ("openai-parallel-tool-calls-1.sse", "openai"),
    ],
)
def test_the_same_capture_gets_the_same_verdict_live(name: str, profile: str) -> None:
    offline = judged(name, profile)
    assert offline.result is not None
    for url in _serve((CORPUS / name).read_bytes()):
        with Client(Target(url, profile=profile)) as client:
            live = client.stream(
                {"model": "m", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
            )
    assert live.result is not None
    # the rules a recording can show; live judges a few more
    both = set(offline.result.judged) | set(offline.result.found)
    assert _located(live.result.findings, both) == _located(offline.result.findings, both)
    assert {r for r in live.result.found if r in both} == set(offline.result.found)
    assert live.result.events == offline.result.events


def test_readme_table_is_generated_from_the_expectations() -> None:
    spec = importlib.util.spec_from_file_location(
        "corpus_table", ROOT / "scripts" / "corpus_table.py"
    )
    assert spec is not None and spec.loader is not None
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert table.replace(readme, table.render(table.load())) == readme, (
        "README.md is stale: run python scripts/corpus_table.py --write"
    )
    assert "`openai.usage_chunk` |  | 26 |" in readme
