"""Every rule of the suite, registered in `conformance._registry.REGISTRY` on import.

One module per area; importing this package registers them all.
"""

from conformance.rules import framing, http, requests, schema, stream, transport

__all__ = ["framing", "http", "requests", "schema", "stream", "transport"]
