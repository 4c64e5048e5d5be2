//! Many conversations in one folder or zip, each as `tvault export` writes
//! one, plus an `index.html` that lists them and a `SHA256SUMS` of every
//! file (`sha256sum -c SHA256SUMS` checks the lot):
//!
//! ```text
//! index.html
//! SHA256SUMS
//! {conversationId}/index.html, manifest.json, transcript.json, attachments/...
//! ```
//!
//! Written into a hidden sibling first and moved into place only when every
//! conversation passed its check; the target is never overwritten.

use std::path::{Path, PathBuf};

use tvault_core::hash::sha256_hex;
use tvault_core::manifest::Manifest;
use tvault_core::ports::Vault;

use crate::export::{self, DirSink, Refused, Sink, ZipSink};
use crate::page::{self, Exported, FileKind, View, esc};

/// Where a bundle goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A new folder.
    Dir(PathBuf),
    /// A new zip file.
    Zip(PathBuf),
}

/// What a bundle holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundled {
    pub conversations: usize,
    /// Files checked against a manifest (transcripts and attachments).
    pub checked_files: usize,
    pub checked_bytes: u64,
}

/// Why a bundle was not made: the target exists, or a conversation failed
/// its check (then nothing was written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("{0} already exists; an export never overwrites: move it away or choose another name")]
    Exists(String),
    #[error("conversation {conversation}: export refused: {reason}; nothing was exported")]
    Refused {
        conversation: String,
        reason: String,
    },
    #[error("{0}")]
    Io(String),
}

/// Export every generation of `manifests` (one per conversation) to `target`.
pub async fn bundle(
    vault: &dyn Vault,
    manifests: &[Manifest],
    target: &Target,
    view: &View,
    exported_at: &str,
) -> Result<Bundled, BundleError> {
    let path = match target {
        Target::Dir(p) | Target::Zip(p) => p,
    };
    if path.symlink_metadata().is_ok() {
        return Err(BundleError::Exists(path.display().to_string()));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| BundleError::Io(format!("creating {}: {e}", parent.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    // Dropped on every early return, which removes what was written.
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{name}.partial-"))
        .tempdir_in(&parent)
        .map_err(|e| BundleError::Io(format!("creating a folder in {}: {e}", parent.display())))?;

    let made = match target {
        Target::Dir(_) => {
            let root = partial.path().to_path_buf();
            write_all(
                vault,
                manifests,
                view,
                exported_at,
                |conv| Box::new(DirSink::new(root.join(conv))),
                &mut DirSink::new(&root),
            )
            .await?
        }
        Target::Zip(_) => {
            let file = std::fs::File::create(partial.path().join("bundle.zip"))
                .map_err(|e| BundleError::Io(format!("creating the zip: {e}")))?;
            let mut zip = zip::ZipWriter::new(file);
            let made = write_zip(vault, manifests, view, exported_at, &mut zip).await?;
            zip.finish()
                .map_err(|e| BundleError::Io(format!("writing the zip: {e}")))?
                .sync_all()
                .map_err(|e| BundleError::Io(format!("writing the zip: {e}")))?;
            made
        }
    };
    place(partial.path(), target)?;
    if let Target::Dir(_) = target {
        // The folder now lives at the target: nothing is left to remove.
        let _ = partial.keep();
    }
    Ok(made)
}

/// Move the finished bundle onto `target`, never replacing anything there.
fn place(partial: &Path, target: &Target) -> Result<(), BundleError> {
    let io = |e: std::io::Error, p: &Path| {
        BundleError::Io(format!("moving the export to {}: {e}", p.display()))
    };
    match target {
        Target::Dir(dest) => {
            // Claim the name (create_dir fails if anything is there), then
            // rename onto the empty folder: rename replaces an empty folder
            // but never one with content.
            std::fs::create_dir(dest).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    BundleError::Exists(dest.display().to_string())
                }
                _ => io(e, dest),
            })?;
            std::fs::rename(partial, dest).map_err(|e| {
                let _ = std::fs::remove_dir(dest);
                io(e, dest)
            })
        }
        Target::Zip(dest) => {
            // hard_link fails if `dest` exists: no overwrite, no race.
            std::fs::hard_link(partial.join("bundle.zip"), dest).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    BundleError::Exists(dest.display().to_string())
                }
                _ => io(e, dest),
            })
        }
    }
}

