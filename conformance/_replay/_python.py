"""Replaying recorded responses through the Python client libraries, in this process.

Each library is handed the recorded response by a mock transport of its own HTTP client
(`httpx2` for openai-python, `httpx` for httpx-sse), body pieces as they arrived, so it
parses the exact bytes, split where the network split them, through its own streaming
entry point. Nothing is sent anywhere. The libraries are imported only here, and only
when a replay asks for them.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from conformance._model import ChoiceRead, Reading, ToolCallRead
from conformance._replay._accumulate import Accumulator
from conformance._replay._recorded import Recorded

URL = "http://replay.invalid/v1"
MODEL = "replay"
MESSAGES = [{"role": "user", "content": "Hi"}]

Reader = Callable[[Recorded], Reading]


def describe(exc: BaseException) -> str:
    """`Type: message`, bounded."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


class Current:
    """The recording a mock transport answers with (one client serves a whole batch)."""

    def __init__(self) -> None:
        self.recording: Recorded | None = None

    def pieces(self) -> Iterator[bytes]:
        assert self.recording is not None
        return iter(list(self.recording.chunks))


def openai_readers() -> dict[str, Reader]:
    """The readers of openai-python's two streaming entry points, by entry name."""
    httpx2 = importlib.import_module("httpx2")  # openai-python's own HTTP client
    openai = importlib.import_module("openai")
    current = Current()

    def answer(request: Any) -> Any:
        recording = current.recording
        assert recording is not None
        return httpx2.Response(
            recording.status, headers=recording.headers, content=current.pieces()
        )

    client: Any = openai.OpenAI(
        api_key="replay",
        base_url=URL,
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(answer)),
    )

    def create(recording: Recorded) -> Reading:
        current.recording = recording
        accumulator = Accumulator()
        try:
            stream = client.chat.completions.create(
                model=MODEL,
                messages=MESSAGES,
                stream=True,
            )
            for chunk in stream:
                accumulator.add(chunk.to_dict())
        except Exception as exc:
            return accumulator.reading(describe(exc))
        return accumulator.reading()

    def helper(recording: Recorded) -> Reading:
        """The helper raises LengthFinishReasonError, by design, at a `length` finish, with
        the whole completion it read: that completion is its reading."""
        current.recording = recording
        accumulator = Accumulator()
        try:
            with client.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
                for event in stream:
                    if event.type == "chunk":
                        accumulator.add(event.chunk.to_dict())
                final = stream.get_final_completion()
        except openai.LengthFinishReasonError as exc:
            final = exc.completion
        except Exception as exc:
            return accumulator.reading(describe(exc))
        return Reading(tuple(_final_choice(c) for c in final.choices), accumulator.chunks)

    entries = ("chat.completions.create(stream=True)", "chat.completions.stream()")
    return dict(zip(entries, (create, helper), strict=True))


def _final_choice(choice: Any) -> ChoiceRead:
    message = choice.message
    calls = tuple(
        ToolCallRead(i, call.id, call.function.name or "", call.function.arguments or "")
        for i, call in enumerate(message.tool_calls or ())
        if getattr(call, "function", None) is not None
    )
    return ChoiceRead(choice.index, message.content or "", calls, choice.finish_reason)


def httpx_sse_readers() -> dict[str, Reader]:
    """The reader of httpx-sse: `connect_sse` then `iter_sse`, each event's data decoded as
    JSON until `[DONE]`, as its documentation shows."""
    import httpx

    connect_sse = importlib.import_module("httpx_sse").connect_sse
    current = Current()

    def answer(request: httpx.Request) -> httpx.Response:
        recording = current.recording
        assert recording is not None
        return httpx.Response(recording.status, headers=recording.headers, content=current.pieces())

    http = httpx.Client(transport=httpx.MockTransport(answer))

    def read(recording: Recorded) -> Reading:
        current.recording = recording
        accumulator = Accumulator()
        body = {"model": MODEL, "messages": MESSAGES, "stream": True}
        try:
            with connect_sse(http, "POST", f"{URL}/chat/completions", json=body) as source:
                for event in source.iter_sse():
                    if event.data == "[DONE]":
                        break
                    accumulator.add(json.loads(event.data))
        except Exception as exc:
            return accumulator.reading(describe(exc))
        return accumulator.reading()

    return {"connect_sse().iter_sse()": read}


READERS: dict[str, Callable[[], dict[str, Reader]]] = {
    "openai-python": openai_readers,
    "httpx-sse": httpx_sse_readers,
}
"""Per Python library, a function that imports it and returns its readers by entry."""
