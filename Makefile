# redis-kafka: build, test and try the module. `make` builds; `make help` lists targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# rustup installs cargo here on a fresh machine (scripts/deps.sh).
export PATH := $(HOME)/.cargo/bin:$(PATH)

.DEFAULT_GOAL := build
.PHONY: build deps test run lint help

help:
	@echo 'make build   install missing deps, then cargo build --release (default)'
	@echo 'make deps    install what is missing (scripts/deps.sh), write target/deps.env'
	@echo 'make test    deps + release build + all tests'
	@echo 'make run     deps + build, then redis-server with the module on 127.0.0.1:$${PORT:-6379}'
	@echo 'make lint    cargo fmt --check + clippy -D warnings'

deps:
	scripts/deps.sh

build: deps
	cargo build --release

test: deps
	cargo build --release
	. target/deps.env && cargo test --release -- --test-threads=4

run: build
	scripts/run.sh

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
