#!/usr/bin/env bash
# Makes the README's screenshots (docs/*.png): the debug server (built by `cargo leptos build`)
# over a fresh database, a small team's data sent through the REST API and the real
# @sentry/node SDK, photographed signed in with Playwright in Debian's Chromium.
# Usage: scripts/screenshots.sh (after `make setup-test` and `cargo leptos build`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/isolated-server.sh

export FAULTLINE_ADMIN_EMAIL=ada@example.com FAULTLINE_ADMIN_PASSWORD="screenshot password"
export FAULTLINE_ADMIN_TOKEN="screenshots-automation-token-0123456789"
start_isolated_server shots debug "${FAULTLINE_SHOTS_PORT:-3125}"

cd end2end
FAULTLINE_E2E_URL="$base_url" node screenshots.mjs ../docs
