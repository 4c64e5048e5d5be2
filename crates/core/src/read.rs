//! Reading the vault back: a conversation's manifests, the latest generation,
//! and objects checked against their manifest entry. Needs read access only.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use chrono::{Datelike, NaiveDate};
use futures::StreamExt;

use crate::hash::{StreamHasher, sha256_hex};
use crate::id::ConversationId;
use crate::keys;
use crate::manifest::{Manifest, ObjectEntry};
use crate::ports::{Vault, VaultError};

/// Problems reading a conversation back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("conversation {0} is not in the vault")]
    NotArchived(ConversationId),
    #[error("conversation {conversation} has no generation {generation}")]
    NoSuchGeneration {
        conversation: ConversationId,
        generation: String,
    },
    #[error("{path}: not a valid manifest: {reason}")]
    BadManifest { path: String, reason: String },
    #[error("{path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Every manifest of a conversation, oldest `archivedAt` first.
pub async fn manifests(
    vault: &dyn Vault,
    conversation: &ConversationId,
) -> Result<Vec<Manifest>, ReadError> {
    let mut out = Vec::new();
    for listed in vault.list(&keys::conversation_prefix(conversation)).await? {
        if keys::parse_manifest(&listed.path).is_none() {
            continue;
        }
        let bytes = vault.get(&listed.path).await?;
        let m = Manifest::from_slice(&bytes).map_err(|reason| ReadError::BadManifest {
            path: listed.path.clone(),
            reason,
        })?;
        out.push(m);
    }
    // RFC 3339 UTC times with fixed precision sort as text.
    out.sort_by(|a, b| (&a.archived_at, &a.generation).cmp(&(&b.archived_at, &b.generation)));
    Ok(out)
}

/// The latest generation, or the one asked for.
pub async fn manifest(
    vault: &dyn Vault,
    conversation: &ConversationId,
    generation: Option<&str>,
) -> Result<Manifest, ReadError> {
    let all = manifests(vault, conversation).await?;
    match generation {
        None => all
            .into_iter()
            .next_back()
            .ok_or_else(|| ReadError::NotArchived(conversation.clone())),
        Some(g) => {
            all.into_iter()
                .find(|m| m.generation == g)
                .ok_or_else(|| ReadError::NoSuchGeneration {
                    conversation: conversation.clone(),
                    generation: g.to_string(),
                })
        }
    }
}

/// One date-index marker: `index/{yyyy}/{mm}/{dd}/{conversationId}.{generation}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMarker {
    pub day: NaiveDate,
    pub conversation: String,
    pub generation: String,
    pub path: String,
}

/// The date-index markers of some days, read `concurrency` days at a time,
/// sorted by day, conversation and generation. Names that are not markers are
/// returned in the second list (for `verify` to report).
pub async fn index_days(
    vault: &dyn Vault,
    days: impl IntoIterator<Item = NaiveDate>,
    concurrency: usize,
) -> Result<(Vec<IndexMarker>, Vec<String>), ReadError> {
    let wanted: BTreeSet<NaiveDate> = days.into_iter().collect();
    // One listing per month when most of a month is wanted, else one per day:
    // a year is 12 listings, not 365.
    let mut months: BTreeMap<(i32, u32), Vec<NaiveDate>> = BTreeMap::new();
    for d in &wanted {
        months.entry((d.year(), d.month())).or_default().push(*d);
    }
    let mut prefixes: Vec<String> = Vec::new();
    for ((year, month), ds) in &months {
        if ds.len() > WHOLE_MONTH_FROM {
            prefixes.push(format!("index/{year:04}/{month:02}/"));
        } else {
            prefixes.extend(
                ds.iter()
                    .map(|d| keys::index_day_prefix(d.year(), d.month(), d.day())),
            );
        }
    }
    let listings = futures::stream::iter(prefixes)
        .map(|prefix| async move { vault.list(&prefix).await })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut markers = Vec::new();
    let mut strays = Vec::new();
    for listing in listings {
        for listed in listing? {
            match keys::parse_index(&listed.path) {
                Some((day, _, _)) if !wanted.contains(&day) => {}
                Some((day, conv, generation)) => markers.push(IndexMarker {
                    day,
                    conversation: conv.to_string(),
                    generation: generation.to_string(),
                    path: listed.path.clone(),
                }),
                None => strays.push(listed.path),
            }
        }
    }
    markers.sort_by(|a, b| {
        (a.day, &a.conversation, &a.generation).cmp(&(b.day, &b.conversation, &b.generation))
    });
    strays.sort();
    Ok((markers, strays))
}

