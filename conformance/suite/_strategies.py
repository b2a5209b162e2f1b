"""Requests drawn from `schemas/request.json`: valid ones in the breadth of the documented
shape, and ones with one part broken, each with the client mistake it makes.

The schema is the only source: its `properties` (at every depth, with the optional fields of
the features a profile names) say which JSON types, minimums and values a member allows,
and so which a broken request may carry; its `x-*` annotations (see its `$comment`) say
which mistake a missing or null member makes and which rule judges a valid request.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import strategies as st

from conformance._model import Mistake
from conformance._profiles import Profile, load_profile
from conformance._schemas import load

CONVERSATION_ROLES = ("user", "assistant")
"""Roles drawn between the optional leading system message and the final user turn. The
schema also lists `tool`, which needs a preceding assistant tool call with a matching id
(the tool-call cases of the profiles exercise it), and `developer`, OpenAI's alone."""
LONG_TEXT = "Tell me about streams, please. " * 64
"""About 2,000 characters: long, yet far inside any model's context."""
UNICODE_TEXT = (
    "Grüße, 世界! こんにちは, مرحبا, שלום, Привет 👋🏽 — e\u0301 "
    "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522 "
    "\u200d\U0001f469\u200d\U0001f4bb"
)
"""Latin with accents, CJK, right-to-left scripts, Cyrillic, an emoji with a skin tone, a
combining accent, mathematical letters beyond the BMP, zero-width joiners."""
PADDED_SIZES = {"1 MiB": 1 << 20, "10 MiB": 10 << 20}
CONTENT_TYPES = ("text/plain", "application/x-www-form-urlencoded", "application/xml")

Body = dict[str, Any]
Headers = dict[str, str | None]
_ABSENT = object()
_TYPE_VALUES: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "integer": 0,
    "number": 1.5,
    "string": "",
    "array": [],
    "object": {},
}


@dataclass(frozen=True, slots=True)
class Request:
    """What to send: a JSON body (or raw bytes), header changes, and, for a valid request,
    the acceptance rule that judges its answer's head."""

    body: Body | bytes
    headers: Headers | None = None
    accepts: str | None = None

    def key(self) -> bytes:
        """The request's identity (the same request is never sent twice)."""
        body = self.body if isinstance(self.body, bytes) else orjson.dumps(self.body)
        return body + orjson.dumps(self.headers or {}, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class Breakage:
    """One way of breaking a valid request: its name, the client mistake it makes, how to
    apply it with a value, the value the sweep uses and the values a property draws."""

    name: str
    mistake: Mistake
    apply: Callable[[Body, Any], Request] = field(repr=False, compare=False)
    value: Any = field(default=None, repr=False, compare=False)
    values: st.SearchStrategy[Any] = field(default=st.none(), repr=False, compare=False)
    sweep_only: bool = False  # too big to draw again and again

    def request(self, base: Body, value: Any = _ABSENT) -> Request:
        """`base` broken this way (with the sweep's value unless one is given)."""
        return self.apply(copy.deepcopy(base), self.value if value is _ABSENT else value)


# -- valid requests ---------------------------------------------------------------------------


def _text() -> st.SearchStrategy[str]:
    # Any Unicode text except lone surrogates, which no JSON encoder can carry as UTF-8.
    return st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=120)


def _first_roles() -> tuple[str, ...]:
    # `developer` is listed among the schema's roles but is an OpenAI-only role that the
    # seed doc never defines: only `system` may lead a conversation in a drawn request.
    roles = load("request")["$defs"]["message"]["properties"]["role"]["enum"]
    return tuple(r for r in roles if r == "system")


@st.composite
def messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A conversation: an optional system message, turns, a final user message."""
    conversation = []
    if draw(st.booleans()):
        conversation.append(
            {"role": draw(st.sampled_from(_first_roles())), "content": draw(_text())}
        )
    for role in draw(st.lists(st.sampled_from(CONVERSATION_ROLES), max_size=4)):
        conversation.append({"role": role, "content": draw(_text())})
    conversation.append({"role": "user", "content": draw(_text())})
    return conversation


def minimal(model: str) -> Body:
    """The doc's own example request, for `model`."""
    return {"model": model, "messages": [{"role": "user", "content": "Hello!"}], "stream": True}


