//! Sealing a day: its committed generations into a create-only ledger object.
//!
//! A day is sealed once (`ledger/{yyyy}/{mm}/{dd}.json`); generations indexed
//! under it later go into a supplement (`{dd}.{n}.json`) the next time it is
//! sealed. Sealing again with nothing new writes nothing, so it is safe to
//! repeat. Memory: the day's entries (about 250 bytes each) and what its
//! earlier objects list; the index is streamed (one page at a time) and the
//! manifests are read a few at a time and only hashed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use futures::StreamExt;

use super::{Entry, Ledger, Link, chunks, header_for, is_generation, witness_line};
use crate::hash::sha256_hex;
use crate::id::check_id;
use crate::keys;
use crate::ports::{Deadline, Expect, Vault, VaultError};
use crate::transcript::fmt_time;

/// Tries before giving up when another seal of the same day keeps winning
/// the race to create the same name.
const ATTEMPTS: usize = 3;

/// Why a day could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// An existing ledger object of the day cannot be built on.
    #[error("cannot seal {day}: {path}: {reason}; run `tvault audit` on it")]
    BadLedger {
        day: NaiveDate,
        path: String,
        reason: String,
    },
    #[error(
        "cannot seal {day}: another seal of that day kept writing first ({ATTEMPTS} tries); run seal again"
    )]
    Raced { day: NaiveDate },
}

/// What sealing a day did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub day: NaiveDate,
    /// The day's main object (`{dd}.json`): what the witness keeps.
    pub main: Link,
    /// The object written now, if there was anything new.
    pub written: Option<Written>,
    /// Generations the day's earlier objects already list.
    pub listed_before: usize,
    /// Index markers whose manifest does not exist (an archive interrupted
    /// before it committed): not generations, not sealed.
    pub uncommitted: Vec<String>,
    /// Names under the day's index that are not markers of a safe id and
    /// generation: not sealed (`tvault verify` reports them).
    pub strays: Vec<String>,
}

impl Sealed {
    /// `YYYY-MM-DD <SHA-256 of the main object>`.
    pub fn witness_line(&self) -> String {
        witness_line(self.day, &self.main.sha256)
    }
}

/// The object a seal wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub link: Link,
    pub sequence: u32,
    pub entries: u64,
    pub merkle_root: String,
    pub previous: Option<Link>,
}

/// Seal `day` as of `now`: write its main object, or a supplement with the
/// generations indexed since, or nothing. `tool` goes into the object.
pub async fn seal_day(
    vault: &dyn Vault,
    day: NaiveDate,
    now: DateTime<Utc>,
    tool: &str,
    concurrency: usize,
    deadline: Deadline,
) -> Result<Sealed, SealError> {
    for _ in 0..ATTEMPTS {
        match attempt(vault, day, now, tool, concurrency.max(1), deadline).await {
            // Two seals of one day at once: the other created the name
            // first, with other bytes (its own time). Start again from what
            // is there now: the other's object is this day's latest.
            Err(SealError::Vault(VaultError::Integrity { .. })) => continue,
            other => return other,
        }
    }
    Err(SealError::Raced { day })
}

