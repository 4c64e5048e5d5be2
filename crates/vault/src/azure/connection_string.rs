//! Storage connection strings (`AZURE_STORAGE_CONNECTION_STRING`), which
//! object_store does not read: `Key=Value;...` in the account-key form, the
//! SAS form, or `UseDevelopmentStorage=true` for Azurite. Values are never
//! echoed in messages: any part may be a secret.

use std::collections::BTreeMap;

use url::{Host, Url};

use tvault_core::secret::Secret;

use super::config_error::{ConfigError, err, redact_url};
use super::credential::{
    CONNECTION_STRING_VAR, Credential, DEV_ACCOUNT, DEV_ACCOUNT_KEY, DEV_BLOB_ENDPOINT,
    sas_without_question_mark,
};

/// The account an endpoint names: `ACCOUNT.blob...` or path-style `http://127.0.0.1:P/ACCOUNT`.
fn account_of_endpoint(endpoint: &str) -> Option<String> {
    let url = Url::parse(endpoint).ok()?;
    match url.host()? {
        Host::Domain(d) if d != "localhost" => d.split_once('.').map(|(a, _)| a.to_string()),
        _ => url
            .path_segments()?
            .find(|s| !s.is_empty())
            .map(str::to_string),
    }
}

/// The parts of a storage connection string this vault uses.
#[derive(Debug, Clone, Default)]
pub(super) struct ConnectionString {
    pub account: Option<String>,
    pub credential: Option<Credential>,
    blob_endpoint: Option<String>,
    /// Azurite's endpoint for `UseDevelopmentStorage=true`, unless the URL names another.
    pub default_endpoint: Option<String>,
    protocol: Option<String>,
    suffix: Option<String>,
}

impl ConnectionString {
    /// Parse `Key=Value;Key=Value` (values may contain `=`: base64 keys, SAS tokens).
    pub fn parse(s: &Secret) -> Result<Self, ConfigError> {
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        for part in s
            .expose()
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let Some((k, v)) = part.split_once('=') else {
                // Never echo the part: it may be a secret.
                return err(format!(
                    "{CONNECTION_STRING_VAR} has a part without '=': use Key=Value pairs separated by ';' as the portal shows them"
                ));
            };
            fields.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        let get = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
        // A "Blob SAS URL" pasted as BlobEndpoint would carry the signature
        // into every URL built from it, and into every message quoting it.
        if get("blobendpoint").is_some_and(|e| redact_url(&e) != e) {
            return err(format!(
                "{CONNECTION_STRING_VAR} has a BlobEndpoint with a user name, a query string or a fragment (a SAS?): give the bare endpoint, and the SAS as SharedAccessSignature=..."
            ));
        }
        let dev = get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let mut cs = ConnectionString {
            account: get("accountname"),
            credential: None,
            blob_endpoint: get("blobendpoint").map(|e| e.trim_end_matches('/').to_string()),
            default_endpoint: None,
            protocol: get("defaultendpointsprotocol"),
            suffix: get("endpointsuffix"),
        };
        let key = get("accountkey");
        let sas = get("sharedaccesssignature");
        cs.credential = match (key, sas) {
            (Some(_), Some(_)) => {
                return err(format!(
                    "{CONNECTION_STRING_VAR} has both AccountKey and SharedAccessSignature: keep one"
                ));
            }
            (Some(k), None) => Some(Credential::AccessKey(Secret::new(k))),
            (None, Some(s)) => Some(Credential::Sas(sas_without_question_mark(&Secret::new(s)))),
            (None, None) => None,
        };
        if dev {
            // UseDevelopmentStorage=true is shorthand for Azurite's account, key and endpoint.
            cs.account.get_or_insert_with(|| DEV_ACCOUNT.to_string());
            cs.credential
                .get_or_insert_with(|| Credential::AccessKey(Secret::new(DEV_ACCOUNT_KEY)));
            if cs.blob_endpoint.is_none() {
                cs.default_endpoint = Some(DEV_BLOB_ENDPOINT.to_string());
            }
        }
        if cs.credential.is_none() {
            return err(format!(
                "{CONNECTION_STRING_VAR} has neither AccountKey nor SharedAccessSignature: copy the full string from the storage account"
            ));
        }
        if cs.account.is_none() {
            cs.account = cs.blob_endpoint.as_deref().and_then(account_of_endpoint);
        }
        if cs.account.is_none() && cs.blob_endpoint.is_none() {
            return err(format!(
                "{CONNECTION_STRING_VAR} names neither AccountName nor BlobEndpoint: add AccountName=..."
            ));
        }
        Ok(cs)
    }

    pub fn blob_endpoint(&self) -> Option<String> {
        if let Some(e) = &self.blob_endpoint {
            return Some(e.clone());
        }
        if self.default_endpoint.is_some() {
            return None;
        }
        let account = self.account.as_ref()?;
        let protocol = self.protocol.as_deref().unwrap_or("https");
        let suffix = self.suffix.as_deref().unwrap_or("core.windows.net");
        Some(format!("{protocol}://{account}.blob.{suffix}"))
    }
}
