"""The package's public surface is pinned, resolves lazily, and ships its data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import conformance

ROOT = Path(__file__).resolve().parents[1]


def test_exported_names_are_pinned() -> None:
    assert sorted(conformance.__all__) == sorted(
        [
            "__version__",
            "REGISTRY",
            "Rule",
            "Level",
            "Limits",
            "Finding",
            "Policy",
            "Event",
            "Observation",
            "SSEParser",
            "StreamChecker",
            "StreamResult",
            "Client",
            "Target",
            "TargetUnreachable",
        ]
    )
    for name in conformance.__all__:
        assert getattr(conformance, name) is not None


def test_registry_is_complete_on_import() -> None:
    code = "import conformance; print(len(conformance.REGISTRY))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    from conformance.rules import REGISTRY

    assert int(done.stdout) == len(REGISTRY) > 50


def test_plugin_import_is_cheap() -> None:
    code = (
        "import sys, conformance.plugin; "
        "print(','.join(m for m in ('httpx', 'jsonschema', 'orjson', 'starlette') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "conformance", "rules"], capture_output=True, text=True, check=True
    )
    assert "sse.done_present" in out.stdout


@pytest.mark.slow
def test_wheel_ships_schemas_and_cases(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in (ROOT / "schemas").rglob("*.json"):
        assert f"conformance/schemas/{schema.relative_to(ROOT / 'schemas')}" in names
    for case in (ROOT / "cases").glob("*.yaml"):
        assert f"conformance/cases/{case.name}" in names
    assert "conformance/suite/test_properties.py" in names


def test_readme_rule_table_is_current() -> None:
    from conformance.cli import rules_markdown

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n", readme.index("<!-- rules-table")) + 1
    table = readme[start : readme.index("<!-- /rules-table -->")].strip()
    assert table == rules_markdown(), "run `conformance rules --markdown` into the README"
