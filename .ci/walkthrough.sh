#!/usr/bin/env bash
# Runs README's API walk-through, as written, against a fresh server: once on an empty database and
# once after `messenger seed`. Every curl must succeed (a wrapper adds --fail-with-body).
#   MESSENGER_BIN  the server binary (default: $CARGO_TARGET_DIR/debug/messenger or target/debug/messenger)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${MESSENGER_BIN:-${CARGO_TARGET_DIR:-target}/debug/messenger}
command -v jq >/dev/null || { echo "installing jq"; apt-get install -y -qq jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }; }

# The walk-through: the ```sh block under "## API walk-through".
script=$(awk '/^## API walk-through/{f=1} f&&/^```sh$/{inside=1; next} inside&&/^```$/{exit} inside{print}' README.md)
[[ -n "$script" ]] || { echo "no walk-through found in README.md" >&2; exit 1; }

run_once() { # label, seed?
  local label=$1 seed=$2 dir port pid
  dir=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  export DATABASE_URL="sqlite://$dir/walk.db?mode=rwc" LISTEN_ADDR="127.0.0.1:$port" BCRYPT_COST=4 RUST_LOG=warn
  [[ $seed == yes ]] && "$bin" seed >/dev/null
  "$bin" serve >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  echo "::: walk-through ($label) against 127.0.0.1:$port"
  if ! (
    curl() { command curl --fail-with-body --show-error "$@"; }
    set -euo pipefail
    eval "${script//http:\/\/127.0.0.1:8080/http://127.0.0.1:$port}"
  ) >"$dir/out.txt" 2>&1; then
    echo "walk-through failed ($label):" >&2; tail -n 20 "$dir/out.txt" >&2; tail -n 20 "$dir/server.log" >&2
    kill "$pid"; exit 1
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  echo "::: walk-through ($label) ran top to bottom"
}

run_once "fresh database" no
run_once "after seed" yes
