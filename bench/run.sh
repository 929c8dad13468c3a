#!/usr/bin/env bash
# The standard benchmark set (BENCHMARKS.md): a release server on a fresh PostgreSQL database on this
# machine, loaded by crates/loadgen. Results: one JSON line per run in $OUT, and a summary of medians.
#   PG_URL   admin URL of PostgreSQL (default postgres://postgres@127.0.0.1:5432/postgres)
#   REDIS    Redis URL for the two-instance run (default redis://127.0.0.1:6379)
#   RUNS     runs per benchmark (default 3)    ONLY   one of: throughput latency idle history sync scaleout
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS=${REDIS:-redis://127.0.0.1:6379}
export RUNS=${RUNS:-3}
export OUT=${OUT:-$PWD/bench/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
ONLY=${ONLY:-}
TARGET=${CARGO_TARGET_DIR:-target}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cargo build --release -p api -p loadgen
export LOADGEN=$TARGET/release/loadgen
db="bench_$(date +%s)"
psql "$PG_URL" -qc "CREATE DATABASE $db"
db_url="${PG_URL%/*}/$db"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap cleanup EXIT

start() { # port, extra env…
  local port=$1; shift
  env DATABASE_URL="$db_url" LISTEN_ADDR="127.0.0.1:$port" JWT_SECRET=bench-secret-0123456789abcdef0123456789abcdef BCRYPT_COST=4 \
    RATE_SEND_PER_SEC=0 RATE_REQUEST_PER_SEC=0 RATE_AUTH_PER_SEC=0 WS_MAX_CONNECTIONS_PER_USER=0 DB_MAX_CONNECTIONS="${DB_MAX_CONNECTIONS:-16}" RUST_LOG=warn "$@" \
    "$TARGET/release/messenger" serve >"bench/server-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "server on $port did not start" >&2; return 1
}

stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  pids=()
}
want() { [[ -z "$ONLY" || "$ONLY" == "$1" ]]; }
export BASE_URL=http://127.0.0.1:18080

start 18080
export SERVER_PID=${pids[0]}
for name in throughput latency; do
  want "$name" && ONLY=$name bash crates/loadgen/bench.sh
done
# c. a fresh server per run: what an allocator kept from the previous run's 10,000 connections would
# otherwise count as this run's.
if want idle; then
  for _ in $(seq "$RUNS"); do
    stop_all; start 18080; export SERVER_PID=${pids[0]}
    ONLY=idle RUNS=1 bash crates/loadgen/bench.sh
  done
fi
want history && ONLY=history bash crates/loadgen/bench.sh
want sync && ONLY=sync bash crates/loadgen/bench.sh
if want scaleout; then
  # e. the same load as (a), spread over two instances joined by Redis.
  stop_all
  start 18081 REDIS_URL="$REDIS" REDIS_CHANNEL="$db"
  start 18082 REDIS_URL="$REDIS" REDIS_CHANNEL="$db"
  for run in $(seq "$RUNS"); do
    line=$("$LOADGEN" --base-url http://127.0.0.1:18081 --ws-urls http://127.0.0.1:18081,http://127.0.0.1:18082 \
      --users 400 --group-size 4 --window 4 --warmup 5 --duration 20 --json) || true
    echo "{\"bench\":\"scaleout_two_instances\",\"run\":$run,\"report\":$line}" | tee -a "$OUT"
  done
fi
python3 bench/summarize.py "$OUT"
