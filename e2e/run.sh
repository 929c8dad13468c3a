#!/usr/bin/env bash
# Browser end-to-end test of the web client: run.mjs starts the messenger on a fresh SQLite database
# (and stops and restarts it in one step), drives two people through headless Chromium
# (playwright-core), saves screenshots and prints the rendering figures it measures.
#
#   MESSENGER_BIN   the server binary (default: target/debug/messenger, relative to the repository)
#   E2E_PORT        port to listen on (default: a free one)
#   KEEP_SERVER_LOG set to keep the server log in e2e/screenshots/server.log even on success
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

bin="${MESSENGER_BIN:-target/debug/messenger}"
[[ "$bin" = /* ]] || bin="$root/$bin"
if [[ ! -x "$bin" ]]; then
  echo "e2e: server binary $bin not found; build it first (cargo build -p api) or set MESSENGER_BIN" >&2
  exit 1
fi

# Chromium from Debian's packages (npx playwright install cannot download here).
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" != 0 ]]; then
    echo "e2e: /usr/bin/chromium is missing; install it as root: apt-get install -y chromium" >&2
    exit 1
  fi
  echo "e2e: installing chromium…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
fi

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

shots="$here/screenshots"
rm -rf "$shots"
mkdir -p "$shots"

tmp="$(mktemp -d)"
cleanup() {
  local status=$?
  # run.mjs stops its server; this is for a run that was interrupted.
  if [[ -f "$tmp/server.pid" ]]; then
    pid="$(cat "$tmp/server.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
  fi
  if [[ $status -ne 0 || -n "${KEEP_SERVER_LOG:-}" ]]; then
    cp "$tmp/server.log" "$shots/server.log" 2>/dev/null || true
    echo "e2e: server log: $shots/server.log"
  fi
  rm -rf "$tmp"
  echo "e2e: screenshots in $shots"
  exit $status
}
trap cleanup EXIT INT TERM

port="${E2E_PORT:-$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}"

# The server's environment (rate limits off for the 5,000-message step, a one-second presence grace)
# is set in run.mjs, which starts it.
MESSENGER_BIN="$bin" \
E2E_PORT="$port" \
E2E_DATABASE_URL="sqlite://$tmp/e2e.db?mode=rwc" \
E2E_SERVER_LOG="$tmp/server.log" \
E2E_SERVER_PID="$tmp/server.pid" \
SCREENSHOT_DIR="$shots" \
  node "$here/run.mjs"
