"""JUnit XML for CI systems: one test case per artifact x runtime. A failed check is a <failure> naming
the metric and its limit; a crashed runner an <error>; an unavailable runtime a <skipped>."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .compare import failure_text
from .report_text import jsonable
from .results import PairResult, ParityReport


def junit_xml(report: ParityReport) -> str:
    """Suite "edgepack parity NAME": one case per artifact x runtime. With --reference, a second suite
    holds the reference model's own check against the golden vectors."""
    root = ET.Element("testsuites", name="edgepack parity")
    root.append(_suite(f"edgepack parity {report.package}", report.package, report.results, report.when))
    if report.reference_check is not None:
        root.append(_suite(f"edgepack reference model {report.package}", report.package, [report.reference_check], report.when))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(name: str, package: str, results: list[PairResult], when: str) -> ET.Element:
    suite = ET.Element("testsuite", name=name, tests=str(len(results)),
                       failures=str(sum(r.status == "fail" for r in results)),
                       errors=str(sum(r.status == "error" for r in results)),
                       skipped=str(sum(r.status == "unavailable" for r in results)),
                       time=f"{sum(r.seconds for r in results):.3f}", timestamp=when)
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"{package}.{r.artifact}",
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
    return suite


def write_junit(report: ParityReport, path: Path) -> None:
    path.write_text(junit_xml(report))
