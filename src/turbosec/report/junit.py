"""JUnit XML: CI test tabs show each scanner as a suite and each new finding as a failed test.

* one ``<testsuite>`` per tool, one ``<testcase>`` per finding with a ``<failure>`` whose
  ``type`` is the severity;
* a finding that does not fail the gate is a ``<testcase>`` with ``<skipped>`` instead: a
  suppressed one (``message="suppressed: REASON"``) or one already in the baseline
  (``message="existing: in the baseline"``), so CI test views count only new problems as
  failures while every finding stays listed;
* a scanner that failed is a ``<testcase>`` with an ``<error>`` (fail closed, visibly);
* a scanner that ran and found nothing has one passing ``<testcase>``, so it shows it ran;
* a skipped scanner has one ``<testcase>`` with ``<skipped>``;
* errors of the scan itself (not of one scanner) go to a ``turbosec`` suite.

Text is made XML-safe first: characters XML 1.0 cannot carry (terminal escape sequences
in a tool's stderr, lone surrogates) are written as ``\\xNN`` / ``\\uNNNN``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # builds XML, never parses it
from collections.abc import Sequence
from dataclasses import dataclass, field

from turbosec.core.finding import BaselineState, Finding
from turbosec.core.report import ScanReport, ToolRun, ToolStatus
from turbosec.report.base import Formatter

_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by a visible escape."""

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _XML_INVALID.sub(escape, text.replace("\r\n", "\n").replace("\r", "\n"))


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _location_label(finding: Finding) -> str:
    loc = finding.location
    if loc is None:
        return "(no location)"
    return loc.display()


def _details(finding: Finding) -> str:
    lines: list[str] = []
    if finding.message and finding.message != finding.title:
        lines += [finding.message, ""]
    tool = finding.tool
    if finding.also_reported_by:
        tool += f" (also reported by {', '.join(finding.also_reported_by)})"
    rows = [
        ("Severity", finding.severity.label),
        ("Confidence", finding.confidence.value),
        ("Category", finding.category.value),
        ("Tool", tool),
        ("Rule", finding.rule_id),
    ]
    loc = finding.location
    if loc is not None:
        where = loc.display()
        if loc.start_line and loc.start_column:
            where += f":{loc.start_column}"
        if loc.end_line and loc.start_line and loc.end_line > loc.start_line:
            where += f" (to line {loc.end_line})"
        rows.append(("Location", where))
    if finding.package is not None:
        pkg = finding.package
        text = f"{pkg.name} {pkg.version}" if pkg.version else pkg.name
        text += f" ({pkg.ecosystem})"
        if pkg.fixed_versions:
            text += f", fixed in {', '.join(pkg.fixed_versions)}"
        rows.append(("Package", text))
    if finding.cwe:
        rows.append(("CWE", ", ".join(f"CWE-{c}" for c in finding.cwe)))
    if finding.advisories:
        rows.append(("Advisories", ", ".join(finding.advisories)))
    if finding.fingerprint:
        rows.append(("Fingerprint", finding.fingerprint))
    if finding.baseline_state is not None:
        rows.append(("Baseline", finding.baseline_state.value))
    suppression = finding.suppression
    if suppression is not None:
        text = f"{suppression.kind}, {suppression.reason or 'no reason given'}"
        if suppression.source:
            text += f" ({suppression.source})"
        if suppression.expires:
            text += f", expires {suppression.expires}"
        if suppression.owner:
            text += f", owner {suppression.owner}"
        rows.append(("Suppressed", text))
    width = max(len(name) for name, _ in rows) + 1
    lines += [f"{name + ':':<{width}} {value}" for name, value in rows]
    if loc is not None and loc.snippet:
        lines += ["", "Code:", *(f"    {s}" for s in loc.snippet.splitlines())]
    if finding.fix_hint:
        lines += ["", f"Fix: {finding.fix_hint}"]
    if finding.references:
        lines += ["", "References:", *(f"  - {r}" for r in finding.references)]
    return "\n".join(lines)


def _skip_message(finding: Finding) -> str | None:
    """Why a finding is not a failure (suppressed, or known from the baseline); else None."""
    suppression = finding.suppression
    if suppression is not None:
        return f"suppressed: {suppression.reason or 'no reason given'}"
    if finding.baseline_state is BaselineState.UNCHANGED:
        return "existing: in the baseline"
    return None


@dataclass
class _Suite:
    name: str
    runs: list[ToolRun] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


