"""Decode and validate a chat-completion request body (standard library only)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MODELS = ("alphaedge-large-3-2512", "alphaedge-small-3-2512")
DEFAULT_MODEL = MODELS[0]
ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
MAX_CHOICES = 8

_SURROGATE = re.compile("[\\ud800-\\udfff]")
_JSON_TYPES = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


class RequestError(Exception):
    """A request the server refuses; rendered as an error response by the app."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str = "invalid_value",
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated request, with the documented defaults filled in."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = True
    n: int = 1
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    include_usage: bool = False
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None


def decode_json(raw: bytes) -> object:
    """Parse `raw` as UTF-8 JSON, replacing lone surrogates (which cannot be re-encoded)."""
    try:
        return scrub(json.loads(raw.decode("utf-8"), parse_constant=_reject_constant))
    except UnicodeDecodeError:
        raise RequestError("Request body is not valid UTF-8.", code="invalid_json") from None
    except (ValueError, RecursionError) as exc:
        message = f"Request body is not valid JSON: {exc}"
        raise RequestError(message, code="invalid_json") from None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def scrub(value: object) -> object:
    """Return `value` with every lone surrogate in its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, dict):
        return {scrub(key): scrub(item) for key, item in value.items()}
    return value


def validate(body: object) -> ChatRequest:
    """Check `body` against the documented parameters; raise `RequestError` on a mistake."""
    if not isinstance(body, dict):
        raise RequestError("Request body must be a JSON object.", code="invalid_type")
    request = ChatRequest(
        messages=_messages(body),
        model=_model(body),
        stream=_typed(body, "stream", (bool,), "a boolean", nullable=False) is not False,
        n=_bounded(body, "n", 1, MAX_CHOICES) or 1,
        max_tokens=_bounded(body, "max_tokens", 1, None),
        stop=_stop(body),
        include_usage=_include_usage(body),
        tools=_tools(body),
        tool_choice=_typed(body, "tool_choice", (str, dict), "a string or an object"),
    )
    if request.model not in MODELS:
        message = f"The model '{request.model}' does not exist."
        raise RequestError(message, param="model", code="model_not_found", status=404)
    return request


def json_type(value: object) -> str:
    """JSON name of the type of a decoded value."""
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "null")


def _invalid_type(param: str, expected: str, value: object) -> RequestError:
    message = f"Invalid type for '{param}': expected {expected}, but got {json_type(value)}."
    return RequestError(message, param=param, code="invalid_type")


def _typed(
    mapping: dict[str, Any],
    key: str,
    kinds: tuple[type, ...],
    expected: str,
    *,
    param: str | None = None,
    nullable: bool = True,
) -> Any:
    """`mapping[key]` if it has one of `kinds` (None when absent, or null and `nullable`)."""
    value = mapping.get(key)
    if key not in mapping or (value is None and nullable):
        return None
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise _invalid_type(param or key, expected, value)
    return value


def _model(body: dict[str, Any]) -> str:
    model: str | None = _typed(body, "model", (str,), "a string", nullable=False)
    return DEFAULT_MODEL if model is None else model


def _bounded(body: dict[str, Any], key: str, low: int, high: int | None) -> int | None:
    value: int | None = _typed(body, key, (int,), "an integer")
    if value is not None and (value < low or (high is not None and value > high)):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise RequestError(f"Invalid value for '{key}': must be {limit}.", param=key)
    return value


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "messages" not in body:
        raise RequestError(
            "Missing required parameter: 'messages'.",
            param="messages",
            code="missing_required_parameter",
        )
    messages: list[Any] = _typed(body, "messages", (list,), "an array", nullable=False)
    if not messages:
        raise RequestError("'messages' must contain at least one message.", param="messages")
    for index, message in enumerate(messages):
        _message(message, f"messages[{index}]")
    return messages


def _message(message: object, where: str) -> None:
    if not isinstance(message, dict):
        raise _invalid_type(where, "an object", message)
    role = message.get("role")
    if not isinstance(role, str):
        raise _invalid_type(f"{where}.role", "a string", role)
    if role not in ROLES:
        allowed = ", ".join(sorted(ROLES))
        raise RequestError(
            f"Invalid value for '{where}.role': must be one of {allowed}.", param=f"{where}.role"
        )
    _typed(message, "content", (str, list), "a string, an array or null", param=f"{where}.content")


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    stop = _typed(body, "stop", (str, list), "a string or an array of strings")
    if isinstance(stop, str):
        return (stop,)
    if stop and not all(isinstance(item, str) for item in stop):
        raise _invalid_type("stop", "a string or an array of strings", stop)
    return tuple(stop or ())


def _include_usage(body: dict[str, Any]) -> bool:
    options = _typed(body, "stream_options", (dict,), "an object")
    if options is None:
        return False
    param = "stream_options.include_usage"
    usage = _typed(options, "include_usage", (bool,), "a boolean", param=param, nullable=False)
    return usage is True


def _tools(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools: list[Any] | None = _typed(body, "tools", (list,), "an array")
    for index, tool in enumerate(tools or ()):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str):
            raise _invalid_type(f"tools[{index}].function.name", "a string", name)
        if not name:
            where = f"tools[{index}].function.name"
            raise RequestError(f"Invalid value for '{where}': must not be empty.", param=where)
    return tools
