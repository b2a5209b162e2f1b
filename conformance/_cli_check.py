"""The `conformance check` front end: judge recorded streams, print a verdict and every
finding per recording, as text for people or JSON for machines."""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from conformance._dispatch import Context, Dispatcher
from conformance._json import escape_controls
from conformance._many import CRASHED, Item, default_jobs, errored, expand
from conformance._model import (
    CLIENT_AREA,
    DEFAULT_PROFILE,
    ClientReading,
    Exchange,
    Exit,
    Policy,
    printable,
)
from conformance._offline import (
    Recording,
    RecordingResult,
    UnreadableError,
    judge,
    recordings,
)
from conformance._profiles import Profile, UnknownProfileError, load_profile
from conformance._render import render_finding
from conformance.rules.http import EVENT_STREAM

if TYPE_CHECKING:  # client replay (`--clients`) only
    from conformance._replay._recorded import Recorded, Tap

KINDS = {"sse": "raw SSE body", "curl": "curl -i capture", "har": "HAR entry"}


def render_text(judged: RecordingResult, policy: Policy, *, show_text: bool = False) -> str:
    """One recording's verdict, its findings, what it could not judge, and its text (the
    control characters and lone surrogates of a file name or a stream shown as escapes)."""
    return printable(_text(judged, policy, show_text))


def _text(judged: RecordingResult, policy: Policy, show_text: bool) -> str:
    if judged.error is not None:
        return f"{judged.label}: ERROR: {judged.error}"
    if judged.unreadable is not None:
        return f"{judged.label}: UNREADABLE: {judged.unreadable}"
    result = judged.result
    assert result is not None
    lines = [
        f"{judged.label}: {judged.verdict(policy).upper()} (profile "
        f"{judged.profile}, {KINDS[judged.kind]}, {result.events} events, "
        f"{result.body_bytes:,} bytes)"
    ]
    lines += [_indent(render_finding(f)) for f in result.findings]
    lines += _omitted(judged)
    if judged.not_applicable:
        lines.append(f"  not applicable ({len(judged.not_applicable)}):")
        lines += [f"    {rule_id}: {why}" for rule_id, why in judged.not_applicable]
    if show_text:
        lines += _message_text(judged)
    return "\n".join(lines)


def _indent(block: str) -> str:
    return "\n".join("  " + line for line in block.splitlines())


def _omitted(judged: RecordingResult) -> list[str]:
    assert judged.result is not None
    kept = Counter(f.rule_id for f in judged.result.findings)
    return [
        f"  ... {rule_id}: {count - kept[rule_id]} more finding(s) not shown"
        for rule_id, count in judged.result.found.items()
        if count > kept[rule_id]
    ]


def _message_text(judged: RecordingResult) -> list[str]:
    assert judged.result is not None
    lines = []
    indexes = sorted(set(judged.result.texts) | set(judged.tool_calls))
    for index in indexes:
        lines.append(f"  choice {index}: {judged.result.texts.get(index, '')!r}")
        lines += [
            f"    tool call {call.index}: {call.name}({call.arguments})"
            for call in judged.tool_calls.get(index, [])
        ]
    state = judged.result.state
    if state is not None and state.text_cut:
        lines.append("  (the text is cut: past the client's limit on text kept, it was not kept)")
    return lines or ["  (no choice delivered any text)"]


VERDICTS = ("conformant", "not conformant", "unreadable", "error")


def summary(judged: list[RecordingResult], policy: Policy) -> str:
    """One line counting the verdicts."""
    return _summary([j.verdict(policy) for j in judged])


def _summary(verdicts: list[str]) -> str:
    counts = Counter(verdicts)
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts[v]]
    return f"{len(verdicts)} recording(s): {', '.join(parts) or 'none'}"


def render_json(
    judged: list[RecordingResult],
    policy: Policy,
    *,
    show_text: bool = False,
    clients: list[dict[str, Any]] | None = None,
) -> bytes:
    """Every verdict as one JSON document (with the client matrix, when replayed), in UTF-8
    whatever the recordings held."""
    dicts = [_as_dict(j, policy, show_text) for j in judged]
    return _json_document(dicts, [j.verdict(policy) for j in judged], clients)


