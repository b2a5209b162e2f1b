"""`conformance check`: recorded streams in each format, verdicts, exit codes and output."""

from __future__ import annotations

import base64
import gzip
import json
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest

from conformance._cli_check import check_files
from conformance._model import Limits
from conformance._offline import judge, offline_limits, recordings
from conformance._profiles import load_profile
from conformance.cli import main
from tests.streams import chunk, completion, good_body, sse

REQUEST = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}


def curl_capture(
    body: bytes,
    *,
    status: str = "200 OK",
    request: dict[str, Any] | None = None,
    content_type: str = "text/event-stream; charset=utf-8",
    extra_headers: str = "",
    interim: bool = False,
) -> bytes:
    """A file as capture-peer.sh writes it: `###` lines, a blank line, then curl -i output."""
    meta = (
        f"### peer: test\n### request: POST http://127.0.0.1:1/v1/chat/completions\n"
        f"### body: {json.dumps(request or REQUEST)}\n### captured: now\n\n"
    )
    head = "HTTP/1.1 100 Continue\r\n\r\n" if interim else ""
    head += (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n{extra_headers}"
        "transfer-encoding: chunked\r\n\r\n"
    )
    return meta.encode() + head.encode() + body


def har(*entries: dict[str, Any]) -> bytes:
    return orjson.dumps({"log": {"version": "1.2", "entries": list(entries)}})


def har_entry(
    text: str,
    mime: str = "text/event-stream",
    *,
    b64: bool = False,
    request: dict[str, Any] | None = None,
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "mimeType": mime,
        "size": len(text),
        "text": base64.b64encode(text.encode()).decode() if b64 else text,
    }
    if b64:
        content["encoding"] = "base64"
    return {
        "request": {
            "method": "POST",
            "url": "https://x.invalid/v1/chat/completions",
            "postData": {"mimeType": "application/json", "text": json.dumps(request or REQUEST)},
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "content": content,
            "headers": [{"name": "Content-Type", "value": mime}],
        },
    }


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def judge_one(path: Path, profile: str = "alphaedge", **kw: Any) -> Any:
    [recording] = list(_judged(path, profile, **kw))
    return recording


def _judged(path: Path, profile: str, **kw: Any) -> Any:
    for recording in recordings(path):
        yield judge(recording, load_profile(profile), **kw)


def reasons(item: Any) -> dict[str, str]:
    return dict(item.not_applicable)


# -- raw SSE -------------------------------------------------------------------------------------


def test_raw_body_is_judged_and_lists_what_it_cannot_show(tmp_path: Path) -> None:
    item = judge_one(write(tmp_path, "ok.sse", good_body()))
    assert item.kind == "sse" and item.verdict() == "conformant"
    why = reasons(item)
    assert why["http.status_ok"] == "a raw body records no status line or headers"
    assert why["stream.created_recent"].startswith("needs a live exchange")
    assert why["stream.id_unique"] == "compares several completions of a live run"
    assert why["request.malformed_json"].startswith("judges the answer to a bad request")
    assert "sse.done_present" not in why and "stream.id_consistent" not in why


def test_raw_body_violations_are_located(tmp_path: Path) -> None:
    chunks = completion()
    chunks[2]["id"] = "other"
    item = judge_one(write(tmp_path, "bad.txt", sse(chunks, done=False)))
    assert item.verdict() == "not conformant"
    by_rule = {v.rule_id: v for v in item.result.findings}
    assert set(by_rule) == {"stream.id_consistent", "sse.done_present"}
    moved = by_rule["stream.id_consistent"]
    assert (moved.event_index, moved.offset, moved.json_path) == (
        2,
        len(sse(chunks[:2], done=False)),
        "$.id",
    )
    assert '"id":"other"' in moved.excerpt


# -- curl -i output -----------------------------------------------------------------------------


def test_curl_capture_judges_the_http_head_and_knows_the_request(tmp_path: Path) -> None:
    request = {**REQUEST, "stream_options": {"include_usage": True}}
    item = judge_one(write(tmp_path, "c.txt", curl_capture(good_body(), request=request)), "openai")
    assert item.kind == "curl"
    assert {"http.status_ok", "http.content_type", "openai.usage_requested"} <= set(
        item.result.judged
    )
    assert set(item.result.found) == {"openai.usage_requested"}  # asked, never sent
    assert "http.status_ok" not in reasons(item)