/// Days of one month above which the whole month is listed at once.
const WHOLE_MONTH_FROM: usize = 7;

/// The latest of the named generations whose manifest exists (by
/// `archivedAt`), or `None` when none does: a marker without its manifest is
/// an archive that never committed.
pub async fn latest_of(
    vault: &dyn Vault,
    conversation: &ConversationId,
    generations: &[String],
) -> Result<Option<Manifest>, ReadError> {
    latest_of_where(vault, conversation, generations, |_| true).await
}

/// [`latest_of`] among the manifests that satisfy `keep`.
pub async fn latest_of_where(
    vault: &dyn Vault,
    conversation: &ConversationId,
    generations: &[String],
    keep: impl Fn(&Manifest) -> bool,
) -> Result<Option<Manifest>, ReadError> {
    let mut latest: Option<Manifest> = None;
    for g in generations {
        let path = keys::manifest(conversation, g);
        let bytes = match vault.get(&path).await {
            Ok(b) => b,
            Err(VaultError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let m = Manifest::from_slice(&bytes).map_err(|reason| ReadError::BadManifest {
            path: path.clone(),
            reason,
        })?;
        if keep(&m)
            && latest
                .as_ref()
                .is_none_or(|l| (&l.archived_at, &l.generation) < (&m.archived_at, &m.generation))
        {
            latest = Some(m);
        }
    }
    Ok(latest)
}

/// The generations a conversation has, from the names of its manifests
/// (one listing, no reads).
pub async fn generations(
    vault: &dyn Vault,
    conversation: &ConversationId,
) -> Result<Vec<String>, ReadError> {
    Ok(vault
        .list(&keys::conversation_prefix(conversation))
        .await?
        .iter()
        .filter_map(|l| keys::parse_manifest(&l.path).map(|(_, g)| g.to_string()))
        .collect())
}

/// Read a small object and check it against its manifest entry.
pub async fn read_checked(vault: &dyn Vault, entry: &ObjectEntry) -> Result<Bytes, ReadError> {
    let bytes = vault.get(&entry.path).await?;
    check(entry, &sha256_hex(&bytes), bytes.len() as u64)?;
    Ok(bytes)
}

/// Stream an object through SHA-256 and check it against its manifest entry.
pub async fn verify_entry(vault: &dyn Vault, entry: &ObjectEntry) -> Result<(), ReadError> {
    let mut body = vault.get_stream(&entry.path).await?;
    let mut h = StreamHasher::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ReadError::Corrupt {
            path: entry.path.clone(),
            reason: format!("read failed: {e}"),
        })?;
        h.update(&chunk);
    }
    let (sha, size) = h.finish();
    check(entry, &sha, size)
}

fn check(entry: &ObjectEntry, sha: &str, size: u64) -> Result<(), ReadError> {
    if size != entry.size {
        return Err(ReadError::Corrupt {
            path: entry.path.clone(),
            reason: format!("size {size} bytes, manifest says {}", entry.size),
        });
    }
    if sha != entry.sha256 {
        return Err(ReadError::Corrupt {
            path: entry.path.clone(),
            reason: format!("sha256 {sha}, manifest says {}", entry.sha256),
        });
    }
    Ok(())
}
