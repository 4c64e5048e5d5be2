//! One conversation read out of the vault and checked against its manifest
//! on the way: the manifest as stored, the transcript and every attachment,
//! each hashed and sized as it streams and compared with the manifest. What
//! passed goes to a [`Sink`] (a folder, a zip entry, or nowhere when only
//! the check and the page are wanted), and [`crate::page`] makes the page.
//!
//! A mismatch stops the copy with [`Refused`]: callers write into a place
//! that is removed unless everything passed, so nothing half-checked is
//! ever left looking complete.

use std::io::Write;
use std::path::PathBuf;

use base64::Engine;
use futures::StreamExt;
use tvault_core::ConversationId;
use tvault_core::hash::{StreamHasher, sha256_hex};
use tvault_core::id::{check_id, safe_file_name};
use tvault_core::keys;
use tvault_core::manifest::{Manifest, ObjectEntry, Role};
use tvault_core::ports::Vault;
use tvault_core::read;
use tvault_core::transcript::Transcript;

use crate::page::{self, ExportedFile, FileKind, INLINE_IMAGE_MAX, INLINE_TOTAL_MAX, InlineImage};

/// Why a conversation was not exported (or shown); the reason names the object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl From<read::ReadError> for Refused {
    fn from(e: read::ReadError) -> Self {
        Refused(e.to_string())
    }
}

impl From<tvault_core::ports::VaultError> for Refused {
    fn from(e: tvault_core::ports::VaultError) -> Self {
        Refused(e.to_string())
    }
}

/// Where checked files go. Paths are `/`-separated and built only from
/// checked ids and safe file names.
pub trait Sink: Send {
    /// Start the file `rel` (a new file: a sink never overwrites).
    fn start(&mut self, rel: &str) -> std::io::Result<()>;
    /// More bytes of the file started last.
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()>;
    /// The file started last is complete.
    fn finish(&mut self) -> std::io::Result<()>;
}

/// Checks only: the bytes go nowhere (the reading room's conversation page).
pub struct NullSink;

impl Sink for NullSink {
    fn start(&mut self, _: &str) -> std::io::Result<()> {
        Ok(())
    }
    fn write(&mut self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Files under a folder, each created new (never overwritten) and synced.
pub struct DirSink {
    root: PathBuf,
    file: Option<std::fs::File>,
}

impl DirSink {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            file: None,
        }
    }
}

impl Sink for DirSink {
    fn start(&mut self, rel: &str) -> std::io::Result<()> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        self.file = Some(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)?,
        );
        Ok(())
    }
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.write_all(chunk),
            None => Err(std::io::Error::other("write before start")),
        }
    }
    fn finish(&mut self) -> std::io::Result<()> {
        match self.file.take() {
            Some(f) => f.sync_all(),
            None => Ok(()),
        }
    }
}

/// Entries of a zip file, under a folder prefix (`{conversationId}/`).
pub struct ZipSink<'a, W: Write + std::io::Seek + Send> {
    pub zip: &'a mut zip::ZipWriter<W>,
    pub prefix: String,
}

/// Deflate for every entry: transcripts and pages shrink, and media that
/// will not shrink costs a little CPU only.
pub fn zip_options() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true)
}

impl<W: Write + std::io::Seek + Send> Sink for ZipSink<'_, W> {
    fn start(&mut self, rel: &str) -> std::io::Result<()> {
        self.zip
            .start_file(format!("{}{rel}", self.prefix), zip_options())
            .map_err(std::io::Error::other)
    }
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.zip.write_all(chunk)
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A conversation read and checked.
#[derive(Debug, Clone)]
pub struct CheckedConversation {
    pub manifest: Manifest,
    pub transcript: Transcript,
    /// The files written, manifest first (each with its SHA-256 and size).
    pub files: Vec<ExportedFile>,
}

/// Read `manifest`'s generation, check every file against it, and send the
/// manifest, transcript and attachments to `sink` as `manifest.json`,
/// `transcript.json` and `attachments/{id}/{name}`.
pub async fn check_into(
    vault: &dyn Vault,
    manifest: &Manifest,
    sink: &mut dyn Sink,
) -> Result<CheckedConversation, Refused> {
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
    put(sink, "manifest.json", &manifest_bytes)?;
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
    put(sink, "transcript.json", &bytes)?;
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
        let kept = copy_checked(vault, entry, sink, &rel, keep).await?;
        let inline = kept.and_then(|b| {
            let mime = page::sniff_raster(&b)?;
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
    Ok(CheckedConversation {
        manifest: manifest.clone(),
        transcript,
        files,
    })
}

/// Write one small file to `sink`.
pub fn put(sink: &mut dyn Sink, rel: &str, bytes: &[u8]) -> Result<(), Refused> {
    let io = |e: std::io::Error| Refused(format!("writing {rel}: {e}"));
    sink.start(rel).map_err(io)?;
    sink.write(bytes).map_err(io)?;
    sink.finish().map_err(io)
}

/// `attachments/{attachmentId}/{safe-filename}`: the tail of the object name,
/// accepted only in exactly that shape (the manifest is read from storage, so
/// its paths are checked before they become paths on a disk or in a zip).
pub fn attachment_rel_path(conv: &ConversationId, entry: &ObjectEntry) -> Result<String, Refused> {
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

/// Stream `entry` to `sink` as `rel`, hashing on the way, and check it
/// against the manifest. Returns the bytes too when `keep` (small enough to
/// show inline).
pub async fn copy_checked(
    vault: &dyn Vault,
    entry: &ObjectEntry,
    sink: &mut dyn Sink,
    rel: &str,
    keep: bool,
) -> Result<Option<Vec<u8>>, Refused> {
    let io = |e: std::io::Error| Refused(format!("writing {rel}: {e}"));
    sink.start(rel).map_err(io)?;
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
        sink.write(&chunk).map_err(io)?;
    }
    sink.finish().map_err(io)?;
    let (sha, size) = hasher.finish();
    read::check(entry, &sha, size)?;
    Ok(kept)
}

/// `SHA256SUMS` in the format `sha256sum -c` reads: `HASH  PATH` per line.
pub fn sha256sums(lines: &[(String, String)]) -> String {
    let mut out = String::new();
    for (sha, path) in lines {
        out += &format!("{sha}  {path}\n");
    }
    out
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

    #[test]
    fn sums_are_in_sha256sum_format() {
        assert_eq!(
            sha256sums(&[("ab".into(), "c/manifest.json".into())]),
            "ab  c/manifest.json\n"
        );
    }
}
