//! `messenger [serve|migrate|seed]`; configuration comes from the environment (and `.env`).

// Thousands of connections come and go, each with its own buffers and tasks. glibc's allocator kept
// what closed connections had freed (resident size only grew from one load to the next); jemalloc gives
// it back and holds 10,000 idle connections in less memory (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // Parsed before anything else, so that `--help` and `--version` need no configuration.
    let command = <api::Cli as clap::Parser>::parse().command();
    let _ = dotenvy::dotenv();
    api::telemetry::init(std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")));
    let config = api::Config::from_env()?;
    api::run(command, config).await
}