def test_curl_capture_skips_an_interim_response(tmp_path: Path) -> None:
    item = judge_one(write(tmp_path, "c.txt", curl_capture(good_body(), interim=True)))
    assert item.verdict() == "conformant"


def test_curl_exit_code_marks_an_incomplete_transfer(tmp_path: Path) -> None:
    body = sse(completion()[:2], done=False) + b"### curl exit code 28\n"
    item = judge_one(write(tmp_path, "c.txt", curl_capture(body)))
    assert set(item.result.found) == {"transport.complete"}
    assert "curl exited with code 28" in item.result.findings[0].message
    assert reasons(item)["sse.done_present"].startswith("not judged: the transfer failed")


def test_curl_gzip_body_is_decoded(tmp_path: Path) -> None:
    data = curl_capture(gzip.compress(good_body()), extra_headers="content-encoding: gzip\r\n")
    assert judge_one(write(tmp_path, "c.txt", data)).verdict() == "conformant"


def test_curl_wrong_content_type_over_a_stream_is_a_violation(tmp_path: Path) -> None:
    data = curl_capture(good_body(), content_type="application/json")
    item = judge_one(write(tmp_path, "c.txt", data))
    assert set(item.result.found) == {"http.content_type"}


def test_curl_rejection_is_not_an_event_stream(tmp_path: Path) -> None:
    data = curl_capture(
        b'{"error": {"message": "messages is required"}}',
        status="400 Bad Request",
        content_type="application/json",
    )
    item = judge_one(write(tmp_path, "c.txt", data))
    assert item.verdict() == "unreadable"
    assert "not an event stream: HTTP 400 application/json" in item.unreadable


# -- HAR ----------------------------------------------------------------------------------------


def test_har_entries_with_event_streams_are_judged(tmp_path: Path) -> None:
    late = good_body() + sse([chunk("x")], done=False)
    data = har(
        har_entry('{"id": 1}', "application/json"),
        har_entry(good_body().decode()),
        har_entry(late.decode(), b64=True),
    )
    items = list(_judged(write(tmp_path, "x.har", data), "alphaedge"))
    assert [i.label.rsplit("#", 1)[1] for i in items] == ["entry1", "entry2"]
    assert [i.verdict() for i in items] == ["conformant", "not conformant"]
    assert set(items[1].result.found) == {"sse.nothing_after_done"}


def test_har_without_event_stream_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, "x.har", har(har_entry("{}", "application/json")))
    assert check_files([str(path)]) == 2


# -- unreadable files, exit codes, output --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.sse", b"", "the file is empty"),
        ("answer.json", b'{"object": "chat.completion", "choices": []}', "no `data:` event"),
        ("page.html", b"<html><body>502 Bad Gateway</body></html>\n", "no `data:` event"),
    ],
)
def test_not_an_event_stream_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes, message: str
) -> None:
    assert main(["check", str(write(tmp_path, name, data))]) == 2
    out = capsys.readouterr().out
    assert "UNREADABLE" in out and message in out


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope.sse")]) == 2
    assert "cannot be read" in capsys.readouterr().out


