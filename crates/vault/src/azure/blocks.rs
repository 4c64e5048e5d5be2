//! The write path, in raw REST calls object_store cannot make:
//! `Put Blob` with `Content-MD5` and `If-None-Match: *` for objects whose
//! bytes are known, and for streams `Put Block` under the final name followed
//! by a create-only `Put Block List`.
//!
//! Why not object_store's put and multipart upload: its `Put Blob` cannot
//! send `Content-MD5` (so Azure could not refuse bytes damaged on the way),
//! and its multipart upload cannot be create-only. Staging under a temporary
//! name and copying would need a delete right the writer does not have.
//! Blocks staged but never committed (a broken stream, a failed expectation)
//! are invisible to readers and garbage-collected by Azure after 7 days.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderValue, Method, StatusCode};
use md5::{Digest, Md5};
use object_store::ObjectStoreExt;
use object_store::client::HttpResponse;
use object_store::path::Path;
use tokio::task::JoinSet;
use tvault_core::hash::StreamHasher;
use tvault_core::ports::{ByteStream, Deadline, Expect, VaultError};
use tvault_core::text::percent_encode;

use super::client::{AzureWriter, header, status_error};
use crate::writer::{Landed, Streamed, backend_error as backend, check_expect, with_deadline};

/// Azure allows at most 50,000 blocks per blob.
const MAX_BLOCKS: usize = 50_000;

impl AzureWriter {
    /// `Put Blob`, create-only (`If-None-Match: *`), with `Content-MD5` so
    /// Azure refuses damaged bytes, the content type and the `sha256` metadata.
    pub(crate) async fn put_blob(
        &self,
        path: &str,
        bytes: Bytes,
        content_type: &str,
        sha256: &str,
        md5: Option<[u8; 16]>,
    ) -> Result<Landed, VaultError> {
        let md5 = md5.unwrap_or_else(|| Md5::digest(&bytes).into());
        let headers = vec![
            ("x-ms-blob-type", HeaderValue::from_static("BlockBlob")),
            ("if-none-match", HeaderValue::from_static("*")),
            ("content-md5", header(&B64.encode(md5))?),
            ("content-type", header(content_type)?),
            ("x-ms-blob-content-type", header(content_type)?),
            // The metadata key is `writer::SHA256_METADATA`, as on every backend.
            ("x-ms-meta-sha256", header(sha256)?),
        ];
        let url = self.settings.blob_url(path);
        let resp = self
            .send("put", path, Method::PUT, &url, headers, bytes)
            .await?;
        landed("put", path, &self.settings.container, resp).await
    }