def valid_requests(model: str, profile: Profile) -> st.SearchStrategy[Request]:
    """Valid streaming requests: any conversation; now and then one leaving out a member
    the doc gives a default (judged by that default's rule); content as parts where the
    profile documents them."""
    schema = load("request")
    properties = schema["properties"]
    omissions = [None, None, None, *(k for k in properties if _omitted_rule(properties[k]))]

    @st.composite
    def draw_request(draw: st.DrawFn) -> Request:
        body: Body = {"model": model, "messages": draw(messages()), "stream": True}
        if profile.requires("content_parts") and draw(st.booleans()):
            last = body["messages"][-1]
            last["content"] = _parts(last["content"])
        left_out = draw(st.sampled_from(omissions))
        if left_out is not None:
            del body[left_out]
            return Request(body, accepts=_omitted_rule(properties[left_out]))
        return Request(body, accepts=schema["x-accepted-by"])

    return draw_request()


def breadth(model: str, profile: Profile) -> list[Request]:
    """Valid requests that use the documented shape in its breadth, one dimension each:
    every role a conversation of the doc has, long text, any Unicode, content parts."""
    accepts = load("request")["x-accepted-by"]
    roles: list[dict[str, Any]] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one?"},
    ]
    shapes: list[list[dict[str, Any]]] = [roles, [{"role": "user", "content": LONG_TEXT}]]
    shapes.append([{"role": "user", "content": UNICODE_TEXT}])
    if profile.requires("content_parts"):
        shapes.append([{"role": "user", "content": _parts("Hello! Name a colour.")}])
    return [
        Request({"model": model, "messages": m, "stream": True}, accepts=accepts) for m in shapes
    ]


