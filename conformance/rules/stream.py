"""Rules across the chunks of one completion, and across completions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any

from conformance._model import Event, Level, Need
from conformance._registry import SEED, Judges, Problem, chunk_rule, end_rule, session_rule
from conformance._state import ChoiceState, StreamState

RECENT_SECONDS = 600
"""How far `created` may be from the client's clock (clock skew plus queueing)."""


def _changed(event: Event, key: str, first: Any, value: Any) -> Problem:
    return Problem(
        f"`{key}` changed within one completion",
        expected=repr(first),
        received=repr(value),
        json_path=f"$.{key}",
        event_index=event.index,
        offset=event.offset,
    )


CHOICES = Judges(lambda state: bool(state.choices), "no chunk carried a choice")
CREATED = Judges(
    lambda state: type(state.first_created) is int, "no chunk carried an integer created"
)

# The chunk rules run on every chunk: each returns early on the common, conformant case
# (about 0.1 us), so that checking every rule stays cheaper than decoding the JSON. Each also
# says, as a JSON Schema, which chunks it lets pass in the present state (`quiet`): while a
# stream's chunks satisfy all of them, one compiled validation stands for every call.

NO_QUIET_SCHEMA = None
"""What a `quiet` function returns when no schema can say which chunks the rule lets pass."""


def same_as_first(key: str, first: Any) -> dict[str, Any] | None:
    """The chunks whose `key` is `== first` in every way JSON Schema's `const` also accepts:
    a string or an integer (a missing key is None); for other values Python's `==` and JSON's
    equality part ways (True == 1), so no schema is said."""
    if first is None:
        return {"properties": {key: {"type": "null"}}}
    if type(first) not in (str, int):
        return NO_QUIET_SCHEMA
    return {"required": [key], "properties": {key: {"const": first}}}


def quiet_same(key: str) -> Callable[[StreamState], dict[str, Any] | None]:
    """The `quiet` schema of a rule that every chunk's `key` equals the first chunk's."""

    def quiet(state: StreamState) -> dict[str, Any] | None:
        return {} if state.chunks == 0 else same_as_first(key, getattr(state, f"first_{key}"))

    return quiet


def open_choices_only(state: StreamState) -> dict[str, Any]:
    """The chunks whose entries are all for choices not finished (none, before any finish)."""
    if not state.finished:
        return {}
    finished = [i for i, c in state.choices.items() if c.finished_at is not None]
    entry = {"properties": {"index": {"not": {"enum": finished}}}}
    return {"properties": {"choices": {"items": entry}}}


@chunk_rule(
    "stream.id_consistent",
    quiet=quiet_same("id"),
    level=Level.MUST,
    title="Every chunk of a completion carries the same id",
    source=SEED,
    sentence="id: A unique identifier for the completion.",
)
def id_consistent(state: StreamState, event: Event, chunk: dict[str, Any]) -> Problem | None:
    value = chunk.get("id")
    if value == state.first_id or state.chunks == 0:
        return None
    return _changed(event, "id", state.first_id, value)


@chunk_rule(
    "stream.created_consistent",
    quiet=quiet_same("created"),
    level=Level.SHOULD,
    title="Every chunk carries the same created timestamp",
    source=SEED,
    sentence="created: The Unix timestamp of when the completion was created.",
)
def created_consistent(state: StreamState, event: Event, chunk: dict[str, Any]) -> Problem | None:
    value = chunk.get("created")
    if value == state.first_created or state.chunks == 0:
        return None
    return _changed(event, "created", state.first_created, value)


@chunk_rule(
    "stream.model_consistent",
    quiet=quiet_same("model"),
    level=Level.SHOULD,
    title="Every chunk names the same model",
    source=SEED,
    sentence="model: The model used for the completion.",
)
def model_consistent(state: StreamState, event: Event, chunk: dict[str, Any]) -> Problem | None:
    value = chunk.get("model")
    if value == state.first_model or state.chunks == 0:
        return None
    return _changed(event, "model", state.first_model, value)


def _indexes(chunk: dict[str, Any]) -> list[int]:
    choices = chunk.get("choices")
    if type(choices) is not list:
        return []
    return [c["index"] for c in choices if type(c) is dict and type(c.get("index")) is int]


