//! What the `tvault` binary's tests share: running it as a user would, with
//! only the settings a test gives it, and reading what it printed.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use tvault_testkit::genesys::{CLIENT_ID, CLIENT_SECRET};

pub use tvault_testkit::services::repo;

/// The conversation of the fixture events in `fixtures/genesys/`.
pub const CONV: &str = "8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f";

/// `tvault --vault VAULT ARGS...`, with no vault, Azure, Genesys, AWS secret
/// or log settings inherited from the environment the tests run in: a test
/// states every setting it gives (with `.env`, or [`with_genesys`]).
pub fn command(vault: impl AsRef<OsStr>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tvault"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("AZURE_")
            || k.starts_with("GENESYSCLOUD_")
            || k.starts_with("TVAULT_")
            || k == "RUST_LOG"
        {
            cmd.env_remove(&*k);
        }
    }
    cmd.arg("--vault").arg(vault).args(args);
    cmd
}

/// Point `cmd` at a Genesys API (the fake's base URL) with the fake's client.
pub fn with_genesys<'a>(cmd: &'a mut Command, base_url: &str) -> &'a mut Command {
    cmd.env("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET)
        .env("GENESYSCLOUD_REGION", base_url)
}

/// Run `tvault` without Genesys (see [`command`]).
pub fn tvault(vault: impl AsRef<OsStr>, args: &[&str]) -> Output {
    command(vault, args).output().unwrap()
}

/// Run `tvault` with the Genesys API at `base_url`.
pub fn tvault_genesys(vault: impl AsRef<OsStr>, base_url: &str, args: &[&str]) -> Output {
    with_genesys(&mut command(vault, args), base_url)
        .output()
        .unwrap()
}

/// Run `tvault` with exactly the variables `env` besides [`command`]'s.
pub fn tvault_env(vault: impl AsRef<OsStr>, env: &[(&str, &str)], args: &[&str]) -> Output {
    command(vault, args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Bytes printed by the binary, as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

pub fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

/// Every file under `dir`, relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// Run headless Chromium with a profile of its own (`--dump-dom URL`,
/// `--screenshot=FILE URL`).
pub fn headless(chromium: &Path, profile: &Path, args: &[&str]) -> Output {
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--window-size=1000,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap()
}
