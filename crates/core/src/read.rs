//! Reading the vault back: a conversation's manifests, the latest generation,
//! and objects checked against their manifest entry. Needs read access only.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use chrono::{Datelike, NaiveDate};
use futures::StreamExt;

use crate::hash::{StreamHasher, sha256_hex};
use crate::id::{ConversationId, check_id};
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

/// A manifest object that cannot be read as the manifest its name promises:
/// junk bytes, another schema, or another conversation's or generation's
/// manifest. A writer credential can create one and WORM keeps it forever,
/// so readers report it and go on with the other generations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub path: String,
    pub reason: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: not a valid manifest: {}", self.path, self.reason)
    }
}

impl From<Unreadable> for ReadError {
    fn from(u: Unreadable) -> Self {
        ReadError::BadManifest {
            path: u.path,
            reason: u.reason,
        }
    }
}

/// Parse the bytes of the object `path` as a manifest, and check that it is
/// the manifest its name says: `conversations/{id}/manifest.{gen}.json` must
/// hold conversation `id`, generation `gen`.
pub fn manifest_at(path: &str, bytes: &[u8]) -> Result<Manifest, String> {
    let Some((conv, generation)) = keys::parse_manifest(path) else {
        return Err("not a manifest name".into());
    };
    let m = Manifest::from_slice(bytes)?;
    if m.conversation_id.as_str() != conv || m.generation != generation {
        return Err(format!(
            "it holds conversation {:?} generation {:?}, not the ones its name says",
            m.conversation_id.as_str(),
            m.generation
        ));
    }
    Ok(m)
}

/// The manifests of some generations of a conversation: the readable ones,
/// oldest `archivedAt` first, and the objects that could not be read as one.
#[derive(Debug, Clone, Default)]
pub struct Generations {
    pub manifests: Vec<Manifest>,
    pub unreadable: Vec<Unreadable>,
}

impl Generations {
    /// From manifests already read (in any order) and the objects that could
    /// not be read as one: the search index keeps the manifests it has read
    /// and still lets this type decide which is the latest.
    pub fn new(mut manifests: Vec<Manifest>, mut unreadable: Vec<Unreadable>) -> Self {
        // RFC 3339 UTC times with fixed precision sort as text.
        manifests
            .sort_by(|a, b| (&a.archived_at, &a.generation).cmp(&(&b.archived_at, &b.generation)));
        unreadable.sort_by(|a, b| a.path.cmp(&b.path));
        Self {
            manifests,
            unreadable,
        }
    }

    /// The latest readable generation (greatest `archivedAt`, then generation).
    pub fn latest(&self) -> Option<&Manifest> {
        self.latest_where(|_| true)
    }

    /// The latest readable generation that satisfies `keep`.
    pub fn latest_where(&self, keep: impl Fn(&Manifest) -> bool) -> Option<&Manifest> {
        self.latest_index(keep).map(|i| &self.manifests[i])
    }

    /// For readers that go on past junk (`show`, `list`, `export`): the
    /// latest readable generation, and the unreadable manifests passed over.
    /// With none readable, the first unreadable one is the answer and the
    /// others are passed over; with no manifest at all, `Ok(None)`.
    pub fn into_latest(mut self) -> (Result<Option<Manifest>, Unreadable>, Vec<Unreadable>) {
        match self.latest_index(|_| true) {
            Some(i) => (Ok(Some(self.manifests.swap_remove(i))), self.unreadable),
            None if self.unreadable.is_empty() => (Ok(None), Vec::new()),
            None => {
                let first = self.unreadable.remove(0);
                (Err(first), self.unreadable)
            }
        }
    }

    // The one place "latest" is decided: `new` keeps `manifests` in that
    // order, so the latest is the last that qualifies.
    fn latest_index(&self, keep: impl Fn(&Manifest) -> bool) -> Option<usize> {
        self.manifests.iter().rposition(keep)
    }
}

