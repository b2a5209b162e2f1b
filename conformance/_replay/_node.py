"""The JavaScript client libraries: installing them (npm ci from the lock file shipped in
`js/`) into a cache folder, and the command of the node worker that replays recordings
through them."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

JS = Path(__file__).parent / "js"
SCRIPT = "replay.mjs"
INSTALL_TIMEOUT = 900.0
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
    """The replay script, beside the installed node_modules (so that its imports resolve),
    named by its digest: another version of the suite sharing the folder keeps its own."""
    source = (JS / SCRIPT).read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:12]
    target = install_dir() / f"{Path(SCRIPT).stem}-{digest}.mjs"
    if not target.exists() or target.read_bytes() != source:
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(source)
        temporary.replace(target)
    return target


def command(folder: Path, libraries: list[str]) -> list[str]:
    """The node worker of a replay: it reads every recording that lands in `folder` through
    each of `libraries`, until its standard input ends (see `js/replay.mjs`)."""
    node = shutil.which("node")
    if node is None:
        raise NodeError("node is not installed")
    try:
        script = _script()
    except OSError as exc:
        raise NodeError(f"the replay script cannot be put beside the packages: {exc}") from None
    return [node, str(script), str(folder), *libraries]
