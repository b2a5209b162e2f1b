"""Hostile targets: every fault that attacks the client ends in a clean, explained failure
naming the limit or rule hit, within the configured time plus a small margin, and with the
client's peak memory under 150 MiB (measured in a subprocess, `tests/drive.py`)."""

from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance._client import (
    BudgetSpent,
    Client,
    Target,
    TargetUnreachable,
    TargetUnresponsive,
    TimeBudget,
)
from conformance._curl import curl_command
from conformance.server import FAULTS, HostileServer, ServerThread, _attacks, create_app

MARGIN = 2.0
"""Seconds a failure may take beyond the limit that should end it (a loaded CI machine)."""
PEAK_MIB = 150
QUICK = 10.0
"""Deadline given to attacks that a smaller limit should end long before."""
DRIVE = Path(__file__).with_name("drive.py")
MINIMAL = ["-k", "minimal and conversation"]


@dataclass(frozen=True)
class Attack:
    """A fault, the client limits it is met with, and what the failure must say."""

    fault: str
    says: str
    limits: dict[str, Any] = field(default_factory=dict)
    bound: float = QUICK  # seconds the limits allow
    label: str = ""
    profile: str = "alphaedge"
    rule: str = ""  # the rule that catches it under this profile, if not the fault's own

    @property
    def id(self) -> str:
        return self.fault + (f"/{self.label}" if self.label else "")

    def client_limits(self) -> dict[str, Any]:
        return {"idle_timeout": 5.0, "deadline": QUICK, **self.limits}


ATTACKS = [
    Attack("stall-after-headers", "idle timeout", {"idle_timeout": 1.0}, 1.0),
    Attack("stall-mid-stream", "idle timeout", {"idle_timeout": 1.0}, 1.0),
    Attack("endless-stream", "event limit (100,000 events)"),
    Attack(
        "endless-stream",
        "byte limit (8,388,608 bytes)",
        {"max_bytes": 8 << 20, "max_events": 10**9},
        label="bytes",
    ),
    Attack("huge-line", "a line exceeds 1048576 bytes"),
    Attack("gzip-bomb", "byte limit (4,194,304 bytes)", {"max_bytes": 4 << 20}),
    Attack("gzip-bomb", "event limit (100,000 events)", label="defaults"),
    Attack(
        "slow-drip",
        "after the 2 s whole-stream deadline",
        {"deadline": 2.0},
        2.0 + _attacks.DRIP_SECONDS,
    ),
    Attack("invalid-utf8", "invalid UTF-8 byte 0xff"),
    Attack("reset-mid-stream", "before the response was complete"),
    Attack("reset-mid-event", "Connection reset by peer"),
    Attack("close-without-last-chunk", "without sending complete message body"),
    Attack("empty-body", "the stream ended without a data: [DONE] event"),
    Attack("garbage-status-line", "the answer is not a valid HTTP response"),
    Attack("oversized-headers", "the response head exceeds the client's 100 KiB limit"),
    Attack("redirect-elsewhere", "redirects are not followed"),
    Attack(
        "slow-head",
        "after the 3 s whole-stream deadline (counted from the request's first byte",
        {"deadline": 3.0, "idle_timeout": 2.0},
        3.0,
    ),
    Attack(
        "interim-flood",
        "no final status line and headers",
        {"deadline": 3.0, "idle_timeout": 2.0},
        3.0,
    ),
    Attack(
        "tool-call-flood", "index is a required property", {"deadline": 3.0}, 3.0, profile="openai"
    ),
    Attack(
        "tool-call-flood",
        "the stream has more than 1,024 tool calls (a limit of the client's)",
        {"deadline": 3.0},
        3.0,
        label="alphaedge",
        rule="transport.within_limits",
    ),
    Attack("long-event", "the data of an event exceeds 2097152 bytes", {"deadline": 3.0}, 3.0),
    Attack("deep-json", "deeper than the client's limit of 128 levels", {"deadline": 3.0}, 3.0),
    Attack("huge-choice-index", "outside 0..n-1", {"deadline": 3.0}, 3.0),
    Attack(
        "function-not-object",
        "the first delta of tool call 0 lacks name",
        {"deadline": 3.0},
        3.0,
        profile="openai",
    ),
    Attack("hostile-strings", "assistant\\u0000\\u001b[2J\\u0007\\ud800", {"deadline": 3.0}, 3.0),
]
BY_ID = {attack.id: attack for attack in ATTACKS}


