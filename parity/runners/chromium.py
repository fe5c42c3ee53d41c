"""Headless Chromium: the package served by `edgepack serve`, scored in the demo page by edgepack-web
(onnxruntime-web for ONNX, TF.js for TF.js artifacts, the generated module for `js`), driven by
web/bin/browser-score.mjs.

Options: backend="auto" (default; ort-wasm for ONNX, tfjs-wasm for TF.js) or a backend name
(ort-wasm, tfjs-wasm, tfjs-webgl, tfjs-cpu). JsChromiumRunner (`js-chromium`) always runs the js backend.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from ...runtime.errors import EdgepackError
from .base import InputBatch, Runner
from .node_cli import NODE, WEB_DIR, node_availability, npm_version, raw_outputs, run_jsonl, web_version

CHROMIUM = Path(os.environ.get("EDGEPACK_CHROMIUM", "/usr/bin/chromium"))
URL_LINE = re.compile(r"at (http://\S+)")


class ChromiumRunner(Runner):
    name = "chromium"
    formats: tuple[str, ...] = ("onnx", "tfjs")
    # npm packages under web/node_modules the page needs for these formats.
    needs: tuple[str, ...] = ("playwright-core", "onnxruntime-web", "@tensorflow/tfjs-core")

    @classmethod
    def availability(cls) -> str | None:
        if not CHROMIUM.exists():
            return f"no Chromium at {CHROMIUM} (make web installs Debian's chromium)"
        return node_availability(*cls.needs)

    @property
    def backend(self) -> str:
        return str(self.options.get("backend", "auto"))

    def prepare(self) -> None:
        # The real `edgepack serve`, as a user runs it, on a free port; its first line names the URL.
        self._server = subprocess.Popen(
            [sys.executable, "-m", "edgepack.toolchain.cli", "serve", str(self.package.location), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self._server.stdout.readline() if self._server.stdout else ""
        match = URL_LINE.search(line)
        if not match:
            self.close()
            raise EdgepackError(f"edgepack serve did not start: {line.strip()}")
        self.url = match.group(1)

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        command = [NODE, str(WEB_DIR / "bin" / "browser-score.mjs"), self.url, "--artifact", self.artifact.id,
                   "--backend", self.backend]
        screenshot = self.options.get("screenshot")
        if screenshot:
            command += ["--screenshot", str(screenshot)]
        lines = run_jsonl(command, batch.records, f"{self.name} ({self.backend})")
        return raw_outputs(lines, self.package.manifest["outputs"].get("classes", []))

    def close(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if server is not None:
            for stream in (server.stdout, server.stderr):
                if stream:
                    stream.close()

    def describe(self) -> dict[str, str]:
        try:
            version = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            version = "unknown"
        return {"name": self.name, "runtime": f"{version} + edgepack-web ({self.backend})",
                "version": f"onnxruntime-web {npm_version('onnxruntime-web')}, tfjs {npm_version('@tensorflow/tfjs-core')}"}


class JsChromiumRunner(ChromiumRunner):
    """The `js` artifact (generated model.mjs) imported by the demo page in headless Chromium: the
    checksum-verified bytes as a blob: module, no WebAssembly runtime."""

    name = "js-chromium"
    formats = ("js",)
    needs = ("playwright-core",)

    @property
    def backend(self) -> str:
        return "js"

    def describe(self) -> dict[str, str]:
        # The module is the package's own code; what varies by machine is the browser (in `runtime`).
        return {**super().describe(), "version": f"edgepack-web {web_version()}"}
