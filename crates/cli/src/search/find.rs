//! `tvault find`.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use futures::StreamExt;
use serde_json::json;
use tvault_search::recheck::{Checked, Snippet};
use tvault_web::zone::Zone;

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::search_help::FindArgs;
use crate::term;

/// Hits re-checked against the vault at the same time.
const RECHECK_CONCURRENCY: usize = 8;

pub async fn find(vault_location: &str, args: FindArgs) -> Result<u8> {
    let zone = super::zone(args.tz.as_deref())?;
    let query = match super::query(&args.filters, args.limit as usize) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("tvault find: {e:#}");
            return Ok(EXIT_USAGE);
        }
    };
    let dir = super::index_dir(args.index, vault_location)?;
    let started = std::time::Instant::now();
    let found = {
        let conn = match tvault_search::open_for_reading(&dir) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("tvault find: {}", term::line(&e.to_string()));
                return Ok(EXIT_USAGE);
            }
        };
        match tvault_search::search(&conn, &query) {
            Ok(f) => f,
            Err(e @ tvault_search::SearchError::Query(_)) => {
                eprintln!("tvault find: {}", term::line(&e.to_string()));
                return Ok(EXIT_USAGE);
            }
            Err(e) => return Err(e.into()),
        }
    };
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        hits = found.hits.len(),
        "index searched"
    );
    let vault = crate::settings(vault_location).await?.open_vault()?;
    let vault_ref = vault.as_ref();
    let checked: Vec<_> = futures::stream::iter(found.hits)
        .map(|hit| tvault_search::recheck(vault_ref, hit))
        .buffered(RECHECK_CONCURRENCY)
        .collect()
        .await;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "hits re-checked against the vault"
    );

    let mut out = std::io::stdout().lock();
    let bold = std::io::stdout().is_terminal();
    let (mut shown, mut refused) = (0usize, 0usize);
    for c in checked {
        match c {
            Ok(c) => {
                shown += 1;
                if let Some(s) = &c.stale {
                    eprintln!(
                        "tvault find: conversation {}: {}",
                        term::line(&c.hit.conversation),
                        term::line(s)
                    );
                }
                if args.json {
                    writeln!(out, "{}", json_line(&c, &zone))?;
                } else {
                    writeln!(out, "{}", table_line(&c, &zone, bold))?;
                }
            }
            Err(r) => {
                refused += 1;
                eprintln!("tvault find: {}", term::line(&r.to_string()));
            }
        }
    }
    if found.more {
        eprintln!("tvault find: more conversations match: narrow the search or raise --limit");
    }
    eprintln!(
        "found {shown} conversation(s){}",
        if refused > 0 {
            format!(", {refused} refused (not as indexed in the vault)")
        } else {
            String::new()
        }
    );
    Ok(if shown > 0 && refused == 0 {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

/// Who wrote the snippet's message, else the conversation's customer.
fn who(c: &Checked) -> String {
    let m = c.snippets.first().map(|s| &s.message);
    m.and_then(|m| m.sender_name.clone().or_else(|| m.purpose.clone()))
        .or_else(|| {
            c.hit
                .people
                .iter()
                .find(|p| p.purpose.as_deref() == Some("customer"))
                .and_then(|p| p.name.clone())
        })
        .unwrap_or_else(|| "-".into())
}

/// The snippet for a terminal: escaped, the matches bold (on a terminal) or
/// in brackets.
fn snippet_text(s: &Snippet, bold: bool) -> String {
    let (open, close) = if bold {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    let mut t = String::new();
    if s.cut_before {
        t.push('…');
    }
    for seg in &s.segments {
        let text = term::line(&seg.text);
        if seg.matched {
            t += &format!("{open}{text}{close}");
        } else {
            t += &text;
        }
    }
    if s.cut_after {
        t.push('…');
    }
    t
}

fn table_line(c: &Checked, zone: &Zone, bold: bool) -> String {
    let first = c.snippets.first();
    let (day, time) = first
        .and_then(|s| s.message.time.as_deref())
        .and_then(|t| zone.day_and_time(t))
        .unwrap_or_else(|| (c.hit.day.clone(), "-".into()));
    let snippet = first.map(|s| snippet_text(s, bold)).unwrap_or_default();
    let more = c.snippets.len().saturating_sub(1);
    format!(
        "{day}  {time}  {}  {}  {snippet}{}",
        term::line(&c.hit.conversation),
        term::line(&who(c)),
        if more > 0 {
            format!("  (+{more} more)")
        } else {
            String::new()
        }
    )
}

fn json_line(c: &Checked, zone: &Zone) -> serde_json::Value {
    let h = &c.hit;
    let messages: Vec<_> = c
        .snippets
        .iter()
        .map(|s| {
            let m = &s.message;
            json!({
                "seq": m.seq,
                "messageId": m.message_id,
                "time": m.time,
                "localTime": m.time.as_deref().filter(|_| zone.is_set()).map(|t| zone.show(t)),
                "purpose": m.purpose,
                "sender": m.sender_name,
                "snippet": s.segments.iter().map(|g| json!({"text": g.text, "match": g.matched})).collect::<Vec<_>>(),
                "cutBefore": s.cut_before,
                "cutAfter": s.cut_after,
            })
        })
        .collect();
    json!({
        "day": h.day,
        "conversationId": h.conversation,
        "generation": h.generation,
        "archivedAt": h.archived_at,
        "transcriptSha256": h.transcript_sha256,
        "mediaType": h.media_type,
        "messageType": h.message_type,
        "queue": h.queue,
        "startTime": h.start_time,
        "endTime": h.end_time,
        "participants": h.people,
        "messages": messages,
        "stale": c.stale,
    })
}
