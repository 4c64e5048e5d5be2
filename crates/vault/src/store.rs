//! [`ObjectVault`]: the write-once [`Vault`] port over any `object_store` backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, ObjectStore, ObjectStoreExt, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, WriteMultipart,
};
use tvault_core::hash::{StreamHasher, sha256_hex};

use crate::azure::AzureWriter;
use crate::azure::blocks::Landed;
use crate::azure::retry::{StatsSnapshot, with_deadline};
use tvault_core::ports::{
    ByteStream, Deadline, Expect, Listed, PutOutcome, Stored, Vault, VaultError,
};

/// Size of one uploaded part when streaming. Memory use is about
/// `PART_SIZE * (MAX_PARTS_IN_FLIGHT + 1)`.
pub const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts uploaded at once per streamed object.
pub const MAX_PARTS_IN_FLIGHT: usize = 2;
/// Where streamed objects are staged before their create-only commit (local
/// and memory backends only). Never listed as part of the vault.
pub const STAGING_PREFIX: &str = "_staging/";
/// Metadata key holding an object's SHA-256 (where the backend keeps metadata).
pub const SHA256_METADATA: &str = "sha256";

/// Which kind of store is behind the vault; decides what it supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A directory on local disk (no object metadata).
    Local,
    /// In memory.
    Memory,
    /// An Azure Blob container (writes through [`crate::azure`]).
    Azure,
}

/// The write-once vault over an `object_store` backend.
pub struct ObjectVault {
    store: Arc<dyn ObjectStore>,
    backend: Backend,
    /// The create-only write path of an Azure vault (object_store cannot make one).
    azure: Option<Arc<AzureWriter>>,
}

// Not derived: object_store's Azure client prints its credential (SAS
// pairs, key bytes) in its `Debug`, so the store is never shown.
impl std::fmt::Debug for ObjectVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectVault")
            .field("backend", &self.backend)
            .field("azure", &self.azure)
            .finish_non_exhaustive()
    }
}

static STAGING_SEQ: AtomicU64 = AtomicU64::new(0);

impl ObjectVault {
    /// Wrap `store`.
    pub fn new(store: Arc<dyn ObjectStore>, backend: Backend) -> Self {
        Self {
            store,
            backend,
            azure: None,
        }
    }

    /// An Azure vault: reads through `store`, writes through `writer`.
    pub(crate) fn with_azure(store: Arc<dyn ObjectStore>, writer: Arc<AzureWriter>) -> Self {
        Self {
            store,
            backend: Backend::Azure,
            azure: Some(writer),
        }
    }

    /// Which kind of store this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The Azure write side (settings, counters, container setup), if this is an Azure vault.
    pub fn azure(&self) -> Option<&Arc<AzureWriter>> {
        self.azure.as_ref()
    }

    /// Retry and throttling counters of an Azure vault.
    pub fn azure_stats(&self) -> Option<StatsSnapshot> {
        self.azure.as_ref().map(|w| w.stats())
    }

    async fn settle(
        &self,
        path: &str,
        landed: Landed,
        sha256: String,
        size: u64,
    ) -> Result<Stored, VaultError> {
        match landed {
            Landed::Created => Ok(Stored {
                sha256,
                size,
                outcome: PutOutcome::Created,
            }),
            Landed::Exists => self.settle_existing(path, sha256, size).await,
        }
    }

    /// The underlying store (tests use it to corrupt objects on purpose).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    fn attributes(&self, content_type: &str, sha256: Option<&str>) -> Attributes {
        let mut a = Attributes::new();
        if self.backend == Backend::Local {
            // LocalFileSystem refuses attributes (NotImplemented); the manifest holds the hash.
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

    /// The SHA-256 of what is stored at `path`, read back in a stream.
    async fn stored_sha256(&self, path: &str) -> Result<(String, u64), VaultError> {
        let mut body = self.get_stream(path).await?;
        let mut h = StreamHasher::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                backend(
                    "read",
                    path,
                    e.into_inner().map(|e| e.to_string()).unwrap_or_default(),
                    true,
                )
            })?;
            h.update(&chunk);
        }
        Ok(h.finish())
    }

    /// Called when a create found the name taken: same bytes is success.
    async fn settle_existing(
        &self,
        path: &str,
        sha256: String,
        size: u64,
    ) -> Result<Stored, VaultError> {
        let (stored, _) = self.stored_sha256(path).await?;
        if stored == sha256 {
            Ok(Stored {
                sha256,
                size,
                outcome: PutOutcome::AlreadyPresent,
            })
        } else {
            tracing::error!(path, stored_sha256 = %stored, new_sha256 = %sha256, "integrity error: name taken by other bytes");
            Err(VaultError::Integrity {
                path: path.to_string(),
                stored,
                new: sha256,
            })
        }
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

fn backend(op: &'static str, path: &str, message: String, transient: bool) -> VaultError {
    VaultError::Backend {
        op,
        path: path.to_string(),
        message,
        transient,
    }
}

/// Map an `object_store` error; `AlreadyExists` is handled by callers first.
fn map_err(op: &'static str, path: &str, e: object_store::Error) -> VaultError {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => VaultError::NotFound {
            path: path.to_string(),
        },
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => VaultError::Access {
            op,
            path: path.to_string(),
            message: e.to_string(),
        },
        E::Generic { .. } | E::JoinError { .. } => backend(op, path, e.to_string(), true),
        other => backend(op, path, other.to_string(), false),
    }
}

