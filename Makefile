# The two commands: `make demo` and `make test`. Both set up everything on a fresh machine
# (a virtual environment in .venv with the pinned extras) and are quick when already set up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHURN := build/churn
DIGITS := build/digits
PYTEST_ARGS ?=

WEB_STAMP := web/node_modules/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint typecheck install bench bench-service clean web web-test java digits
.PHONY: device-test device-test-arm64 device-tools postgres codegen-tools

install: $(STAMP) java

# Spark (the `spark` extra: Spark ML sources, the spark parity runner and engines) needs Java 17.
# Installed when `java` is missing and apt-get is there (CI machines run as root); without Java the Spark
# tests skip with the reason and everything else works.
java:
	@command -v java >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless) \
		|| echo "warning: Java 17 could not be installed; Spark tests will be skipped"; }

# PostgreSQL's server binaries for the shared-catalog tests (tests/toolchain/test_registry.py starts a
# throwaway cluster); installed when missing and apt-get is there, otherwise those tests skip with the reason.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
		|| echo "warning: PostgreSQL could not be installed; its catalog tests will be skipped"; }

# A 32-bit ARM cross compiler and qemu-user for the generated C's ARM check (tests/converters/test_codegen.py);
# installed when missing and apt-get is there, otherwise that test skips with the reason.
codegen-tools:
	@command -v arm-linux-gnueabihf-gcc >/dev/null 2>&1 && command -v qemu-arm-static >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq gcc-arm-linux-gnueabihf qemu-user-static) \
		|| echo "warning: no 32-bit ARM toolchain; the generated C's ARM check will be skipped"; }

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel "setuptools<81"
	$(PY) -m pip install --quiet -e ".[all]"
	# onnx2tf (ONNX -> TensorFlow for the tensor TFLite/TF.js/Core ML targets) pins exact old versions of
	# onnx, onnxruntime, numpy and protobuf that conflict with this stack: installed without its
	# dependencies, with the two it imports that the stack lacks (docs/DEPENDENCIES.md).
	$(PY) -m pip install --quiet --no-deps onnx2tf==1.29.24 onnx-graphsurgeon==0.6.1 sng4onnx==2.0.1
	touch $(STAMP)

$(CHURN)/churn.csv: examples/churn/generate.py | $(STAMP)
	$(PY) examples/churn/generate.py --rows 5000 --seed 7 -o $@

$(CHURN)/churn.joblib: $(CHURN)/churn.csv examples/churn/train.py
	$(PY) examples/churn/train.py --data $(CHURN)/churn.csv --out $(CHURN)

# The image example: a small CNN trained on scikit-learn's digits, packaged to all four formats.
digits: $(STAMP) $(WEB_STAMP)
	$(PY) examples/digits/train.py --out $(DIGITS)
	$(VENV)/bin/edgepack build $(DIGITS)/digits.keras --sample $(DIGITS)/sample.npz \
		--targets onnx,tflite,tfjs,coreml --name digits -o $(DIGITS)/package

