#!/usr/bin/env bash
# Builds the Linux installers into target/<profile>/bundle: a .deb and an
# .rpm, each holding the app (/usr/bin/chartsafe-app), the command
# (/usr/bin/chartsafe), its man page and its bash, zsh and fish
# completions; and an AppImage where its tools can be downloaded.
#
# Usage: bash scripts/dist.sh [BUNDLES]   (default: deb,rpm,appimage)
#        bash scripts/dist.sh --prepare   only the command, man page and
#                                         completions (release.yml)
# Environment:
#   DIST_PROFILE   cargo profile (default `dist`: fat LTO, one codegen
#                  unit, stripped; see Cargo.toml). scripts/test-deb.sh
#                  packages the `release` profile to stay within CI time.
#   DIST_CONFIG    more Tauri configuration (JSON) merged last, e.g. the
#                  version or the update key of a test build.
#   TAURI_SIGNING_PRIVATE_KEY (and _PASSWORD)   signs the update artefacts
#                  (.sig beside each bundle; docs/UPDATES.md). Without it
#                  no update artefacts are made.
#   DIST_REQUIRE_APPIMAGE=1   fail when the AppImage cannot be built.
#
# The binaries carry no test knobs. The bundler is the Tauri CLI from npm,
# pinned below to the tauri crate's minor version. Windows (.msi, NSIS) and
# macOS (.dmg) installers are built by .github/workflows/release.yml.
#
# AppImage: Tauri's bundler downloads linuxdeploy and its GTK plugin from
# GitHub releases. Where GitHub cannot be reached (this project's CI
# machine), the AppImage is skipped with a message and the other bundles
# are still built.
set -euo pipefail

cd "$(dirname "$0")/.."
TAURI_CLI=@tauri-apps/cli@2.12.6
bundles=${1:-deb,rpm,appimage}
profile=${DIST_PROFILE:-dist}
out=target/$profile

bash scripts/deps.sh dist
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
command -v npx >/dev/null || { echo "dist.sh: npx (nodejs, npm) is needed for the Tauri bundler" >&2; exit 1; }

# The command, its man page and completions.
cargo build --profile "$profile" --locked --bin chartsafe
share=$out/share
mkdir -p "$share"
"$out/chartsafe" manpage | gzip -9n >"$share/chartsafe.1.gz"
"$out/chartsafe" completions bash >"$share/chartsafe.bash"
"$out/chartsafe" completions zsh >"$share/_chartsafe"
"$out/chartsafe" completions fish >"$share/chartsafe.fish"
[ "$bundles" != --prepare ] || exit 0

# Where each of them goes in the packages (paths relative to src-tauri).
files=$out/bundle-files.json
r=../$out
cat >"$files" <<JSON
{"bundle": {"linux": {
  "deb": {"files": {
    "/usr/bin/chartsafe": "$r/chartsafe",
    "/usr/share/man/man1/chartsafe.1.gz": "$r/share/chartsafe.1.gz",
    "/usr/share/bash-completion/completions/chartsafe": "$r/share/chartsafe.bash",
    "/usr/share/zsh/vendor-completions/_chartsafe": "$r/share/_chartsafe",
    "/usr/share/fish/vendor_completions.d/chartsafe.fish": "$r/share/chartsafe.fish"}},
  "rpm": {"files": {
    "/usr/bin/chartsafe": "$r/chartsafe",
    "/usr/share/man/man1/chartsafe.1.gz": "$r/share/chartsafe.1.gz",
    "/usr/share/bash-completion/completions/chartsafe": "$r/share/chartsafe.bash",
    "/usr/share/zsh/site-functions/_chartsafe": "$r/share/_chartsafe",
    "/usr/share/fish/vendor_completions.d/chartsafe.fish": "$r/share/chartsafe.fish"}},
  "appimage": {"files": {
    "/usr/bin/chartsafe": "$r/chartsafe",
    "/usr/share/man/man1/chartsafe.1.gz": "$r/share/chartsafe.1.gz"}}
}}}
JSON
extra=()
[ -z "${DIST_CONFIG:-}" ] || extra=(--config "$DIST_CONFIG")
[ -n "${TAURI_SIGNING_PRIVATE_KEY:-}" ] || extra+=(--config '{"bundle":{"createUpdaterArtifacts":false}}')

build() { # bundles
    (cd src-tauri && npx --yes "$TAURI_CLI" build --ci --bundles "$1" \
        --config tauri.dist.conf.json --config "../$files" "${extra[@]}" \
        -- --profile "$profile" --locked)
}

linux=$(echo ",$bundles," | sed 's/,appimage,/,/g; s/^,*//; s/,*$//')
[ -z "$linux" ] || build "$linux"
case ,$bundles, in
    *,appimage,*)
        if ! build appimage >"$out/appimage.log" 2>&1; then
            if [ "${DIST_REQUIRE_APPIMAGE:-}" = 1 ]; then
                cat "$out/appimage.log" >&2
                exit 1
            fi
            echo "dist.sh: AppImage skipped: its tools (linuxdeploy) could not be downloaded from GitHub; see $out/appimage.log" >&2
        fi ;;
esac

echo "dist.sh: bundles in $out/bundle:"
find "$out/bundle" -maxdepth 2 -type f \( -name '*.deb' -o -name '*.rpm' -o -name '*.AppImage' -o -name '*.sig' \) \
    -printf '  %f  %s bytes\n' 2>/dev/null | sort
