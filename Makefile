# redis-kafka: build, test and try the module. `make` builds; `make help` lists targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# rustup installs cargo here on a fresh machine (scripts/deps.sh).
export PATH := $(HOME)/.cargo/bin:$(PATH)

.DEFAULT_GOAL := build
.PHONY: build deps deps-runtime test run lint help bench bench-smoke bench-cluster fuzz soak

help:
	@echo 'make build   install what building needs, then cargo build --release (default)'
	@echo 'make deps    install everything missing, test tools too (scripts/deps.sh), write target/deps.env'
	@echo 'make test    deps + release build + all tests'
	@echo 'make run     runtime deps + build, then redis-server with the module on 127.0.0.1:$${PORT:-6379}'
	@echo 'make lint    cargo fmt --check + clippy -D warnings'
	@echo 'make fuzz    property tests with 2,000,000 cases each + 200,000 live commands per server'
	@echo 'make soak    10-minute chaos soak (SOAK_SECONDS=...): kills, restarts, rebalances'
	@echo 'make bench   throughput/latency table against Tansu and baselines (BENCHMARKS.md;'
	@echo '             BENCH_RECORDS, BENCH_RUNS, BENCH_KEYS...; ARGS="--records 100000")'
	@echo 'make bench-smoke  the same with 2000 records and one run (< 2 minutes)'
	@echo 'make bench-cluster  sink and source throughput on Redis Cluster with 1, 2, 3 primaries'

deps:
	scripts/deps.sh

# What building and running need, without the test-only tools (Tansu, OpenSSL 1.1 for Redis 7.4,
# test-only PyPI packages): `make run` on a fresh machine is ready in minutes.
deps-runtime:
	scripts/deps.sh --runtime

build: deps-runtime
	cargo build --release

test: deps
	cargo build --release
	@# A tiny benchmark run keeps the bench code working; its figures are not checked.
	. target/deps.env && BENCH_RECORDS=2000 BENCH_RUNS=1 BENCH_LATENCY_SAMPLES=2000 \
		BENCH_IDLE_MS=500 cargo run --release --example bench > target/bench-smoke.txt 2>&1 \
		|| { cat target/bench-smoke.txt; exit 1; }
	@# SOAK_SECONDS: the chaos soak's 2-minute CI version (make soak runs 10 minutes).
	. target/deps.env && SOAK_SECONDS=$${SOAK_SECONDS:-120} cargo test --release -- --test-threads=4

run: build
	scripts/run.sh

# Issue 10: property tests (every unit test; the properties run FUZZ_CASES each), then the
# live fuzzer against Redis 7.0 and Valkey 8.1. `make test` runs both with fewer cases.
fuzz: deps
	cargo build --release
	FUZZ_CASES=$${FUZZ_CASES:-2000000} cargo test --release --lib
	. target/deps.env && FUZZ_COMMANDS=$${FUZZ_COMMANDS:-200000} cargo test --release --test fuzz_live -- --nocapture

# Issue 10: a STREAM sink and a source flat out for 10 minutes while brokers are killed, Redis is
# kill -9'd (AOF always), bridges pause and groups rebalance; prints records, faults, loss,
# duplicates and RSS.
soak: deps
	cargo build --release
	. target/deps.env && SOAK_SECONDS=$${SOAK_SECONDS:-600} cargo test --release --test soak -- --nocapture

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

# Benchmarks (issue 7, BENCHMARKS.md). Settings come from BENCH_* variables or ARGS, e.g.
# `make bench BENCH_RECORDS=200000 BENCH_RUNS=1` or `make bench ARGS="--records 200000"`.
bench: deps
	@# A second build that counts the module's allocations (KAFKA.DEBUG ALLOCATIONS); only
	@# this crate is rebuilt for it.
	cargo build --release --features count-allocations
	cp target/release/libredis_kafka.so target/libredis_kafka-counting.so
	cargo build --release
	. target/deps.env && REDIS_KAFKA_COUNTING_MODULE=target/libredis_kafka-counting.so \
		cargo run --release --example bench -- $(ARGS)

bench-cluster: deps
	cargo build --release
	. target/deps.env && cargo test --release --test cluster_scaling -- --ignored --nocapture

bench-smoke: deps
	cargo build --release
	. target/deps.env && BENCH_RECORDS=2000 BENCH_RUNS=1 BENCH_LATENCY_SAMPLES=2000 \
		BENCH_IDLE_MS=500 cargo run --release --example bench -- $(ARGS)
