//! The ledger half of `tvault audit`: the chain, every listed manifest
//! present with its hash, every indexed generation listed, and the witness.
//! (The objects of the listed conversations are checked by `verify`'s code,
//! a day at a time: [`Auditor::next_day`] gives it each day's names.)
//! Read access only.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use futures::StreamExt;

pub use super::findings::{DaySummary, Finding, Kind, LedgerAudit, ObjectFacts, Options};
use super::findings::{Node, finding};
use super::{Entry, Ledger, Link, is_generation};
use crate::hash::sha256_hex;
use crate::id::check_id;
use crate::keys;
use crate::ports::{Vault, VaultError};

/// What one day gives `verify`: the conversations its ledger objects list
/// or its index holds, and the names under its index.
#[derive(Debug, Clone)]
pub struct DayNames {
    pub day: NaiveDate,
    /// The conversations listed or indexed on the day.
    pub conversations: BTreeSet<String>,
    /// The day's index marker names, and other names under its index.
    pub index_names: Vec<String>,
}

/// The ledger audit of a range, a day at a time, in order: [`start`](Self::start),
/// [`next_day`](Self::next_day) until it gives `None`, [`finish`](Self::finish).
/// Memory: one day's markers and entries at a time; across days only the
/// ledger objects' names and links (a few a day), the day summaries and
/// what was found.
pub struct Auditor<'v> {
    vault: &'v dyn Vault,
    opts: &'v Options,
    sealed: BTreeMap<NaiveDate, BTreeSet<u32>>,
    nodes: BTreeMap<String, Node>,
    days: Box<dyn Iterator<Item = NaiveDate> + Send>,
    out: LedgerAudit,
}

impl<'v> Auditor<'v> {
    /// List the ledger (its names only).
    pub async fn start(vault: &'v dyn Vault, opts: &'v Options) -> Result<Self, VaultError> {
        let mut out = LedgerAudit::default();
        let mut sealed: BTreeMap<NaiveDate, BTreeSet<u32>> = BTreeMap::new();
        let mut names = vault.list_stream(keys::LEDGER);
        while let Some(l) = names.next().await {
            let l = l?;
            match keys::parse_ledger(&l.path) {
                Some((d, n)) => {
                    sealed.entry(d).or_default().insert(n);
                }
                None => out.findings.push(finding(
                    None,
                    None,
                    Kind::BadLedger,
                    format!("{}: not a ledger object name", l.path),
                )),
            }
        }
        drop(names);
        Ok(Auditor {
            vault,
            opts,
            sealed,
            nodes: BTreeMap::new(),
            days: Box::new(opts.range.days()),
            out,
        })
    }

    /// Audit the range's next day; `None` after the last.
    pub async fn next_day(&mut self) -> Result<Option<DayNames>, VaultError> {
        let Some(day) = self.days.next() else {
            return Ok(None);
        };
        let sequences = self.sealed.get(&day);
        let (vault, opts) = (self.vault, self.opts);
        audit_day(vault, opts, day, sequences, &mut self.nodes, &mut self.out)
            .await
            .map(Some)
    }

    /// The chain from the range's objects back to the trusted root or the
    /// first sealed day, and the witness.
    pub async fn finish(mut self) -> Result<LedgerAudit, VaultError> {
        let (vault, opts) = (self.vault, self.opts);
        let out = &mut self.out;
        out.head = self
            .nodes
            .iter()
            .filter(|(_, n)| n.in_range)
            .max_by_key(|(_, n)| (n.day, n.sequence))
            .map(|(path, n)| Link {
                path: path.clone(),
                sha256: n.sha256.clone(),
            });
        super::chain::chain(vault, opts, &self.sealed, &mut self.nodes, out).await?;
        if let Some(witness) = &opts.witness {
            super::chain::check_witness(vault, opts, witness, &self.sealed, &self.nodes, out)
                .await?;
        }
        out.findings.sort();
        out.findings.dedup();
        Ok(self.out)
    }
}

