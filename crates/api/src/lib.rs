//! The `messenger` service: configuration, the HTTP and WebSocket adapters and the composition root.

pub mod config;
pub mod error;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod wire;
pub mod ws;

pub use config::Config;
pub use startup::Application;

/// `messenger [serve|migrate|seed]`. Configuration comes from the environment (and a `.env` file); see
/// README.md for the variables.
#[derive(Debug, clap::Parser)]
#[command(
    name = "messenger",
    version,
    about = "A Telegram-like messenger backend: REST, WebSocket, PostgreSQL or SQLite."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands of the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Serve HTTP and WebSocket on LISTEN_ADDR, applying pending migrations first (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Create the demo users, chats and messages (idempotent) and print the credentials.
    Seed,
}

impl Cli {
    /// The subcommand asked for; `serve` when none is given.
    pub fn command(&self) -> Command {
        self.command.unwrap_or(Command::Serve)
    }
}

/// Runs one subcommand to completion.
///
/// # Errors
/// Whatever the subcommand fails with.
pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => startup::serve(config).await,
        Command::Migrate => startup::migrate(&config).await,
        Command::Seed => startup::seed(&config).await,
    }
}
