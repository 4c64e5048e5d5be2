//! The AWS adapters against moto server, through the real AWS SDK.
//!
//! `scripts/test` starts moto, sets `TVAULT_TEST_MOTO` and
//! `TVAULT_REQUIRE_SERVICES`: there a missing moto is a failure, never a skip.

// Tests may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tvault_aws::secret::SecretSource;
use tvault_aws::{Queue, SdkConfig};
use tvault_testkit::pipeline;

/// moto through testkit's one helper (a panic under `scripts/test` when it is not running).
async fn moto() -> Option<SdkConfig> {
    pipeline::moto().await.map(|(_, config)| config)
}

fn unique(name: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{n}")
}

/// A queue with a redrive policy to its own DLQ after `max_receives` receives.
async fn queue_pair(config: &SdkConfig, max_receives: u32) -> (Queue, Queue) {
    let q = pipeline::queues(config, max_receives, 30).await;
    (q.source, q.dlq)
}

#[tokio::test]
async fn a_json_secret_is_read_and_cached() {
    let Some(config) = moto().await else { return };
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let id = unique("tvault/settings");
    let body = r#"{"GENESYSCLOUD_OAUTHCLIENT_ID":"client","GENESYSCLOUD_OAUTHCLIENT_SECRET":"s3cr3t-value","GENESYSCLOUD_REGION":"eu-west-1"}"#;
    sm.create_secret()
        .name(&id)
        .secret_string(body)
        .send()
        .await
        .unwrap();
    let source = SecretSource::new(&config, &id);
    let values = source.get().await.unwrap();
    assert_eq!(
        values.get("GENESYSCLOUD_OAUTHCLIENT_ID").unwrap().expose(),
        "client"
    );
    assert!(!format!("{values:?}").contains("s3cr3t-value"));

    // Rotated in Secrets Manager: the cache holds until a rejection asks
    // for a re-read, and a re-read within a minute of the last is refused.
    sm.put_secret_value()
        .secret_id(&id)
        .secret_string("AccountKey=rotated")
        .send()
        .await
        .unwrap();
    assert_eq!(
        source.get().await.unwrap(),
        values,
        "cached for the life of the process"
    );
    assert_eq!(
        source.reread().await.unwrap(),
        None,
        "at most one re-read a minute"
    );
}

#[tokio::test]
async fn a_bare_connection_string_secret_is_the_azure_setting() {
    let Some(config) = moto().await else { return };
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let id = unique("tvault/conn");
    sm.create_secret()
        .name(&id)
        .secret_string("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k")
        .send()
        .await
        .unwrap();
    let values = SecretSource::new(&config, &id).get().await.unwrap();
    assert!(
        values
            .get("AZURE_STORAGE_CONNECTION_STRING")
            .unwrap()
            .expose()
            .ends_with("AccountKey=k")
    );
}

#[tokio::test]
async fn a_missing_secret_is_an_error_naming_it() {
    let Some(config) = moto().await else { return };
    let err = SecretSource::new(&config, "no-such-secret")
        .get()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no-such-secret") && err.contains("ResourceNotFound"),
        "{err}"
    );
}

#[tokio::test]
async fn receive_counts_grow_and_the_redrive_policy_moves_poison_to_the_dlq() {
    let Some(config) = moto().await else { return };
    let (q, dlq) = queue_pair(&config, 2).await;
    q.send("poison").await.unwrap();
    for expected in 1..=2 {
        let got = q.receive(10, 1, 0).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].receive_count, expected);
        assert_eq!(got[0].body, "poison");
    }
    // The third receive finds it moved.
    assert!(q.receive(10, 1, 0).await.unwrap().is_empty());
    let dead = dlq.receive(10, 1, 0).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison", "unchanged");
}

#[tokio::test]
async fn change_visibility_hides_a_message_and_delete_removes_it() {
    let Some(config) = moto().await else { return };
    let (q, _) = queue_pair(&config, 5).await;
    q.send("one").await.unwrap();
    let m = q.receive(1, 1, 0).await.unwrap().remove(0);
    q.change_visibility(&m.receipt_handle, Duration::from_secs(600))
        .await
        .unwrap();
    assert!(
        q.receive(1, 0, 0).await.unwrap().is_empty(),
        "hidden for ten minutes"
    );
    assert_eq!(q.depth().await.unwrap(), (0, 1));
    q.delete(&m.receipt_handle).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), (0, 0));
}

#[tokio::test]
async fn redrive_moves_every_dead_letter_back_unchanged() {
    let Some(config) = moto().await else { return };
    let (q, dlq) = queue_pair(&config, 5).await;
    for i in 0..13 {
        dlq.send(&format!("dead-{i}")).await.unwrap();
    }
    assert_eq!(dlq.redrive_to(&q).await.unwrap(), 13);
    assert_eq!(dlq.depth().await.unwrap(), (0, 0));
    let mut bodies = Vec::new();
    loop {
        let got = q.receive(10, 0, 60).await.unwrap();
        if got.is_empty() {
            break;
        }
        bodies.extend(got.into_iter().map(|m| m.body));
    }
    bodies.sort();
    let mut want: Vec<String> = (0..13).map(|i| format!("dead-{i}")).collect();
    want.sort();
    assert_eq!(bodies, want);
}

#[tokio::test]
async fn a_witness_line_is_kept_once_and_another_line_for_the_day_is_refused() {
    let Some(config) = moto().await else { return };
    let prefix = format!("/{}", unique("tvault/ledger"));
    let witness = tvault_aws::witness::SsmWitness::new(&config, &prefix).unwrap();
    let (day1, day2) = ("2026-09-20", "2026-09-21");
    let line1 = format!("{day1} {}", "ab".repeat(32));
    let line2 = format!("{day2} {}", "cd".repeat(32));
    use tvault_aws::witness::{WitnessError, Witnessed};
    assert_eq!(
        witness.record(day1, &line1).await.unwrap(),
        Witnessed::Written
    );
    assert_eq!(
        witness.record(day2, &line2).await.unwrap(),
        Witnessed::Written
    );
    // Sealing again (nothing new) witnesses the same line again: fine.
    assert_eq!(
        witness.record(day1, &line1).await.unwrap(),
        Witnessed::AlreadyThere
    );
    // A different hash for a witnessed day is never written over.
    let forged = format!("{day1} {}", "ef".repeat(32));
    let err = witness.record(day1, &forged).await.unwrap_err();
    assert!(matches!(err, WitnessError::Conflict { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("{prefix}/{day1}")),
        "{err}"
    );
    // What an auditor downloads: the witness file, one line per day.
    assert_eq!(witness.lines().await.unwrap(), [line1, line2]);
    let param = aws_sdk_ssm::Client::new(&config)
        .get_parameter()
        .name(format!("{prefix}/{day1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(param.parameter.unwrap().version, 1, "never overwritten");
}
