//! Where the vault is: a local directory (the default, `./vault`),
//! `memory://` (tests and demos), or an Azure container; and opening it. This
//! is the one module that knows every backend: it pairs each one's reading
//! store with its create-only writer, so [`ObjectVault`] never names one.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;

use crate::azure::retry::StatsSnapshot;
use crate::azure::{AzureConfig, AzureSettings, AzureWriter, OpenError};
use crate::listing::DirWalk;
use crate::staged::StagedWriter;
use crate::store::ObjectVault;

/// A parsed vault location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on local disk.
    Local(PathBuf),
    /// A fresh, empty in-memory store (lost at exit).
    Memory,
    /// An Azure Blob container: `az://container` or an `https://` URL.
    Azure(String),
}

/// A vault location that cannot be used, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error(
        "vault location is empty: set --vault or TVAULT_VAULT, or leave both unset for ./vault"
    )]
    Empty,
    #[error(
        "vault {0:?}: unknown scheme; use a directory path, memory://, az://CONTAINER or https://ACCOUNT.blob.core.windows.net/CONTAINER"
    )]
    UnknownScheme(String),
    #[error("vault {location:?}: {message}")]
    Unusable { location: String, message: String },
    /// A read-only command was pointed at a directory that is not there: it
    /// says so rather than create an empty vault and report on it.
    #[error(
        "vault {0:?} does not exist: check --vault or TVAULT_VAULT (commands that only read never create a vault)"
    )]
    Missing(String),
}

impl Location {
    /// Parse a `--vault` value.
    pub fn parse(s: &str) -> Result<Self, LocationError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(LocationError::Empty);
        }
        if s == "memory://" {
            return Ok(Location::Memory);
        }
        if let Some(path) = s.strip_prefix("file://") {
            return Ok(Location::Local(PathBuf::from(path)));
        }
        if s.starts_with("az://")
            || s.starts_with("azure://")
            || s.starts_with("https://")
            || s.starts_with("http://")
        {
            return Ok(Location::Azure(s.to_string()));
        }
        if s.contains("://") {
            return Err(LocationError::UnknownScheme(
                crate::azure::config::redact_url(s),
            ));
        }
        Ok(Location::Local(PathBuf::from(s)))
    }
}

/// Open the vault at `location` (see [`Location::parse`]). Azure vaults read
/// their credentials from the environment (see [`crate::azure::config`]).
pub fn open(location: &str) -> Result<Arc<ObjectVault>, LocationError> {
    open_as(location, true)
}

/// [`open`] for a command that only reads (`show`, `list`, `verify`,
/// `export`): a local directory must already exist ([`LocationError::Missing`]),
/// nothing is created. An Azure vault is never created by opening it.
pub fn open_existing(location: &str) -> Result<Arc<ObjectVault>, LocationError> {
    open_as(location, false)
}

fn open_as(location: &str, create: bool) -> Result<Arc<ObjectVault>, LocationError> {
    match Location::parse(location)? {
        Location::Memory => {
            let store = Arc::new(InMemory::new());
            let writer = StagedWriter::memory(store.clone());
            let lister = DirWalk::new(store.clone());
            Ok(Arc::new(ObjectVault::new(
                store,
                Arc::new(writer),
                Arc::new(lister),
            )))
        }
        Location::Local(dir) if !create && !dir.exists() => {
            Err(LocationError::Missing(location.to_string()))
        }
        Location::Local(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| LocationError::Unusable {
                location: location.to_string(),
                message: format!("cannot create the directory: {e}"),
            })?;
            let fs =
                LocalFileSystem::new_with_prefix(&dir).map_err(|e| LocationError::Unusable {
                    location: location.to_string(),
                    message: e.to_string(),
                })?;
            let store = Arc::new(fs);
            let writer = StagedWriter::local(store.clone());
            let lister = DirWalk::new(store.clone());
            Ok(Arc::new(ObjectVault::new(
                store,
                Arc::new(writer),
                Arc::new(lister),
            )))
        }
        Location::Azure(url) => open_azure(AzureConfig::from_env(url)),
    }
}

