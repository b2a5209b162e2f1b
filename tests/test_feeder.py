"""The live client checks a stream in blocks, and still times each event by the read that
completed it (`conformance._client._Feeder`)."""

from __future__ import annotations

from array import array

import pytest

from conformance import _client
from conformance._check import StreamChecker
from conformance._model import Limits, Policy
from tests.streams import completion, sse


def _reads() -> list[bytes]:
    """Five events cut into four reads: one event split in two, then three events in one read."""
    body = sse(completion(("Hel", "lo")))
    events = [event + b"\n\n" for event in body.split(b"\n\n") if event]
    assert len(events) == 5
    half = len(events[1]) // 2
    return [events[0] + events[1][:half], events[1][half:], b"".join(events[2:]), b""]


@pytest.mark.parametrize("feed_size", [1, _client.FEED_SIZE])
def test_each_event_gets_the_arrival_time_of_its_last_read(
    monkeypatch: pytest.MonkeyPatch, feed_size: int
) -> None:
    monkeypatch.setattr(_client, "FEED_SIZE", feed_size)
    checker = StreamChecker(live=True, requested_n=1)
    times = array("d")
    feeder = _client._Feeder(checker, times, start=100.0)
    for position, data in enumerate(_reads()):
        assert feeder.add(data, 100.0 + position)
    assert feeder.flush()
    assert list(times) == [0.0, 1.0, 2.0, 2.0, 2.0]
    result = checker.finish()
    assert result.events == 5 and not Policy().failing(result.findings)


def test_one_read_an_event_is_timed_read_by_read() -> None:
    checker = StreamChecker(live=True, requested_n=1)
    times = array("d")
    feeder = _client._Feeder(checker, times, start=0.0)
    body = sse(completion(("a", "b", "c")))
    events = [event + b"\n\n" for event in body.split(b"\n\n") if event]
    for position, event in enumerate(events):
        feeder.add(event, position / 10)
    feeder.flush()
    assert list(times) == [position / 10 for position in range(len(events))]


def test_a_limit_stops_the_reading_at_the_next_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_client, "FEED_SIZE", 1)
    checker = StreamChecker(live=True, limits=Limits(max_events=2))
    feeder = _client._Feeder(checker, array("d"), start=0.0)
    verdicts = [feeder.add(data, 0.0) for data in _reads()[:3]]
    assert verdicts == [True, False, False]  # the second read completes event 2
    assert checker.ending and "event limit (2 events)" in checker.ending.reason
    assert not feeder.flush()
