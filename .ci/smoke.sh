#!/usr/bin/env bash
# The container job's smoke test (docker/smoke.py), run here against a server binary started locally: the
# same script, the same checks, through the same kind of port. The server runs as in docker-compose.yml:
# Redis as the bus when one answers on 127.0.0.1:6379, /metrics only on a METRICS_ADDR of its own and
# behind a METRICS_TOKEN. Then the scrape it leaves behind is held against the dashboard, the alert
# rules and README (.ci/check-monitoring.py).
#   MESSENGER_BIN  the server binary (default: $CARGO_TARGET_DIR/debug/messenger or target/debug/messenger)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${MESSENGER_BIN:-${CARGO_TARGET_DIR:-target}/debug/messenger}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dir=$(mktemp -d)
port=$(free_port)
metrics_port=$(free_port)
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
redis_url=""
if redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis_url=redis://127.0.0.1:6379
fi
DATABASE_URL="sqlite://$dir/smoke.db?mode=rwc" LISTEN_ADDR="127.0.0.1:$port" METRICS_ADDR="127.0.0.1:$metrics_port" \
  METRICS_TOKEN="$token" REDIS_URL="$redis_url" REDIS_CHANNEL="smoke:$port" BCRYPT_COST=4 LOG_FORMAT=json \
  RUST_LOG=info "$bin" serve >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
echo "::: smoke test against $base (bus: ${redis_url:-in-process}; metrics on 127.0.0.1:$metrics_port)"

if ! METRICS_URL="http://127.0.0.1:$metrics_port/metrics" METRICS_TOKEN="$token" python3 docker/smoke.py "$base"; then
  echo "server log:" >&2; tail -n 30 "$dir/server.log" >&2
  exit 1
fi

# The metrics listener and its token, as configured.
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[[ $(status "$base/metrics") == 404 ]] || { echo "/metrics is served on LISTEN_ADDR although METRICS_ADDR is set" >&2; exit 1; }
[[ $(status "http://127.0.0.1:$metrics_port/metrics") == 401 ]] || { echo "/metrics answers without the token" >&2; exit 1; }
curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$metrics_port/metrics" >"$dir/metrics.txt"
echo "ok   /metrics only on METRICS_ADDR, 401 without METRICS_TOKEN"

# Every line the WebSocket connections logged carries the request id of their upgrade.
python3 - "$dir/server.log" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ws = [l for l in lines if any(s.get("name") == "websocket" for s in l.get("spans", []))]
assert ws, "no log line of a WebSocket connection"
for line in ws:
    span = next(s for s in line["spans"] if s.get("name") == "websocket")
    assert span.get("request_id") and span.get("connection"), line
print(f"ok   {len(ws)} WebSocket log lines carry their upgrade's request id and a connection id")
PY

python3 .ci/check-monitoring.py "$dir/metrics.txt"