/// Read the manifests of `generations` (the ones that do not exist are left
/// out). An unreadable one is collected, not an error: the others still count.
pub async fn read_generations(
    vault: &dyn Vault,
    conversation: &ConversationId,
    generations: &[String],
) -> Result<Generations, ReadError> {
    let (mut manifests, mut unreadable) = (Vec::new(), Vec::new());
    for g in generations {
        let path = keys::manifest(conversation, g);
        let bytes = match vault.get(&path).await {
            Ok(b) => b,
            Err(VaultError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        match manifest_at(&path, &bytes) {
            Ok(m) => manifests.push(m),
            Err(reason) => unreadable.push(Unreadable { path, reason }),
        }
    }
    Ok(Generations::new(manifests, unreadable))
}

/// Every manifest of a conversation, oldest `archivedAt` first; an
/// unreadable one is an error.
pub async fn manifests(
    vault: &dyn Vault,
    conversation: &ConversationId,
) -> Result<Vec<Manifest>, ReadError> {
    let all = generations(vault, conversation).await?;
    let found = read_generations(vault, conversation, &all).await?;
    match found.unreadable.into_iter().next() {
        Some(bad) => Err(bad.into()),
        None => Ok(found.manifests),
    }
}

/// The manifest chosen for reading, and the unreadable manifests passed over
/// on the way (for the caller to report).
#[derive(Debug, Clone)]
pub struct Picked {
    pub manifest: Manifest,
    pub skipped: Vec<Unreadable>,
}

/// The generation asked for, read by its name alone (whatever the others
/// hold), or else the latest readable one, with the unreadable ones skipped.
pub async fn pick(
    vault: &dyn Vault,
    conversation: &ConversationId,
    generation: Option<&str>,
) -> Result<Picked, ReadError> {
    let no_such = |g: &str| ReadError::NoSuchGeneration {
        conversation: conversation.clone(),
        generation: g.to_string(),
    };
    let Some(g) = generation else {
        let all = generations(vault, conversation).await?;
        let (latest, skipped) = read_generations(vault, conversation, &all)
            .await?
            .into_latest();
        return match latest? {
            Some(manifest) => Ok(Picked { manifest, skipped }),
            None => Err(ReadError::NotArchived(conversation.clone())),
        };
    };
    // A generation is a name part: nothing that could reach another object.
    if check_id(g).is_err() || g.contains('.') {
        return Err(no_such(g));
    }
    let path = keys::manifest(conversation, g);
    let bytes = match vault.get(&path).await {
        Ok(b) => b,
        Err(VaultError::NotFound { .. }) => return Err(no_such(g)),
        Err(e) => return Err(e.into()),
    };
    let manifest = manifest_at(&path, &bytes).map_err(|reason| ReadError::BadManifest {
        path: path.clone(),
        reason,
    })?;
    Ok(Picked {
        manifest,
        skipped: vec![],
    })
}

/// The latest generation, or the one asked for ([`pick`], without the list
/// of what was skipped).
pub async fn manifest(
    vault: &dyn Vault,
    conversation: &ConversationId,
    generation: Option<&str>,
) -> Result<Manifest, ReadError> {
    pick(vault, conversation, generation)
        .await
        .map(|p| p.manifest)
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
            prefixes.push(keys::index_month_prefix(*year, *month));
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
    let (sha, size) = hash_object(vault, &entry.path).await?;
    check(entry, &sha, size)
}

/// Stream an object through SHA-256: its full hex hash and its size.
pub async fn hash_object(vault: &dyn Vault, path: &str) -> Result<(String, u64), ReadError> {
    let mut body = vault.get_stream(path).await?;
    let mut h = StreamHasher::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ReadError::Corrupt {
            path: path.to_string(),
            reason: format!("read failed: {e}"),
        })?;
        h.update(&chunk);
    }
    Ok(h.finish())
}

