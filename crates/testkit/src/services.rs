//! The one place a test learns whether the outside stand-ins it needs
//! (Azurite, moto, the Python reader, Chromium) are there, and what to do
//! when one is not.
//!
//! `scripts/test` sets `TVAULT_REQUIRE_SERVICES=1` after starting every
//! service, so in the suite people actually run a missing service fails the
//! test: a skip is impossible. Without it (one test run by hand, without
//! `scripts/services start`), the test prints `SKIPPED` with the command to
//! run and passes without checking anything.

use std::path::PathBuf;

/// The variable `scripts/test` sets: any value but empty or `0` means every
/// service must be there.
pub const REQUIRE: &str = "TVAULT_REQUIRE_SERVICES";

/// Whether a missing service fails the test.
pub fn required() -> bool {
    std::env::var(REQUIRE).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The value of `var` (a service's address), or `None` when it is not set
/// and services are not required.
///
/// # Panics
/// When `var` is not set and [`required`] holds: the test fails with `how`.
pub fn var(var: &str, how: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => missing(&format!("{var} is not set: {how}")),
    }
}

/// A missing service: fail when services are required, else skip with a notice.
///
/// # Panics
/// When [`required`] holds.
pub fn missing<T>(what: &str) -> Option<T> {
    assert!(
        !required(),
        "{what} ({REQUIRE} is set, so nothing may skip)"
    );
    eprintln!("SKIPPED: {what}");
    None
}

/// The repository's root (the workspace).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python of the project's `.venv` (azure-storage-blob, moto), if installed.
pub fn venv_python() -> Option<PathBuf> {
    let py = repo().join(".venv/bin/python");
    if py.exists() {
        return Some(py);
    }
    missing("the project's .venv is missing: run scripts/install-test-tools")
}

/// Chromium from `TVAULT_TEST_CHROMIUM`, else `chromium` on PATH.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TVAULT_TEST_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
            .find(|p| p.is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    missing(
        "Chromium not found (TVAULT_TEST_CHROMIUM unset, no chromium on PATH): run scripts/install-test-tools",
    )
}

/// How to start the services, for the messages above.
pub const START: &str =
    "run scripts/install-test-tools, then env=$(scripts/services start) && eval \"$env\"";
