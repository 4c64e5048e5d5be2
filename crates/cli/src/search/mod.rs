//! `tvault index`, `find` and `serve`: thin over `tvault-search` and `tvault-web`.

mod find;
mod index;
mod serve;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use tvault_core::days::DayRange;
use tvault_search::Query;
use tvault_web::zone::Zone;

use crate::search_help::Filters;

pub use find::find;
pub use index::index;
pub use serve::serve;

/// The index folder: `--index` / `TVAULT_INDEX`, else one folder per vault
/// in the user's cache (`$XDG_CACHE_HOME`, `~/.cache`, or `%LOCALAPPDATA%`),
/// named by a hash of the vault's location so two vaults never share one.
pub fn index_dir(flag: Option<PathBuf>, vault: &str) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| Path::new(&h).join(".cache"))
        })
        .or_else(|| std::env::var_os("LOCALAPPDATA").map(PathBuf::from));
    let Some(cache) = cache else {
        bail!(
            "no cache folder known (HOME, XDG_CACHE_HOME and LOCALAPPDATA are unset): give --index DIR"
        );
    };
    // A local vault is named by its absolute path (made absolute without
    // touching the disk, so the same before and after it exists), so `./vault` from two folders are two vaults; a URL as given.
    let key = if vault.contains("://") {
        vault.to_string()
    } else {
        std::path::absolute(vault)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| vault.to_string())
    };
    let hash = tvault_core::hash::sha256_hex(key.as_bytes());
    Ok(cache
        .join("tvault")
        .join(format!("index-{}", tvault_core::hash::sha16(&hash))))
}

/// The filters as a query; a usage error names the flag.
pub fn query(f: &Filters, limit: usize) -> Result<Query> {
    let days = match (&f.from, &f.to) {
        (Some(a), Some(b)) => Some(DayRange::parse(a, b)?),
        _ => None,
    };
    Ok(Query {
        text: f.text.clone(),
        participant: f.participant.clone(),
        days,
        media: f.media.clone(),
        message_type: f.message_type.clone(),
        limit,
    })
}

/// `--tz`, or times as stored.
pub fn zone(tz: Option<&str>) -> Result<Zone> {
    match tz {
        Some(name) => Zone::parse(name).map_err(anyhow::Error::msg),
        None => Ok(Zone::STORED),
    }
}