def test_exit_codes_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.sse", good_body())
    bad = write(tmp_path, "bad.sse", sse(completion(), done=False))
    assert main(["check", str(good)]) == 0
    assert main(["check", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "NOT CONFORMANT" in out and "[MUST] sse.done_present" in out
    assert "2 recording(s): 1 conformant, 1 not conformant" in out
    assert main(["check", "--profile", "nope", str(good)]) == 2


def test_should_only_fails_under_fail_on_should(tmp_path: Path) -> None:
    path = write(tmp_path, "s.sse", sse(completion()[:-1]))
    assert check_files([str(path)]) == 0
    assert check_files([str(path)], fail_on="should") == 1


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chunks = completion()
    chunks[1]["object"] = "chat.completion"
    path = write(tmp_path, "j.sse", sse(chunks))
    assert main(["check", "--format", "json", "--profile", "openai", str(path)]) == 1
    document = json.loads(capsys.readouterr().out)
    [item] = document["recordings"]
    assert item["verdict"] == "not conformant" and item["format"] == "sse"
    [violation] = item["findings"]
    assert violation["rule"] == "chunk.object" and violation["event_index"] == 1
    assert violation["json_path"] == "$.object" and violation["offset"] > 0
    assert {"rule": "openai.usage_requested", "reason": "the request is not recorded"} in item[
        "not_applicable"
    ]
    assert document["summary"] == {"not conformant": 1}


def test_show_text_reassembles_content_and_tool_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": '},
    }
    rest = {"index": 0, "function": {"arguments": '"Paris"}'}}
    chunks = [
        *completion()[:-1],
        {
            **chunk(),
            "choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}],
        },
        {
            **chunk(),
            "choices": [
                {"index": 0, "delta": {"tool_calls": [rest]}, "finish_reason": "tool_calls"}
            ],
        },
    ]
    path = write(tmp_path, "t.sse", sse(chunks))
    assert main(["check", "--show-text", "--profile", "openai", str(path)]) == 0
    out = capsys.readouterr().out
    assert "choice 0: 'Hello!'" in out
    assert 'tool call 0: get_weather({"city": "Paris"})' in out


def test_completion_failure_is_shown_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = sse(completion()[:2], done=False) + (
        b'event: error\ndata: {"error": {"message": "upstream overloaded"}}\n\n'
    )
    assert main(["check", str(write(tmp_path, "e.sse", body))]) == 1
    out = capsys.readouterr().out
    assert "the completion failed mid-stream: upstream overloaded" in out
    assert "sse.done_present" not in out.split("not applicable")[0]


# -- limits and memory ---------------------------------------------------------------------------


def test_offline_limits_drop_the_event_and_byte_limits_only() -> None:
    limits = offline_limits(Limits(max_line=1000))
    assert limits.max_line == 1000 and limits.max_events > 10**15 and limits.max_bytes > 10**15


def test_a_line_past_the_line_limit_stops_reading(tmp_path: Path) -> None:
    body = sse([chunk("x" * 5000), *completion()])
    [recording] = recordings(write(tmp_path, "l.sse", body))
    item = judge(recording, load_profile("alphaedge"), limits=Limits(max_line=1024))
    assert set(item.result.found) == {"transport.within_limits"}


def test_memory_stays_flat_on_a_large_file(tmp_path: Path) -> None:
    piece = sse([chunk("token " * 8) for _ in range(1000)], done=False)
    path = tmp_path / "big.sse"
    with path.open("wb") as handle:
        handle.write(sse([chunk("", role=True)], done=False))
        for _ in range(30):  # about 8 MB
            handle.write(piece)
        handle.write(sse([chunk(finish="stop")]))
    tracemalloc.start()
    try:
        item = judge_one(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert item.verdict() == "conformant" and item.result.events == 30_003
    assert path.stat().st_size > 7_000_000
    assert peak < 2_500_000, f"peak {peak:,} bytes while reading {path.stat().st_size:,}"


def test_curl_capture_of_a_refused_connection_is_unreadable(tmp_path: Path) -> None:
    data = (
        b"### peer: x\n### request: POST http://127.0.0.1:9/v1/chat/completions\n\n"
        b"### curl exit code 7\n"
    )
    [item] = list(_judged_or_error(write(tmp_path, "c.txt", data)))
    assert "no complete HTTP status line and headers (curl exit code 7)" in item


def _judged_or_error(path: Path) -> Any:
    from conformance._offline import UnreadableError

    try:
        yield from (j.verdict() for j in _judged(path, "alphaedge"))
    except UnreadableError as exc:
        yield str(exc)


def test_an_empty_event_stream_answer_is_judged_not_refused(tmp_path: Path) -> None:
    item = judge_one(write(tmp_path, "c.txt", curl_capture(b"")))
    assert item.verdict() == "not conformant"
    assert set(item.result.found) == {"sse.done_present", "stream.has_delta"}