def _parts(text: str) -> list[dict[str, str]]:
    half = max(1, len(text) // 2)
    return [{"type": "text", "text": text[:half]}, {"type": "text", "text": text[half:]}]


def _omitted_rule(schema: dict[str, Any]) -> str | None:
    return schema.get("x-omitted-accepted-by")


def acceptance_rules() -> frozenset[str]:
    """The rules that judge the heads of the valid requests drawn here (from the schema)."""
    schema = load("request")
    omitted = (_omitted_rule(member) for member in schema["properties"].values())
    return frozenset({schema["x-accepted-by"], *(rule for rule in omitted if rule)})


# -- broken requests ------------------------------------------------------------------------


def breakages(profile: Profile) -> tuple[Breakage, ...]:
    """Every way the schema says a request of `profile` can be broken: the body as a whole,
    then each member at every depth (the features' members under the profiles naming them)."""
    return _breakages(profile.name)


@functools.cache
def _breakages(name: str) -> tuple[Breakage, ...]:
    profile = load_profile(name)
    schema = load("request")
    found = list(_whole_body())
    for key, member in schema["properties"].items():
        feature = member.get("x-feature")
        if feature is not None and not profile.documents(feature):
            continue
        required = key in schema["required"]
        found += _member((key,), member, schema, required=required, feature=feature)
    return tuple(found)


def sweep_size(profile: Profile) -> int:
    """How many requests the sweep of `profile` sends (one per breakage)."""
    return len(breakages(profile))


def _member(
    path: tuple[str | int, ...],
    member: dict[str, Any],
    root: dict[str, Any],
    *,
    required: bool,
    feature: str | None,
) -> Iterator[Breakage]:
    """The breakages of one member and, for objects, of its members in turn."""
    member = _resolve(member, root)
    allowed = _types(member)
    where = _path_text(path)
    mistakes = member.get("x-mistakes", {})
    setup = _setup(path, root, feature)
    if required:
        mistake = Mistake(mistakes.get("absent", "invalid_value"))
        yield Breakage(f"{where}: left out", mistake, _deleting(path, setup), None, st.none())
    for kind in _forbidden(allowed, required=required, has_default="default" in member):
        mistake = (
            Mistake(mistakes.get(kind, "wrong_type")) if kind == "null" else Mistake.WRONG_TYPE
        )
        yield Breakage(
            f"{where}: {_article(kind)}",
            mistake,
            _setting(path, setup),
            _TYPE_VALUES[kind],
            _values_of(kind),
        )
    yield from _bounds(path, member, setup)
    for name, child in member.get("properties", {}).items():
        child_required = name in member.get("required", [])
        yield from _member((*path, name), child, root, required=child_required, feature=feature)
    items = member.get("items")
    if items is not None and "string" not in allowed:
        item = _resolve(items, root)
        if "object" in _types(item):
            yield from _member((*path, 0), item, root, required=False, feature=feature)


def _bounds(
    path: tuple[str | int, ...], member: dict[str, Any], setup: Callable[[Body], Body]
) -> Iterator[Breakage]:
    """Right type, forbidden value: below a minimum, empty where one is needed, off an enum."""
    where = _path_text(path)
    invalid = Mistake.INVALID_VALUE
    apply = _setting(path, setup)
    if member.get("minLength", 0) >= 1:
        yield Breakage(f"{where}: an empty string", invalid, apply, "", st.just(""))
    if member.get("minItems", 0) >= 1:
        yield Breakage(f"{where}: an empty array", invalid, apply, [], st.just([]))
    if "minimum" in member:
        low = member["minimum"] - 1
        yield Breakage(f"{where}: below its minimum", invalid, apply, low, _integers(high=low))
    if "enum" in member:
        known = set(member["enum"])
        unknown = member.get("x-unknown", "undocumented")
        values = st.text(min_size=1, max_size=12).filter(lambda v: v not in known)
        yield Breakage(f"{where}: an unknown value", invalid, apply, unknown, values)


def _whole_body() -> Iterator[Breakage]:
    """Breakages of the body as a whole, and of its media type."""
    not_json = Mistake.NOT_JSON
    no_messages = Mistake.MISSING_MESSAGES
    yield Breakage(
        "body: not JSON",
        not_json,
        lambda body, text: Request(text.encode()),
        "Hello!",
        st.text(min_size=1, max_size=40).filter(lambda t: not _is_json(t.encode())),
    )
    yield Breakage(
        "body: JSON cut short",
        not_json,
        lambda body, part: Request(
            orjson.dumps(body)[: max(1, int(len(orjson.dumps(body)) * part))]
        ),
        0.5,
        st.floats(min_value=0.01, max_value=0.99),
    )
    yield Breakage("body: empty", not_json, lambda body, _: Request(b""), None, st.none())
    yield Breakage(
        "body: a JSON array",
        no_messages,
        lambda body, _: Request(orjson.dumps(body.get("messages", []))),
        None,
        st.none(),
    )
    yield Breakage(
        "body: a JSON string",
        no_messages,
        lambda body, text: Request(orjson.dumps(text)),
        "Hello!",
        st.text(max_size=20),
    )
    yield Breakage(
        "body: JSON null", no_messages, lambda body, _: Request(b"null"), None, st.none()
    )
    yield Breakage(
        "body: not UTF-8",
        Mistake.INVALID_UTF8,
        lambda body, data: Request(_not_utf8(body, data)),
        b"\xff\xfe",
        st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80"]),
    )
    yield Breakage(
        "header: Content-Type not JSON",
        Mistake.WRONG_CONTENT_TYPE,
        lambda body, media: Request(body, {"Content-Type": media}),
        "text/plain",
        st.sampled_from(CONTENT_TYPES),
    )
    for label, size in PADDED_SIZES.items():
        yield Breakage(
            f"body: padded with whitespace to {label}",
            Mistake.OVERSIZED,
            functools.partial(_padded, size=size),
            None,
            st.none(),
            sweep_only=True,
        )


def _padded(body: Body, _: Any, *, size: int) -> Request:
    """A valid body made `size` bytes long by whitespace before it (JSON allows it): the
    server reads and parses all of it, but the model sees the same short request."""
    data = orjson.dumps(body)
    return Request(b" " * max(0, size - len(data)) + data)


def _not_utf8(body: Body, data: bytes) -> bytes:
    """The body with `data` (not UTF-8) at the start of its last message's text."""
    encoded = orjson.dumps(body)
    marker = b'"content":"'
    at = encoded.rfind(marker)
    if at < 0:
        return data + encoded
    at += len(marker)
    return encoded[:at] + data + encoded[at:]


def _is_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


# -- helpers ----------------------------------------------------------------------------------


def _resolve(member: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = member.get("$ref")
    if ref is None:
        return member
    target: Any = root
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return dict(target)


def _types(member: dict[str, Any]) -> set[str]:
    kind = member.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _forbidden(allowed: set[str], *, required: bool, has_default: bool) -> list[str]:
    """The JSON types a member may not have. An integer is a number; null for an optional
    member with a default is read as leaving it out."""
    allowed = allowed | ({"integer"} if "number" in allowed else set())
    forbidden = [kind for kind in _TYPE_VALUES if kind not in allowed]
    if "integer" in forbidden:  # an integer stands for every number
        forbidden.remove("number")
    if "null" in forbidden and not required and has_default:
        forbidden.remove("null")
    return forbidden


def _values_of(kind: str) -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), _integers(), st.text(max_size=8))
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "integer": _integers(),
        "number": st.floats(allow_nan=False, allow_infinity=False).filter(
            lambda f: not f.is_integer()
        ),
        "string": st.text(max_size=20),
        "array": st.lists(scalars, max_size=3),
        "object": st.dictionaries(st.text(max_size=6), scalars, max_size=3),
    }[kind]


