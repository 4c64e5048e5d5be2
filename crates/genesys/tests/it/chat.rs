//! Legacy chat (`mediaType` CHAT): archived from the chat recording's
//! `transcript[]`, never through the messages API (which answers 404 for it).

use serde_json::json;
use tvault_core::ports::Deadline;
use tvault_core::{ErrorClass, Outcome};
use tvault_testkit::genesys::{
    CHAT_AGENT_COMMUNICATION, CHAT_AGENT_USER, CHAT_CUSTOMER_COMMUNICATION, FakeConversation,
    FakeGenesys, Route,
};

use crate::util::*;

/// The chat of `fixtures/genesys/api_get_conversation_recordings__chat.json`.
const CHAT: &str = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";

#[tokio::test]
async fn a_chat_is_archived_from_its_recording_and_the_messages_api_404_is_never_a_failure() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(FakeConversation::chat_sample(CHAT));
    let s = setup(source(&fake));
    let out = s
        .archiver
        .archive_raw(&chat_end(CHAT), Deadline::NONE)
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Archived(_)), "{out:?}");
    // The messages API does not serve chats: it is not asked.
    assert_eq!(fake.count(Route::Conversation), 0);
    assert_eq!(fake.count(Route::Bulk), 0);

    let t = transcript_of(&s, CHAT).await;
    assert_eq!(t.media_type.as_deref(), Some("CHAT"));
    assert_eq!(t.start_time.as_deref(), Some("2026-09-21T15:02:11.000Z"));
    assert_eq!(t.end_time.as_deref(), Some("2026-09-21T15:19:47.000Z"));
    assert_eq!(t.messages.len(), 2);
    let (customer, agent) = (&t.messages[0], &t.messages[1]);
    assert_eq!(
        customer.id.as_deref(),
        Some("0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")
    );
    assert_eq!(
        customer.timestamp.as_deref(),
        Some("2026-09-21T15:02:15.000Z")
    );
    assert_eq!(customer.purpose.as_deref(), Some("customer"));
    assert_eq!(customer.direction.as_deref(), Some("inbound"));
    assert_eq!(
        customer.sender.address.as_deref(),
        Some(CHAT_CUSTOMER_COMMUNICATION)
    );
    assert_eq!(
        customer.text.as_deref(),
        Some("Hello, I cannot log in to my account.")
    );
    assert_eq!(agent.direction.as_deref(), Some("outbound"));
    assert_eq!(agent.purpose.as_deref(), Some("agent"));
    assert_eq!(agent.sender.name.as_deref(), Some("Sam Okafor"));
    assert_eq!(agent.sender.user_id.as_deref(), Some(CHAT_AGENT_USER));
    assert_eq!(
        agent.sender.address.as_deref(),
        Some(CHAT_AGENT_COMMUNICATION)
    );
    assert!(t.messages.iter().all(|m| m.body_type.is_none()));
    let m = &s.manifests(CHAT).await[0];
    assert_eq!(m.conversation.media_type.as_deref(), Some("CHAT"));
    assert_eq!(m.conversation.message_count, 2);
    assert!(
        m.objects
            .iter()
            .any(|o| o.path.contains("/source/recordings.")),
        "the chat recording is kept as received"
    );
}

#[tokio::test]
async fn a_chat_heard_from_an_event_and_from_a_backfill_is_one_generation_whatever_the_utc_form() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(FakeConversation::chat_sample(CHAT));
    let s = setup(source(&fake));
    let first = s
        .archiver
        .archive_raw(&chat_end(CHAT), Deadline::NONE)
        .await
        .unwrap();
    let Outcome::Archived(a) = first else {
        panic!("{first:?}")
    };
    // Genesys writes `utc` as epoch milliseconds this time; an event without
    // a media type (a backfill's) says nothing of CHAT either.
    let mut millis = FakeConversation::chat_sample(CHAT);
    millis.chat_utc_millis = true;
    fake.add(millis);
    let again = s
        .archiver
        .archive_raw(
            &chat_end(CHAT).replace("\"mediaType\": \"CHAT\",", ""),
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert!(
        matches!(&again, Outcome::AlreadyInVault { generation, .. } if *generation == a.generation),
        "{again:?}"
    );
}

#[tokio::test]
async fn chat_notices_and_member_changes_are_kept_and_marked_and_empty_typing_is_dropped() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut c = FakeConversation::chat_sample(CHAT);
    // `ChatMessage.bodyType` values from platform-client-sdk `ChatMessage.md`.
    c.chat_extra = vec![
        json!({"id": "j-1", "bodyType": "MEMBERJOIN", "utc": "2026-09-21T15:03:00.000Z",
            "participantPurpose": "agent", "user": {"id": CHAT_AGENT_USER, "name": "Sam Okafor"}}),
        json!({"id": "t-1", "bodyType": "TYPING", "utc": "2026-09-21T15:09:30.000Z",
            "participantPurpose": "agent"}),
        json!({"id": "n-1", "bodyType": "NOTICE", "body": "The agent transferred this chat.",
            "utc": "2026-09-21T15:12:00.000Z"}),
        json!({"id": "l-1", "bodyType": "memberleave", "utc": "2026-09-21T15:19:40.000Z",
            "participantPurpose": "customer"}),
    ];
    fake.add(c);
    let s = setup(source(&fake));
    let out = s
        .archiver
        .archive_raw(&chat_end(CHAT), Deadline::NONE)
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Archived(_)), "{out:?}");
    let t = transcript_of(&s, CHAT).await;
    let kinds: Vec<(Option<&str>, Option<&str>)> = t
        .messages
        .iter()
        .map(|m| (m.id.as_deref(), m.body_type.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            (Some("0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"), None),
            (Some("j-1"), Some("MEMBERJOIN")),
            (Some("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"), None),
            (Some("n-1"), Some("NOTICE")),
            (Some("l-1"), Some("MEMBERLEAVE")),
        ]
    );
    assert_eq!(
        t.messages[3].text.as_deref(),
        Some("The agent transferred this chat.")
    );
    let bytes =
        std::fs::read(s.file(&s.manifests(CHAT).await[0].transcript().unwrap().path)).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(text.matches("\"bodyType\"").count(), 3, "{text}");
}

#[tokio::test]
async fn a_chat_still_going_on_is_not_ready_and_commits_nothing() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(FakeConversation::chat_sample(CHAT).still_open());
    let s = setup(source(&fake));
    let err = s
        .archiver
        .archive_raw(&chat_end(CHAT), Deadline::NONE)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotReady, "{err}");
    assert!(err.to_string().contains("has no endTime"), "{err}");
    assert!(err.to_string().contains(CHAT), "names the record: {err}");
    assert!(s.manifests(CHAT).await.is_empty());
    assert_eq!(fake.count(Route::Conversation), 0);
}

#[tokio::test]
async fn a_chat_recording_without_lines_yet_is_not_ready() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut c = FakeConversation::chat_sample(CHAT);
    c.messages.clear();
    fake.add(c);
    let s = setup(source(&fake));
    let err = s
        .archiver
        .archive_raw(&chat_end(CHAT), Deadline::NONE)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotReady, "{err}");
    assert!(s.manifests(CHAT).await.is_empty());
    assert_eq!(fake.count(Route::Conversation), 0);
}
