//! `tvault seal`: one UTC day into the hash-chained ledger, and its witness.

use anyhow::Result;
use tvault_core::days::parse_day;
use tvault_core::ledger::seal::Sealed;
use tvault_core::ports::Deadline;
use tvault_router::seal::{SealFailure, seal_and_witness};

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, SealArgs};
use crate::term;

pub async fn run(vault_location: &str, args: SealArgs) -> Result<u8> {
    let day = match parse_day(&args.day) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tvault seal: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let now = chrono::Utc::now();
    if day >= now.date_naive() {
        eprintln!(
            "tvault seal: {day} has not ended yet (UTC); seal a day once it is over (conversations indexed under it later go into a supplement)"
        );
        return Ok(EXIT_USAGE);
    }
    let settings = crate::settings(vault_location).await?;
    let vault = settings.open_vault()?;
    // The AWS configuration is read only when the witness goes to SSM, so
    // sealing needs no AWS otherwise.
    let witness = match settings.witness_ssm_prefix {
        Some(_) => settings.witness(&tvault_aws::sdk_config().await)?,
        None => None,
    };
    match seal_and_witness(vault.as_ref(), witness.as_ref(), day, now, Deadline::NONE).await {
        Ok(report) => {
            describe(&report.sealed);
            if let Some(w) = &settings.witness_ssm_prefix {
                eprintln!("witness kept in SSM: {w}/{day}");
            }
            println!("{}", report.sealed.witness_line());
            Ok(EXIT_OK)
        }
        // Sealed, but the witness could not be kept: the line is still the
        // day's; print it for the operator to keep by hand.
        Err(e @ SealFailure::Witness { .. }) => {
            if let SealFailure::Witness { line, .. } = &e {
                println!("{line}");
            }
            eprintln!(
                "tvault seal: {}",
                term::line(&format!("{:#}", anyhow::Error::from(e)))
            );
            Ok(EXIT_FAILED)
        }
        Err(e) => {
            eprintln!(
                "tvault seal: {}",
                term::line(&format!("{:#}", anyhow::Error::from(e)))
            );
            Ok(EXIT_FAILED)
        }
    }
}

/// What was written, on stderr (stdout is the witness line alone).
pub fn describe(s: &Sealed) {
    match &s.written {
        Some(w) if w.sequence == 0 => eprintln!(
            "sealed {}: wrote {} ({} generation(s), Merkle root {}, {})",
            s.day,
            w.link.path,
            w.entries,
            w.merkle_root,
            w.previous.as_ref().map_or_else(
                || "the first sealed day: follows nothing".to_string(),
                |p| format!("follows {}", p.path)
            )
        ),
        Some(w) => eprintln!(
            "sealed {}: wrote supplement {} ({} generation(s) indexed since the day was sealed; {} listed before; follows {})",
            s.day,
            w.link.path,
            w.entries,
            s.listed_before,
            w.previous.as_ref().map_or("nothing", |p| p.path.as_str())
        ),
        None => eprintln!(
            "{} was already sealed ({} generation(s) listed); nothing new to seal",
            s.day, s.listed_before
        ),
    }
    if !s.uncommitted.is_empty() {
        eprintln!(
            "not sealed: {} index marker(s) without a manifest (archives interrupted before they committed; `tvault verify` reports them):",
            s.uncommitted.len()
        );
        for m in &s.uncommitted {
            eprintln!("  {}", term::line(m));
        }
    }
    for stray in &s.strays {
        eprintln!(
            "not sealed: {}: not a date-index marker of a safe id and generation",
            term::line(stray)
        );
    }
}
