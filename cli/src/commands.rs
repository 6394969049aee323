//! The command line: `serve`, `migrate`, `stats`, `export`, `import`, `cleanup`,
//! `vacuum`, `bench`. Each command opens the store in process and sends it the same
//! messages the HTTP API sends.

use std::error::Error;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use actix::Addr;
use clap::{Args, Parser, Subcommand};

use convstore::StoreActor;
use convstore::config::Config;
use convstore::store::requests::{
    CleanupOldConversations, ExportScope, GetStats, ImportConversation, OnConflict, StreamExport,
    Vacuum,
};

/// convstore: a persistent conversation store for AI chat bots.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Configuration file (default: none, or $CONVSTORE_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Database URL, overriding the configuration and $CONVERSATION_DB_URL.
    #[arg(long, global = true)]
    pub db_url: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: HTTP API, admin endpoints and scheduled jobs.
    Serve(ServeArgs),
    /// Create or upgrade the database schema.
    Migrate,
    /// Print the statistics as JSON.
    Stats,
    /// Export one conversation (JSON) or all of them (NDJSON, streamed).
    Export(ExportArgs),
    /// Import a JSON export document, a JSON array of them, or NDJSON.
    Import(ImportArgs),
    /// Delete conversations idle for more than N days.
    Cleanup(CleanupArgs),
    /// Run the backend's maintenance (VACUUM, ANALYZE, OPTIMIZE).
    Vacuum,
    /// Measure throughput and latency on a fresh database (use a release build).
    Bench(crate::bench::BenchArgs),
}

/// Flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (overrides http.bind and $CONVSTORE_BIND).
    #[arg(long)]
    pub bind: Option<String>,
}

/// Flags of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The conversation to export.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub conversation: Option<i64>,
    /// Export every conversation, one document per line.
    #[arg(long)]
    pub all: bool,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Flags of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import.
    pub file: PathBuf,
    /// What to do when a user key already has a conversation: skip or replace.
    #[arg(long, value_enum, default_value_t = OnConflict::Skip, hide_possible_values = true)]
    pub on_conflict: OnConflict,
}

/// Flags of `cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Delete conversations idle for more than this many days (default: cleanup_days).
    #[arg(long)]
    pub days: Option<i64>,
    /// First write what is deleted to an NDJSON file in this folder (fsynced).
    #[arg(long)]
    pub archive: Option<PathBuf>,
}

type CliResult = Result<ExitCode, Box<dyn Error>>;

/// Runs the command line (inside an actix system).
pub async fn run(cli: Cli) -> CliResult {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(url) = cli.db_url {
        config.db_url = url;
    }
    match cli.command {
        Command::Serve(args) => {
            if let Some(bind) = args.bind {
                config.http.bind = bind;
            }
            config.validate()?;
            convstore::daemon::serve(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            open(&config).await?;
            eprintln!("database is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats => {
            let stats = open(&config).await?.send(GetStats).await??;
            println!("{}", serde_json::to_string_pretty(&stats)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(args) => export(&config, args).await,
        Command::Import(args) => import(&config, args).await,
        Command::Cleanup(args) => {
            if let Some(dir) = args.archive {
                config.schedule.archive_dir = dir.to_string_lossy().into_owned();
            }
            let days = args.days.unwrap_or(config.cleanup_days);
            let deleted = open(&config)
                .await?
                .send(CleanupOldConversations { days })
                .await??;
            println!("{}", serde_json::json!({ "deleted": deleted }));
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            crate::bench::run(config, args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Vacuum => {
            let report = open(&config).await?.send(Vacuum).await??;
            println!("{}", serde_json::to_string(&report)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn open(config: &Config) -> Result<Addr<StoreActor>, Box<dyn Error>> {
    config.validate()?;
    Ok(StoreActor::open(config.db_settings()?, config.store_settings()).await?)
}

async fn export(config: &Config, args: ExportArgs) -> CliResult {
    let store = open(config).await?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(File::create(path)?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let scope = match args.conversation {
        Some(id) => ExportScope::Conversation(id),
        None => ExportScope::All,
    };
    let mut export = store.send(StreamExport { scope }).await??;
    while let Some(chunk) = export.next_chunk().await {
        out.write_all(&chunk?)?;
    }
    if scope != ExportScope::All {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    drop(out);
    if let Some(path) = &args.output {
        File::open(path)?.sync_all()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Counts of an import.
#[derive(Debug, Default)]
struct ImportTally {
    imported: u64,
    skipped: u64,
    failed: u64,
}

async fn import(config: &Config, args: ImportArgs) -> CliResult {
    let store = open(config).await?;
    let mut tally = ImportTally::default();
    for (label, document) in read_documents(&args.file)? {
        let outcome = match document {
            Ok(document) => store
                .send(ImportConversation {
                    document,
                    on_conflict: args.on_conflict,
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|answer| answer.map_err(|e| e.to_string())),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(obtained) if obtained.created => tally.imported += 1,
            Ok(_) => tally.skipped += 1,
            Err(error) => {
                tally.failed += 1;
                eprintln!("{label}: {error}");
            }
        }
    }
    println!(
        "{}",
        serde_json::json!({ "imported": tally.imported, "skipped": tally.skipped, "failed": tally.failed })
    );
    Ok(if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

type Document = Result<serde_json::Value, String>;

/// Labelled documents read from a file.
type Documents = Box<dyn Iterator<Item = (String, Document)>>;

/// The documents of a file, each with a label for error messages. NDJSON (one document
/// per line) is read line by line, in constant memory; otherwise the file is one JSON
/// document or an array of them.
fn read_documents(path: &Path) -> Result<Documents, Box<dyn Error>> {
    let mut file = File::open(path)?;
    let mut first_line = String::new();
    BufReader::new(&mut file).read_line(&mut first_line)?;
    let is_ndjson = matches!(
        serde_json::from_str::<serde_json::Value>(&first_line),
        Ok(serde_json::Value::Object(_))
    );
    file.rewind()?;
    if is_ndjson {
        let lines = BufReader::new(file).lines().enumerate();
        return Ok(Box::new(lines.filter_map(|(index, line)| {
            let label = format!("line {}", index + 1);
            match line {
                Ok(line) if line.trim().is_empty() => None,
                Ok(line) => Some((
                    label,
                    serde_json::from_str(&line).map_err(|e| e.to_string()),
                )),
                Err(error) => Some((label, Err(error.to_string()))),
            }
        })));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let documents = match serde_json::from_str::<serde_json::Value>(&text)? {
        serde_json::Value::Array(items) => items,
        single => vec![single],
    };
    Ok(Box::new(documents.into_iter().enumerate().map(
        |(index, document)| (format!("document {}", index + 1), Ok(document)),
    )))
}
