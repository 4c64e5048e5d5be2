//! The two event shapes archived end to end, and the messages-API fallback.

use tvault_core::manifest::Role;
use tvault_core::ports::Deadline;
use tvault_core::transcript::Transcript;
use tvault_core::{ErrorClass, Outcome};
use tvault_testkit::genesys::{FakeConversation, FakeGenesys, Route, Sha};

use crate::util::*;

#[tokio::test]
async fn lifecycle_event_archives_transcript_attachments_sources_and_manifest() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    let s = setup(source(&fake));
    let out = s
        .archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await
        .unwrap();
    let Outcome::Archived(a) = out else {
        panic!("{out:?}")
    };
    assert_eq!(a.attachments, 2);
    assert!(a.missing.is_empty());

    let manifests = s.manifests(CONV).await;
    assert_eq!(manifests.len(), 1);
    let m = &manifests[0];
    assert_eq!(m.conversation.message_count, 5);
    assert_eq!(m.conversation.attachment_count, 2);

    // The transcript: every message, in time order, with senders and attachment paths.
    let t_entry = m.transcript().unwrap();
    let t: Transcript =
        serde_json::from_slice(&std::fs::read(s.file(&t_entry.path)).unwrap()).unwrap();
    let times: Vec<_> = t
        .messages
        .iter()
        .map(|m| m.timestamp.clone().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    assert_eq!(t.messages.len(), 5);
    assert_eq!(
        t.messages[0].text.as_deref(),
        Some("Hi, my order arrived damaged.")
    );
    assert_eq!(t.messages[1].sender.name.as_deref(), Some("Aoife Byrne"));
    assert_eq!(t.start_time.as_deref(), Some("2026-09-20T09:14:03.512Z"));
    assert_eq!(t.end_time.as_deref(), Some("2026-09-20T09:31:40.123Z"));

    // Each attachment byte-identical on disk, with its hash in the manifest.
    for (id, bytes) in [(PHOTO_ID, photo()), (INVOICE_ID, invoice())] {
        let e = m
            .objects
            .iter()
            .find(|o| o.attachment_id.as_ref().map(|a| a.as_str()) == Some(id))
            .unwrap();
        assert_eq!(e.role, Role::Attachment);
        assert_eq!(std::fs::read(s.file(&e.path)).unwrap(), bytes);
        assert_eq!(e.sha256, sha256_hex(&bytes));
        assert_eq!(e.size, bytes.len() as u64);
        let url = e.source_url.as_deref().unwrap();
        assert!(
            url.contains("/api/v2/downloads/") && !url.contains('?'),
            "{url}"
        );
    }
    // The raw responses under source/.
    let sources: Vec<&str> = m
        .objects
        .iter()
        .filter(|o| o.role == Role::Source)
        .map(|o| o.path.as_str())
        .collect();
    assert!(
        sources.iter().any(|p| p.contains("/source/event.")),
        "{sources:?}"
    );
    assert!(
        sources.iter().any(|p| p.contains("/source/recordings.")),
        "{sources:?}"
    );
    for p in &sources {
        assert!(s.file(p).exists());
    }
    assert_eq!(fake.count(Route::Token), 1);
    assert_eq!(fake.credentials_on_anonymous_routes(), 0);

    // The same event again: already in vault, nothing downloaded.
    let signed = fake.count(Route::Signed);
    let again = s
        .archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await
        .unwrap();
    assert!(matches!(again, Outcome::AlreadyInVault { .. }), "{again:?}");
    assert_eq!(fake.count(Route::Signed), signed);
}

