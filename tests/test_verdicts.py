"""A certificate never says more than the run established: coverage per rule, partial runs are
INCOMPLETE, set-up mistakes end before the suite, and each kind of ending has its own exit
status (0 certified, 1 not certified, 2 set-up or usage, 3 incomplete, 4 internal error)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conformance._model import Exit, Policy
from conformance._preflight import suggested_base
from conformance._report._collect import Gatherer
from conformance.server import ServerThread, create_app
from tests.test_report import FAST, conformance_run

KEY = "sk-verdict-test-0123456789"


@pytest.fixture(scope="module")
def keyed_server() -> Any:
    """The reference server requiring an API key, as the documented API does."""
    with ServerThread(create_app(api_key=KEY)) as server:
        yield server


def _certificate(out: Path) -> dict[str, Any]:
    (path,) = out.glob("*.json")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def _statuses(certificate: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["id"]: rule for rule in certificate["rules"]}


# -- partial runs ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_k_run_against_a_broken_fault_is_incomplete(
    reference_server: ServerThread, tmp_path: Path
) -> None:
    url = reference_server.url(fault="missing-done")
    run = conformance_run(tmp_path, "--target-url", url, *FAST, "--", "-k", "bad_requests")
    assert run.code == Exit.INCOMPLETE, run.stdout[-3000:]
    certificate = _certificate(run.out)
    assert certificate["verdict"] == "INCOMPLETE"
    rules = _statuses(certificate)
    assert rules["sse.done_present"]["status"] == "not_selected"
    assert rules["request.no_5xx"]["status"] == "passed"
    assert certificate["run"]["selection"]["keyword"] == "bad_requests"
    assert "sse.done_present" in certificate["reasons"][0]
    assert "\nINCOMPLETE: MUST: 0 rules failed" in run.stdout
    assert "exit status 3 (incomplete" in run.stdout


@pytest.mark.slow
def test_a_run_whose_answers_give_rules_nothing_to_judge_is_not_certified(
    keyed_server: ServerThread, tmp_path: Path
) -> None:
    # Every answer refuses the (missing) key: the rejection rules never see the server look
    # at a bad request, so they are not exercised, never passed.
    run = conformance_run(
        tmp_path, "--target-url", keyed_server.base_url, *FAST, "--", "--no-preflight",
        "-k", "bad_requests",
    )  # fmt: skip
    assert run.code == Exit.INCOMPLETE, run.stdout[-3000:]
    rules = _statuses(_certificate(run.out))
    rejected = rules["request.malformed_json"]
    assert rejected["status"] == "not_exercised" and rejected["judged"] == 0
    assert "refused the request's credentials (HTTP 401)" in rejected["why"]
    assert rules["request.no_5xx"]["status"] == "not_exercised"


def test_a_rule_whose_tests_ran_but_judged_nothing_is_not_exercised() -> None:
    gatherer = Gatherer(policy=Policy(), reach={"s.yaml::t": {"chunk.id", "sse.utf8"}})

    class Report:
        nodeid, when, outcome, failed, skipped, longreprtext = (
            "cases/s.yaml::t", "call", "passed", False, False, "",
        )  # fmt: skip
        conformance: ClassVar[dict[str, Any]] = {
            "judged": {"sse.utf8": 1},
            "unjudged": {"chunk.id": "nothing to judge: no chunk was delivered"},
            "findings": [],
            "exchanges": [],
        }

    gatherer.add(Report())  # type: ignore[arg-type]
    from conformance.rules import REGISTRY

    [chunk_id, utf8] = gatherer.rule_results([REGISTRY["chunk.id"], REGISTRY["sse.utf8"]])
    assert (chunk_id["status"], chunk_id["why"]) == (
        "not_exercised",
        "nothing to judge: no chunk was delivered",
    )
    assert utf8["status"] == "passed" and utf8["judged"] == 1


def test_a_stream_without_any_chunk_fails_and_leaves_the_chunk_rules_unexercised() -> None:
    from tests.streams import check

    result = check(b"data: [DONE]\n\n")
    assert set(result.found) == {"stream.has_delta"}
    assert "chunk.id" not in result.judged
    assert result.unjudged["chunk.id"] == "nothing to judge: no chunk was delivered"


# -- pre-flight: set-up mistakes are not verdicts ---------------------------------------------


def _setup_error(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--out", str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, time.monotonic() - start


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no key", "the target refused the credentials (HTTP 401 Unauthorized"),
        ("no /v1", "nothing answers at"),
        ("endpoint", "nothing answers at"),
        ("model", "the target does not serve the model 'gpt-nope'"),
    ],
)
def test_a_set_up_mistake_ends_in_one_paragraph_and_exit_2(
    keyed_server: ServerThread,
    reference_server: ServerThread,
    tmp_path: Path,
    case: str,
    expected: str,
) -> None:
    base = reference_server.base_url
    args = {
        "no key": ["--target-url", keyed_server.base_url],
        "no /v1": ["--target-url", base.removesuffix("/v1")],
        "endpoint": ["--target-url", f"{base}/chat/completions"],
        "model": ["--target-url", base, "--model", "gpt-nope"],
    }[case]
    done, seconds = _setup_error(tmp_path, *args)
    assert done.returncode == Exit.USAGE, done.stdout[-2000:] + done.stderr[-2000:]
    assert seconds < 5
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and expected in errors[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "exit status 2 (a set-up or usage error" in done.stdout
    if case == "no key":
        assert "Incorrect API key provided" in errors[0] and "--api-key" in errors[0]
    elif case == "model":
        assert "--model" in errors[0] and "alphaedge-large-3-2512" in errors[0]
    else:
        assert f"Try --target-url {base}." in errors[0]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_the_right_key_passes_the_pre_flight(keyed_server: ServerThread, tmp_path: Path) -> None:
    run = conformance_run(
        tmp_path, "--target-url", keyed_server.base_url, *FAST, "--", "--api-key", KEY,
        "-k", "minimal",
    )  # fmt: skip
    assert run.code == Exit.INCOMPLETE, run.stdout[-3000:] + run.stderr[-2000:]
    assert KEY not in run.stdout + run.stderr


def test_suggested_base_urls() -> None:
    assert suggested_base("http://h:1") == "http://h:1/v1"
    assert suggested_base("http://h:1/") == "http://h:1/v1"
    assert suggested_base("http://h:1/v1/chat/completions") == "http://h:1/v1"
    assert suggested_base("https://h/api/v1") == "https://h/api/v1"


# -- internal errors ---------------------------------------------------------------------------

BOOM = """
import sys
import conformance._check as check

