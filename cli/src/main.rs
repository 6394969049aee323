//! The `convstore` command: parse the command line, set up logging, run the command.

mod bench;
mod commands;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use commands::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a file or the journal gets plain
        // `listening addr=127.0.0.1:8377` lines, which scripts and tests read.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let system = actix::System::new();
    match system.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("convstore: {error}");
            ExitCode::FAILURE
        }
    }
}
