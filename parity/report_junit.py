"""JUnit XML for CI systems: one test case per artifact x runtime. A failed check is a <failure> naming
the metric and its limit; a crashed runner an <error>; an unavailable runtime a <skipped>."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .harness import ParityReport
from .report_text import failure_text, jsonable


def junit_xml(report: ParityReport) -> str:
    suite = ET.Element("testsuite", name=f"edgepack parity {report.package}", tests=str(len(report.results)),
                       failures=str(sum(r.status == "fail" for r in report.results)),
                       errors=str(sum(r.status == "error" for r in report.results)),
                       skipped=str(sum(r.status == "unavailable" for r in report.results)),
                       time=f"{sum(r.seconds for r in report.results):.3f}", timestamp=report.when)
    for r in report.results:
        case = ET.SubElement(suite, "testcase", classname=f"{report.package}.{r.artifact}",
                             name=f"{r.artifact} x {r.runtime}", time=f"{r.seconds:.3f}")
        if r.status == "fail":
            message = "; ".join(failure_text(f) for f in r.failures)
            node = ET.SubElement(case, "failure", message=message, type=r.failures[0]["metric"] if r.failures else "parity")
            details = [message, f"profile {r.profile_name}: {jsonable(r.profile)}"]
            details += [f"row {e.get('row')}: {e['why']}" for e in (r.explanations or [])[:10]]
            node.text = "\n".join(details)
        elif r.status == "error":
            ET.SubElement(case, "error", message=r.reason or "runner error", type="runner-error").text = r.reason
        elif r.status == "unavailable":
            ET.SubElement(case, "skipped", message=f"unavailable: {r.reason}")
        props = ET.SubElement(case, "properties")
        for key, value in r.metrics.items():
            ET.SubElement(props, "property", name=key, value=str(jsonable(value)))
    root = ET.Element("testsuites", name="edgepack parity")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: ParityReport, path: Path) -> None:
    path.write_text(junit_xml(report))
