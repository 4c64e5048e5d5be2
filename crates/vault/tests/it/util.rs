//! Helpers shared by the vault's integration tests: reaching Azurite and
//! giving each test a container of its own, so tests run in parallel.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tvault_testkit::services;
use tvault_vault::ObjectVault;
use tvault_vault::azure::{AzureConfig, RetryPolicy, config::DEV_ACCOUNT_KEY};

/// The variable that points the tests at Azurite, e.g. `http://127.0.0.1:10000/devstoreaccount1`.
pub const AZURITE_VAR: &str = "TVAULT_TEST_AZURITE";

/// Azurite's account endpoint, or `None` (with a notice) when it is not
/// running and services are not required (`tvault_testkit::services`).
pub fn azurite_endpoint() -> Option<String> {
    services::var(AZURITE_VAR, services::START).map(|v| v.trim_end_matches('/').to_string())
}

/// The explicit development connection string for the account at `endpoint`
/// (`http://127.0.0.1:PORT/ACCOUNT`; every account of scripts/start-azurite has the dev key).
pub fn dev_connection_string(endpoint: &str) -> String {
    let account = endpoint.rsplit('/').next().unwrap_or("devstoreaccount1");
    format!(
        "DefaultEndpointsProtocol=http;AccountName={account};AccountKey={DEV_ACCOUNT_KEY};BlobEndpoint={endpoint};"
    )
}

/// The accounts Azurite was started with (`TVAULT_TEST_AZURITE_ACCOUNTS`,
/// comma-separated; the development account alone when unset).
pub fn azurite_accounts() -> Vec<String> {
    std::env::var("TVAULT_TEST_AZURITE_ACCOUNTS")
        .ok()
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec!["devstoreaccount1".to_string()])
}

/// A container name no other test (or run) uses.
pub fn unique_container(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tag: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .take(24)
        .collect();
    format!(
        "t-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The configuration of a fresh container in Azurite at `endpoint`.
pub fn config_for(endpoint: &str, container: &str) -> AzureConfig {
    AzureConfig::new(format!("{endpoint}/{container}"))
        .with_connection_string(dev_connection_string(endpoint))
}

/// object_store's own client on `container` at `endpoint`, outside the
/// vault: what a test writes with it goes behind the vault's back (the vault
/// itself hands out no store that could overwrite).
pub fn raw_store(endpoint: &str, container: &str) -> object_store::azure::MicrosoftAzure {
    // Normal mode, not emulator mode: emulator mode ignores the endpoint.
    let account = endpoint.rsplit('/').next().unwrap();
    object_store::azure::MicrosoftAzureBuilder::new()
        .with_account(account)
        .with_access_key(DEV_ACCOUNT_KEY)
        .with_container_name(container)
        .with_endpoint(endpoint.to_string())
        .with_allow_http(true)
        .build()
        .unwrap()
}

/// A vault on a new, empty container in Azurite (created here).
pub async fn azurite_vault(tag: &str) -> Option<Arc<ObjectVault>> {
    let endpoint = azurite_endpoint()?;
    Some(
        vault_at(
            &endpoint,
            &unique_container(tag),
            None,
            RetryPolicy::default(),
        )
        .await,
    )
}

/// A vault on `container` (created if missing) at `endpoint`, optionally with another block size.
pub async fn vault_at(
    endpoint: &str,
    container: &str,
    block_size: Option<usize>,
    retry: RetryPolicy,
) -> Arc<ObjectVault> {
    let settings = config_for(endpoint, container)
        .with_retry(retry)
        .build()
        .unwrap();
    let vault = match block_size {
        Some(b) => tvault_vault::location::open_azure_with_blocks(settings, b, 2).unwrap(),
        None => tvault_vault::location::open_azure_settings(settings).unwrap(),
    };
    vault.azure().unwrap().create_container().await.unwrap();
    Arc::new(vault)
}

/// The workspace root (for fixtures, `.venv`).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `n` distinct transcript-carrying EventBridge events, built from the seed
/// fixture with new conversation ids (and texts). Their attachment ids stay:
/// with no Genesys client configured they are recorded in `missing[]`.
pub fn transcript_events(tag: &str, n: usize) -> Vec<String> {
    let path = workspace_root()
        .join("fixtures/genesys/SEED_ASSUMED__eventbridge_transcripts__NOT_A_REAL_TOPIC.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let base: serde_json::Value = serde_json::from_str(&text).unwrap();
    (0..n)
        .map(|i| {
            let mut e = base.clone();
            e["id"] = format!("evt-{tag}-{i}").into();
            e["detail"]["conversationId"] = format!("conv-{tag}-{i:05}").into();
            e["detail"]["messages"][0]["text"] = format!("Hi, order {i} arrived damaged.").into();
            serde_json::to_string(&e).unwrap()
        })
        .collect()
}

/// The Python interpreter of the project's `.venv`, or `None` (with a
/// notice) when it is missing and services are not required.
pub fn venv_python() -> Option<std::path::PathBuf> {
    services::venv_python()
}
