//! Object names inside the vault container (the layout in `docs/vault-format.md`).
//!
//! ```text
//! conversations/{conversationId}/manifest.{gen}.json
//! conversations/{conversationId}/transcript.{sha16}.json
//! conversations/{conversationId}/source/{name}.{sha16}.json
//! conversations/{conversationId}/attachments/{attachmentId}/{safe-filename}
//! index/{yyyy}/{mm}/{dd}/{conversationId}.{gen}
//! ledger/{yyyy}/{mm}/{dd}.json, ledger/{yyyy}/{mm}/{dd}.{n}.json
//! healthcheck/{sha256}   (tvault check's probe, outside the archive)
//! ```

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::id::{AttachmentId, ConversationId, safe_file_name};

/// Prefix of every conversation's objects.
pub const CONVERSATIONS: &str = "conversations/";
/// Prefix of the date index.
pub const INDEX: &str = "index/";
/// Prefix of the sealed days (the hash-chained ledger).
pub const LEDGER: &str = "ledger/";
/// Prefix of `tvault check`'s one probe object: not part of the archive.
pub const HEALTHCHECK: &str = "healthcheck/";
/// The probe's bytes: always the same, so its content-addressed name is
/// too, and a second check finds it there instead of adding another.
pub const HEALTHCHECK_BYTES: &[u8] = b"transcript-vault healthcheck v1\n";

/// `healthcheck/{sha256 of HEALTHCHECK_BYTES}`.
pub fn healthcheck() -> String {
    format!(
        "{HEALTHCHECK}{}",
        crate::hash::sha256_hex(HEALTHCHECK_BYTES)
    )
}

/// Prefix of everything that belongs to one conversation, ending in `/`.
pub fn conversation_prefix(conv: &ConversationId) -> String {
    format!("{CONVERSATIONS}{conv}/")
}

/// The commit marker of one generation.
pub fn manifest(conv: &ConversationId, generation: &str) -> String {
    format!("conversations/{conv}/manifest.{generation}.json")
}

/// The normalized transcript, named by its content.
pub fn transcript(conv: &ConversationId, sha16: &str) -> String {
    format!("conversations/{conv}/transcript.{sha16}.json")
}

/// A raw payload kept for provenance. `name` comes from our own code
/// (`event`, `recordings`, ...), never from input.
pub fn source(conv: &ConversationId, name: &str, sha16: &str) -> String {
    format!("conversations/{conv}/source/{name}.{sha16}.json")
}

/// An attachment, named by its never-changing Genesys id and its safe file name.
pub fn attachment(conv: &ConversationId, id: &AttachmentId, file_name: &str) -> String {
    format!(
        "conversations/{conv}/attachments/{id}/{}",
        safe_file_name(file_name)
    )
}

/// The empty date-index marker for one generation.
pub fn index(date: DateTime<Utc>, conv: &ConversationId, generation: &str) -> String {
    format!(
        "{}{conv}.{generation}",
        index_day_prefix(date.year(), date.month(), date.day())
    )
}

/// Prefix of one UTC month in the date index, ending in `/`.
pub fn index_month_prefix(year: i32, month: u32) -> String {
    format!("{INDEX}{year:04}/{month:02}/")
}

/// Prefix of one UTC day in the date index, ending in `/`.
pub fn index_day_prefix(year: i32, month: u32, day: u32) -> String {
    format!("{}{day:02}/", index_month_prefix(year, month))
}

/// A day's ledger object: the main one (`sequence` 0, `ledger/{yyyy}/{mm}/{dd}.json`)
/// or its `n`th supplement (`ledger/{yyyy}/{mm}/{dd}.{n}.json`).
pub fn ledger(day: NaiveDate, sequence: u32) -> String {
    let (y, m, d) = (day.year(), day.month(), day.day());
    match sequence {
        0 => format!("{LEDGER}{y:04}/{m:02}/{d:02}.json"),
        n => format!("{LEDGER}{y:04}/{m:02}/{d:02}.{n}.json"),
    }
}

/// If `path` is a ledger object's name, its day and sequence (0 for the main
/// object). Only the names [`ledger`] writes parse: no `.0.`, no leading zeros.
pub fn parse_ledger(path: &str) -> Option<(NaiveDate, u32)> {
    let rest = path.strip_prefix(LEDGER)?.strip_suffix(".json")?;
    let mut parts = rest.splitn(3, '/');
    let (y, m, file) = (parts.next()?, parts.next()?, parts.next()?);
    let (d, n) = match file.split_once('.') {
        Some((d, n)) => (d, Some(n)),
        None => (file, None),
    };
    let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
        return None;
    }
    let day = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
    let sequence = match n {
        None => 0,
        Some(n)
            if !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            n.parse().ok()?
        }
        Some(_) => return None,
    };
    Some((day, sequence))
}

/// If `path` is a manifest name, its conversation id and generation.
pub fn parse_manifest(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(CONVERSATIONS)?;
    let (conv, file) = rest.split_once('/')?;
    let generation = file.strip_prefix("manifest.")?.strip_suffix(".json")?;
    (!generation.contains('.') && !generation.is_empty()).then_some((conv, generation))
}

/// If `path` is a raw payload name, `conversations/{id}/source/{name}.{sha16}.json`,
/// its conversation id and the sha16 its name claims (16 lowercase hex digits).
pub fn parse_source(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(CONVERSATIONS)?;
    let (conv, file) = rest.split_once('/')?;
    let file = file.strip_prefix("source/")?.strip_suffix(".json")?;
    let (name, sha16) = file.rsplit_once('.')?;
    let hex = sha16.len() == 16
        && sha16
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (hex && !name.is_empty() && !name.contains('/')).then_some((conv, sha16))
}

