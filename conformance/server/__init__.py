"""The reference server: an independent implementation of the documented streaming endpoint.

It is the suite's default target and, through `FAULTS`, the evidence that every rule can
fire: each fault breaks exactly one rule. `VARIATIONS` are legal ways of streaming that a
strict checker must accept. One running server offers all of them, per request, under
`/fault/{name}/v1/...` and `/variation/{name}/v1/...`.
"""

from ._app import create_app
from ._faults import FAULTS, Fault
from ._hostile import HostileServer
from ._request import DEFAULT_MODEL, MODELS
from ._thread import ServerThread, serve
from ._variations import VARIATIONS, Variation

__all__ = [
    "DEFAULT_MODEL",
    "FAULTS",
    "MODELS",
    "VARIATIONS",
    "Fault",
    "HostileServer",
    "ServerThread",
    "Variation",
    "create_app",
    "serve",
]
