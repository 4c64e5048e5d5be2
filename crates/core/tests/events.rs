//! Every fixture in `fixtures/genesys/` and hand-made bad inputs through the
//! event classifier.

// Tests may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use tvault_core::event::{Classified, InvalidInput, classify, split_document};
use tvault_core::id::IdError;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/genesys")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const CONV: &str = "8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f";

/// What each event fixture must classify as. API responses are not events;
/// they are listed so that a new fixture cannot go untested.
const EXPECTED: &[(&str, &str)] = &[
    ("eventbridge_customer_end__webmessaging.json", "lifecycle"),
    ("eventbridge_acw__webmessaging.json", "lifecycle"),
    ("eventbridge_user_end__webmessaging.json", "skipped"),
    ("eventbridge_transcription__voice_only.json", "skipped"),
    (
        "SEED_ASSUMED__eventbridge_transcripts__NOT_A_REAL_TOPIC.json",
        "transcript",
    ),
    (
        "SEED_ASSUMED__eventbridge_transcripts_genesys_wrapped__NOT_A_REAL_TOPIC.json",
        "transcript",
    ),
    ("api_get_conversation_recordings__chat.json", "not an event"),
    (
        "api_get_conversation_recordings__messaging.json",
        "not an event",
    ),
    ("api_get_message_conversation.json", "not an event"),
    (
        "api_post_messages_bulk__with_attachment.json",
        "not an event",
    ),
    (
        "api_get_download_url__issueRedirect_false.json",
        "not an event",
    ),
    (
        "api_post_analytics_conversations_details_query__request.json",
        "not an event",
    ),
    (
        "api_post_analytics_conversations_details_jobs__request.json",
        "not an event",
    ),
    (
        "api_analytics_conversations_details_jobs__responses.json",
        "not an event",
    ),
    ("oauth_token_response.json", "not an event"),
    ("http_429_response.json", "not an event"),
    ("http_429_response__token_rate.json", "not an event"),
];

fn verdict(raw: &str) -> &'static str {
    match classify(raw) {
        Ok(Classified::Lifecycle(_)) => "lifecycle",
        Ok(Classified::Transcript(_)) => "transcript",
        Ok(Classified::Skipped(_)) => "skipped",
        Err(InvalidInput::NotAnEvent(_)) => "not an event",
        Err(_) => "invalid",
    }
}

#[test]
fn every_fixture_file_is_covered_and_classified_as_expected() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    for name in &names {
        let want = EXPECTED.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        let want = want.unwrap_or_else(|| panic!("fixture {name} has no expectation in this test"));
        assert_eq!(verdict(&fixture(name)), want, "{name}");
    }
    assert_eq!(names.len(), EXPECTED.len());
}

#[test]
fn lifecycle_fixtures_name_the_conversation_media_and_time() {
    for name in [
        "eventbridge_customer_end__webmessaging.json",
        "eventbridge_acw__webmessaging.json",
    ] {
        let Ok(Classified::Lifecycle(e)) = classify(&fixture(name)) else {
            panic!("{name}")
        };
        assert_eq!(e.conversation_id.as_str(), CONV);
        assert_eq!(e.media_type.as_deref(), Some("MESSAGE"));
        assert!(
            e.info
                .topic
                .as_deref()
                .unwrap()
                .starts_with(&format!("v2.detail.events.conversation.{CONV}."))
        );
        assert!(e.info.id.is_some());
    }
    let Ok(Classified::Lifecycle(e)) =
        classify(&fixture("eventbridge_customer_end__webmessaging.json"))
    else {
        panic!()
    };
    // eventTime 1789896700123 ms.
    assert_eq!(e.info.time.unwrap().timestamp_millis(), 1_789_896_700_123);
}

