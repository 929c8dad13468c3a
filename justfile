# `just --list` shows these recipes; `pip install rust-just` installs just.

# PostgreSQL for `just test-pg` (override with TEST_DATABASE_URL)
pg_url := env_var_or_default("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")

# List the recipes
default:
    @just --list

# Serve on http://127.0.0.1:8080 (embedded SQLite unless DATABASE_URL says otherwise)
run:
    cargo run --release

# Every test on SQLite (no server needed)
test:
    cargo test --workspace

# Every test on PostgreSQL (each test creates and drops its own database)
test-pg:
    TEST_DATABASE_URL={{pg_url}} cargo test --workspace

# Demo users, chats and messages (alice, bob, carol, dave / password123)
seed:
    cargo run --release -- seed

# Apply pending migrations and exit (`serve` also applies them at start)
migrate:
    cargo run --release -- migrate

# Formatting check and clippy with warnings as errors, as CI runs them
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format every crate
fmt:
    cargo fmt --all

# The browser test in headless Chromium
e2e:
    cargo build -p api
    MESSENGER_BIN="${CARGO_TARGET_DIR:-target}/debug/messenger" bash e2e/run.sh

# The standard benchmark set (bench/run.sh)
bench:
    bash bench/run.sh

# PostgreSQL, Redis and the api in Docker Compose
up:
    docker compose up -d --build

# The same, with Prometheus (127.0.0.1:9090) and Grafana (127.0.0.1:3000) beside it
up-monitoring:
    docker compose --profile monitoring up -d --build

# The container job's smoke test against a running server (default: the compose file's api)
smoke base="http://127.0.0.1:8080":
    python3 docker/smoke.py {{base}}

# The container's files without Docker: hadolint, compose, promtool, nginx -t
container-checks:
    bash .ci/container-checks.sh

# Build with OpenTelemetry export (traces go to OTEL_EXPORTER_OTLP_ENDPOINT when it is set)
build-otlp:
    cargo build --release -p api --features otlp

# Everything .ci/run checks (fmt, clippy, tests on SQLite and PostgreSQL, browser test)
ci:
    bash .ci/run
