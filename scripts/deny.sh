#!/usr/bin/env bash
# Checks the dependency tree against deny.toml: licences, banned crates and
# sources always (offline), security advisories when the RustSec database
# can be fetched (it lives on GitHub, which some networks cannot reach).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

cargo deny --locked check licenses bans sources

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if cargo deny --locked check advisories >"$log" 2>&1; then
    echo "deny.sh: advisories ok"
elif grep -q "failed to fetch advisory database" "$log"; then
    echo "deny.sh: advisories not checked: the RustSec database could not be fetched from this network"
else
    cat "$log" >&2
    exit 1
fi
