"""Results of the real-server certifications: collect, tabulate, compare.

    python peers/table.py collect NAME REPORT_DIR OUT_DIR --server S --version V --model M --url U
    python peers/table.py upstream RESULTS_FILE ENGINE
    python peers/table.py table [--dir peers/certificates] [--out peers/COMPATIBILITY.md]
    python peers/table.py check ACTUAL_DIR [--expected peers/certificates]

`collect` turns one `conformance run --out REPORT_DIR` into OUT_DIR/NAME.results.json
(verdict, MUST failures with their evidence, SHOULD warnings) and copies the run's JSON
certificate, when `conformance run` wrote one, to OUT_DIR/NAME.json. The verdict and the
rule ids come from the certificate when there is one, else from the run's JUnit XML; the
evidence (what was received, the request body) always comes from the JUnit failure text.
`upstream` marks a gateway's results file with the name of the engine row it fronts; `table`
renders COMPATIBILITY.md from the results files (and, for each gateway, the findings it adds
or removes compared with that engine alone); `check` exits 1 when a verdict or
a set of failing MUST rule ids differs from the committed results (SHOULD differences are
printed, not failed: the property tests draw their requests at random).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ORDER = ("vllm", "litellm", "transformers", "llamacpp", "litellm-vllm", "vllm-router",
         "lm-proxy", "portkey", "litellm-llamacpp")
BLOCK = re.compile(r"^(?:E\s+)?\[(MUST|SHOULD)\] (\S+) - ", re.M)
BODY = re.compile(r"--data-binary '(.*)'\s*$", re.M)
EXCERPT = 160


# -- collect ------------------------------------------------------------------------------

def _blocks(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """(level, rule id, {message, at, expected, received}) for each violation in `text`."""
    found = []
    starts = list(BLOCK.finditer(text))
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        # pytest prefixes the lines of an assertion it prints (property tests) with "E".
        lines = [re.sub(r"^E\s+", "", line.strip())
                 for line in text[match.end():end].splitlines()[1:]]
        fields = {"message": lines[0] if lines else ""}
        for line in lines[1:]:
            key, sep, value = line.partition(": ")
            if sep and key in ("at", "expected", "received"):
                fields[key] = value
        found.append((match.group(1), match.group(2), fields))
    return found


def _short(text: str, limit: int = EXCERPT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def from_junit(path: Path) -> dict[str, Any]:
    """Verdict, MUST failures (with evidence) and SHOULD warnings from a JUnit XML file."""
    root = ET.parse(path).getroot()
    must: dict[str, list[dict[str, str]]] = {}
    should: set[str] = set()
    errors = 0
    for case in root.iter("testcase"):
        test = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
        for prop in case.iter("property"):
            if prop.get("name") == "should_warnings":
                should.update(re.findall(r"'([^']+)'", prop.get("value", "")))
        for node in [*case.findall("failure"), *case.findall("error")]:
            text = node.text or node.get("message") or ""
            blocks = _blocks(text)
            errors += node.tag == "error" or not blocks
            body = BODY.search(text)
            for level, rule_id, fields in blocks:
                evidence = {"test": test, **{k: _short(v) for k, v in fields.items()}}
                if body:
                    evidence["request"] = body.group(1)
                if level == "MUST":
                    must.setdefault(rule_id, []).append(evidence)
                else:
                    should.add(rule_id)
    verdict = "ERROR" if errors and not must else ("NOT CERTIFIED" if must else "CERTIFIED")
    return {"verdict": verdict, "must": must, "should": sorted(should)}


def _certificate(report_dir: Path) -> Path | None:
    """The newest JSON certificate (an object with a verdict and rules) in `report_dir`."""
    found = []
    for path in report_dir.glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(data, dict) and "verdict" in data and "rules" in data:
            found.append(path)
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _from_certificate(data: dict[str, Any]) -> tuple[str | None, set[str], set[str]]:
    """(verdict, MUST failing ids, SHOULD warning ids) read from a certificate, best effort."""
    verdict = data.get("verdict")
    rules = data.get("rules") or data.get("results") or []
    if isinstance(rules, dict):
        rules = [{"id": k, **v} if isinstance(v, dict) else {"id": k, "result": v}
                 for k, v in rules.items()]
    must: set[str] = set()
    should: set[str] = set()
    for rule in rules:
        rule_id = str(rule.get("id") or rule.get("rule_id") or rule.get("rule"))
        result = str(rule.get("result") or rule.get("status") or rule.get("outcome")).lower()
        if result in ("failed", "fail", "failure"):
            (must if str(rule.get("level", "MUST")).upper() == "MUST" else should).add(rule_id)
        elif result in ("warning", "warn", "warned"):
            should.add(rule_id)
    return (str(verdict) if verdict is not None else None), must, should


def replay(url: str, body: str, limit: int = 4096) -> str:
    """Send `body` again and return the answer's first bytes: status line, content-type, body."""
    # A server that needs headers of its client (peers/certify.sh: RUN/headers) gets them.
    extra = os.environ.get("PEERS_REPLAY_HEADERS", "").splitlines()
    headers = dict(line.split(": ", 1) for line in extra if ": " in line)
    request = urllib.request.Request(
        url.rstrip("/") + "/chat/completions", data=body.encode(), method="POST",
        headers={"Content-Type": "application/json", "Accept": "text/event-stream", **headers})
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        response = error
    except OSError as error:
        return f"(replay failed: {error})"
    with response:
        status = f"HTTP/1.1 {response.status} {response.reason}"
        content_type = response.headers.get("content-type", "(none)")
        stream = "event-stream" in content_type
        data = response.read(1 << 20 if stream else limit).decode("utf-8", "replace")
    if stream:  # the end of a stream is what proves a framing failure
        data = ("…" + data[-200:]) if len(data) > 200 else data
    return _short(f"{status} | content-type: {content_type} | {data}", 280)


