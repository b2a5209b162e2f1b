"""The `curl` line that reproduces a request, with every secret replaced by a variable."""

from __future__ import annotations

import re
import shlex

API_KEY_VARIABLE = "ALPHAEDGE_API_KEY"
_SAFE_HEADERS = frozenset({"content-type", "accept", "accept-encoding", "user-agent"})


def header_variable(name: str) -> str:
    """The environment variable a redacted header value is written as."""
    return "CONFORMANCE_HEADER_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def curl_command(url: str, headers: dict[str, str], body: bytes) -> str:
    """A shell command that sends the same request; secrets appear as `$VARIABLES`.

    Only headers known to carry no secret are written literally; the bearer key is
    `$ALPHAEDGE_API_KEY` and every other header value `$CONFORMANCE_HEADER_<NAME>`.
    """
    parts = ["curl -sS -N -i", shlex.quote(url)]
    for name, value in headers.items():
        parts.append(f"-H {_header_argument(name, value)}")
    parts.append(f"--data-binary {shlex.quote(body.decode('utf-8', 'backslashreplace'))}")
    return " \\\n  ".join(parts)


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
