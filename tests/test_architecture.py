"""The layer table of ARCHITECTURE.md holds for every module of the package, and no module
outside rules/ names a rule id."""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "conformance"
MODULES = sorted(PACKAGE.rglob("*.py"))

# Third-party imports that only some modules of a layer may use.
ONLY_IN = {
    "httpx": ("_client.py", "_replay/_python.py"),  # replay drives httpx-sse over a mock
    "pytest": ("plugin.py", "suite/", "_report/", "_cli_run.py"),
}
# Modules outside the table: the package's lazy public surface.
UNLAYERED = {"__init__.py"}
# Where rule ids may be written in code: the rules, and the fault catalogue that names the
# rule each fault of the reference server breaks.
RULE_IDS_ALLOWED = ("rules/", "server/_faults.py")


@dataclass(frozen=True)
class Layer:
    number: float
    modules: tuple[str, ...]
    below: float  # highest layer it may import from
    third_party: frozenset[str] | None  # None: any


def _layers() -> list[Layer]:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    start = text.index("## Layers, lowest first")
    section = text[start : text.index("\n## ", start + 1)]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
    layers = []
    for row in rows:
        if not row.startswith("| ") or row.startswith("| ---"):
            continue
        name, modules, may = (cell.strip() for cell in row.strip("|").split("|"))
        if name == "layer":
            continue
        number = 99.0 if name == "aside" else _number(name)
        layers.append(Layer(number, _names(modules), _below(may, number), _third_party(may)))
    return layers


def _number(name: str) -> float:
    found = re.match(r"(\d+)(b?)\.", name)
    assert found, name
    return int(found.group(1)) + (0.5 if found.group(2) else 0.0)


def _names(cell: str) -> tuple[str, ...]:
    """The module names of a row: the first backticked word of each comma-separated item."""
    return tuple(re.findall(r"(?:^|, )`([\w/]+)`", cell))


def _below(cell: str, number: float) -> float:
    if cell.startswith("anything"):
        return 100.0
    if "standard library only" in cell:
        return -1.0
    found = re.match(r"layers? (\d+)(?:-(\d+)(b?))?", cell)
    assert found, cell
    return int(found.group(2) or found.group(1)) + (0.5 if found.group(3) else 0.0)


def _third_party(cell: str) -> frozenset[str] | None:
    if cell.startswith("anything"):
        return None
    return frozenset(name.split(".")[0] for name in re.findall(r"`([\w.]+)`", cell))


LAYERS = _layers()


def _layer_of(path: Path) -> Layer | None:
    rel = path.relative_to(PACKAGE).as_posix()
    name = rel.removesuffix(".py")
    for layer in LAYERS:
        for module in layer.modules:
            if module.endswith("/") and rel.startswith(module):
                return layer
            if name == module:
                return layer
    return None


def _runtime_imports(path: Path) -> set[str]:
    """Absolute imports of a module, leaving out those only for type annotations."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _module_path(name: str) -> Path:
    parts = name.split(".")[1:]
    candidate = PACKAGE.joinpath(*parts)
    return candidate / "__init__.py" if candidate.is_dir() else candidate.with_suffix(".py")


def test_the_table_is_read() -> None:
    assert [layer.number for layer in LAYERS] == [0, 1, 2, 3, 4, 5, 5.5, 6, 99]
    assert "_dispatch" in LAYERS[4].modules and "rules/" in LAYERS[3].modules


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_module_respects_the_layers(path: Path) -> None:
    rel = _relative(path)
    if rel in UNLAYERED:
        return
    layer = _layer_of(path)
    assert layer is not None, f"{rel} is in no layer of ARCHITECTURE.md"
    for name in _runtime_imports(path):
        top = name.split(".")[0]
        if top == "conformance":
            if name == "conformance":
                continue
            target = _layer_of(_module_path(name))
            assert target is not None, f"{rel} imports {name}, which is in no layer"
            allowed = target is layer or target.number <= layer.below
            assert allowed, f"{rel} (layer {layer.number}) imports {name} ({target.number})"
        elif top not in sys.stdlib_module_names and top != "__future__":
            assert layer.third_party is None or top in layer.third_party, f"{rel} imports {top}"
            only = ONLY_IN.get(top)
            assert only is None or rel.startswith(only), f"{rel} imports {top}"


def _rule_ids() -> set[str]:
    from conformance.rules import REGISTRY

    return {rule.id for rule in REGISTRY}


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_no_rule_id_is_named_outside_the_rules(path: Path) -> None:
    rel = _relative(path)
    if rel.startswith(RULE_IDS_ALLOWED):
        return
    ids = _rule_ids()
    strings = {
        node.value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert not strings & ids, f"{rel} names {sorted(strings & ids)}"


# Modules `conformance check` must not load for a raw SSE recording of conformant chunks:
# the HTTP client, the test runner, the rich validator (it only words an invalid chunk's
# error) and the HAR reader. A start-up cost belongs to the input that needs it.
NOT_FOR_A_PLAIN_CHECK = ("httpx", "pytest", "jsonschema", "referencing", "ijson", "hypothesis")
NOT_FOR_A_PLAIN_CHECK += (
    "starlette",
    "uvicorn",
    "anyio",
    "conformance._client",
    "conformance._replay",
    "conformance._workers",
)

_LOADED = """
import sys
from conformance.cli import main
code = main(["check", *sys.argv[1:]])
print(" ".join(sorted(sys.modules)))
raise SystemExit(code)
"""

_CONFORMANT = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
    b'[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


def _loaded_by_check(path: Path) -> tuple[int, set[str]]:
    """The exit code and the modules a fresh `conformance check path` process has loaded
    (Python writing bytecode, and so the profiles' parsed copies, as it does by default)."""
    import os
    import subprocess

    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, str(path)],
        capture_output=True,
        check=False,
        timeout=60,
        env=environment,
    )
    last = done.stdout.decode().splitlines()[-1]
    return done.returncode, set(last.split())


def _heavy(loaded: set[str]) -> set[str]:
    return {m for m in loaded for h in NOT_FOR_A_PLAIN_CHECK if m == h or m.startswith(h + ".")}


def test_check_of_a_plain_recording_loads_nothing_heavy(tmp_path: Path) -> None:
    path = tmp_path / "one.sse"
    path.write_bytes(_CONFORMANT)
    _loaded_by_check(path)  # the profiles' parsed copies are kept, if they were not yet
    code, loaded = _loaded_by_check(path)
    assert code == 0
    assert "conformance._offline" in loaded  # the check ran in this process
    assert _heavy(loaded) == set()
    assert "yaml" not in loaded  # the profiles were read from their parsed copies


def test_an_invalid_chunk_loads_the_rich_validator_to_explain_it(tmp_path: Path) -> None:
    # The other side of the test above: the lazy import is still made when it is needed.
    path = tmp_path / "bad.sse"
    path.write_bytes(_CONFORMANT.replace(b'"created":1', b'"created":"one"'))
    code, loaded = _loaded_by_check(path)
    assert code == 1
    assert {"jsonschema", "referencing"} <= _heavy(loaded)
    assert _heavy(loaded) <= {m for m in loaded if m.split(".")[0] in ("jsonschema", "referencing")}
