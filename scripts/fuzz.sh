#!/usr/bin/env bash
# Runs every cargo fuzz target (fuzz/fuzz_targets) for FUZZ_S seconds each
# (default 60) and prints a table of executions and findings.
#
#   make fuzz                 every target, 60 s each
#   FUZZ_S=300 make fuzz      longer
#   FUZZ_TARGETS="record tree" make fuzz
#   FUZZ_MERGE=1 make fuzz    then fold what was found into the committed,
#                             minimised corpus (fuzz/corpus, cargo fuzz cmin)
#
# New inputs go to fuzz/corpus-new/<target> (not committed); crashes to
# fuzz/artifacts/<target>/. Each crash, once fixed, is copied to
# fuzz/regressions/<target>/, which `make test` replays on stable
# (chartsafe_core::fuzzing tests). Exits 1 if any target found anything.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# The fuzzer needs nightly (sanitizer flags) and cargo-fuzz.
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: rustup toolchain install nightly" >&2
    rustup toolchain install nightly --profile minimal >&2
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz.sh: cargo install cargo-fuzz --locked" >&2
    cargo install cargo-fuzz --locked >&2
fi

seconds="${FUZZ_S:-60}"
targets="${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v chartsafe-fuzz)}"
cargo +nightly fuzz build >&2

failed=0
rows=()
for t in $targets; do
    mkdir -p "corpus-new/$t" "corpus/$t"
    log="$(mktemp)"
    # -timeout: an input taking 10 s is a hang; -rss_limit_mb: memory bound.
    set +e
    cargo +nightly fuzz run "$t" "corpus-new/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    peak=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    if [ "$rc" -eq 0 ]; then
        outcome="none"
    else
        outcome="FOUND (exit $rc): $(grep -m1 -oE 'ERROR: libFuzzer: [a-z-]+|panicked at [^ ]+' "$log" || echo see log)"
        failed=1
        cp "$log" "artifacts/$t.log" 2>/dev/null || { mkdir -p artifacts; cp "$log" "artifacts/$t.log"; }
    fi
    rows+=("| $t | $seconds s | ${execs:-?} | ${cov:-?} | ${peak:-?} MB | $outcome |")
    echo "fuzz.sh: $t: ${execs:-?} executions, $outcome" >&2
    rm -f "$log"
    if [ -n "${FUZZ_MERGE:-}" ]; then
        cp -n "corpus-new/$t"/* "corpus/$t/" 2>/dev/null || true
        cargo +nightly fuzz cmin "$t" "corpus/$t" >/dev/null 2>&1
    fi
done

echo
echo "| Fuzz target | Time | Executions | Coverage | Peak memory | Crashes, hangs, OOM |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
printf '%s\n' "${rows[@]}"
exit "$failed"
