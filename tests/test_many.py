"""`conformance check` on folders and globs, in worker processes (`-j N`): the same per-file
output as one file at a time, in input order, one summary, the same exit codes; a crash, a
bug or an unreadable file is a named outcome of its own; Ctrl-C stops the workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from conformance import _cli_check
from conformance._cli_check import Options, check_files, show_files
from conformance._many import CRASHED, expand
from conformance._model import Exit
from conformance._offline import RecordingResult
from conformance._workers import batches, in_workers
from tests.streams import chunk, completion, good_body, sse

BAD = sse([*completion()[:-1], chunk(finish="stop", object="chat.completion")])


def _folder(root: Path) -> Path:
    """A folder of recordings: good and bad bodies, a subfolder, and files that are not
    recordings (a manifest, a note)."""
    (root / "sub").mkdir(parents=True)
    (root / "b-good.sse").write_bytes(good_body())
    (root / "a-bad.sse").write_bytes(BAD)
    (root / "c-good.txt").write_bytes(good_body())
    (root / "sub" / "d-bad.sse").write_bytes(BAD)
    (root / "MANIFEST.yaml").write_text("files: []\n")
    (root / "notes.md").write_text("# notes\n")
    return root


def _run(capsys: pytest.CaptureFixture[str], *args: str, jobs: int, fmt: str = "text") -> tuple:
    code = check_files(list(args), jobs=jobs, fmt=fmt)
    return code, capsys.readouterr().out


def test_a_folder_is_its_recordings_sorted_by_path(tmp_path: Path) -> None:
    root = _folder(tmp_path / "rec")
    names = [p.relative_to(root).as_posix() for p in expand([str(root)], "alphaedge")]
    assert names == ["a-bad.sse", "b-good.sse", "c-good.txt", "sub/d-bad.sse"]


def test_a_link_to_a_folder_is_not_followed_so_a_loop_ends(tmp_path: Path) -> None:
    root = _folder(tmp_path / "rec")
    (root / "sub" / "loop").symlink_to(root)
    (root / "e-link.sse").symlink_to(root / "b-good.sse")  # a link to a file is that file
    names = [p.relative_to(root).as_posix() for p in expand([str(root)], "alphaedge")]
    assert names == ["a-bad.sse", "b-good.sse", "c-good.txt", "e-link.sse", "sub/d-bad.sse"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_workers_print_what_one_process_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    root = _folder(tmp_path / "rec")
    single = tmp_path / "single.sse"
    single.write_bytes(BAD)
    arguments = [str(single), str(root), str(root / "*.sse")]
    code_one, one = _run(capsys, *arguments, jobs=1, fmt=fmt)
    code_two, two = _run(capsys, *arguments, jobs=2, fmt=fmt)
    assert code_one == code_two == Exit.FAILED
    assert one == two
    if fmt == "json":
        document = orjson.loads(two)
        labels = [r["recording"] for r in document["recordings"]]
        assert document["summary"] == {"not conformant": 4, "conformant": 3}
    else:
        labels = [line.split(": ")[0] for line in two.splitlines() if not line.startswith(" ")]
        assert labels[-1] == "7 recording(s)"
        labels = labels[:-1]
    expected = [single, *(root / n for n in ("a-bad.sse", "b-good.sse", "c-good.txt"))]
    expected += [root / "sub" / "d-bad.sse", root / "a-bad.sse", root / "b-good.sse"]
    assert labels == [str(p) for p in expected]


def test_a_single_file_prints_what_it_printed_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.sse"
    path.write_bytes(BAD)
    code, out = _run(capsys, str(path), jobs=2)
    assert code == Exit.FAILED
    assert out.startswith(f"{path}: NOT CONFORMANT (profile alphaedge, raw SSE body")
    assert out.endswith("1 recording(s): 1 not conformant\n")


def test_arguments_naming_no_recording_are_unreadable_outcomes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.sse"
    good.write_bytes(good_body())
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "zero.sse").write_bytes(b"")
    arguments = [str(good), str(empty), str(tmp_path / "none-*.sse"), str(tmp_path / "zero.sse")]
    code, out = _run(capsys, *arguments, jobs=2)
    assert code == Exit.USAGE
    assert f"{empty}: UNREADABLE: the folder holds no recording" in out
    assert f"{tmp_path / 'none-*.sse'}: UNREADABLE: no file matches this pattern" in out
    assert f"{tmp_path / 'zero.sse'}: UNREADABLE: " in out
    assert out.endswith("4 recording(s): 1 conformant, 3 unreadable\n")


def test_a_file_that_cannot_be_read_is_named_among_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.sse"
    good.write_bytes(good_body())
    gone = tmp_path / "gone.sse"
    code, out = _run(capsys, str(good), str(gone), str(good), jobs=2)
    assert code == Exit.USAGE
    heads = [line.split(": ")[:2] for line in out.splitlines() if not line.startswith(" ")]
    assert heads[:3] == [
        [str(good), "CONFORMANT (profile alphaedge, raw SSE body, 6 events, 964 bytes)"],
        [str(gone), "UNREADABLE"],
        [str(good), "CONFORMANT (profile alphaedge, raw SSE body, 6 events, 964 bytes)"],
    ]
    assert f"{gone}: UNREADABLE: {gone}: cannot be read: No such file or directory" in out
    assert out.endswith("3 recording(s): 2 conformant, 1 unreadable\n")


def test_batches_hold_consecutive_files(tmp_path: Path) -> None:
    paths = [tmp_path / f"{n:03}.sse" for n in range(70)]
    groups = batches(paths)
    assert [p for g in groups for p in g] == paths
    assert max(len(g) for g in groups) <= 32


# -- the worker pool, driven by test functions (module level: a worker imports them) ----------


def _slow_first(paths: list[str], delay: float) -> list[str]:
    """The first batch finishes last."""
    if any(p.endswith("/000") for p in paths):
        time.sleep(delay)
    return [Path(p).name for p in paths]


def _slow_after_first(paths: list[str], delay: float) -> list[str]:
    if not any(p.endswith("/000") for p in paths):
        time.sleep(delay)
    return [Path(p).name for p in paths]


def _crash_on(paths: list[str], marker: str) -> list[str]:
    for path in paths:
        if marker in path:
            os._exit(3)  # a crash: the worker dies without a word
    return [Path(p).name for p in paths]


def test_results_come_in_input_order_whatever_order_workers_finish(tmp_path: Path) -> None:
    paths = [tmp_path / f"{n:03}" for n in range(100)]
    got = list(in_workers(paths, 2, _slow_first, 0.5, crashed=lambda p: "crashed"))
    assert got == [p.name for p in paths]


@pytest.mark.parametrize(
    ("files", "marker"),
    [
        (80, "/041"),  # in the last batch its worker holds
        (300, "/005"),  # in the first batch: the one its worker holds next goes to another
    ],
)
def test_a_crash_is_that_file_s_outcome_and_no_other_file_is_lost(
    tmp_path: Path, files: int, marker: str
) -> None:
    paths = [tmp_path / f"{n:03}" for n in range(files)]
    got = list(in_workers(paths, 2, _crash_on, marker, crashed=lambda p: f"crashed {p}"))
    assert got == [p.name if p.name != marker[1:] else f"crashed {p}" for p in paths]


_STATE = "as imported"
"""Changed by a test: a forked worker has the change, a fresh interpreter has not."""


def _state(paths: list[str], _: None) -> list[str]:
    return [_STATE for _ in paths]


@pytest.fixture
def other_thread() -> Iterator[None]:
    """Another thread running in this process, as in a program that embeds the checker."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    yield
    stop.set()
    thread.join()


