"""The `conformance check` front end: judge recorded streams, print a verdict and every
finding per recording, as text for people or JSON for machines."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from conformance._dispatch import Context, Dispatcher
from conformance._json import escape_controls
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
from conformance._replay._recorded import Recorded, Tap, recorded, replayable
from conformance.rules.http import EVENT_STREAM

KINDS = {"sse": "raw SSE body", "curl": "curl -i capture", "har": "HAR entry"}


def render_text(judged: RecordingResult, policy: Policy, *, show_text: bool = False) -> str:
    """One recording's verdict, its findings, what it could not judge, and its text (the
    control characters and lone surrogates of a file name or a stream shown as escapes)."""
    return printable(_text(judged, policy, show_text))


def _text(judged: RecordingResult, policy: Policy, show_text: bool) -> str:
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


def summary(judged: list[RecordingResult], policy: Policy) -> str:
    """One line counting the verdicts."""
    counts = Counter(j.verdict(policy) for j in judged)
    parts = [
        f"{counts[v]} {v}" for v in ("conformant", "not conformant", "unreadable") if counts[v]
    ]
    return f"{len(judged)} recording(s): {', '.join(parts) or 'none'}"


def render_json(
    judged: list[RecordingResult],
    policy: Policy,
    *,
    show_text: bool = False,
    clients: list[dict[str, Any]] | None = None,
) -> bytes:
    """Every verdict as one JSON document (with the client matrix, when replayed), in UTF-8
    whatever the recordings held."""
    document: dict[str, Any] = {
        "recordings": [_as_dict(j, policy, show_text) for j in judged],
        "summary": dict(Counter(j.verdict(policy) for j in judged)),
    }
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


def check_files(
    paths: list[str],
    *,
    profile: str = DEFAULT_PROFILE,
    fmt: str = "text",
    show_text: bool = False,
    fail_on: str = "must",
    clients: bool = False,
) -> int:
    """`conformance check`: 0 all conformant, 1 some not conformant, 2 a file unreadable;
    `clients`: replay each recording through the client libraries too."""
    try:
        chosen = load_profile(profile)
    except UnknownProfileError as exc:
        print(f"conformance check: {exc}", file=sys.stderr)
        return Exit.USAGE
    policy = Policy.parse(fail_on)
    replays: list[Recorded] | None = [] if clients else None
    judged = [j for path in paths for j in _judge_path(Path(path), chosen, show_text, replays)]
    matrix = None
    if replays is not None:
        from conformance._replay import client_matrix

        readings = judge_clients(judged, replays, chosen)
        matrix = client_matrix(readings)
    if fmt == "json":
        document = render_json(judged, policy, show_text=show_text, clients=matrix)
        sys.stdout.buffer.write(document + b"\n")
    else:
        for item in judged:
            print(render_text(item, policy, show_text=show_text))
        if matrix is not None:
            from conformance._replay import render_matrix

            print(render_matrix(matrix))
        print(summary(judged, policy))
    return exit_code(judged, policy)


def _judge_path(
    path: Path, profile: Profile, keep_text: bool, replays: list[Recorded] | None = None
) -> Iterator[RecordingResult]:
    try:
        for recording in recordings(path):
            tap = Tap() if replays is not None else None
            judged = judge(recording, profile, keep_text=keep_text, tap=tap)
            if tap is not None:
                _keep_for_replay(judged, recording, tap, replays)
            yield judged
    except UnreadableError as exc:
        yield RecordingResult(str(path), "sse", profile.name, None, unreadable=str(exc))


def _keep_for_replay(
    judged: RecordingResult, recording: Recording, tap: Tap, replays: list[Recorded] | None
) -> None:
    """Keep a recording that can be replayed; else say, for the client rules, why not."""
    exchange = recording.exchange or Exchange(
        status=200, response_headers=[("Content-Type", EVENT_STREAM)]
    )
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
    verdicts = {j.verdict(policy) for j in judged}
    if "unreadable" in verdicts:
        return Exit.USAGE
    return Exit.FAILED if "not conformant" in verdicts else Exit.OK