/// One conversation's files, its page, and the lines they add to SHA256SUMS.
async fn one(
    vault: &dyn Vault,
    m: &Manifest,
    view: &View,
    exported_at: &str,
    sink: &mut dyn Sink,
    sums: &mut Vec<(String, String)>,
    made: &mut Bundled,
) -> Result<Row, BundleError> {
    let conv = m.conversation_id.to_string();
    let refused = |r: Refused| BundleError::Refused {
        conversation: conv.clone(),
        reason: r.0,
    };
    let checked = export::check_into(vault, m, sink).await.map_err(refused)?;
    let html = page::render(
        &checked.transcript,
        m,
        &Exported {
            exported_at: exported_at.to_string(),
            files: checked.files.clone(),
            view: view.clone(),
        },
    );
    export::put(sink, "index.html", html.as_bytes()).map_err(refused)?;
    for f in &checked.files {
        sums.push((f.sha256.clone(), format!("{conv}/{}", f.rel_path)));
        if f.kind != FileKind::Manifest {
            made.checked_files += 1;
            made.checked_bytes = made.checked_bytes.saturating_add(f.size);
        }
    }
    sums.push((sha256_hex(html.as_bytes()), format!("{conv}/index.html")));
    made.conversations += 1;
    Ok(Row {
        conversation: conv,
        media: checked.transcript.media_type.clone(),
        start: checked.transcript.start_time.clone(),
        end: checked.transcript.end_time.clone(),
        messages: checked.transcript.messages.len(),
        generation: m.generation.clone(),
    })
}

async fn write_all(
    vault: &dyn Vault,
    manifests: &[Manifest],
    view: &View,
    exported_at: &str,
    sink_for: impl Fn(&str) -> Box<dyn Sink>,
    top: &mut dyn Sink,
) -> Result<Bundled, BundleError> {
    let (mut sums, mut rows, mut made) = (Vec::new(), Vec::new(), Bundled::default());
    for m in manifests {
        let mut sink = sink_for(m.conversation_id.as_str());
        rows.push(
            one(
                vault,
                m,
                view,
                exported_at,
                sink.as_mut(),
                &mut sums,
                &mut made,
            )
            .await?,
        );
    }
    finish_top(top, &rows, &mut sums, view, exported_at)?;
    Ok(made)
}

async fn write_zip<W: std::io::Write + std::io::Seek + Send>(
    vault: &dyn Vault,
    manifests: &[Manifest],
    view: &View,
    exported_at: &str,
    zip: &mut zip::ZipWriter<W>,
) -> Result<Bundled, BundleError> {
    let (mut sums, mut rows, mut made) = (Vec::new(), Vec::new(), Bundled::default());
    for m in manifests {
        let mut sink = ZipSink {
            zip: &mut *zip,
            prefix: format!("{}/", m.conversation_id),
        };
        rows.push(one(vault, m, view, exported_at, &mut sink, &mut sums, &mut made).await?);
    }
    let mut top = ZipSink {
        zip,
        prefix: String::new(),
    };
    finish_top(&mut top, &rows, &mut sums, view, exported_at)?;
    Ok(made)
}

fn finish_top(
    top: &mut dyn Sink,
    rows: &[Row],
    sums: &mut Vec<(String, String)>,
    view: &View,
    exported_at: &str,
) -> Result<(), BundleError> {
    let io = |r: Refused| BundleError::Io(r.0);
    let index = index_page(rows, view, exported_at);
    export::put(top, "index.html", index.as_bytes()).map_err(io)?;
    sums.push((sha256_hex(index.as_bytes()), "index.html".into()));
    export::put(top, "SHA256SUMS", export::sha256sums(sums).as_bytes()).map_err(io)
}

/// One line of the bundle's index page.
struct Row {
    conversation: String,
    media: Option<String>,
    start: Option<String>,
    end: Option<String>,
    messages: usize,
    generation: String,
}

/// The bundle's `index.html`: a table of its conversations. Every value is
/// escaped; the page runs no script and loads nothing ([`page::CSP`]).
fn index_page(rows: &[Row], view: &View, exported_at: &str) -> String {
    let z = &view.zone;
    let t = |o: &Option<String>| {
        o.as_deref()
            .map(|x| esc(&z.show(x)))
            .unwrap_or_else(|| "&ndash;".into())
    };
    let mut s =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s += &format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        page::CSP
    );
    s +=
        "<meta name=\"referrer\" content=\"no-referrer\">\n<title>Exported conversations</title>\n";
    s += "<style>body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:64rem;padding:1rem}\
          table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.25rem .4rem;text-align:left}\
          code{font-family:ui-monospace,monospace;font-size:.85em}</style>\n</head>\n<body>\n";
    s += &format!(
        "<h1>{} exported conversation(s)</h1>\n<p>Exported <time>{}</time>. Every transcript and attachment \
         was re-hashed against its manifest on the way out; <code>SHA256SUMS</code> lists every file \
         (check them with <code>sha256sum -c SHA256SUMS</code>).</p>\n",
        rows.len(),
        esc(&z.show(exported_at))
    );
    s += "<table>\n<thead><tr><th>Conversation</th><th>Media</th><th>Started</th><th>Ended</th>\
          <th>Messages</th><th>Generation</th></tr></thead>\n<tbody>\n";
    for r in rows {
        let id = esc(&r.conversation);
        s += &format!(
            "<tr><td><a href=\"{id}/index.html\"><code>{id}</code></a></td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td><code>{}</code></td></tr>\n",
            r.media
                .as_deref()
                .map(esc)
                .unwrap_or_else(|| "&ndash;".into()),
            t(&r.start),
            t(&r.end),
            r.messages,
            esc(&r.generation)
        );
    }
    s += "</tbody>\n</table>\n</body>\n</html>\n";
    s
}
