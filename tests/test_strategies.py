"""The requests the suite draws from schemas/request.json: valid ones are valid, broken ones
are broken in the one way they say, and every part of the schema is broken somewhere."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance._model import Mistake
from conformance._profiles import load_profile, profile_names
from conformance._schemas import SchemaChecker
from conformance.suite._strategies import (
    LONG_TEXT,
    Request,
    breadth,
    breakages,
    broken_requests,
    minimal,
    sweep_size,
    valid_requests,
)

MODEL = "alphaedge-large-3-2512"
REQUEST = SchemaChecker("request")
SCHEMA_BROKEN = {Mistake.MISSING_MESSAGES, Mistake.WRONG_TYPE, Mistake.INVALID_VALUE}
"""Mistakes the request schema itself refuses (the others break the bytes or the headers)."""
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def _decoded(request: Request) -> Any:
    return orjson.loads(request.body) if isinstance(request.body, bytes) else request.body


@pytest.mark.parametrize("profile", profile_names())
def test_drawn_valid_requests_are_valid(profile: str) -> None:
    @QUICK
    @given(valid_requests(MODEL, load_profile(profile)))
    def valid(request: Request) -> None:
        assert REQUEST.is_valid(request.body), request
        assert request.accepts is not None
        orjson.dumps(request.body)

    valid()


@pytest.mark.parametrize("profile", profile_names())
def test_breadth_covers_every_conversation_role_long_and_unicode_text(profile: str) -> None:
    requests = breadth(MODEL, load_profile(profile))
    assert all(REQUEST.is_valid(r.body) for r in requests)
    roles = {m["role"] for r in requests for m in r.body["messages"]}  # type: ignore[index]
    assert roles == {"system", "user", "assistant"}
    texts = [m["content"] for r in requests for m in r.body["messages"]]  # type: ignore[index]
    assert LONG_TEXT in texts and any(isinstance(t, str) and not t.isascii() for t in texts)
    parts = any(isinstance(t, list) for t in texts)
    assert parts == load_profile(profile).requires("content_parts")


@pytest.mark.parametrize("profile", profile_names())
def test_every_breakage_breaks_the_doc_example_as_it_says(profile: str) -> None:
    for breakage in breakages(load_profile(profile)):
        request = breakage.request(minimal(MODEL))
        if breakage.mistake in SCHEMA_BROKEN:
            assert not REQUEST.is_valid(_decoded(request)), breakage.name
        elif breakage.mistake is Mistake.NOT_JSON:
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(request.body)  # type: ignore[arg-type]
        elif breakage.mistake is Mistake.INVALID_UTF8:
            assert isinstance(request.body, bytes)
            with pytest.raises(UnicodeDecodeError):
                request.body.decode("utf-8")
        else:  # a valid request in another media type, or padded: a server may take it
            assert REQUEST.is_valid(_decoded(request)), breakage.name


@pytest.mark.parametrize("profile", profile_names())
def test_drawn_broken_requests_are_broken(profile: str) -> None:
    @QUICK
    @given(broken_requests(MODEL, load_profile(profile)))
    def broken(drawn: Any) -> None:
        breakage, request = drawn
        assert not breakage.sweep_only
        if breakage.mistake in SCHEMA_BROKEN:
            assert not REQUEST.is_valid(_decoded(request)), (breakage.name, request)

    broken()


def test_every_member_of_the_schema_is_broken_somewhere() -> None:
    names = {b.name for b in breakages(load_profile("openai"))}
    for where in ("model", "messages", "messages[0]", "messages[0].role", "stream", "n"):
        assert any(name.startswith(f"{where}:") for name in names), where
    assert "messages[0].role: an unknown value" in names
    assert "tools[0].function.name: an empty string" in names
    assert "body: padded with whitespace to 10 MiB" in names


def test_features_are_broken_only_under_the_profiles_that_name_them() -> None:
    alphaedge = {b.name.split(":")[0] for b in breakages(load_profile("alphaedge"))}
    assert not alphaedge & {"n", "tools", "stop", "max_tokens", "stream_options"}
    mistral = {b.name.split(":")[0] for b in breakages(load_profile("mistral"))}
    assert "tools" in mistral and "stream_options" not in mistral
    assert sweep_size(load_profile("alphaedge")) == len(breakages(load_profile("alphaedge")))


def test_a_breakage_that_needs_its_feature_starts_from_its_example() -> None:
    choice = next(b for b in breakages(load_profile("openai")) if b.name.startswith("tool_choice"))
    body = choice.request(minimal(MODEL)).body
    assert isinstance(body, dict) and body["tools"][0]["function"]["name"] == "get_weather"


def test_null_for_a_member_with_a_default_is_not_drawn_as_a_mistake() -> None:
    names = {b.name for b in breakages(load_profile("alphaedge"))}
    assert "model: null" not in names and "stream: null" not in names
    assert "messages: null" in names


def test_a_padded_body_is_the_same_request() -> None:
    padded = next(b for b in breakages(load_profile("alphaedge")) if "1 MiB" in b.name)
    body = padded.request(minimal(MODEL)).body
    assert isinstance(body, bytes) and len(body) == 1 << 20
    assert orjson.loads(body) == minimal(MODEL)


@given(st.data())
@settings(max_examples=30, deadline=None)
def test_a_request_key_tells_requests_apart(data: st.DataObject) -> None:
    one = data.draw(valid_requests(MODEL, load_profile("alphaedge")))
    assert one.key() == Request(one.body, one.headers, one.accepts).key()
    assert one.key() != Request(one.body, {"Content-Type": "text/plain"}).key()
