//! `tvault verify`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use futures::StreamExt;
use tvault_core::keys;
use tvault_core::manifest::{Manifest, ObjectEntry};
use tvault_core::ports::{Vault, VaultError};
use tvault_core::read::{self, ReadError};

use crate::cli::VerifyArgs;
use crate::{EXIT_FAILED, EXIT_OK};

pub async fn run(vault_location: &str, args: VerifyArgs) -> Result<u8> {
    let vault = tvault_vault::open(vault_location)?;
    let listed = vault.list("").await?;
    let names: BTreeSet<&str> = listed.iter().map(|l| l.path.as_str()).collect();
    let mut problems: Vec<String> = Vec::new();

    let mut manifests: Vec<Manifest> = Vec::new();
    for path in names.iter().filter(|p| keys::parse_manifest(p).is_some()) {
        match vault
            .get(path)
            .await
            .map_err(|e| e.to_string())
            .and_then(|b| Manifest::from_slice(&b))
        {
            Ok(m) => manifests.push(m),
            Err(reason) => problems.push(format!("unreadable {path}: {reason}")),
        }
    }

    // Which generations each conversation has, for the index checks.
    let mut committed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &manifests {
        committed
            .entry(m.conversation_id.to_string())
            .or_default()
            .insert(m.generation.clone());
    }
    let mut referenced: BTreeSet<&str> = BTreeSet::new();
    let entries: Vec<&ObjectEntry> = manifests.iter().flat_map(|m| &m.objects).collect();
    for e in &entries {
        referenced.insert(&e.path);
    }

    let vault_ref = vault.as_ref();
    let mut checks = futures::stream::iter(
        entries
            .iter()
            .map(|e| (e.path.as_str(), *e))
            .collect::<BTreeMap<_, _>>()
            .into_values(),
    )
    .map(|e| async move { (e, read::verify_entry(vault_ref, e).await) })
    .buffer_unordered(args.concurrency as usize);
    let mut objects = 0usize;
    let mut found: Vec<String> = Vec::new();
    while let Some((e, result)) = checks.next().await {
        objects += 1;
        match result {
            Ok(()) => {}
            Err(ReadError::Vault(VaultError::NotFound { .. })) => {
                found.push(format!("missing {}", e.path))
            }
            Err(ReadError::Corrupt { path, reason }) => {
                found.push(format!("corrupt {path}: {reason}"))
            }
            Err(other) => found.push(format!("unreadable {}: {other}", e.path)),
        }
    }
    found.sort();
    problems.extend(found);

    let mut indexed: BTreeSet<(String, String)> = BTreeSet::new();
    for path in names.iter().filter(|p| p.starts_with("index/")) {
        let file = path.rsplit('/').next().unwrap_or_default();
        let Some((conv, generation)) = file.rsplit_once('.') else {
            problems.push(format!("orphaned {path}: not a date-index marker name"));
            continue;
        };
        if committed.get(conv).is_some_and(|g| g.contains(generation)) {
            indexed.insert((conv.to_string(), generation.to_string()));
        } else {
            problems.push(format!("orphaned {path}: no manifest for this generation"));
        }
    }
    for m in &manifests {
        if !indexed.contains(&(m.conversation_id.to_string(), m.generation.clone())) {
            problems.push(format!(
                "unindexed {}",
                keys::manifest(&m.conversation_id, &m.generation)
            ));
        }
    }
    for path in names.iter().filter(|p| p.starts_with("conversations/")) {
        if keys::parse_manifest(path).is_none() && !referenced.contains(path) {
            problems.push(format!("orphaned {path}: no manifest lists it"));
        }
    }
    for path in names
        .iter()
        .filter(|p| !p.starts_with("conversations/") && !p.starts_with("index/"))
    {
        problems.push(format!("orphaned {path}: outside the vault layout"));
    }

    for p in &problems {
        println!("{p}");
    }
    println!(
        "verified {} manifest(s) of {} conversation(s), {objects} object(s): {} problem(s)",
        manifests.len(),
        committed.len(),
        problems.len()
    );
    Ok(if problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}
