"""The request budget: one number, `--max-requests`, bounds the requests a run sends.

Every test of the suite says what it will send: a fixed number of requests (a case, a
probe, the sweep of broken requests, the concurrent streams), or a share of what the fixed
ones leave (a hypothesis property, which also spends its share shrinking a failure). `allot`
decides, the same way on every pytest-xdist worker, how many requests each test may send:
fixed tests in order of priority while they fit (a test that does not fit is not run), then
equal shares. A `Meter` holds a test to its allowance.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

DEFAULT_MAX_REQUESTS = 300
"""Enough for a full run of every profile with room to shrink failures; see the README."""


@dataclass(frozen=True, slots=True)
class Demand:
    """What one test will send: `fixed` requests, or (`shared`) a share of what is left;
    fixed demands of a lower `priority` number are served first."""

    fixed: int = 0
    shared: bool = False
    priority: int = 1


def allot(demands: Sequence[Demand], total: int) -> list[int | None]:
    """How many requests each test may send (None: it does not fit, and is not run)."""
    allowances: list[int | None] = [None] * len(demands)
    left = total
    fixed = sorted(
        (i for i, d in enumerate(demands) if not d.shared), key=lambda i: demands[i].priority
    )
    for index in fixed:
        if demands[index].fixed <= left:
            allowances[index] = demands[index].fixed
            left -= demands[index].fixed
    shared = [i for i, d in enumerate(demands) if d.shared]
    share = left // len(shared) if shared else 0
    for index in shared:
        allowances[index] = share if share >= 1 else None
    return allowances


@dataclass(slots=True)
class Meter:
    """One test's requests against its allowance; the same request twice is answered from
    memory (hypothesis replays the example it shrank to), and costs nothing."""

    allowance: int
    spent: int = 0
    refused: int = 0  # requests not sent: the allowance was spent
    _memory: dict[Hashable, object] = field(default_factory=dict, repr=False)

    @property
    def left(self) -> int:
        return self.allowance - self.spent

    def take(self) -> bool:
        """Count one request, if the allowance has room for it."""
        if self.spent >= self.allowance:
            self.refused += 1
            return False
        self.spent += 1
        return True

    def send(self, key: Hashable, send: Callable[[], T]) -> T | None:
        """`send()`'s answer: remembered for `key`, or None once the allowance is spent."""
        if key in self._memory:
            return self._memory[key]  # type: ignore[return-value]
        if not self.take():
            return None
        answer = self._memory[key] = send()
        return answer
