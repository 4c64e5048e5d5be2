//! Building the index from the vault: the date index names the generations,
//! each is read through the core (manifest, checked transcript, checked raw
//! payloads) and written into SQLite. Markers already read are remembered, so
//! a second run reads only what is new.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tvault_core::ConversationId;
use tvault_core::days::DayRange;
use tvault_core::manifest::{Manifest, Role};
use tvault_core::ports::Vault;
use tvault_core::read::{self, Generations, IndexMarker};
use tvault_core::transcript::Transcript;

use crate::SearchError;
use crate::extract::{self, GenerationDoc, SourceFacts};
use crate::schema::SEQ_BITS;

/// Generations written per SQLite transaction: an interrupted run keeps
/// what it committed, and a commit's fsync is paid once per batch.
const BATCH: usize = 500;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexReport {
    /// Date-index markers found in the range.
    pub markers: usize,
    /// Markers read by an earlier run, skipped.
    pub already_indexed: usize,
    /// Generations added now.
    pub added: usize,
    /// Markers without a manifest yet (an archive not committed): not
    /// remembered, so a later run reads them again.
    pub not_committed: usize,
    /// Generations that could not be indexed, each with the reason.
    pub problems: Vec<String>,
    /// Raw payloads that could not be read for their facts (the generation
    /// was still indexed without them).
    pub warnings: Vec<String>,
}

/// Progress: called with (done, total) as markers are read.
pub type ProgressFn<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Index the generations of `days` that this index has not read yet.
pub async fn build(
    vault: &dyn Vault,
    conn: &mut Connection,
    days: DayRange,
    concurrency: usize,
    progress: ProgressFn<'_>,
) -> Result<IndexReport, SearchError> {
    let (markers, strays) = read::index_days(vault, days.days(), concurrency).await?;
    let mut report = IndexReport {
        markers: markers.len(),
        ..IndexReport::default()
    };
    for s in strays {
        report
            .problems
            .push(format!("{s}: not a date-index marker name"));
    }
    let mut fresh = Vec::new();
    {
        let mut known = conn
            .prepare("SELECT 1 FROM markers WHERE path = ?1")
            .map_err(db)?;
        for m in markers {
            if known.exists([&m.path]).map_err(db)? {
                report.already_indexed += 1;
            } else {
                fresh.push(m);
            }
        }
    }
    let total = fresh.len() as u64;
    let mut done = 0u64;
    progress(done, total);
    // One stream for the whole run, not a barrier per batch: while a batch
    // is written to SQLite, the reads already started go on in the
    // runtime's blocking pool.
    let mut read = futures::stream::iter(fresh)
        .map(|m| async move {
            let r = read_generation(vault, &m).await;
            (m, r)
        })
        .buffered(concurrency.max(1));
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let next = read.next().await;
        let last = next.is_none();
        batch.extend(next);
        if batch.len() >= BATCH || (last && !batch.is_empty()) {
            done += batch.len() as u64;
            write_batch(vault, conn, std::mem::take(&mut batch), &mut report).await?;
            progress(done, total);
        }
        if last {
            break;
        }
    }
    Ok(report)
}

/// Write one batch of generations read (and the markers that named them)
/// in one SQLite transaction.
async fn write_batch(
    vault: &dyn Vault,
    conn: &mut Connection,
    batch: Vec<(IndexMarker, Result<Option<Read>, String>)>,
    report: &mut IndexReport,
) -> Result<(), SearchError> {
    let mut touched: BTreeMap<String, Vec<Manifest>> = BTreeMap::new();
    let tx = conn.transaction().map_err(db)?;
    for (marker, r) in batch {
        match r {
            Ok(Some(g)) => {
                report.warnings.extend(g.warnings);
                if insert(&tx, &g.doc)? {
                    report.added += 1;
                }
                tx.execute(
                    "INSERT OR IGNORE INTO markers(path) VALUES (?1)",
                    [&marker.path],
                )
                .map_err(db)?;
                touched
                    .entry(marker.conversation.clone())
                    .or_default()
                    .push(g.manifest);
            }
            Ok(None) => report.not_committed += 1,
            Err(reason) => report.problems.push(format!(
                "conversation {} generation {}: {reason}",
                marker.conversation, marker.generation
            )),
        }
    }
    for (conv, manifests) in touched {
        set_latest(vault, &tx, &conv, manifests).await?;
    }
    tx.commit().map_err(db)
}

/// One generation read back and checked.
struct Read {
    doc: GenerationDoc,
    manifest: Manifest,
    warnings: Vec<String>,
}

