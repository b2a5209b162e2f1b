"""Rules on one chunk's shape, enforced through the `x-rule` annotations in `schemas/`.

A chunk is validated once against the profile's chunk schema; each error is attributed to
the `x-rule` of the deepest schema that failed and handed to that rule's check, which words
it. The shape rules of the openai and mistral contracts are in `openai` and `mistral`.
"""

from __future__ import annotations

from conformance._model import Level
from conformance._registry import SEED, Problem, schema_rule
from conformance._schemas import SchemaError

OPENAI = "OpenAI API reference, CreateChatCompletionStreamResponse"
MISTRAL = "Mistral AI API reference, CompletionChunk"


def schema_problem(error: SchemaError) -> Problem:
    """A schema error, as the problem of the rule it is attributed to."""
    return Problem(error.message, error.expected, error.received, error.json_path)


_SCHEMA_RULES = (
    ("chunk.id", "`id` is a non-empty string", "A unique identifier for the completion."),
    (
        "chunk.object",
        '`object` is exactly "chat.completion.chunk"',
        'The object type, which is "chat.completion.chunk" for streaming.',
    ),
    (
        "chunk.created",
        "`created` is an integer",
        "The Unix timestamp of when the completion was created.",
    ),
    ("chunk.model", "`model` is a non-empty string", "The model used for the completion."),
    ("chunk.choices", "`choices` is an array", "The list of completion choices."),
    (
        "choice.index",
        "each choice has a non-negative integer `index`",
        '"index": 0 (every choice in the documented response carries its index)',
    ),
    (
        "choice.delta",
        "each choice has an object `delta`",
        '"delta": {"content": "Hello"} (every choice carries the delta of this chunk)',
    ),
    (
        "choice.finish_reason",
        "`finish_reason` is a string or null",
        '"finish_reason": null (null until the choice ends)',
    ),
    (
        "delta.content",
        "`delta.content` is a string or null",
        'console.log(chunk.choices[0].delta.content); "delta": {"content": "Hello"}',
    ),
    (
        "delta.role",
        '`delta.role`, when present, is "assistant"',
        "A list of messages comprising the conversation so far. "
        "(The streamed message is the assistant's reply.)",
    ),
)

for _rule_id, _title, _sentence in _SCHEMA_RULES:
    schema_rule(_rule_id, level=Level.MUST, title=_title, source=SEED, sentence=_sentence)(
        schema_problem
    )
