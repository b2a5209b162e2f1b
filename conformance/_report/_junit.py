"""JUnit XML for CI dashboards: a test case per rule (so GitLab, Jenkins and GitHub show
"sse.done_present failed"), with the rule id and level as properties and its first finding as
the failure text, then a test case per test of the suite. Only XML 1.0 characters are
written: anything else a target sent is shown as `\\xNN`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conformance._report._collect import (
    FAILED,
    NOT_APPLICABLE,
    NOT_EXERCISED,
    NOT_SELECTED,
    WARNED,
    Gatherer,
    short_id,
)
from conformance._report._terminal import first_finding

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: object) -> str:
    """`text` with every character XML 1.0 cannot carry shown as `\\xNN` (or `\\uNNNN`)."""
    return _NOT_XML.sub(lambda m: _escaped(m.group()), "" if text is None else str(text))


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def junit(certificate: dict[str, Any], gatherer: Gatherer) -> bytes:
    """The JUnit document of a run: the rules, then the tests."""
    root = ET.Element("testsuites", name="conformance")
    root.append(_rules(certificate))
    root.append(_tests(gatherer))
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def write(certificate: dict[str, Any], gatherer: Gatherer, path: Path) -> None:
    """Write the JUnit file (creating its directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit(certificate, gatherer))


def _rules(certificate: dict[str, Any]) -> ET.Element:
    results = certificate["rules"]
    suite = ET.Element(
        "testsuite",
        name="conformance rules",
        tests=str(len(results)),
        failures=str(sum(r["status"] == FAILED for r in results)),
        skipped=str(sum(r["status"] in (NOT_EXERCISED, NOT_SELECTED, NOT_APPLICABLE)
                        for r in results)),
    )  # fmt: skip
    for result in results:
        case = ET.SubElement(suite, "testcase", classname="rules", name=result["id"])
        properties = ET.SubElement(case, "properties")
        for name, value in (
            ("rule", result["id"]),
            ("level", result["level"]),
            ("status", result["status"]),
            ("judged", str(result["judged"])),
            ("findings", str(result["counts"]["findings"])),
        ):
            ET.SubElement(properties, "property", name=name, value=value)
        _outcome(case, result)
    return suite


def _outcome(case: ET.Element, result: dict[str, Any]) -> None:
    status = result["status"]
    if status == FAILED:
        element = ET.SubElement(
            case,
            "failure",
            message=xml_text(f"{result['level']} {result['id']}: {result['title']}"),
        )
        element.text = xml_text(first_finding(result))
    elif status in (NOT_EXERCISED, NOT_SELECTED, NOT_APPLICABLE):
        ET.SubElement(case, "skipped", message=xml_text(f"{status}: {result['why']}"))
    elif status == WARNED:
        out = ET.SubElement(case, "system-out")
        out.text = xml_text(f"SHOULD warning:\n{first_finding(result)}")


def _tests(gatherer: Gatherer) -> ET.Element:
    records = list(gatherer.tests.values())
    suite = ET.Element(
        "testsuite",
        name="conformance tests",
        tests=str(len(records)),
        failures=str(sum(t.outcome == "failed" for t in records)),
        errors=str(sum(t.outcome == "error" for t in records)),
        skipped=str(sum(t.outcome == "skipped" for t in records)),
    )
    for test in records:
        file, _, name = short_id(test.nodeid).partition("::")
        case = ET.SubElement(suite, "testcase", classname=file, name=name)
        findings = test.findings()
        if test.outcome == "failed":
            rules = sorted({f["rule"] for f in findings})
            failure = ET.SubElement(case, "failure", message=xml_text(", ".join(rules)))
            failure.text = xml_text(
                "\n".join(f"[{f['level']}] {f['rule']}: {f['message']}" for f in findings)
            )
        elif test.outcome == "error":
            ET.SubElement(case, "error", message=xml_text(test.message))
        elif test.outcome == "skipped":
            ET.SubElement(case, "skipped", message=xml_text(test.message))
    return suite
