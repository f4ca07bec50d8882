# glue-label-importer — build, test and lint. `make test` is what CI runs.
SHELL := /bin/bash
CARGO ?= cargo
# Where cargo puts its output (CI sets a persistent CARGO_TARGET_DIR outside the clone).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
BINARY := $(TARGET_DIR)/release/glue-label-importer

.PHONY: help build release test lint fmt clean

help:
	@echo "make build    debug build of the library and the Lambda binary"
	@echo "make release  optimized Lambda binary ($(BINARY))"
	@echo "make test     every test (unit, property, handler-on-mocked-SDK, sample events)"
	@echo "make lint     rustfmt check + clippy with warnings as errors"

build:
	$(CARGO) build --locked

release:
	$(CARGO) build --locked --release
	@ls -l $(BINARY) | awk '{ printf "%s: %d bytes\n", $$NF, $$5 }'

test:
	$(CARGO) test --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