def _json_document(
    dicts: list[dict[str, Any]], verdicts: list[str], clients: list[dict[str, Any]] | None
) -> bytes:
    document: dict[str, Any] = {"recordings": dicts, "summary": dict(Counter(verdicts))}
    if clients is not None:
        document["clients"] = clients
    try:
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
    except TypeError:  # a lone surrogate (from a JSON escape or a file name): UTF-8 has none
        text = json.dumps(document, indent=2, ensure_ascii=False)
    return escape_controls(text).encode("utf-8", "backslashreplace")  # a surrogate as its escape


def _as_dict(judged: RecordingResult, policy: Policy, show_text: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "recording": judged.label,
        "format": judged.kind,
        "profile": judged.profile,
        "verdict": judged.verdict(policy),
    }
    if judged.error is not None:
        return {**out, "error": judged.error}
    if judged.unreadable is not None:
        return {**out, "error": judged.unreadable}
    result = judged.result
    assert result is not None
    out.update(
        events=result.events,
        bytes=result.body_bytes,
        completion_failed=judged.completion_failures,
        findings=[f.as_dict() for f in result.findings],
        found=result.found,
        judged=result.judged,
        not_applicable=[{"rule": r, "reason": why} for r, why in judged.not_applicable],
    )
    if show_text:
        out["messages"] = {
            str(i): {
                "content": result.texts.get(i, ""),
                "tool_calls": [
                    {"index": c.index, "name": c.name, "arguments": c.arguments}
                    for c in judged.tool_calls.get(i, [])
                ],
            }
            for i in sorted(set(result.texts) | set(judged.tool_calls))
        }
    return out


@dataclass(frozen=True, slots=True)
class Shown:
    """One recording's verdict and what is printed of it: its text, or its JSON object."""

    verdict: str
    text: str | None = None
    document: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Options:
    """How to judge and show a recording (what a worker process is handed)."""

    profile: str
    fmt: str
    show_text: bool
    fail_on: str


def check_files(
    paths: list[str],
    *,
    profile: str = DEFAULT_PROFILE,
    fmt: str = "text",
    show_text: bool = False,
    fail_on: str = "must",
    clients: bool = False,
    jobs: int | None = 1,
) -> int:
    """`conformance check`: 0 all conformant, 1 some not conformant, 2 a file unreadable,
    4 a check stopped (see `_many`). Folders and globs name their files; `jobs` worker
    processes (None: one per core) judge them, the output in input order; `clients`:
    replay each recording through the client libraries too (in this process, one file
    after another)."""
    try:
        chosen = load_profile(profile)
    except UnknownProfileError as exc:
        print(f"conformance check: {exc}", file=sys.stderr)
        return Exit.USAGE
    policy = Policy.parse(fail_on)
    items = expand(paths, chosen.name)
    if clients:
        return _check_with_clients(items, chosen, policy, fmt, show_text)
    options = Options(chosen.name, fmt, show_text, fail_on)
    verdicts: list[str] = []
    documents: list[dict[str, Any]] = []
    with contextlib.closing(_shown(items, options, jobs or default_jobs())) as every:
        for shown in every:  # an interrupt closes it now: the workers stop before we return
            verdicts.append(shown.verdict)
            if shown.document is not None:
                documents.append(shown.document)
            else:
                print(shown.text)
    if fmt == "json":
        sys.stdout.buffer.write(_json_document(documents, verdicts, None) + b"\n")
    else:
        print(_summary(verdicts))
    return _exit_code(verdicts)


def _shown(items: list[Item], options: Options, jobs: int) -> Generator[Shown, None, None]:
    """Every recording of `items` judged and shown, in order: in this process, or (several
    files and `jobs` > 1) in worker processes."""
    files = [item for item in items if isinstance(item, Path)]
    done: Generator[list[Shown], None, None]
    if jobs > 1 and len(files) > 1:
        from conformance._workers import in_workers

        done = in_workers(files, jobs, show_files, options, partial(_crashed, options=options))
    else:
        done = (show_files([str(path)], options, catch=False)[0] for path in files)
    with contextlib.closing(done):
        for item in items:
            if isinstance(item, RecordingResult):
                yield _show(item, options)
            else:
                yield from next(done)


def show_files(paths: Sequence[str], options: Options, *, catch: bool = True) -> list[list[Shown]]:
    """The recordings of each path judged and shown; `catch` (in a worker process): a bug
    is that file's `error` outcome, not the end of the batch."""
    profile = load_profile(options.profile)
    out = []
    for path in paths:
        try:
            judged = [
                _show(j, options) for j in _judge_path(Path(path), profile, options.show_text)
            ]
        except Exception:
            if not catch:
                raise
            judged = [_show(errored(path, options.profile), options)]
        out.append(judged)
    return out


