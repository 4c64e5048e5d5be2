//! Settings: the one place environment variables are read. From the
//! environment, overlaid by the settings secret when `TVAULT_SECRET_ID` names
//! one (the secret's values win over the environment's). Every binary (the
//! Lambda, each `tvault` command that needs the vault or Genesys) comes
//! through here; the libraries take what these settings build.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tvault_aws::SdkConfig;
use tvault_aws::secret::{SecretSource, SecretValues};
use tvault_core::Archiver;
use tvault_core::ports::{ConversationSource, SystemClock};
use tvault_core::secret::Secret;
use tvault_genesys::GenesysSource;
use tvault_genesys::config::{ENV_ALLOWANCE, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REGION};
use tvault_vault::ObjectVault;
use tvault_vault::azure::AzureConfig;

/// The default vault: a local directory.
pub const DEFAULT_VAULT: &str = "./vault";

/// Records of one Lambda batch archived at once when
/// `TVAULT_RECORD_CONCURRENCY` does not say (or says something unusable).
pub const DEFAULT_RECORD_CONCURRENCY: usize = 8;

/// The Azure variable that holds a whole connection string; the other
/// `AZURE_*` variables are passed to the vault's Azure configuration as they are.
const AZURE_CONNECTION_STRING: &str = "AZURE_STORAGE_CONNECTION_STRING";

/// Everything the binaries need to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `TVAULT_VAULT` (the CLI's `--vault` wins: [`Settings::with_vault`]).
    pub vault: String,
    /// `TVAULT_SECRET_ID`: a Secrets Manager name or ARN.
    pub secret_id: Option<String>,
    /// `TVAULT_SECRET_MIN_REREAD_SECONDS`: the shortest time between two
    /// re-reads of the secret after a refused credential (tests; an operator
    /// mid-rotation). Default one minute; a value that is not a whole number
    /// of seconds is ignored.
    pub secret_min_reread: Duration,
    /// `AZURE_STORAGE_CONNECTION_STRING`.
    pub azure_connection_string: Option<Secret>,
    /// Every other `AZURE_*` variable (account and key, SAS token, identity
    /// settings): the vault's Azure configuration reads them (docs/azure.md).
    pub azure_variables: BTreeMap<String, Secret>,
    /// `GENESYSCLOUD_OAUTHCLIENT_ID`.
    pub genesys_client_id: Option<String>,
    /// `GENESYSCLOUD_OAUTHCLIENT_SECRET`.
    pub genesys_client_secret: Option<Secret>,
    /// `GENESYSCLOUD_REGION`.
    pub genesys_region: Option<String>,
    /// `TVAULT_GENESYS_REQUESTS_PER_MINUTE`: this process's share of the
    /// organisation's Genesys allowance (checked when the client is built).
    pub genesys_requests_per_minute: Option<String>,
    /// `TVAULT_RECORD_CONCURRENCY`: records of one Lambda batch archived at
    /// once (default [`DEFAULT_RECORD_CONCURRENCY`]; at least 1).
    pub record_concurrency: usize,
    /// `AWS_LAMBDA_FUNCTION_NAME`: the metrics line's `FunctionName`
    /// (`tvault` outside Lambda).
    pub function_name: String,
    /// `AWS_ENDPOINT_URL_SQS`, else `AWS_ENDPOINT_URL`: where SQS is when not
    /// at AWS (emulators), as the AWS SDK reads them; the Lambda derives its
    /// queue URLs from event source ARNs with it.
    pub sqs_endpoint: Option<String>,
    /// `TVAULT_WITNESS_SSM_PREFIX`: where in SSM Parameter Store each sealed
    /// day's witness line is kept (`PREFIX/YYYY-MM-DD`); unset, only logged.
    pub witness_ssm_prefix: Option<String>,
    /// `RUST_LOG`: log filter directives.
    pub rust_log: Option<String>,
    /// `AWS_LAMBDA_LOG_LEVEL`: the function's application log level
    /// (LoggingConfig); Lambda drops JSON lines below it.
    pub lambda_log_level: Option<String>,
    /// `AWS_LAMBDA_LOG_FORMAT`: `JSON` or `Text` (LoggingConfig).
    pub lambda_log_format: Option<String>,
}

