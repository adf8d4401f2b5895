# ChartSafe developer entry points. CI runs `make test` (see .ci/run).

SHELL := /bin/bash
# Find cargo/rustup even under a minimal PATH.
export PATH := $(HOME)/.cargo/bin:$(PATH)
# End-to-end tests run this binary.
export CHARTSAFE_BIN := $(CURDIR)/target/release/chartsafe

CARGO ?= cargo
# Build exactly what Cargo.lock pins, when there is one.
LOCKED := $(if $(wildcard Cargo.lock),--locked,)

.PHONY: all deps build test run bench clean

all: build

deps:
	@bash scripts/deps.sh test

build:
	$(CARGO) build --workspace --release $(LOCKED)

# Everything in release so only one profile is compiled.
test: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --release $(LOCKED) -- -D warnings
	$(CARGO) build --release $(LOCKED) --bin chartsafe
	bash scripts/with-keyring.sh $(CARGO) test --workspace --release $(LOCKED)

run:
	@bash scripts/deps.sh build
	$(CARGO) build --release $(LOCKED) --bin chartsafe
	target/release/chartsafe --help

bench:
	@bash scripts/deps.sh bench
	$(CARGO) build --release $(LOCKED) --bin chartsafe
	bash scripts/with-keyring.sh bash scripts/bench.sh

clean:
	$(CARGO) clean