_FORKED = """
import sys
from pathlib import Path
import tests.test_many as here
from conformance._workers import in_workers
here._STATE = "set before the fork"
print(*in_workers([Path(sys.argv[1])] * 40, 2, here._state, None, crashed=str), sep="\\n")
"""


def test_workers_are_forked_from_a_process_that_runs_no_other_thread(tmp_path: Path) -> None:
    # In a process of its own: the test runner's process may run threads.
    root = Path(__file__).parent.parent
    done = subprocess.run(
        [sys.executable, "-c", _FORKED, str(tmp_path / "x")],
        capture_output=True,
        text=True,
        cwd=root,
        check=True,
        timeout=60,
    )
    assert done.stdout.splitlines() == ["set before the fork"] * 40


@pytest.mark.usefixtures("other_thread")
def test_beside_other_threads_workers_are_fresh_interpreters_and_crashes_still_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "_STATE", "set before the fork")
    paths = [tmp_path / f"{n:03}" for n in range(40)]
    assert list(in_workers(paths, 2, _state, None, crashed=str)) == ["as imported"] * 40
    got = list(in_workers(paths, 2, _crash_on, "/021", crashed=lambda p: f"crashed {p}"))
    assert got == [p.name if p.name != "021" else f"crashed {p}" for p in paths]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_a_caller_that_stops_reading_leaves_no_worker_behind(tmp_path: Path) -> None:
    paths = [tmp_path / f"{n:03}" for n in range(100)]
    results = in_workers(paths, 2, _slow_after_first, 5.0, crashed=str)
    started = time.monotonic()
    assert next(results) == "000"  # both workers are now in batches that sleep
    workers = _children(os.getpid())
    assert len(workers) == 2
    results.close()
    assert _children(os.getpid()) == set()
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
    assert time.monotonic() - started < 30


def test_a_crash_is_an_error_with_exit_status_4(tmp_path: Path) -> None:
    options = Options("alphaedge", "text", False, "must")
    shown = _cli_check._crashed(str(tmp_path / "x.sse"), options)
    assert [s.verdict for s in shown] == ["error"]
    assert shown[0].text == f"{tmp_path / 'x.sse'}: ERROR: {CRASHED}"
    assert _cli_check._exit_code(["conformant", "unreadable", "error"]) == Exit.INTERNAL


def test_a_bug_in_a_worker_is_that_file_s_error_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "good.sse"
    good.write_bytes(good_body())

    def broken(path: Path, *args: object) -> list[RecordingResult]:
        if path.name == "bug.sse":
            raise RuntimeError("a bug")
        return list(judge_path(path, *args))

    judge_path = _cli_check._judge_path
    monkeypatch.setattr(_cli_check, "_judge_path", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    shown = show_files(
        [str(tmp_path / "bug.sse"), str(good)], Options("alphaedge", "json", False, "must")
    )
    assert [s.verdict for group in shown for s in group] == ["error", "conformant"]
    error = shown[0][0].document
    assert error is not None
    assert error["verdict"] == "error"
    assert "a bug in the suite" in error["error"]
    assert "Traceback" not in error["error"]
    assert any(p.name.startswith("conformance-crash-") for p in tmp_path.iterdir())


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        found |= {int(n) for n in text.split()}
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_ctrl_c_stops_the_workers(tmp_path: Path) -> None:
    body = sse(completion(tuple(f"w{n} " for n in range(20_000))))
    for n in range(40):
        (tmp_path / f"{n:02}.sse").write_bytes(body)
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance", "check", "-j", "2", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        workers = _children(process.pid)
    assert len(workers) >= 2, "the workers did not start"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert (process.returncode, err) == (130, b"")
    time.sleep(0.2)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert alive == []
