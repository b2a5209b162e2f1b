"""HTTP hygiene, written byte by byte on connections of the suite's own (`conformance._probe`):

- RFC 9110 on the endpoint: every method but POST (405 with Allow: POST; HEAD without
  content; nothing answered 5xx or dropped), and the 100-continue handshake;
- RFC 9112, a tier of its own: conflicting or malformed framing (Content-Length with
  chunked, an invalid Content-Length, an unknown transfer coding, whitespace before a colon,
  no Host) gets its 400 and is never acted on; Connection: close is honoured; an HTTP/1.0
  request gets no chunked answer; a body left unread is never read as a request.

Each probe is one test: one request (two for the probes that check what happens on the
connection afterwards), judged by the rules that name it.
"""

from __future__ import annotations

import pytest

from conformance._model import Probe
from conformance._outcome import Outcome
from conformance._probe import FOLLOWED, FRAMING, SEMANTICS, Prober
from conformance.plugin import Settings, judge


def _requests(_: Settings, params: dict[str, Probe]) -> int:
    return 2 if params["probe"] in FOLLOWED else 1


def _probe(request: pytest.FixtureRequest, settings: Settings, probe: Probe) -> None:
    if settings.target is None:
        pytest.skip("no conformance target: pass --target-url")
    judge(request.node, Outcome([Prober(settings.target).run(probe)]))


@pytest.mark.conformance_requests(fixed=_requests)
@pytest.mark.parametrize("probe", SEMANTICS, ids=str)
def test_http_semantics(
    request: pytest.FixtureRequest, conformance_settings: Settings, probe: Probe
) -> None:
    """RFC 9110 on the endpoint: a method other than POST, or Expect: 100-continue."""
    _probe(request, conformance_settings, probe)


@pytest.mark.conformance_requests(fixed=_requests)
@pytest.mark.parametrize("probe", FRAMING, ids=str)
def test_http1_message(
    request: pytest.FixtureRequest, conformance_settings: Settings, probe: Probe
) -> None:
    """RFC 9112: how the server frames, and reads, HTTP/1.1 messages."""
    _probe(request, conformance_settings, probe)
