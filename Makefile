# ChartSafe developer entry points. CI runs `make test` (see .ci/run).

SHELL := /bin/bash
# Find cargo/rustup even under a minimal PATH.
export PATH := $(HOME)/.cargo/bin:$(PATH)
# End-to-end tests run these binaries.
export CHARTSAFE_BIN := $(CURDIR)/target/release/chartsafe
export CHARTSAFE_APP_BIN := $(CURDIR)/target/release/chartsafe-app

CARGO ?= cargo
# Build exactly what Cargo.lock pins, when there is one.
LOCKED := $(if $(wildcard Cargo.lock),--locked,)
# Tests and benchmarks drive the binaries through environment knobs (a
# cheaper KDF, separate keychains, a stand-in opener) that only exist with
# this feature; `make build` and `make run` build the binaries without them.
KNOBS := --features chartsafe-cli/test-knobs,chartsafe-app/test-knobs

.PHONY: all deps build test run dist bench fuzz stress scale screenshots clean

all: build

deps:
	@bash scripts/deps.sh test

build:
	$(CARGO) build --workspace --release $(LOCKED)

# Everything in release so only one profile is compiled. The app tests
# (tests/app) open the real window under Xvfb through tauri-driver.
test: deps
	$(CARGO) fmt --all -- --check
	bash scripts/deny.sh
	$(CARGO) clippy --workspace --all-targets --release $(LOCKED) $(KNOBS) -- -D warnings
	bash scripts/check-other-os.sh
	node --test ui/tests
	$(CARGO) build --release $(LOCKED) $(KNOBS) --bin chartsafe --bin chartsafe-app
	bash scripts/with-keyring.sh $(CARGO) test --workspace --release $(LOCKED) $(KNOBS)
	bash scripts/actionlint.sh
	bash scripts/test-deb.sh

# The Linux installers (.deb, .rpm; AppImage where GitHub is reachable),
# stripped LTO binaries with the command, man page and completions inside,
# in target/dist/bundle. Windows and macOS: .github/workflows/release.yml.
dist:
	bash scripts/dist.sh

# Builds and opens the desktop app (needs a graphical session).
run:
	@bash scripts/deps.sh build
	$(CARGO) build --release $(LOCKED) --bin chartsafe --bin chartsafe-app
	@if [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
		echo "make run: no graphical session (DISPLAY and WAYLAND_DISPLAY are unset)."; \
		echo "Run it from a desktop session, or headless: xvfb-run target/release/chartsafe-app"; \
		exit 1; \
	fi
	target/release/chartsafe-app

bench:
	@bash scripts/deps.sh bench test
	$(CARGO) build --release $(LOCKED) $(KNOBS) --bin chartsafe --bin chartsafe-app
	bash scripts/with-keyring.sh bash scripts/bench.sh
	bash scripts/with-keyring.sh $(CARGO) test --release $(LOCKED) -p chartsafe-e2e --test app \
		measure_app_figures -- --ignored --nocapture 2>/dev/null | grep '^|'
	@echo
	@echo "| A newcomer's first run | Actions | Time | Goal | Ratio |"
	@echo "| --- | ---: | ---: | --- | --- |"
	bash scripts/with-keyring.sh $(CARGO) test --release $(LOCKED) -p chartsafe-e2e --test app \
		measure_first_run -- --ignored --nocapture 2>/dev/null | grep '^|'
	@echo
	@echo "| Audit log | Count | Time | Rate | Ratio (>1 = faster than the peer) |"
	@echo "| --- | ---: | ---: | ---: | --- |"
	$(CARGO) test --release $(LOCKED) -p chartsafe-core --test measure_audit \
		-- --ignored --nocapture 2>/dev/null | grep '^|'
	@echo
	@echo "| Team | Count | Time | What | Ratio (>1 = faster than the peer) |"
	@echo "| --- | ---: | ---: | --- | --- |"
	$(CARGO) test --release $(LOCKED) -p chartsafe-core --test measure_team \
		-- --ignored --nocapture 2>/dev/null | grep '^|'
	@echo
	@echo "| Hostile input and signatures | Files | Time or size | What | Ratio |"
	@echo "| --- | ---: | ---: | --- | --- |"
	$(CARGO) test --release $(LOCKED) -p chartsafe-core --test measure_hostile \
		-- --ignored --nocapture 2>/dev/null | grep '^|'

# Every screen and state of the window at 1280x800 and 1024x700, light and
# dark, checked with axe-core and the Tab key (tests/app/screens.rs), copied
# to docs/screenshots/screens/ to be looked at and committed.
screenshots: deps
	$(CARGO) build --release $(LOCKED) $(KNOBS) --bin chartsafe --bin chartsafe-app
	CHARTSAFE_UPDATE_SCREENSHOTS=1 bash scripts/with-keyring.sh $(CARGO) test --release $(LOCKED) \
		$(KNOBS) -p chartsafe-e2e --test app every_screen

# Every cargo fuzz target for FUZZ_S seconds each (default 60); needs the
# nightly toolchain, which scripts/fuzz.sh installs with cargo-fuzz if missing.
# FUZZ_TARGETS="record tree" picks targets; FUZZ_MERGE=1 folds new inputs
# into the committed, minimised corpus.
fuzz:
	bash scripts/fuzz.sh

# Crash trials at scale: CHARTSAFE_STRESS_TRIALS per operation (default 50,
# 300 in all) of six operations killed at random points; a table of outcomes.
stress: deps
	$(CARGO) build --release $(LOCKED) $(KNOBS) --bin chartsafe
	bash scripts/with-keyring.sh $(CARGO) test --release $(LOCKED) -p chartsafe-e2e --test e2e \
		crash_trials_at_scale -- --ignored --nocapture 2>/dev/null | grep '^|'

# Scale: 1k, 10k and 100k-file vaults written by 10 devices, and a 20 GiB
# file (SCALE_SIZES, SCALE_BIG_GIB, SCALE_DIR; see scripts/scale.sh).
scale:
	@bash scripts/deps.sh bench
	$(CARGO) build --release $(LOCKED) $(KNOBS) --bin chartsafe
	bash scripts/with-keyring.sh bash scripts/scale.sh

clean:
	$(CARGO) clean
