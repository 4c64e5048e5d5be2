//! The write-once seam: one create-only writer trait in front of every
//! backend, as object_store keeps one trait in front of many stores.
//!
//! [`ObjectVault`](crate::ObjectVault) reads through object_store and writes
//! through a [`CreateOnlyWriter`]; it never knows which backend is behind it.
//! A writer only creates: it reports whether the name was free
//! ([`Landed::Created`]) or taken ([`Landed::Exists`]), and the vault settles a
//! taken name by hash, the same way for every backend. Two writers exist: the
//! staged local/memory writer ([`crate::staged`]) and the Azure writer
//! ([`crate::azure::AzureWriter`]).
//!
//! The record's [`Deadline`] travels in a task-local ([`with_deadline`]), so a
//! backend's retry layer sees it on every request the vault makes in its
//! scope, reads included, though the read methods of the port take none.

use std::any::Any;
use std::future::Future;

use async_trait::async_trait;
use bytes::Bytes;
use tvault_core::ports::{ByteStream, Deadline, Expect, VaultError};

/// Size of one streamed part (an Azure block, a local multipart chunk). 4 MiB
/// keeps memory small (two in flight plus one filling: about 12 MiB) and
/// allows Azure blobs up to 50,000 × 4 MiB ≈ 195 GiB.
pub const PART_SIZE: usize = 4 * 1024 * 1024;
/// Parts uploaded at once per streamed object.
pub const PARTS_IN_FLIGHT: usize = 2;
/// Where a writer may stage streamed bytes before their create-only commit
/// (the local and memory writer). Never listed as part of the vault.
pub const STAGING_PREFIX: &str = "_staging/";
/// Metadata key holding an object's SHA-256 (where the backend keeps metadata).
pub const SHA256_METADATA: &str = "sha256";

/// How a create-only write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landed {
    /// The name was free and now holds our bytes.
    Created,
    /// The name was taken (before we began, or by a racing writer): the
    /// vault settles it by hash.
    Exists,
}

/// What a streamed write saw and where it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    /// SHA-256 (hex) of every byte the stream gave.
    pub sha256: String,
    /// How many bytes the stream gave.
    pub size: u64,
    pub landed: Landed,
}

/// A backend's create-only write path. Nothing it offers can replace or
/// delete an object that is visible in the vault.
#[async_trait]
pub trait CreateOnlyWriter: std::fmt::Debug + Send + Sync + 'static {
    /// Create `path` holding `bytes`, whose SHA-256 (hex) is `sha256`,
    /// unless the name is taken.
    async fn create(
        &self,
        path: &str,
        bytes: Bytes,
        content_type: &str,
        sha256: &str,
    ) -> Result<Landed, VaultError>;

    /// Create `path` from `body` in bounded memory, hashing on the way.
    /// Nothing becomes visible unless the whole stream arrived and matched
    /// `expect` (checked with [`check_expect`]). A taken name still consumes
    /// the stream, so the caller can settle by the new bytes' hash.
    async fn create_stream(
        &self,
        path: &str,
        body: ByteStream,
        content_type: &str,
        expect: &Expect,
        deadline: Deadline,
    ) -> Result<Streamed, VaultError>;

    /// This writer as [`Any`], so code that opened a backend can reach its
    /// own extras (the Azure writer's counters) without the vault naming it.
    fn as_any(&self) -> &dyn Any;
}

/// Whether streamed bytes match what the caller expected of them.
pub fn check_expect(
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

/// A backend failure on `path`: `transient` if a later retry may succeed.
pub fn backend_error(op: &'static str, path: &str, message: String, transient: bool) -> VaultError {
    VaultError::Backend {
        op,
        path: path.to_string(),
        message,
        transient,
    }
}

tokio::task_local! {
    static DEADLINE: Deadline;
}

/// Run `fut` with `deadline` visible to every request it makes.
pub async fn with_deadline<F: Future>(deadline: Deadline, fut: F) -> F::Output {
    DEADLINE.scope(deadline, fut).await
}

/// The deadline of the enclosing [`with_deadline`] scope, or none.
pub fn current_deadline() -> Deadline {
    DEADLINE.try_with(|d| *d).unwrap_or(Deadline::NONE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn deadline_is_visible_inside_the_scope_only() {
        let d = Deadline::at(Instant::now() + Duration::from_secs(5));
        assert_eq!(with_deadline(d, async { current_deadline() }).await, d);
        assert_eq!(current_deadline(), Deadline::NONE);
    }

    #[test]
    fn expectations_name_the_path_and_what_differs() {
        let e = Expect {
            size: Some(3),
            sha256: Some("AB".into()),
        };
        assert!(check_expect("p", &e, "ab", 3).is_ok(), "hex case ignored");
        let size = check_expect("p", &e, "ab", 4).unwrap_err().to_string();
        assert!(
            size.starts_with("p: ") && size.contains("expected 3 bytes, received 4"),
            "{size}"
        );
        let sha = check_expect("p", &e, "cd", 3).unwrap_err().to_string();
        assert!(sha.contains("expected sha256 AB, received cd"), "{sha}");
    }
}
