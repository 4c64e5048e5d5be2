//! `object_store` errors in the vault's own terms, for every backend's reads,
//! lists and staged writes. Apart from the write-once seam (`writer.rs`):
//! it knows Azure's answers (`azure::failure`), which the seam must not.

use tvault_core::ports::VaultError;

use crate::writer::backend_error;

/// Map an `object_store` error of `op` on `path` (callers handle `AlreadyExists` first).
pub fn store_error(op: &'static str, path: &str, e: object_store::Error) -> VaultError {
    use object_store::Error as E;
    // An Azure answer or transport failure, in plain words: object_store's
    // own text would quote Azure's XML body and the request URL.
    if let Some(failure) = crate::azure::AzureFailure::from_store_error(&e) {
        return failure.into_vault_error(op, path);
    }
    match e {
        E::NotFound { .. } => VaultError::NotFound {
            path: path.to_string(),
        },
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => VaultError::Access {
            op,
            path: path.to_string(),
            message: e.to_string(),
        },
        E::Generic { .. } | E::JoinError { .. } => backend_error(op, path, e.to_string(), true),
        other => backend_error(op, path, other.to_string(), false),
    }
}
