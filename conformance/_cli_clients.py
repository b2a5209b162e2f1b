"""`conformance clients`: which client libraries replay can use here, and installing the
pinned JavaScript ones (`conformance clients install`)."""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAILED = 0, 1


def listing() -> int:
    """Print one line per library: name, pinned version, what is installed, runtime."""
    from conformance._replay import availability, install_dir

    print("client libraries for --clients replay:")
    for status in availability():
        library = status.library
        state = f"{status.version} installed" if status.available else status.missing
        pinned = f"(pinned {library.pinned})"
        print(f"  {library.name:14} {pinned:18} {status.runtime:18} {state}")
    print(f"JavaScript packages folder: {install_dir()}")
    return EXIT_OK


def install() -> int:
    """Install the pinned JavaScript packages (npm ci from the shipped lock file)."""
    from conformance._replay import install as npm_install

    outcome = npm_install()
    print(
        f"conformance clients install: {outcome.message}",
        file=sys.stdout if outcome.ok else sys.stderr,
    )
    if outcome.ok:
        listing()
    return EXIT_OK if outcome.ok else EXIT_FAILED
