//! Reconciliation against a real (in-memory) vault: what counts as archived,
//! missing, incomplete or unreadable, and where the vault is looked.

// Tests may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::util;

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use tvault_core::days::DayRange;
use tvault_core::ports::{Deadline, SystemClock, Vault};
use tvault_core::reconcile::{self, ExpectedConversation, Holding, Options};
use tvault_core::{Archiver, ConversationId, Outcome, keys};

fn event(conv: &str, day: &str, with_attachments: bool) -> String {
    let mut e: serde_json::Value =
        serde_json::from_str(&open_event(conv, day, with_attachments)).unwrap();
    e["detail"]["endTime"] = format!("{day}T09:45:00.000Z").into();
    serde_json::to_string(&e).unwrap()
}

/// As the seed fixture: a transcript without the conversation's end.
fn open_event(conv: &str, day: &str, with_attachments: bool) -> String {
    let mut e: serde_json::Value =
        serde_json::from_str(&util::transcript_events("rec", 1)[0]).unwrap();
    e["detail"]["conversationId"] = conv.into();
    for m in e["detail"]["messages"].as_array_mut().unwrap() {
        let t = m["timestamp"].as_str().unwrap().replace("2026-09-20", day);
        m["timestamp"] = t.into();
        if !with_attachments {
            m.as_object_mut().unwrap().remove("attachmentId");
        }
    }
    serde_json::to_string(&e).unwrap()
}

fn expected(conv: &str, start: &str) -> ExpectedConversation {
    let start: DateTime<Utc> = format!("{start}T09:00:00Z").parse().unwrap();
    ExpectedConversation {
        conversation_id: ConversationId::new(conv).unwrap(),
        start,
        end: Some(start + chrono::Duration::minutes(30)),
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[tokio::test]
async fn every_kind_of_holding_is_told_apart() {
    let vault = tvault_vault::open("memory://").unwrap();
    let archiver = Archiver::new(vault.clone(), None, Arc::new(SystemClock));
    let put_raw = |raw: String| {
        let archiver = &archiver;
        async move {
            let out = archiver.archive_raw(&raw, Deadline::NONE).await.unwrap();
            assert!(matches!(out, Outcome::Archived(_)), "{out:?}");
        }
    };
    let put = |conv: &str, d: &str, att: bool| put_raw(event(conv, d, att));
    // Complete, indexed on its start day.
    put("c-same-day", "2026-03-01", false).await;
    // Complete, ended (and indexed) two days after it started: inside the slack.
    put("c-later", "2026-03-04", false).await;
    // Complete, indexed far outside the days read: found through its own prefix.
    put("c-far", "2026-05-30", false).await;
    // Archived without its attachments (no Genesys client here).
    put("c-partial", "2026-03-02", true).await;
    // Only a generation without the conversation's end: incomplete.
    put_raw(open_event("c-open", "2026-03-01", false)).await;
    // A generation without the end, then one with it: archived.
    put_raw(open_event("c-ended-later", "2026-03-01", false)).await;
    put("c-ended-later", "2026-03-01", false).await;
    // An archive that never committed: a date-index marker and no manifest.
    let half = ConversationId::new("c-half").unwrap();
    vault
        .put_new(
            &keys::index(
                "2026-03-01T10:00:00Z".parse().unwrap(),
                &half,
                "0123456789abcdef",
            ),
            Bytes::new(),
            "application/octet-stream",
            Deadline::NONE,
        )
        .await
        .unwrap();
    // A manifest that is not valid.
    let bad = ConversationId::new("c-bad").unwrap();
    vault
        .put_new(
            &keys::manifest(&bad, "fedcba9876543210"),
            Bytes::from_static(b"{not json"),
            "application/json",
            Deadline::NONE,
        )
        .await
        .unwrap();

    let range = DayRange::parse("2026-03-01", "2026-03-02").unwrap();
    let listing = vec![
        expected("c-same-day", "2026-03-01"),
        expected("c-later", "2026-03-02"),
        expected("c-far", "2026-03-02"),
        expected("c-partial", "2026-03-02"),
        expected("c-half", "2026-03-01"),
        expected("c-bad", "2026-03-01"),
        expected("c-never", "2026-03-02"),
        expected("c-open", "2026-03-01"),
        expected("c-ended-later", "2026-03-01"),
        // Outside the range: not counted.
        expected("c-outside", "2026-03-03"),
    ];
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let report = reconcile::reconcile(
        vault.as_ref(),
        range,
        &listing,
        Options {
            concurrency: 4,
            index_days_after: 3,
        },
        &|_, _| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        },
    )
    .await
    .unwrap();

    let status = |c: &str| {
        report
            .conversations
            .iter()
            .find(|r| r.conversation_id.as_str() == c)
            .map(|r| r.holding.clone())
    };
    assert!(matches!(
        status("c-same-day"),
        Some(Holding::Archived { .. })
    ));
    assert!(matches!(status("c-later"), Some(Holding::Archived { .. })));
    assert!(matches!(status("c-far"), Some(Holding::Archived { .. })));
    match status("c-partial") {
        Some(Holding::ArchivedWithMissingAttachments {
            missing_attachments,
            ..
        }) => assert_eq!(missing_attachments.len(), 2),
        other => panic!("c-partial: {other:?}"),
    }
    assert_eq!(status("c-half"), Some(Holding::Missing));
    assert!(matches!(status("c-bad"), Some(Holding::Unreadable { .. })));
    assert_eq!(status("c-never"), Some(Holding::Missing));
    assert_eq!(status("c-outside"), None);
    let Some(Holding::Incomplete { generation }) = status("c-open") else {
        panic!("c-open: {:?}", status("c-open"))
    };
    assert_eq!(generation.len(), 16);
    assert!(matches!(
        status("c-ended-later"),
        Some(Holding::Archived { .. })
    ));
    assert_eq!(calls.into_inner(), 9);

    assert_eq!(report.days.len(), 2);
    let d1 = &report.days[0];
    assert_eq!(
        (d1.day, d1.expected, d1.archived, d1.missing, d1.incomplete),
        (day("2026-03-01"), 5, 2, 2, 1)
    );
    let ids = |v: &[ConversationId]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&d1.missing_ids), ["c-bad", "c-half"]);
    assert_eq!(ids(&d1.incomplete_ids), ["c-open"]);
    assert_eq!(report.incomplete(), 1);
    let d2 = &report.days[1];
    assert_eq!(
        (
            d2.expected,
            d2.archived,
            d2.missing,
            d2.archived_with_missing_attachments
        ),
        (4, 3, 1, 1)
    );
    assert_eq!(ids(&d2.missing_ids), ["c-never"]);
    assert_eq!(ids(&d2.missing_attachment_ids), ["c-partial"]);
    assert!(!report.is_complete());
    assert_eq!(report.gaps().count(), 5);
}

#[tokio::test]
async fn an_empty_listing_is_complete_and_still_reports_each_day() {
    let vault = tvault_vault::open("memory://").unwrap();
    let range = DayRange::parse("2026-03-01", "2026-03-03").unwrap();
    let report = reconcile::reconcile(vault.as_ref(), range, &[], Options::default(), &|_, _| {})
        .await
        .unwrap();
    assert!(report.is_complete());
    assert_eq!(report.days.len(), 3);
    assert!(report.days.iter().all(|d| d.expected == 0));
}
