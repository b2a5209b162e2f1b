"""Rules of the `mistral` profile: Mistral AI's published CompletionChunk.

All of them are shape rules, enforced through `schemas/mistral/`; what Mistral shares with
OpenAI (usage counts, tool-call arguments, every choice finishing) is in `features`.
"""

from __future__ import annotations

from conformance._model import Level
from conformance._registry import schema_rule
from conformance.rules.schema import MISTRAL, schema_problem

for _rule_id, _title, _sentence in (
    (
        "mistral.finish_reason",
        "finish_reason is present on every choice: null, or stop/length/model_length/error/"
        "tool_calls",
        "CompletionResponseStreamChoice.finish_reason (required): stop, length, model_length, "
        "error or tool_calls; null while the choice continues.",
    ),
    (
        "mistral.content",
        "delta.content is a string, null, or an array of typed parts",
        "DeltaMessage.content: string, null, or ContentChunk[] (text parts carry `text`, "
        "thinking parts carry `thinking`).",
    ),
    (
        "mistral.tool_calls",
        "each tool call names its function and carries its arguments "
        "(whole calls may omit index and type)",
        "ToolCall: function (required) = FunctionCall {name (required), arguments (required): "
        "string or object}; id: string; type: function (default); index: integer (default 0).",
    ),
):
    schema_rule(_rule_id, level=Level.MUST, title=_title, source=MISTRAL, sentence=_sentence)(
        schema_problem
    )
