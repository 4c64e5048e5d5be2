//! Reading the vault back: a conversation's manifests, the latest generation,
//! and objects checked against their manifest entry. Needs read access only.

use bytes::Bytes;
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
