//! The `messenger` service: configuration, the HTTP and WebSocket adapters and the composition root.

pub mod config;
pub mod error;
pub mod http;
pub mod openapi;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod wire;
pub mod ws;

pub use config::Config;
pub use startup::Application;

/// The subcommands of the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
    Seed,
}

impl Command {
    /// # Errors
    /// For an unknown subcommand, with the usage in the message.
    pub fn parse(arg: Option<&str>) -> anyhow::Result<Self> {
        match arg {
            None | Some("serve") => Ok(Self::Serve),
            Some("migrate") => Ok(Self::Migrate),
            Some("seed") => Ok(Self::Seed),
            Some(other) => anyhow::bail!("unknown command {other:?}; usage: messenger [serve|migrate|seed]"),
        }
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
