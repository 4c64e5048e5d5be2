//! `tvault export`: one conversation to a folder a person can open and an
//! auditor can check, without this program and without the cloud; or many
//! (days of the date index, or what a search finds) into one folder or zip.
//!
//! The reading and checking is `tvault_web::export` (shared with the reading
//! room); this module picks the generations and the target.

use std::path::Path;

use anyhow::{Context, Result};
use tvault_core::ConversationId;
use tvault_core::days::DayRange;
use tvault_core::manifest::Manifest;
use tvault_core::ports::Vault;
use tvault_core::read::{self, ReadError};
use tvault_core::transcript::fmt_time;
use tvault_web::bundle::{self, BundleError, Target};
use tvault_web::export::{self, DirSink};
use tvault_web::page::{self, Exported, FileKind, View};

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, ExportArgs};
use crate::term;

pub async fn run(vault_location: &str, args: ExportArgs) -> Result<u8> {
    let zone = crate::search::zone(args.tz.as_deref())?;
    let view = View {
        zone,
        ..View::default()
    };
    match (&args.conversation_id, &args.out) {
        (Some(id), Some(out)) => {
            let conversation = ConversationId::new(id.clone())
                .with_context(|| format!("conversation id {id:?}"))?;
            one_to_folder(
                vault_location,
                &conversation,
                args.generation.as_deref(),
                out,
                view,
            )
            .await
        }
        _ => many(vault_location, args, view).await,
    }
}

/// `export ID --out DIR`: `DIR/ID/`, as before there were bundles.
async fn one_to_folder(
    vault_location: &str,
    conversation: &ConversationId,
    generation: Option<&str>,
    out: &Path,
    view: View,
) -> Result<u8> {
    let target = out.join(conversation.as_str());
    if target.symlink_metadata().is_ok() {
        eprintln!("{}", exists_message(&target));
        return Ok(EXIT_USAGE);
    }
    let vault = crate::settings(vault_location)
        .await?
        .open_existing_vault()?;
    let Some(manifest) = pick(vault.as_ref(), conversation, generation).await? else {
        return Ok(EXIT_FAILED);
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // Dropped on every early return, which removes the partial folder.
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{conversation}.partial-"))
        .tempdir_in(out)
        .with_context(|| format!("creating a folder in {}", out.display()))?;

    let exported_at = fmt_time(chrono::Utc::now());
    let mut sink = DirSink::new(partial.path());
    let done = match export::check_into(vault.as_ref(), &manifest, &mut sink).await {
        Ok(c) => {
            let html = page::render(
                &c.transcript,
                &manifest,
                &Exported {
                    exported_at,
                    files: c.files.clone(),
                    view,
                },
            );
            export::put(&mut sink, "index.html", html.as_bytes()).map(|()| c)
        }
        Err(e) => Err(e),
    };
    let files = match done {
        Ok(c) => c.files,
        Err(reason) => {
            eprintln!(
                "tvault: conversation {conversation}: export refused: {}; nothing was exported",
                term::line(&reason.0)
            );
            return Ok(EXIT_FAILED);
        }
    };

    // Claim the name atomically (create_dir fails if anything is there), then
    // rename the finished folder onto the empty one we just made: rename
    // replaces an empty directory but never one with content.
    match std::fs::create_dir(&target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!("{}", exists_message(&target));
            return Ok(EXIT_USAGE);
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", target.display())),
    }
    if let Err(e) = std::fs::rename(partial.path(), &target) {
        let _ = std::fs::remove_dir(&target);
        eprintln!(
            "tvault: conversation {conversation}: moving the export to {} failed: {e}; nothing was exported",
            target.display()
        );
        return Ok(EXIT_FAILED);
    }
    // The folder now lives at `target`; nothing is left to remove.
    let _ = partial.keep();

    let checked: Vec<_> = files
        .iter()
        .filter(|f| f.kind != FileKind::Manifest)
        .collect();
    println!(
        "exported {conversation} to {} ({} files, {} bytes, all hashes match the manifest)",
        target.display(),
        checked.len(),
        checked.iter().map(|f| f.size).sum::<u64>()
    );
    Ok(EXIT_OK)
}

/// The generation to export; `None` (after saying why) when there is none.
async fn pick(
    vault: &dyn Vault,
    conversation: &ConversationId,
    generation: Option<&str>,
) -> Result<Option<Manifest>> {
    match read::pick(vault, conversation, generation).await {
        Ok(p) => {
            // A junk manifest beside good ones is named; the readable latest is exported.
            for bad in &p.skipped {
                eprintln!("tvault: skipped {}", term::line(&bad.to_string()));
            }
            Ok(Some(p.manifest))
        }
        Err(e @ (ReadError::NotArchived(_) | ReadError::NoSuchGeneration { .. })) => {
            eprintln!("tvault: {}", term::line(&e.to_string()));
            Ok(None)
        }
        Err(e) => {
            eprintln!(
                "tvault: conversation {conversation}: export refused: {}",
                term::line(&e.to_string())
            );
            Ok(None)
        }
    }
}

/// A bundle: one conversation to a zip, or many to a folder or zip.
async fn many(vault_location: &str, args: ExportArgs, view: View) -> Result<u8> {
    let target = match (&args.out, &args.zip) {
        (_, Some(z)) => Target::Zip(z.clone()),
        (Some(d), None) => Target::Dir(d.clone()),
        (None, None) => unreachable_target()?,
    };
    let vault = crate::settings(vault_location)
        .await?
        .open_existing_vault()?;
    let conversations: Vec<ConversationId> = match &args.conversation_id {
        Some(id) => {
            if args.filters.needs_index() || args.filters.from.is_some() {
                eprintln!(
                    "tvault export: give a conversation id or --from/--to or search filters, not both"
                );
                return Ok(EXIT_USAGE);
            }
            vec![
                ConversationId::new(id.clone())
                    .with_context(|| format!("conversation id {id:?}"))?,
            ]
        }
        None if args.filters.needs_index() => {
            let Some(ids) = searched(vault_location, &args).await? else {
                return Ok(EXIT_USAGE);
            };
            ids
        }
        None => match (&args.filters.from, &args.filters.to) {
            (Some(from), Some(to)) => {
                let range = match DayRange::parse(from, to) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("tvault export: {e}");
                        return Ok(EXIT_USAGE);
                    }
                };
                indexed_on(vault.as_ref(), range).await?
            }
            _ => {
                eprintln!(
                    "tvault export: name a conversation, or --from/--to, or search filters (--text, --participant, --media, --message-type)"
                );
                return Ok(EXIT_USAGE);
            }
        },
    };
    if conversations.is_empty() {
        eprintln!("tvault export: no conversation to export; nothing was written");
        return Ok(EXIT_FAILED);
    }
    let mut manifests = Vec::with_capacity(conversations.len());
    for c in &conversations {
        let generation = args.generation.as_deref();
        match pick(vault.as_ref(), c, generation).await? {
            Some(m) => manifests.push(m),
            None => {
                eprintln!("tvault export: nothing was exported");
                return Ok(EXIT_FAILED);
            }
        }
    }
    let exported_at = fmt_time(chrono::Utc::now());
    match bundle::bundle(vault.as_ref(), &manifests, &target, &view, &exported_at).await {
        Ok(made) => {
            let shown = match &target {
                Target::Dir(p) | Target::Zip(p) => p.display().to_string(),
            };
            println!(
                "exported {} conversation(s) to {shown} ({} files, {} bytes, all hashes match the manifests)",
                made.conversations, made.checked_files, made.checked_bytes
            );
            Ok(EXIT_OK)
        }
        Err(e @ BundleError::Exists(_)) => {
            eprintln!("tvault: {}", term::line(&e.to_string()));
            Ok(EXIT_USAGE)
        }
        Err(e) => {
            eprintln!("tvault: {}", term::line(&e.to_string()));
            Ok(EXIT_FAILED)
        }
    }
}

