//! `tvault check` through the built binary: against Azurite (a full
//! credential and a reader SAS made by the Azure Python SDK), the fake
//! Genesys API and moto's SQS. stdout is a pipe here, so the marks are the
//! words `ok`, `FAIL` and `skip`.

use std::process::Output;

use tvault_testkit::genesys::{FakeGenesys, Fault, Route};
use tvault_testkit::pipeline;

use crate::azure_readonly::{ACCOUNT, read_only_sas};
use crate::util::*;

async fn run(vault: &str, env: Vec<(&'static str, String)>, args: &[&str]) -> Output {
    let vault = vault.to_string();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        tvault_env(&vault, &env, &refs)
    })
    .await
    .unwrap()
}

/// The lines of `out` that start with `mark`.
fn marked(out: &Output, mark: &str) -> Vec<String> {
    stdout(out)
        .lines()
        .filter(|l| l.starts_with(mark))
        .map(str::to_string)
        .collect()
}

fn genesys_env(fake: &FakeGenesys) -> Vec<(&'static str, String)> {
    vec![
        (
            "GENESYSCLOUD_OAUTHCLIENT_ID",
            tvault_testkit::genesys::CLIENT_ID.into(),
        ),
        (
            "GENESYSCLOUD_OAUTHCLIENT_SECRET",
            tvault_testkit::genesys::CLIENT_SECRET.into(),
        ),
        ("GENESYSCLOUD_REGION", fake.base_url()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_in_order_passes_twice_and_leaves_one_probe_object() {
    let Some((vault_url, cs)) = pipeline::azurite_container(ACCOUNT).await else {
        return;
    };
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let q = pipeline::queues(&config, 5, 30).await;
    let fake = FakeGenesys::start().await.unwrap();
    let mut env = genesys_env(&fake);
    env.push(("AZURE_STORAGE_CONNECTION_STRING", cs.clone()));
    env.extend(pipeline::aws_env(&endpoint));

    for run_no in 0..2 {
        let out = run(
            &vault_url,
            env.clone(),
            &["check", "--queue-url", q.source.url()],
        )
        .await;
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
        assert!(
            text.starts_with(&format!("vault: {vault_url} (Azure Blob container)\n")),
            "{text}"
        );
        assert!(marked(&out, "FAIL").is_empty(), "{text}");
        let ok = marked(&out, "ok");
        let want = [
            "can list",
            "can read",
            if run_no == 0 {
                "created healthcheck/"
            } else {
                "already there, same bytes"
            },
            "issued a client-credentials token",
            "Genesys permission for recordings (GET /api/v2/conversations/{id}/recordings)",
            "Genesys permission for messages (GET /api/v2/conversations/messages/{id}/messages/{messageId})",
            "Genesys permission for downloads (GET /api/v2/downloads/{downloadId})",
            "Genesys permission for analytics (GET /api/v2/analytics/conversations/details/jobs/availability)",
            "exists and can be read",
            "after 5 receive(s)",
        ];
        for w in want {
            assert!(
                ok.iter().any(|l| l.contains(w)),
                "no ok line with {w:?}: {text}"
            );
        }
        assert!(text.ends_with("all checks passed\n"), "{text}");
    }
    // The one thing left behind: the probe, named by its bytes' hash, and
    // verify does not count it as outside the vault layout.
    let vault = pipeline::azurite_vault(&vault_url, &cs);
    let listed = tvault_core::ports::Vault::list(vault.as_ref(), "")
        .await
        .unwrap();
    let names: Vec<&str> = listed.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(names, [tvault_core::keys::healthcheck().as_str()]);
    assert_eq!(
        tvault_core::keys::healthcheck(),
        format!(
            "healthcheck/{}",
            tvault_core::hash::sha256_hex(b"transcript-vault healthcheck v1\n")
        )
    );
    let out = run(
        &vault_url,
        vec![("AZURE_STORAGE_CONNECTION_STRING", cs.clone())],
        &["verify", "--allow-empty"],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        !stdout(&out).contains("outside the vault layout"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_sas_passes_read_only_and_fails_create_without_it_never_showing_the_sas() {
    let Some((vault_url, _cs)) = pipeline::azurite_container(ACCOUNT).await else {
        return;
    };
    let container = vault_url.rsplit('/').next().unwrap().to_string();
    let Some(sas) = read_only_sas(&container) else {
        return;
    };
    let env = vec![("AZURE_STORAGE_SAS_TOKEN", sas.clone())];
    let sig = sas
        .split('&')
        .find_map(|p| p.strip_prefix("sig="))
        .unwrap()
        .to_string();

    let out = run(&vault_url, env.clone(), &["check", "--read-only"]).await;
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(marked(&out, "FAIL").is_empty(), "{text}");
    assert!(
        marked(&out, "skip")
            .iter()
            .any(|l| l.contains("vault can create: skipped, --read-only")),
        "{text}"
    );
    assert!(!text.contains(&sig), "the SAS signature is printed: {text}");

    let out = run(&vault_url, env, &["check"]).await;
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    let fails = marked(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{text}");
    assert!(fails[0].starts_with("FAIL vault can create: "), "{text}");
    assert!(
        fails[0].contains("AuthorizationPermissionMismatch"),
        "{text}"
    );
    assert!(
        text.contains("fix: give the credential the create right"),
        "{text}"
    );
    assert!(!text.contains(&sig), "the SAS signature is printed: {text}");
    assert!(text.ends_with("1 check(s) failed\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_container_fails_in_plain_words() {
    let Some((vault_url, cs)) = pipeline::azurite_container(ACCOUNT).await else {
        return;
    };
    let missing = format!("{vault_url}-not-there");
    let out = run(
        &missing,
        vec![("AZURE_STORAGE_CONNECTION_STRING", cs)],
        &["check", "--read-only"],
    )
    .await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let fails = marked(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{text}");
    assert!(
        fails[0].starts_with("FAIL vault reachable and can list: "),
        "{text}"
    );
    assert!(fails[0].contains("ContainerNotFound"), "{text}");
    assert!(
        text.contains("fix: check the account and container name"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_fails_naming_the_cause() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let vault = format!("http://127.0.0.1:{port}/devstoreaccount1/vault");
    let out = run(
        &vault,
        vec![(
            "AZURE_STORAGE_CONNECTION_STRING",
            "UseDevelopmentStorage=true".into(),
        )],
        &["check"],
    )
    .await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let fails = marked(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{text}");
    assert!(
        fails[0].contains("could not connect to the storage endpoint (Connection refused"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_genesys_client_fails_naming_the_login_host() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGenesys::start().await.unwrap();
    let mut env = genesys_env(&fake);
    env[1].1 = "not-the-secret".into();
    let vault = dir.path().to_str().unwrap().to_string();
    let out = run(&vault, env, &["check"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let fails = marked(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{text}");
    assert!(
        fails[0].starts_with("FAIL Genesys region and token ("),
        "{text}"
    );
    assert!(fails[0].contains("access refused"), "{text}");
    assert!(!text.contains("not-the-secret"), "{text}");
    assert!(text.contains("fix: check GENESYSCLOUD_REGION"), "{text}");
    // The local vault passed its three checks.
    assert_eq!(marked(&out, "ok").len(), 3, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_without_a_redrive_policy_fails_naming_it() {
    let Some((endpoint, config)) = pipeline::moto().await else {
        return;
    };
    let sqs = aws_sdk_sqs::Client::new(&config);
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let url = sqs
        .create_queue()
        .queue_name(format!("tvault-check-{n}"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().to_str().unwrap().to_string();
    let out = run(
        &vault,
        pipeline::aws_env(&endpoint),
        &["check", "--queue-url", &url],
    )
    .await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let fails = marked(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{text}");
    assert!(
        fails[0].contains(&format!("SQS queue {url} has a redrive policy"))
            && fails[0].contains("the queue has no redrive policy"),
        "{text}"
    );
    assert!(
        text.contains("fix: give the queue a redrive policy"),
        "{text}"
    );
    assert!(
        marked(&out, "ok")
            .iter()
            .any(|l| l.contains("exists and can be read")),
        "{text}"
    );
}

#[test]
fn a_missing_local_vault_fails_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("nope");
    let out = tvault(&vault, &["check"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(marked(&out, "FAIL")[0].contains("does not exist"), "{text}");
    assert!(!vault.exists());
}

/// `tvault check` with a local vault and the fake Genesys API: the vault's
/// three lines are ok, so every other line is Genesys's.
async fn check_genesys_only(fake: &FakeGenesys) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().to_str().unwrap().to_string();
    run(&vault, genesys_env(fake), &["check"]).await
}

/// The `Genesys permission` lines with `mark`.
fn permission_lines(out: &Output, mark: &str) -> Vec<String> {
    marked(out, mark)
        .into_iter()
        .filter(|l| l.contains(" Genesys permission for "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_permission_granted_is_one_ok_line_each_and_exit_0() {
    let fake = FakeGenesys::start().await.unwrap();
    let out = check_genesys_only(&fake).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let ok = permission_lines(&out, "ok");
    let apis: Vec<&str> = ok
        .iter()
        .map(|l| l.split_whitespace().nth(4).unwrap_or_default())
        .collect();
    assert_eq!(
        apis,
        ["recordings", "messages", "downloads", "analytics"],
        "{text}"
    );
    // One request to each API, none of them a write.
    for route in [
        Route::Recordings,
        Route::Message,
        Route::DownloadUrl,
        Route::AnalyticsAvailability,
    ] {
        assert_eq!(fake.count(route), 1, "{route:?}: {text}");
    }
    assert_eq!(fake.count(Route::AnalyticsQuery), 0, "{text}");
    assert_eq!(fake.count(Route::AnalyticsJobCreate), 0, "{text}");
    assert!(text.ends_with("all checks passed\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_analytics_permission_fails_that_line_naming_it_and_the_rest_pass() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.deny_permission("analytics:conversationDetail:view");
    let out = check_genesys_only(&fake).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let fails = marked(&out, "FAIL");
    assert_eq!(
        fails,
        [
            "FAIL Genesys permission for analytics (GET /api/v2/analytics/conversations/details/jobs/availability): Genesys refused: missing permission analytics:conversationDetail:view (missing.any.permissions)"
        ],
        "{text}"
    );
    assert!(
        text.contains("fix: give the OAuth client's role the permission analytics:conversationDetail:view (Analytics > Conversation Detail > View)"),
        "{text}"
    );
    assert_eq!(permission_lines(&out, "ok").len(), 3, "{text}");
    assert!(
        marked(&out, "ok")
            .iter()
            .any(|l| l.contains("issued a client-credentials token")),
        "{text}"
    );
    assert!(text.ends_with("1 check(s) failed\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_either_message_permission_fails_the_messages_line() {
    let fake = FakeGenesys::start().await.unwrap();
    // The messages API accepts either (ConversationsApi.md): one denied
    // alone still lets the archive in.
    fake.deny_permission("conversation:message:view");
    let out = check_genesys_only(&fake).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    fake.deny_permission("conversation:webmessaging:view");
    let out = check_genesys_only(&fake).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let fails = marked(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{text}");
    assert!(
        fails[0].starts_with("FAIL Genesys permission for messages (")
            && fails[0].ends_with(
                ": Genesys refused: missing any one of the permissions conversation:message:view, conversation:webmessaging:view (missing.any.permissions)"
            ),
        "{text}"
    );
    assert!(
        text.contains("fix: give the OAuth client's role the permission conversation:message:view"),
        "{text}"
    );
    assert_eq!(permission_lines(&out, "ok").len(), 3, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_answered_500_is_a_failure_never_a_pass() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.script(Route::Recordings, [Fault::Status(500)]);
    let out = check_genesys_only(&fake).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let fails = marked(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{text}");
    assert!(
        fails[0].starts_with("FAIL Genesys permission for recordings (")
            && fails[0].contains("could not tell: ")
            && fails[0].contains("HTTP 500"),
        "{text}"
    );
    assert_eq!(permission_lines(&out, "ok").len(), 3, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_api_refuses_is_a_token_failure_not_a_permission() {
    let fake = FakeGenesys::start().await.unwrap();
    // The login host issues tokens, the API accepts none of them: the
    // client renews once per probe and is refused again.
    fake.expire_tokens_after(0);
    let out = check_genesys_only(&fake).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let fails = permission_lines(&out, "FAIL");
    assert_eq!(fails.len(), 4, "{text}");
    for f in &fails {
        assert!(f.contains(": the API refused the token: "), "{text}");
        assert!(!f.contains("missing permission"), "{text}");
    }
    assert!(
        !text.contains(tvault_testkit::genesys::CLIENT_SECRET),
        "{text}"
    );
}