def test_every_hostile_fault_is_attacked() -> None:
    hostile = {name for name, fault in FAULTS.items() if fault.hostile}
    assert hostile <= {attack.fault for attack in ATTACKS}
    assert len(BY_ID) == len(ATTACKS)


# --- the client alone, in a subprocess: verdict, time, peak RSS ------------------------------


@pytest.fixture(scope="module")
def driven(reference_server: ServerThread) -> dict[str, dict[str, Any]]:
    """Every attack, run one after the other by one fresh client process."""
    specs = [
        {
            "url": reference_server.url(fault=a.fault),
            "limits": a.client_limits(),
            "profile": a.profile,
        }
        for a in ATTACKS
    ]
    timeout = sum(a.bound + MARGIN for a in ATTACKS) + 60
    done = subprocess.run(
        [sys.executable, str(DRIVE), json.dumps(specs)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert len(lines) == len(ATTACKS), done.stdout
    return {a.id: json.loads(line) for a, line in zip(ATTACKS, lines, strict=True)}


@pytest.mark.slow
@pytest.mark.parametrize("attack_id", list(BY_ID))
def test_attack_ends_in_a_clean_failure_in_time_and_memory(
    driven: dict[str, dict[str, Any]], attack_id: str
) -> None:
    attack, result = BY_ID[attack_id], driven[attack_id]
    assert (attack.rule or FAULTS[attack.fault].rule_id) in result["rules"], result
    assert any(attack.says in message for message in result["messages"]), result["messages"]
    assert result["seconds"] <= attack.bound + MARGIN, result
    assert result["peak_mib"] < PEAK_MIB, result


# --- the whole pytest suite, narrowed to one case ---------------------------------------------


def _options(limits: dict[str, Any]) -> list[str]:
    flags = {
        "idle_timeout": ("--target-timeout", 1.0),
        "deadline": ("--deadline", 1.0),
        "max_events": ("--max-events", 1),
        "max_bytes": ("--max-bytes", 1 << 20),
        "max_line": ("--max-line", 1 << 20),
    }
    args = []
    for name, value in limits.items():
        flag, unit = flags[name]
        args += [flag, str(value / unit if unit != 1 else value)]
    return args


SUITE_SAMPLE = [
    "stall-after-headers",
    "gzip-bomb",
    "huge-line",
    "reset-mid-event",
    "garbage-status-line",
    "oversized-headers",
    "slow-head",
    "hostile-strings",
]
"""One attack per way of stopping (idle timeout, byte and line limits, a broken transfer, a
broken or oversized head, the deadline on a head that never ends) and the strings no output
may write raw; the client runs above cover every attack."""


@pytest.mark.slow
@pytest.mark.parametrize("attack_id", SUITE_SAMPLE)
def test_the_suite_fails_cleanly_naming_the_rule(
    pytester: pytest.Pytester, reference_server: ServerThread, attack_id: str
) -> None:
    attack = BY_ID[attack_id]
    url = reference_server.url(fault=attack.fault)
    result = pytester.runpytest("--target-url", url, *MINIMAL, *_options(attack.client_limits()))
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output[-3000:]
    assert f"[MUST] {FAULTS[attack.fault].rule_id}" in output, output[-3000:]
    assert attack.says in output
    assert "INTERNALERROR" not in output and "_client.py" not in output


# --- the redirect: credentials never reach the other host -------------------------------------


@pytest.mark.slow
def test_redirect_does_not_carry_the_api_key_to_the_other_host(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    key, token = secrets.token_hex(8), secrets.token_hex(8)
    recorder = reference_server.hostile
    before = len(recorder.recorded)
    result = pytester.runpytest(
        "--target-url",
        reference_server.url(fault="redirect-elsewhere"),
        "--api-key",
        key,
        "--header",
        f"X-Api-Key: {token}",
        "--property-examples",
        "2",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "http://127.0.0." in result.stdout.str()  # the Location is shown
    assert recorder.recorded[before:] == []
    assert key not in result.stdout.str() and token not in result.stdout.str()


def test_the_recorder_would_see_a_client_that_follows(reference_server: ServerThread) -> None:
    """The control experiment: a client that follows redirects leaks a custom key header."""
    token = secrets.token_hex(8)
    recorder = reference_server.hostile
    before = len(recorder.recorded)
    url = f"{reference_server.url(fault='redirect-elsewhere')}/chat/completions"
    with httpx.Client(follow_redirects=True) as client:
        response = client.post(url, json={}, headers={"X-Api-Key": token})
    assert [r.status_code for r in response.history] == [307]
    assert response.status_code == 404 and response.url.port != httpx.URL(url).port
    assert ("x-api-key", token) in recorder.recorded[before]


# --- the servers ---------------------------------------------------------------------------


def test_raw_faults_are_served_only_by_the_hostile_server(reference_server: ServerThread) -> None:
    with pytest.raises(ValueError, match="served by HostileServer"):
        create_app(fault="garbage-status-line")
    app_route = reference_server.base_url.replace("/v1", "/fault/garbage-status-line/v1")
    assert httpx.post(f"{app_route}/chat/completions", json={}).status_code == 404
    assert reference_server.url(fault="garbage-status-line").startswith(
        reference_server.hostile.base_url.removesuffix("/v1")
    )
    with pytest.raises(ValueError, match="not a raw fault"):
        HostileServer(fault="empty-id")


def test_hostile_server_answers_unknown_routes_with_404() -> None:
    with HostileServer() as server:
        assert httpx.post(server.url(fault="empty-id") + "/chat/completions").status_code == 404
        assert httpx.post(server.base_url + "/chat/completions").status_code == 404


def test_gzip_bomb_is_a_valid_gzip_member(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_attacks, "BOMB_MIB", 6)
    wire = b"".join(_attacks._bomb())
    plain = zlib.decompress(wire, 31)  # checks the CRC-32 and the size in the trailer
    assert len(plain) > 6_000_000 and len(wire) < len(plain) // 200
    assert plain.startswith(b"data: {") and plain.endswith(b"}\n\n")


def test_serve_runs_a_raw_fault_in_the_foreground() -> None:
    code = "from conformance.server import serve; serve(port=0, fault='garbage-status-line')"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", url)
        with pytest.raises(httpx.RemoteProtocolError, match="illegal status line"):
            httpx.post(f"{url}/chat/completions", json={}, timeout=5)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0


# --- the run's budget and the target's URL, in process ----------------------------------------


def test_a_budget_admits_requests_until_it_is_spent_or_the_target_stops_answering() -> None:
    budget = TimeBudget(seconds=60, unresponsive_after=2)
    budget.admit("http://h/v1")
    budget.record("no data for 1 s")
    budget.record(None)  # an answer came: the count starts again
    budget.record("a reset")
    budget.admit("http://h/v1")
    budget.record("no data for 1 s")
    with pytest.raises(TargetUnresponsive, match=r"http://h/v1 is unresponsive: 2 requests"):
        budget.admit("http://h/v1")
    spent = TimeBudget(seconds=1, started=time.time() - 2)
    with pytest.raises(BudgetSpent, match=r"budget of 1 s \(--budget\) is spent"):
        spent.admit("http://h/v1")
    assert issubclass(TargetUnresponsive, TargetUnreachable)
    assert issubclass(BudgetSpent, TargetUnreachable)


def test_the_url_keeps_its_query_after_the_path_and_its_credentials_out_of_it() -> None:
    target = Target("https://user:p%40ss@h.example:8443/v1/?api-version=2024-01&key=sekret")
    assert (
        target.endpoint
        == "https://h.example:8443/v1/chat/completions?api-version=2024-01&key=sekret"
    )
    assert target.url_credentials() == ("user", "p@ss")
    assert target.authorization() == ("the URL's credentials", "Basic dXNlcjpwQHNz")
    assert {"p@ss", "p%40ss", "user:p%40ss", "Basic dXNlcjpwQHNz", "sekret", "2024-01"} <= set(
        target.secrets()
    )
    keyed = Target(target.base_url, api_key="sk-123456789")
    assert keyed.authorization() == ("--api-key", "Bearer sk-123456789")
    given = Target(target.base_url, api_key="sk-1", headers=(("authorization", "Token t"),))
    assert given.authorization() == ("--header", "Token t")
    with Client(given) as client:
        headers = client.request_headers()
    assert headers["Authorization"] == "Token t" and "authorization" not in headers
    assert Target("http://h/v1?k=abc").secrets() == []  # too short to redact in free text


def test_a_curl_line_writes_query_values_as_variables() -> None:
    line = curl_command("http://h/v$1/chat/completions?key=sekret&a$b=1", {}, b"{}")
    assert "sekret" not in line
    query = "key=${CONFORMANCE_QUERY_KEY}&a%24b=${CONFORMANCE_QUERY_A_B}"
    assert f'"http://h/v\\$1/chat/completions?{query}"' in line
