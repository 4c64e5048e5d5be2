//! A conversation that has not ended (the first agent's `acw` after a
//! transfer arrives while it goes on) is not ready: never a committed
//! generation, through either API.

use tvault_core::ports::Deadline;
use tvault_core::{ErrorClass, Outcome};
use tvault_testkit::genesys::{FakeGenesys, Route};

use crate::util::*;

/// The after-call work of the first agent, who transferred the conversation
/// away: it arrives while the customer is still talking to the second agent.
/// (`user.end` would say the same, but the classifier skips it.)
fn transfer_acw(conv: &str) -> String {
    fixture("eventbridge_acw__webmessaging.json").replace(CONV, conv)
}

#[tokio::test]
async fn a_transferred_conversation_on_the_messages_api_is_not_ready_until_the_customer_leaves() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut open = sample(CONV).still_open();
    open.with_recording = false;
    fake.add(open);
    let s = setup(source(&fake));
    let err = s
        .archiver
        .archive_raw(&transfer_acw(CONV), Deadline::NONE)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotReady, "{err}");
    let why = err.to_string();
    assert!(why.contains(CONV), "names the record: {why}");
    assert!(
        why.contains("participant") && why.contains("customer") && why.contains("no endTime"),
        "{why}"
    );
    assert!(s.manifests(CONV).await.is_empty(), "no partial generation");
    assert_eq!(fake.count(Route::Conversation), 1);

    // The customer leaves: the next delivery archives the whole conversation.
    let mut ended = sample(CONV);
    ended.with_recording = false;
    fake.add(ended);
    let out = s
        .archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Archived(_)), "{out:?}");
    let t = transcript_of(&s, CONV).await;
    assert_eq!(t.end_time.as_deref(), Some("2026-09-20T09:31:40.123Z"));
    assert_eq!(t.messages.len(), 5);
}

#[tokio::test]
async fn a_messaging_recording_without_an_end_time_is_not_ready() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV).still_open());
    let s = setup(source(&fake));
    let err = s
        .archiver
        .archive_raw(&transfer_acw(CONV), Deadline::NONE)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotReady, "{err}");
    assert!(err.to_string().contains("has no endTime"), "{err}");
    assert!(s.manifests(CONV).await.is_empty());
    // Nothing was downloaded for a generation that could not be committed.
    assert_eq!(fake.count(Route::Signed), 0);
}