#[test]
fn both_transcript_shapes_give_the_same_draft() {
    let flat = classify(&fixture(
        "SEED_ASSUMED__eventbridge_transcripts__NOT_A_REAL_TOPIC.json",
    ))
    .unwrap();
    let wrapped = classify(&fixture(
        "SEED_ASSUMED__eventbridge_transcripts_genesys_wrapped__NOT_A_REAL_TOPIC.json",
    ))
    .unwrap();
    let (Classified::Transcript(a), Classified::Transcript(b)) = (flat, wrapped) else {
        panic!()
    };
    assert_eq!(a.draft, b.draft);
    assert_eq!(a.draft.conversation_id.as_str(), CONV);
    assert_eq!(a.draft.messages.len(), 5);
    let ids: Vec<_> = a
        .draft
        .unresolved_attachments()
        .into_iter()
        .map(|(_, id)| id.to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b",
            "a0b1c2d3-e4f5-4a6b-9c8d-7e6f5a4b3c2d"
        ]
    );
}

#[test]
fn voice_transcription_is_skipped_with_its_topic() {
    let Ok(Classified::Skipped(s)) =
        classify(&fixture("eventbridge_transcription__voice_only.json"))
    else {
        panic!()
    };
    assert!(s.topic.ends_with(".transcription"), "{}", s.topic);
}

#[test]
fn user_end_is_skipped_because_the_conversation_may_go_on() {
    let Ok(Classified::Skipped(s)) = classify(&fixture("eventbridge_user_end__webmessaging.json"))
    else {
        panic!("user.end must be skipped")
    };
    assert!(s.topic.ends_with(".user.end"), "{}", s.topic);
    for why in ["agent session", "transfer", "customer.end", "acw"] {
        assert!(
            s.reason.contains(why),
            "the reason says {why:?}: {}",
            s.reason
        );
    }
}

/// The event a case of `deploy/checks/rule_cases.json` describes (the same
/// construction as `rule_case_event` in `deploy/checks/test_templates.py`).
fn rule_case_event(case: &serde_json::Value) -> String {
    let topic = case["topic"].as_str().unwrap();
    let conv = "c-rule-case";
    let mut detail = serde_json::json!({
        "topicName": format!("v2.detail.events.conversation.{conv}.{topic}"),
        "version": "2",
        "timestamp": "2026-09-20T09:31:40.412Z",
    });
    if let Some(body) = case["eventBody"].as_object() {
        let mut body = body.clone();
        body.entry("conversationId").or_insert(conv.into());
        body.entry("eventTime")
            .or_insert(1_789_896_700_123u64.into());
        detail["eventBody"] = body.into();
    }
    serde_json::json!({
        "version": "0",
        "id": "rule-case",
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{topic}"),
        "source": "aws.partner/genesys.com/cloud/6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/tvault",
        "detail": detail,
    })
    .to_string()
}

#[test]
fn the_classifier_archives_exactly_what_the_eventbridge_rule_delivers() {
    // deploy/checks/test_templates.py holds the rule to the same cases.
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/checks/rule_cases.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let raw = match case["fixture"].as_str() {
            Some(name) => fixture(name),
            None => rule_case_event(case),
        };
        let got = classify(&raw);
        assert!(
            matches!(
                got,
                Ok(Classified::Lifecycle(_)) | Ok(Classified::Skipped(_))
            ),
            "{case}: {got:?}"
        );
        let archived = matches!(got, Ok(Classified::Lifecycle(_)));
        assert_eq!(
            archived,
            case["archive"].as_bool().unwrap(),
            "{case}: {got:?}"
        );
    }
}

fn lifecycle(body: &str) -> String {
    format!(
        r#"{{"id":"e1","detail-type":"v2.detail.events.conversation.{{id}}.customer.end","source":"aws.partner/genesys.com/cloud/o/s",
        "detail":{{"topicName":"v2.detail.events.conversation.c-1.customer.end","version":"2","eventBody":{body}}}}}"#
    )
}