#[tokio::test]
async fn guide_shaped_event_resolves_both_attachments_through_the_messages_api() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    let s = setup(source(&fake));
    let raw = fixture("SEED_ASSUMED__eventbridge_transcripts__NOT_A_REAL_TOPIC.json");
    let out = s.archiver.archive_raw(&raw, Deadline::NONE).await.unwrap();
    let Outcome::Archived(a) = out else {
        panic!("{out:?}")
    };
    assert_eq!(a.attachments, 2);
    assert!(a.missing.is_empty(), "{:?}", a.missing);
    let m = &s.manifests(CONV).await[0];
    for (id, bytes) in [(PHOTO_ID, photo()), (INVOICE_ID, invoice())] {
        let e = m
            .objects
            .iter()
            .find(|o| o.attachment_id.as_ref().map(|a| a.as_str()) == Some(id))
            .unwrap();
        assert_eq!(std::fs::read(s.file(&e.path)).unwrap(), bytes);
        assert_eq!(e.sha256, sha256_hex(&bytes));
    }
    // One GET per message named, kept as message-1 and message-2; no recordings call.
    assert_eq!(fake.count(Route::Message), 2);
    assert_eq!(fake.count(Route::Recordings), 0);
    let objects = s.objects(CONV).await;
    assert!(objects.iter().any(|p| p.contains("/source/message-1.")));
    assert!(objects.iter().any(|p| p.contains("/source/message-2.")));
    // The transcript names the resolved file names and types.
    let t: Transcript =
        serde_json::from_slice(&std::fs::read(s.file(&m.transcript().unwrap().path)).unwrap())
            .unwrap();
    let photo_entry = &t.messages[2].attachments[0];
    assert_eq!(photo_entry.name.as_deref(), Some("IMG_20260920_091640.jpg"));
    assert_eq!(photo_entry.content_type.as_deref(), Some("image/jpeg"));
}

#[tokio::test]
async fn conversation_without_a_messaging_recording_is_read_through_the_messages_api() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut c = sample(CONV);
    c.with_recording = false;
    fake.add(c);
    let s = setup(source(&fake));
    let out = s
        .archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await
        .unwrap();
    let Outcome::Archived(a) = out else {
        panic!("{out:?}")
    };
    assert_eq!(a.attachments, 2);
    assert_eq!(fake.count(Route::Conversation), 1);
    assert_eq!(fake.count(Route::Bulk), 1);
    let objects = s.objects(CONV).await;
    for name in ["recordings", "conversation", "messages-bulk"] {
        assert!(
            objects
                .iter()
                .any(|p| p.contains(&format!("/source/{name}."))),
            "{name}: {objects:?}"
        );
    }
    let m = &s.manifests(CONV).await[0];
    assert_eq!(m.conversation.message_count, 5);
    let t: Transcript =
        serde_json::from_slice(&std::fs::read(s.file(&m.transcript().unwrap().path)).unwrap())
            .unwrap();
    assert_eq!(t.messages[0].purpose.as_deref(), Some("customer"));
    assert_eq!(t.messages[0].direction.as_deref(), Some("inbound"));
}

#[tokio::test]
async fn conversation_with_nothing_to_read_yet_is_not_ready() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut c = FakeConversation::sample(CONV, vec![], vec![]);
    c.with_recording = false;
    c.messages.clear();
    fake.add(c);
    let s = setup(source(&fake));
    let err = s
        .archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotReady, "{err}");
    assert!(s.manifests(CONV).await.is_empty());
}

#[tokio::test]
async fn attachment_from_a_third_party_host_is_fetched_without_credentials() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut c = sample(CONV);
    for a in c.attachments_mut() {
        a.third_party = true;
        a.sha = Sha::Real;
    }
    fake.add(c);
    let s = setup(source(&fake));
    let out = s
        .archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Archived(_)), "{out:?}");
    assert_eq!(fake.count(Route::Cdn), 2);
    assert_eq!(fake.count(Route::DownloadUrl), 0);
    assert_eq!(fake.credentials_on_anonymous_routes(), 0);
}

#[tokio::test]
async fn attachment_id_unknown_to_genesys_is_missing_with_a_reason() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut c = sample(CONV);
    // Genesys no longer lists the invoice on its message (nor anywhere else).
    for m in &mut c.messages {
        m.attachments.retain(|a| a.id != INVOICE_ID);
    }
    fake.add(c);
    let s = setup(source(&fake));
    let raw = fixture("SEED_ASSUMED__eventbridge_transcripts__NOT_A_REAL_TOPIC.json");
    let out = s.archiver.archive_raw(&raw, Deadline::NONE).await.unwrap();
    let Outcome::Archived(a) = out else {
        panic!("{out:?}")
    };
    assert_eq!(a.attachments, 1);
    assert_eq!(a.missing.len(), 1);
    assert_eq!(a.missing[0].attachment_id.as_str(), INVOICE_ID);
    assert!(
        a.missing[0].reason.contains("not found") && a.missing[0].reason.contains("not in message"),
        "{}",
        a.missing[0].reason
    );
    // Looked for in its message first, then in all of the conversation's messages.
    assert_eq!(fake.count(Route::Message), 2);
    assert_eq!(fake.count(Route::Bulk), 1);
}