fn unreachable_target() -> Result<Target> {
    anyhow::bail!("give --out DIR or --zip FILE")
}

/// The conversations a search of the index finds (every one up to --limit).
async fn searched(vault_location: &str, args: &ExportArgs) -> Result<Option<Vec<ConversationId>>> {
    let dir = crate::search::index_dir(args.index.clone(), vault_location)?;
    let query = match crate::search::query(&args.filters, args.limit as usize) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("tvault export: {e:#}");
            return Ok(None);
        }
    };
    let found =
        tvault_search::open_for_reading(&dir).and_then(|c| tvault_search::search(&c, &query));
    let found = match found {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tvault export: {}", term::line(&e.to_string()));
            return Ok(None);
        }
    };
    if found.more {
        eprintln!(
            "tvault export: more than --limit {} conversations match: narrow the search or raise --limit",
            args.limit
        );
        return Ok(None);
    }
    Ok(Some(
        found
            .hits
            .iter()
            .filter_map(|h| ConversationId::new(h.conversation.as_str()).ok())
            .collect(),
    ))
}

/// Every conversation the date index files on `range`, once each.
async fn indexed_on(vault: &dyn Vault, range: DayRange) -> Result<Vec<ConversationId>> {
    let (markers, _) = read::index_days(vault, range.days(), 16)
        .await
        .context("reading the date index")?;
    let mut ids: Vec<String> = markers.into_iter().map(|m| m.conversation).collect();
    ids.sort();
    ids.dedup();
    Ok(ids
        .into_iter()
        .filter_map(|c| ConversationId::new(c).ok())
        .collect())
}

fn exists_message(target: &Path) -> String {
    format!(
        "tvault: {} already exists; export never overwrites: move it away or choose another --out",
        target.display()
    )
}
