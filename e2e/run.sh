#!/usr/bin/env bash
# Browser end-to-end test of the web client: starts the messenger on a fresh SQLite database,
# drives two users through headless Chromium (playwright-core), saves screenshots.
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
server_pid=""
cleanup() {
  local status=$?
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
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
base="http://127.0.0.1:$port"

DATABASE_URL="sqlite://$tmp/e2e.db?mode=rwc" \
LISTEN_ADDR="127.0.0.1:$port" \
JWT_SECRET="e2e-secret-for-the-browser-test-only-0123456789" \
RUST_LOG="${RUST_LOG:-info}" \
  "$bin" serve >"$tmp/server.log" 2>&1 &
server_pid=$!

echo "e2e: waiting for $base/healthz"
for _ in $(seq 1 300); do
  if curl -fsS "$base/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "e2e: the server exited early:" >&2
    tail -n 50 "$tmp/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS "$base/healthz" >/dev/null

BASE_URL="$base" SCREENSHOT_DIR="$shots" node "$here/run.mjs"
