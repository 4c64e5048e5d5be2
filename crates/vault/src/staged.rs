//! The create-only writer of the local-disk and in-memory vaults.
//!
//! object_store makes single puts create-only (`PutMode::Create`) but not
//! multipart uploads, so a stream goes to a staging name first
//! ([`STAGING_PREFIX`]) and is then renamed create-only (a hard link on
//! disk). Both stores grant delete, so the staged copy is removed afterwards,
//! unlike the Azure writer, which has no delete right and stages blocks
//! under the final name instead.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, ObjectStore, ObjectStoreExt, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, WriteMultipart,
};
use tvault_core::hash::StreamHasher;
use tvault_core::ports::{ByteStream, Deadline, Expect, VaultError};

use crate::store_error::store_error;
use crate::writer::{
    CreateOnlyWriter, Landed, PART_SIZE, PARTS_IN_FLIGHT, SHA256_METADATA, STAGING_PREFIX,
    Streamed, check_expect,
};

static STAGING_SEQ: AtomicU64 = AtomicU64::new(0);

/// Create-only writes to a local directory or an in-memory store.
pub struct StagedWriter {
    store: Arc<dyn ObjectStore>,
    /// Whether the store keeps attributes (content type, metadata):
    /// `LocalFileSystem` refuses them (NotImplemented); the manifest holds the hash.
    attributes: bool,
}

// Not derived: a store's `Debug` may print its configuration.
impl std::fmt::Debug for StagedWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedWriter")
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl StagedWriter {
    /// A writer for a local directory (no object attributes).
    pub fn local(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            attributes: false,
        }
    }

    /// A writer for an in-memory store.
    pub fn memory(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            attributes: true,
        }
    }

    fn attributes(&self, content_type: &str, sha256: Option<&str>) -> Attributes {
        let mut a = Attributes::new();
        if !self.attributes {
            return a;
        }
        a.insert(
            Attribute::ContentType,
            AttributeValue::from(content_type.to_string()),
        );
        if let Some(sha) = sha256 {
            a.insert(
                Attribute::Metadata(SHA256_METADATA.into()),
                AttributeValue::from(sha.to_string()),
            );
        }
        a
    }

    fn staging_path(&self) -> Path {
        let n = STAGING_SEQ.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Path::from(format!(
            "{STAGING_PREFIX}{}-{nanos}-{n}",
            std::process::id()
        ))
    }
}

fn is_exists(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }
    )
}

#[async_trait]
impl CreateOnlyWriter for StagedWriter {
    async fn create(
        &self,
        path: &str,
        bytes: Bytes,
        content_type: &str,
        sha256: &str,
    ) -> Result<Landed, VaultError> {
        let opts = PutOptions {
            mode: PutMode::Create,
            attributes: self.attributes(content_type, Some(sha256)),
            ..Default::default()
        };
        match self
            .store
            .put_opts(&Path::from(path), PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) => Ok(Landed::Created),
            Err(e) if is_exists(&e) => Ok(Landed::Exists),
            Err(e) => Err(store_error("put", path, e)),
        }
    }

    async fn create_stream(
        &self,
        path: &str,
        mut body: ByteStream,
        content_type: &str,
        expect: &Expect,
        _deadline: Deadline,
    ) -> Result<Streamed, VaultError> {
        let staging = self.staging_path();
        let opts = PutMultipartOptions {
            attributes: self.attributes(content_type, None),
            ..Default::default()
        };
        let upload = self
            .store
            .put_multipart_opts(&staging, opts)
            .await
            .map_err(|e| store_error("stage", path, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut hasher = StreamHasher::new();
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(source) => {
                    let _ = writer.abort().await;
                    return Err(VaultError::Body {
                        path: path.to_string(),
                        source,
                    });
                }
            };
            hasher.update(&chunk);
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                return Err(store_error("stage", path, e));
            }
            writer.put(chunk);
        }
        let (sha256, size) = hasher.finish();
        if let Err(e) = check_expect(path, expect, &sha256, size) {
            let _ = writer.abort().await;
            return Err(e);
        }
        writer
            .finish()
            .await
            .map_err(|e| store_error("stage", path, e))?;
        let result = self
            .store
            .rename_if_not_exists(&staging, &Path::from(path))
            .await;
        let landed = match result {
            Ok(()) => Landed::Created,
            Err(e) if is_exists(&e) => {
                let _ = self.store.delete(&staging).await;
                Landed::Exists
            }
            Err(e) => {
                let _ = self.store.delete(&staging).await;
                return Err(store_error("commit", path, e));
            }
        };
        Ok(Streamed {
            sha256,
            size,
            landed,
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