/// Settings that cannot be used: each variant names what to set, and keeps
/// the error underneath as its source (printed as a chain: `{:#}` with
/// anyhow, [`tvault_aws::error_text`] in logs).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "Genesys is partly configured: also set {} (or unset the others to run without Genesys)",
        missing.join(" and ")
    )]
    GenesysPartlyConfigured { missing: Vec<&'static str> },
    #[error("the Genesys settings (GENESYSCLOUD_*, {ENV_ALLOWANCE}) are not usable")]
    Genesys(#[source] tvault_genesys::ConfigError),
    #[error("the vault (--vault, TVAULT_VAULT, AZURE_*) cannot be opened")]
    Vault(#[source] tvault_vault::LocationError),
    #[error("the settings secret (TVAULT_SECRET_ID) cannot be used")]
    Secret(#[source] tvault_aws::secret::SecretError),
    #[error("the ledger's witness (TVAULT_WITNESS_SSM_PREFIX) cannot be used")]
    Witness(#[source] tvault_aws::witness::WitnessError),
}

impl Settings {
    /// Read the process environment (variables whose name or value is not
    /// UTF-8 are not ours, and are passed over).
    pub fn from_env() -> Self {
        Self::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Read settings from these variables (the environment, or a test's table).
    /// A variable set to blanks counts as unset.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        let get = |k: &str| vars.get(k).filter(|v| !v.trim().is_empty()).cloned();
        Self {
            vault: get("TVAULT_VAULT").unwrap_or_else(|| DEFAULT_VAULT.to_string()),
            secret_id: get("TVAULT_SECRET_ID"),
            secret_min_reread: get("TVAULT_SECRET_MIN_REREAD_SECONDS")
                .and_then(|v| v.trim().parse().ok())
                .map_or(tvault_aws::secret::REREAD_INTERVAL, Duration::from_secs),
            azure_connection_string: get(AZURE_CONNECTION_STRING).map(Secret::new),
            azure_variables: vars
                .iter()
                .filter(|(k, _)| k.starts_with("AZURE_") && *k != AZURE_CONNECTION_STRING)
                .map(|(k, v)| (k.clone(), Secret::new(v.clone())))
                .collect(),
            genesys_client_id: get(ENV_CLIENT_ID),
            genesys_client_secret: get(ENV_CLIENT_SECRET).map(Secret::new),
            genesys_region: get(ENV_REGION),
            genesys_requests_per_minute: get(ENV_ALLOWANCE),
            record_concurrency: get("TVAULT_RECORD_CONCURRENCY")
                .and_then(|v| v.trim().parse().ok())
                .filter(|n| *n >= 1)
                .unwrap_or(DEFAULT_RECORD_CONCURRENCY),
            function_name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "tvault".into()),
            sqs_endpoint: get("AWS_ENDPOINT_URL_SQS").or_else(|| get("AWS_ENDPOINT_URL")),
            witness_ssm_prefix: get("TVAULT_WITNESS_SSM_PREFIX"),
            rust_log: get("RUST_LOG"),
            lambda_log_level: get("AWS_LAMBDA_LOG_LEVEL"),
            lambda_log_format: get("AWS_LAMBDA_LOG_FORMAT"),
        }
    }

    /// The vault named by `--vault` (which already defaults to `TVAULT_VAULT`).
    pub fn with_vault(mut self, location: impl Into<String>) -> Self {
        self.vault = location.into();
        self
    }

    /// Overlay the values of the settings secret.
    pub fn with_secret(mut self, values: &SecretValues) -> Self {
        if let Some(v) = values.get(AZURE_CONNECTION_STRING) {
            self.azure_connection_string = Some(v.clone());
        }
        if let Some(v) = values.get(ENV_CLIENT_ID) {
            self.genesys_client_id = Some(v.expose().to_string());
        }
        if let Some(v) = values.get(ENV_CLIENT_SECRET) {
            self.genesys_client_secret = Some(v.clone());
        }
        if let Some(v) = values.get(ENV_REGION) {
            self.genesys_region = Some(v.expose().to_string());
        }
        self
    }

    /// These settings with the settings secret overlaid when
    /// `TVAULT_SECRET_ID` names one (read once, through the standard AWS
    /// configuration); as they are otherwise, without any AWS call, so a
    /// command that only reads the vault works during an AWS outage when
    /// the secret's values are given as variables instead.
    pub async fn resolve(self) -> Result<Self, SettingsError> {
        let Some(id) = self.secret_id.clone() else {
            return Ok(self);
        };
        let config = tvault_aws::sdk_config().await;
        let values = self.secret_source(&config, id).get().await;
        Ok(self.with_secret(&values.map_err(SettingsError::Secret)?))
    }

    /// The settings secret `id`, read with `config`, re-read no more often
    /// than [`Settings::secret_min_reread`].
    pub(crate) fn secret_source(&self, config: &SdkConfig, id: String) -> SecretSource {
        SecretSource::new(config, id).with_min_reread(self.secret_min_reread)
    }

    /// The ledger's SSM witness, when `TVAULT_WITNESS_SSM_PREFIX` names one
    /// (through the standard AWS configuration `config`).
    pub fn witness(
        &self,
        config: &SdkConfig,
    ) -> Result<Option<tvault_aws::witness::SsmWitness>, SettingsError> {
        self.witness_ssm_prefix
            .as_deref()
            .map(|p| tvault_aws::witness::SsmWitness::new(config, p))
            .transpose()
            .map_err(SettingsError::Witness)
    }

    /// Whether any Genesys setting is present (then all three must be).
    pub fn genesys_configured(&self) -> Result<bool, SettingsError> {
        let have = [
            (ENV_CLIENT_ID, self.genesys_client_id.is_some()),
            (ENV_CLIENT_SECRET, self.genesys_client_secret.is_some()),
            (ENV_REGION, self.genesys_region.is_some()),
        ];
        let missing: Vec<&'static str> = have.iter().filter(|(_, h)| !h).map(|(k, _)| *k).collect();
        match missing.len() {
            0 => Ok(true),
            3 => Ok(false),
            _ => Err(SettingsError::GenesysPartlyConfigured { missing }),
        }
    }

    /// Open the vault these settings name. An Azure vault gets its
    /// credentials from these settings: the connection string (the secret's,
    /// when it holds one, wins over the environment's) and the other `AZURE_*`
    /// variables.
    pub fn open_vault(&self) -> Result<Arc<ObjectVault>, SettingsError> {
        self.open_vault_as(tvault_vault::open)
    }

    /// [`Settings::open_vault`] for a command that only reads: a local
    /// vault directory that does not exist is an error, never created
    /// ([`tvault_vault::open_existing`]).
    pub fn open_existing_vault(&self) -> Result<Arc<ObjectVault>, SettingsError> {
        self.open_vault_as(tvault_vault::open_existing)
    }

    fn open_vault_as(
        &self,
        open_local: fn(&str) -> Result<Arc<ObjectVault>, tvault_vault::LocationError>,
    ) -> Result<Arc<ObjectVault>, SettingsError> {
        let location = tvault_vault::Location::parse(&self.vault).map_err(SettingsError::Vault)?;
        let opened = match location {
            tvault_vault::Location::Azure(url) => {
                let mut config = AzureConfig::new(url);
                for (name, value) in &self.azure_variables {
                    config = config.with_var(name, value.clone());
                }
                if let Some(cs) = &self.azure_connection_string {
                    config = config.with_connection_string(cs.clone());
                }
                tvault_vault::location::open_azure(config)
            }
            _ => open_local(&self.vault),
        };
        opened.map_err(SettingsError::Vault)
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
            .map_err(SettingsError::Genesys)?;
        let config = tvault_genesys::Config::builder()
            .client_id(id.clone())
            .client_secret(secret.clone())
            .region(region.clone())
            .tuning(tvault_genesys::Tuning {
                allowance_per_minute: allowance,
                ..tvault_genesys::Tuning::default()
            })
            .build()
            .map_err(SettingsError::Genesys)?;
        let source = tvault_genesys::GenesysSource::new(config).map_err(SettingsError::Genesys)?;
        Ok(Some(Arc::new(source)))
    }

    /// The archiver these settings describe.
    pub fn archiver(&self) -> Result<Archiver, SettingsError> {
        Ok(self.build()?.0)
    }

    /// The archiver, and its vault (whose request counters feed the metrics).
    pub fn build(&self) -> Result<(Archiver, Arc<ObjectVault>), SettingsError> {
        let wiring = self.wire()?;
        Ok((Archiver::clone(&wiring.archiver), wiring.vault))
    }

    /// The archiver with its vault and its Genesys client (whose request
    /// counters feed the metrics).
    pub fn wire(&self) -> Result<Wiring, SettingsError> {
        let vault = self.open_vault()?;
        let genesys = self.genesys()?;
        let source = genesys.clone().map(|g| g as Arc<dyn ConversationSource>);
        let archiver = Archiver::new(vault.clone(), source, Arc::new(SystemClock));
        Ok(Wiring {
            archiver: Arc::new(archiver),
            vault,
            genesys,
        })
    }
}

/// What a router archives with: rebuilt together when a rotated secret
/// changes the settings.
#[derive(Debug, Clone)]
pub struct Wiring {
    pub archiver: Arc<Archiver>,
    /// The archiver's vault, whose request counters give the Azure retries.
    pub vault: Arc<ObjectVault>,
    /// The archiver's Genesys client, whose counter gives the Genesys retries.
    pub genesys: Option<Arc<GenesysSource>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    /// The error and every source under it, as the CLI prints them.
    fn chain(e: &SettingsError) -> String {
        tvault_aws::error_text(e)
    }

    const GENESYS: [(&str, &str); 3] = [
        ("GENESYSCLOUD_OAUTHCLIENT_ID", "id"),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "s"),
        ("GENESYSCLOUD_REGION", "eu-west-1"),
    ];

    #[test]
    fn defaults_to_the_local_vault_and_no_genesys() {
        let s = env(&[]);
        assert_eq!(s.vault, "./vault");
        assert!(!s.genesys_configured().unwrap());
        assert!(s.genesys().unwrap().is_none());
        assert_eq!(s.record_concurrency, DEFAULT_RECORD_CONCURRENCY);
        assert_eq!(s.function_name, "tvault");
        assert_eq!(s.secret_min_reread, tvault_aws::secret::REREAD_INTERVAL);
        assert_eq!(s.sqs_endpoint, None);
    }

    #[test]
    fn partial_genesys_settings_name_what_is_missing() {
        let s = env(&[("GENESYSCLOUD_OAUTHCLIENT_ID", "id")]);
        for e in [
            s.genesys_configured().unwrap_err(),
            s.genesys().unwrap_err(),
        ] {
            let e = e.to_string();
            assert!(
                e.contains("GENESYSCLOUD_OAUTHCLIENT_SECRET and GENESYSCLOUD_REGION"),
                "{e}"
            );
        }
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
        let source = env(&GENESYS).genesys().unwrap().unwrap();
        assert_eq!(source.tuning().allowance_per_minute, None);
        let with = |v: &str| {
            let mut pairs = GENESYS.to_vec();
            pairs.push(("TVAULT_GENESYS_REQUESTS_PER_MINUTE", v));
            env(&pairs).genesys()
        };
        let source = with("54").unwrap().unwrap();
        assert_eq!(source.tuning().allowance_per_minute, Some(54));
        for bad in ["fifty", "0"] {
            let err = with(bad).unwrap_err();
            assert!(matches!(err, SettingsError::Genesys(_)), "{err:?}");
            let err = chain(&err);
            assert!(err.contains("TVAULT_GENESYS_REQUESTS_PER_MINUTE"), "{err}");
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn a_mistyped_genesys_domain_is_refused_before_any_secret_is_sent() {
        let err = env(&[
            ("GENESYSCLOUD_OAUTHCLIENT_ID", "id"),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "s"),
            ("GENESYSCLOUD_REGION", "mypurecloud.iee"),
        ])
        .genesys()
        .unwrap_err();
        // The typed error is kept under the sentence, not flattened into it.
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("mypurecloud.iee"), "{source}");
        let err = chain(&err);
        assert!(
            err.starts_with("the Genesys settings")
                && err.contains("mypurecloud.iee")
                && err.contains("https://"),
            "{err}"
        );
    }

    #[test]
    fn a_vault_that_cannot_be_opened_keeps_its_reason_as_the_source() {
        let err = env(&[]).with_vault("ftp://vault").open_vault().unwrap_err();
        assert!(matches!(err, SettingsError::Vault(_)), "{err:?}");
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(chain(&err).ends_with(&source), "{}", chain(&err));
        assert!(source.contains("ftp://vault"), "{source}");
    }

    #[test]
    fn the_other_azure_variables_reach_the_vault_and_blanks_count_as_unset() {
        let s = env(&[
            ("AZURE_STORAGE_ACCOUNT_NAME", "acct"),
            ("AZURE_STORAGE_CONNECTION_STRING", "  "),
            ("TVAULT_VAULT", "memory://"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("TVAULT_RECORD_CONCURRENCY", "0"),
            ("TVAULT_SECRET_MIN_REREAD_SECONDS", "0"),
            ("AWS_LAMBDA_FUNCTION_NAME", "vault-router"),
        ]);
        assert_eq!(s.azure_connection_string, None);
        assert_eq!(
            s.azure_variables.keys().collect::<Vec<_>>(),
            ["AZURE_STORAGE_ACCOUNT_NAME"]
        );
        assert_eq!(s.vault, "memory://");
        assert_eq!(s.sqs_endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(s.record_concurrency, DEFAULT_RECORD_CONCURRENCY);
        assert_eq!(s.secret_min_reread, Duration::ZERO);
        assert_eq!(s.function_name, "vault-router");
        let sqs = env(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324"),
        ]);
        assert_eq!(sqs.sqs_endpoint.as_deref(), Some("http://127.0.0.1:9324"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let s = env(&[
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "pw-123"),
            ("AZURE_STORAGE_CONNECTION_STRING", "AccountKey=k9"),
            ("AZURE_STORAGE_SAS_TOKEN", "sv=1&sig=s3cr3t"),
        ]);
        let d = format!("{s:?}");
        assert!(
            !d.contains("pw-123") && !d.contains("k9") && !d.contains("s3cr3t"),
            "{d}"
        );
    }
}
