"""peers/table.py: a gateway row's upstream and the gateway-versus-engine comparison."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

PEERS = Path(__file__).resolve().parents[1] / "peers"


@pytest.fixture(scope="module")
def table() -> ModuleType:
    spec = importlib.util.spec_from_file_location("peers_table", PEERS / "table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(name: str, must: list[str], should: list[str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "server": extra.pop("server", name), "version": "1.0",
            "model": "m", "url": "http://127.0.0.1:1/v1", "verdict": extra.pop("verdict", "X"),
            "must": {rule_id: [] for rule_id in must}, "should": should, **extra}


def test_difference_is_what_only_one_side_has(table: ModuleType) -> None:
    engine = _row("engine", ["a", "b"], ["s1", "s2"])
    gateway = _row("gw", ["b", "c"], ["s2", "s3"], upstream="engine")
    assert table.difference(gateway, engine) == {
        "must_added": {"c"}, "must_removed": {"a"},
        "should_added": {"s3"}, "should_removed": {"s1"}}


def test_no_gateway_no_comparison_section(table: ModuleType) -> None:
    text = table.render([_row("engine", ["a"], [])])
    assert "compared with their engine" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_comparison_row_per_gateway(table: ModuleType) -> None:
    engine = _row("engine", ["a"], ["s1"], server="Engine", verdict="NOT CERTIFIED")
    gateway = _row("gw", ["a", "c"], [], server="Gateway -> Engine", upstream="engine",
                   version="2.0 -> 1.0", verdict="NOT CERTIFIED")
    lines = table.render([engine, gateway]).splitlines()
    start = lines.index("## Gateways compared with their engine alone")
    assert lines[-1] == ("| Gateway -> Engine | Engine 1.0 | NOT CERTIFIED → NOT CERTIFIED "
                         "| `c` | none | none | `s1` |")
    assert start < len(lines) - 1


def test_engine_version_mismatch_and_missing_engine(table: ModuleType) -> None:
    engine = _row("engine", [], [], server="Engine")
    moved = _row("gw", [], [], upstream="engine", version="2.0 -> 1.1")
    orphan = _row("gw2", [], [], upstream="gone")
    lines = table.render([engine, moved, orphan]).splitlines()
    assert "| Engine 1.0 (gateway ran 1.1) |" in lines[-2]
    assert "no results for `gone`" in lines[-1]


def test_upstream_marks_results_after_url(table: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "gw.results.json"
    path.write_text(json.dumps(_row("gw", [], []), indent=2) + "\n")
    assert table.main(["upstream", str(path), "engine"]) == 0
    assert table.main(["upstream", str(path), "engine"]) == 0  # idempotent
    data = json.loads(path.read_text())
    keys = list(data)
    assert data["upstream"] == "engine" and keys[keys.index("url") + 1] == "upstream"


def test_committed_table_is_generated(table: ModuleType) -> None:
    rendered = table.render(table.load_all(PEERS / "certificates"))
    assert (PEERS / "COMPATIBILITY.md").read_text() == rendered
