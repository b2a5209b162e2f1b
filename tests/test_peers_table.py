"""peers/table.py builds the compatibility results from certificates alone: each MUST failure
with the request that showed it and the answer's status, content type and body."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conformance.server import ServerThread
from tests.test_report import FAST, conformance_run

ROOT = Path(__file__).resolve().parents[1]


def _table() -> ModuleType:
    spec = importlib.util.spec_from_file_location("peers_table", ROOT / "peers" / "table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _collect(report_dir: Path, out: Path, code: int) -> dict[str, Any]:
    command = [sys.executable, str(ROOT / "peers" / "table.py"), "collect", "ref"]
    options = ["--server", "reference", "--version", "1", "--exit-code", str(code)]
    done = subprocess.run(
        [*command, str(report_dir), str(out), *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "ref: " in done.stdout
    result: dict[str, Any] = json.loads((out / "ref.results.json").read_text())
    return result


@pytest.mark.slow
def test_collect_reads_the_evidence_from_the_certificate(
    reference_server: ServerThread, tmp_path: Path
) -> None:
    url = reference_server.url(fault="html-error-body")
    run = conformance_run(tmp_path, "--target-url", url, *FAST)
    result = _collect(run.out, tmp_path / "results", run.code)
    assert result["verdict"] == "NOT CERTIFIED" and result["source"] == "certificate"
    assert set(result["must"]) == {"error.json_body"}
    first = result["must"]["error.json_body"][0]
    assert first["test"].startswith("bad_requests.yaml::")
    assert first["at"] == "whole response"
    assert first["raw"].startswith("HTTP/1.1 400 ") and "content-type: text/html" in first["raw"]
    assert "<html>" in first["raw"].lower()
    assert "request" in first
    assert (tmp_path / "results" / "ref.json").exists()


def test_a_run_without_a_certificate_is_an_error(tmp_path: Path) -> None:
    assert _collect(tmp_path, tmp_path / "results", 4)["verdict"] == "ERROR"


def test_the_committed_table_is_generated_from_the_committed_results() -> None:
    table = _table()
    rendered = table.render(table.load_all(ROOT / "peers" / "certificates"))
    assert (ROOT / "peers" / "COMPATIBILITY.md").read_text() == rendered


def test_a_stream_answer_shows_its_end() -> None:
    response = {
        "status": 200,
        "reason": "OK",
        "headers": [["Content-Type", "text/event-stream"]],
        "stream": True,
        "body": "data: x\n\n" * 40,
    }
    line = _table().answered(response)
    assert line.startswith("HTTP/1.1 200 OK | content-type: text/event-stream | …")
    assert line.endswith("data: x\n\n")
