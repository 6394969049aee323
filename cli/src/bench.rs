//! `convstore bench`: a standard workload against a fresh database, printed as one JSON
//! object (and a table on stderr). Every figure is measured in this run; the raw SQLite
//! ceiling is measured beside it, on the same machine, at the same moment.

mod args;
mod fresh;
mod http;
mod raw;
mod report;
mod workload;

use convstore::config::Config;

pub use args::BenchArgs;
use fresh::RunDir;
use report::{Summary, peak_rss_mb, table};

/// Runs the benchmark (in process, or against a daemon with `--http`) and prints the
/// report.
pub async fn run(config: Config, args: BenchArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(url) = &args.http {
        let report = http::run(url, args.token.clone(), &args).await?;
        eprintln!("{}", table(&report));
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let mut runs = Vec::new();
    for run in 1..=args.repeat {
        let dir = RunDir::new(args.dir.as_deref())?;
        let mut report = workload::run(&config, &args, &dir).await?;
        report.raw_sqlite_batched_rate =
            raw::batched_insert_rate(&dir.path().join("raw.db"), &args).await?;
        report.conc_to_raw_ratio = report.save_rate_conc / report.raw_sqlite_batched_rate;
        report.peak_rss_mb = peak_rss_mb();
        if args.repeat > 1 {
            eprintln!("run {run} of {}:\n{}", args.repeat, table(&report));
        }
        runs.push(serde_json::to_value(&report)?);
    }
    if let [only] = runs.as_slice() {
        eprintln!("{}", table(only));
        println!("{}", serde_json::to_string_pretty(only)?);
    } else {
        let summary = Summary::of(&runs);
        eprintln!("{}", summary.table());
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(())
}
