"""The JavaScript client libraries: installing them (npm ci from the lock file shipped in
`js/`) into a cache folder, and replaying a whole batch of recordings through them in one
node process."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance._model import Reading
from conformance._replay._recorded import Recorded, reading_from

JS = Path(__file__).parent / "js"
SCRIPT = "replay.mjs"
INSTALL_TIMEOUT = 900.0
BATCH_TIMEOUT = 60.0
PER_RECORDING = 2.0
"""Seconds a node batch may take: BATCH_TIMEOUT plus this per recording."""
CACHE_ENV = "CONFORMANCE_CLIENTS_DIR"
PACKAGES = {"openai-node": "openai", "vercel-ai": "ai"}


class NodeError(Exception):
    """Node.js or the installed packages could not replay a batch."""


def cache_root() -> Path:
    """Where `conformance clients install` puts node_modules ($CONFORMANCE_CLIENTS_DIR, else
    the user's cache folder)."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streaming-conformance" / "clients"


def lock_digest() -> str:
    """A short digest of the shipped lock file: a new lock installs into a new folder."""
    return hashlib.sha256((JS / "package-lock.json").read_bytes()).hexdigest()[:12]


def install_dir() -> Path:
    """The folder the pinned packages of this version of the suite install into."""
    return cache_root() / lock_digest()


@functools.cache
def node_version() -> str | None:
    """`v20.20.2`, or None when there is no working `node`."""
    node = shutil.which("node")
    if node is None:
        return None
    try:
        done = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def installed_versions() -> dict[str, str]:
    """The versions of the JS libraries installed in `install_dir()`, by library name."""
    out = {}
    for library, package in PACKAGES.items():
        manifest = install_dir() / "node_modules" / package / "package.json"
        try:
            out[library] = str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError):
            continue
    return out


@dataclass(frozen=True, slots=True)
class Installed:
    """The outcome of `install`: whether it worked, and what to tell a person."""

    ok: bool
    message: str


def install() -> Installed:
    """`npm ci` the shipped lock file into `install_dir()` (nothing to do when it is there)."""
    npm = shutil.which("npm")
    if node_version() is None or npm is None:
        return Installed(False, "Node.js and npm are needed: install them, then run this again")
    target = install_dir()
    if len(installed_versions()) == len(PACKAGES):
        return Installed(True, f"already installed in {target}")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(JS / name, target / name)
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = subprocess.run(
            command,
            cwd=target,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Installed(False, f"npm ci failed: {exc}")
    if done.returncode != 0:
        return Installed(False, f"npm ci failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return Installed(True, f"installed in {target}")


def _script() -> Path:
    """The replay script, beside the installed node_modules (so that its imports resolve)."""
    source = (JS / SCRIPT).read_bytes()
    target = install_dir() / SCRIPT
    if not target.exists() or target.read_bytes() != source:
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(source)
        temporary.replace(target)
    return target


@dataclass(frozen=True, slots=True)
class NodeBatch:
    """What one node process read: per recording, a Reading per library; and versions."""

    node: str
    versions: dict[str, str]
    readings: list[dict[str, Reading]]


def replay_node(recordings: list[Recorded], libraries: list[str]) -> NodeBatch:
    """Replay every recording through every library of `libraries`, in one node process."""
    node = shutil.which("node")
    if node is None:
        raise NodeError("node is not installed")
    batch = {
        "libraries": libraries,
        "jobs": [
            {"status": r.status, "headers": [list(h) for h in r.headers], **_chunks(r)}
            for r in recordings
        ],
    }
    timeout = BATCH_TIMEOUT + PER_RECORDING * len(recordings)
    try:
        done = subprocess.run(
            [node, str(_script())],
            input=json.dumps(batch).encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise NodeError(f"the node replay took longer than {timeout:g} s") from None
    except OSError as exc:
        raise NodeError(f"node could not be started: {exc}") from None
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip()[-500:]
        raise NodeError(f"the node replay failed: {error or f'exit status {done.returncode}'}")
    return _parse(done.stdout, libraries, len(recordings))


def _chunks(recording: Recorded) -> dict[str, Any]:
    import base64

    return {"chunks": [base64.b64encode(c).decode("ascii") for c in recording.chunks]}


def _parse(stdout: bytes, libraries: list[str], count: int) -> NodeBatch:
    try:
        document = json.loads(stdout)
        results = document["results"]
        readings = [{name: reading_from(result[name]) for name in libraries} for result in results]
    except (ValueError, KeyError, TypeError) as exc:
        raise NodeError(f"the node replay wrote no readable result: {exc}") from None
    if len(readings) != count:
        raise NodeError(f"the node replay returned {len(readings)} results for {count}")
    versions = {k: str(v) for k, v in (document.get("versions") or {}).items() if v}
    return NodeBatch(str(document.get("node") or ""), versions, readings)
