//! `loadgen`: load generator for the messenger, speaking only the public contract.
//!
//! `loadgen [run options]` runs the standard messaging load; `loadgen history …` measures
//! `GET /history`; `loadgen fill …` puts many messages into one chat; `loadgen sync …` measures
//! `POST /sync` for a user with many chats of which a few changed; `loadgen search …` measures
//! `GET /search/messages` per kind of query; `loadgen biggroup …` measures delivery in one group of
//! 10,000 connected members.

mod biggroup;
mod counters;
mod device;
mod fill;
mod history_bench;
mod history_check;
mod idle;
mod proc_stats;
mod report;
mod run;
mod search_bench;
mod setup;
mod stats;
mod sync_bench;
mod ws_client;

use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::Result;
use clap::{ArgAction, Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Messaging load: users in groups, every device connected, senders for a duration (the default).
    Run(RunArgs),
    /// Latency of GET /history: first page, a deep offset and after_id.
    History(HistoryArgs),
    /// Insert many messages into one chat (e.g. 1,000,000 for the history benchmark).
    Fill(FillArgs),
    /// Cost of POST /sync for a user with many chats (default 500) of which a few (default 5) changed.
    Sync(SyncArgs),
    /// Latency of GET /search/messages: common, mid-frequency and rare words, two words, a prefix and no
    /// match, in one chat and in all the caller's chats, first and second page.
    Search(SearchArgs),
    /// One group of many members (default 10,000), all connected; delivery latency to every member at
    /// a few fixed total rates.
    Biggroup(BigGroupArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub base_url: String,
    /// Runtime worker threads (1 = current-thread runtime).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print only the JSON line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Users to register.
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// Users are split into groups of this size.
    #[arg(long, default_value_t = 4)]
    pub group_size: usize,
    /// Private chats to add, between distinct pairs of users.
    #[arg(long, default_value_t = 0)]
    pub private_pairs: usize,
    /// WebSocket connections (devices) per user; each sender sends on its first device.
    #[arg(long, default_value_t = 1)]
    pub devices: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Closed loop: un-acked sends each sender keeps outstanding.
    #[arg(long, default_value_t = 8, conflicts_with = "rate")]
    pub window: usize,
    /// Open loop: total offered messages/s, spread over the senders.
    #[arg(long)]
    pub rate: Option<f64>,
    /// How many users send (spread evenly over all users); default all.
    #[arg(long)]
    pub senders: Option<usize>,
    /// Instances to spread WebSocket connections over, in rotation (default: --base-url only).
    #[arg(long, value_delimiter = ',')]
    pub ws_urls: Vec<String>,
    /// Extra idle connections (no chats, no traffic).
    #[arg(long, default_value_t = 0)]
    pub idle: usize,
    /// Seconds an idle connection may take to open (TCP and handshake) before it counts as failed.
    #[arg(long, default_value_t = 15.0)]
    pub idle_connect_timeout: f64,
    /// Stop opening idle connections after this many failures.
    #[arg(long, default_value_t = 100)]
    pub idle_max_failures: usize,
    /// Users that own the idle connections.
    #[arg(long, default_value_t = 16)]
    pub idle_users: usize,
    /// Local addresses to bind outgoing sockets to, in rotation (e.g. 127.0.0.2,127.0.0.3).
    #[arg(long, value_delimiter = ',')]
    pub source_ips: Vec<IpAddr>,
    /// Server process to sample CPU time and RSS of (from /proc).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Page through the history of every chat afterwards to count persisted messages and duplicates.
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    pub history_check: bool,
    /// Seconds to wait at the end for outstanding acks and deliveries.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Concurrent requests during setup (registration is bcrypt-bound).
    #[arg(long, default_value_t = 32)]
    pub setup_concurrency: usize,
    /// Concurrent WebSocket handshakes.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
}

/// Who makes the requests: a token, or an email to sign in with.
#[derive(Debug, Clone, Args)]
pub struct CallerArgs {
    /// Bearer token of the user making the requests, a member of the chat (or give --email).
    #[arg(long)]
    pub token: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    /// Defaults to the generator's password.
    #[arg(long)]
    pub password: Option<String>,
}

impl CallerArgs {
    /// The given token, or one signed in for with the given email.
    pub async fn token(&self, api: &setup::Api) -> anyhow::Result<String> {
        match (&self.token, &self.email) {
            (Some(token), _) => Ok(token.clone()),
            (None, Some(email)) => api.login_with(email, self.password.as_deref().unwrap_or(setup::PASSWORD)).await,
            (None, None) => anyhow::bail!("give --token or --email"),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[arg(long)]
    pub chat_id: i64,
    #[command(flatten)]
    pub caller: CallerArgs,
    /// Requests per scenario.
    #[arg(long, default_value_t = 1000)]
    pub requests: usize,
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    #[arg(long, default_value_t = 500_000)]
    pub deep_offset: usize,
    /// Default: the id of the message at --deep-offset.
    #[arg(long)]
    pub after_id: Option<i64>,
}

#[derive(Debug, Clone, Args)]
pub struct FillArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Existing chat to fill (needs --token); default: a new group of --members users.
    #[arg(long)]
    pub chat_id: Option<i64>,
    /// Member tokens for --chat-id, comma-separated; connections use them in rotation.
    #[arg(long, value_delimiter = ',')]
    pub token: Vec<String>,
    #[arg(long, default_value_t = 4)]
    pub members: usize,
    /// Sending connections (every other connected member receives each message).
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    #[arg(long, default_value_t = 64)]
    pub window: usize,
}

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Groups the synced user is in.
    #[arg(long, default_value_t = 500)]
    pub chats: usize,
    /// Chats that get one new message after the user synced.
    #[arg(long, default_value_t = 5)]
    pub changed: usize,
    /// Requests for the `changed` and `unchanged` scenarios.
    #[arg(long, default_value_t = 1000)]
    pub requests: usize,
    /// Requests for the `new_device` scenario (every chat with its newest messages); default requests/10.
    #[arg(long)]
    pub new_device_requests: Option<usize>,
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Concurrent requests while creating the chats and their messages.
    #[arg(long, default_value_t = 8)]
    pub setup_concurrency: usize,
}

#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The chat for the `chat` scope (the caller must be a member).
    #[arg(long)]
    pub chat_id: i64,
    #[command(flatten)]
    pub caller: CallerArgs,
    /// Measured requests per scenario.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Requests in flight for the interleaved run of all first pages afterwards (1 = no such run).
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Seconds after which a scenario stops, whatever its requests.
    #[arg(long, default_value_t = 60.0)]
    pub max_seconds: f64,
    /// Page size (1..=100).
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// A very common word (the defaults are the words of bench/run.sh's corpus).
    #[arg(long, default_value = "ckcakij")]
    pub common_word: String,
    /// A word in about 1% of the messages.
    #[arg(long, default_value = "gnibgjg")]
    pub mid_word: String,
    /// A word in about 0.01% of the messages.
    #[arg(long, default_value = "bnanoin")]
    pub rare_word: String,
    /// Two words, both required.
    #[arg(long, default_value = "cohenio eccbcon")]
    pub two_words: String,
    /// A short prefix (2-3 letters).
    #[arg(long, default_value = "ck")]
    pub prefix: String,
    /// A word no message holds.
    #[arg(long, default_value = "xyzzy")]
    pub no_match: String,
}