async fn attempt(
    vault: &dyn Vault,
    day: NaiveDate,
    now: DateTime<Utc>,
    tool: &str,
    concurrency: usize,
    deadline: Deadline,
) -> Result<Sealed, SealError> {
    let bad = |path: &str, reason: String| SealError::BadLedger {
        day,
        path: path.to_string(),
        reason,
    };
    // Every ledger object by day; the ledger is one or a few names a day.
    let mut sealed: BTreeMap<NaiveDate, BTreeSet<u32>> = BTreeMap::new();
    let mut names = vault.list_stream(keys::LEDGER);
    while let Some(l) = names.next().await {
        if let Some((d, n)) = keys::parse_ledger(&l?.path) {
            sealed.entry(d).or_default().insert(n);
        }
    }
    drop(names);

    // What the day's objects already list, and the day's latest object.
    let mut listed: BTreeSet<(String, String)> = BTreeSet::new();
    let mut main: Option<Link> = None;
    let mut latest: Option<(u32, Link)> = None;
    let ours = sealed.get(&day).cloned().unwrap_or_default();
    if !ours.is_empty() && !ours.contains(&0) {
        let path = keys::ledger(day, 0);
        return Err(bad(
            &path,
            "missing, while supplements of the day exist".into(),
        ));
    }
    for n in ours {
        let path = keys::ledger(day, n);
        let bytes = vault.get(&path).await?;
        let link = Link {
            sha256: sha256_hex(&bytes),
            path: path.clone(),
        };
        let ledger = Ledger::read(&path, &bytes).map_err(|r| bad(&path, r))?;
        drop(bytes);
        listed.extend(
            ledger
                .entries
                .into_iter()
                .map(|e| (e.conversation_id, e.generation)),
        );
        if n == 0 {
            main = Some(link.clone());
        }
        latest = Some((n, link));
    }
    let listed_before = listed.len();

    // The day's markers not listed yet, straight from the listing to their
    // manifests, which are hashed a few at a time: the listing is never
    // held, only the entries it makes.
    let prefix = keys::index_day_prefix(day.year(), day.month(), day.day());
    let mut strays = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut uncommitted = Vec::new();
    let wanted = vault.list_stream(&prefix).filter_map(|l| {
        let key = l.map(|l| match keys::parse_index(&l.path) {
            Some((d, conv, g)) if d == day && check_id(conv).is_ok() && is_generation(g) => {
                let key = (conv.to_string(), g.to_string());
                (!listed.contains(&key)).then_some(key)
            }
            _ => {
                strays.push(l.path);
                None
            }
        });
        std::future::ready(key.transpose())
    });
    let mut reads = wanted
        .map(|key| async move {
            let (conv, g) = key?;
            let manifest = super::manifest_name(&conv, &g);
            let read = vault.get(&manifest).await;
            Ok::<_, VaultError>((conv, g, manifest, read))
        })
        .buffer_unordered(concurrency);
    while let Some(r) = reads.next().await {
        let (conv, g, manifest, read) = r?;
        match read {
            Ok(bytes) => entries.push(Entry {
                sha256: sha256_hex(&bytes),
                size: bytes.len() as u64,
                conversation_id: conv,
                generation: g,
                manifest,
            }),
            Err(VaultError::NotFound { .. }) => uncommitted.push(format!("{prefix}{conv}.{g}")),
            Err(e) => return Err(e.into()),
        }
    }
    drop(reads);
    drop(listed);
    uncommitted.sort();

    if let (Some(main), true) = (&main, entries.is_empty()) {
        return Ok(Sealed {
            day,
            main: main.clone(),
            written: None,
            listed_before,
            uncommitted,
            strays,
        });
    }
    entries.sort_by(|a, b| a.key().cmp(&b.key()));

    let (sequence, previous) = match latest {
        Some((n, link)) => (n + 1, Some(link)),
        None => (0, previous_day_latest(vault, &sealed, day).await?),
    };
    let header = header_for(
        day,
        sequence,
        previous.clone(),
        fmt_time(now),
        tool.to_string(),
        &entries,
    );
    let path = keys::ledger(day, sequence);
    let count = entries.len() as u64;
    let body = futures::stream::iter(chunks(&header, entries).map(Ok::<_, std::io::Error>)).boxed();
    let stored = vault
        .put_new_stream(
            &path,
            body,
            "application/json",
            &Expect::default(),
            deadline,
        )
        .await?;
    let link = Link {
        path,
        sha256: stored.sha256,
    };
    Ok(Sealed {
        day,
        main: main.unwrap_or_else(|| link.clone()),
        written: Some(Written {
            link,
            sequence,
            entries: count,
            merkle_root: header.merkle_root,
            previous,
        }),
        listed_before,
        uncommitted,
        strays,
    })
}

/// The latest object of the nearest earlier sealed day, if any.
async fn previous_day_latest(
    vault: &dyn Vault,
    sealed: &BTreeMap<NaiveDate, BTreeSet<u32>>,
    day: NaiveDate,
) -> Result<Option<Link>, SealError> {
    let Some((d, seqs)) = sealed.range(..day).next_back() else {
        return Ok(None);
    };
    let Some(n) = seqs.last() else {
        return Ok(None);
    };
    let path = keys::ledger(*d, *n);
    let bytes = vault.get(&path).await?;
    Ok(Some(Link {
        sha256: sha256_hex(&bytes),
        path,
    }))
}
