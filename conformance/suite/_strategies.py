"""Hypothesis strategies that draw requests from `schemas/request.json`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from conformance._model import Mistake
from conformance._schemas import load

CONVERSATION_ROLES = ("user", "assistant")
"""Roles drawn between the optional leading system/developer message and the final user
turn. The schema also lists `tool`, which needs a preceding assistant tool call with a
matching id; the tool-call cases of the profiles exercise it instead."""

Body = dict[str, Any]

MUTATIONS: dict[str, tuple[Mistake, Callable[[Body], Body]]] = {
    "messages missing": (Mistake.MISSING_MESSAGES, lambda body: _without(body, "messages")),
    "messages not an array": (Mistake.WRONG_TYPE, lambda body: {**body, "messages": "Hello!"}),
    "model not a string": (Mistake.WRONG_TYPE, lambda body: {**body, "model": 42}),
    "stream not a boolean": (Mistake.WRONG_TYPE, lambda body: {**body, "stream": "true"}),
}
"""Ways to break one documented field, with the client mistake each makes."""


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


def _text() -> st.SearchStrategy[str]:
    # Any Unicode text except lone surrogates, which no JSON encoder can carry as UTF-8.
    return st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=120)


def _first_roles() -> tuple[str, ...]:
    # `developer` is listed among the schema's examples but is an OpenAI-only role that the
    # seed doc never defines: only `system` may lead a conversation in a drawn request.
    examples = load("request")["$defs"]["message"]["properties"]["role"]["examples"]
    return tuple(r for r in examples if r == "system")


@st.composite
def messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A conversation: an optional system/developer message, turns, a final user message."""
    conversation = []
    if draw(st.booleans()):
        conversation.append(
            {"role": draw(st.sampled_from(_first_roles())), "content": draw(_text())}
        )
    for role in draw(st.lists(st.sampled_from(CONVERSATION_ROLES), max_size=4)):
        conversation.append({"role": role, "content": draw(_text())})
    conversation.append({"role": "user", "content": draw(_text())})
    return conversation


def valid_requests(model: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid streaming requests for `model`: the documented fields, each schema-valid."""
    properties = load("request")["properties"]
    assert {"model", "messages", "stream"} <= set(properties)
    return st.builds(lambda m: {"model": model, "messages": m, "stream": True}, messages())


def broken_requests(model: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """(mutation name, request) pairs that break one documented field."""
    return st.tuples(st.sampled_from(sorted(MUTATIONS)), valid_requests(model)).map(
        lambda pair: (pair[0], MUTATIONS[pair[0]][1](pair[1]))
    )
