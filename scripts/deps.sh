#!/usr/bin/env bash
# Installs what the project's tests and benchmarks need, only if missing.
# Prints nothing and exits 0 when everything is already present.
#
# Usage: bash scripts/deps.sh GROUP...
#   build  packages needed to build the CLI and the desktop app (WebKitGTK,
#          libdbus for the keychain) and run them
#   test   packages for `make test` (keyring session, sync peers, Xvfb and
#          WebKitWebDriver for the app tests), `tauri-driver` and `cargo-deny`
#          (cargo install)
#   cross  Debian's rustc, cargo, clippy and standard library source, clang
#          and llvm: type-checking for Windows and macOS
#          (scripts/check-other-os.sh); part of the test group
#   dist   build group + debootstrap and npm (the Tauri bundler comes from
#          npm; the .deb is tested in a clean Debian root); part of test
#   bench  test group + rclone and hyperfine, and `rage` (cargo install)
set -euo pipefail

BUILD_PKGS=(libdbus-1-dev pkg-config gnome-keyring dbus dbus-x11
            build-essential libwebkit2gtk-4.1-dev libxdo-dev libssl-dev
            libayatana-appindicator3-dev librsvg2-dev xdg-utils)
TEST_PKGS=("${BUILD_PKGS[@]}" age unison rsync libsecret-tools time e2fsprogs locales
           jq xvfb xauth webkit2gtk-driver nodejs)
CROSS_PKGS=(rustc-web cargo-web rust-web-clippy rust-web-src clang llvm)
DIST_PKGS=("${BUILD_PKGS[@]}" debootstrap)
TEST_PKGS+=("${CROSS_PKGS[@]}" debootstrap)
BENCH_PKGS=("${TEST_PKGS[@]}" rclone hyperfine)

die() { echo "deps.sh: $*" >&2; exit 1; }

[ "$#" -gt 0 ] || die "usage: $0 GROUP... (groups: build, test, cross, dist, bench)"

want=()
cargo_tools=()
for group in "$@"; do
    case "$group" in
        build) want+=("${BUILD_PKGS[@]}") ;;
        test)  want+=("${TEST_PKGS[@]}"); cargo_tools+=(tauri-driver cargo-deny) ;;
        cross) want+=("${CROSS_PKGS[@]}") ;;
        dist)  want+=("${DIST_PKGS[@]}") ;;
        bench) want+=("${BENCH_PKGS[@]}"); cargo_tools+=(rage) ;;
        *)     die "unknown group '$group' (groups: build, test, cross, dist, bench)" ;;
    esac
done

# npx: in Debian's `npm` package; NodeSource's `nodejs` ships it itself.
case " $* " in
    *" test "*|*" dist "*) command -v npx >/dev/null 2>&1 || want+=(npm) ;;
esac

missing=()
for pkg in "${want[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        case " ${missing[*]-} " in
            *" $pkg "*) ;;
            *) missing+=("$pkg") ;;
        esac
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        die "missing packages: ${missing[*]}; not root and sudo is not available. Install them as root: apt-get install ${missing[*]}"
    fi
    echo "deps.sh: installing ${missing[*]}" >&2
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq "${missing[@]}" >/dev/null
fi

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
command -v cargo >/dev/null 2>&1 \
    || die "cargo is not on PATH: install the Rust toolchain (rustup, Rust 1.90 or newer) first"

# Cargo-installed tools (benchmark peers). This is a cargo build; only the
# bench group asks for it.
if [ "${#cargo_tools[@]}" -gt 0 ]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    for tool in "${cargo_tools[@]}"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            command -v cargo >/dev/null 2>&1 \
                || die "'$tool' is missing and cargo is not on PATH"
            echo "deps.sh: cargo install $tool --locked" >&2
            cargo install "$tool" --locked
        fi
    done
fi
