//! `tvault`: the transcript-vault command line.
//!
//! Thin by design: it parses flags, reads its settings through
//! [`tvault_router::Settings`] (the environment, and the settings secret when
//! `TVAULT_SECRET_ID` names one), and calls the libraries. Commands live one
//! per module.

mod archive;
mod audit;
mod check;
mod cli;
mod dlq;
mod export;
mod input;
mod list;
mod manual;
mod progress;
mod reconcile;
mod seal;
mod search;
mod search_help;
mod show;
mod term;
mod verify;
mod verify_report;
mod worker;

use std::process::ExitCode;

use clap::Parser;
use tvault_router::Settings;

use cli::{Cli, Command, EXIT_USAGE};
// worker.rs still names it through the crate root; it is moving into the
// router crate (issue 12, step 3), after which this line goes.
pub use cli::EXIT_OK;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tvault: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Archive(args) => archive::run(&cli.vault, args).await,
            Command::Show(args) => show::run(&cli.vault, args).await,
            Command::Verify(args) => verify::run(&cli.vault, args).await,
            Command::List(args) => list::run(&cli.vault, args).await,
            Command::Reconcile(args) => reconcile::run(&cli.vault, args).await,
            Command::Export(args) => export::run(&cli.vault, args).await,
            Command::Worker(args) => worker::run(&cli.vault, args).await,
            Command::Dlq(cmd) => dlq::run(cmd).await,
            Command::Completions(args) => manual::completions(args),
            Command::Man(args) => manual::man(args),
            Command::Index(args) => search::index(&cli.vault, args).await,
            Command::Find(args) => search::find(&cli.vault, args).await,
            Command::Serve(args) => search::serve(&cli.vault, args).await,
            Command::Seal(args) => seal::run(&cli.vault, args).await,
            Command::Audit(args) => audit::run(&cli.vault, args).await,
            Command::Check(args) => check::run(&cli.vault, args).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Errors quote names and values from outside: escaped for the terminal.
            eprintln!("tvault: {}", term::line(&format!("{e:#}")));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The settings of a command that uses the vault or Genesys: the
/// environment (the one reader of it is [`Settings`]), `--vault`, and the
/// settings secret when `TVAULT_SECRET_ID` names one.
pub async fn settings(vault_location: &str) -> anyhow::Result<Settings> {
    Ok(Settings::from_env()
        .with_vault(vault_location)
        .resolve()
        .await?)
}

/// Logs go to stderr, as text or flat JSON (`--log-format`), without colour
/// codes unless stderr is a terminal. `-v` shows what happens to each record;
/// `RUST_LOG` overrides both (for example `RUST_LOG=tvault_core=debug`).
fn init_logging(verbose: u8, format: cli::LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let format = match format {
        cli::LogFormat::Json => tvault_router::logs::Format::Json,
        cli::LogFormat::Text => tvault_router::logs::Format::Text,
    };
    tvault_router::logs::init_cli(format, default);
}