def _entries(chunk: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    choices = chunk.get("choices")
    if type(choices) is not list:
        return []
    return [(c["index"], c) for c in choices if type(c) is dict and type(c.get("index")) is int]


_EMPTY: tuple[Any, ...] = (None, "", [], {})


def _carries(entry: dict[str, Any], choice: ChoiceState) -> bool:
    """Whether a choice entry brings anything: a delta field with a value (a role other than
    the assistant's counts), or a finish reason other than the one the choice ended with.

    An entry that brings nothing is `{"delta": {}}`, only nulls or empty strings, the same
    role again, or the same finish reason again (as some servers send beside a final usage
    report): `stream.empty_after_finish` warns of it.
    """
    reason = entry.get("finish_reason")
    if reason is not None and str(reason) != choice.finish_reason:
        return True
    delta = entry.get("delta")
    if type(delta) is not dict:
        return delta not in _EMPTY
    return any(
        value not in _EMPTY and not (key == "role" and value == "assistant")
        for key, value in delta.items()
    )


def _after_finish(
    state: StreamState, chunk: dict[str, Any], *, carrying: bool
) -> tuple[int, ChoiceState] | None:
    """The first entry of `chunk` for a finished choice that carries something (with
    `carrying=False`: that carries nothing), with its choice."""
    if not state.finished:  # no choice has finished yet
        return None
    for index, entry in _entries(chunk):
        choice = state.choices.get(index)
        if choice is None or choice.finished_at is None:
            continue
        if _carries(entry, choice) == carrying:
            return index, choice
    return None


@chunk_rule(
    "stream.after_finish",
    quiet=open_choices_only,
    level=Level.MUST,
    title="Nothing arrives for a choice after its finish_reason",
    source=SEED,
    sentence='"finish_reason": null (a choice is open until its finish_reason is set)',
)
def after_finish(state: StreamState, event: Event, chunk: dict[str, Any]) -> Problem | None:
    found = _after_finish(state, chunk, carrying=True)
    if found is None:
        return None
    index, choice = found
    return Problem(
        f"choice {index} received a delta after it finished",
        expected=f"no content, tool call or other finish reason for choice {index} after "
        f"event {(choice.finished_at or 0) + 1}",
        received=f"a delta for choice {index}",
        json_path="$.choices",
        event_index=event.index,
        offset=event.offset,
    )


@chunk_rule(
    "stream.empty_after_finish",
    quiet=open_choices_only,
    level=Level.SHOULD,
    title="A finished choice gets no further entries, not even empty ones",
    source=SEED,
    sentence='"finish_reason": null (a choice is open until its finish_reason is set; once '
    "set, the choice is done)",
)
def empty_after_finish(state: StreamState, event: Event, chunk: dict[str, Any]) -> Problem | None:
    found = _after_finish(state, chunk, carrying=False)
    if found is None:
        return None
    index, choice = found
    return Problem(
        f"choice {index} received an entry that carries nothing after it finished",
        expected=f"no entry for choice {index} after event {(choice.finished_at or 0) + 1}",
        received="an empty delta, the same role or the same finish reason again",
        json_path="$.choices",
        event_index=event.index,
        offset=event.offset,
    )


def _one_index_in_range(state: StreamState) -> dict[str, Any]:
    """At most one entry, its index (when a number) at least 0 and below the requested n."""
    index: dict[str, Any] = {"minimum": 0}
    if state.requested_n is not None:
        index["exclusiveMaximum"] = state.requested_n
    entry = {"properties": {"index": index}}
    return {"properties": {"choices": {"maxItems": 1, "items": entry}}}


@chunk_rule(
    "stream.choice_indexes",
    quiet=_one_index_in_range,
    level=Level.MUST,
    title="Choice indexes are 0..n-1, each once per chunk",
    source=SEED,
    sentence='"index": 0 (choices are numbered from 0, one index per requested choice)',
)
def choice_indexes(state: StreamState, event: Event, chunk: dict[str, Any]) -> Problem | None:
    limit = state.requested_n
    choices = chunk.get("choices")
    if type(choices) is list and len(choices) == 1 and type(choices[0]) is dict:
        index = choices[0].get("index")  # the common case: one choice, judged without a list
        if type(index) is not int or (index >= 0 and (limit is None or index < limit)):
            return None
    indexes = _indexes(chunk)
    if _distinct_in_range(indexes, limit):
        return None
    return Problem(
        "a chunk carries a choice index outside 0..n-1 or the same index twice",
        expected=f"distinct indexes in 0..{(limit or 1) - 1}" if limit else "distinct indexes >= 0",
        received=repr(indexes),
        json_path="$.choices",
        event_index=event.index,
        offset=event.offset,
    )


def _distinct_in_range(indexes: list[int], limit: int | None) -> bool:
    in_range = all(i >= 0 and (limit is None or i < limit) for i in indexes)
    return in_range and len(set(indexes)) == len(indexes)


@end_rule(
    "stream.has_delta",
    level=Level.MUST,
    title="A completion carries at least one choice delta",
    source=SEED,
    sentence="choices: The list of completion choices.",
)
def has_delta(state: StreamState) -> Iterator[Problem]:
    if not state.choices:
        yield Problem(
            "no chunk of the completion carries a choice",
            expected="at least one chunk with a choice delta",
            received=f"{state.chunks} chunks, none with a choice"
            if state.chunks
            else f"no chunk at all in {state.events} event(s)",
        )


@end_rule(
    "stream.choices_complete",
    judges=CHOICES,
    level=Level.MUST,
    title="Every choice 0..n-1 of a completion is delivered",
    source=SEED,
    sentence='"index": 0 (choices are numbered from 0, one index per requested choice)',
)
def choices_complete(state: StreamState) -> Iterator[Problem]:
    if not state.choices:
        return
    count = state.requested_n or max(state.choices) + 1
    present = sum(1 for i in state.choices if 0 <= i < count)
    if present == count:
        return
    # the first few missing indexes, found without building range(count): n and the indexes
    # come from the target or the request and may be any number
    missing = list(islice((i for i in range(count) if i not in state.choices), SHOWN))
    more = count - present - len(missing)
    yield Problem(
        f"choice index(es) {_listed(missing, more)} never appear in the completion",
        expected=f"choices 0..{count - 1}",
        received=f"indexes {_listed(sorted(state.choices)[:SHOWN], len(state.choices) - SHOWN)}",
        json_path="$.choices[*].index",
    )


SHOWN = 10
"""Indexes a message lists before it counts the rest."""


def _listed(indexes: list[int], more: int) -> str:
    shown = ", ".join(map(str, indexes))
    return f"[{shown}, ... and {more:,} more]" if more > 0 else f"[{shown}]"


@end_rule(
    "stream.finish_reason_present",
    judges=CHOICES,
    level=Level.SHOULD,
    title="Each choice ends with a finish_reason",
    source=SEED,
    sentence='"finish_reason": null (set to the reason when the choice ends)',
)
def finish_reason_present(state: StreamState) -> Iterator[Problem]:
    return unfinished_choices(state)


def unfinished_choices(state: StreamState) -> Iterator[Problem]:
    """A problem for each choice that never received a finish_reason."""
    for choice in state.choices.values():
        if choice.finished_at is None:
            yield Problem(
                f"choice {choice.index} never received a finish_reason",
                expected="a non-null finish_reason on the last chunk of the choice",
                received=f"finish_reason null or absent through event {choice.last_event + 1}",
                json_path=f"$.choices[{choice.index}].finish_reason",
                event_index=choice.last_event,
            )


@end_rule(
    "stream.created_recent",
    judges=CREATED,
    needs=frozenset({Need.LIVE}),
    level=Level.SHOULD,
    title="created is a Unix time in seconds, near the current time",
    source=SEED,
    sentence="created: The Unix timestamp of when the completion was created.",
)
def created_recent(state: StreamState) -> Iterator[Problem]:
    created = state.first_created
    now = state.started_at if state.started_at is not None else time.time()
    if type(created) is not int or abs(created - now) <= RECENT_SECONDS:
        return
    unit = " (looks like milliseconds)" if created > now * 100 else ""
    yield Problem(
        f"created is {created - int(now):+d} s from the client's clock{unit}",
        expected=f"within {RECENT_SECONDS} s of {int(now)}",
        received=str(created),
        json_path="$.created",
        event_index=state.first_chunk_event,
    )


@session_rule(
    "stream.id_unique",
    level=Level.MUST,
    title="Two completions never share an id",
    source=SEED,
    sentence="id: A unique identifier for the completion.",
)
def id_unique(ids: Sequence[str]) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for number, completion_id in enumerate(ids):
        if completion_id in seen:
            yield Problem(
                f"completions {seen[completion_id] + 1} and {number + 1} share one id",
                expected="a distinct id per completion",
                received=repr(completion_id),
                json_path="$.id",
            )
        else:
            seen[completion_id] = number