/// Bytes read against their manifest entry: size, then SHA-256 (full hex).
/// The one manifest-versus-bytes check; `show`, `verify` and `export` make it.
pub fn check(entry: &ObjectEntry, sha: &str, size: u64) -> Result<(), ReadError> {
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

/// [`check`]'s early half, for a reader that streams: refused as soon as
/// more than the entry's size has arrived (a grown object could be any size).
pub fn check_size_so_far(entry: &ObjectEntry, size: u64) -> Result<(), ReadError> {
    if size > entry.size {
        return Err(ReadError::Corrupt {
            path: entry.path.clone(),
            reason: format!(
                "size more than {} bytes, manifest says {}",
                entry.size, entry.size
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{ConversationSummary, MANIFEST_SCHEMA, Role, Trigger, TriggerKind};

    fn manifest(generation: &str, archived_at: &str, ended: bool) -> Manifest {
        Manifest {
            schema: MANIFEST_SCHEMA.into(),
            conversation_id: ConversationId::new("c-1").unwrap(),
            generation: generation.into(),
            archived_at: archived_at.into(),
            trigger: Trigger {
                kind: TriggerKind::Lifecycle,
                topic: None,
                event_id: None,
            },
            conversation: ConversationSummary {
                start_time: None,
                end_time: ended.then(|| "2026-09-20T09:00:00.000Z".into()),
                media_type: None,
                message_count: 0,
                attachment_count: 0,
            },
            objects: vec![],
            missing: vec![],
        }
    }

    fn junk(path: &str) -> Unreadable {
        Unreadable {
            path: path.into(),
            reason: "junk".into(),
        }
    }

    fn generation(m: Option<&Manifest>) -> Option<&str> {
        m.map(|m| m.generation.as_str())
    }

    #[test]
    fn the_latest_is_the_greatest_archived_at_then_generation_whatever_the_read_order() {
        let g = Generations::new(
            vec![
                manifest("b", "2026-09-21T10:00:00.000Z", false),
                manifest("z", "2026-09-20T10:00:00.000Z", true),
                manifest("a", "2026-09-21T10:00:00.000Z", false),
            ],
            vec![junk("p/2"), junk("p/1")],
        );
        assert_eq!(generation(g.latest()), Some("b"));
        let ended = |m: &Manifest| m.conversation.end_time.is_some();
        assert_eq!(generation(g.latest_where(ended)), Some("z"));
        assert_eq!(generation(g.latest_where(|_| false)), None);
        let (latest, skipped) = g.into_latest();
        assert_eq!(latest.unwrap().map(|m| m.generation), Some("b".into()));
        assert_eq!(skipped, [junk("p/1"), junk("p/2")]);
    }

    #[test]
    fn with_nothing_readable_the_first_unreadable_manifest_is_the_answer() {
        let (latest, skipped) =
            Generations::new(vec![], vec![junk("p/2"), junk("p/1")]).into_latest();
        assert_eq!(latest.unwrap_err(), junk("p/1"));
        assert_eq!(skipped, [junk("p/2")]);
        let (latest, skipped) = Generations::default().into_latest();
        assert_eq!(latest.unwrap(), None);
        assert!(skipped.is_empty());
    }

    #[test]
    fn bytes_are_checked_against_their_entry_by_size_then_hash() {
        let entry = ObjectEntry {
            path: "conversations/c-1/attachments/a-1/x.pdf".into(),
            role: Role::Attachment,
            sha256: "ab".repeat(32),
            size: 10,
            content_type: "application/pdf".into(),
            attachment_id: None,
            source_url: None,
        };
        let other = "cd".repeat(32);
        assert!(check(&entry, &entry.sha256, 10).is_ok());
        assert_eq!(
            check(&entry, &other, 9).unwrap_err().to_string(),
            "conversations/c-1/attachments/a-1/x.pdf: size 9 bytes, manifest says 10"
        );
        assert_eq!(
            check(&entry, &other, 10).unwrap_err().to_string(),
            format!(
                "conversations/c-1/attachments/a-1/x.pdf: sha256 {other}, manifest says {}",
                entry.sha256
            )
        );
        assert!(check_size_so_far(&entry, 10).is_ok());
        assert!(matches!(
            check_size_so_far(&entry, u64::MAX),
            Err(ReadError::Corrupt { .. })
        ));
        assert_eq!(
            check_size_so_far(&entry, 11).unwrap_err().to_string(),
            "conversations/c-1/attachments/a-1/x.pdf: size more than 10 bytes, manifest says 10"
        );
    }
}
