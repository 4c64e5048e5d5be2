//! Settings: from the environment, or from the settings secret when
//! `TVAULT_SECRET_ID` is set (the secret's values win over the environment's).

use std::sync::Arc;

use tvault_aws::secret::SecretValues;
use tvault_core::Archiver;
use tvault_core::ports::{ConversationSource, SystemClock};
use tvault_core::secret::Secret;
use tvault_vault::ObjectVault;

/// The default vault: a local directory.
pub const DEFAULT_VAULT: &str = "./vault";

/// Everything the router needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `TVAULT_VAULT`.
    pub vault: String,
    /// `TVAULT_SECRET_ID`: a Secrets Manager name or ARN.
    pub secret_id: Option<String>,
    /// `AZURE_STORAGE_CONNECTION_STRING`.
    pub azure_connection_string: Option<Secret>,
    /// `GENESYSCLOUD_OAUTHCLIENT_ID`.
    pub genesys_client_id: Option<String>,
    /// `GENESYSCLOUD_OAUTHCLIENT_SECRET`.
    pub genesys_client_secret: Option<Secret>,
    /// `GENESYSCLOUD_REGION`.
    pub genesys_region: Option<String>,
    /// `TVAULT_GENESYS_REQUESTS_PER_MINUTE`: this process's share of the
    /// organisation's Genesys allowance (checked when the client is built).
    pub genesys_requests_per_minute: Option<String>,
}

/// A setting that is missing or contradicts another, as one sentence.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Vault(#[from] tvault_vault::LocationError),
    #[error(transparent)]
    Secret(#[from] tvault_aws::secret::SecretError),
}

