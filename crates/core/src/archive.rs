//! The archive: from one classified event to one committed generation.
//!
//! The order of writes is the contract: attachments, transcript, raw sources,
//! date index, and the manifest last. A crash anywhere before the manifest
//! leaves only content-named objects that the next attempt finds already
//! present; the manifest's existence means the generation is complete.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::event::{Classified, LifecycleEvent, TranscriptEvent, classify};
use crate::hash::{sha16, sha256_hex};
use crate::id::{AttachmentId, ConversationId};
use crate::keys;
use crate::manifest::{
    ConversationSummary, MANIFEST_SCHEMA, Manifest, Missing, ObjectEntry, Role, Trigger,
    TriggerKind, generation, strip_query,
};
pub use crate::outcome::{ArchiveError, Archived, ErrorClass, Outcome};
use crate::ports::{
    Clock, ConversationSource, Deadline, Expect, PutOutcome, SourceDoc, SourceError, Vault,
    VaultError,
};
use crate::transcript::{Draft, PlannedAttachment, fmt_time, parse_time};

/// The reason recorded for attachments when no Genesys client is configured.
pub const NO_CREDENTIALS: &str = "no Genesys credentials configured";

/// Archives events into a vault, pulling from a conversation source when one is configured.
#[derive(Clone)]
pub struct Archiver {
    vault: Arc<dyn Vault>,
    source: Option<Arc<dyn ConversationSource>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Archiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archiver")
            .field("vault", &self.vault)
            .field("source", &self.source.is_some())
            .finish()
    }
}

struct Content {
    draft: Draft,
    sources: Vec<SourceDoc>,
    missing: Vec<Missing>,
    trigger: Trigger,
    event_time: Option<DateTime<Utc>>,
}