def boom(self, data):
    raise RuntimeError("a planted bug")

check.StreamChecker.feed = boom
from conformance.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_bug_in_the_suite_exits_4_and_saves_the_traceback(
    reference_server: ServerThread, tmp_path: Path
) -> None:
    target = ["--target-url", reference_server.base_url]
    done = subprocess.run(
        [sys.executable, "-c", BOOM, "run", "--out", "out", *target, "--no-preflight", "-k", "m"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == Exit.INTERNAL, done.stdout[-3000:]
    assert "this is a bug in the suite" in done.stdout
    (crash,) = (tmp_path / "out").glob("*.crash.txt")
    assert "RuntimeError: a planted bug" in crash.read_text()
    certificate = _certificate(tmp_path / "out")
    assert certificate["verdict"] != "CERTIFIED"
    assert {e["kind"] for e in certificate["errors"]} == {"error"}


def test_a_bug_in_check_exits_4(tmp_path: Path) -> None:
    script = BOOM.replace("check.StreamChecker.feed = boom", "check.StreamChecker.finish = boom")
    script = script.replace("def boom(self, data):", "def boom(self, *args):")
    (tmp_path / "s.sse").write_bytes(b'data: {"id": "x"}\n\n')
    done = subprocess.run(
        [sys.executable, "-c", script, "check", "s.sse"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == Exit.INTERNAL
    assert "this is a bug in the suite" in done.stderr
    assert "Traceback" not in done.stderr
    saved = done.stderr.split("the traceback is in ")[1].split(")")[0]
    assert "RuntimeError: a planted bug" in Path(saved).read_text()
    Path(saved).unlink()


# -- the policy is our own option --------------------------------------------------------------


def test_pytest_strict_mode_does_not_change_the_verdict(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    pytester.makeini("[pytest]\nstrict = true\n")
    url = reference_server.url(fault="created-drift")
    result = pytester.runpytest_inprocess("--target-url", url, "--certificate", "c.json", *FAST)
    certificate = json.loads((pytester.path / "c.json").read_text())
    assert result.ret == pytest.ExitCode.OK
    assert _statuses(certificate)["stream.created_consistent"]["status"] == "warned"
    assert certificate["verdict"] == "CERTIFIED" and certificate["run"]["fail_on"] == "must"


def test_fail_on_is_validated(pytester: pytest.Pytester, reference_server: ServerThread) -> None:
    result = pytester.runpytest_subprocess(
        "--target-url", reference_server.base_url, "--fail-on", "sometimes"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fail-on: invalid value 'sometimes'*must, should*"])


@pytest.mark.slow
def test_coverage_counts_are_in_the_terminal_and_the_report(
    reference_server: ServerThread, tmp_path: Path
) -> None:
    run = conformance_run(tmp_path, "--target-url", reference_server.base_url, *FAST)
    assert run.code == Exit.OK
    certificate = _certificate(run.out)
    summary = certificate["summary"]
    assert f"{summary['passed']} of {summary['rules']} passed" in run.stdout
    assert summary["passed"] == summary["rules"] - summary["not_selected"]
    html = next(run.out.glob("*.html")).read_text()
    assert "<th>judged</th>" in html
    judged = _statuses(certificate)["chunk.id"]["judged"]
    assert judged > 10
