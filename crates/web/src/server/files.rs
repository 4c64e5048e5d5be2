//! The conversation page and what it links to, each read and re-hashed
//! against the manifest on every request: the page (the same as `tvault
//! export` writes), the stored JSON, attachments and zips. Bytes are checked
//! before the first one is sent: an attachment is copied to a temporary file
//! while it is hashed, and served only if it matched.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tvault_core::ConversationId;
use tvault_core::keys;
use tvault_core::manifest::{Manifest, Role};
use tvault_core::read::{self, ReadError};
use tvault_core::transcript::fmt_time;

use super::pages::{self, message, query_of};
use super::{Params, Resp, Room, full, html as html_resp, param};
use crate::bundle::{self, Target};
use crate::export::{self, DirSink, NullSink};
use crate::page::{self, Exported, View, esc, opens_in_place};

/// Most conversations "export these results" puts in one zip.
const ZIP_LIMIT: usize = 1_000;

/// The generation asked for (`?generation=`), else the latest; or the
/// response that says why there is none.
async fn manifest_of(room: &Room, id: &str, p: &Params) -> Result<Manifest, Resp> {
    let Ok(conv) = ConversationId::new(id) else {
        return Err(message(
            room,
            StatusCode::NOT_FOUND,
            "Not found",
            "That is not a conversation id.",
        ));
    };
    match read::pick(room.vault.as_ref(), &conv, param(p, "generation")).await {
        Ok(picked) => Ok(picked.manifest),
        Err(e @ (ReadError::NotArchived(_) | ReadError::NoSuchGeneration { .. })) => Err(message(
            room,
            StatusCode::NOT_FOUND,
            "Not in the vault",
            &e.to_string(),
        )),
        Err(e) => Err(message(
            room,
            StatusCode::BAD_GATEWAY,
            "The vault could not be read",
            &e.to_string(),
        )),
    }
}

fn refused(room: &Room, conv: &str, reason: &str) -> Resp {
    message(
        room,
        StatusCode::CONFLICT,
        "Refused: the vault does not match its manifest",
        &format!("Conversation {conv}: {reason}. Nothing of it is shown."),
    )
}

/// The conversation page: every object re-hashed now, then the export's page
/// with links to the room's routes.
pub(crate) async fn conversation(room: &Room, id: &str, p: &Params) -> Resp {
    let m = match manifest_of(room, id, p).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let checked = match export::check_into(room.vault.as_ref(), &m, &mut NullSink).await {
        Ok(c) => c,
        Err(e) => return refused(room, id, &e.0),
    };
    let generation = format!("generation={}", m.generation);
    let manifest_sha = checked
        .files
        .first()
        .map(|f| f.sha256.clone())
        .unwrap_or_default();
    let nav = format!(
        "{}<p class=\"mono\">Manifest <a href=\"{}\">{}</a> sha256 {} &middot; <a href=\"{}\">Export this conversation (zip with SHA256SUMS)</a> &middot; <a href=\"{}\">Day {}</a></p>\n",
        pages::nav(room, false).into_string(),
        esc(&room.link(&format!("/c/{id}/manifest.json"), &generation)),
        esc(&keys::manifest(&m.conversation_id, &m.generation)),
        esc(&manifest_sha),
        esc(&room.link(&format!("/c/{id}/export.zip"), &generation)),
        esc(&room.link(&format!("/day/{}", day_of(&m)), "")),
        esc(&day_of(&m)),
    );
    let view = View {
        zone: room.zone,
        href_prefix: format!("/c/{id}/"),
        href_suffix: format!("?{generation}&token={}", room.token),
        nav_html: Some(nav),
    };
    let html = page::render(
        &checked.transcript,
        &m,
        &Exported {
            exported_at: fmt_time(chrono::Utc::now()),
            files: checked.files,
            view,
        },
    );
    html_resp(StatusCode::OK, html)
}

/// The UTC day of the conversation's end (the date index's day for it), else
/// the day it was archived.
fn day_of(m: &Manifest) -> String {
    m.conversation
        .end_time
        .as_deref()
        .unwrap_or(&m.archived_at)
        .get(..10)
        .unwrap_or("")
        .to_string()
}

/// `manifest.json` (as stored) or `transcript.json` (checked against it).
pub(crate) async fn json(room: &Room, id: &str, file: &str, p: &Params) -> Resp {
    let m = match manifest_of(room, id, p).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let vault = room.vault.as_ref();
    let bytes = if file == "manifest.json" {
        vault
            .get(&keys::manifest(&m.conversation_id, &m.generation))
            .await
            .map_err(|e| e.to_string())
            .and_then(|b| match Manifest::from_slice(&b) {
                Ok(again) if again == m => Ok(b),
                _ => Err("the manifest changed while it was read".into()),
            })
    } else {
        match m.transcript() {
            Some(entry) => read::read_checked(vault, entry)
                .await
                .map_err(|e| e.to_string()),
            None => Err("its manifest lists no transcript".into()),
        }
    };
    match bytes {
        Ok(b) => full(StatusCode::OK, "application/json", b),
        Err(e) => refused(room, id, &e),
    }
}