async fn audit_day(
    vault: &dyn Vault,
    opts: &Options,
    day: NaiveDate,
    sequences: Option<&BTreeSet<u32>>,
    nodes: &mut BTreeMap<String, Node>,
    out: &mut LedgerAudit,
) -> Result<DayNames, VaultError> {
    // The day's index: committed or not, every marker of a safe id.
    let prefix = keys::index_day_prefix(day.year(), day.month(), day.day());
    let mut markers: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut names = DayNames {
        day,
        conversations: BTreeSet::new(),
        index_names: Vec::new(),
    };
    let mut index = vault.list_stream(&prefix);
    while let Some(l) = index.next().await {
        let l = l?;
        if let Some((d, conv, g)) = keys::parse_index(&l.path)
            && d == day
            && check_id(conv).is_ok()
            && is_generation(g)
        {
            markers.insert((conv.to_string(), g.to_string()), l.path.clone());
        }
        names.index_names.push(l.path);
    }
    drop(index);
    for (conv, _) in markers.keys() {
        names.conversations.insert(conv.clone());
    }
    let mut summary = DaySummary {
        day,
        objects: Vec::new(),
        listed: 0,
        indexed: markers.len(),
    };
    let Some(sequences) = sequences.filter(|s| !s.is_empty()) else {
        out.findings.push(finding(Some(day), None, Kind::NotSealed, format!("no ledger object ({} generation(s) indexed); seal it with `tvault seal --day {day}`", markers.len())));
        out.days.push(summary);
        return Ok(names);
    };
    if !sequences.contains(&0) {
        out.findings.push(finding(
            Some(day),
            None,
            Kind::BadLedger,
            format!(
                "{} is missing while supplements of the day exist",
                keys::ledger(day, 0)
            ),
        ));
    }

    // Every object of the day, and what they list.
    let mut listed: BTreeMap<(String, String), (Entry, String)> = BTreeMap::new();
    for &n in sequences {
        let path = keys::ledger(day, n);
        let bytes = match vault.get(&path).await {
            Ok(b) => b,
            Err(VaultError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let sha256 = sha256_hex(&bytes);
        let parsed = Ledger::parse(&bytes);
        drop(bytes);
        let ledger = match parsed {
            Ok(l) => l,
            Err(reason) => {
                out.findings.push(finding(
                    Some(day),
                    None,
                    Kind::BadLedger,
                    format!("{path}: {reason}"),
                ));
                nodes.insert(
                    path.clone(),
                    Node {
                        day,
                        sequence: n,
                        sha256: sha256.clone(),
                        previous: None,
                        sealed_at: None,
                        in_range: true,
                    },
                );
                summary.objects.push(ObjectFacts {
                    path,
                    sha256,
                    sequence: n,
                    sealed_at: None,
                    previous: None,
                    entries: 0,
                    merkle_root: None,
                });
                continue;
            }
        };
        if let Err(reason) = ledger.check(&path) {
            out.findings.push(finding(
                Some(day),
                None,
                Kind::BadLedger,
                format!("{path}: {reason}"),
            ));
        }
        let h = &ledger.header;
        nodes.insert(
            path.clone(),
            Node {
                day,
                sequence: n,
                sha256: sha256.clone(),
                previous: h.previous.clone(),
                sealed_at: Some(h.sealed_at.clone()),
                in_range: true,
            },
        );
        summary.objects.push(ObjectFacts {
            path: path.clone(),
            sha256,
            sequence: n,
            sealed_at: Some(h.sealed_at.clone()),
            previous: h.previous.clone(),
            entries: ledger.entries.len() as u64,
            merkle_root: Some(h.merkle_root.clone()),
        });
        for e in ledger.entries {
            let key = (e.conversation_id.clone(), e.generation.clone());
            if let Some((_, first)) = listed.get(&key) {
                out.findings.push(finding(
                    Some(day),
                    Some(&key.0),
                    Kind::BadLedger,
                    format!("generation {} is listed in both {first} and {path}", key.1),
                ));
                continue;
            }
            names.conversations.insert(key.0.clone());
            listed.insert(key, (e, path.clone()));
        }
    }
    summary.listed = listed.len();

    // Listed: the manifest as it was sealed, and its marker.
    let mut reads = futures::stream::iter(listed.values())
        .map(|(e, object)| async move { (e, object, vault.get(&e.manifest).await) })
        .buffer_unordered(opts.concurrency.max(1));
    while let Some((e, object, read)) = reads.next().await {
        let conv = Some(e.conversation_id.as_str());
        let marker = markers.get(&(e.conversation_id.clone(), e.generation.clone()));
        match read {
            Err(VaultError::NotFound { .. }) => out.findings.push(finding(
                Some(day),
                conv,
                Kind::RemovedAfterSealing,
                format!(
                    "manifest {} (listed in {object}) is not in the vault{}",
                    e.manifest,
                    if marker.is_none() {
                        ", nor is its index marker"
                    } else {
                        ""
                    }
                ),
            )),
            Err(other) => return Err(other),
            Ok(bytes) => {
                let (sha, size) = (sha256_hex(&bytes), bytes.len() as u64);
                if (sha.as_str(), size) != (e.sha256.as_str(), e.size) {
                    out.findings.push(finding(Some(day), conv, Kind::ChangedAfterSealing, format!(
                        "manifest {} has sha256 {sha} ({size} bytes); {object} lists sha256 {} ({} bytes)",
                        e.manifest, e.sha256, e.size
                    )));
                } else if marker.is_none() {
                    out.findings.push(finding(Some(day), conv, Kind::RemovedAfterSealing, format!(
                        "its index marker {prefix}{}.{} is gone (manifest {} is as sealed in {object})",
                        e.conversation_id, e.generation, e.manifest
                    )));
                }
            }
        }
    }
    drop(reads);

    // Indexed and committed, but listed nowhere.
    let unlisted: Vec<(&(String, String), &String)> = markers
        .iter()
        .filter(|(k, _)| !listed.contains_key(*k))
        .collect();
    let mut exists = futures::stream::iter(unlisted)
        .map(|((conv, g), marker)| async move {
            let manifest = super::manifest_name(conv, g);
            (conv, g, marker, vault.exists(&manifest).await)
        })
        .buffer_unordered(opts.concurrency.max(1));
    while let Some((conv, g, marker, found)) = exists.next().await {
        // A marker without its manifest is an archive interrupted before it
        // committed: no generation, nothing to seal (`verify` reports it).
        if found? {
            out.findings.push(finding(
                Some(day),
                Some(conv),
                Kind::AddedAfterSealing,
                format!(
                    "generation {g} ({marker}) is committed but listed in no ledger object of {day}"
                ),
            ));
        }
    }
    drop(exists);
    out.days.push(summary);
    Ok(names)
}
