"""peers/table.py builds the compatibility results from certificates alone (each MUST failure
with the request that showed it and the answer's status, content type and body), names a
gateway row's upstream engine and compares the two."""

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


def _row(name: str, must: list[str], should: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "server": extra.pop("server", name),
        "version": "1.0",
        "model": "m",
        "url": "http://127.0.0.1:1/v1",
        "verdict": extra.pop("verdict", "X"),
        "must": {rule_id: [] for rule_id in must},
        "should": should,
        **extra,
    }


def test_difference_is_what_only_one_side_has() -> None:
    engine = _row("engine", ["a", "b"], ["s1", "s2"])
    gateway = _row("gw", ["b", "c"], ["s2", "s3"], upstream="engine")
    assert _table().difference(gateway, engine) == {
        "must_added": {"c"},
        "must_removed": {"a"},
        "should_added": {"s3"},
        "should_removed": {"s1"},
    }


def test_no_gateway_no_comparison_section() -> None:
    text = _table().render([_row("engine", ["a"], [])])
    assert "compared with their engine" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_comparison_row_per_gateway() -> None:
    engine = _row("engine", ["a"], ["s1"], server="Engine", verdict="NOT CERTIFIED")
    gateway = _row(
        "gw",
        ["a", "c"],
        [],
        server="Gateway -> Engine",
        upstream="engine",
        version="2.0 -> 1.0",
        verdict="NOT CERTIFIED",
    )
    lines = _table().render([engine, gateway]).splitlines()
    start = lines.index("## Gateways compared with their engine alone")
    assert lines[-1] == (
        "| Gateway -> Engine | Engine 1.0 | NOT CERTIFIED → NOT CERTIFIED "
        "| `c` | none | none | `s1` |"
    )
    assert start < len(lines) - 1


def test_engine_version_mismatch_and_missing_engine() -> None:
    engine = _row("engine", [], [], server="Engine")
    moved = _row("gw", [], [], upstream="engine", version="2.0 -> 1.1")
    orphan = _row("gw2", [], [], upstream="gone")
    lines = _table().render([engine, moved, orphan]).splitlines()
    assert "| Engine 1.0 (gateway ran 1.1) |" in lines[-2]
    assert "no results for `gone`" in lines[-1]


def test_upstream_marks_results_after_url(tmp_path: Path) -> None:
    path = tmp_path / "gw.results.json"
    path.write_text(json.dumps(_row("gw", [], []), indent=2) + "\n")
    assert _table().main(["upstream", str(path), "engine"]) == 0
    assert _table().main(["upstream", str(path), "engine"]) == 0  # idempotent
    data = json.loads(path.read_text())
    keys = list(data)
    assert data["upstream"] == "engine" and keys[keys.index("url") + 1] == "upstream"
