//! `messenger [serve|migrate|seed]`; configuration comes from the environment (and `.env`).

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    api::telemetry::init(std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")));
    let command = api::Command::parse(std::env::args().nth(1).as_deref())?;
    let config = api::Config::from_env()?;
    api::run(command, config).await
}
