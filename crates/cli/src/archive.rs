//! `tvault archive`.

use anyhow::Result;
use futures::StreamExt;
use tvault_core::ArchiveError;
use tvault_core::archive::{NO_CREDENTIALS, Outcome};
use tvault_core::ports::Deadline;

use crate::cli::{ArchiveArgs, EXIT_FAILED, EXIT_OK};
use crate::input::{self, Record};

#[derive(Debug, Default)]
struct Summary {
    archived: usize,
    already: usize,
    skipped: usize,
    failed: usize,
    missing_no_credentials: usize,
    missing_other: usize,
}

pub async fn run(vault_location: &str, args: ArchiveArgs) -> Result<u8> {
    let inputs = input::expand(&args.inputs)?;
    for path in &inputs.not_followed {
        eprintln!(
            "{}: not read: a symbolic link or special file inside a directory is not followed",
            crate::term::line(&path.display().to_string())
        );
    }
    let archiver = crate::settings(vault_location).await?.archiver()?;

    let mut records: Vec<Record> = Vec::new();
    for file in &inputs.files {
        records.extend(input::read_records(file)?);
    }

    let archiver = &archiver;
    let mut results = futures::stream::iter(records)
        .map(|r| async move {
            let outcome = match r.body {
                Ok(body) => archiver.archive_raw(&body, Deadline::NONE).await,
                Err(e) => Err(ArchiveError::Invalid(e)),
            };
            (r.origin, outcome)
        })
        .buffered(args.concurrency as usize);

    let mut s = Summary::default();
    while let Some((origin, outcome)) = results.next().await {
        match outcome {
            Ok(Outcome::Archived(a)) => {
                s.archived += 1;
                for m in &a.missing {
                    if m.reason == NO_CREDENTIALS {
                        s.missing_no_credentials += 1;
                    } else {
                        s.missing_other += 1;
                        eprintln!(
                            "{origin}: conversation {}: attachment {} missing: {}",
                            a.conversation_id, m.attachment_id, m.reason
                        );
                    }
                }
            }
            Ok(Outcome::AlreadyInVault { .. }) => s.already += 1,
            Ok(Outcome::Skipped { .. }) => s.skipped += 1,
            Err(e) => {
                s.failed += 1;
                eprintln!("{origin}: {e}");
            }
        }
    }
    println!(
        "archived {}, already in vault {}, skipped {}, failed {}",
        s.archived, s.already, s.skipped, s.failed
    );
    if s.missing_no_credentials > 0 {
        println!(
            "note: {} attachment(s) not fetched: {NO_CREDENTIALS} (set GENESYSCLOUD_OAUTHCLIENT_ID, \
             GENESYSCLOUD_OAUTHCLIENT_SECRET and GENESYSCLOUD_REGION); they are listed under missing[] \
             in the manifests, and a later archive with credentials adds a complete generation",
            s.missing_no_credentials
        );
    }
    if s.missing_other > 0 {
        println!(
            "note: {} attachment(s) could not be fetched; see the lines above and missing[] in the manifests",
            s.missing_other
        );
    }
    Ok(if s.failed > 0 { EXIT_FAILED } else { EXIT_OK })
}
