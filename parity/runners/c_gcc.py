"""A `c` artifact compiled by the system's C compiler (strict C99: -Wall -Wextra -Werror -pedantic) with a
small harness, and run on the batch: the code exactly as a device would build it. The harness reads one
field per line (numbers as text, categories hex-encoded, missing marked) and prints the outputs with 17
significant digits, so nothing is lost on the way back."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.schema import IOSchema
from .base import InputBatch, Runner, Unavailable

CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

static char text[EDGEPACK_N_FEATURES][8192];
static char line[20000];

static int hex(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

int main(void) {
    double out[EDGEPACK_N_OUTPUTS];
    edgepack_record r;
    for (;;) {
        memset(&r, 0, sizeof r);
        for (int f = 0; f < EDGEPACK_N_FEATURES; f++) {
            if (!fgets(line, sizeof line, stdin)) return 0;
            line[strcspn(line, "\n")] = 0;
            if (line[0] == 'S') {
                size_t n = strlen(line + 1) / 2;
                for (size_t i = 0; i < n; i++) text[f][i] = (char)(hex(line[1 + 2 * i]) * 16 + hex(line[2 + 2 * i]));
                text[f][n] = 0;
                edgepack_record_set(&r, f, 0.0, text[f]);
            } else if (line[0] == 'M') {
                edgepack_record_set(&r, f, strtod("nan", NULL), NULL);
            } else {
                edgepack_record_set(&r, f, strtod(line, NULL), NULL);
            }
        }
        int code = edgepack_predict(&r, out);
        printf("%d", code);
        for (int i = 0; i < EDGEPACK_N_OUTPUTS; i++) printf(" %.17g", out[i]);
        printf("\n");
    }
}
"""


class CGccRunner(Runner):
    name = "c-gcc"
    formats = ("c",)

    @classmethod
    def availability(cls) -> str | None:
        return None if shutil.which("gcc") else "gcc is not installed (apt-get install gcc)"

    def prepare(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="edgepack-c-"))
        entry = self.artifact.entry
        for name in (entry["file"], entry["header"]):
            (self._dir / name).write_bytes(self.package.read_file(name))
        header = entry["header"]
        (self._dir / "harness.c").write_text(HARNESS.replace('"model.h"', f'"{header}"'))
        self._exe = self._dir / "score"
        # options: cc (a cross compiler, e.g. arm-linux-gnueabihf-gcc) and emulator (e.g. qemu-arm-static)
        cc = self.options.get("cc", "gcc")
        static = ["-static"] if self.options.get("emulator") else []
        done = subprocess.run([cc, *CFLAGS, *static, "-o", str(self._exe), str(self._dir / entry["file"]),
                               str(self._dir / "harness.c"), "-lm"], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"gcc refused the generated code:\n{done.stderr[-3000:]}")
        self._schema = IOSchema.from_manifest(self.package.manifest)

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        lines = []
        for i in range(len(batch)):
            for feat in self._schema.features:
                value: Any = batch.columns[feat.name][i]
                if feat.type == "category":
                    missing = value is None or (isinstance(value, float) and np.isnan(value)) or value == ""
                    lines.append("M" if missing and feat.nullable else "S" + str(value).encode().hex())
                elif value is None or np.isnan(value):
                    lines.append("M")
                else:
                    lines.append(repr(float(value)))
        emulator = [self.options["emulator"]] if self.options.get("emulator") else []
        done = subprocess.run([*emulator, str(self._exe)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                              timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"the compiled model failed: {done.stderr[-2000:]}")
        rows = [line.split() for line in done.stdout.splitlines()]
        bad = [i for i, r in enumerate(rows) if int(r[0]) < 0]
        if bad:
            raise Unavailable(f"the generated checks refused record {bad[0]} (field {-int(rows[bad[0]][0]) - 1})")
        values = np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float64)
        if self._schema.task == "classification":
            return {"probabilities": values}
        return {"value": values[:, 0]}

    def close(self) -> None:
        shutil.rmtree(getattr(self, "_dir", ""), ignore_errors=True)

    def describe(self) -> dict[str, str]:
        done = subprocess.run(["gcc", "--version"], capture_output=True, text=True)
        return {"name": self.name, "runtime": "gcc " + " ".join(CFLAGS), "version": done.stdout.splitlines()[0] if done.stdout else "?"}
