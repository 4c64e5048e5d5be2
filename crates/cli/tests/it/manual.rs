//! `tvault completions SHELL` and `tvault man`, run through the built binary:
//! both come from the clap definitions, so every command `--help` lists must
//! appear in them.

use crate::util::*;

/// The command names under "Commands:" in `tvault [SUB] --help`, without
/// clap's own `help`: read from the binary, so a new command is checked
/// without editing this test.
fn commands(sub: &[&str]) -> Vec<String> {
    let mut args = sub.to_vec();
    args.push("--help");
    let out = tvault("unused", &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let help = stdout(&out);
    let names: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A wrapped description is indented further than a command name.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|n| n != "help")
        .collect();
    assert!(names.len() >= 2, "no commands found in:\n{help}");
    names
}

#[test]
fn bash_completion_and_man_page_name_every_command() {
    let top = commands(&[]);
    for expected in ["archive", "verify", "dlq", "completions", "man"] {
        assert!(
            top.iter().any(|c| c == expected),
            "{expected} not in {top:?}"
        );
    }
    let dlq = commands(&["dlq"]);
    assert!(dlq.iter().any(|c| c == "inspect"), "{dlq:?}");

    let bash = tvault("unused", &["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0), "{}", stderr(&bash));
    let bash = stdout(&bash);
    assert!(bash.contains("complete -F _tvault"), "{bash}");
    // clap_complete's bash script has a case arm per command path.
    for c in &top {
        assert!(
            bash.contains(&format!("tvault,{c})")),
            "bash completion lacks {c}"
        );
    }
    for c in &dlq {
        assert!(
            bash.contains(&format!("tvault__subcmd__dlq,{c})")),
            "bash completion lacks dlq {c}"
        );
    }
    for flag in ["--vault", "--queue-url"] {
        assert!(bash.contains(flag), "bash completion lacks {flag}");
    }

    let man = tvault("unused", &["man"]);
    assert_eq!(man.status.code(), Some(0), "{}", stderr(&man));
    let man = stdout(&man);
    assert!(man.contains(".TH tvault 1 "), "{man}");
    for c in &top {
        // roff escapes the hyphen: the SEE ALSO / SUBCOMMANDS entry tvault\-CMD(1).
        assert!(
            man.contains(&format!("tvault\\-{c}(1)")),
            "man page lacks {c}:\n{man}"
        );
    }
}

#[test]
fn man_dir_writes_a_page_per_command_and_refuses_a_missing_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = tvault("unused", &["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pages = files_under(dir.path());
    assert!(pages.contains(&"tvault.1".to_owned()), "{pages:?}");
    for c in commands(&[]) {
        assert!(
            pages.contains(&format!("tvault-{c}.1")),
            "no page for {c}: {pages:?}"
        );
    }
    assert!(
        pages.contains(&"tvault-dlq-inspect.1".to_owned()),
        "{pages:?}"
    );

    let missing = dir.path().join("nope");
    let out = tvault("unused", &["man", "--dir", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a directory"), "{}", stderr(&out));
    assert!(!missing.exists());
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = tvault("unused", &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bash"),
        "the error lists the shells: {}",
        stderr(&out)
    );
}