fn is_exists(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }
    )
}

pub(crate) fn check_expect(
    path: &str,
    expect: &Expect,
    sha256: &str,
    size: u64,
) -> Result<(), VaultError> {
    if let Some(want) = expect.size
        && want != size
    {
        return Err(VaultError::ContentMismatch {
            path: path.to_string(),
            reason: format!("expected {want} bytes, received {size}"),
        });
    }
    if let Some(want) = &expect.sha256
        && !want.eq_ignore_ascii_case(sha256)
    {
        return Err(VaultError::ContentMismatch {
            path: path.to_string(),
            reason: format!("expected sha256 {want}, received {sha256}"),
        });
    }
    Ok(())
}

#[async_trait]
impl Vault for ObjectVault {
    async fn put_new(
        &self,
        path: &str,
        bytes: Bytes,
        content_type: &str,
        deadline: Deadline,
    ) -> Result<Stored, VaultError> {
        let sha256 = sha256_hex(&bytes);
        let size = bytes.len() as u64;
        if let Some(w) = &self.azure {
            return with_deadline(deadline, async {
                let landed = w.put_blob(path, bytes, content_type, &sha256, None).await?;
                self.settle(path, landed, sha256, size).await
            })
            .await;
        }
        let opts = PutOptions {
            mode: PutMode::Create,
            attributes: self.attributes(content_type, Some(&sha256)),
            ..Default::default()
        };
        match self
            .store
            .put_opts(&Path::from(path), PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) => Ok(Stored {
                sha256,
                size,
                outcome: PutOutcome::Created,
            }),
            Err(e) if is_exists(&e) => self.settle_existing(path, sha256, size).await,
            Err(e) => Err(map_err("put", path, e)),
        }
    }

    async fn put_new_stream(
        &self,
        path: &str,
        mut body: ByteStream,
        content_type: &str,
        expect: &Expect,
        deadline: Deadline,
    ) -> Result<Stored, VaultError> {
        if let Some(w) = &self.azure {
            return with_deadline(deadline, async {
                let s = w
                    .put_stream(path, body, content_type, expect, deadline)
                    .await?;
                self.settle(path, s.landed, s.sha256, s.size).await
            })
            .await;
        }
        // Local and memory stores have no create-only multipart upload, so the
        // bytes go to a staging name first and are then renamed create-only
        // (a hard link on disk). Both stores grant delete, unlike the Azure writer.
        let staging = self.staging_path();
        let opts = PutMultipartOptions {
            attributes: self.attributes(content_type, None),
            ..Default::default()
        };
        let upload = self
            .store
            .put_multipart_opts(&staging, opts)
            .await
            .map_err(|e| map_err("stage", path, e))?;
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
            if let Err(e) = writer.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await {
                return Err(map_err("stage", path, e));
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
            .map_err(|e| map_err("stage", path, e))?;
        let result = self
            .store
            .rename_if_not_exists(&staging, &Path::from(path))
            .await;
        match result {
            Ok(()) => Ok(Stored {
                sha256,
                size,
                outcome: PutOutcome::Created,
            }),
            Err(e) if is_exists(&e) => {
                let _ = self.store.delete(&staging).await;
                self.settle_existing(path, sha256, size).await
            }
            Err(e) => {
                let _ = self.store.delete(&staging).await;
                Err(map_err("commit", path, e))
            }
        }
    }

    async fn exists(&self, path: &str) -> Result<bool, VaultError> {
        match self.store.head(&Path::from(path)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(map_err("head", path, e)),
        }
    }

    async fn get(&self, path: &str) -> Result<Bytes, VaultError> {
        let r = self
            .store
            .get(&Path::from(path))
            .await
            .map_err(|e| map_err("get", path, e))?;
        r.bytes().await.map_err(|e| map_err("get", path, e))
    }

    async fn get_stream(&self, path: &str) -> Result<ByteStream, VaultError> {
        let r = self
            .store
            .get(&Path::from(path))
            .await
            .map_err(|e| map_err("get", path, e))?;
        Ok(r.into_stream().map_err(std::io::Error::from).boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, VaultError> {
        let p = prefix.trim_end_matches('/');
        let p = (!p.is_empty()).then(|| Path::from(p));
        let mut out: Vec<Listed> = self
            .store
            .list(p.as_ref())
            .map_ok(|m| Listed {
                path: m.location.to_string(),
                size: m.size,
                last_modified: m.last_modified,
                e_tag: m.e_tag,
            })
            .try_collect()
            .await
            .map_err(|e| map_err("list", prefix, e))?;
        out.retain(|o| o.path.starts_with(prefix) && !o.path.starts_with(STAGING_PREFIX));
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}
