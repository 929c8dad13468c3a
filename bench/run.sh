#!/usr/bin/env bash
# The standard benchmark set (BENCHMARKS.md): a release server on a fresh PostgreSQL database on this
# machine, loaded by crates/loadgen. Results: one JSON line per run in $OUT, and a summary of medians.
#   PG_URL   admin URL of PostgreSQL (default postgres://postgres@127.0.0.1:5432/postgres)
#   REDIS    Redis URL for the two-instance run (default redis://127.0.0.1:6379)
#   RUNS     runs per benchmark (default 3)    ONLY   one of: throughput onechat latency idle history sync scaleout search
#            biggroup idle100k
#   BIGGROUP_MEMBERS, BIGGROUP_RATES  size of the big-group benchmark (default 10000 members; 2,5,10,20 msg/s)
#   NOFILE   open-files limit to raise to (default 262144; idle100k holds 100,000 sockets on each side)
#   SEARCH_MESSAGES, SEARCH_OTHER_MESSAGES, SEARCH_OTHER_CHATS, SEARCH_REQUESTS, SEARCH_CONCURRENCY
#            size of the search benchmark (default 1000000 in one chat, 200000 over 200 other chats of the
#            same user, 300 requests per query kind, then all kinds interleaved 4 at a time);
#            SEARCH_KEEP=1 keeps its database (bench_<time>_search) for EXPLAIN afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS=${REDIS:-redis://127.0.0.1:6379}
export RUNS=${RUNS:-3}
export OUT=${OUT:-$PWD/bench/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
ONLY=${ONLY:-}
TARGET=${CARGO_TARGET_DIR:-target}
# 100,000 connections need as many descriptors in the server and in loadgen, over the usual hard limit
# (20,000 here): root may raise it up to fs.nr_open. Raised before any server starts, which inherits it.
nofile=${NOFILE:-262144}
nr_open=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo "$nofile")
(( nofile > nr_open )) && nofile=$nr_open
if (( $(ulimit -Hn) < nofile )); then ulimit -Hn "$nofile" 2>/dev/null || echo "cannot raise the hard open-files limit to $nofile (needs root with CAP_SYS_RESOURCE); it stays $(ulimit -Hn)" >&2; fi
ulimit -n "$(ulimit -Hn)"

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
  if [[ -n "${SEARCH_KEEP:-}" ]]; then
    echo "kept the search database ${db}_search" >&2
  else
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS ${db}_search WITH (FORCE)" || true
  fi
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
for name in throughput onechat latency; do
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
# h. one group of 10,000 members, all connected. A fresh server whose presence grace outlasts the run:
# loadgen connects everyone once before the group exists, so that members coming online later tell
# nobody (else 10,000 members connecting send each other 50 million presence frames; see BENCHMARKS.md).
if want biggroup; then
  for _ in $(seq "$RUNS"); do
    stop_all; start 18080; export SERVER_PID=${pids[0]}
    ONLY=biggroup RUNS=1 bash crates/loadgen/bench.sh
  done
fi
# i. 100,000 idle connections beside (b): a fresh server per run, as for (c).
if want idle100k; then
  echo "open files: $(ulimit -Sn) soft, $(ulimit -Hn) hard" >&2
  for _ in $(seq "$RUNS"); do
    stop_all; start 18080; export SERVER_PID=${pids[0]}
    ONLY=idle100k RUNS=1 bash crates/loadgen/bench.sh
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
# g. GET /search/messages on a 1,000,000-message chat, the caller also in 200 other chats holding 200,000
# more: a database of its own, the users and chats made through the API, the messages written by one
# statement (bench/search_corpus.sql: the API fills one chat at ~1.7k msgs/s), then loadgen search.
if want search; then
  stop_all
  sdb="${db}_search"
  psql "$PG_URL" -qc "CREATE DATABASE $sdb"
  sdb_url="${PG_URL%/*}/$sdb"
  s_url=http://127.0.0.1:18083
  start 18083 DATABASE_URL="$sdb_url" # the migrations
  post() { # token, path, JSON body → the answer's id
    curl -fsS -X POST "$s_url$2" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$3" | jq -r .id
  }
  for who in u p; do
    curl -fsS -X POST "$s_url/auth/register" -H 'Content-Type: application/json' \
      -d "{\"name\":\"search $who\",\"email\":\"search-$who@bench.example.com\",\"password\":\"password123\"}" >/dev/null
  done
  token=$(curl -fsS -X POST "$s_url/auth/token" -d 'username=search-u@bench.example.com&password=password123' | jq -r .access_token)
  user=$(curl -fsS "$s_url/users/me" -H "Authorization: Bearer $token" | jq -r .id)
  peer_token=$(curl -fsS -X POST "$s_url/auth/token" -d 'username=search-p@bench.example.com&password=password123' | jq -r .access_token)
  peer=$(curl -fsS "$s_url/users/me" -H "Authorization: Bearer $peer_token" | jq -r .id)
  chat=$(post "$token" /groups "{\"name\":\"search big\",\"member_ids\":[$peer]}")
  for i in $(seq "${SEARCH_OTHER_CHATS:-200}"); do
    post "$token" /groups "{\"name\":\"search other $i\",\"member_ids\":[$peer]}" >/dev/null
  done
  stop_all
  echo "== search corpus: ${SEARCH_MESSAGES:-1000000} messages into chat $chat, ${SEARCH_OTHER_MESSAGES:-200000} over the others" >&2
  psql "$sdb_url" -q -v user="$user" -v chat="$chat" -v messages="${SEARCH_MESSAGES:-1000000}" \
    -v other_messages="${SEARCH_OTHER_MESSAGES:-200000}" -f bench/search_corpus.sql >&2
  # How many messages each word of loadgen's defaults is in (the chat; all the user's chats).
  counts=$(psql "$sdb_url" -Atc "SELECT json_object_agg(q, json_build_object('chat', (SELECT count(*) FROM messages
      WHERE chat_id = $chat AND search @@ t), 'all', (SELECT count(*) FROM messages WHERE search @@ t)))
    FROM (VALUES ('ckcakij'), ('gnibgjg'), ('bnanoin'), ('cohenio eccbcon'), ('ck'), ('xyzzy')) AS v(q),
      LATERAL (SELECT array_to_string(ARRAY(SELECT w || ':*' FROM unnest(string_to_array(q, ' ')) w), ' & ')::tsquery AS t) x")
  echo "{\"bench\":\"search_corpus\",\"chat_id\":$chat,\"report\":$counts}" | tee -a "$OUT"
  start 18083 DATABASE_URL="$sdb_url"
  for run in $(seq "$RUNS"); do
    echo "== search run $run" >&2
    line=$("$LOADGEN" search --base-url "$s_url" --chat-id "$chat" --email search-u@bench.example.com \
      --requests "${SEARCH_REQUESTS:-300}" --concurrency "${SEARCH_CONCURRENCY:-4}" --json) || true
    echo "{\"bench\":\"search\",\"run\":$run,\"report\":$line}" | tee -a "$OUT"
  done
fi
python3 bench/summarize.py "$OUT"