#[test]
fn voice_lifecycle_event_is_skipped_for_its_media_type() {
    let raw = lifecycle(r#"{"conversationId":"c-1","mediaType":"VOICE","eventTime":1}"#);
    let Ok(Classified::Skipped(s)) = classify(&raw) else {
        panic!()
    };
    assert!(s.reason.contains("VOICE"));
}

#[test]
fn other_genesys_topics_are_skipped() {
    let raw = r#"{"detail-type":"v2.detail.events.conversation.{id}.customer.start",
      "detail":{"topicName":"v2.detail.events.conversation.c-1.customer.start","eventBody":{"conversationId":"c-1","mediaType":"MESSAGE"}}}"#;
    assert!(matches!(classify(raw), Ok(Classified::Skipped(_))));
    let raw = r#"{"detail-type":"v2.users.{id}.presence","detail":{"topicName":"v2.users.u1.presence","eventBody":{}}}"#;
    assert!(matches!(classify(raw), Ok(Classified::Skipped(_))));
}

#[test]
fn conversation_id_falls_back_to_the_topic() {
    let raw = lifecycle(r#"{"mediaType":"MESSAGE"}"#);
    let Ok(Classified::Lifecycle(e)) = classify(&raw) else {
        panic!()
    };
    assert_eq!(e.conversation_id.as_str(), "c-1");
}

#[test]
fn not_json_is_invalid_with_the_parser_position() {
    let err = classify("{\"detail\": ").unwrap_err();
    assert!(matches!(err, InvalidInput::NotJson(_)));
    assert!(err.to_string().contains("EOF while parsing"), "{err}");
    let err = classify("hello").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("not JSON: expected value at line 1 column 1"),
        "{err}"
    );
}

#[test]
fn truncated_fixture_is_invalid() {
    let full = fixture("eventbridge_customer_end__webmessaging.json");
    let err = classify(&full[..full.len() / 2]).unwrap_err();
    assert!(matches!(err, InvalidInput::NotJson(_)), "{err}");
}

#[test]
fn missing_conversation_id_is_invalid() {
    let raw = r#"{"detail-type":"v2.detail.events.conversation.{id}.customer.end","detail":{"eventBody":{"mediaType":"MESSAGE"}}}"#;
    let err = classify(raw).unwrap_err();
    assert!(matches!(err, InvalidInput::NoConversationId(_)), "{err}");
    assert!(
        err.to_string().contains("detail.eventBody.conversationId"),
        "{err}"
    );
}

#[test]
fn path_traversal_conversation_id_is_refused() {
    let raw = r#"{"detail":{"conversationId":"../x","messages":[]}}"#;
    let err = classify(raw).unwrap_err();
    assert_eq!(
        err,
        InvalidInput::UnsafeId {
            field: "detail.conversationId".into(),
            value: "../x".into(),
            reason: IdError::BadStart
        }
    );
    assert_eq!(
        err.to_string(),
        "unsafe detail.conversationId \"../x\": must start with a letter or digit"
    );
}