def _integers(high: int = 2**53) -> st.SearchStrategy[int]:
    """Integers any JSON encoder writes (orjson refuses those beyond 64 bits)."""
    return st.integers(min_value=-(2**53), max_value=high)


def _setup(
    path: tuple[str | int, ...], root: dict[str, Any], feature: str | None
) -> Callable[[Body], Body]:
    """What a valid body needs before `path` can be broken: the examples of every member of
    its feature (tool_choice needs tools)."""
    if feature is None:
        return lambda body: body
    examples = {
        name: member["x-example"]
        for name, member in root["properties"].items()
        if member.get("x-feature") == feature and "x-example" in member
    }
    return lambda body: {**body, **copy.deepcopy(examples)}


def _setting(
    path: tuple[str | int, ...], setup: Callable[[Body], Body]
) -> Callable[[Body, Any], Request]:
    def apply(body: Body, value: Any) -> Request:
        body = setup(body)
        parent = _parent(body, path)
        parent[path[-1]] = value
        return Request(body)

    return apply


def _deleting(
    path: tuple[str | int, ...], setup: Callable[[Body], Body]
) -> Callable[[Body, Any], Request]:
    def apply(body: Body, _: Any) -> Request:
        body = setup(body)
        parent = _parent(body, path)
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
        return Request(body)

    return apply


def _parent(body: Body, path: tuple[str | int, ...]) -> Any:
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    return target


def _path_text(path: tuple[str | int, ...]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


def _article(kind: str) -> str:
    return {
        "null": "null",
        "boolean": "a boolean",
        "integer": "an integer",
        "number": "a fractional number",
        "string": "a string",
        "array": "an array",
        "object": "an object",
    }[kind]


def broken_requests(model: str, profile: Profile) -> st.SearchStrategy[tuple[Breakage, Request]]:
    """A valid request with one part broken: (how, the request)."""
    drawn = [b for b in breakages(profile) if not b.sweep_only]

    @st.composite
    def draw_broken(draw: st.DrawFn) -> tuple[Breakage, Request]:
        breakage = draw(st.sampled_from(drawn))
        base = draw(valid_requests(model, profile)).body
        assert isinstance(base, dict)
        base.setdefault("model", model)
        base.setdefault("stream", True)
        return breakage, breakage.request(base, draw(breakage.values))

    return draw_broken()