impl Archiver {
    /// An archiver over `vault`, with `source` for pulling from Genesys if configured.
    pub fn new(
        vault: Arc<dyn Vault>,
        source: Option<Arc<dyn ConversationSource>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            vault,
            source,
            clock,
        }
    }

    /// The vault this archiver writes to.
    pub fn vault(&self) -> &Arc<dyn Vault> {
        &self.vault
    }

    /// Classify the text of one EventBridge event and archive it.
    pub async fn archive_raw(
        &self,
        raw: &str,
        deadline: Deadline,
    ) -> Result<Outcome, ArchiveError> {
        let classified = classify(raw)?;
        self.archive(classified, None, deadline).await
    }

    /// Archive a classified event. `kind` overrides the trigger kind (backfill).
    pub async fn archive(
        &self,
        event: Classified,
        kind: Option<TriggerKind>,
        deadline: Deadline,
    ) -> Result<Outcome, ArchiveError> {
        let content = match event {
            Classified::Skipped(s) => {
                info!(topic = %s.topic, reason = %s.reason, "skipped");
                return Ok(Outcome::Skipped {
                    topic: s.topic,
                    reason: s.reason,
                });
            }
            Classified::Lifecycle(e) => self.pull(e, kind, deadline).await?,
            Classified::Transcript(e) => self.carried(e, kind, deadline).await?,
        };
        self.commit(content, deadline).await
    }

    async fn pull(
        &self,
        e: LifecycleEvent,
        kind: Option<TriggerKind>,
        deadline: Deadline,
    ) -> Result<Content, ArchiveError> {
        let conversation = e.conversation_id.clone();
        let Some(source) = &self.source else {
            return Err(ArchiveError::Config {
                conversation,
                message: "a lifecycle event carries no transcript, so archiving it needs the Genesys API: set \
                          GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET and GENESYSCLOUD_REGION"
                    .into(),
            });
        };
        let fetched = source
            .fetch_transcript(&conversation, deadline)
            .await
            .map_err(|source| ArchiveError::Source {
                conversation: conversation.clone(),
                source,
            })?;
        let mut draft = fetched.draft;
        if draft.media_type.is_none() {
            draft.media_type = e.media_type.clone();
        }
        let mut sources = vec![SourceDoc {
            name: "event".into(),
            bytes: Bytes::from(e.info.raw.clone()),
        }];
        sources.extend(fetched.sources);
        let mut content = Content {
            draft,
            sources,
            missing: vec![],
            trigger: Trigger {
                kind: kind.unwrap_or(TriggerKind::Lifecycle),
                topic: e.info.topic,
                event_id: e.info.id,
            },
            event_time: e.info.time,
        };
        self.resolve(&mut content, deadline).await?;
        Ok(content)
    }

    async fn carried(
        &self,
        e: TranscriptEvent,
        kind: Option<TriggerKind>,
        deadline: Deadline,
    ) -> Result<Content, ArchiveError> {
        let mut content = Content {
            draft: e.draft,
            sources: vec![SourceDoc {
                name: "event".into(),
                bytes: Bytes::from(e.info.raw),
            }],
            missing: vec![],
            trigger: Trigger {
                kind: kind.unwrap_or(TriggerKind::TranscriptEvent),
                topic: e.info.topic,
                event_id: e.info.id,
            },
            event_time: e.info.time,
        };
        self.resolve(&mut content, deadline).await?;
        Ok(content)
    }

    /// Give every attachment id without a URL one, through the source, or
    /// record it as missing.
    async fn resolve(&self, content: &mut Content, deadline: Deadline) -> Result<(), ArchiveError> {
        let wanted = content.draft.unresolved_attachments();
        if wanted.is_empty() {
            return Ok(());
        }
        let Some(source) = &self.source else {
            for (_, id) in wanted {
                push_missing(&mut content.missing, id, NO_CREDENTIALS);
            }
            return Ok(());
        };
        let conversation = content.draft.conversation_id.clone();
        let resolved = source
            .resolve_attachments(&conversation, &wanted, deadline)
            .await
            .map_err(|source| ArchiveError::Source {
                conversation,
                source,
            })?;
        for m in content.draft.messages.iter_mut() {
            for (id, r) in m.attachments.iter_mut() {
                if let Some((_, found)) = resolved.found.iter().find(|(f, _)| f == id) {
                    *r = found.clone();
                }
            }
        }
        for (id, reason) in resolved.missing {
            push_missing(&mut content.missing, id, &reason);
        }
        content.sources.extend(resolved.sources);
        Ok(())
    }

    async fn commit(
        &self,
        mut content: Content,
        deadline: Deadline,
    ) -> Result<Outcome, ArchiveError> {
        let conversation = content.draft.conversation_id.clone();
        let vault_err = |source| ArchiveError::Vault {
            conversation: conversation.clone(),
            source,
        };
        let (transcript, planned) = content.draft.build();
        let transcript_bytes = Bytes::from(transcript.to_bytes());
        let transcript_sha = sha256_hex(&transcript_bytes);

        // The generation as it would be if every attachment still to fetch
        // arrives. If that manifest exists, there is nothing to do.
        let known_missing: Vec<&str> = content
            .missing
            .iter()
            .map(|m| m.attachment_id.as_str())
            .collect();
        let hoped = generation(&transcript_sha, &known_missing);
        let to_fetch: Vec<&PlannedAttachment> = planned
            .iter()
            .filter(|p| {
                !content
                    .missing
                    .iter()
                    .any(|m| m.attachment_id == p.attachment_id)
            })
            .collect();
        let transcript_path = keys::transcript(&conversation, sha16(&transcript_sha));
        // Which request answers "already in vault?". With attachments to
        // download, a HEAD of the hoped-for manifest first: on a redelivery it
        // saves every download (and its Genesys calls). With nothing to
        // download, the transcript's own create-only put is the question: a
        // manifest is only ever written after its transcript, so `Created`
        // means no generation of this content exists and the HEAD would only
        // have said so (one request of five saved per new conversation); only
        // when the transcript was there already is the manifest looked for.
        let early_transcript = if to_fetch.is_empty() {
            let stored = self
                .put_json(&transcript_path, transcript_bytes.clone(), deadline)
                .await
                .map_err(vault_err)?;
            Some(stored)
        } else {
            None
        };
        let probe = early_transcript
            .as_ref()
            .is_none_or(|s| s.outcome == PutOutcome::AlreadyPresent);
        if probe
            && self
                .vault
                .exists(&keys::manifest(&conversation, &hoped))
                .await
                .map_err(vault_err)?
        {
            self.record_event(&conversation, &content.sources, deadline)
                .await
                .map_err(vault_err)?;
            info!(conversation_id = %conversation, generation = %hoped, "already in vault");
            return Ok(Outcome::AlreadyInVault {
                conversation_id: conversation,
                generation: hoped,
            });
        }

        let mut objects = Vec::new();
        let mut bytes_written = 0u64;
        for p in to_fetch {
            match self.store_attachment(&conversation, p, deadline).await {
                Ok((entry, written)) => {
                    bytes_written += written;
                    objects.push(entry);
                }
                Err(AttachmentFailure::Missing(reason)) => {
                    warn!(conversation_id = %conversation, attachment_id = %p.attachment_id, %reason, "attachment missing");
                    push_missing(&mut content.missing, p.attachment_id.clone(), &reason);
                }
                Err(AttachmentFailure::Fail(e)) => return Err(e),
            }
        }
        let missing_ids: Vec<&str> = content
            .missing
            .iter()
            .map(|m| m.attachment_id.as_str())
            .collect();
        let generation = generation(&transcript_sha, &missing_ids);
        let manifest_path = keys::manifest(&conversation, &generation);
        if generation != hoped && self.vault.exists(&manifest_path).await.map_err(vault_err)? {
            self.record_event(&conversation, &content.sources, deadline)
                .await
                .map_err(vault_err)?;
            return Ok(Outcome::AlreadyInVault {
                conversation_id: conversation,
                generation,
            });
        }

        let stored = match early_transcript {
            Some(stored) => stored,
            None => self
                .put_json(&transcript_path, transcript_bytes, deadline)
                .await
                .map_err(vault_err)?,
        };
        bytes_written += written(&stored);
        objects.insert(
            0,
            entry(
                transcript_path,
                Role::Transcript,
                &stored,
                "application/json",
            ),
        );

        let mut names: Vec<String> = Vec::new();
        for doc in content.sources {
            let name = unique_name(&mut names, &doc.name);
            let path = keys::source(&conversation, &name, sha16(&sha256_hex(&doc.bytes)));
            let stored = self
                .put_json(&path, doc.bytes, deadline)
                .await
                .map_err(vault_err)?;
            bytes_written += written(&stored);
            objects.push(entry(path, Role::Source, &stored, "application/json"));
        }

        let day = transcript
            .end_time
            .as_deref()
            .and_then(|t| parse_time(t).ok())
            .or_else(|| transcript.last_message_time())
            .or(content.event_time)
            .unwrap_or_else(|| self.clock.now());
        let index_path = keys::index(day, &conversation, &generation);
        self.vault
            .put_new(
                &index_path,
                Bytes::new(),
                "application/octet-stream",
                deadline,
            )
            .await
            .map_err(vault_err)?;

        content
            .missing
            .sort_by(|a, b| a.attachment_id.cmp(&b.attachment_id));
        let manifest = Manifest {
            schema: MANIFEST_SCHEMA.to_string(),
            conversation_id: conversation.clone(),
            generation: generation.clone(),
            archived_at: fmt_time(self.clock.now()),
            trigger: content.trigger,
            conversation: ConversationSummary {
                start_time: transcript.start_time.clone(),
                end_time: transcript.end_time.clone(),
                media_type: transcript.media_type.clone(),
                message_count: transcript.messages.len(),
                attachment_count: transcript.attachment_count(),
            },
            objects,
            missing: content.missing,
        };
        let manifest_bytes = Bytes::from(manifest.to_bytes());
        match self
            .vault
            .put_new(&manifest_path, manifest_bytes, "application/json", deadline)
            .await
        {
            // `AlreadyPresent` with our very bytes (our `archivedAt` to the
            // millisecond) is our own write whose answer was lost and retried.
            Ok(_) => {}
            // Another delivery committed the same generation first: its
            // `archivedAt` differs from ours, and that is fine.
            Err(VaultError::Integrity { .. }) => {
                info!(conversation_id = %conversation, %generation, "manifest committed by a concurrent delivery");
                return Ok(Outcome::AlreadyInVault {
                    conversation_id: conversation,
                    generation,
                });
            }
            Err(e) => return Err(vault_err(e)),
        }
        let attachments = manifest
            .objects
            .iter()
            .filter(|o| o.role == Role::Attachment)
            .count();
        info!(conversation_id = %conversation, %generation, attachments, missing = manifest.missing.len(), "archived");
        Ok(Outcome::Archived(Archived {
            conversation_id: conversation,
            generation,
            attachments,
            missing: manifest.missing,
            bytes_written,
        }))
    }

    /// Keep the event of a delivery whose content is already archived, under
    /// `source/` like any raw payload: create-only and named by its hash, so
    /// a redelivery of the same bytes writes nothing, while another event
    /// about the same content (`acw` after `customer.end`, or one that lost
    /// the race to commit) stays findable. No manifest lists it; `verify`
    /// checks it by its name (see docs/vault-format.md).
    async fn record_event(
        &self,
        conversation: &ConversationId,
        sources: &[SourceDoc],
        deadline: Deadline,
    ) -> Result<(), VaultError> {
        for doc in sources.iter().filter(|d| d.name == "event") {
            let path = keys::source(conversation, &doc.name, sha16(&sha256_hex(&doc.bytes)));
            self.put_json(&path, doc.bytes.clone(), deadline).await?;
        }
        Ok(())
    }

    async fn put_json(
        &self,
        path: &str,
        bytes: Bytes,
        deadline: Deadline,
    ) -> Result<crate::ports::Stored, VaultError> {
        self.vault
            .put_new(path, bytes, "application/json", deadline)
            .await
    }

    async fn store_attachment(
        &self,
        conversation: &ConversationId,
        p: &PlannedAttachment,
        deadline: Deadline,
    ) -> Result<(ObjectEntry, u64), AttachmentFailure> {
        let Some(source) = &self.source else {
            return Err(AttachmentFailure::Missing(NO_CREDENTIALS.into()));
        };
        let Some(url) = p.source.url.clone() else {
            return Err(AttachmentFailure::Missing("no download URL".into()));
        };
        let body = match source.open_attachment(&p.source, deadline).await {
            Ok(body) => body,
            Err(SourceError::Gone { reason }) => return Err(AttachmentFailure::Missing(reason)),
            Err(source) => {
                return Err(AttachmentFailure::Fail(ArchiveError::Source {
                    conversation: conversation.clone(),
                    source,
                }));
            }
        };
        let content_type = p
            .source
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        let expect = Expect {
            size: p.source.size,
            sha256: p.source.sha256.clone(),
        };
        let stored = self
            .vault
            .put_new_stream(&p.path, body, &content_type, &expect, deadline)
            .await
            .map_err(|source| {
                AttachmentFailure::Fail(ArchiveError::Vault {
                    conversation: conversation.clone(),
                    source,
                })
            })?;
        let mut e = entry(p.path.clone(), Role::Attachment, &stored, &content_type);
        e.attachment_id = Some(p.attachment_id.clone());
        e.source_url = Some(strip_query(&url));
        Ok((e, written(&stored)))
    }
}

enum AttachmentFailure {
    Missing(String),
    Fail(ArchiveError),
}

fn push_missing(missing: &mut Vec<Missing>, id: AttachmentId, reason: &str) {
    if !missing.iter().any(|m| m.attachment_id == id) {
        missing.push(Missing {
            attachment_id: id,
            reason: reason.to_string(),
        });
    }
}

fn written(s: &crate::ports::Stored) -> u64 {
    if s.outcome == PutOutcome::Created {
        s.size
    } else {
        0
    }
}

fn entry(path: String, role: Role, s: &crate::ports::Stored, content_type: &str) -> ObjectEntry {
    ObjectEntry {
        path,
        role,
        sha256: s.sha256.clone(),
        size: s.size,
        content_type: content_type.to_string(),
        attachment_id: None,
        source_url: None,
    }
}

/// `name`, or `name-2`, `name-3`, ... if taken; records the result in `taken`.
fn unique_name(taken: &mut Vec<String>, name: &str) -> String {
    let mut candidate = name.to_string();
    let mut n = 1;
    while taken.contains(&candidate) {
        n += 1;
        candidate = format!("{name}-{n}");
    }
    taken.push(candidate.clone());
    candidate
}