/// An attachment, re-hashed on the way out. Types a browser shows without
/// running anything are sent inline; everything else as a download.
pub(crate) async fn attachment(room: &Room, id: &str, att: &str, name: &str, p: &Params) -> Resp {
    let m = match manifest_of(room, id, p).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let path = format!(
        "{}attachments/{att}/{name}",
        keys::conversation_prefix(&m.conversation_id)
    );
    let Some(entry) = m
        .objects
        .iter()
        .find(|o| o.role == Role::Attachment && o.path == path)
    else {
        return message(
            room,
            StatusCode::NOT_FOUND,
            "Not found",
            "This generation lists no such attachment.",
        );
    };
    let rel = match export::attachment_rel_path(&m.conversation_id, entry) {
        Ok(r) => r,
        Err(e) => return refused(room, id, &e.0),
    };
    let Ok(dir) = tempfile::tempdir() else {
        return message(
            room,
            StatusCode::INTERNAL_SERVER_ERROR,
            "No room",
            "No temporary folder for the download.",
        );
    };
    let mut sink = DirSink::new(dir.path());
    if let Err(e) = export::copy_checked(room.vault.as_ref(), entry, &mut sink, &rel, false).await {
        return refused(room, id, &e.0);
    }
    let file_name = rel.rsplit('/').next().unwrap_or("attachment").to_string();
    let (content_type, disposition) = if opens_in_place(&file_name) {
        (type_of(&file_name), "inline")
    } else {
        ("application/octet-stream", "attachment")
    };
    stream_file(
        dir,
        &rel,
        content_type,
        &format!("{disposition}; filename=\"{file_name}\""),
        entry.size,
    )
    .await
}

/// The type of a passive file by its (safe) name; the manifest's declared
/// type came from outside and is not trusted to label a response.
fn type_of(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "pdf" => "application/pdf",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        "ogg" | "oga" => "audio/ogg",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// Send a checked file from a temporary folder, which is removed once sent.
async fn stream_file(
    dir: tempfile::TempDir,
    rel: &str,
    content_type: &'static str,
    disposition: &str,
    size: u64,
) -> Resp {
    let Ok(file) = tokio::fs::File::open(dir.path().join(rel)).await else {
        return full(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            "the checked copy went missing\n",
        );
    };
    let chunks = futures::stream::unfold((file, dir), |(mut f, dir)| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(bytes::Bytes::from(buf))), (f, dir)))
            }
            Err(e) => Some((Err(e), (f, dir))),
        }
    });
    let mut r = Response::new(StreamBody::new(chunks).boxed_unsync());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// "Export this conversation": a zip of the export, with SHA256SUMS.
pub(crate) async fn conversation_zip(room: &Room, id: &str, p: &Params) -> Resp {
    let m = match manifest_of(room, id, p).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    zip_of(room, &[m], &format!("{id}.zip")).await
}

/// "Export these results": the conversations the search finds, in one zip.
pub(crate) async fn results_zip(room: &Room, p: &Params) -> Resp {
    let q = match query_of(p, ZIP_LIMIT) {
        Ok(Some(q)) => q,
        Ok(None) => {
            return message(
                room,
                StatusCode::BAD_REQUEST,
                "Nothing to export",
                "Search first.",
            );
        }
        Err(e) => return message(room, StatusCode::BAD_REQUEST, "Not a search", &e),
    };
    let (found, checked) = match pages::run_search(room, q).await {
        Ok(r) => r,
        Err(e) => return message(room, StatusCode::BAD_REQUEST, "No search", &e),
    };
    if found.more {
        return message(
            room,
            StatusCode::BAD_REQUEST,
            "Too many",
            "More than 1,000 conversations match: narrow the search.",
        );
    }
    let mut manifests = Vec::new();
    for c in checked {
        match c {
            Ok(c) => manifests.push(c.manifest),
            Err(r) => return refused(room, &r.conversation, &r.reason),
        }
    }
    if manifests.is_empty() {
        return message(
            room,
            StatusCode::NOT_FOUND,
            "Nothing to export",
            "No conversation matches.",
        );
    }
    zip_of(room, &manifests, "conversations.zip").await
}

async fn zip_of(room: &Room, manifests: &[Manifest], file_name: &str) -> Resp {
    let Ok(dir) = tempfile::tempdir() else {
        return message(
            room,
            StatusCode::INTERNAL_SERVER_ERROR,
            "No room",
            "No temporary folder for the zip.",
        );
    };
    let target = Target::Zip(dir.path().join("export.zip"));
    let view = View {
        zone: room.zone,
        ..View::default()
    };
    let exported_at = fmt_time(chrono::Utc::now());
    match bundle::bundle(room.vault.as_ref(), manifests, &target, &view, &exported_at).await {
        Ok(_) => {
            let size = std::fs::metadata(dir.path().join("export.zip"))
                .map(|m| m.len())
                .unwrap_or(0);
            stream_file(
                dir,
                "export.zip",
                "application/zip",
                &format!("attachment; filename=\"{file_name}\""),
                size,
            )
            .await
        }
        Err(e) => message(room, StatusCode::CONFLICT, "Export refused", &e.to_string()),
    }
}
