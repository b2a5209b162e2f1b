"""What the checker has learnt about one stream so far; rules read it, the checker updates it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DONE = "[DONE]"


@dataclass(slots=True)
class ChoiceState:
    """The life of one choice index across the chunks of a completion."""

    index: int
    first_event: int
    last_event: int
    deltas: int = 0
    finish_reason: str | None = None
    finished_at: int | None = None
    text: list[str] = field(default_factory=list)


@dataclass(slots=True)
class StreamState:
    """Facts gathered while a stream is read; `update` is called after the chunk rules ran."""

    live: bool = False
    requested_n: int | None = None
    started_at: float | None = None
    keep_text: bool = False
    events: int = 0
    chunks: int = 0
    first_id: Any = None
    first_created: Any = None
    first_model: Any = None
    first_chunk_event: int | None = None
    choices: dict[int, ChoiceState] = field(default_factory=dict)
    done_event: int | None = None
    done_offset: int | None = None
    after_done: list[int] = field(default_factory=list)
    error_payloads: list[tuple[int, str]] = field(default_factory=list)
    pending_data: str | None = None
    pending_offset: int | None = None

    def update(self, event_index: int, chunk: dict[str, Any]) -> None:
        """Record one chunk object (after every chunk rule has seen it)."""
        if self.chunks == 0:
            self.first_id = chunk.get("id")
            self.first_created = chunk.get("created")
            self.first_model = chunk.get("model")
            self.first_chunk_event = event_index
        self.chunks += 1
        choices = chunk.get("choices")
        if type(choices) is list:
            for choice in choices:
                if type(choice) is dict:
                    self._update_choice(event_index, choice)

    def _update_choice(self, event_index: int, choice: dict[str, Any]) -> None:
        index = choice.get("index")
        if type(index) is not int:
            return
        state = self.choices.get(index)
        if state is None:
            state = self.choices[index] = ChoiceState(index, event_index, event_index)
        state.last_event = event_index
        state.deltas += 1
        reason = choice.get("finish_reason")
        if reason is not None and state.finished_at is None:
            state.finish_reason = str(reason)
            state.finished_at = event_index
        if self.keep_text:
            _keep_text(state, choice.get("delta"))


def _keep_text(state: ChoiceState, delta: Any) -> None:
    if type(delta) is dict:
        content = delta.get("content")
        if type(content) is str:
            state.text.append(content)
