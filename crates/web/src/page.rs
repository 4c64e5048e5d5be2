//! A conversation as one self-contained HTML page: the page of `tvault
//! export`, and the reading room's conversation page (with links to its
//! routes instead of files, [`View`]).
//!
//! A pure function of the transcript, the manifest and what the export wrote:
//! no I/O, no clock. The page carries no script and loads nothing: its
//! Content-Security-Policy allows inline styles and `data:` images only, and
//! every string that came from the transcript or the manifest (texts, names,
//! file names, content types) is HTML-escaped, because customers wrote them.

use tvault_core::AttachmentId;
use tvault_core::manifest::{Manifest, TriggerKind};
use tvault_core::transcript::{AttachmentEntry, Message, Transcript};

use crate::zone::Zone;

/// Largest image shown inline (as a `data:` URI); larger ones are linked.
pub const INLINE_IMAGE_MAX: u64 = 8 * 1024 * 1024;
/// Largest total of inline images on one page, so a conversation with many
/// photos still gives a page a browser opens; the rest are linked.
pub const INLINE_TOTAL_MAX: u64 = 32 * 1024 * 1024;

/// The page's policy: nothing loads, nothing runs; inline CSS and `data:` images only.
pub const CSP: &str = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; \
                       base-uri 'none'; form-action 'none'";

/// What a file of the export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The stored manifest: the reference the other files are checked against.
    Manifest,
    Transcript,
    Attachment,
}

/// An image to show inline: its type as its magic bytes say, and the bytes in base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineImage {
    pub mime: &'static str,
    pub base64: String,
}

/// One file the export wrote (besides `index.html`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// Path inside the export folder, `/`-separated: built only from checked
    /// ids and safe file names.
    pub rel_path: String,
    /// The object it was read from.
    pub vault_path: String,
    pub kind: FileKind,
    pub sha256: String,
    pub size: u64,
    pub attachment_id: Option<AttachmentId>,
    pub inline: Option<InlineImage>,
}

/// What the export did, for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// When the files were re-checked (RFC 3339 UTC).
    pub exported_at: String,
    pub files: Vec<ExportedFile>,
    pub view: View,
}

/// How the page is shown: the zone of its times, where its links point,
/// and (in the reading room) a navigation bar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// `--tz`; times as stored without it.
    pub zone: Zone,
    /// Put before and after a file's path to make its link (the export's
    /// links are the paths themselves).
    pub href_prefix: String,
    pub href_suffix: String,
    /// HTML put at the top of the body: built by the caller from escaped
    /// parts only (the reading room's links).
    pub nav_html: Option<String>,
}

/// The raster image type of `bytes` by their magic numbers: PNG, JPEG, GIF or
/// WebP. Anything else (SVG above all, which can carry script) is `None`:
/// what the transcript *declares* an attachment to be is never trusted.
pub fn sniff_raster(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Extensions a browser shows in place without running anything: raster
/// images, PDF, plain text, audio and video, and the export's own JSON.
/// Everything else, above all `.html`, `.svg` and `.xml` (which a browser
/// would open as a page and let run script outside this page's
/// Content-Security-Policy) and names without an extension (which a browser
/// may sniff as HTML), is linked with `download`: saved, never opened.
const OPENS_IN_PLACE: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "bmp", "pdf", "txt", "csv", "json", "mp3", "m4a", "wav",
    "ogg", "oga", "mp4", "m4v", "mov", "webm",
];

/// A link to a file of the export: `download` unless the file is passive.
fn link(view: &View, rel_path: &str, label: &str) -> String {
    let name = rel_path.rsplit('/').next().unwrap_or(rel_path);
    let download = if opens_in_place(name) {
        ""
    } else {
        " download"
    };
    format!(
        "<a href=\"{}{}{}\"{download}>{label}</a>",
        esc(&view.href_prefix),
        esc(rel_path),
        esc(&view.href_suffix)
    )
}

/// Whether a file of this name is one a browser shows without running
/// anything (see [`OPENS_IN_PLACE`]).
pub fn opens_in_place(file_name: &str) -> bool {
    file_name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .is_some_and(|e| OPENS_IN_PLACE.contains(&e.as_str()))
}

