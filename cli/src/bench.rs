//! `convstore bench`: a standard workload against a fresh database, printed as one JSON
//! object (and a table on stderr). Every figure is measured in this run; the raw SQLite
//! ceiling is measured beside it, on the same machine, at the same moment. `--http`
//! measures the HTTP path beside the same calls in process; `--baseline PATH` runs
//! another build beside this one.

mod args;
mod baseline;
mod client;
mod fresh;
mod http;
mod loopback;
mod raw;
mod report;
mod workload;

use serde_json::Value;

use convstore::config::Config;

pub use args::BenchArgs;
use baseline::{Baseline, Comparison};
use fresh::RunDir;
use report::{Summary, peak_rss_mb, table};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Runs the benchmark `args.repeat` times (and the baseline's as often, interleaved)
/// and prints the report.
pub async fn run(config: Config, args: BenchArgs) -> BenchResult<()> {
    let baseline = args.baseline.as_deref().map(Baseline::new).transpose()?;
    let (mut runs, mut baseline_runs) = (Vec::new(), Vec::new());
    for run in 1..=args.repeat {
        // Odd runs start with this build, even ones with the baseline.
        let this_first = run % 2 == 1;
        if let Some(baseline) = baseline.as_ref().filter(|_| !this_first) {
            baseline_runs.push(baseline.run().await?);
        }
        let report = one_run(&config, &args).await?;
        if let Some(baseline) = baseline.as_ref().filter(|_| this_first) {
            baseline_runs.push(baseline.run().await?);
        }
        if args.repeat > 1 {
            eprintln!("run {run} of {}:\n{}", args.repeat, table(&report));
        }
        runs.push(report);
    }
    if baseline.is_some() {
        let comparison = Comparison::of(&runs, &baseline_runs);
        eprintln!("{}", comparison.table());
        println!("{}", serde_json::to_string_pretty(&comparison)?);
    } else if let [only] = runs.as_slice() {
        eprintln!("{}", table(only));
        println!("{}", serde_json::to_string_pretty(only)?);
    } else {
        let summary = Summary::of(&runs);
        eprintln!("{}", summary.table());
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(())
}

/// One run of the workload `args` name, as a JSON object of figures.
async fn one_run(config: &Config, args: &BenchArgs) -> BenchResult<Value> {
    match args.http.as_deref() {
        Some("") => {
            let dir = RunDir::new(args.dir.as_deref())?;
            Ok(serde_json::to_value(
                loopback::run(config, args, &dir).await?,
            )?)
        }
        Some(url) => Ok(serde_json::to_value(
            http::run(url, args.token.clone(), args).await?,
        )?),
        None => {
            let dir = RunDir::new(args.dir.as_deref())?;
            let mut report = workload::run(config, args, &dir).await?;
            report.raw_sqlite_batched_rate =
                raw::batched_insert_rate(&dir.path().join("raw.db"), args).await?;
            report.conc_to_raw_ratio = report.save_rate_conc / report.raw_sqlite_batched_rate;
            report.peak_rss_mb = peak_rss_mb();
            Ok(serde_json::to_value(&report)?)
        }
    }
}
