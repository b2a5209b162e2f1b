"""Results of the real-server certifications: collect, tabulate, compare.

    python peers/table.py collect NAME REPORT_DIR OUT_DIR --server S --version V --model M --url U
    python peers/table.py table [--dir peers/certificates] [--out peers/COMPATIBILITY.md]
    python peers/table.py check ACTUAL_DIR [--expected peers/certificates]

`collect` turns the JSON certificate of one `conformance run --out REPORT_DIR` into
OUT_DIR/NAME.results.json (verdict, MUST failures with their evidence, SHOULD warnings) and
copies the certificate to OUT_DIR/NAME.json. Everything comes from the certificate, which
carries each finding with its request and the answer's status, headers and body: no
rendered text is parsed and no request is sent again. A run without a certificate (it
crashed) is an ERROR.
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
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ORDER = (
    "vllm",
    "litellm",
    "transformers",
    "llamacpp",
    "litellm-vllm",
    "vllm-router",
    "lm-proxy",
    "portkey",
    "litellm-llamacpp",
)
EXCERPT = 160


# -- collect ------------------------------------------------------------------------------


def _short(text: str, limit: int = EXCERPT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def answered(response: dict[str, Any]) -> str:
    """The answer in one line: status line, content type and the body (a stream's end)."""
    content_type = next(
        (value for name, value in response["headers"] if name.lower() == "content-type"), "(none)"
    )
    body = response["body"]
    if response["stream"] and len(body) > 200:  # the end of a stream proves a framing failure
        body = "…" + body[-200:]
    status = f"HTTP/1.1 {response['status']} {response['reason']}".rstrip()
    return _short(f"{status} | content-type: {content_type} | {body}", 280)


def evidence(finding: dict[str, Any]) -> dict[str, str]:
    """One finding of a certificate as the table shows it: test, message, where, what was
    expected and received, the request body and, for a whole-response finding, the answer."""
    item = {
        "test": finding["test"],
        "message": _short(finding["message"]),
        "at": finding["location"],
        "expected": _short(finding["expected"]),
        "received": _short(finding["received"]),
    }
    item = {key: value for key, value in item.items() if value}
    if finding.get("event"):
        item["event"] = _short(finding["event"].strip())
    if "request" in finding:
        item["request"] = finding["request"]["body"]
    if "response" in finding and finding["location"] == "whole response":
        item["raw"] = answered(finding["response"])
    return item


def from_certificate(data: dict[str, Any]) -> dict[str, Any]:
    """Verdict, MUST failures (with their evidence) and SHOULD warnings of a certificate."""
    must: dict[str, list[dict[str, str]]] = {}
    should: set[str] = set()
    for rule in data["rules"]:
        if rule["status"] == "failed" and rule["level"] == "MUST":
            must[rule["id"]] = [evidence(f) for f in rule["findings"]]
        elif rule["status"] in ("warned", "failed"):
            should.add(rule["id"])
    return {
        "verdict": data["verdict"],
        "must": dict(sorted(must.items())),
        "should": sorted(should),
    }


def collect(args: argparse.Namespace) -> int:
    report_dir, out = Path(args.report_dir), Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    certificate = _certificate(report_dir) if args.exit_code in (0, 1) else None
    if certificate is None:
        result: dict[str, Any] = {"verdict": "ERROR", "must": {}, "should": []}
    else:
        (out / f"{args.name}.json").write_text(certificate.read_text())
        result = from_certificate(json.loads(certificate.read_text()))
    result = {
        "name": args.name,
        "server": args.server,
        "version": args.version,
        "model": args.model,
        "url": args.url,
        **result,
        "source": "certificate",
    }
    path = out / f"{args.name}.results.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(
        f"{args.name}: {result['verdict']}; MUST {sorted(result['must']) or '-'}; "
        f"SHOULD {result['should'] or '-'} -> {path}"
    )
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
    first = min(
        items, key=lambda e: ("test_properties" in e.get("test", ""), len(e.get("request", "")))
    )
    parts = [f"`{rule_id}` ({first.get('test', '')})"]
    if first.get("request"):
        parts.append(f"request {_code(_short(first['request']))}")
    if first.get("raw"):
        parts.append(f"answered {_code(first['raw'])}")
    else:
        parts.append(f"received {_code(first.get('received', first.get('message', '')))}")
        if first.get("event"):
            parts.append(f"in the event {_code(first['event'])}")
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
        lines.append(
            f"| {r['server']} | {r['version']} | `{r['model']}` | **{r['verdict']}** "
            f"| {must} | {should} |"
        )
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
        "",
        "## Gateways compared with their engine alone",
        "",
        "Rule ids failing (MUST) or warned (SHOULD) behind the gateway but not on the engine",
        "alone are the gateway's (added); those on the engine alone but not behind the gateway",
        "are hidden or repaired by it (removed). Evidence of each MUST failure is above. Some",
        "SHOULD warnings come only from the property tests' randomly drawn requests, so a",
        "SHOULD difference may also be chance (`python peers/table.py check` does not fail",
        "on one).",
        "",
        "| gateway | engine alone | verdict (engine → gateway) | MUST added | MUST removed "
        "| SHOULD added | SHOULD removed |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for g in gateways:
        engine = by_name.get(g["upstream"])
        if engine is None:
            lines.append(
                f"| {g['server']} | no results for `{g['upstream']}` | {g['verdict']} "
                "| ? | ? | ? | ? |"
            )
            continue
        d = difference(g, engine)
        alone = f"{engine['server']} {engine['version']}"
        if g["version"].rpartition(" -> ")[2] not in (engine["version"], g["version"]):
            alone += f" (gateway ran {g['version'].rpartition(' -> ')[2]})"
        lines.append(
            f"| {g['server']} | {alone} | {engine['verdict']} → {g['verdict']} "
            f"| {_ids(d['must_added'])} | {_ids(d['must_removed'])} "
            f"| {_ids(d['should_added'])} | {_ids(d['should_removed'])} |"
        )
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
        print(
            f"{name}: {'ok' if same else 'DIFFERS'}: verdict {got['verdict']} "
            f"(committed {want['verdict']}), MUST {sorted(got['must'])} "
            f"(committed {sorted(want['must'])})"
        )
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