/// Open an Azure vault from a configuration built from parts (tests) or the
/// environment ([`AzureConfig::from_env`], what [`open`] uses).
pub fn open_azure(config: AzureConfig) -> Result<Arc<ObjectVault>, LocationError> {
    let shown = config.url_without_query();
    let unusable = |message: String| LocationError::Unusable {
        location: shown.clone(),
        message,
    };
    let settings = config.build().map_err(|e| unusable(e.to_string()))?;
    let vault = open_azure_settings(settings).map_err(|e| unusable(e.to_string()))?;
    Ok(Arc::new(vault))
}

/// Open the Azure vault described by validated `settings`.
pub fn open_azure_settings(settings: AzureSettings) -> Result<ObjectVault, OpenError> {
    Ok(azure_vault(crate::azure::open(settings)?))
}

/// [`open_azure_settings`] with another block size (tests use small blocks
/// to exercise staging).
pub fn open_azure_with_blocks(
    settings: AzureSettings,
    block_size: usize,
    blocks_in_flight: usize,
) -> Result<ObjectVault, OpenError> {
    let writer = crate::azure::open_with_blocks(settings, block_size, blocks_in_flight)?;
    Ok(azure_vault(writer))
}

/// Reads through object_store's client, lists and writes through the Azure
/// writer; both share one retrying HTTP stack. Public for tests that set the
/// writer up themselves ([`AzureWriter::with_list_page_size`]).
pub fn azure_vault(writer: AzureWriter) -> ObjectVault {
    let writer = Arc::new(writer);
    ObjectVault::new(writer.reader(), writer.clone(), writer)
}

/// The Azure extras of a vault, here with the code that opens backends
/// rather than in `store.rs`, which knows none.
impl ObjectVault {
    /// The Azure writer (settings, counters, container setup), if this is an Azure vault.
    pub fn azure(&self) -> Option<&AzureWriter> {
        self.writer_as::<AzureWriter>()
    }

    /// Retry and throttling counters of an Azure vault.
    pub fn azure_stats(&self) -> Option<StatsSnapshot> {
        self.azure().map(AzureWriter::stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_by_scheme() {
        assert_eq!(
            Location::parse("./vault").unwrap(),
            Location::Local("./vault".into())
        );
        assert_eq!(
            Location::parse("file:///tmp/v").unwrap(),
            Location::Local("/tmp/v".into())
        );
        assert_eq!(Location::parse("memory://").unwrap(), Location::Memory);
        assert_eq!(
            Location::parse("az://vault").unwrap(),
            Location::Azure("az://vault".into())
        );
        assert!(matches!(
            Location::parse("s3://b"),
            Err(LocationError::UnknownScheme(_))
        ));
        assert!(matches!(Location::parse("  "), Err(LocationError::Empty)));
    }

    #[test]
    fn a_read_only_open_of_a_missing_directory_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("vault");
        let location = missing.to_str().unwrap();
        let err = open_existing(location).unwrap_err();
        assert!(matches!(err, LocationError::Missing(_)), "{err:?}");
        assert!(err.to_string().contains(location), "{err}");
        assert!(!missing.exists());
        open(location).unwrap();
        assert!(missing.is_dir());
        open_existing(location).unwrap();
    }

    #[test]
    fn an_unknown_scheme_is_named_without_its_credentials() {
        let msg = Location::parse("s3://key:S3cr3t@bucket/x?X-Amz-Signature=S1g")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("unknown scheme"), "{msg}");
        assert!(msg.contains("s3://[redacted]@bucket/x?[redacted]"), "{msg}");
        assert!(!msg.contains("S3cr3t") && !msg.contains("S1g"), "{msg}");
    }
}
