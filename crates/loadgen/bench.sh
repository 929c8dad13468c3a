#!/usr/bin/env bash
# The standard benchmark set (issue 4, item 3) against a running server.
#   BASE_URL    server to load            (default http://127.0.0.1:8080)
#   SERVER_PID  its pid, to sample CPU and RSS from /proc (optional)
#   RUNS        runs per benchmark        (default 3; report the medians)
#   OUT         JSON lines written here   (default bench-results.jsonl)
#   ONLY        run one of: throughput onechat latency idle history sync biggroup idle100k
#   FILL_MESSAGES, DEEP_OFFSET  size of the history benchmark (default 1000000, 900000)
# The server's per-user send limit must allow the load (400 senders x 25 msg/s here); sync needs the
# request limit off as well (RATE_SEND_PER_SEC=0 RATE_REQUEST_PER_SEC=0, as bench/run.sh starts it).
set -euo pipefail
BASE_URL=${BASE_URL:-http://127.0.0.1:8080}
LOADGEN=${LOADGEN:-target/release/loadgen}
RUNS=${RUNS:-3}
OUT=${OUT:-bench-results.jsonl}
ONLY=${ONLY:-}
pid_args=()
[[ -n "${SERVER_PID:-}" ]] && pid_args=(--server-pid "$SERVER_PID")
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench() { # name, loadgen args…
  local name=$1; shift
  for run in $(seq "$RUNS"); do
    echo "== $name run $run: loadgen $*" >&2
    local line
    line=$("$LOADGEN" "$@" --base-url "$BASE_URL" --json) || true
    echo "{\"bench\":\"$name\",\"run\":$run,\"report\":$line}" | tee -a "$OUT"
  done
}
want() { [[ -z "$ONLY" || "$ONLY" == "$1" ]]; }

# a. maximum sustained throughput, groups of 4, closed loop.
want throughput && bench throughput --users 400 --group-size 4 --window 4 --warmup 5 --duration 20 "${pid_args[@]}"
# g. one chat: 5,000 messages/s offered into one group of 10 (10 senders; a chat's turn stores every
#    send waiting for it in one statement, and a connection keeps several sends in flight). Two loadgen
#    threads: one cannot read the 50,000 deliveries a second this makes.
want onechat && bench onechat --users 10 --group-size 10 --rate 5000 --threads 2 --warmup 5 --duration 20 "${pid_args[@]}"
# b. latency at a fixed offered 2,000 messages/s (open loop, intended send times).
want latency && bench latency --users 400 --group-size 4 --rate 2000 --warmup 5 --duration 30 "${pid_args[@]}"
# c. 10,000 idle connections (RSS per connection), with (b) running beside them.
want idle && bench idle --users 400 --group-size 4 --rate 2000 --warmup 5 --duration 30 \
  --idle 10000 --source-ips 127.0.0.2,127.0.0.3,127.0.0.4 "${pid_args[@]}"
# h. one group of 10,000 members, every member connected (8 source addresses: 10,000 members + senders
#    fit in one, but keep the port range free for others); a few senders at fixed total rates, one phase
#    each; delivery latency over every delivery.
want biggroup && bench biggroup biggroup --members "${BIGGROUP_MEMBERS:-10000}" --rates "${BIGGROUP_RATES:-2,5,10,20}" \
  --senders 4 --warmup 2 --duration 10 --threads 2 --source-ips 127.0.0.2,127.0.0.3 "${pid_args[@]}"
# i. 100,000 idle connections beside (b): ~28,000 ephemeral ports per source address, so 8 of them.
want idle100k && bench idle100k --users 400 --group-size 4 --rate 2000 --warmup 5 --duration 30 \
  --idle 100000 --idle-users 100 --connect-concurrency 128 \
  --source-ips 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9 "${pid_args[@]}"
# d. GET /history on a 1,000,000-message chat: first page, deep offset, after_id.
if want history; then
  fill_json=$("$LOADGEN" fill --base-url "$BASE_URL" --messages "${FILL_MESSAGES:-1000000}" --members 4 --connections 4 --window 64)
  echo "{\"bench\":\"fill\",\"report\":$fill_json}" | tee -a "$OUT"
  chat=$(sed -E 's/.*"chat_id":([0-9]+).*/\1/' <<<"$fill_json")
  email=$(sed -E 's/.*"email":"([^"]+)".*/\1/' <<<"$fill_json")
  bench history history --chat-id "$chat" --email "$email" --requests 2000 --concurrency 4 --deep-offset "${DEEP_OFFSET:-900000}"
fi
# f. POST /sync for a user with 500 chats of which 5 changed: the changed ones, nothing changed, a new device.
if want sync; then
  bench sync sync --chats 500 --changed 5 --requests 1000 --concurrency 4
fi