class JunitFormatter(Formatter):
    name = "junit"
    extensions = (".xml",)
    description = "JUnit XML for CI test tabs (one suite per scanner, one test per finding)"

    def render(self, report: ScanReport) -> str:
        suites: dict[str, _Suite] = {}
        for run in report.tools:
            suites.setdefault(run.name, _Suite(run.name)).runs.append(run)
        for finding in report.findings:
            suites.setdefault(finding.tool, _Suite(finding.tool)).findings.append(finding)

        root = ET.Element("testsuites", {"name": "turbosec"})
        elements = [self._suite(s, report) for s in suites.values()]
        if report.errors:
            elements.append(self._errors_suite(report))
        totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for element in elements:
            for key in totals:
                totals[key] += int(element.get(key, "0"))
        for key, value in totals.items():
            root.set(key, str(value))
        root.set("time", f"{report.duration_s:.3f}")
        root.extend(elements)
        ET.indent(root, space="  ")
        body = ET.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    @staticmethod
    def _new_suite(name: str, time: float, timestamp: str) -> ET.Element:
        suite = ET.Element("testsuite", {"name": xml_safe(name)})
        suite.set("tests", "0")
        suite.set("failures", "0")
        suite.set("errors", "0")
        suite.set("skipped", "0")
        suite.set("time", f"{time:.3f}")
        if timestamp:
            suite.set("timestamp", xml_safe(timestamp))
        return suite

    @staticmethod
    def _count(suite: ET.Element) -> None:
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))

    def _suite(self, data: _Suite, report: ScanReport) -> ET.Element:
        suite = self._new_suite(data.name, sum(r.duration_s for r in data.runs), report.started_at)
        props = ET.SubElement(suite, "properties")
        version = next((r.version for r in data.runs if r.version), None)
        if version:
            ET.SubElement(props, "property", {"name": "version", "value": xml_safe(version)})
        statuses = ", ".join(dict.fromkeys(r.status.value for r in data.runs)) or "unknown"
        ET.SubElement(props, "property", {"name": "status", "value": statuses})

        tool_class = f"turbosec.{xml_safe(data.name)}"
        for run in data.runs:
            if run.status is ToolStatus.FAILED:
                case = ET.SubElement(
                    suite, "testcase", {"name": "scanner run", "classname": tool_class}
                )
                error = run.error or f"{run.name} failed without an error message"
                message = _one_line(error)
                if run.optional:
                    message = "optional scanner (does not fail the gate): " + message
                element = ET.SubElement(case, "error", {"type": "scanner-failed"})
                element.set("message", xml_safe(message))
                text = error
                if run.command:
                    text += "\n\nCommand: " + " ".join(run.command)
                element.text = xml_safe(text)
            elif run.status is ToolStatus.SKIPPED and not data.findings:
                case = ET.SubElement(
                    suite, "testcase", {"name": "scanner run", "classname": tool_class}
                )
                reason = run.error or "not applicable to this repository"
                ET.SubElement(case, "skipped", {"message": xml_safe(_one_line(reason))})

        ran_ok = any(r.status in (ToolStatus.OK, ToolStatus.IMPORTED) for r in data.runs)
        if not data.findings and ran_ok:
            ET.SubElement(suite, "testcase", {"name": "no findings", "classname": tool_class})

        names: dict[tuple[str, str], int] = {}
        for finding in data.findings:
            self._finding_case(suite, finding, names)
        self._count(suite)
        return suite

    @staticmethod
    def _finding_case(
        suite: ET.Element, finding: Finding, names: dict[tuple[str, str], int]
    ) -> None:
        classname = xml_safe(f"turbosec.{finding.tool}.{finding.category.value}")
        name = xml_safe(f"{finding.rule_id} @ {_location_label(finding)}")
        # Identical names would be merged by some CI test views: number the repeats.
        seen = names.get((classname, name), 0) + 1
        names[(classname, name)] = seen
        if seen > 1:
            name = f"{name} ({seen})"
        attrs = {"name": name, "classname": classname}
        if finding.location is not None:
            attrs["file"] = xml_safe(finding.location.path)
            if finding.location.start_line:
                attrs["line"] = str(finding.location.start_line)
        case = ET.SubElement(suite, "testcase", attrs)
        skipped = _skip_message(finding)
        if skipped is not None:
            element = ET.SubElement(case, "skipped", {"message": xml_safe(_one_line(skipped))})
            element.text = xml_safe(_details(finding))
            return
        failure = ET.SubElement(case, "failure")
        failure.set("type", finding.severity.label)
        failure.set("message", xml_safe(_one_line(finding.title or finding.rule_id)))
        failure.text = xml_safe(_details(finding))

    def _errors_suite(self, report: ScanReport) -> ET.Element:
        suite = self._new_suite("turbosec", 0.0, report.started_at)
        errors = _unique(report.errors)
        for number, error in enumerate(errors, start=1):
            name = "scan" if len(errors) == 1 else f"scan error {number}"
            case = ET.SubElement(suite, "testcase", {"name": name, "classname": "turbosec"})
            element = ET.SubElement(case, "error", {"type": "scan-error"})
            element.set("message", xml_safe(_one_line(error)))
            element.text = xml_safe(error)
        self._count(suite)
        return suite


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
