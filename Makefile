# glue-label-importer — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
# Where cargo puts its output (CI sets a persistent CARGO_TARGET_DIR outside the clone).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
BINARY := $(TARGET_DIR)/release/glue-label-importer
# Python tools, pinned in tools/requirements*.txt, each set in its own virtualenv (their pins
# conflict): the local stack (moto, AWS CLI, boto3, cargo-lambda + Zig), SAM CLI, checkov.
VENV ?= .venv
SAM_VENV ?= $(VENV)-sam
CHECKOV_VENV ?= $(VENV)-checkov
export MOTO_SERVER := $(abspath $(VENV))/bin/moto_server
export AWS_CLI := $(abspath $(VENV))/bin/aws
export VENV_PYTHON := $(abspath $(VENV))/bin/python
export SAM_CLI_TELEMETRY := 0
EVENT ?= events/s3-put.json

.PHONY: help demo invoke build release test cargo-test bench fuzz lint fmt clean venv template-venvs template sam-build

help:
	@echo "make demo      the whole flow on the local stack (moto + glue-local + cargo lambda), no AWS account"
	@echo "make invoke EVENT=events/<file>.json   one sample event against the same local stack"
	@echo "make test      every test: template checks beside unit, property, mocked SDK, glue-local, end to end"
	@echo "make template  cfn-lint, sam validate --lint, checkov (each TriggerMode), sam build (arm64) of template.yaml"
	@echo "make build     debug build of the library and the Lambda binary"
	@echo "make release   optimized Lambda binary ($(BINARY))"
	@echo "make bench     benchmarks (release): cold start, warm latency, RSS, sizes, intake rate, preflight"
	@echo "make fuzz      cargo fuzz of the event intake and key routing for FUZZ_SECONDS (nightly)"
	@echo "make lint      rustfmt check, clippy with warnings as errors, cargo doc with broken links denied"

demo: venv
	$(VENV)/bin/python scripts/local_stack.py demo

invoke: venv
	$(VENV)/bin/python scripts/local_stack.py invoke $(EVENT)

build:
	$(CARGO) build --locked

release:
	$(CARGO) build --locked --release
	@ls -l $(BINARY) | awk '{ printf "%s: %d bytes\n", $$NF, $$5 }'

# The template checks and cargo test run side by side, because most of the template's time is
# sam build's release arm64 build, whose fat LTO and one codegen unit keep one core busy for
# minutes. Each prints its output when it ends (--output-sync); either failing fails make test.
test: venv template-venvs
	@echo "make test: the template checks and cargo test run side by side; each prints its output when it ends"
	$(MAKE) --no-print-directory --jobs=2 --output-sync=target template cargo-test

cargo-test: venv
	$(CARGO) test --locked --workspace

# Speed and memory figures live here, never in timed tests. Results also go to
# <target>/bench/*.json (and criterion's own under <target>/criterion/).
ARM64_ZIP := $(abspath $(TARGET_DIR))/bench/bootstrap-arm64.zip
bench: venv
	PATH="$(abspath $(VENV))/bin:$$PATH" $(CARGO) lambda build --release --arm64 --bin glue-label-importer
	mkdir -p $(TARGET_DIR)/bench && rm -f $(ARM64_ZIP)
	cd $(TARGET_DIR)/lambda/glue-label-importer && zip -q -9 $(ARM64_ZIP) bootstrap
	$(CARGO) bench --locked --bench preflight
	$(CARGO) bench --locked --bench intake
	ARM64_ZIP=$(ARM64_ZIP) $(CARGO) bench --locked --bench lambda

# (Re)installs virtualenv $(1) from requirements file $(2) when the file changed since.
define ensure_venv
	@if ! cmp -s $(2) $(1)/requirements.installed 2>/dev/null; then \
	  echo "installing $(2) into $(1)"; \
	  python3 -m venv $(1) && \
	  $(1)/bin/pip install --quiet --disable-pip-version-check -r $(2) && \
	  cp $(2) $(1)/requirements.installed; \
	fi
endef

venv:
	$(call ensure_venv,$(VENV),tools/requirements.txt)

template-venvs:
	$(call ensure_venv,$(SAM_VENV),tools/requirements-sam.txt)
	$(call ensure_venv,$(CHECKOV_VENV),tools/requirements-checkov.txt)

# Offline checks of template.yaml, then the deployable artifact. cfn-lint checks every
# combination of conditions itself; checkov evaluates conditions with the parameter defaults,
# so it scans one copy of the template per TriggerMode.
TRIGGER_MODES_DIR := .aws-sam/trigger-modes
template: template-venvs sam-build
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint
	$(SAM_VENV)/bin/python scripts/trigger_modes.py $(TRIGGER_MODES_DIR)
	@for mode in S3Notification EventBridge SQS; do \
	  echo "checkov, TriggerMode=$$mode:"; \
	  $(CHECKOV_VENV)/bin/checkov --file $(TRIGGER_MODES_DIR)/$$mode.yaml --framework cloudformation \
	    --quiet --compact --skip-download || exit 1; \
	done

# sam build runs `cargo lambda build --release --arm64` (cargo-lambda and Zig from $(VENV)).
sam-build: venv template-venvs
	PATH="$(abspath $(VENV))/bin:$$PATH" $(SAM_VENV)/bin/sam build
	@file .aws-sam/build/ImportFunction/bootstrap
	@file .aws-sam/build/ImportFunction/bootstrap | grep -q 'ELF 64-bit LSB.*ARM aarch64' \
	  || { echo "bootstrap is not an arm64 Linux binary" >&2; exit 1; }
	@cd .aws-sam/build/ImportFunction && rm -f ../bootstrap.zip && zip -q -9 ../bootstrap.zip bootstrap \
	  && ls -l ../bootstrap.zip | awk '{ printf "arm64 deployment zip: %d bytes\n", $$5 }'

# Coverage-guided fuzzing of the event intake and key routing (cargo fuzz: libFuzzer, nightly
# toolchain, ASan), for FUZZ_SECONDS; not part of make test or CI. Seeds: the sample events.
# A crash or an over-bound allocation stops it and leaves the input in fuzz/artifacts/intake/.
FUZZ_SECONDS ?= 300
CARGO_FUZZ_VERSION := 0.13.2
FUZZ_TOOLS := $(abspath $(TARGET_DIR))/fuzz-tools
fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@test -x $(FUZZ_TOOLS)/bin/cargo-fuzz \
	  || cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked --root $(FUZZ_TOOLS)
	mkdir -p fuzz/corpus/intake && cp events/*.json fuzz/corpus/intake/
	cd fuzz && PATH="$(FUZZ_TOOLS)/bin:$$PATH" CARGO_TARGET_DIR=$(abspath $(TARGET_DIR))/fuzz \
	  cargo +nightly fuzz run intake corpus/intake -- -max_total_time=$(FUZZ_SECONDS) \
	  -dict=intake.dict -max_len=65536 -print_final_stats=1

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links" $(CARGO) doc --locked --no-deps --lib

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf .aws-sam