/// What a legacy chat line that is not an ordinary message is, in words
/// (`Message::body_type`, Genesys `ChatMessage.bodyType`). An unknown value is
/// shown reduced to letters, digits and `_`: it came from outside.
pub fn body_type_label(body_type: &str) -> String {
    match body_type {
        "MEMBERJOIN" => "joined the chat".into(),
        "MEMBERLEAVE" => "left the chat".into(),
        "NOTICE" => "notice".into(),
        "ACTIVITY" => "activity".into(),
        "TYPING" => "typing".into(),
        "MEDIAREQUEST" => "media request".into(),
        other => other
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(32)
            .collect::<String>()
            .to_lowercase(),
    }
}

/// Escape text for HTML element content and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 1.5rem;color:#1b1b1b;background:#fff}
h1{font-size:1.35rem;margin:.2rem 0 .8rem}h2{font-size:1.1rem;margin:1.6rem 0 .6rem;border-bottom:1px solid #ccc}
code,.mono{font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0}
dl.facts dt{color:#555}dl.facts dd{margin:0}
ol.messages{list-style:none;padding:0;margin:0}
li.msg{border-left:4px solid #999;padding:.35rem .8rem;margin:.5rem 0;background:#f6f6f6}
li.customer{border-color:#2f6fb3}li.agent{border-color:#2e8b57}
.meta{font-size:.85rem;color:#444}.who{font-weight:600}
.text{white-space:pre-wrap;overflow-wrap:anywhere;margin-top:.2rem}
.none{color:#777;font-style:italic}
.att{margin-top:.4rem;font-size:.9rem}
.att img{display:block;max-width:100%;max-height:30rem;margin-top:.3rem;border:1px solid #ccc}
.missing{color:#a40000;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.25rem .4rem;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap}
footer{margin-top:2rem;font-size:.8rem;color:#666}
";

/// The whole page.
pub fn render(t: &Transcript, m: &Manifest, ex: &Exported) -> String {
    let mut s = String::with_capacity(16 * 1024);
    let id = esc(t.conversation_id.as_str());
    s += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    s += &format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n");
    s += "<meta name=\"referrer\" content=\"no-referrer\">\n";
    s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    s += &format!("<title>Conversation {id}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n");
    if let Some(nav) = &ex.view.nav_html {
        s += nav;
    }
    s += &header(t, m, &ex.view.zone);
    s += "<main>\n<h2>Messages</h2>\n<ol class=\"messages\">\n";
    for msg in &t.messages {
        s += &message(msg, m, ex);
    }
    s += "</ol>\n";
    s += &integrity(m, ex);
    s += "</main>\n<footer>Exported by tvault ";
    s += &esc(env!("CARGO_PKG_VERSION"));
    s += " from the transcript-vault format described in docs/vault-format.md. \
          This page runs no script and loads nothing from outside this folder.</footer>\n";
    s += "</body>\n</html>\n";
    s
}

fn opt(o: &Option<String>) -> String {
    o.as_deref().map(esc).unwrap_or_else(|| "&ndash;".into())
}

/// A stored time in the view's zone, escaped.
fn time(z: &Zone, o: &Option<String>) -> String {
    o.as_deref()
        .map(|t| esc(&z.show(t)))
        .unwrap_or_else(|| "&ndash;".into())
}

fn header(t: &Transcript, m: &Manifest, z: &Zone) -> String {
    let kind = match m.trigger.kind {
        TriggerKind::Lifecycle => "lifecycle event (pulled from the Genesys API)",
        TriggerKind::TranscriptEvent => "event carrying its transcript",
        TriggerKind::Backfill => "reconciliation backfill",
    };
    let mut trigger = kind.to_string();
    if let Some(topic) = &m.trigger.topic {
        trigger += &format!(", topic <code>{}</code>", esc(topic));
    }
    if let Some(ev) = &m.trigger.event_id {
        trigger += &format!(", event id <code>{}</code>", esc(ev));
    }
    let missing = if m.missing.is_empty() {
        String::new()
    } else {
        format!(
            ", <span class=\"missing\">{} not in vault</span>",
            m.missing.len()
        )
    };
    let mut s = String::new();
    s += &format!(
        "<header>\n<h1>Conversation <code>{}</code></h1>\n<dl class=\"facts\">\n",
        esc(t.conversation_id.as_str())
    );
    let rows = [
        ("Media type", opt(&t.media_type)),
        ("Started", time(z, &t.start_time)),
        ("Ended", time(z, &t.end_time)),
        (
            "Messages",
            format!(
                "{}, attachments {}{missing}",
                t.messages.len(),
                t.attachment_count()
            ),
        ),
        ("Generation", format!("<code>{}</code>", esc(&m.generation))),
        ("Archived at", esc(&z.show(&m.archived_at))),
        ("Trigger", trigger),
    ];
    for (k, v) in rows {
        s += &format!("<dt>{k}</dt><dd>{v}</dd>\n");
    }
    s += "</dl>\n</header>\n";
    s
}

fn message(msg: &Message, m: &Manifest, ex: &Exported) -> String {
    // The class comes from a fixed set, never from the input.
    let class = match msg.purpose.as_deref() {
        Some("customer") => "customer",
        Some("agent") => "agent",
        _ => "other",
    };
    let who = msg
        .sender
        .name
        .clone()
        .or_else(|| msg.purpose.clone())
        .unwrap_or_else(|| "unknown sender".into());
    let mut meta = format!(
        "<time>{}</time> <span class=\"who\">{}</span>",
        time(&ex.view.zone, &msg.timestamp),
        esc(&who)
    );
    if let (Some(p), Some(_)) = (&msg.purpose, &msg.sender.name) {
        meta += &format!(" <span class=\"role\">({})</span>", esc(p));
    }
    if let Some(d) = &msg.direction {
        meta += &format!(" &middot; {}", esc(&d.to_lowercase()));
    }
    if let Some(b) = &msg.body_type {
        let label = body_type_label(b);
        meta += &format!(" &middot; <span class=\"kind\">{}</span>", esc(&label));
    }
    let text = match msg.text.as_deref() {
        Some(x) if !x.is_empty() => format!("<div class=\"text\">{}</div>", esc(x)),
        _ if !msg.attachments.is_empty() => String::new(),
        _ => "<div class=\"text none\">(no text)</div>".into(),
    };
    let mut s = format!("<li class=\"msg {class}\">\n<div class=\"meta\">{meta}</div>{text}\n");
    for a in &msg.attachments {
        s += &attachment(a, m, ex);
    }
    s += "</li>\n";
    s
}

fn attachment(a: &AttachmentEntry, m: &Manifest, ex: &Exported) -> String {
    let name = esc(a.name.as_deref().unwrap_or(a.attachment_id.as_str()));
    let declared = format!(
        "{}, {}",
        esc(a.content_type.as_deref().unwrap_or("type unknown")),
        a.size
            .map(|n| format!("{n} bytes"))
            .unwrap_or_else(|| "size unknown".into())
    );
    if let Some(x) = m
        .missing
        .iter()
        .find(|x| x.attachment_id == a.attachment_id)
    {
        return format!(
            "<div class=\"att\">Attachment {name} ({declared}): \
             <span class=\"missing\">not in vault: {}</span></div>\n",
            esc(&x.reason)
        );
    }
    let file = ex.files.iter().find(|f| {
        f.kind == FileKind::Attachment && f.attachment_id.as_ref() == Some(&a.attachment_id)
    });
    let Some(f) = file else {
        return format!(
            "<div class=\"att\">Attachment {name} ({declared}): \
             <span class=\"missing\">not listed in this generation's manifest</span></div>\n"
        );
    };
    let href = esc(&f.rel_path);
    let mut s = format!(
        "<div class=\"att\">Attachment {} ({declared})",
        link(&ex.view, &f.rel_path, &name)
    );
    match &f.inline {
        Some(img) => {
            s += &format!(
                "<img src=\"data:{};base64,{}\" alt=\"{name}\">",
                img.mime, img.base64
            )
        }
        None => s += &format!(" &middot; <span class=\"mono\">{href}</span>"),
    }
    s += "</div>\n";
    s
}

fn integrity(m: &Manifest, ex: &Exported) -> String {
    let checked = ex
        .files
        .iter()
        .filter(|f| f.kind != FileKind::Manifest)
        .count();
    let mut s = String::from("<h2>Integrity</h2>\n");
    s += &format!(
        "<p>{} <time>{}</time>, each of the {checked} file(s) below marked \
         &ldquo;checked&rdquo; was read from the vault and its SHA-256 and size were \
         re-computed and compared with manifest <code>{}</code> (generation <code>{}</code>): \
         all matched. An export with any mismatch is refused and leaves no page behind. \
         <code>manifest.json</code> is the manifest as stored, byte for byte; its own SHA-256 \
         is given so this copy can be compared with the vault&rsquo;s.</p>\n",
        if ex.view.nav_html.is_some() {
            "When this page was made,"
        } else {
            "At export time,"
        },
        esc(&ex.view.zone.show(&ex.exported_at)),
        esc(&tvault_core::keys::manifest(
            &m.conversation_id,
            &m.generation
        )),
        esc(&m.generation)
    );
    s += "<table>\n<thead><tr><th>File</th><th>SHA-256</th><th>Bytes</th>\
          <th>Vault object</th><th>Check</th></tr></thead>\n<tbody>\n";
    for f in &ex.files {
        let check = match f.kind {
            FileKind::Manifest => "the reference",
            FileKind::Transcript | FileKind::Attachment => "checked: matches",
        };
        s += &format!(
            "<tr><td>{}</td><td class=\"mono\">{}</td>\
             <td class=\"num\">{}</td><td class=\"mono\">{}</td><td>{check}</td></tr>\n",
            link(&ex.view, &f.rel_path, &esc(&f.rel_path)),
            esc(&f.sha256),
            f.size,
            esc(&f.vault_path),
        );
    }
    s += "</tbody>\n</table>\n";
    if !m.missing.is_empty() {
        s += "<p>Attachments this generation could not archive (manifest <code>missing</code>):</p>\n<ul>\n";
        for x in &m.missing {
            s += &format!(
                "<li><code>{}</code>: not in vault: {}</li>\n",
                esc(x.attachment_id.as_str()),
                esc(&x.reason)
            );
        }
        s += "</ul>\n";
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use tvault_core::ConversationId;
    use tvault_core::manifest::{ConversationSummary, MANIFEST_SCHEMA, Missing, Trigger};
    use tvault_core::transcript::{Sender, TRANSCRIPT_SCHEMA};

    fn transcript(text: &str, name: &str) -> Transcript {
        let conv = ConversationId::new("c-1").unwrap();
        Transcript {
            schema: TRANSCRIPT_SCHEMA.into(),
            conversation_id: conv,
            media_type: Some("MESSAGE".into()),
            start_time: Some("2026-09-20T09:00:00.000Z".into()),
            end_time: None,
            participants: vec![],
            messages: vec![Message {
                id: Some("m1".into()),
                timestamp: Some("2026-09-20T09:00:00.000Z".into()),
                direction: Some("INBOUND".into()),
                purpose: Some("customer".into()),
                sender: Sender {
                    name: Some(name.into()),
                    ..Sender::default()
                },
                text: Some(text.into()),
                attachments: vec![
                    AttachmentEntry {
                        attachment_id: AttachmentId::new("a1").unwrap(),
                        name: Some("<img src=x onerror=alert(1)>.png".into()),
                        content_type: Some("image/png\"><script>".into()),
                        size: Some(3),
                        path: "conversations/c-1/attachments/a1/img_src_x.png".into(),
                    },
                    AttachmentEntry {
                        attachment_id: AttachmentId::new("a2").unwrap(),
                        name: Some("gone.pdf".into()),
                        content_type: None,
                        size: None,
                        path: "conversations/c-1/attachments/a2/gone.pdf".into(),
                    },
                ],
                body_type: None,
            }],
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            schema: MANIFEST_SCHEMA.into(),
            conversation_id: ConversationId::new("c-1").unwrap(),
            generation: "0123456789abcdef".into(),
            archived_at: "2026-09-20T10:00:00.000Z".into(),
            trigger: Trigger {
                kind: TriggerKind::TranscriptEvent,
                topic: Some("<b>topic</b>".into()),
                event_id: None,
            },
            conversation: ConversationSummary {
                start_time: None,
                end_time: None,
                media_type: None,
                message_count: 1,
                attachment_count: 2,
            },
            objects: vec![],
            missing: vec![Missing {
                attachment_id: AttachmentId::new("a2").unwrap(),
                reason: "gone: <404>".into(),
            }],
        }
    }

    fn exported() -> Exported {
        Exported {
            exported_at: "2026-09-21T08:00:00.000Z".into(),
            files: vec![ExportedFile {
                rel_path: "attachments/a1/img_src_x.png".into(),
                vault_path: "conversations/c-1/attachments/a1/img_src_x.png".into(),
                kind: FileKind::Attachment,
                sha256: "ab".repeat(32),
                size: 3,
                attachment_id: Some(AttachmentId::new("a1").unwrap()),
                inline: Some(InlineImage {
                    mime: "image/png",
                    base64: "iVBO".into(),
                }),
            }],
            view: View::default(),
        }
    }

    #[test]
    fn script_in_a_message_text_comes_out_escaped() {
        let t = transcript("hi <script>alert('x')</script> & bye", "Eve <script>");
        let page = render(&t, &manifest(), &exported());
        assert!(!page.contains("<script"), "{page}");
        assert!(
            page.contains("hi &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; bye"),
            "{page}"
        );
        assert!(page.contains("Eve &lt;script&gt;"));
        // File names, content types, reasons and topics are input too.
        assert!(!page.contains("<img src=x"));
        assert!(page.contains("image/png&quot;&gt;&lt;script&gt;"));
        assert!(page.contains("not in vault: gone: &lt;404&gt;"));
        assert!(page.contains("&lt;b&gt;topic&lt;/b&gt;"));
    }

    #[test]
    fn page_has_a_strict_policy_and_no_script_or_outside_resource() {
        let page = render(&transcript("hello", "Ann"), &manifest(), &exported());
        assert!(page.contains(&format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        )));
        assert!(CSP.starts_with("default-src 'none'"));
        for banned in [
            "<script",
            "http://",
            "https://",
            "<link",
            "src=\"attachments",
        ] {
            assert!(!page.contains(banned), "{banned} in {page}");
        }
        assert!(page.contains("<img src=\"data:image/png;base64,iVBO\""));
        assert!(page.contains("<a href=\"attachments/a1/img_src_x.png\">"));
    }

    #[test]
    fn active_content_is_linked_for_download_never_opened_in_place() {
        let mut ex = exported();
        for (id, name) in [
            ("a3", "page.html"),
            ("a4", "logo.SVG"),
            ("a5", "data.xml"),
            ("a6", "attachment"),
            ("a7", "invoice.pdf"),
        ] {
            ex.files.push(ExportedFile {
                rel_path: format!("attachments/{id}/{name}"),
                vault_path: format!("conversations/c-1/attachments/{id}/{name}"),
                kind: FileKind::Attachment,
                sha256: "cd".repeat(32),
                size: 1,
                attachment_id: Some(AttachmentId::new(id).unwrap()),
                inline: None,
            });
        }
        let mut t = transcript("hello", "Ann");
        for (id, name) in [
            ("a3", "page.html"),
            ("a4", "logo.SVG"),
            ("a5", "data.xml"),
            ("a6", "attachment"),
            ("a7", "invoice.pdf"),
        ] {
            t.messages[0].attachments.push(AttachmentEntry {
                attachment_id: AttachmentId::new(id).unwrap(),
                name: Some(name.into()),
                content_type: None,
                size: Some(1),
                path: format!("conversations/c-1/attachments/{id}/{name}"),
            });
        }
        let page = render(&t, &manifest(), &ex);
        for active in [
            "attachments/a3/page.html",
            "attachments/a4/logo.SVG",
            "attachments/a5/data.xml",
            "attachments/a6/attachment",
        ] {
            assert!(
                !page.contains(&format!("<a href=\"{active}\">")),
                "{active} opens in place: {page}"
            );
            // Once beside the message, once in the integrity table.
            assert_eq!(
                page.matches(&format!("<a href=\"{active}\" download>"))
                    .count(),
                2,
                "{active}"
            );
        }
        assert!(page.contains("<a href=\"attachments/a7/invoice.pdf\">invoice.pdf</a>"));
        assert!(page.contains("<a href=\"attachments/a1/img_src_x.png\">"));
    }

    #[test]
    fn integrity_table_states_the_check_and_its_time() {
        let page = render(&transcript("hello", "Ann"), &manifest(), &exported());
        assert!(page.contains("<time>2026-09-21T08:00:00.000Z</time>"));
        assert!(page.contains(&"ab".repeat(32)));
        assert!(page.contains("conversations/c-1/manifest.0123456789abcdef.json"));
        assert!(page.contains("checked: matches"));
    }

    #[test]
    fn body_types_read_as_words_and_unknown_ones_lose_control_characters() {
        assert_eq!(body_type_label("MEMBERJOIN"), "joined the chat");
        assert_eq!(body_type_label("MEDIAREQUEST"), "media request");
        assert_eq!(body_type_label("NEW_KIND\u{1b}[2J"), "new_kind2j");
    }

    #[test]
    fn only_raster_magic_bytes_count_as_images() {
        assert_eq!(sniff_raster(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_raster(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff_raster(b"GIF89a.."), Some("image/gif"));
        assert_eq!(sniff_raster(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            sniff_raster(b"<svg xmlns=\"http://www.w3.org/2000/svg\">"),
            None
        );
        assert_eq!(sniff_raster(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(sniff_raster(b""), None);
    }
}
