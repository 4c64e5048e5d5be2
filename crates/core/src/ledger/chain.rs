//! The chain of ledger objects and the witness, for [`super::audit`]: each
//! object's `previous` must name an object that still has the hash it had
//! when it was followed, back to the trusted root or the first sealed day;
//! and the witness's lines must be the main objects' hashes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::Ledger;
use super::findings::{Kind, LedgerAudit, Node, Options, finding};
use crate::hash::sha256_hex;
use crate::keys;
use crate::ports::{Vault, VaultError};

/// Every link from the range's objects back to the trusted root or the
/// first sealed day.
pub(super) async fn chain(
    vault: &dyn Vault,
    opts: &Options,
    sealed: &BTreeMap<NaiveDate, BTreeSet<u32>>,
    nodes: &mut BTreeMap<String, Node>,
    out: &mut LedgerAudit,
) -> Result<(), VaultError> {
    let trusted = |sha: &str| opts.trusted_root.as_deref() == Some(sha);
    let mut todo: Vec<String> = nodes.keys().cloned().collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut root_met = nodes.values().any(|n| trusted(&n.sha256));
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let Some(node) = nodes.get(&path).cloned() else {
            continue;
        };
        if trusted(&node.sha256) {
            continue;
        }
        let day = Some(node.day);
        let Some(prev) = node.previous.clone() else {
            if node.sealed_at.is_some() {
                genesis(vault, sealed, &path, &node, out).await?;
            }
            continue;
        };
        let earlier = match keys::parse_ledger(&prev.path) {
            Some((d, n)) if node.sequence > 0 => (d, n) == (node.day, node.sequence - 1),
            Some((d, _)) => d < node.day,
            None => false,
        };
        if !earlier {
            out.findings.push(finding(
                day,
                None,
                Kind::ChainBroken,
                format!(
                    "{path} follows {:?}, which is not the ledger object before it",
                    prev.path
                ),
            ));
            continue;
        }
        let Some((pday, pseq)) = keys::parse_ledger(&prev.path) else {
            continue;
        };
        if !nodes.contains_key(&prev.path) {
            let bytes = match vault.get(&prev.path).await {
                Ok(b) => b,
                Err(VaultError::NotFound { .. }) => {
                    out.findings.push(finding(
                        Some(pday),
                        None,
                        Kind::ChainBroken,
                        format!("{} is not in the vault; {path} follows it", prev.path),
                    ));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let header = Ledger::parse(&bytes).ok().map(|l| l.header);
            nodes.insert(
                prev.path.clone(),
                Node {
                    day: pday,
                    sequence: pseq,
                    sha256: sha256_hex(&bytes),
                    previous: header.as_ref().and_then(|h| h.previous.clone()),
                    sealed_at: header.map(|h| h.sealed_at),
                    in_range: false,
                },
            );
        }
        let Some(target) = nodes.get(&prev.path) else {
            continue;
        };
        root_met |= trusted(&target.sha256);
        if target.sha256 != prev.sha256 {
            out.findings.push(finding(
                Some(pday),
                None,
                Kind::ChainBroken,
                format!(
                    "{} has sha256 {}, but {path}{} names {}: it changed after that was sealed",
                    prev.path,
                    target.sha256,
                    node.sealed_at
                        .as_deref()
                        .map(|t| format!(" (sealed {t})"))
                        .unwrap_or_default(),
                    prev.sha256
                ),
            ));
            continue;
        }
        todo.push(prev.path.clone());
        // Days skipped by a main object's link were not sealed yet when it
        // was: they were sealed late, which the chain shows.
        if node.sequence == 0 {
            for (skipped, _) in sealed.range(pday.succ_opt().unwrap_or(pday)..node.day) {
                out.notes.push(format!("{skipped}: sealed late: {path} follows {}, so {skipped} was not sealed yet when {} was", prev.path, node.day));
            }
        }
    }
    if let (Some(root), false) = (&opts.trusted_root, root_met) {
        out.findings.push(finding(
            None,
            None,
            Kind::ChainBroken,
            format!(
                "no ledger object on the chain of {} has the trusted root's sha256 {root}",
                opts.range
            ),
        ));
    }
    out.notes.sort();
    out.notes.dedup();
    Ok(())
}

/// A main object with no previous: the first sealed day, or a day sealed
/// late before it (then every earlier object was sealed after it).
async fn genesis(
    vault: &dyn Vault,
    sealed: &BTreeMap<NaiveDate, BTreeSet<u32>>,
    path: &str,
    node: &Node,
    out: &mut LedgerAudit,
) -> Result<(), VaultError> {
    if node.sequence > 0 {
        return Ok(()); // Ledger::check reported it.
    }
    let sealed_at = node.sealed_at.clone().unwrap_or_default();
    for (d, seqs) in sealed.range(..node.day) {
        for &n in seqs {
            let earlier = keys::ledger(*d, n);
            let at = match vault.get(&earlier).await {
                Ok(b) => Ledger::parse(&b).map(|l| l.header.sealed_at).ok(),
                Err(VaultError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            // RFC 3339 UTC times with fixed precision sort as text.
            match at {
                Some(at) if at > sealed_at => out.notes.push(format!("{d}: sealed late: {earlier} was sealed at {at}, after {path}, which starts the chain")),
                _ => out.findings.push(finding(Some(node.day), None, Kind::ChainBroken, format!(
                    "{path} follows nothing, but {earlier} was sealed before it"
                ))),
            }
        }
    }
    Ok(())
}

pub(super) async fn check_witness(
    vault: &dyn Vault,
    opts: &Options,
    witness: &[(NaiveDate, String)],
    sealed: &BTreeMap<NaiveDate, BTreeSet<u32>>,
    nodes: &BTreeMap<String, Node>,
    out: &mut LedgerAudit,
) -> Result<(), VaultError> {
    let mut witnessed: BTreeSet<NaiveDate> = BTreeSet::new();
    for (day, want) in witness {
        witnessed.insert(*day);
        let path = keys::ledger(*day, 0);
        let have = match nodes.get(&path) {
            Some(n) => Some(n.sha256.clone()),
            None if sealed.get(day).is_some_and(|s| s.contains(&0)) => match vault.get(&path).await
            {
                Ok(b) => Some(sha256_hex(&b)),
                Err(VaultError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        match have {
            None => out.findings.push(finding(
                Some(*day),
                None,
                Kind::Witness,
                format!("the witness has {want} for {path}, which is not in the vault"),
            )),
            Some(have) if &have != want => out.findings.push(finding(
                Some(*day),
                None,
                Kind::Witness,
                format!("{path} has sha256 {have}; the witness says {want}"),
            )),
            Some(_) => {}
        }
    }
    for day in opts.range.days() {
        if sealed.get(&day).is_some_and(|s| s.contains(&0)) && !witnessed.contains(&day) {
            out.findings.push(finding(
                Some(day),
                None,
                Kind::Witness,
                format!("{} is not in the witness file", keys::ledger(day, 0)),
            ));
        }
    }
    Ok(())
}
