"""Drive edgepack-score exactly as MiNiFi's ExecuteStreamCommand does, configured as docs/minifi.md shows.

ExecuteStreamCommand runs one process per flowfile: Command Path with Command Arguments split on the
Argument Delimiter, the flowfile content on stdin (Ignore STDIN: false), stdout as the content of the
output flowfile, stderr (cut at Max Attribute Length) as `execution.error`, the exit code as
`execution.status`, and the output routed to `output stream` on 0 and `nonzero status` otherwise.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "minifi.md"
DOC_PACKAGE = "/opt/edgepack/models/churn.edgepack"


@dataclass
class FlowFile:
    content: bytes
    attributes: dict[str, str] = field(default_factory=dict)


def _processor_properties() -> dict[str, str]:
    """The ExecuteStreamCommand properties of the first config.yml block in docs/minifi.md."""
    text = DOC.read_text()
    block = text[text.index("org.apache.nifi.processors.standard.ExecuteStreamCommand"):]
    block = block[:block.index("```")]
    return {m.group(1): m.group(2).strip().strip("'") for m in re.finditer(r"^    ([A-Za-z ]+): (.*)$", block, re.M)}


class ExecuteStreamCommand:
    def __init__(self, properties: dict[str, str], package: Path) -> None:
        self.props = properties
        # The device path of the doc, replaced by this machine's: the venv's console script and the test package.
        self.command = str(Path(sys.executable).parent / Path(properties["Command Path"]).name)
        delimiter = properties["Argument Delimiter"]
        self.arguments = [str(package) if a == DOC_PACKAGE else a
                          for a in properties["Command Arguments"].split(delimiter)]
        self.max_attribute = int(properties["Max Attribute Length"])

    def on_trigger(self, flowfile: FlowFile, extra_args: list[str] = ()) -> tuple[str, FlowFile]:
        assert self.props["Ignore STDIN"] == "false"
        proc = subprocess.run([self.command, *self.arguments, *extra_args], input=flowfile.content,
                              capture_output=True, timeout=60)
        attributes = {**flowfile.attributes, "execution.status": str(proc.returncode),
                      "execution.error": proc.stderr.decode()[: self.max_attribute]}
        relationship = "output stream" if proc.returncode == 0 else "nonzero status"
        return relationship, FlowFile(proc.stdout, attributes)


def test_flowfiles_are_scored_and_routed_by_exit_code(strict_package, tmp_path):
    props = _processor_properties()
    assert props["Command Path"].endswith("edgepack-score") and props["Output Destination Attribute"] == ""
    processor = ExecuteStreamCommand(props, strict_package.path)
    records = [{"customer_id": f"c-{i}", **r} for i, r in enumerate(strict_package.records(6))]
    lines = [json.dumps(r) for r in records]

    route, out = processor.on_trigger(FlowFile("\n".join(lines[:3]).encode() + b"\n"))
    assert route == "output stream" and out.attributes["execution.status"] == "0"
    assert [json.loads(x)["id"] for x in out.content.splitlines()] == ["c-0", "c-1", "c-2"]
    assert out.attributes["execution.error"] == ""  # --quiet: nothing on stderr when all is well

    bad = dict(records[4], monthly_charges="n/a")
    route, out = processor.on_trigger(FlowFile("\n".join([lines[3], json.dumps(bad), lines[5]]).encode()))
    assert route == "nonzero status" and out.attributes["execution.status"] == "3"
    assert [json.loads(x)["id"] for x in out.content.splitlines()] == ["c-3", "c-5"]  # the good ones still scored
    error = json.loads(out.attributes["execution.error"].splitlines()[0])
    assert error == {"line": 2, "field": "monthly_charges", "reason": error["reason"], "id": "c-4"}

    route, out = processor.on_trigger(FlowFile(b""))
    assert route == "output stream" and out.content == b""

    header = ",".join(["customer_id", *strict_package.features])
    csv_rows = [",".join(str(r[k]) for k in ["customer_id", *strict_package.features]) for r in records[:2]]
    route, out = processor.on_trigger(FlowFile(("\n".join([header, *csv_rows]) + "\n").encode()), ["--format", "csv"])
    assert route == "output stream" and len(out.content.splitlines()) == 2

    route, out = processor.on_trigger(FlowFile(b"colour\nred\n"), ["--format", "csv"])
    assert route == "nonzero status" and out.attributes["execution.status"] == "6"


def test_a_damaged_package_routes_every_flowfile_to_nonzero_status_4(strict_package, tmp_path):
    copy = tmp_path / "pkg"
    shutil.copytree(strict_package.path, copy)
    data = bytearray((copy / "model.onnx").read_bytes())
    data[100] ^= 0xFF
    (copy / "model.onnx").write_bytes(bytes(data))
    processor = ExecuteStreamCommand(_processor_properties(), copy)
    route, out = processor.on_trigger(FlowFile(json.dumps(strict_package.records(1)[0]).encode()))
    assert route == "nonzero status" and out.attributes["execution.status"] == "4"
    assert "checksum" in out.attributes["execution.error"] and out.content == b""