def _crashed(path: str, options: Options) -> list[Shown]:
    return [_show(RecordingResult(path, "sse", options.profile, None, error=CRASHED), options)]


def _show(judged: RecordingResult, options: Options) -> Shown:
    policy = Policy.parse(options.fail_on)
    verdict = judged.verdict(policy)
    if options.fmt == "json":
        return Shown(verdict, document=_as_dict(judged, policy, options.show_text))
    return Shown(verdict, text=render_text(judged, policy, show_text=options.show_text))


def _check_with_clients(
    items: list[Item], profile: Profile, policy: Policy, fmt: str, show_text: bool
) -> int:
    replays: list[Recorded] = []
    judged = [
        j
        for item in items
        for j in (
            [item]
            if isinstance(item, RecordingResult)
            else _judge_path(item, profile, show_text, replays)
        )
    ]
    from conformance._replay import client_matrix, render_matrix

    matrix = client_matrix(judge_clients(judged, replays, profile))
    if fmt == "json":
        document = render_json(judged, policy, show_text=show_text, clients=matrix)
        sys.stdout.buffer.write(document + b"\n")
    else:
        for item in judged:
            print(render_text(item, policy, show_text=show_text))
        print(render_matrix(matrix))
        print(summary(judged, policy))
    return exit_code(judged, policy)


def _judge_path(
    path: Path, profile: Profile, keep_text: bool, replays: list[Recorded] | None = None
) -> Iterator[RecordingResult]:
    try:
        for recording in recordings(path):
            tap = _tap() if replays is not None else None
            judged = judge(recording, profile, keep_text=keep_text, tap=tap)
            if tap is not None:
                _keep_for_replay(judged, recording, tap, replays)
            yield judged
    except UnreadableError as exc:
        yield RecordingResult(str(path), "sse", profile.name, None, unreadable=str(exc))


def _tap() -> Tap:
    from conformance._replay._recorded import Tap

    return Tap()


def _keep_for_replay(
    judged: RecordingResult, recording: Recording, tap: Tap, replays: list[Recorded] | None
) -> None:
    """Keep a recording that can be replayed; else say, for the client rules, why not."""
    exchange = recording.exchange or Exchange(
        status=200, response_headers=[("Content-Type", EVENT_STREAM)]
    )
    from conformance._replay._recorded import recorded, replayable

    why = replayable(judged.result, exchange, tap) if judged.unreadable is None else "unreadable"
    if why is None and judged.result is not None and replays is not None:
        replays.append(recorded(judged.label, exchange, tap, judged.result, decoded=True))
    elif judged.result is not None:
        for rule_id in [r for r in judged.result.unjudged if r.startswith(CLIENT_AREA)]:
            judged.result.unjudged[rule_id] = f"not replayed: {why}"


def judge_clients(
    judged: list[RecordingResult], replays: list[Recorded], profile: Profile
) -> list[ClientReading]:
    """Replay the recordings in one batch and judge each one's readings by the client
    rules, adding their findings and counts to the recording's result."""
    from conformance._replay import replay

    readings = replay(replays)
    missing = [r for r in readings if r.got is None]
    for item in judged:
        result = item.result
        if result is None or not any(r.label == item.label for r in replays):
            continue
        dispatch = Dispatcher(profile, Context(replay=True))
        for reading in [*missing, *(r for r in readings if r.stream == item.label)]:
            dispatch.client(reading)
        result.findings += dispatch.findings
        result.found.update(dispatch.found)
        result.judged.update(dispatch.judged)
        for rule_id in [r for r in result.unjudged if r.startswith(CLIENT_AREA)]:
            if dispatch.judged[rule_id] or dispatch.found[rule_id]:
                del result.unjudged[rule_id]
            elif rule_id in dispatch.reasons:
                result.unjudged[rule_id] = dispatch.reasons[rule_id]
    return readings


def exit_code(judged: list[RecordingResult], policy: Policy) -> int:
    """The exit status of a `conformance check` run over `judged`."""
    return _exit_code([j.verdict(policy) for j in judged])


def _exit_code(verdicts: list[str]) -> int:
    if "error" in verdicts:
        return Exit.INTERNAL
    if "unreadable" in verdicts:
        return Exit.USAGE
    return Exit.FAILED if "not conformant" in verdicts else Exit.OK
