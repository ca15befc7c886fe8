#!/usr/bin/env bash
# Installs the build and test tools faultline needs, when they are missing:
# the wasm32 target, cargo-leptos 0.3.10, the wasm-bindgen CLI at exactly Cargo.lock's version,
# wasm-opt (npm binaryen 132, never Debian's binaryen 108), and with --test also Debian's
# Chromium, the npm packages in end2end/ (Playwright, the Sentry JavaScript SDKs, esbuild) and
# sentry-python in a virtualenv. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=false
[ "${1:-}" = "--test" ] && want_test=true

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  if ! is_root; then
    echo "error: $* missing; install it with: sudo apt-get install -y $*" >&2
    exit 1
  fi
  if [ -z "${FAULTLINE_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export FAULTLINE_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v cargo >/dev/null || { echo "error: Rust (cargo) is required: https://rustup.rs" >&2; exit 1; }
command -v npm >/dev/null || { echo "error: Node.js 20+ with npm is required" >&2; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# cargo-leptos 0.3.11 needs a newer rustc than 1.95: keep 0.3.10.
if ! cargo leptos --version 2>/dev/null | grep -qx 'cargo-leptos 0.3.10'; then
  say "installing cargo-leptos 0.3.10 (one time, about 13 minutes on 2 cores)"
  cargo install cargo-leptos@0.3.10 --locked
fi

# The CLI must match the wasm-bindgen crate exactly; --locked does not resolve on crates.io here.
wb=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $wb"; then
  say "installing wasm-bindgen-cli $wb (one time, about 4 minutes)"
  cargo install wasm-bindgen-cli --version "$wb" --force
fi

# Debian's binaryen 108 silently breaks hydration of release builds; npm's binaryen 132 works.
if ! wasm-opt --version 2>/dev/null | grep -q 'version 132'; then
  say "installing wasm-opt (npm binaryen@132.0.0)"
  if is_root; then
    npm install -g --prefix /usr/local binaryen@132.0.0 >/dev/null
  else
    npm install -g --prefix "$HOME/.local" binaryen@132.0.0 >/dev/null
    export PATH="$HOME/.local/bin:$PATH"
  fi
fi
if wasm-opt --version 2>/dev/null | grep -q 'version 108'; then
  echo "error: $(command -v wasm-opt) is binaryen 108, which breaks release builds; put binaryen 132 first on PATH" >&2
  exit 1
fi

if $want_test; then
  # The Rust sentry crate (a test dependency) uses its default native-tls transport.
  if ! pkg-config --exists openssl 2>/dev/null; then
    say "installing libssl-dev and pkg-config (for the Rust sentry SDK in the tests)"
    apt_install libssl-dev pkg-config
  fi
  # sentry-python and aiosmtpd (the SMTP server the alert tests mail to), in a virtualenv under
  # the build directory.
  venv="${CARGO_TARGET_DIR:-target}/sdk-venv"
  if ! "$venv/bin/python" -c 'import sentry_sdk, aiosmtpd, sys; sys.exit(sentry_sdk.VERSION != "2.75.0" or aiosmtpd.__version__ != "1.4.6")' 2>/dev/null; then
    say "installing sentry-python 2.75.0 and aiosmtpd 1.4.6 into $venv"
    command -v python3 >/dev/null || apt_install python3 python3-venv
    python3 -m venv "$venv" || { apt_install python3-venv && python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q --disable-pip-version-check sentry-sdk==2.75.0 aiosmtpd==1.4.6
  fi
  if ! command -v "${CHROMIUM_PATH:-chromium}" >/dev/null; then
    say "installing Debian's chromium (for the browser tests)"
    apt_install chromium
  fi
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    say "installing end2end/ npm packages (Playwright without a browser download, Sentry SDKs)"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix end2end --no-audit --no-fund >/dev/null
  fi
fi
