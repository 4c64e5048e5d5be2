//! `GenesysSource::check_permissions` against the fake: a probe's verdict
//! agrees with what the archive itself meets on the same API, and only a 403
//! that says a permission is missing is read as one.

use tvault_core::ConversationId;
use tvault_core::ports::{ConversationSource, Deadline, SourceError};
use tvault_genesys::permissions::Verdict;
use tvault_testkit::genesys::{FakeGenesys, Fault, Route};

use crate::util::*;

fn no_deadline() -> Deadline {
    Deadline::NONE
}

#[tokio::test]
async fn a_role_without_any_recording_permission_fails_the_probe_and_the_archive_alike() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    let src = source(&fake);
    let wanted = [
        "recording:recording:view",
        "recording:recordingSegment:view",
        "recording:snippetRecording:view",
        "recording:screenRecording:view",
    ];
    for p in wanted {
        fake.deny_permission(p);
    }
    let verdicts = src.check_permissions(&no_deadline).await;
    let apis: Vec<&str> = verdicts.iter().map(|(p, _)| p.api).collect();
    assert_eq!(apis, ["recordings", "messages", "downloads", "analytics"]);
    assert_eq!(
        verdicts[0].1,
        Verdict::Missing {
            permissions: wanted.iter().map(|p| p.to_string()).collect(),
            code: "missing.any.permissions".into(),
        }
    );
    for (p, v) in &verdicts[1..] {
        assert!(matches!(v, Verdict::Granted { .. }), "{}: {v:?}", p.api);
    }
    // The archive meets the same refusal on a conversation that exists.
    let conv = ConversationId::new(CONV).unwrap();
    let err = src
        .fetch_transcript(&conv, Deadline::NONE)
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Access { .. }), "{err}");
    assert!(err.to_string().contains("missing.any.permissions"), "{err}");
}

#[tokio::test]
async fn a_403_that_names_no_missing_permission_is_unclear_not_missing() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.script(Route::DownloadUrl, [Fault::Status(403)]);
    let verdicts = source(&fake).check_permissions(&no_deadline).await;
    let (probe, verdict) = &verdicts[2];
    assert_eq!(probe.api, "downloads");
    match verdict {
        Verdict::Unclear { reason } => assert!(reason.contains("HTTP 403"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
