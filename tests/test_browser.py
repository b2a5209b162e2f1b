"""The HTML report looked at in a real browser: headless Chromium renders a NOT CERTIFIED
report; the verdict, the compliance matrix and a failure's transcript must be on the page,
pytest-html's script must have built the results table, and the console must stay silent.
A screenshot is saved as `reports/browser-report.png` (a CI artifact, ignored by git).

Chromium comes from the Debian package `chromium` (`.ci/install-browser.sh`). Without it the
test is skipped, except under CI (`CI` set), where a missing browser is a failure."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.server import ServerThread

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "reports"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--enable-logging=stderr",
    "--v=0",
]
CONSOLE = re.compile(r":CONSOLE[(:]")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="/usr/bin/chromium is not installed (run .ci/install-browser.sh); "
        "under CI this test runs and fails instead",
    ),
]


def chromium(page: Path, profile: Path, *args: str) -> tuple[str, list[str]]:
    """Run headless Chromium on `page`; returns stdout and the console lines it logged."""
    assert CHROMIUM.exists(), "headless Chromium is required under CI: .ci/install-browser.sh"
    done = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if CONSOLE.search(line)]


@pytest.fixture(scope="module")
def report(reference_server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A NOT CERTIFIED report: the whole suite against a fault, written by `conformance run`."""
    out = tmp_path_factory.mktemp("browser")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--out",
            str(out),
            "--target-url",
            reference_server.url(fault="wrong-object"),
            "--property-examples",
            "2",
            "-k",
            "streaming or properties",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ},
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    (page,) = out.glob("*.html")
    return page


def test_report_renders_verdict_matrix_and_transcript(report: Path, tmp_path: Path) -> None:
    dom, console = chromium(report, tmp_path / "profile", "--dump-dom")
    assert console == []
    verdict = re.search(r'<section id="cf-verdict".*?</section>', dom, re.S)
    assert verdict is not None and "NOT CERTIFIED" in verdict.group(0)
    assert "MUST: 1 rule failed" in verdict.group(0)
    matrix = re.search(r'<section id="cf-matrix">.*?</section>', dom, re.S)
    assert matrix is not None
    assert len(re.findall(r"<tr class=\"cf-", matrix.group(0))) >= 30
    assert re.search(r'<tr class="cf-failed" data-rule="chunk.object">', matrix.group(0))
    transcript = re.search(r'<pre class="cf-transcript">(.*?)</pre>', dom, re.S)
    assert transcript is not None
    shown = re.sub(r"<[^>]+>", "", transcript.group(1))
    assert "data: {" in shown and "data: [DONE]␊" in shown
    # the results table is built by pytest-html's script: it ran
    assert re.search(r'<td class="col-testId">[^<]*streaming.yaml::minimal conversation</td>', dom)


def test_report_screenshot(report: Path, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "browser-report.png"
    shot.unlink(missing_ok=True)
    _, console = chromium(
        report,
        tmp_path / "profile",
        "--window-size=1280,2400",
        "--hide-scrollbars",
        f"--screenshot={shot}",
    )
    assert console == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_console_errors_would_be_caught(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><body><p>x</p><script>console.error('logged');"
        "throw new Error('boom')</script></body></html>",
        encoding="utf-8",
    )
    _, console = chromium(page, tmp_path / "profile", "--dump-dom")
    assert any("Uncaught Error: boom" in line for line in console)
    assert any("logged" in line for line in console)
