//! The settings secret (`TVAULT_SECRET_ID`) in Secrets Manager.
//!
//! The secret is either the bare Azure connection string (as the original
//! deployment guide stores it) or a JSON object whose keys are the names of
//! the environment variables it stands for:
//! `AZURE_STORAGE_CONNECTION_STRING`, `GENESYSCLOUD_OAUTHCLIENT_ID`,
//! `GENESYSCLOUD_OAUTHCLIENT_SECRET`, `GENESYSCLOUD_REGION`.
//!
//! It is read once and cached for the life of the process, and read again
//! when Azure or Genesys rejects a credential (rotation), at most once a minute.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tvault_core::secret::Secret;

/// The keys a JSON secret may hold.
pub const SECRET_KEYS: [&str; 4] = [
    "AZURE_STORAGE_CONNECTION_STRING",
    "GENESYSCLOUD_OAUTHCLIENT_ID",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET",
    "GENESYSCLOUD_REGION",
];

/// The shortest time between two reads of the secret after a rejection.
pub const REREAD_INTERVAL: Duration = Duration::from_secs(60);

/// Settings taken from the secret: variable name to value, every value redacted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretValues(pub BTreeMap<String, Secret>);

impl SecretValues {
    /// The value for one of [`SECRET_KEYS`].
    pub fn get(&self, key: &str) -> Option<&Secret> {
        self.0.get(key)
    }
}

/// Why the secret could not be used. Never holds the secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("reading secret {id}: {message}")]
    Read { id: String, message: String },
    #[error("secret {id} has no string value (binary secrets are not supported)")]
    NotAString { id: String },
    #[error(
        "secret {id}: {problem}; it must be an Azure connection string, or a JSON object with the keys {keys}",
        keys = SECRET_KEYS.join(", ")
    )]
    BadShape { id: String, problem: String },
}

/// Parse a secret's text. The error names keys and types, never values.
pub fn parse(id: &str, text: &str) -> Result<SecretValues, SecretError> {
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        if trimmed.is_empty() {
            return Err(SecretError::BadShape {
                id: id.into(),
                problem: "it is empty".into(),
            });
        }
        let mut map = BTreeMap::new();
        map.insert(SECRET_KEYS[0].to_string(), Secret::new(trimmed));
        return Ok(SecretValues(map));
    }
    let value: serde_json::Value =
        serde_json::from_str(trimmed).map_err(|e| SecretError::BadShape {
            id: id.into(),
            // serde's message names a position, not content.
            problem: format!("it is not valid JSON ({e})"),
        })?;
    let Some(obj) = value.as_object() else {
        return Err(SecretError::BadShape {
            id: id.into(),
            problem: "its JSON is not an object".into(),
        });
    };
    let mut map = BTreeMap::new();
    for (k, v) in obj {
        if !SECRET_KEYS.contains(&k.as_str()) {
            return Err(SecretError::BadShape {
                id: id.into(),
                problem: format!("unknown key {k:?}"),
            });
        }
        let Some(s) = v.as_str() else {
            return Err(SecretError::BadShape {
                id: id.into(),
                problem: format!("the value of {k} is not a string"),
            });
        };
        map.insert(k.clone(), Secret::new(s));
    }
    Ok(SecretValues(map))
}

/// The secret, cached.
#[derive(Debug)]
pub struct SecretSource {
    client: aws_sdk_secretsmanager::Client,
    id: String,
    min_reread: Duration,
    state: Mutex<Option<(SecretValues, Instant)>>,
}

impl SecretSource {
    /// A source for secret `id` (a name or an ARN).
    pub fn new(config: &aws_config::SdkConfig, id: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(config),
            id: id.into(),
            min_reread: REREAD_INTERVAL,
            state: Mutex::new(None),
        }
    }

    /// Change the shortest time between two reads (default [`REREAD_INTERVAL`]).
    pub fn with_min_reread(mut self, min: Duration) -> Self {
        self.min_reread = min;
        self
    }

    /// The secret's values, read on first use and then cached.
    pub async fn get(&self) -> Result<SecretValues, SecretError> {
        let mut state = self.state.lock().await;
        if let Some((values, _)) = &*state {
            return Ok(values.clone());
        }
        let values = self.read().await?;
        *state = Some((values.clone(), Instant::now()));
        Ok(values)
    }

    /// After a credential was rejected: read the secret again unless it was
    /// read less than the minimum interval ago. Returns the new values when
    /// they changed, `None` otherwise.
    pub async fn reread(&self) -> Result<Option<SecretValues>, SecretError> {
        let mut state = self.state.lock().await;
        if let Some((_, at)) = &*state
            && at.elapsed() < self.min_reread
        {
            return Ok(None);
        }
        let values = self.read().await?;
        let changed = state.as_ref().is_none_or(|(old, _)| *old != values);
        *state = Some((values.clone(), Instant::now()));
        tracing::info!(secret_id = %self.id, changed, "settings secret read again after a rejected credential");
        Ok(changed.then_some(values))
    }

    /// `GetSecretValue`.
    async fn read(&self) -> Result<SecretValues, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.id)
            .send()
            .await
            .map_err(|e| SecretError::Read {
                id: self.id.clone(),
                message: crate::error_text(&e),
            })?;
        let text = out.secret_string().ok_or_else(|| SecretError::NotAString {
            id: self.id.clone(),
        })?;
        parse(&self.id, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_string_is_the_azure_connection_string() {
        let v = parse(
            "s",
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k==\n",
        )
        .unwrap();
        assert_eq!(
            v.get("AZURE_STORAGE_CONNECTION_STRING").unwrap().expose(),
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k=="
        );
    }

    #[test]
    fn a_json_object_maps_variable_names() {
        let v = parse(
            "s",
            r#"{"GENESYSCLOUD_OAUTHCLIENT_ID":"id","GENESYSCLOUD_OAUTHCLIENT_SECRET":"pw"}"#,
        )
        .unwrap();
        assert_eq!(v.get("GENESYSCLOUD_OAUTHCLIENT_ID").unwrap().expose(), "id");
        assert!(v.get("GENESYSCLOUD_REGION").is_none());
    }

    #[test]
    fn bad_shapes_are_named_without_echoing_values() {
        let e = parse("s", r#"{"GENESYSCLOUD_OAUTHCLIENT_SECRET": 12345}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GENESYSCLOUD_OAUTHCLIENT_SECRET is not a string") && !e.contains("12345"),
            "{e}"
        );
        let e = parse("s", r#"{"PASSWORD":"hunter2"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown key \"PASSWORD\"") && !e.contains("hunter2"),
            "{e}"
        );
        let e = parse("s", r#"{"GENESYSCLOUD_REGION": "x""#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not valid JSON"), "{e}");
        assert!(parse("s", "  ").is_err());
    }
}
