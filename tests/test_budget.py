"""`--max-requests`: one number bounds the requests a run sends, shrinking included."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from conformance._budget import DEFAULT_MAX_REQUESTS, Demand, Meter, allot
from conformance.server import ServerThread, create_app


def test_fixed_demands_are_served_by_priority_then_the_rest_is_shared() -> None:
    demands = [Demand(5), Demand(shared=True), Demand(3, priority=0), Demand(shared=True)]
    assert allot(demands, 20) == [5, 6, 3, 6]


def test_a_fixed_demand_that_does_not_fit_is_not_run_and_a_smaller_one_may() -> None:
    demands = [Demand(8), Demand(3), Demand(shared=True)]
    assert allot(demands, 10) == [8, None, 2]
    assert allot(demands, 8) == [8, None, None]


def test_nothing_left_to_share_runs_no_property() -> None:
    assert allot([Demand(4), Demand(shared=True), Demand(shared=True)], 5) == [4, None, None]


def test_the_meter_counts_and_remembers() -> None:
    meter = Meter(2)
    sent: list[int] = []

    def send(n: int) -> int:
        sent.append(n)
        return n * 10

    assert meter.send("a", lambda: send(1)) == 10
    assert meter.send("a", lambda: send(1)) == 10  # a replay costs nothing
    assert meter.send("b", lambda: send(2)) == 20
    assert meter.send("c", lambda: send(3)) is None  # over the allowance
    assert sent == [1, 2] and meter.spent == 2 and meter.refused == 1 and meter.left == 0


class _Counting:
    """The reference app, counting the requests it is handed."""

    def __init__(self) -> None:
        self.app = create_app()
        self.count = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.count += 1
        await self.app(scope, receive, send)


@pytest.fixture
def counted() -> Iterator[tuple[ServerThread, _Counting]]:
    app = _Counting()
    with ServerThread(app) as server:
        yield server, app


def _run(pytester: pytest.Pytester, url: str, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--target-url", url, "-rs", "--property-examples", "3", *args)


@pytest.mark.slow
def test_a_small_budget_bounds_the_run_and_says_what_did_not_run(
    pytester: pytest.Pytester, counted: tuple[ServerThread, _Counting]
) -> None:
    server, app = counted
    result = _run(pytester, server.base_url, "--max-requests", "40")
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, output[-3000:]
    assert "not run: the --max-requests budget (40) is spent" in output
    # what uvicorn refuses itself (malformed framing) never reaches the app
    assert 0 < app.count <= 40
    skipped = int(re.search(r"(\d+) skipped", output).group(1))  # type: ignore[union-attr]
    assert skipped >= 3


@pytest.mark.slow
def test_the_default_budget_runs_everything(
    pytester: pytest.Pytester, counted: tuple[ServerThread, _Counting]
) -> None:
    server, app = counted
    result = _run(pytester, server.base_url)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    assert "skipped" not in result.stdout.str().splitlines()[-1]
    assert app.count <= DEFAULT_MAX_REQUESTS
    assert f"max-requests={DEFAULT_MAX_REQUESTS}" in result.stdout.str()


@pytest.mark.slow
def test_shrinking_stays_within_the_share_of_a_property(
    pytester: pytest.Pytester, counted: tuple[ServerThread, _Counting]
) -> None:
    """content-number fails every stream: the property shrinks its failure to a minimal
    request, but sends no more than its share (here the whole budget: it runs alone)."""
    server, app = counted
    url = server.url(fault="content-number")
    result = _run(pytester, url, "-k", "test_valid_requests", "--max-requests", "12")
    output = result.stdout.str()
    result.assert_outcomes(failed=1, deselected=39)
    assert "[MUST] delta.content" in output and "reproduce with:" in output.lower()
    assert 0 < app.count <= 12
