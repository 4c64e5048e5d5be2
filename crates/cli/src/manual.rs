//! `tvault completions SHELL` and `tvault man`: generated from the clap
//! definitions in [`crate::cli`], so they name every command and flag that
//! `--help` does.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, EXIT_OK, EXIT_USAGE, ManArgs};

pub fn completions(args: CompletionsArgs) -> Result<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "tvault", &mut out);
    write_stdout(&out)?;
    Ok(EXIT_OK)
}

pub fn man(args: ManArgs) -> Result<u8> {
    let cmd = Cli::command();
    match args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("rendering the manual page")?;
            write_stdout(&out)?;
        }
        Some(dir) => {
            // A missing directory is a typo more often than a wish: say so
            // rather than create it somewhere unexpected.
            if !dir.is_dir() {
                eprintln!(
                    "tvault man: {} is not a directory (create it first)",
                    dir.display()
                );
                return Ok(EXIT_USAGE);
            }
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("writing manual pages into {}", dir.display()))?;
            println!("wrote manual pages into {}", dir.display());
        }
    }
    Ok(EXIT_OK)
}

/// stdout as one write; a closed pipe (`tvault man | head`) is not an error
/// worth a message.
fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing to stdout"))
        }
        _ => Ok(()),
    }
}