def _unquote(shell: str) -> str:
    """A curl line's single-quoted body back to the bytes sent."""
    return shell.replace("'\"'\"'", "'").replace("'\\''", "'")


def _add_replays(result: dict[str, Any], url: str) -> None:
    """The raw answer to each failing request that was judged as a whole response."""
    for items in result["must"].values():
        for evidence in items:
            if evidence.get("request") and evidence.get("at") == "whole response":
                evidence["request"] = _unquote(evidence["request"])
                evidence["raw"] = replay(url, evidence["request"])


def collect(args: argparse.Namespace) -> int:
    report_dir, out = Path(args.report_dir), Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    junit = report_dir / "junit.xml"
    if not junit.exists():
        xmls = sorted(report_dir.glob("*.xml"), key=lambda p: p.stat().st_mtime)
        junit = xmls[-1] if xmls else junit
    result: dict[str, Any] = (from_junit(junit) if junit.exists()
                              else {"verdict": "ERROR", "must": {}, "should": []})
    result["source"] = "junit"
    certificate = _certificate(report_dir)
    if certificate is not None and args.exit_code in (0, 1):
        data = json.loads(certificate.read_text())
        (out / f"{args.name}.json").write_text(certificate.read_text())
        verdict, must, should = _from_certificate(data)
        if verdict:
            result["verdict"] = verdict.upper().replace("_", " ")
        if verdict:  # the certificate is authoritative; the JUnit text adds the evidence
            result["must"] = {r: result["must"].get(r, []) for r in sorted(must)}
            result["should"] = sorted(should)
        result["source"] = "certificate"
    if args.exit_code not in (0, 1):
        result["verdict"] = "ERROR"
    if args.replay:
        _add_replays(result, args.url)
    result = {"name": args.name, "server": args.server, "version": args.version,
              "model": args.model, "url": args.url, **result}
    path = out / f"{args.name}.results.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"{args.name}: {result['verdict']}; MUST {sorted(result['must']) or '-'}; "
          f"SHOULD {result['should'] or '-'} -> {path}")
    return 0


def upstream(args: argparse.Namespace) -> int:
    """Name, in a gateway's results file, the engine row (another results file) it fronts."""
    path = Path(args.results)
    result = json.loads(path.read_text())
    result.pop("upstream", None)
    items = list(result.items())
    at = next((i + 1 for i, (key, _) in enumerate(items) if key == "url"), len(items))
    items.insert(at, ("upstream", args.engine))
    path.write_text(json.dumps(dict(items), indent=2, ensure_ascii=False) + "\n")
    return 0


# -- table --------------------------------------------------------------------------------

def load_all(directory: Path) -> list[dict[str, Any]]:
    results = [json.loads(p.read_text()) for p in directory.glob("*.results.json")]
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(results, key=lambda r: (rank.get(r["name"], len(ORDER)), r["name"]))


def _code(text: str) -> str:
    """`text` as inline code, its line endings made visible."""
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("`", "'")
    return "`" + text.replace("|", "\\|") + "`"


def _evidence(rule_id: str, items: list[dict[str, str]]) -> str:
    if not items:
        return f"`{rule_id}`"
    # A YAML case's request (fixed, readable) rather than a property test's random one.
    first = min(items, key=lambda e: ("test_properties" in e.get("test", ""),
                                      len(e.get("request", ""))))
    parts = [f"`{rule_id}` ({first.get('test', '')})"]
    if first.get("request"):
        parts.append(f"request {_code(_short(first['request']))}")
    if first.get("raw"):
        parts.append(f"answered {_code(first['raw'])}")
    else:
        parts.append(f"received {_code(first.get('received', first.get('message', '')))}")
    return " ".join(parts)


