#!/usr/bin/env bash
# Writes the update feed for one release: signs every updatable artefact in
# DIR with the update key, bound to VERSION (the app requires that:
# requireSignedVersion; `tauri build` 2.12 leaves the version out), and
# writes DIR/latest.json naming each platform's artefact under BASE_URL.
# Called by .github/workflows/release.yml; docs/UPDATES.md.
#
# Usage: TAURI_SIGNING_PRIVATE_KEY=… [TAURI_SIGNING_PRIVATE_KEY_PASSWORD=…] \
#        bash scripts/release-feed.sh DIR VERSION BASE_URL
set -euo pipefail
dir=$1 version=$2 base=$3
[ -n "${TAURI_SIGNING_PRIVATE_KEY:-}" ] || { echo "release-feed.sh: TAURI_SIGNING_PRIVATE_KEY is not set" >&2; exit 1; }
TAURI_CLI=@tauri-apps/cli@2.12.6

entries=()
add() { # platform-key file
    local f=$dir/$2
    [ -f "$f" ] || return 0
    rm -f "$f.sig"
    npx --yes "$TAURI_CLI" signer sign --app-version "$version" "$f" >/dev/null
    entries+=("$(printf '"%s":{"signature":"%s","url":"%s/%s"}' "$1" "$(cat "$f.sig")" "$base" "$2")")
}
for f in "$dir"/*; do
    name=${f##*/}
    case $name in
        *_amd64.deb) add linux-x86_64-deb "$name" ;;
        *.x86_64.rpm) add linux-x86_64-rpm "$name" ;;
        *_amd64.AppImage) add linux-x86_64-appimage "$name"; add linux-x86_64 "$name" ;;
        *_x64_en-US.msi) add windows-x86_64-msi "$name"; add windows-x86_64 "$name" ;;
        *_x64-setup.exe) add windows-x86_64-nsis "$name" ;;
        *universal.app.tar.gz) add darwin-aarch64 "$name"; add darwin-x86_64 "$name" ;;
    esac
done
[ "${#entries[@]}" -gt 0 ] || { echo "release-feed.sh: no updatable artefact in $dir" >&2; exit 1; }
printf '{"version":"%s","pub_date":"%s","notes":"ChartSafe %s","platforms":{%s}}\n' \
    "$version" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$version" "$(IFS=,; echo "${entries[*]}")" >"$dir/latest.json"
echo "release-feed.sh: $dir/latest.json lists ${#entries[@]} platform entries"
