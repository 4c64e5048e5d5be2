//! Commands that only read (`show`, `list`, `verify`, `export`) never
//! create a vault, and `verify` of a vault with nothing in it says so
//! (issue 13, item 7): a typo in `--vault` must not pass as a clean check.

use crate::util::*;

#[test]
fn read_only_commands_on_a_missing_vault_exit_2_naming_it_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("no-such-vault");
    let out = dir.path().join("exports");
    let shown = vault.to_str().unwrap();
    for args in [
        &["show", CONV][..],
        &["list", "--from", "2026-01-01", "--to", "2026-01-02"],
        &["verify"],
        &["verify", "--allow-empty"],
        &["export", CONV, "--out", out.to_str().unwrap()],
    ] {
        let o = tvault(&vault, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("vault {shown:?} does not exist")),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(!vault.exists(), "{args:?} created the vault");
    }
    assert!(!out.exists(), "export created its folder");
}

#[test]
fn verify_of_a_vault_without_manifests_says_so_and_fails_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    std::fs::create_dir(&vault).unwrap();
    let v = tvault(&vault, &["verify"]);
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    assert!(
        stderr(&v).contains("no manifest to verify: is this the right vault?"),
        "{}",
        stderr(&v)
    );
    let v = tvault(
        &vault,
        &["verify", "--from", "2026-10-02", "--to", "2026-10-02"],
    );
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    assert!(
        stderr(&v).contains("no manifest to verify indexed"),
        "{}",
        stderr(&v)
    );
    let v = tvault(&vault, &["verify", "--allow-empty"]);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert!(
        stdout(&v).contains("verified 0 manifest(s)"),
        "{}",
        stdout(&v)
    );

    // One archived conversation: no flag needed.
    let o = tvault(
        &vault,
        &["archive", repo().join("examples/events").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = tvault(&vault, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
}
