//! [`ObjectVault`]: the write-once [`Vault`] port over any `object_store`
//! backend. It reads through object_store, lists through one [`Lister`] and
//! writes through one [`CreateOnlyWriter`]; which backend is behind them, it
//! never knows.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tvault_core::hash::{StreamHasher, sha256_hex};
use tvault_core::ports::{
    ByteStream, Deadline, Expect, Listed, PutOutcome, Stored, Vault, VaultError,
};

use crate::listing::Lister;
use crate::store_error::store_error;
use crate::writer::{CreateOnlyWriter, Landed, STAGING_PREFIX, backend_error, with_deadline};

/// The write-once vault: reads through an `object_store` backend, creates
/// through that backend's [`CreateOnlyWriter`].
pub struct ObjectVault {
    /// Reads only: object_store's own puts are not create-only for streams.
    store: Arc<dyn ObjectStore>,
    writer: Arc<dyn CreateOnlyWriter>,
    lister: Arc<dyn Lister>,
}

// Not derived: object_store's Azure client prints its credential (SAS
// pairs, key bytes) in its `Debug`, so the store is never shown.
impl std::fmt::Debug for ObjectVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectVault")
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

impl ObjectVault {
    /// A vault that reads `store`, lists through `lister` and writes
    /// through `writer`, which must all reach the same place.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        writer: Arc<dyn CreateOnlyWriter>,
        lister: Arc<dyn Lister>,
    ) -> Self {
        Self {
            store,
            writer,
            lister,
        }
    }

    /// The writer, if it is a `W` (a backend's extras, such as the Azure
    /// writer's counters; see [`crate::location`]).
    pub fn writer_as<W: CreateOnlyWriter>(&self) -> Option<&W> {
        let any: &dyn Any = self.writer.as_any();
        any.downcast_ref::<W>()
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

    /// The SHA-256 of what is stored at `path`, read back in a stream.
    async fn stored_sha256(&self, path: &str) -> Result<(String, u64), VaultError> {
        let mut body = self.get_stream(path).await?;
        let mut h = StreamHasher::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                backend_error(
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
            // Not logged as an error here: the caller decides. A manifest
            // committed first by a concurrent delivery of the same
            // conversation is this very case and is fine (the archive says
            // so at info); any other is a failed record, which the router
            // logs at error with this error's path and both hashes.
            tracing::debug!(path, stored_sha256 = %stored, new_sha256 = %sha256, "name taken by other bytes");
            Err(VaultError::Integrity {
                path: path.to_string(),
                stored,
                new: sha256,
            })
        }
    }
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
        // The deadline covers settling too: reading back a taken name is a
        // request the backend may have to retry.
        with_deadline(deadline, async {
            let landed = self
                .writer
                .create(path, bytes, content_type, &sha256)
                .await?;
            self.settle(path, landed, sha256, size).await
        })
        .await
    }

    async fn put_new_stream(
        &self,
        path: &str,
        body: ByteStream,
        content_type: &str,
        expect: &Expect,
        deadline: Deadline,
    ) -> Result<Stored, VaultError> {
        with_deadline(deadline, async {
            let s = self
                .writer
                .create_stream(path, body, content_type, expect, deadline)
                .await?;
            self.settle(path, s.landed, s.sha256, s.size).await
        })
        .await
    }

    async fn exists(&self, path: &str) -> Result<bool, VaultError> {
        match self.store.head(&Path::from(path)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_error("head", path, e)),
        }
    }

    async fn get(&self, path: &str) -> Result<Bytes, VaultError> {
        let r = self
            .store
            .get(&Path::from(path))
            .await
            .map_err(|e| store_error("get", path, e))?;
        r.bytes().await.map_err(|e| store_error("get", path, e))
    }

    async fn get_stream(&self, path: &str) -> Result<ByteStream, VaultError> {
        let r = self
            .store
            .get(&Path::from(path))
            .await
            .map_err(|e| store_error("get", path, e))?;
        Ok(r.into_stream().map_err(std::io::Error::from).boxed())
    }

    fn list_stream<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<Listed, VaultError>> {
        self.lister
            .list_ordered(prefix)
            .try_filter(move |o| {
                let keep = o.path.starts_with(prefix) && !o.path.starts_with(STAGING_PREFIX);
                std::future::ready(keep)
            })
            .boxed()
    }
}
