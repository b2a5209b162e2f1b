"""The HTML report: one self-contained page, designed for the person who must fix the server.

Verdict first (with the rules that failed, one line each, and the coverage counts), then the
rules (failed and warned first, with a filter), then one section per failed or warned rule
(its first finding in full, the others grouped by message and collapsed), the tests that
ended without a verdict, timing, and the environment last. ASCII only in what the page adds
(line endings shown as `\\r` `\\n`), so no font lacks a glyph; no network, one small script.
"""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from conformance._report._collect import (
    FAILED,
    STATUSES,
    WARNED,
    Gatherer,
    TestRecord,
    short_id,
)
from conformance._report._svg import timing_chart
from conformance._report._timing import percentile
from conformance.rules import REGISTRY

MORE_SHOWN = 12
"""Groups of "more like this" listed under a rule before the rest are counted."""
TESTS_SHOWN = 6
"""Test names listed in one group before the rest are counted."""
CHART_STREAMS = 200

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ud800-\udfff]")
"""Control characters (C0 but tab and line breaks, C1), the BOM, and lone surrogates: what a
target may send and no page shows raw."""

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:#1b1b1b;background:#ffffff;margin:0 auto;max-width:1280px;padding:12px 24px}
h1{font-size:22px;margin:8px 0}h2{font-size:19px;margin:22px 0 8px;border-bottom:1px solid #cccccc}
h3{font-size:16px;margin:14px 0 6px}a{color:#0b4fb3}code,pre{font-family:"DejaVu Sans Mono",
"Noto Sans Mono",Menlo,Consolas,monospace;font-size:13px}
.verdict{border:3px solid;border-radius:6px;padding:8px 16px}
.verdict .word{font-size:26px;font-weight:700;letter-spacing:1px}
.v-certified{border-color:#1e6b1e;background:#eef7ee}.v-certified .word{color:#1e6b1e}
.v-not-certified{border-color:#a01010;background:#fcefef}.v-not-certified .word{color:#a01010}
.v-incomplete{border-color:#4b3b8f;background:#f1eef9}.v-incomplete .word{color:#4b3b8f}
.verdict ul{margin:4px 0;padding-left:20px}
table{border-collapse:collapse;font-size:14px}th,td{border:1px solid #c8c8c8;padding:2px 6px;
text-align:left;vertical-align:top}th{background:#efefef}.rules{font-size:13px}
.rules td{padding:1px 6px;line-height:1.3}
.rules{width:100%}.rules td{white-space:nowrap}.rules td.t{white-space:normal;width:100%}
.badge{display:inline-block;padding:0 6px;border-radius:4px;color:#ffffff;font-weight:700;
font-size:13px}.s-passed{background:#1e6b1e}.s-failed{background:#a01010}
.s-warned{background:#8a4b00}.s-not_exercised,.s-not_selected{background:#4b3b8f}
.s-not_applicable{background:#555555}
tr.r-failed{background:#fcefef}tr.r-warned{background:#fff6e6}
.finding{border:1px solid #cccccc;border-left:6px solid #a01010;padding:4px 14px;margin:10px 0}
.finding.should{border-left-color:#8a4b00}
.facts th{width:130px}pre{background:#f5f5f5;border:1px solid #dddddd;padding:6px;margin:4px 0;
white-space:pre-wrap;word-break:break-all;max-height:320px;overflow:auto}
.eol{color:#6b6b6b}.dim{color:#555555}details>summary{cursor:pointer;color:#0b4fb3}
.filter{margin:4px 0 6px;padding:3px 6px;font-size:14px;width:320px}
"""

FILTER = (
    "<script>document.getElementById('rule-filter').addEventListener('input',function(e)"
    "{var q=e.target.value.toLowerCase();document.querySelectorAll('#rules tbody tr')"
    ".forEach(function(r){r.hidden=q&&r.textContent.toLowerCase().indexOf(q)<0;});});"
    "</script>"
)


def _e(value: object) -> str:
    """Escaped text with control characters shown visibly (`\\x00`), never raw."""
    text = "" if value is None else str(value)
    return escape(_CONTROL.sub(_escaped, text))


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _anchor(rule_id: str) -> str:
    return "rule-" + rule_id.replace(".", "-")


# -- the page ---------------------------------------------------------------------------


def page(certificate: dict[str, Any], gatherer: Gatherer, title: str) -> str:
    """The whole self-contained report."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f'<h1 id="title">{_e(title)}</h1>{body(certificate, gatherer)}{FILTER}</body></html>'
    )


def body(certificate: dict[str, Any], gatherer: Gatherer) -> str:
    """The report's sections (also what a pytest-html page gets above its results table)."""
    return "".join(
        [
            verdict(certificate),
            rules_table(certificate),
            rule_sections(certificate, gatherer),
            clients(certificate),
            errors(certificate),
            timing(gatherer),
            environment(certificate),
            sentences(certificate),
        ]
    )


# -- verdict ----------------------------------------------------------------------------


def counts_line(certificate: dict[str, Any]) -> str:
    """The rules of the run by result, in one line: failures, warnings, coverage."""
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
    return " - ".join(parts)


def verdict(certificate: dict[str, Any]) -> str:
    """The banner: verdict, counts, the failed and warned rules (linked), the reasons."""
    word = certificate["verdict"]
    css = {"CERTIFIED": "v-certified", "INCOMPLETE": "v-incomplete"}.get(word, "v-not-certified")
    listed = [r for r in certificate["rules"] if r["status"] in (FAILED, WARNED)]
    items = "".join(
        f'<li><a href="#{_anchor(r["id"])}"><code>{_e(r["id"])}</code></a> '
        f"({_e(r['level'])}, {_e(r['status'])}): {_e(r['title'])} - "
        f"{_plural(r['counts']['findings'], 'finding')}</li>"
        for r in listed
    )
    reasons = "".join(
        f"<li>{_e(reason)}</li>"
        for reason in certificate["reasons"]
        if not reason.split(":")[0].endswith(("failed", "failed (--fail-on should)"))
    )
    return (
        f'<section id="verdict" class="verdict {css}"><div class="word">{_e(word)}</div>'
        f"<div>{_e(counts_line(certificate))}</div>"
        f"{f'<ul>{items}</ul>' if items else ''}{f'<ul>{reasons}</ul>' if reasons else ''}"
        f"{_baseline(certificate)}<div class=dim>Target <code>{_e(certificate['target']['url'])}"
        f"</code>, model <code>{_e(certificate['target']['model'])}</code>, profile "
        f"{_e(certificate['target']['profile'])}, {_e(certificate['run']['date'])}; "
        f'<a href="#environment">details</a></div></section>'
    )


def _baseline(certificate: dict[str, Any]) -> str:
    baseline = certificate["baseline"]
    if baseline is None:
        return ""
    state = "within the baseline" if baseline["passed"] else "NOT within the baseline"
    lists = "; ".join(
        f"{label}: {_e(', '.join(baseline[key]) or 'none')}"
        for label, key in (
            ("known failures", "known_failures"),
            ("new failures", "new_failures"),
            ("stale entries", "stale"),
        )
    )
    return f"<div>Baseline: {state} ({lists}).</div>"


# -- rules table --------------------------------------------------------------------------


def rules_table(certificate: dict[str, Any]) -> str:
    """Every rule against its result; failed and warned first, then what judged nothing."""
    order = {status: n for n, status in enumerate(STATUSES)}
    ranked = sorted(certificate["rules"], key=lambda r: (order[r["status"]], r["level"] != "MUST"))
    rows = "".join(_rule_row(r) for r in ranked)
    return (
        '<section id="rules"><h2>Rules</h2><input id="rule-filter" class="filter" '
        'placeholder="filter rules (id, result, words)" aria-label="filter rules">'
        "<table class=rules><thead><tr><th>rule</th><th>level</th><th>result</th>"
        "<th>judged</th><th>findings</th><th>requirement</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _rule_row(result: dict[str, Any]) -> str:
    status, rule_id = result["status"], result["id"]
    target = _anchor(rule_id) if status in (FAILED, WARNED) else f"sentence-{_anchor(rule_id)}"
    why = f' <span class="dim">({_e(result["why"])})</span>' if result["why"] else ""
    return (
        f'<tr class="r-{status}" data-rule="{_e(rule_id)}"><td><a href="#{target}">'
        f"<code>{_e(rule_id)}</code></a></td><td>{_e(result['level'])}</td>"
        f'<td><span class="badge s-{status}">{_e(status.replace("_", " "))}</span></td>'
        f"<td>{result['judged']}</td><td>{result['counts']['findings']}</td>"
        f'<td class="t">{_e(result["title"])}{why}</td></tr>'
    )


# -- one section per failed or warned rule -------------------------------------------------


def rule_sections(certificate: dict[str, Any], gatherer: Gatherer) -> str:
    """For each failed or warned rule: the first finding in full, the rest grouped."""
    tallies = gatherer.tallies()
    listed = [r for r in certificate["rules"] if r["status"] in (FAILED, WARNED)]
    if not listed:
        return ""
    parts = []
    for result in listed:
        findings = sorted(tallies[result["id"]].findings, key=lambda p: p[0].nodeid)
        parts.append(_rule_section(result, findings))
    return '<section id="findings"><h2>Findings</h2>' + "".join(parts) + "</section>"


def _rule_section(result: dict[str, Any], findings: list[tuple[TestRecord, dict[str, Any]]]) -> str:
    rule = REGISTRY.get(result["id"])
    source = (
        f'<div class=dim>{_e(rule.source)}: <a href="#sentence-{_anchor(rule.id)}">'
        f"{_e(rule.sentence)}</a></div>"
        if rule
        else ""
    )
    css = "finding" if result["status"] == FAILED else "finding should"
    test, first = findings[0]
    return (
        f'<article id="{_anchor(result["id"])}" class="{css}">'
        f"<h3>[{_e(result['level'])}] <code>{_e(result['id'])}</code> - {_e(result['title'])}</h3>"
        f"{source}{_finding(test, first)}{_more(findings[1:], test, first)}</article>"
    )


def _finding(test: TestRecord, finding: dict[str, Any]) -> str:
    rows = [
        ("message", finding["message"]),
        ("test", short_id(test.nodeid) + _request_of(test, finding)),
        ("at", finding["location"]),
        ("expected", finding["expected"]),
        ("received", finding["received"]),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{_e(v)}</td></tr>" for k, v in rows if v)
    parts = [f"<table class=facts>{table}</table>"]
    if finding.get("event"):
        parts.append(
            "<div>the event, line endings shown as <code>\\r</code> <code>\\n</code>:</div>"
            f'<pre class="event">{visible(finding["event"])}</pre>'
        )
    exchange = test.exchange(finding)
    if exchange is not None:
        parts.append(_exchange(exchange))
    return "".join(parts)


def _request_of(test: TestRecord, finding: dict[str, Any]) -> str:
    number = finding.get("exchange")
    total = (test.evidence or {}).get("exchanges_total", 0)
    return f", request {number + 1} of {total}" if number is not None and total > 1 else ""


def _exchange(exchange: dict[str, Any]) -> str:
    head = "\n".join(
        [
            f"HTTP {exchange['status'] or '(no answer)'} {exchange['reason']}".rstrip(),
            *(f"{k}: {v}" for k, v in exchange["response_headers"]),
        ]
    )
    end = exchange.get("body", "")
    what = "the end of the stream" if exchange["stream"] else "the body"
    return (
        f"<details><summary>request, response head and {what}</summary>"
        f"<pre>{_e(exchange['method'])} {_e(exchange['url'])}\n\n"
        f"{_e(exchange['request_body'])}</pre><pre>{_e(head)}</pre>"
        f"<pre>{visible(end)}</pre></details>"
        f'<div>reproduce with:</div><pre class="curl">{_e(exchange["curl"])}</pre>'
    )


def _more(
    rest: list[tuple[TestRecord, dict[str, Any]]], test: TestRecord, first: dict[str, Any]
) -> str:
    """The other findings of a rule, one line per message, with where they were found."""
    if not rest:
        return ""
    groups: dict[str, list[tuple[TestRecord, dict[str, Any]]]] = {}
    for pair in rest:
        groups.setdefault(pair[1]["message"], []).append(pair)
    lines = [
        f"<li>{_where(pairs)}{'' if message == first['message'] else f': {_e(message)}'}</li>"
        for message, pairs in list(groups.items())[:MORE_SHOWN]
    ]
    hidden = len(groups) - MORE_SHOWN
    if hidden > 0:
        lines.append(f"<li>and {_plural(hidden, 'other message')}</li>")
    return (
        f"<details><summary>{len(rest)} more like this</summary><ul>{''.join(lines)}</ul></details>"
    )


def _where(pairs: list[tuple[TestRecord, dict[str, Any]]]) -> str:
    """`in 8 of 8 requests of test_concurrency.py::..., 1 of 1 of streaming.yaml::...`."""
    by_test: dict[str, tuple[TestRecord, set[int]]] = {}
    for test, finding in pairs:
        record = by_test.setdefault(test.nodeid, (test, set()))
        record[1].add(finding.get("exchange") or 0)
    parts = []
    for test, exchanges in list(by_test.values())[:TESTS_SHOWN]:
        total = (test.evidence or {}).get("exchanges_total", 0) or 1
        parts.append(f"{len(exchanges)} of {_plural(total, 'request')} of {short_id(test.nodeid)}")
    more = len(by_test) - TESTS_SHOWN
    return _e("in " + ", ".join(parts) + (f" and {more} more tests" if more > 0 else ""))


def visible(text: str) -> str:
    """Escaped text with CR and LF shown as `\\r` and `\\n` (dimmed, each line break kept
    after its marks) and other control characters as `\\xNN`."""
    out = []
    for line in re.split(r"(\r\n|\r|\n)", text):
        if line in ("\r\n", "\r", "\n"):
            marks = line.replace("\r", "\\r").replace("\n", "\\n")
            out.append(f'<span class="eol">{marks}</span>\n')
        else:
            out.append(_e(line))
    return "".join(out)


# -- errors, timing, environment -----------------------------------------------------------


def clients(certificate: dict[str, Any]) -> str:
    """With --clients: how each client library read the run's streams, a row per library
    and entry point, linked to its rule's findings."""
    member = certificate.get("clients")
    if not member:
        return ""
    rows = "".join(_client_row(row) for row in member["matrix"])
    return (
        f'<section id="clients"><h2>Client libraries ({member["streams"]} streams replayed)'
        "</h2><table><tr><th>library</th><th>version</th><th>runtime</th><th>read exactly</th>"
        "<th>all content</th><th>tool calls intact</th><th>finish reason seen</th>"
        f"<th>raised</th><th>mis-read, caused by</th></tr>{rows}</table></section>"
    )


def _client_row(row: dict[str, Any]) -> str:
    name = f"{row['library']} ({row['entry']})" if row["entry"] else row["library"]
    if row["rule"] and row["mismatches"]:
        name = f'<a href="#{_anchor(row["rule"])}">{_e(name)}</a>'
    else:
        name = _e(name)
    if not row["available"]:
        return (
            f"<tr><td>{name}</td><td>-</td><td>{_e(row['runtime'])}</td>"
            f'<td colspan="6">{_e(row["unavailable"])}</td></tr>'
        )
    streams = row["streams"]
    counts = "".join(
        f"<td>{row[key]} of {streams}</td>"
        for key in ("exact", "content_read", "tool_calls_intact", "finish_reason_seen")
    )
    causes: dict[str, int] = {}
    for mismatch in row["mismatches"]:
        cause = mismatch["cause"] or "not diagnosed"
        causes[cause] = causes.get(cause, 0) + 1
    caused = "; ".join(f"{n} {cause}" for cause, n in causes.items()) or "-"
    return (
        f"<tr><td>{name}</td><td>{_e(row['version'] or '-')}</td><td>{_e(row['runtime'])}</td>"
        f"{counts}<td>{row['raised']}</td><td>{_e(caused)}</td></tr>"
    )


def errors(certificate: dict[str, Any]) -> str:
    """Tests that ended without a verdict (an unreachable target, an internal error)."""
    rows = "".join(
        f"<tr><td><code>{_e(e['test'])}</code></td><td>{_e(e['kind'])}</td>"
        f"<td>{_e(e['message'])}</td></tr>"
        for e in certificate["errors"]
    )
    if not rows:
        return ""
    return (
        '<section id="errors"><h2>Tests without a verdict</h2><table>'
        f"<tr><th>test</th><th>kind</th><th>message</th></tr>{rows}</table></section>"
    )


def _streams(gatherer: Gatherer) -> list[tuple[str, dict[str, Any]]]:
    return [
        (short_id(test.nodeid), exchange)
        for test in gatherer.tests.values()
        for exchange in (test.evidence or {}).get("exchanges", [])
        if exchange["stream"] and exchange["timing"]["events"]
    ]


def timing(gatherer: Gatherer) -> str:
    """Time to first byte and to first content, gaps between events and rate, over every
    stream of the run, with a chart of the first two per stream."""
    streams = _streams(gatherer)
    if not streams:
        return ""
    measures = [
        ("time to first byte (ms)", [s[1]["timing"]["ttfb_ms"] for s in streams]),
        ("time to first content (ms)", [s[1]["timing"]["first_content_ms"] for s in streams]),
        ("median gap between events (ms)", [s[1]["timing"]["gap_p50_ms"] for s in streams]),
        ("95th percentile gap (ms)", [s[1]["timing"]["gap_p95_ms"] for s in streams]),
        ("events per second", [s[1]["timing"]["events_per_s"] for s in streams]),
    ]
    rows = "".join(f"<tr><th>{name}</th>{_spread(values)}</tr>" for name, values in measures)
    charted = streams[:CHART_STREAMS]
    note = f" (the first {len(charted)} of {len(streams)})" if len(streams) > len(charted) else ""
    chart = timing_chart(
        [(s[1]["timing"]["ttfb_ms"], s[1]["timing"]["first_content_ms"]) for s in charted]
    )
    return (
        f'<section id="timing"><h2>Timing over {_plural(len(streams), "stream")}</h2>'
        "<table><tr><th></th><th>median</th><th>95th percentile</th><th>max</th></tr>"
        f"{rows}</table><h3>First byte and first content, per stream{note}</h3>{chart}"
        "</section>"
    )


def _spread(values: Sequence[float | None]) -> str:
    known = [v for v in values if v is not None]
    cells = [percentile(known, 0.5), percentile(known, 0.95), max(known) if known else None]
    return "".join(f"<td>{'-' if v is None else f'{v:.1f}'}</td>" for v in cells)


def environment(certificate: dict[str, Any]) -> str:
    """Suite, target, run options, Python and platform: what reproducing the run needs."""
    suite, target, run = certificate["suite"], certificate["target"], certificate["run"]
    commit = f" (git {suite['commit'][:12]})" if suite["commit"] else ""
    tls = "OFF (--insecure): not authenticated" if target["insecure"] else "verified"
    selection = run["selection"]
    chosen = ", ".join(
        f"{flag} {selection[key]}"
        for key, flag in (("keyword", "-k"), ("markexpr", "-m"))
        if selection[key]
    )
    rows: Iterable[tuple[str, str]] = [
        ("suite", f"{suite['name']} {suite['version']}{commit}"),
        ("target", target["url"]),
        ("model", target["model"]),
        ("profile", target["profile"]),
        ("TLS", tls),
        ("date (UTC)", run["date"]),
        ("duration", f"{run['duration_s']:.1f} s"),
        ("fails on", run["fail_on"]),
        ("tests", ", ".join(f"{v} {k}" for k, v in run["tests"].items())),
        ("selection", chosen or "the whole suite"),
        ("python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("platform", platform.platform()),
        ("certificate sha256", certificate["digest"]["value"]),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return (
        f'<section id="environment"><h2>Environment</h2><table class=facts>{body}</table></section>'
    )


def sentences(certificate: dict[str, Any]) -> str:
    """Each rule's source and sentence, where the rule ids link to (collapsed)."""
    items = []
    for result in certificate["rules"]:
        rule = REGISTRY.get(result["id"])
        if rule is None:
            continue
        items.append(
            f'<dt id="sentence-{_anchor(rule.id)}"><code>{_e(rule.id)}</code> '
            f"({_e(rule.level)})</dt><dd>{_e(rule.source)}: {_e(rule.sentence)}</dd>"
        )
    return (
        '<details id="sentences"><summary>The sentence each rule enforces</summary>'
        f"<dl>{''.join(items)}</dl></details>"
    )
