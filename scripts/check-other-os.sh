#!/usr/bin/env bash
# Type-checks the workspace, the app and every test included, for Windows and
# macOS, with clippy -D warnings. Nothing is linked and no Windows or macOS
# SDK is needed: the standard library for each target is built from source.
#
# Usage: bash scripts/check-other-os.sh [TRIPLE...]
#   default: x86_64-pc-windows-msvc aarch64-apple-darwin
#
# How: this machine's rustup cannot download other targets' standard
# libraries, so Debian's rustc-web, cargo-web, rust-web-clippy and
# rust-web-src (the library's source, matching that rustc) build it with
# -Zbuild-std (RUSTC_BOOTSTRAP=1 allows that flag on a stable compiler).
# clang and llvm (llvm-rc, llvm-ar) serve build scripts that compile C,
# Objective-C or the Windows resource (tauri-build, from icons/icon.ico).
# scripts/deps.sh (group `cross`) installs these packages.
#
# Not checked: chartsafe-e2e, the Linux end-to-end harness (Xvfb,
# WebKitWebDriver, gnome-keyring); its dev-dependencies compile C code that
# needs the target's C headers.
#
# All targets are checked by one cargo run in target/other-os, so the host
# build's artefacts are untouched. Its whole output is kept in
# target/other-os/check.log.
set -euo pipefail

cd "$(dirname "$0")/.."
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(x86_64-pc-windows-msvc aarch64-apple-darwin)

die() { echo "check-other-os: $*" >&2; exit 2; }

# Debian's toolchain, never rustup's: the library source must match rustc.
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
export CARGO=/usr/bin/cargo
CLIPPY=/usr/bin/cargo-clippy
[ -x "$RUSTC" ] && [ -x "$CARGO" ] && [ -x "$CLIPPY" ] \
    || die "no Debian rustc/cargo/clippy: run bash scripts/deps.sh cross"
version=$("$RUSTC" -V | awk '{print $2}')
src=$(readlink -f "$("$RUSTC" --print sysroot)/lib/rustlib/src/rust")
[ -d "$src/library/std" ] || die "no standard library source for rustc $version (rust-web-src)"
case $src in
    */rustc-"$version") ;;
    *) die "rustc $version but library source $src: rustc-web and rust-web-src differ" ;;
esac

knobs=(--features chartsafe-cli/test-knobs,chartsafe-app/test-knobs)
# One cargo run for every target, in one target folder: the build
# scripts and proc macros, which run on this machine, are built once
# instead of once per target, and both targets share the two cores.
td=target/other-os
mkdir -p "$td"
log=$td/check.log
target_args=()
for t in "${targets[@]}"; do
    target_args+=(--target "$t")
    # C compiler, archiver and resource compiler for this target's build
    # scripts.
    tu=${t//-/_}
    export "CC_$tu=clang" "AR_$tu=llvm-ar" "RC_$tu=llvm-rc"
done
start=$(date +%s)
failed=()
if "$CLIPPY" clippy --workspace --exclude chartsafe-e2e --all-targets --locked --keep-going \
    "${knobs[@]}" "${target_args[@]}" --target-dir "$td" -Zbuild-std=std,panic_abort \
    --message-format=short -- -D warnings >"$log" 2>&1; then
    verdict=ok
else
    verdict=FAILED
    failed=("${targets[@]}")
    # The project's own findings (relative paths), then cargo's verdict.
    grep -E '^[^ /][^: ]*:[0-9]+:[0-9]+: (error|warning)|^error' "$log" \
        | grep -v '^error: could not compile' | awk '!seen[$0]++' | head -60 >&2 || true
fi
printf 'check-other-os: %s: %s in %s s (rustc %s, clippy -D warnings)\n' \
    "${targets[*]}" "$verdict" "$(( $(date +%s) - start ))" "$version"
[ "${#failed[@]}" -eq 0 ] || die "failed for ${failed[*]}; full output in target/other-os/check.log"
