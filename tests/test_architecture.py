"""The import rules of ARCHITECTURE.md hold for every module of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conformance"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))

# Third-party imports that only some layers may use.
ONLY_IN = {
    "httpx": ("_client.py",),
    "pytest": ("plugin.py", "suite/", "_report/", "_cli_run.py"),
    "starlette": ("server/",),
    "uvicorn": ("server/",),
}
# Layers that must stay free of I/O libraries and of the front ends.
PLAIN = (
    "_model.py",
    "_sse.py",
    "_coding.py",
    "_schemas.py",
    "_registry.py",
    "_state.py",
    "rules/",
    "_check.py",
    "_curl.py",
    "_render.py",
)
FRONT_ENDS = (
    "conformance.plugin",
    "conformance.cli",
    "conformance._run",
    "conformance.suite",
    "conformance._offline_render",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_module_respects_the_layers(path: Path) -> None:
    rel = _relative(path)
    imports = _imports(path)
    for library, allowed in ONLY_IN.items():
        used = any(name == library or name.startswith(f"{library}.") for name in imports)
        assert not used or rel.startswith(allowed), f"{rel} imports {library}"
    if rel.startswith(PLAIN):
        assert not any(name.startswith(FRONT_ENDS) for name in imports), rel
    if rel.startswith("server/"):
        ours = {
            n
            for n in imports
            if n.startswith("conformance") and not n.startswith("conformance.server")
        }
        assert ours <= {"conformance._model"}, f"{rel} imports {ours}"
