//! The `convstore` command: parse the command line, set up logging, run the command.

use std::process::ExitCode;

use clap::Parser;
use convstore::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let system = actix::System::new();
    match system.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("convstore: {error}");
            ExitCode::FAILURE
        }
    }
}
