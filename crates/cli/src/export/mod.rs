//! `tvault export`: one conversation to a folder a person can open and an
//! auditor can check, without this program and without the cloud.
//!
//! Every object is re-hashed on its way out of the vault and compared with the
//! manifest; attachments stream to disk while they are hashed, so a 1 GiB
//! video never sits in memory. Everything is written into a hidden sibling
//! folder that is renamed into place only when all of it matched, so a refused
//! or interrupted export leaves nothing that looks complete.

pub mod html;

use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tvault_core::ConversationId;
use tvault_core::hash::{StreamHasher, sha256_hex};
use tvault_core::id::{check_id, safe_file_name};
use tvault_core::keys;
use tvault_core::manifest::{Manifest, ObjectEntry, Role};
use tvault_core::ports::Vault;
use tvault_core::read::{self, ReadError};
use tvault_core::transcript::{Transcript, fmt_time};

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, ExportArgs};
use html::{Exported, ExportedFile, FileKind, INLINE_IMAGE_MAX, INLINE_TOTAL_MAX, InlineImage};

/// Why an export stopped; nothing was exported.
struct Refused(String);

impl<E: std::fmt::Display> From<E> for Refused {
    fn from(e: E) -> Self {
        Refused(e.to_string())
    }
}

pub async fn run(vault_location: &str, args: ExportArgs) -> Result<u8> {
    let conversation = ConversationId::new(args.conversation_id.clone())
        .with_context(|| format!("conversation id {:?}", args.conversation_id))?;
    let target = args.out.join(conversation.as_str());
    if target.symlink_metadata().is_ok() {
        eprintln!("{}", exists_message(&target));
        return Ok(EXIT_USAGE);
    }
    let vault = crate::settings(vault_location).await?.open_vault()?;
    let picked = match read::pick(vault.as_ref(), &conversation, args.generation.as_deref()).await {
        Ok(p) => p,
        Err(e @ (ReadError::NotArchived(_) | ReadError::NoSuchGeneration { .. })) => {
            eprintln!("tvault: {e}");
            return Ok(EXIT_FAILED);
        }
        Err(e) => {
            eprintln!(
                "tvault: conversation {conversation}: export refused: {}",
                crate::term::line(&e.to_string())
            );
            return Ok(EXIT_FAILED);
        }
    };
    // A junk manifest beside good ones is named; the readable latest is exported.
    for bad in &picked.skipped {
        eprintln!("tvault: skipped {}", crate::term::line(&bad.to_string()));
    }
    let manifest = picked.manifest;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    // Dropped on every early return, which removes the partial folder.
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{conversation}.partial-"))
        .tempdir_in(&args.out)
        .with_context(|| format!("creating a folder in {}", args.out.display()))?;

    let exported_at = fmt_time(chrono::Utc::now());
    let files = match export_into(vault.as_ref(), &manifest, partial.path(), exported_at).await {
        Ok(files) => files,
        Err(Refused(reason)) => {
            eprintln!(
                "tvault: conversation {conversation}: export refused: {}; nothing was exported",
                crate::term::line(&reason)
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

    let checked: Vec<&ExportedFile> = files
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

fn exists_message(target: &Path) -> String {
    format!(
        "tvault: {} already exists; export never overwrites: move it away or choose another --out",
        target.display()
    )
}

/// Read, check and write everything into `dir`; the files written, manifest first.
async fn export_into(
    vault: &dyn Vault,
    manifest: &Manifest,
    dir: &Path,
    exported_at: String,
) -> Result<Vec<ExportedFile>, Refused> {
    let conv = &manifest.conversation_id;
    let mut files = Vec::new();

    // The manifest as stored, byte for byte: it must be the one we read.
    let manifest_path = keys::manifest(conv, &manifest.generation);
    let manifest_bytes = vault.get(&manifest_path).await?;
    if Manifest::from_slice(&manifest_bytes).ok().as_ref() != Some(manifest) {
        return Err(Refused(format!(
            "{manifest_path}: changed while it was read"
        )));
    }
    write_new(&dir.join("manifest.json"), &manifest_bytes).await?;
    files.push(ExportedFile {
        rel_path: "manifest.json".into(),
        vault_path: manifest_path,
        kind: FileKind::Manifest,
        sha256: sha256_hex(&manifest_bytes),
        size: manifest_bytes.len() as u64,
        attachment_id: None,
        inline: None,
    });

    let entry = manifest.transcript().ok_or_else(|| {
        Refused(format!(
            "manifest {} lists no transcript",
            manifest.generation
        ))
    })?;
    let bytes = read::read_checked(vault, entry).await?;
    let transcript: Transcript = serde_json::from_slice(&bytes)
        .map_err(|e| Refused(format!("{}: not a valid transcript: {e}", entry.path)))?;
    if &transcript.conversation_id != conv {
        return Err(Refused(format!(
            "{}: belongs to conversation {}",
            entry.path, transcript.conversation_id
        )));
    }
    write_new(&dir.join("transcript.json"), &bytes).await?;
    files.push(ExportedFile {
        rel_path: "transcript.json".into(),
        vault_path: entry.path.clone(),
        kind: FileKind::Transcript,
        sha256: entry.sha256.clone(),
        size: entry.size,
        attachment_id: None,
        inline: None,
    });

    let mut inline_budget = INLINE_TOTAL_MAX;
    for entry in manifest
        .objects
        .iter()
        .filter(|o| o.role == Role::Attachment)
    {
        if files.iter().any(|f| f.vault_path == entry.path) {
            continue;
        }
        let rel = attachment_rel_path(conv, entry)?;
        let keep = entry.size <= INLINE_IMAGE_MAX.min(inline_budget);
        let kept = copy_checked(vault, entry, &dir.join(&rel), keep).await?;
        let inline = kept.and_then(|b| {
            let mime = html::sniff_raster(&b)?;
            inline_budget -= b.len() as u64;
            Some(InlineImage {
                mime,
                base64: base64::engine::general_purpose::STANDARD.encode(&b),
            })
        });
        files.push(ExportedFile {
            rel_path: rel,
            vault_path: entry.path.clone(),
            kind: FileKind::Attachment,
            sha256: entry.sha256.clone(),
            size: entry.size,
            attachment_id: entry.attachment_id.clone(),
            inline,
        });
    }

    let page = html::render(
        &transcript,
        manifest,
        &Exported {
            exported_at,
            files: files.clone(),
        },
    );
    write_new(&dir.join("index.html"), page.as_bytes()).await?;
    Ok(files)
}

/// `attachments/{attachmentId}/{safe-filename}`: the tail of the object name,
/// accepted only in exactly that shape (the manifest is read from storage, so
/// its paths are checked before they become paths on this disk).
fn attachment_rel_path(conv: &ConversationId, entry: &ObjectEntry) -> Result<String, Refused> {
    let bad = || {
        Refused(format!(
            "{}: not an attachment name of the vault format",
            entry.path
        ))
    };
    let (of, id, name) = keys::parse_attachment(&entry.path).ok_or_else(bad)?;
    let id_matches = entry
        .attachment_id
        .as_ref()
        .is_none_or(|a| a.as_str() == id);
    if of != conv.as_str()
        || check_id(id).is_err()
        || !id_matches
        || name.is_empty()
        || safe_file_name(name) != name
    {
        return Err(bad());
    }
    let tail = entry.path.strip_prefix(&keys::conversation_prefix(conv));
    tail.map(str::to_string).ok_or_else(bad)
}

/// Stream `entry` to `dest`, hashing on the way, and check it against the
/// manifest. Returns the bytes too when `keep` (small enough to show inline).
async fn copy_checked(
    vault: &dyn Vault,
    entry: &ObjectEntry,
    dest: &Path,
    keep: bool,
) -> Result<Option<Vec<u8>>, Refused> {
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| Refused(format!("creating {}: {e}", parent.display())))?;
    }
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .await
        .map_err(|e| Refused(format!("creating {}: {e}", dest.display())))?;
    let mut body = vault.get_stream(&entry.path).await?;
    let mut hasher = StreamHasher::new();
    let mut kept = keep.then(Vec::new);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Refused(format!("{}: read failed: {e}", entry.path)))?;
        hasher.update(&chunk);
        read::check_size_so_far(entry, hasher.size())?;
        if let Some(k) = kept.as_mut() {
            k.extend_from_slice(&chunk);
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| Refused(format!("writing {}: {e}", dest.display())))?;
    }
    file.sync_all()
        .await
        .map_err(|e| Refused(format!("writing {}: {e}", dest.display())))?;
    let (sha, size) = hasher.finish();
    read::check(entry, &sha, size)?;
    Ok(kept)
}

async fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Refused> {
    let io = |e: std::io::Error| Refused(format!("writing {}: {e}", path.display()));
    let mut f = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(io)?;
    f.write_all(bytes).await.map_err(io)?;
    f.sync_all().await.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tvault_core::AttachmentId;

    fn entry(path: &str, id: Option<&str>) -> ObjectEntry {
        ObjectEntry {
            path: path.into(),
            role: Role::Attachment,
            sha256: String::new(),
            size: 0,
            content_type: String::new(),
            attachment_id: id.map(|i| AttachmentId::new(i).unwrap()),
            source_url: None,
        }
    }

    #[test]
    fn attachment_paths_mirror_the_vault_name_tail() {
        let c = ConversationId::new("c-1").unwrap();
        let e = entry("conversations/c-1/attachments/a1/IMG_1.jpg", Some("a1"));
        assert_eq!(
            attachment_rel_path(&c, &e).ok().unwrap(),
            "attachments/a1/IMG_1.jpg"
        );
    }

    #[test]
    fn attachment_paths_that_could_leave_the_export_folder_are_refused() {
        let c = ConversationId::new("c-1").unwrap();
        for (path, id) in [
            (
                "conversations/c-1/attachments/a1/../../../etc/passwd",
                Some("a1"),
            ),
            ("conversations/c-1/attachments/../x", None),
            ("conversations/c-1/attachments/a1/.hidden", None),
            ("conversations/c-1/attachments/a1/", None),
            ("conversations/c-2/attachments/a1/x.png", None),
            ("conversations/c-1/source/event.0123.json", None),
            ("conversations/c-1/attachments/a1/x.png", Some("a2")),
        ] {
            assert!(attachment_rel_path(&c, &entry(path, id)).is_err(), "{path}");
        }
    }
}
