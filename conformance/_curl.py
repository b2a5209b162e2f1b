"""The `curl` line that reproduces a request, with every secret replaced by a variable."""

from __future__ import annotations

import re
import shlex
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

API_KEY_VARIABLE = "ALPHAEDGE_API_KEY"
_SAFE_HEADERS = frozenset({"content-type", "accept", "accept-encoding", "user-agent"})


def header_variable(name: str) -> str:
    """The environment variable a redacted header value is written as."""
    return "CONFORMANCE_HEADER_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def query_variable(name: str) -> str:
    """The environment variable a query value of the target URL is written as."""
    return "CONFORMANCE_QUERY_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def curl_command(url: str, headers: dict[str, str], body: bytes) -> str:
    """A shell command that sends the same request; secrets appear as `$VARIABLES`.

    Only headers known to carry no secret are written literally; the bearer key is
    `$ALPHAEDGE_API_KEY`, every other header value `$CONFORMANCE_HEADER_<NAME>` and every
    value of the URL's query `$CONFORMANCE_QUERY_<NAME>` (a URL carries no userinfo here:
    the client sends it as the Authorization header).
    """
    source, data = _body_argument(body)
    parts = [f"{source}curl -sS -N -i", _url_argument(url)]
    for name, value in headers.items():
        parts.append(f"-H {_header_argument(name, value)}")
    parts.append(data)
    return " \\\n  ".join(parts)


def _body_argument(body: bytes) -> tuple[str, str]:
    """How curl gets the body: inline when it is short UTF-8 text; else piped from `printf`
    (bytes that are not UTF-8), with a long run of padding spaces written by `head | tr`."""
    padding = _PADDING.search(body)
    if padding is not None:
        before, after = body[: padding.start()], body[padding.end() :]
        spaces = f"head -c {padding.end() - padding.start()} /dev/zero | tr '\\0' ' '"
        steps = [f"printf {shlex.quote(_printf_escape(before))}"] if before else []
        steps.append(spaces)
        if after:
            steps.append(f"printf {shlex.quote(_printf_escape(after))}")
        source = "; ".join(steps)
        return f"{{ {source}; }} | ", "--data-binary @-"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return f"printf {shlex.quote(_printf_escape(body))} | ", "--data-binary @-"
    return "", f"--data-binary {shlex.quote(text)}"


_PADDING = re.compile(rb" {4096,}")


def _url_argument(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return shlex.quote(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(f"{_double_quoted(quote(k))}=${{{query_variable(k)}}}" for k, _ in pairs)
    return f'"{_double_quoted(base)}?{query}"'


def _double_quoted(text: str) -> str:
    """`text` safe inside double quotes in a POSIX shell."""
    return re.sub(r'(["\\$`])', r"\\\1", text)


def _header_argument(name: str, value: str) -> str:
    lname = name.lower()
    if lname in _SAFE_HEADERS:
        return shlex.quote(f"{name}: {value}")
    if lname == "authorization" and value.lower().startswith("bearer "):
        return f'"{name}: Bearer ${API_KEY_VARIABLE}"'
    return f'"{name}: ${header_variable(name)}"'


def redact(text: str, secrets: list[str]) -> str:
    """Replace every occurrence of each secret (longest first) in `text`."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "[REDACTED]")
    return text


Piece = bytes | tuple[str, str]
"""Part of a raw request: literal bytes, or (environment variable, secret value)."""


def raw_bytes(pieces: list[Piece]) -> bytes:
    """The bytes a raw request sends, secrets included."""
    return b"".join(p if isinstance(p, bytes) else p[1].encode("latin-1") for p in pieces)


def raw_command(host: str, port: int, tls: bool, pieces: list[Piece]) -> str:
    """A shell command writing the same bytes to the server (`printf ... | nc`, or `openssl
    s_client` over TLS); every secret is a `%s` filled from its `$VARIABLE`."""
    template = "".join(_printf_escape(p) if isinstance(p, bytes) else "%s" for p in pieces)
    variables = " ".join(f'"${p[0]}"' for p in pieces if not isinstance(p, bytes))
    sink = (
        f"openssl s_client -quiet -connect {shlex.quote(f'{host}:{port}')} "
        f"-servername {shlex.quote(host)}"
        if tls
        else f"nc {shlex.quote(host)} {port}"
    )
    return f"printf {shlex.quote(template)} {variables} | {sink}".replace("  |", " |")


def _printf_escape(data: bytes) -> str:
    out = []
    for byte in data:
        char = chr(byte)
        if char == "\r":
            out.append("\\r")
        elif char == "\n":
            out.append("\\n")
        elif char == "\\":
            out.append("\\\\")
        elif char == "%":
            out.append("%%")
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)
