//! `tvault index`.

use anyhow::{Context, Result};
use tvault_core::days::DayRange;

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::progress::Progress;
use crate::search_help::IndexArgs;
use crate::term;

pub async fn index(vault_location: &str, args: IndexArgs) -> Result<u8> {
    let range = match DayRange::parse(&args.from, &args.to) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tvault index: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let dir = super::index_dir(args.index, vault_location)?;
    let vault = crate::settings(vault_location).await?.open_vault()?;
    let mut conn = tvault_search::open_for_writing(&dir)?;
    let progress = Progress::new("index: reading generations", "generations", 0);
    let report = tvault_search::build(
        vault.as_ref(),
        &mut conn,
        range,
        args.concurrency as usize,
        &|done, total| progress.set(done, total),
    )
    .await
    .context("building the search index")?;
    progress.finish();
    for p in &report.problems {
        eprintln!("tvault index: {}", term::line(p));
    }
    for w in &report.warnings {
        eprintln!("tvault index: warning: {}", term::line(w));
    }
    println!(
        "indexed {} new generation(s) from {} marker(s) of {range} ({} already indexed, {} not committed yet) into {}",
        report.added,
        report.markers,
        report.already_indexed,
        report.not_committed,
        dir.display()
    );
    Ok(if report.problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}