#[test]
fn overlong_conversation_id_is_refused_and_not_echoed_whole() {
    let id = "a".repeat(300);
    let raw = format!(r#"{{"detail":{{"conversationId":"{id}","messages":[]}}}}"#);
    let err = classify(&raw).unwrap_err();
    assert!(
        matches!(
            err,
            InvalidInput::UnsafeId {
                reason: IdError::TooLong(300),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().len() < 200, "{err}");
}

#[test]
fn unsafe_attachment_id_is_refused() {
    let raw = r#"{"detail":{"conversationId":"c1","messages":[{"messageId":"m","attachmentId":"a/../../b"}]}}"#;
    let err = classify(raw).unwrap_err();
    assert!(
        err.to_string().contains("detail.messages[0].attachmentId"),
        "{err}"
    );
}

#[test]
fn event_time_as_a_string_is_a_wrong_type() {
    let raw = lifecycle(
        r#"{"conversationId":"c-1","mediaType":"MESSAGE","eventTime":"2026-09-20T09:31:40Z"}"#,
    );
    let err = classify(&raw).unwrap_err();
    assert_eq!(
        err.to_string(),
        "detail.eventBody.eventTime: expected epoch milliseconds (an integer), found a string"
    );
}

#[test]
fn conversation_id_of_wrong_type_or_mismatching_topic_is_invalid() {
    let err = classify(&lifecycle(r#"{"conversationId":42}"#)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "detail.eventBody.conversationId: expected a string, found a number"
    );
    let err = classify(&lifecycle(
        r#"{"conversationId":"c-2","mediaType":"MESSAGE"}"#,
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("does not match the topic"),
        "{err}"
    );
}

#[test]
fn bad_message_timestamp_names_the_message() {
    let raw = r#"{"detail":{"conversationId":"c1","messages":[{"messageId":"m","timestamp":"yesterday"}]}}"#;
    let err = classify(raw).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("detail.messages[0].timestamp: \"yesterday\" is not an RFC 3339 time"),
        "{err}"
    );
}

#[test]
fn times_that_leave_years_1_to_9999_in_utc_are_invalid_and_name_the_field() {
    let raw =
        r#"{"detail":{"conversationId":"c1","endTime":"9999-12-31T23:30:00-01:00","messages":[]}}"#;
    let err = classify(raw).unwrap_err();
    assert_eq!(
        err.to_string(),
        "detail.endTime: \"9999-12-31T23:30:00-01:00\" is outside the years 0001-9999 once converted to UTC"
    );
    let raw = r#"{"detail":{"conversationId":"c1","messages":[{"messageId":"m","timestamp":"0001-01-01T00:30:00+01:00"}]}}"#;
    let err = classify(raw).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("detail.messages[0].timestamp: \"0001-01-01T00:30:00+01:00\" is outside"),
        "{err}"
    );
    for ms in ["253402300800000", "-62135596800001", "9223372036854775807"] {
        let err = classify(&lifecycle(&format!(
            r#"{{"conversationId":"c-1","mediaType":"MESSAGE","eventTime":{ms}}}"#
        )))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "detail.eventBody.eventTime: {ms} is outside the years 0001-9999 once converted to UTC"
            )
        );
    }
    // The last millisecond of 9999 is still a time.
    let ok = classify(&lifecycle(
        r#"{"conversationId":"c-1","mediaType":"MESSAGE","eventTime":253402300799999}"#,
    ));
    assert!(matches!(ok, Ok(Classified::Lifecycle(_))), "{ok:?}");
}

#[test]
fn json_that_is_not_an_event_is_invalid() {
    assert!(matches!(
        classify("[1,2]"),
        Err(InvalidInput::NotAnEvent(_))
    ));
    assert!(matches!(
        classify(r#"{"detail":"x"}"#),
        Err(InvalidInput::WrongType { .. })
    ));
    assert!(matches!(
        classify(r#"{"detail":{"eventBody":{}}}"#),
        Err(InvalidInput::NotAnEvent(_))
    ));
}

#[test]
fn sqs_event_bodies_are_unwrapped_one_per_record() {
    let event = fixture("eventbridge_customer_end__webmessaging.json");
    let sqs = serde_json::json!({"Records": [
        {"messageId": "m1", "receiptHandle": "r", "body": event, "eventSource": "aws:sqs"},
        {"messageId": "m2", "receiptHandle": "r", "body": "not json"},
    ]});
    let records = split_document(&sqs.to_string()).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].message_id.as_deref(), Some("m1"));
    assert!(matches!(
        classify(records[0].body.as_ref().unwrap()),
        Ok(Classified::Lifecycle(_))
    ));
    assert!(matches!(
        classify(records[1].body.as_ref().unwrap()),
        Err(InvalidInput::NotJson(_))
    ));

    let one = serde_json::json!({"messageId": "m3", "receiptHandle": "r", "body": event});
    let records = split_document(&one.to_string()).unwrap();
    assert_eq!(records[0].body.as_ref().unwrap(), &event);
}

#[test]
fn a_bare_eventbridge_event_is_one_record() {
    let event = fixture("eventbridge_acw__webmessaging.json");
    let records = split_document(&event).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].message_id, None);
}
