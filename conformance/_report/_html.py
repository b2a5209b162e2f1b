"""HTML fragments for the pytest-html report: verdict, compliance matrix, failure evidence,
timing table and chart. Everything is escaped and inline: the page needs no network."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from html import escape
from typing import Any

from conformance._report._collect import Gatherer, TestRecord
from conformance._report._redact import visible_line_endings
from conformance._report._svg import Series, arrival_chart, color
from conformance.rules import REGISTRY

DASH = "&ndash;"
BLOCKS_SHOWN = 50
"""Failure (and warning) blocks shown; the rest are counted."""
CHART_STREAMS = 12
TIMING_ROWS = 300

STYLE = """<style>
.cf-verdict{border:3px solid;border-radius:6px;padding:10px 16px;margin:12px 0}
.cf-certified{border-color:#2a7d2a;background:#eef8ee}
.cf-not-certified{border-color:#b22222;background:#fbeeee}
.cf-verdict__word{font-size:28px;font-weight:bold;letter-spacing:1px}
.cf-certified .cf-verdict__word{color:#2a7d2a}.cf-not-certified .cf-verdict__word{color:#b22222}
table.cf-table{border-collapse:collapse;margin:8px 0;font-size:13px}
table.cf-table th,table.cf-table td{border:1px solid #ccc;padding:3px 6px;text-align:left;
vertical-align:top}
table.cf-table th{background:#f3f3f3}
table.cf-matrix{width:100%}table.cf-matrix td:nth-child(3){min-width:320px}
table.cf-table code{white-space:normal;word-break:break-word}
table.cf-matrix td:first-child code{white-space:nowrap;word-break:normal}
.cf-badge{display:inline-block;padding:1px 6px;border-radius:4px;color:#fff;font-weight:bold}
.cf-passed .cf-badge{background:#2a7d2a}.cf-failed .cf-badge{background:#b22222}
.cf-warned .cf-badge{background:#a35f00}.cf-not_applicable .cf-badge{background:#666}
.cf-not_exercised .cf-badge,.cf-not_selected .cf-badge{background:#5a4a9c}
.cf-incomplete{border-color:#5a4a9c;background:#f1eef9}
.cf-incomplete .cf-verdict__word{color:#5a4a9c}
tr.cf-failed{background:#fdf0f0}tr.cf-warned{background:#fff7e6}
.cf-block{border:1px solid #ddd;border-left:5px solid #b22222;padding:6px 12px;margin:12px 0}
.cf-block.cf-should{border-left-color:#c77c00}
.cf-block pre,.cf-extra pre{background:#f7f7f7;border:1px solid #e2e2e2;padding:6px;
white-space:pre-wrap;word-break:break-all;max-height:480px;overflow:auto;font-size:12px}
.cf-block pre,.cf-extra pre{font-family:"DejaVu Sans Mono","Noto Sans Mono","Cascadia Mono",
"Segoe UI Symbol",monospace}
.cf-eol{color:#999}
.cf-insecure{color:#b22222;font-weight:bold}
.cf-swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
</style>"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _ms(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"


# -- header ----------------------------------------------------------------------------


def summary_prefix(certificate: dict[str, Any]) -> list[str]:
    """The verdict banner, the run's facts and the compliance matrix."""
    return [STYLE, banner(certificate), facts(certificate), matrix(certificate)]


def counts_line(certificate: dict[str, Any]) -> str:
    """The rules of the run by result, in one sentence: failures, warnings, coverage."""
    s = certificate["summary"]
    parts = [
        f"MUST: {_plural(s['must_failed'], 'rule')} failed",
        f"SHOULD: {_plural(s['warned'], 'rule')} with warnings",
    ]
    if s["should_failed"]:
        parts.append(f"{_plural(s['should_failed'], 'SHOULD rule')} failed (--fail-on should)")
    parts.append(f"{s['passed']} of {s['rules']} passed")
    parts += [
        f"{s[key]} {key.replace('_', ' ')}"
        for key in ("not_exercised", "not_selected", "not_applicable")
        if s[key]
    ]
    return " · ".join(parts)


def banner(certificate: dict[str, Any]) -> str:
    """The verdict, the MUST/SHOULD counts and the reasons."""
    verdict = certificate["verdict"]
    css = {"CERTIFIED": "cf-certified", "INCOMPLETE": "cf-incomplete"}.get(
        verdict, "cf-not-certified"
    )
    reasons = "".join(f"<li>{_e(r)}</li>" for r in certificate["reasons"])
    baseline = certificate["baseline"]
    note = ""
    if baseline is not None:
        state = "within the baseline" if baseline["passed"] else "NOT within the baseline"
        lists = "; ".join(
            f"{label} {_e(', '.join(baseline[key]) or 'none')}"
            for label, key in (
                ("known failures", "known_failures"),
                ("new failures", "new_failures"),
                ("stale entries", "stale"),
            )
        )
        note = f"<p>Baseline: {state}; {lists}.</p>"
    return (
        f'<section id="cf-verdict" class="cf-verdict {css}">'
        f'<div class="cf-verdict__word">{_e(verdict)}</div>'
        f"<p>{_e(counts_line(certificate))}</p>"
        f"{f'<ul>{reasons}</ul>' if reasons else ''}{note}</section>"
    )


def facts(certificate: dict[str, Any]) -> str:
    """Suite, target, model, profile, date, duration, options, digest."""
    suite, target, run = certificate["suite"], certificate["target"], certificate["run"]
    tests = run["tests"]
    commit = f" (git {suite['commit'][:12]})" if suite["commit"] else ""
    insecure = (
        '<span class="cf-insecure">OFF (--insecure): the target was not authenticated</span>'
        if target["insecure"]
        else "verified"
    )
    rows = [
        ("Suite", _e(f"{suite['name']} {suite['version']}{commit}")),
        ("Target", f"<code>{_e(target['url'])}</code>"),
        ("Model", _e(target["model"])),
        ("Profile", _e(target["profile"])),
        ("Date (UTC)", _e(run["date"])),
        ("Duration", _e(f"{run['duration_s']:.1f} s")),
        ("Fails on", "SHOULD findings too" if run["fail_on"] == "should" else "MUST findings"),
        ("TLS", insecure),
        ("Tests", _e(", ".join(f"{v} {k}" for k, v in tests.items()))),
        ("Certificate sha256", f"<code>{_e(certificate['digest']['value'])}</code>"),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table id="cf-facts" class="cf-table">{body}</table>'


def matrix(certificate: dict[str, Any]) -> str:
    """Every rule against its result and the tests that exercised it."""
    rows = "".join(_matrix_row(rule) for rule in certificate["rules"])
    return (
        '<section id="cf-matrix"><h2>Compliance matrix</h2>'
        '<table class="cf-table cf-matrix"><thead><tr><th>Rule</th><th>Level</th>'
        "<th>Requirement</th><th>Result</th><th>Judged</th><th>Findings</th><th>Tests</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></section>"
    )


def _matrix_row(result: dict[str, Any]) -> str:
    rule = REGISTRY.get(result["id"])
    sentence = f"<br><small>{_e(rule.source)}: {_e(rule.sentence)}</small>" if rule else ""
    status = result["status"]
    why = f"<br><small>{_e(result['why'])}</small>" if result["why"] else ""
    return (
        f'<tr class="cf-{status}" data-rule="{_e(result["id"])}">'
        f"<td><code>{_e(result['id'])}</code></td><td>{_e(result['level'])}</td>"
        f"<td><b>{_e(result['title'])}</b>{sentence}</td>"
        f'<td class="cf-{status}"><span class="cf-badge">'
        f"{_e(status.replace('_', ' '))}</span>{why}</td><td>{result['judged']}</td>"
        f"<td>{result['counts']['findings']}</td><td>{_tests(result['tests'])}</td></tr>"
    )


def _tests(nodeids: list[str]) -> str:
    items = "".join(f"<li><code>{_e(n)}</code></li>" for n in nodeids)
    if len(nodeids) <= 3:
        return f"<ul>{items}</ul>" if items else DASH
    return f"<details><summary>{len(nodeids)} tests</summary><ul>{items}</ul></details>"


# -- evidence ----------------------------------------------------------------------------


def summary_postfix(certificate: dict[str, Any], gatherer: Gatherer) -> list[str]:
    """Failure evidence, SHOULD warnings, errors, and timing."""
    return [
        evidence_section("cf-failures", "Failures", gatherer, failing=True),
        evidence_section("cf-warnings", "SHOULD warnings", gatherer, failing=False),
        errors_section(certificate),
        timing_section(gatherer),
    ]


def _groups(
    gatherer: Gatherer, failing: bool
) -> Iterator[tuple[TestRecord, int | None, list[dict[str, Any]]]]:
    """Violations grouped by test and exchange, failing ones or warnings."""
    groups: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    tests: dict[str, TestRecord] = {}
    for test, violation in gatherer.findings():
        if gatherer.fails(violation) == failing:
            groups.setdefault((test.nodeid, violation.get("exchange")), []).append(violation)
            tests[test.nodeid] = test
    for (nodeid, exchange), violations in groups.items():
        yield tests[nodeid], exchange, violations


def evidence_section(anchor: str, title: str, gatherer: Gatherer, *, failing: bool) -> str:
    """One block per failing (or warned) exchange, with everything needed to reproduce it."""
    groups = list(_groups(gatherer, failing))
    blocks = [
        evidence_block(test, exchange, violations, failing)
        for test, exchange, violations in groups[:BLOCKS_SHOWN]
    ]
    more = len(groups) - BLOCKS_SHOWN
    tail = f"<p>{more} more not shown (see the results table).</p>" if more > 0 else ""
    body = "".join(blocks) or "<p>None.</p>"
    return f'<section id="{anchor}"><h2>{_e(title)} ({len(groups)})</h2>{body}{tail}</section>'


def evidence_block(
    test: TestRecord, exchange: int | None, violations: list[dict[str, Any]], failing: bool
) -> str:
    """The violations of one exchange, then its request, response, transcript and curl."""
    exchanges = (test.evidence or {}).get("exchanges", [])
    found = exchanges[exchange] if exchange is not None and exchange < len(exchanges) else None
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for violation in violations:
        by_rule.setdefault(violation["rule"], []).append(violation)
    parts = [
        f"<h3>{_e(', '.join(by_rule))}</h3>",
        f"<p>test: <code>{_e(test.nodeid)}</code></p>",
        *(violation_html(group[0]) + _more(group[1:]) for group in by_rule.values()),
    ]
    parts.append(
        exchange_html(found)
        if found
        else "<p>This finding spans several requests of the test (see its row).</p>"
    )
    css = "cf-block" if failing else "cf-block cf-should"
    return f'<article class="{css}">{"".join(parts)}</article>'


def violation_html(violation: dict[str, Any]) -> str:
    """Rule, message, location, expected/received and the offending event."""
    rule = REGISTRY.get(violation["rule"])
    title = f" - {rule.title}" if rule else ""
    rows = [
        ("Message", violation["message"]),
        ("At", violation["location"]),
        ("Event index", violation["event_index"]),
        ("Byte offset", violation["offset"]),
        ("Expected", violation["expected"]),
        ("Received", violation["received"]),
    ]
    table = "".join(
        f"<tr><th>{k}</th><td>{_e(v)}</td></tr>" for k, v in rows if v not in (None, "")
    )
    event = violation["event"] or violation["excerpt"]
    shown = (
        (f"<p>Offending event:</p><pre class='cf-event'>{_marked(event)}</pre>") if event else ""
    )
    return (
        f'<div class="cf-violation" data-rule="{_e(violation["rule"])}">'
        f"<h4>[{_e(violation['level'])}] {_e(violation['rule'])}{_e(title)}</h4>"
        f'<table class="cf-table">{table}</table>{shown}</div>'
    )


def _more(violations: list[dict[str, Any]]) -> str:
    """The further violations of a rule in one exchange, one line each."""
    if not violations:
        return ""
    rows = "".join(
        f"<tr><td>{_e(v['location'])}</td><td>{_e(v['message'])}</td></tr>" for v in violations
    )
    return (
        f"<details><summary>{_plural(len(violations), 'more violation')} of this rule"
        f'</summary><table class="cf-table">{rows}</table></details>'
    )


def _marked(text: str) -> str:
    """Escaped text with CR/LF made visible and their marks dimmed."""
    shown = _e(visible_line_endings(text))
    return shown.replace("␍", '<span class="cf-eol">␍</span>').replace(
        "␊", '<span class="cf-eol">␊</span>'
    )


def exchange_html(exchange: dict[str, Any]) -> str:
    """Request body, status and headers, the transcript with line endings shown, curl."""
    head = "\n".join(
        [
            f"HTTP {exchange['status'] or '(none)'} {exchange['reason']}".rstrip(),
            *(f"{k}: {v}" for k, v in exchange["response_headers"]),
        ]
    )
    cut = (
        f" (the first 64 KiB of {exchange['body_bytes']:,} bytes)"
        if exchange["transcript_truncated"]
        else f" ({exchange['body_bytes']:,} bytes)"
    )
    return (
        f"<h4>Request</h4><pre>{_e(exchange['method'])} {_e(exchange['url'])}\n\n"
        f"{_e(exchange['request_body'])}</pre>"
        f"<h4>Response status and headers</h4><pre>{_e(head)}</pre>"
        f"<h4>Raw transcript{_e(cut)}, line endings shown as ␍ ␊</h4>"
        f"<pre class='cf-transcript'>{_marked(exchange['transcript'])}</pre>"
        f"<h4>Reproduce with</h4><pre class='cf-curl'>{_e(exchange['curl'])}</pre>"
    )


def errors_section(certificate: dict[str, Any]) -> str:
    """Tests that ended without a verdict (an unreachable target, a crashed test)."""
    errors = certificate["errors"]
    if not errors:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(e['test'])}</code></td><td>{_e(e['kind'])}</td>"
        f"<td>{_e(e['message'])}</td></tr>"
        for e in errors
    )
    return (
        '<section id="cf-errors"><h2>Errors (no verdict)</h2><table class="cf-table">'
        f"<tr><th>Test</th><th>Kind</th><th>Message</th></tr>{rows}</table></section>"
    )


# -- timing ------------------------------------------------------------------------------


def streams(gatherer: Gatherer) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(test, exchange number, exchange) for every streamed response recorded."""
    for test in gatherer.tests.values():
        for number, exchange in enumerate((test.evidence or {}).get("exchanges", []), 1):
            if exchange["stream"]:
                yield test.nodeid, number, exchange


def timing_section(gatherer: Gatherer) -> str:
    """Per stream: TTFB, first content, gaps (p50/p95/max), events/s; and the chart."""
    rows = list(streams(gatherer))[:TIMING_ROWS]
    charted = [(n, e) for n in rows if (e := n[2]["timing"]["arrivals_ms"])][:CHART_STREAMS]
    chart = arrival_chart([Series(f"{t} #{k}", arrivals) for (t, k, _), arrivals in charted])
    swatches = {(t, k): color(i) for i, ((t, k, _), _) in enumerate(charted)}
    body = "".join(_timing_row(t, k, e, swatches.get((t, k))) for t, k, e in rows)
    return (
        '<section id="cf-timing"><h2>Timing per stream (milliseconds)</h2>'
        '<table class="cf-table cf-timing"><tr><th>Test</th><th>#</th><th>Status</th>'
        "<th>First byte</th><th>First content</th><th>Gap p50</th><th>Gap p95</th>"
        "<th>Gap max</th><th>Events</th><th>Events/s</th><th>Total</th></tr>"
        f"{body}</table><h3>Event arrival times</h3>{chart}</section>"
    )


def _timing_row(test: str, number: int, exchange: dict[str, Any], swatch: str | None) -> str:
    t = exchange["timing"]
    mark = f'<span class="cf-swatch" style="background:{swatch}"></span>' if swatch else ""
    cells: Iterable[str] = (
        _e(exchange["status"]),
        _ms(t["ttfb_ms"]),
        _ms(t["first_content_ms"]),
        _ms(t["gap_p50_ms"]),
        _ms(t["gap_p95_ms"]),
        _ms(t["gap_max_ms"]),
        str(t["events"]),
        DASH if t["events_per_s"] is None else f"{t['events_per_s']:.0f}",
        _ms(t["total_ms"]),
    )
    return (
        f"<tr><td>{mark}<code>{_e(test)}</code></td><td>{number}</td>"
        + "".join(f"<td>{c}</td>" for c in cells)
        + "</tr>"
    )


# -- one test's row ----------------------------------------------------------------------


def row_extra(evidence: dict[str, Any], failing: Iterable[bool]) -> str:
    """A test's evidence for its row of the results table."""
    flags = list(failing)
    rules = ", ".join(sorted(evidence["judged"])) or "none"
    parts = [f"<p><b>Rules applied:</b> {_e(rules)}</p>"]
    for violation, fails in zip(evidence["findings"], flags, strict=True):
        word = "failed" if fails else "warning"
        parts.append(
            f"<p>{word}: <code>{_e(violation['rule'])}</code> at "
            f"{_e(violation['location'])}: {_e(violation['message'])}</p>"
        )
    for number, exchange in enumerate(evidence["exchanges"], 1):
        t = exchange["timing"]
        parts.append(
            f"<details><summary>request {number}: HTTP {_e(exchange['status'])}, "
            f"{exchange['events']} events, first byte {_ms(t['ttfb_ms'])} ms"
            f"</summary>{exchange_html(exchange)}</details>"
        )
    return f'<div class="cf-extra">{"".join(parts)}</div>'
