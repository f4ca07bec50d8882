# glue-label-importer — build, test and lint. `make test` is what CI runs.
SHELL := /bin/bash
CARGO ?= cargo
# Where cargo puts its output (CI sets a persistent CARGO_TARGET_DIR outside the clone).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
BINARY := $(TARGET_DIR)/release/glue-label-importer
# Python tools of the local stack (moto, AWS CLI, boto3, cargo-lambda), pinned in tools/requirements.txt.
VENV ?= .venv
export MOTO_SERVER := $(abspath $(VENV))/bin/moto_server
export AWS_CLI := $(abspath $(VENV))/bin/aws
export VENV_PYTHON := $(abspath $(VENV))/bin/python

.PHONY: help demo invoke build release test lint fmt clean venv
EVENT ?= events/s3-put.json

help:
	@echo "make demo     the whole flow on the local stack (moto + glue-local + cargo lambda), no AWS account"
	@echo "make invoke EVENT=events/<file>.json   one sample event against the same local stack"
	@echo "make build    debug build of the library and the Lambda binary"
	@echo "make release  optimized Lambda binary ($(BINARY))"
	@echo "make test     every test (unit, property, handler-on-mocked-SDK, sample events)"
	@echo "make lint     rustfmt check + clippy with warnings as errors"

demo: venv
	$(VENV)/bin/python scripts/local_stack.py demo

invoke: venv
	$(VENV)/bin/python scripts/local_stack.py invoke $(EVENT)

build:
	$(CARGO) build --locked

release:
	$(CARGO) build --locked --release
	@ls -l $(BINARY) | awk '{ printf "%s: %d bytes\n", $$NF, $$5 }'

test: venv
	$(CARGO) test --locked --workspace

# Creates or updates the virtualenv when tools/requirements.txt changed since it was installed.
venv:
	@if ! cmp -s tools/requirements.txt $(VENV)/requirements.installed 2>/dev/null; then \
	  echo "installing tools/requirements.txt into $(VENV)"; \
	  python3 -m venv $(VENV) && \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt && \
	  cp tools/requirements.txt $(VENV)/requirements.installed; \
	fi

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
