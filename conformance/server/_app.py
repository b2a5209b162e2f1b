"""The ASGI app: the documented endpoint, plus per-request fault and variation routes."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ._behaviour import Behaviour, apply, combine
from ._faults import FAULTS, Fault
from ._reply import GREETING, Answer, answers, completion, stream_chunks
from ._request import MODELS, ChatRequest, RequestError, decode_json, validate
from ._variations import VARIATIONS, Variation
from ._wire import (
    DONE,
    SSE_MEDIA_TYPE,
    encode_event,
    error_body,
    json_response,
    openai_error,
    paced,
)

MODEL_CREATED = 1764086400
_CATALOGUES: dict[str, Mapping[str, Fault | Variation]] = {"fault": FAULTS, "variation": VARIATIONS}


def create_app(
    *,
    fault: str | None = None,
    variation: str | None = None,
    delay: float = 0.0,
    api_key: str | None = None,
) -> ASGIApp:
    """The reference server; `fault` and `variation` apply to the plain `/v1/...` routes.

    `/fault/{name}/v1/...` and `/variation/{name}/v1/...` select one per request. With
    `api_key`, as the documented API does, a request without `Authorization: Bearer <key>`
    is answered 401. Raises ValueError for an unknown fault or variation name.
    """
    server = _Server(
        combine(_named("fault", fault), _named("variation", variation)), delay, api_key
    )
    routes = []
    for prefix in ("", "/fault/{fault}", "/variation/{variation}"):
        routes += [
            Route(f"{prefix}/v1/chat/completions", server.completions, methods=["POST"]),
            Route(f"{prefix}/v1/models", server.models, methods=["GET"]),
        ]
    handlers = {HTTPException: _http_error, Exception: _http_error}
    return _FramingGuard(Starlette(routes=routes, exception_handlers=handlers))


class _FramingGuard:
    """RFC 9112 6.1: a request with both Content-Length and Transfer-Encoding is refused,
    and the connection closed after the answer (uvicorn would read the body by its
    Transfer-Encoding and keep the connection, so bytes after the chunked body would be
    read as a request of their own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        names = {name.lower() for name, _ in scope.get("headers", ())}
        if scope["type"] == "http" and {b"content-length", b"transfer-encoding"} <= names:
            message = "A request must not carry both Content-Length and Transfer-Encoding."
            body = error_body(message, code="invalid_framing")
            await json_response(body, 400, {"Connection": "close"})(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _named(kind: str, name: str | None) -> Behaviour:
    catalogue = _CATALOGUES[kind]
    if name is None:
        return Behaviour()
    if name not in catalogue:
        raise ValueError(f"unknown {kind} {name!r}; choose from: {', '.join(catalogue)}")
    if _is_raw(catalogue[name]):
        raise ValueError(f"fault {name!r} breaks HTTP itself: it is served by HostileServer")
    return catalogue[name].behaviour


def _is_raw(entry: Fault | Variation) -> bool:
    return isinstance(entry, Fault) and entry.served_raw


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (404, 405) and unexpected failures, as JSON errors."""
    if isinstance(exc, HTTPException):
        body = error_body(exc.detail, status=exc.status_code)
        return json_response(body, exc.status_code, exc.headers)
    return json_response(error_body("Internal server error.", status=500), 500)


class _Server:
    def __init__(self, default: Behaviour, delay: float, api_key: str | None) -> None:
        self.default = default
        self.delay = delay
        self.api_key = api_key

    def authorise(self, request: Request) -> None:
        """Refuse a request without the server's key (when it has one), as the API does."""
        if self.api_key is None:
            return
        if request.headers.get("authorization", "") != f"Bearer {self.api_key}":
            raise RequestError(
                "Incorrect API key provided. You can find your API key in your account settings.",
                code="invalid_api_key",
                status=401,
            )

    def behaviour(self, params: Mapping[str, str]) -> Behaviour:
        """The behaviour a route selects: a fault, a variation, or the app's default."""
        for kind, catalogue in _CATALOGUES.items():
            if kind in params:
                if params[kind] not in catalogue or _is_raw(catalogue[params[kind]]):
                    raise RequestError(
                        f"Unknown {kind} '{params[kind]}'.",
                        param=kind,
                        code=f"unknown_{kind}",
                        status=404,
                    )
                return catalogue[params[kind]].behaviour
        return self.default

    async def models(self, request: Request) -> Response:
        try:
            self.authorise(request)
            self.behaviour(request.path_params)
        except RequestError as error:
            return openai_error(error)
        data = [
            {"id": model, "object": "model", "created": MODEL_CREATED, "owned_by": "alphaedge"}
            for model in MODELS
        ]
        return json_response({"object": "list", "data": data})

    async def completions(self, request: Request) -> Response:
        try:
            self.authorise(request)
            behaviour = self.behaviour(request.path_params)
        except RequestError as error:
            return openai_error(error)
        try:
            for inspect in behaviour.inspect:
                inspect(request.headers)
            chat = _admit(await request.body(), behaviour)
        except RequestError as error:
            return (behaviour.render_error or openai_error)(error)
        if not chat.stream:
            return json_response(completion(chat, _replies(chat, behaviour)))
        return self.stream(chat, behaviour)

    def stream(self, chat: ChatRequest, behaviour: Behaviour) -> Response:
        body = paced(
            _events(chat, behaviour), self.delay if behaviour.delay is None else behaviour.delay
        )
        for hook in behaviour.body:
            body = hook(body)
        headers = {"Cache-Control": "no-cache", **dict(behaviour.headers)}
        return StreamingResponse(
            body, headers=headers, media_type=behaviour.media_type or SSE_MEDIA_TYPE
        )


def _admit(raw: bytes, behaviour: Behaviour) -> ChatRequest:
    """Decode, prepare and validate a request body, as `behaviour` says."""
    body = (behaviour.decode or decode_json)(raw)
    for prepare in behaviour.prepare:
        body = prepare(body)
    chat = validate(body)
    for admit in behaviour.admit:
        admit(chat)
    return chat


def _replies(chat: ChatRequest, behaviour: Behaviour) -> list[Answer]:
    return answers(chat, behaviour.greeting or GREETING)


def _events(chat: ChatRequest, behaviour: Behaviour) -> list[bytes]:
    """The bytes of every event of one streamed completion, `[DONE]` included."""
    chunks = apply(behaviour.chunks, stream_chunks(chat, _replies(chat, behaviour)))
    payloads = apply(behaviour.payloads, [*map(orjson.dumps, chunks), DONE])
    return apply(behaviour.events, [encode_event(payload) for payload in payloads])
