//! How requests to the account are authorised, and the credentials both
//! configuration sources (the vault URL's settings in `config`, the
//! connection string in `connection_string`) know: Azurite's development
//! account and the variable Azure's own tools read.

use tvault_core::secret::Secret;

/// The environment variable Azure's own tools read.
pub const CONNECTION_STRING_VAR: &str = "AZURE_STORAGE_CONNECTION_STRING";
/// Azurite's development account (published in Azurite's README).
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's development account key (published in Azurite's README; not a secret).
pub const DEV_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// Azurite's default blob endpoint, used by `UseDevelopmentStorage=true`.
pub const DEV_BLOB_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";

/// How requests are authorised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Shared Key signing with the account key.
    AccessKey(Secret),
    /// A shared access signature (the query string, without `?`).
    Sas(Secret),
    /// Left to object_store's resolution from the `AZURE_*` variables
    /// (managed identity, workload identity, service principal, bearer token).
    Ambient,
}

/// A SAS as pasted, with or without its leading `?`.
pub(super) fn sas_without_question_mark(s: &Secret) -> Secret {
    Secret::new(s.expose().trim().trim_start_matches('?'))
}
