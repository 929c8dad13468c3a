# `just --list` shows these; `pip install rust-just` installs just.

pg_url := "postgres://postgres@127.0.0.1:5432/postgres"

# Serve on http://127.0.0.1:8080 (embedded SQLite unless DATABASE_URL says otherwise)
run:
    cargo run --release

# Every test on SQLite (no server needed)
test:
    cargo test --workspace

# Every test on PostgreSQL (each test creates and drops its own database)
test-pg:
    TEST_DATABASE_URL={{pg_url}} cargo test --workspace

# Demo users, chats and messages
seed:
    cargo run --release -- seed

migrate:
    cargo run --release -- migrate

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# The browser test in headless Chromium
e2e:
    cargo build -p api
    bash e2e/run.sh

# The standard benchmark set against a fresh release server on PostgreSQL (see BENCHMARKS.md)
bench:
    bash bench/run.sh

# PostgreSQL, Redis and the api in Docker
up:
    docker compose up -d --build
