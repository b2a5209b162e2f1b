"""Pre-flight: one valid request before the suite, to tell a set-up mistake from a verdict.

An unreachable target, a refused API key, a URL that is not the API's base URL and a model
the target does not serve are mistakes in how the suite was pointed at the target, not
findings about the target: each ends the run before it starts, with one short paragraph that
says what to change. Any other answer (a 5xx, a malformed stream) is left to the suite.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from conformance._client import Client, LiveResult, Target, TargetUnreachable
from conformance._curl import API_KEY_VARIABLE, redact
from conformance._json import dumps, loads
from conformance._model import DEPTH_LIMIT
from conformance.rules.framing import error_message

DEADLINE = 15.0
"""Seconds the pre-flight request may take at most (the target's own deadline if shorter)."""
MESSAGE_LIMIT = 200
MODELS_SHOWN = 12
_ENDPOINT = "/chat/completions"


class SetupError(Exception):
    """The suite was pointed at the target wrongly: the message says what to change."""


def preflight(target: Target) -> None:
    """Send one minimal valid request; raise SetupError when the answer shows a set-up
    mistake (nothing is judged: the suite runs next)."""
    limits = replace(target.limits, deadline=min(target.limits.deadline, DEADLINE))
    request = {"model": target.model, "messages": [{"role": "user", "content": "Hi"}]}
    with Client(replace(target, limits=limits)) as client:
        try:
            live = client.stream({**request, "stream": True})
        except TargetUnreachable as exc:
            raise SetupError(
                f"{exc}. Check --target-url (the API's base URL, e.g. https://host/v1) and, "
                "for HTTPS with a private CA, --ca-bundle."
            ) from None
        problem = _problem(client, live)
    if problem:
        raise SetupError(problem)


def _problem(client: Client, live: LiveResult) -> str | None:
    target, status = client.target, live.exchange.status
    if status is None or not 400 <= status < 500:
        return None
    said = _server_message(live, target)
    answer = f"(HTTP {status} {live.exchange.reason}".rstrip() + f"{said})"
    if status in (401, 403):
        sent = "An API key was sent" if target.api_key else "No API key was sent"
        return (
            f"the target refused the credentials {answer}. {sent}: pass the right one with "
            f"--api-key or set ${API_KEY_VARIABLE} (or the header the target expects with "
            "--header 'Name: value')."
        )
    if _names_model(live, target.model):
        offered = client.models()
        listing = (
            f" It lists these in GET {target.base_url.rstrip('/')}/models: "
            f"{', '.join(offered[:MODELS_SHOWN])}{' ...' if len(offered) > MODELS_SHOWN else ''}."
            if offered
            else ""
        )
        return (
            f"the target does not serve the model {target.model!r} {answer}. Pass a model it "
            f"serves with --model.{listing}"
        )
    if status == 404:
        return (
            f"nothing answers at {target.endpoint} {answer}. --target-url is the API's base "
            f"URL; the suite sends requests to <base>{_ENDPOINT}. Try --target-url "
            f"{suggested_base(target.base_url)}."
        )
    return None


def _server_message(live: LiveResult, target: Target) -> str:
    """`: "<the server's own message>"` from a JSON error body, redacted; else ''."""
    try:
        body: Any = loads(live.body, DEPTH_LIMIT)
    except ValueError:  # not JSON, or nested beyond the bounds
        text = live.body[:MESSAGE_LIMIT].decode("utf-8", "replace").strip()
    else:
        text = error_message(body) if isinstance(body, dict) else str(body)
    text = redact(" ".join(text.split())[:MESSAGE_LIMIT], target.secrets())
    return f': "{text}"' if text else ""


def _names_model(live: LiveResult, model: str) -> bool:
    """Whether a 4xx answer blames the requested model (its name, `param: model`, or a
    `model_not_found` code)."""
    try:
        body: Any = loads(live.body, DEPTH_LIMIT)
    except ValueError:  # not JSON, or nested beyond the bounds
        return model in live.body.decode("utf-8", "replace")
    error = body.get("error", body) if isinstance(body, dict) else {}
    if isinstance(error, dict) and (
        error.get("param") == "model" or "model" in str(error.get("code", ""))
    ):
        return True
    return bool(model) and model in dumps(body)


def suggested_base(url: str) -> str:
    """The base URL the user probably meant: without `/chat/completions`, with `/v1`."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith(_ENDPOINT):
        path = path.removesuffix(_ENDPOINT)
    elif not path.endswith("/v1"):
        path = f"{path}/v1"
    return urlunsplit((parts.scheme, parts.netloc, path or "/v1", "", ""))