/// If `path` is an attachment name,
/// `conversations/{id}/attachments/{attachmentId}/{file}`, its conversation
/// id, attachment id and file name, as written (not checked as ids).
pub fn parse_attachment(path: &str) -> Option<(&str, &str, &str)> {
    let rest = path.strip_prefix(CONVERSATIONS)?;
    let (conv, file) = rest.split_once('/')?;
    let (id, name) = file.strip_prefix("attachments/")?.split_once('/')?;
    (!name.contains('/')).then_some((conv, id, name))
}

/// If `path` is a date-index marker name, its day, conversation id and generation.
pub fn parse_index(path: &str) -> Option<(NaiveDate, &str, &str)> {
    let rest = path.strip_prefix(INDEX)?;
    let mut parts = rest.splitn(4, '/');
    let (y, m, d, file) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let day = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
    let (conv, generation) = file.rsplit_once('.')?;
    (!conv.is_empty() && !generation.is_empty() && !conv.contains('/'))
        .then_some((day, conv, generation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn conv() -> ConversationId {
        ConversationId::new("c-1").unwrap()
    }

    #[test]
    fn names_follow_the_documented_layout() {
        let c = conv();
        assert_eq!(
            manifest(&c, "0123456789abcdef"),
            "conversations/c-1/manifest.0123456789abcdef.json"
        );
        assert_eq!(transcript(&c, "aa"), "conversations/c-1/transcript.aa.json");
        assert_eq!(
            source(&c, "event", "bb"),
            "conversations/c-1/source/event.bb.json"
        );
        let a = AttachmentId::new("att-9").unwrap();
        assert_eq!(
            attachment(&c, &a, "../x/IMG 1.jpg"),
            "conversations/c-1/attachments/att-9/IMG_1.jpg"
        );
        let t = Utc.with_ymd_and_hms(2026, 9, 20, 9, 31, 40).unwrap();
        assert_eq!(index(t, &c, "g"), "index/2026/09/20/c-1.g");
    }

    #[test]
    fn index_names_parse_back() {
        let day = NaiveDate::from_ymd_opt(2026, 9, 20).unwrap();
        assert_eq!(
            parse_index("index/2026/09/20/c-1.0123"),
            Some((day, "c-1", "0123"))
        );
        assert_eq!(parse_index("index/2026/09/20/c-1"), None);
        assert_eq!(parse_index("index/2026/13/20/c-1.g"), None);
        assert_eq!(parse_index("index/2026/09/20/x/c-1.g"), None);
        assert_eq!(parse_index("conversations/c-1/manifest.g.json"), None);
    }

    #[test]
    fn source_names_parse_back() {
        assert_eq!(
            parse_source("conversations/c-1/source/event.0123456789abcdef.json"),
            Some(("c-1", "0123456789abcdef"))
        );
        assert_eq!(
            parse_source("conversations/c-1/source/message-2.0123456789abcdef.json"),
            Some(("c-1", "0123456789abcdef"))
        );
        for not in [
            "conversations/c-1/source/event.0123.json",
            "conversations/c-1/source/event.0123456789ABCDEF.json",
            "conversations/c-1/source/.0123456789abcdef.json",
            "conversations/c-1/source/x/event.0123456789abcdef.json",
            "conversations/c-1/transcript.0123456789abcdef.json",
        ] {
            assert_eq!(parse_source(not), None, "{not}");
        }
    }

    #[test]
    fn attachment_names_parse_back() {
        let c = conv();
        let a = AttachmentId::new("att-9").unwrap();
        assert_eq!(
            parse_attachment(&attachment(&c, &a, "IMG 1.jpg")),
            Some(("c-1", "att-9", "IMG_1.jpg"))
        );
        assert_eq!(
            parse_attachment("conversations/c-1/attachments//x"),
            Some(("c-1", "", "x"))
        );
        for not in [
            "conversations/c-1/attachments/a1",
            "conversations/c-1/attachments/a1/x/y.png",
            "conversations/c-1/source/event.0123.json",
            "conversations/c-1/x/attachments/a1/y.png",
            "index/2026/09/20/c-1.g",
        ] {
            assert_eq!(parse_attachment(not), None, "{not}");
        }
        assert_eq!(index_month_prefix(2026, 9), "index/2026/09/");
        assert_eq!(index_day_prefix(2026, 9, 2), "index/2026/09/02/");
    }

    #[test]
    fn ledger_names_parse_back_and_only_canonical_ones() {
        let day = NaiveDate::from_ymd_opt(2026, 9, 2).unwrap();
        assert_eq!(ledger(day, 0), "ledger/2026/09/02.json");
        assert_eq!(ledger(day, 3), "ledger/2026/09/02.3.json");
        assert_eq!(parse_ledger(&ledger(day, 0)), Some((day, 0)));
        assert_eq!(parse_ledger(&ledger(day, 12)), Some((day, 12)));
        for not in [
            "ledger/2026/09/02.0.json",
            "ledger/2026/09/02.01.json",
            "ledger/2026/09/02..json",
            "ledger/2026/09/02.x.json",
            "ledger/2026/9/02.json",
            "ledger/2026/09/31.json",
            "ledger/2026/09/02.json.tmp",
            "ledger/2026/09/x/02.json",
            "ledger/2026/09/02.99999999999.json",
            "index/2026/09/02.json",
        ] {
            assert_eq!(parse_ledger(not), None, "{not}");
        }
    }

    #[test]
    fn manifest_names_parse_back() {
        assert_eq!(
            parse_manifest("conversations/c-1/manifest.0123.json"),
            Some(("c-1", "0123"))
        );
        assert_eq!(
            parse_manifest("conversations/c-1/transcript.0123.json"),
            None
        );
        assert_eq!(
            parse_manifest("conversations/c-1/source/manifest.x.json"),
            None
        );
    }
}