impl Settings {
    /// Read the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read settings through `get` (the environment, or a test's table).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        Self {
            vault: get("TVAULT_VAULT").unwrap_or_else(|| DEFAULT_VAULT.to_string()),
            secret_id: get("TVAULT_SECRET_ID"),
            azure_connection_string: get("AZURE_STORAGE_CONNECTION_STRING").map(Secret::new),
            genesys_client_id: get("GENESYSCLOUD_OAUTHCLIENT_ID"),
            genesys_client_secret: get("GENESYSCLOUD_OAUTHCLIENT_SECRET").map(Secret::new),
            genesys_region: get("GENESYSCLOUD_REGION"),
            genesys_requests_per_minute: get(tvault_genesys::config::ENV_ALLOWANCE),
        }
    }

    /// The vault named by `--vault` (which already defaults to `TVAULT_VAULT`).
    pub fn with_vault(mut self, location: impl Into<String>) -> Self {
        self.vault = location.into();
        self
    }

    /// Overlay the values of the settings secret.
    pub fn with_secret(mut self, values: &SecretValues) -> Self {
        if let Some(v) = values.get("AZURE_STORAGE_CONNECTION_STRING") {
            self.azure_connection_string = Some(v.clone());
        }
        if let Some(v) = values.get("GENESYSCLOUD_OAUTHCLIENT_ID") {
            self.genesys_client_id = Some(v.expose().to_string());
        }
        if let Some(v) = values.get("GENESYSCLOUD_OAUTHCLIENT_SECRET") {
            self.genesys_client_secret = Some(v.clone());
        }
        if let Some(v) = values.get("GENESYSCLOUD_REGION") {
            self.genesys_region = Some(v.expose().to_string());
        }
        self
    }

    /// Whether any Genesys setting is present (then all three must be).
    pub fn genesys_configured(&self) -> Result<bool, SettingsError> {
        let have = [
            (
                "GENESYSCLOUD_OAUTHCLIENT_ID",
                self.genesys_client_id.is_some(),
            ),
            (
                "GENESYSCLOUD_OAUTHCLIENT_SECRET",
                self.genesys_client_secret.is_some(),
            ),
            ("GENESYSCLOUD_REGION", self.genesys_region.is_some()),
        ];
        let missing: Vec<&str> = have.iter().filter(|(_, h)| !h).map(|(k, _)| *k).collect();
        match missing.len() {
            0 => Ok(true),
            3 => Ok(false),
            _ => Err(SettingsError::Invalid(format!(
                "Genesys is partly configured: also set {} (or unset the others to run without Genesys)",
                missing.join(" and ")
            ))),
        }
    }

    /// Open the vault these settings name.
    ///
    /// For Azure, the connection string from the settings secret (when it
    /// holds one) wins over the environment's.
    pub fn open_vault(&self) -> Result<Arc<ObjectVault>, SettingsError> {
        match (
            tvault_vault::Location::parse(&self.vault)?,
            &self.azure_connection_string,
        ) {
            (tvault_vault::Location::Azure(url), Some(cs)) => {
                Ok(tvault_vault::location::open_azure(
                    tvault_vault::azure::config::AzureConfig::from_env(url)
                        .with_connection_string(cs.clone()),
                )?)
            }
            _ => Ok(tvault_vault::open(&self.vault)?),
        }
    }

    /// The Genesys client, if configured. Build it once per process: it
    /// holds the shared access token and the request pacer.
    pub fn open_source(&self) -> Result<Option<Arc<dyn ConversationSource>>, SettingsError> {
        Ok(self.genesys()?.map(|s| s as Arc<dyn ConversationSource>))
    }

    /// The Genesys client itself, if configured (for the analytics listing
    /// `tvault reconcile` needs besides the archive port).
    pub fn genesys(&self) -> Result<Option<Arc<tvault_genesys::GenesysSource>>, SettingsError> {
        let (Some(id), Some(secret), Some(region)) = (
            &self.genesys_client_id,
            &self.genesys_client_secret,
            &self.genesys_region,
        ) else {
            self.genesys_configured()?;
            return Ok(None);
        };
        let allowance = self
            .genesys_requests_per_minute
            .as_deref()
            .map(tvault_genesys::config::parse_allowance)
            .transpose()
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        let config = tvault_genesys::Config::builder()
            .client_id(id.clone())
            .client_secret(secret.clone())
            .region(region.clone())
            .tuning(tvault_genesys::Tuning {
                allowance_per_minute: allowance,
                ..tvault_genesys::Tuning::default()
            })
            .build()
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        let source = tvault_genesys::GenesysSource::new(config)
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        Ok(Some(Arc::new(source)))
    }

    /// The archiver these settings describe.
    pub fn archiver(&self) -> Result<Archiver, SettingsError> {
        Ok(self.build()?.0)
    }

    /// The archiver, and its vault (whose request counters feed the metrics).
    pub fn build(&self) -> Result<(Archiver, Arc<ObjectVault>), SettingsError> {
        let vault = self.open_vault()?;
        let archiver = Archiver::new(vault.clone(), self.open_source()?, Arc::new(SystemClock));
        Ok((archiver, vault))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Settings {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_to_the_local_vault_and_no_genesys() {
        let s = env(&[]);
        assert_eq!(s.vault, "./vault");
        assert!(!s.genesys_configured().unwrap());
    }

    #[test]
    fn partial_genesys_settings_name_what_is_missing() {
        let e = env(&[("GENESYSCLOUD_OAUTHCLIENT_ID", "id")])
            .genesys_configured()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GENESYSCLOUD_OAUTHCLIENT_SECRET and GENESYSCLOUD_REGION"),
            "{e}"
        );
    }

    #[test]
    fn secret_values_override_the_environment() {
        let values = tvault_aws::secret::parse(
            "s",
            r#"{"GENESYSCLOUD_REGION":"eu-west-1","AZURE_STORAGE_CONNECTION_STRING":"AccountKey=k"}"#,
        )
        .unwrap();
        let s = env(&[("GENESYSCLOUD_REGION", "us-east-1")]).with_secret(&values);
        assert_eq!(s.genesys_region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.azure_connection_string.unwrap().expose(), "AccountKey=k");
    }

    #[test]
    fn the_genesys_allowance_reaches_the_client_and_a_bad_one_is_named() {
        let genesys = [
            ("GENESYSCLOUD_OAUTHCLIENT_ID", "id"),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "s"),
            ("GENESYSCLOUD_REGION", "eu-west-1"),
        ];
        let source = env(&genesys).genesys().unwrap().unwrap();
        assert_eq!(source.tuning().allowance_per_minute, None);
        let with = |v: &str| {
            let mut pairs = genesys.to_vec();
            pairs.push(("TVAULT_GENESYS_REQUESTS_PER_MINUTE", v));
            env(&pairs).genesys()
        };
        let source = with("54").unwrap().unwrap();
        assert_eq!(source.tuning().allowance_per_minute, Some(54));
        let err = with("fifty").unwrap_err().to_string();
        assert!(err.contains("TVAULT_GENESYS_REQUESTS_PER_MINUTE"), "{err}");
    }

    #[test]
    fn a_mistyped_genesys_domain_is_refused_before_any_secret_is_sent() {
        let err = env(&[
            ("GENESYSCLOUD_OAUTHCLIENT_ID", "id"),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "s"),
            ("GENESYSCLOUD_REGION", "mypurecloud.iee"),
        ])
        .genesys()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("mypurecloud.iee") && err.contains("https://"),
            "{err}"
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let s = env(&[
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "pw-123"),
            ("AZURE_STORAGE_CONNECTION_STRING", "AccountKey=k9"),
        ]);
        let d = format!("{s:?}");
        assert!(!d.contains("pw-123") && !d.contains("k9"), "{d}");
    }
}