def render(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Compatibility of real servers",
        "",
        "Generated by `python peers/table.py table` from `peers/certificates/*.results.json`",
        "(written by `peers/certify.sh`); do not edit by hand. Profile `alphaedge`, default",
        "(non-strict) policy: CERTIFIED means no MUST failure.",
        "",
        "| server | version | model | verdict | MUST failures | SHOULD warnings |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        must = ", ".join(f"`{k}`" for k in sorted(r["must"])) or "none"
        should = ", ".join(f"`{k}`" for k in r["should"]) or "none"
        lines.append(f"| {r['server']} | {r['version']} | `{r['model']}` | **{r['verdict']}** "
                     f"| {must} | {should} |")
    lines += ["", "## Evidence of each MUST failure", ""]
    for r in results:
        for rule_id in sorted(r["must"]):
            lines.append(f"- **{r['server']}**: {_evidence(rule_id, r['must'][rule_id])}")
    if not any(r["must"] for r in results):
        lines.append("No MUST failure.")
    lines += _differences(results)
    return "\n".join(lines) + "\n"


def _ids(ids: set[str]) -> str:
    return ", ".join(f"`{i}`" for i in sorted(ids)) or "none"


def difference(gateway: dict[str, Any], engine: dict[str, Any]) -> dict[str, set[str]]:
    """Rule ids the gateway adds to (present only behind it) or removes from the engine's."""
    found = {}
    for level in ("must", "should"):
        behind, alone = set(gateway[level]), set(engine[level])
        found[f"{level}_added"], found[f"{level}_removed"] = behind - alone, alone - behind
    return found


def _differences(results: list[dict[str, Any]]) -> list[str]:
    """The section comparing each gateway row with its upstream engine's row."""
    gateways = [r for r in results if r.get("upstream")]
    if not gateways:
        return []
    by_name = {r["name"]: r for r in results}
    lines = [
        "", "## Gateways compared with their engine alone", "",
        "Rule ids failing (MUST) or warned (SHOULD) behind the gateway but not on the engine",
        "alone are the gateway's (added); those on the engine alone but not behind the gateway",
        "are hidden or repaired by it (removed). Evidence of each MUST failure is above. Some",
        "SHOULD warnings come only from the property tests' randomly drawn requests, so a",
        "SHOULD difference may also be chance (`python peers/table.py check` does not fail",
        "on one).", "",
        "| gateway | engine alone | verdict (engine → gateway) | MUST added | MUST removed "
        "| SHOULD added | SHOULD removed |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for g in gateways:
        engine = by_name.get(g["upstream"])
        if engine is None:
            lines.append(f"| {g['server']} | no results for `{g['upstream']}` | {g['verdict']} "
                         "| ? | ? | ? | ? |")
            continue
        d = difference(g, engine)
        alone = f"{engine['server']} {engine['version']}"
        if g["version"].rpartition(" -> ")[2] not in (engine["version"], g["version"]):
            alone += f" (gateway ran {g['version'].rpartition(' -> ')[2]})"
        lines.append(f"| {g['server']} | {alone} | {engine['verdict']} → {g['verdict']} "
                     f"| {_ids(d['must_added'])} | {_ids(d['must_removed'])} "
                     f"| {_ids(d['should_added'])} | {_ids(d['should_removed'])} |")
    return lines


def table(args: argparse.Namespace) -> int:
    text = render(load_all(Path(args.dir)))
    if args.check:
        if Path(args.out).read_text() != text:
            print(f"{args.out} is not the table generated from {args.dir}", file=sys.stderr)
            return 1
        return 0
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    return 0


# -- check --------------------------------------------------------------------------------

def check(args: argparse.Namespace) -> int:
    expected = {r["name"]: r for r in load_all(Path(args.expected))}
    actual = {r["name"]: r for r in load_all(Path(args.actual))}
    names = args.names or sorted(actual)
    differences = 0
    for name in names:
        want, got = expected.get(name), actual.get(name)
        if want is None or got is None:
            print(f"{name}: {'no committed result' if want is None else 'not certified now'}")
            differences += 1
            continue
        same = want["verdict"] == got["verdict"] and set(want["must"]) == set(got["must"])
        differences += not same
        print(f"{name}: {'ok' if same else 'DIFFERS'}: verdict {got['verdict']} "
              f"(committed {want['verdict']}), MUST {sorted(got['must'])} "
              f"(committed {sorted(want['must'])})")
        if set(want["should"]) != set(got["should"]):
            print(f"{name}: note: SHOULD {got['should']} (committed {want['should']})")
    return 1 if differences else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    for name in ("name", "report_dir", "out_dir"):
        c.add_argument(name)
    for name in ("--server", "--version", "--model", "--url"):
        c.add_argument(name, default="?")
    c.add_argument("--exit-code", type=int, default=0, help="exit status of conformance run")
    c.add_argument("--replay", action="store_true",
                   help="resend each failing request to --url (still running) for its raw answer")
    c.set_defaults(func=collect)
    u = sub.add_parser("upstream")
    u.add_argument("results", help="a gateway's NAME.results.json")
    u.add_argument("engine", help="name of the engine row it fronts")
    u.set_defaults(func=upstream)
    t = sub.add_parser("table")
    t.add_argument("--dir", default=str(HERE / "certificates"))
    t.add_argument("--out", default=str(HERE / "COMPATIBILITY.md"))
    t.add_argument("--check", action="store_true", help="fail if --out is not up to date")
    t.set_defaults(func=table)
    k = sub.add_parser("check")
    k.add_argument("actual")
    k.add_argument("names", nargs="*")
    k.add_argument("--expected", default=str(HERE / "certificates"))
    k.set_defaults(func=check)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
