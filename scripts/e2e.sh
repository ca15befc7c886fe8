#!/usr/bin/env bash
# Runs the browser tests: the debug server (already built by `cargo leptos build`) on its own
# port, over a fresh database and its own Redis prefix, driven by Playwright in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/isolated-server.sh

# The first admin, as FAULTLINE_ADMIN_* set it; the specs sign in with it.
export FAULTLINE_ADMIN_EMAIL=e2e-admin@example.com FAULTLINE_ADMIN_PASSWORD="e2e admin password"
# The alert spec posts to a receiver on this machine.
export FAULTLINE_ALERTS_ALLOW_PRIVATE_TARGETS=true
start_isolated_server e2e debug "${FAULTLINE_E2E_PORT:-3123}"

cd end2end
FAULTLINE_E2E_URL="$base_url" FAULTLINE_E2E_ADMIN_EMAIL="$FAULTLINE_ADMIN_EMAIL" \
  FAULTLINE_E2E_ADMIN_PASSWORD="$FAULTLINE_ADMIN_PASSWORD" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test "$@" || {
  echo "--- server log ---" >&2
  tail -n 50 "$log" >&2 || true
  exit 1
}
