"""Every rule of the suite, registered in `conformance._registry.REGISTRY` on import.

One module per area; importing this package registers them all (so `REGISTRY`, re-exported
here, is complete).
"""

from conformance._registry import REGISTRY
from conformance.rules import clients, framing, http, requests, schema, stream, transport, wire

# isort: split
# The rules of the openai and mistral profiles register after the general ones.
from conformance.rules import features, mistral, openai

__all__ = [
    "REGISTRY",
    "clients",
    "features",
    "framing",
    "http",
    "mistral",
    "openai",
    "requests",
    "schema",
    "stream",
    "transport",
    "wire",
]