/// Read one marker's generation: `Ok(None)` when its manifest does not exist
/// (yet); `Err` with the reason when it cannot be indexed.
async fn read_generation(vault: &dyn Vault, m: &IndexMarker) -> Result<Option<Read>, String> {
    let conv = ConversationId::new(m.conversation.as_str()).map_err(|e| e.to_string())?;
    let found = read::read_generations(vault, &conv, std::slice::from_ref(&m.generation))
        .await
        .map_err(|e| e.to_string())?;
    if let Some(bad) = found.unreadable.first() {
        return Err(bad.to_string());
    }
    let Some(manifest) = found.manifests.into_iter().next() else {
        return Ok(None);
    };
    let entry = manifest
        .transcript()
        .ok_or_else(|| "its manifest lists no transcript".to_string())?;
    let bytes = read::read_checked(vault, entry)
        .await
        .map_err(|e| e.to_string())?;
    let transcript: Transcript = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a valid transcript: {e}", entry.path))?;
    if transcript.conversation_id != conv {
        return Err(format!(
            "{}: belongs to conversation {}",
            entry.path, transcript.conversation_id
        ));
    }
    let mut facts = SourceFacts::default();
    let mut warnings = Vec::new();
    for src in manifest.objects.iter().filter(|o| o.role == Role::Source) {
        let Some(name) = extract::source_name(&src.path).filter(|n| extract::wanted_source(n))
        else {
            continue;
        };
        let parsed = match read::read_checked(vault, src).await {
            Ok(b) => serde_json::from_slice::<serde_json::Value>(&b)
                .map_err(|e| format!("{}: not JSON: {e}", src.path)),
            Err(e) => Err(e.to_string()),
        };
        match parsed {
            Ok(v) => facts.add(name, &v),
            Err(w) => warnings.push(w),
        }
    }
    let doc = extract::generation_doc(m.day, &manifest, &entry.sha256, &transcript, &facts);
    Ok(Some(Read {
        doc,
        manifest,
        warnings,
    }))
}

/// Write one generation; `false` when it was indexed already.
fn insert(tx: &Transaction<'_>, g: &GenerationDoc) -> Result<bool, SearchError> {
    let last_message = g.messages.iter().filter_map(|m| m.time.clone()).max();
    let sort_time = g
        .end_time
        .clone()
        .or(last_message)
        .or_else(|| g.start_time.clone())
        .unwrap_or_else(|| format!("{}T00:00:00.000Z", g.day));
    let people = serde_json::to_string(&g.people).unwrap_or_else(|_| "[]".into());
    let id: Option<i64> = tx
        .query_row(
            "INSERT INTO generations(conversation, generation, day, archived_at, transcript_sha256,
               media_type, message_type, queue, start_time, end_time, sort_time, participants,
               message_count, attachment_count, missing_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT(conversation, generation) DO NOTHING RETURNING id",
            params![
                g.conversation,
                g.generation,
                g.day.to_string(),
                g.archived_at,
                g.transcript_sha256,
                g.media_type,
                g.message_type,
                g.queue,
                g.start_time,
                g.end_time,
                sort_time,
                people,
                g.messages.len() as i64,
                g.attachment_count as i64,
                g.missing_count as i64,
            ],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    let Some(id) = id else { return Ok(false) };
    let mut row = tx
        .prepare(
            "INSERT INTO messages(id, seq, message_id, time, direction, purpose, body_type,
               sender_name, sender_address, sender_external, sender_user, text, attachments, symbols)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .map_err(db)?;
    let mut fts = tx
        .prepare(
            "INSERT INTO messages_fts(rowid, text, attachments, symbols) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(db)?;
    for m in &g.messages {
        let rowid = (id << SEQ_BITS) | m.seq as i64;
        row.execute(params![
            rowid,
            m.seq as i64,
            m.message_id,
            m.time,
            m.direction,
            m.purpose,
            m.body_type,
            m.sender_name,
            m.sender_address,
            m.sender_external,
            m.sender_user,
            m.text,
            m.attachments,
            m.symbols,
        ])
        .map_err(db)?;
        fts.execute(params![rowid, m.text, m.attachments, m.symbols])
            .map_err(db)?;
    }
    tx.execute(
        "INSERT INTO people_fts(rowid, who) VALUES (?1, ?2)",
        params![id, g.people_text],
    )
    .map_err(db)?;
    Ok(true)
}

/// Point the conversation at its latest indexed generation, as the core
/// decides it ([`Generations::latest`]): the manifests just read, and those
/// of generations indexed by earlier runs, read again from the vault.
async fn set_latest(
    vault: &dyn Vault,
    tx: &Transaction<'_>,
    conv: &str,
    mut manifests: Vec<Manifest>,
) -> Result<(), SearchError> {
    let indexed: Vec<String> = {
        let mut q = tx
            .prepare("SELECT generation FROM generations WHERE conversation = ?1")
            .map_err(db)?;
        q.query_map([conv], |r| r.get(0))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?
    };
    let have: BTreeSet<String> = manifests.iter().map(|m| m.generation.clone()).collect();
    let others: Vec<String> = indexed.into_iter().filter(|g| !have.contains(g)).collect();
    if !others.is_empty()
        && let Ok(id) = ConversationId::new(conv)
    {
        manifests.extend(read::read_generations(vault, &id, &others).await?.manifests);
    }
    let Some(latest) = Generations::new(manifests, Vec::new())
        .latest()
        .map(|m| m.generation.clone())
    else {
        return Ok(());
    };
    tx.execute(
        "INSERT INTO conversations(conversation, latest)
           SELECT conversation, id FROM generations WHERE conversation = ?1 AND generation = ?2
         ON CONFLICT(conversation) DO UPDATE SET latest = excluded.latest",
        params![conv, latest],
    )
    .map_err(db)?;
    Ok(())
}

fn db(e: rusqlite::Error) -> SearchError {
    SearchError::Db {
        path: crate::schema::FILE_NAME.into(),
        message: e.to_string(),
    }
}