#[derive(Debug, Clone, Args)]
pub struct BigGroupArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Members of the group, each a registered user with one connection.
    #[arg(long, default_value_t = 10_000)]
    pub members: usize,
    /// Members the group is created with (the server allows at most 1,000); the rest are added one by one.
    #[arg(long, default_value_t = 1000)]
    pub initial_members: usize,
    /// Members that send, each on a second connection of its own.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Total offered messages/s, one phase each, in this order, on the same connections.
    #[arg(long, value_delimiter = ',', default_values_t = [2.0, 5.0, 10.0, 20.0])]
    pub rates: Vec<f64>,
    /// Seconds of sending before measuring, per phase.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Measured seconds per phase.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds to wait after a phase for outstanding deliveries.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
    /// After connecting, wait until no presence or membership frame came for this many seconds.
    #[arg(long, default_value_t = 2.0)]
    pub quiet: f64,
    /// …but no longer than this.
    #[arg(long, default_value_t = 300.0)]
    pub settle_timeout: f64,
    /// Local addresses to bind outgoing sockets to, in rotation (e.g. 127.0.0.2,127.0.0.3).
    #[arg(long, value_delimiter = ',')]
    pub source_ips: Vec<IpAddr>,
    /// Server process to sample CPU time and RSS of (from /proc).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Concurrent registrations (bcrypt-bound on the server).
    #[arg(long, default_value_t = 32)]
    pub setup_concurrency: usize,
    /// Concurrent `POST /groups/{id}/members`.
    #[arg(long, default_value_t = 8)]
    pub add_concurrency: usize,
    /// Concurrent WebSocket handshakes.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
}

fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

fn dispatch(command: Command) -> Result<bool> {
    match command {
        Command::Run(args) => {
            let report = runtime(args.common.threads)?.block_on(run::run(&args))?;
            if !args.common.json {
                report.print_human();
            }
            print_json(&report)?;
            Ok(report.ok)
        }
        Command::History(args) => {
            let report = runtime(args.common.threads)?.block_on(history_bench::run(&args))?;
            if !args.common.json {
                history_bench::print_human(&report);
            }
            print_json(&report)?;
            Ok(report.scenarios.iter().all(|s| s.failures == 0))
        }
        Command::Sync(args) => {
            let report = runtime(args.common.threads)?.block_on(sync_bench::run(&args))?;
            if !args.common.json {
                sync_bench::print_human(&report);
            }
            print_json(&report)?;
            Ok(report.scenarios.iter().all(|s| s.failures == 0))
        }
        Command::Search(args) => {
            let report = runtime(args.common.threads)?.block_on(search_bench::run(&args))?;
            if !args.common.json {
                search_bench::print_human(&report);
            }
            print_json(&report)?;
            Ok(report.scenarios.iter().chain(&report.concurrent).all(|s| s.failures == 0))
        }
        Command::Biggroup(args) => {
            let report = runtime(args.common.threads)?.block_on(biggroup::run(&args))?;
            if !args.common.json {
                report.print_human();
            }
            print_json(&report)?;
            Ok(report.ok)
        }
        Command::Fill(args) => {
            let report = runtime(args.common.threads)?.block_on(fill::run(&args))?;
            print_json(&report)?;
            Ok(report.failed == 0 && report.duplicate_acks == 0)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // 10k connections need more descriptors than the usual soft limit of 1024.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("warning: cannot raise the open-files limit: {e}");
    }
    let command = cli.command.unwrap_or(Command::Run(cli.run));
    match dispatch(command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}