    /// `Put Block`: stage one block under the final name (invisible until committed).
    async fn put_block(&self, path: &str, block_id: &str, bytes: Bytes) -> Result<(), VaultError> {
        let md5: [u8; 16] = Md5::digest(&bytes).into();
        let url = format!(
            "{}?comp=block&blockid={}",
            self.settings.blob_url(path),
            percent_encode(block_id)
        );
        let headers = vec![("content-md5", header(&B64.encode(md5))?)];
        let resp = self
            .send("stage", path, Method::PUT, &url, headers, bytes)
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(status_error("stage", path, &self.settings.container, resp).await)
        }
    }

    /// `Put Block List`, create-only: the blob appears whole, or not at all.
    async fn put_block_list(
        &self,
        path: &str,
        block_ids: &[String],
        content_type: &str,
        sha256: &str,
        md5: [u8; 16],
    ) -> Result<Landed, VaultError> {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        for id in block_ids {
            xml.push_str("<Latest>");
            xml.push_str(id);
            xml.push_str("</Latest>");
        }
        xml.push_str("</BlockList>");
        let body = Bytes::from(xml);
        let body_md5: [u8; 16] = Md5::digest(&body).into();
        let headers = vec![
            ("if-none-match", HeaderValue::from_static("*")),
            ("content-md5", header(&B64.encode(body_md5))?),
            ("content-type", HeaderValue::from_static("application/xml")),
            ("x-ms-blob-content-type", header(content_type)?),
            // Stored as the blob's Content-MD5 for readers; Azure does not check it on commit.
            ("x-ms-blob-content-md5", header(&B64.encode(md5))?),
            ("x-ms-meta-sha256", header(sha256)?),
        ];
        let url = format!("{}?comp=blocklist", self.settings.blob_url(path));
        let resp = self
            .send("commit", path, Method::PUT, &url, headers, body)
            .await?;
        landed("commit", path, &self.settings.container, resp).await
    }

    /// Stream `body` to `path`: stage blocks hashing on the way, check
    /// `expect`, then commit create-only. Memory stays near
    /// `block_size * (blocks_in_flight + 1)`.
    pub(crate) async fn put_stream(
        &self,
        path: &str,
        mut body: ByteStream,
        content_type: &str,
        expect: &Expect,
        deadline: Deadline,
    ) -> Result<Streamed, VaultError> {
        let block_size = self.block_size;
        // A name already taken needs only the hash of the new bytes: read, do not upload.
        let mut drain = match self.store.head(&Path::from(path)).await {
            Ok(_) => true,
            Err(object_store::Error::NotFound { .. }) => false,
            // Azure's answer in plain words (never its XML body); anything
            // else stays worth a later retry, as before.
            Err(e) => {
                return Err(match super::AzureFailure::from_store_error(&e) {
                    Some(failure) => failure.into_vault_error("head", path),
                    None => backend("head", path, e.to_string(), true),
                });
            }
        };
        let nonce = block_nonce();
        let mut hasher = StreamHasher::new();
        let mut md5 = Md5::new();
        let mut buf = BytesMut::new();
        let mut ids: Vec<String> = Vec::new();
        let mut uploads: JoinSet<Result<(), VaultError>> = JoinSet::new();

        loop {
            let chunk = match body.next().await {
                None => break,
                Some(Ok(c)) => c,
                Some(Err(source)) => {
                    uploads.abort_all();
                    return Err(VaultError::Body {
                        path: path.to_string(),
                        source,
                    });
                }
            };
            hasher.update(&chunk);
            md5.update(&chunk);
            if let Some(want) = expect.size
                && hasher.size() > want
            {
                uploads.abort_all();
                return Err(VaultError::ContentMismatch {
                    path: path.to_string(),
                    reason: format!("expected {want} bytes, received more"),
                });
            }
            if drain {
                continue;
            }
            buf.extend_from_slice(&chunk);
            while buf.len() >= block_size {
                let block = buf.split_to(block_size).freeze();
                while uploads.len() >= self.blocks_in_flight {
                    match join_next(&mut uploads, path).await {
                        Ok(()) => {}
                        Err(Staged::Taken) => drain = true,
                        Err(Staged::Failed(e)) => return Err(e),
                    }
                }
                if drain {
                    buf.clear();
                    break;
                }
                if ids.len() >= MAX_BLOCKS {
                    uploads.abort_all();
                    return Err(backend(
                        "stage",
                        path,
                        format!("larger than {MAX_BLOCKS} blocks of {block_size} bytes"),
                        false,
                    ));
                }
                let id = B64.encode(format!("{nonce:016x}{:08}", ids.len()));
                ids.push(id.clone());
                let me = self.clone();
                let p = path.to_string();
                uploads.spawn(with_deadline(deadline, async move {
                    me.put_block(&p, &id, block).await
                }));
            }
        }
        let (sha256, size) = hasher.finish();
        let md5: [u8; 16] = md5.finalize().into();
        if let Err(e) = check_expect(path, expect, &sha256, size) {
            uploads.abort_all();
            return Err(e);
        }
        while !uploads.is_empty() {
            match join_next(&mut uploads, path).await {
                Ok(()) => {}
                Err(Staged::Taken) => drain = true,
                Err(Staged::Failed(e)) => return Err(e),
            }
        }
        let landed = if drain {
            Landed::Exists
        } else if ids.is_empty() {
            // It all fitted in one block: one create-only Put Blob is enough.
            self.put_blob(path, buf.freeze(), content_type, &sha256, Some(md5))
                .await?
        } else {
            if !buf.is_empty() {
                let id = B64.encode(format!("{nonce:016x}{:08}", ids.len()));
                match self.put_block(path, &id, buf.freeze()).await {
                    Ok(()) => ids.push(id),
                    Err(e) if is_taken(&e) => drain = true,
                    Err(e) => return Err(e),
                }
            }
            if drain {
                Landed::Exists
            } else {
                self.put_block_list(path, &ids, content_type, &sha256, md5)
                    .await?
            }
        };
        Ok(Streamed {
            sha256,
            size,
            landed,
        })
    }
}

/// How one staged block ended, besides success.
enum Staged {
    /// The name is taken by a committed blob that refuses blocks (immutability policy).
    Taken,
    Failed(VaultError),
}

async fn join_next(
    uploads: &mut JoinSet<Result<(), VaultError>>,
    path: &str,
) -> Result<(), Staged> {
    match uploads.join_next().await {
        None | Some(Ok(Ok(()))) => Ok(()),
        Some(Ok(Err(e))) if is_taken(&e) => Err(Staged::Taken),
        Some(Ok(Err(e))) => {
            uploads.abort_all();
            Err(Staged::Failed(e))
        }
        Some(Err(join)) => {
            uploads.abort_all();
            Err(Staged::Failed(backend(
                "stage",
                path,
                join.to_string(),
                true,
            )))
        }
    }
}

/// A 409 on `Put Block`: a committed blob under an immutability policy.
fn is_taken(e: &VaultError) -> bool {
    matches!(e, VaultError::Backend { message, .. } if message.starts_with("Azure answered 409"))
}

/// 201 → created; 409 (BlobAlreadyExists) or 412 (condition not met) → exists.
async fn landed(
    op: &'static str,
    path: &str,
    container: &str,
    resp: HttpResponse,
) -> Result<Landed, VaultError> {
    match resp.status() {
        s if s.is_success() => Ok(Landed::Created),
        StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => Ok(Landed::Exists),
        _ => Err(status_error(op, path, container, resp).await),
    }
}

/// Distinguishes this attempt's blocks from another writer's under the same
/// name, so two racing deliveries never commit each other's blocks.
fn block_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}
