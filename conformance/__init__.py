"""Protocol-conformance suite for streaming chat-completion APIs.

The public surface is listed in `__all__`; names are imported lazily so that the pytest
plugin (loaded by every pytest run where the suite is installed) stays cheap to import.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "REGISTRY": "conformance.rules",
    "Rule": "conformance._registry",
    "Level": "conformance._model",
    "Limits": "conformance._model",
    "Finding": "conformance._model",
    "Policy": "conformance._model",
    "Event": "conformance._model",
    "Observation": "conformance._model",
    "SSEParser": "conformance._sse",
    "StreamChecker": "conformance._check",
    "StreamResult": "conformance._check",
    "Client": "conformance._client",
    "Target": "conformance._client",
    "TargetUnreachable": "conformance._client",
}

__all__ = [  # noqa: PLE0604  (the names of _EXPORTS, resolved lazily)
    "__version__",
    *_EXPORTS,
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
