//! The flags of `convstore bench`.

use std::path::PathBuf;

use clap::Args;

/// Flags of `convstore bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Conversations in the standard workload.
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    /// Messages per conversation.
    #[arg(long, default_value_t = 20)]
    pub messages: usize,
    /// Bytes of content per message.
    #[arg(long, default_value_t = 200)]
    pub content_bytes: usize,
    /// Concurrent senders for `save_rate_conc`.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Stores the concurrent saves spread over, each with its own connection pool and
    /// group commit on the same database, as that many daemons would (the senders
    /// taking turns): with 2 or more, `save_rate_conc` shows whether writers of several
    /// processes wait for each other.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub stores: u32,
    /// Messages of the long conversation read by the `load_history_long_*` figures.
    #[arg(long, default_value_t = 20_000)]
    pub long_messages: usize,
    /// History reads per latency figure.
    #[arg(long, default_value_t = 2_000)]
    pub reads: usize,
    /// Also time `GetStats` on a large store of CONVERSATIONS:MESSAGES (e.g.
    /// 500000:10000000), loaded by bulk SQL. SQLite, PostgreSQL, MariaDB (its SEQUENCE
    /// engine).
    #[arg(long, value_parser = parse_size)]
    pub large: Option<(u64, u64)>,
    /// Folder for the SQLite files (default: a temporary folder, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Measure the HTTP path: without a URL, each save and history read in process and
    /// over HTTP (the daemon's server on a loopback port, keep-alive connections), side by
    /// side; with a URL (http://127.0.0.1:8377), drive that daemon instead (saves,
    /// history reads, its memory). The daemon's token comes from --token or
    /// $CONVSTORE_TOKEN.
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub http: Option<String>,
    /// Also run the same workload with the `convstore` binary at PATH (another build),
    /// interleaved with this one's runs, and print each figure's ratio (this build /
    /// the baseline).
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,
    /// Run the whole in-process workload (and the raw ceiling) this many times, each on
    /// fresh databases, and report every figure's median and spread (min, max).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=99))]
    pub repeat: u32,
    /// Bearer token for --http.
    #[arg(long, env = "CONVSTORE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

fn parse_size(text: &str) -> Result<(u64, u64), String> {
    let (conversations, messages) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not CONVERSATIONS:MESSAGES"))?;
    let parse = |n: &str| {
        n.trim()
            .replace('_', "")
            .parse::<u64>()
            .map_err(|e| format!("{n:?}: {e}"))
    };
    Ok((parse(conversations)?, parse(messages)?))
}