# The demo: the churn model built to every format with --quantize auto, the parity gate over the holdout
# with its HTML report, five customers scored in Python and in Node, and a closing table. Node's part is
# skipped with a note when node is missing (its npm packages come from the lock file otherwise).
DEMO_TARGETS := onnx,coreml,tflite,tfjs,c,js
DEMO_RUNTIMES := onnxruntime,tflite,tfjs-node-wasm,coreml-spec,c-gcc,js-node,ort-web-node
demo: $(STAMP) $(CHURN)/churn.joblib
	@command -v node >/dev/null 2>&1 && $(MAKE) --no-print-directory $(WEB_STAMP) || echo "note: node is not installed: the tfjs, js and Node checks will say 'not verified'"
	$(VENV)/bin/edgepack build $(CHURN)/churn.joblib --sample $(CHURN)/sample.csv --label-column churn \
		--name churn --targets $(DEMO_TARGETS) --quantize auto --description "Which customers will leave" -o $(CHURN)/package
	$(VENV)/bin/edgepack inspect $(CHURN)/package
	$(VENV)/bin/edgepack parity $(CHURN)/package --reference $(CHURN)/churn.joblib --data $(CHURN)/holdout.csv \
		--label-column churn --runtimes $(DEMO_RUNTIMES) --quiet --json $(CHURN)/parity.json --html $(CHURN)/parity.html
	$(PY) examples/churn/score_five.py $(CHURN)/package $(CHURN)/holdout.csv --jsonl $(CHURN)/five.jsonl
	@if command -v node >/dev/null 2>&1; then echo "the same five in Node (web/bin/score.mjs, onnxruntime-web):"; \
		node web/bin/score.mjs $(CHURN)/package --id-field customer_id < $(CHURN)/five.jsonl; fi
	$(PY) examples/churn/summary.py $(CHURN)/package $(CHURN)/parity.json

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# mypy over the device runtime and the public API modules (the folders are mapped onto `edgepack.*` by
# package-dir; a tree of symlinks gives mypy those names).
TYPECHECK := build/typecheck
PUBLIC_API := edgepack.toolchain.build edgepack.toolchain.api edgepack.parity.harness edgepack.parity.profiles edgepack.parity.metrics
typecheck: $(STAMP)
	mkdir -p $(TYPECHECK)/edgepack
	for d in runtime converters parity toolchain; do ln -sfn ../../../$$d $(TYPECHECK)/edgepack/$$d; done
	cd $(TYPECHECK) && $(abspath $(VENV))/bin/mypy --config-file $(CURDIR)/pyproject.toml -p edgepack.runtime
	cd $(TYPECHECK) && $(abspath $(VENV))/bin/mypy --config-file $(CURDIR)/pyproject.toml --follow-imports=silent \
		$(addprefix -m ,$(PUBLIC_API))

test: $(STAMP) java postgres codegen-tools lint typecheck web
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)
	$(MAKE) web-test

# web/: npm packages from the lock file (idempotent through a stamp) and Debian's chromium for the
# browser tests (installed only when missing; Playwright cannot download browsers here).
web: $(WEB_STAMP) $(CHROMIUM)

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $(WEB_STAMP)

$(CHROMIUM):
	apt-get update && apt-get install -y chromium

# node's test runner: the library, the Node CLI and the page in headless Chromium.
web-test: $(STAMP) web
	EDGEPACK_PYTHON=$(abspath $(PY)) node --test web/test/*.test.mjs

$(CHURN)/package/manifest.json: $(CHURN)/churn.joblib
	$(VENV)/bin/edgepack build $(CHURN)/churn.joblib --sample $(CHURN)/sample.csv --label-column churn \
		--name churn -o $(CHURN)/package

bench: $(STAMP) $(CHURN)/churn.joblib $(CHURN)/package/manifest.json
	$(PY) benchmarks/scorer.py --churn $(CHURN) --json build/bench/scorer.json --plot build/bench/scorer.svg

# The scoring service under load (benchmarks/service.py): Debian's wrk drives saturation (installed only
# when missing, like chromium); the `bench` extra brings the FastAPI baselines and uvicorn.
WRK := /usr/bin/wrk
BENCH_STAMP := $(VENV)/.bench-installed

$(WRK):
	apt-get update && apt-get install -y wrk

$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $(BENCH_STAMP)

bench-service: $(STAMP) $(BENCH_STAMP) $(WRK) $(CHURN)/churn.joblib $(CHURN)/package/manifest.json
	$(PY) benchmarks/service.py --churn $(CHURN) --json build/bench/service.json

clean:
	rm -rf build test-artifacts

# Device tests (device_tests/, marker `device`): minimal install, no network, 256 MiB cap, MiNiFi-style
# runs. `make test` runs them too; the emulated ARM64 device has its own target (minutes the first time).
device-test: $(STAMP)
	$(PY) -m pytest -n 2 -m device device_tests $(PYTEST_ARGS)

device-test-arm64: $(STAMP) device-tools
	EDGEPACK_ARM64=1 $(PY) -m pytest -m device device_tests/test_device_arm64.py $(PYTEST_ARGS)

# Debian packages for the emulated ARM64 device (run as root; skipped when already installed).
device-tools:
	@if command -v debootstrap >/dev/null && command -v qemu-aarch64-static >/dev/null \
		&& command -v update-binfmts >/dev/null; then echo "device tools present"; else \
		apt-get update -q && apt-get install -y -q qemu-user-static binfmt-support debootstrap; fi
