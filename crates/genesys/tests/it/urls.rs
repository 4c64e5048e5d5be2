//! Attachment URLs: which go through the downloads API, which are refused
//! before any request, and which end as `missing[]` while the rest of the
//! conversation is archived.

use tvault_core::Outcome;
use tvault_core::ports::{ConversationSource, Deadline, SourceError};
use tvault_core::secret::Secret;
use tvault_core::transcript::AttachmentRef;
use tvault_genesys::{Config, GenesysSource};
use tvault_testkit::genesys::{CLIENT_ID, CLIENT_SECRET, FakeGenesys, Fault, Route};

use crate::util::*;

/// Archive the sample conversation; it must commit with `missing` missing attachments.
async fn archived(fake: &FakeGenesys, missing: usize) -> (Setup, tvault_core::archive::Archived) {
    let s = setup(source(fake));
    let out = s
        .archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await
        .unwrap_or_else(|e| panic!("the conversation must be archived: {e}"));
    let Outcome::Archived(a) = out else {
        panic!("{out:?}")
    };
    assert_eq!(a.missing.len(), missing, "{:?}", a.missing);
    assert_eq!(a.attachments, 2 - missing);
    assert_eq!(s.manifests(CONV).await[0].missing.len(), missing);
    (s, a)
}

#[tokio::test]
async fn download_urls_on_production_genesys_hosts_go_through_the_configured_downloads_api() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut c = sample(CONV);
    // The transcript names Genesys's production hosts; the bytes must come
    // through the configured API (the fake) and nothing may go to those hosts.
    let mut hosts = [
        "https://api.mypurecloud.ie",
        "https://api-downloads.usw2.pure.cloud",
    ]
    .iter();
    for a in c.attachments_mut() {
        a.url_base = hosts.next().map(|h| h.to_string());
    }
    fake.add(c);
    archived(&fake, 0).await;
    assert_eq!(fake.count(Route::DownloadUrl), 2);
    assert_eq!(fake.count(Route::Signed), 2);
}

#[tokio::test]
async fn a_401_from_a_signed_url_gets_one_fresh_url() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    fake.script(Route::Signed, [Fault::Status(401)]);
    archived(&fake, 0).await;
    assert_eq!(fake.count(Route::DownloadUrl), 3);
    assert_eq!(fake.count(Route::Signed), 3);
}

#[tokio::test]
async fn a_fresh_signed_url_refused_too_is_missing_and_the_rest_is_archived() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    fake.script(Route::Signed, [Fault::Status(403), Fault::Status(403)]);
    let (_, a) = archived(&fake, 1).await;
    assert!(
        a.missing[0]
            .reason
            .contains("fresh signed URL was refused too")
            && a.missing[0].reason.contains("403"),
        "{}",
        a.missing[0].reason
    );
    assert_eq!(fake.count(Route::DownloadUrl), 3);
}

#[tokio::test]
async fn a_third_party_403_is_missing_not_a_refused_credential() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut c = sample(CONV);
    for a in c.attachments_mut() {
        a.third_party = true;
        a.url_base = Some(fake.other_base_url());
    }
    fake.add(c);
    fake.script(Route::Cdn, [Fault::Status(403)]);
    let (_, a) = archived(&fake, 1).await;
    let reason = &a.missing[0].reason;
    assert!(
        reason.contains("403") && reason.contains("third-party"),
        "{reason}"
    );
    assert_eq!(fake.credentials_on_anonymous_routes(), 0);
}

#[tokio::test]
async fn a_redirect_to_plain_http_elsewhere_is_missing_and_never_retried() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    fake.script(
        Route::Signed,
        [Fault::Redirect {
            location: "http://cdn.example.invalid/a.jpg".into(),
        }],
    );
    let (_, a) = archived(&fake, 1).await;
    let reason = &a.missing[0].reason;
    assert!(reason.contains("plain http"), "{reason}");
    assert!(!reason.contains("Signature"), "{reason}");
    // One request per attachment: a refused redirect is final, not retried.
    assert_eq!(fake.count(Route::Signed), 2);
}

#[tokio::test]
async fn more_than_five_redirects_is_missing() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    let loop_to = format!(
        "{}/signed/{}?Signature=loop",
        fake.other_base_url(),
        the_download_id(&fake, PHOTO_ID).await
    );
    // The photo's signed URL redirects to itself on another host, six times.
    fake.script(
        Route::Signed,
        std::iter::repeat_n(Fault::Redirect { location: loop_to }, 6),
    );
    let (_, a) = archived(&fake, 1).await;
    assert_eq!(a.missing[0].attachment_id.as_str(), PHOTO_ID);
    let reason = &a.missing[0].reason;
    assert!(reason.contains("more than 5 redirects"), "{reason}");
    // The first request and five redirects followed: six requests, not
    // retried; then one for the invoice.
    assert_eq!(fake.count(Route::Signed), 7);
}

#[tokio::test]
async fn no_referer_travels_with_a_redirect() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    let elsewhere = format!(
        "{}/signed/{}?Signature=second-host",
        fake.other_base_url(),
        the_download_id(&fake, PHOTO_ID).await
    );
    fake.script(
        Route::Signed,
        [Fault::Redirect {
            location: elsewhere,
        }],
    );
    archived(&fake, 0).await;
    assert_eq!(fake.count(Route::Signed), 3, "the redirect was followed");
    assert_eq!(fake.referers(), Vec::<String>::new());
    assert_eq!(fake.credentials_on_anonymous_routes(), 0);
}

#[tokio::test]
async fn in_production_loopback_local_and_http_urls_are_refused_without_a_request() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut c = sample(CONV);
    for a in c.attachments_mut() {
        a.third_party = true;
    }
    fake.add(c);
    let dl = the_download_id(&fake, PHOTO_ID).await;
    let before = fake.requests().len();
    // A production configuration: the attachment URLs below are what a
    // crafted transcript could carry (in a Lambda, 127.0.0.1:9001 is the Runtime API).
    let config = Config::builder()
        .client_id(CLIENT_ID)
        .client_secret(Secret::new(CLIENT_SECRET))
        .region("eu-west-1")
        .build()
        .unwrap();
    let src = GenesysSource::new(config).unwrap();
    let port = fake.base_url().rsplit(':').next().unwrap().to_string();
    for url in [
        format!("http://127.0.0.1:{port}/cdn/{dl}"),
        format!("https://127.0.0.1:{port}/cdn/{dl}"),
        format!("https://localhost:{port}/cdn/{dl}"),
        format!("https://[::1]:{port}/cdn/{dl}"),
        format!("https://0.0.0.0:{port}/cdn/{dl}"),
        "https://169.254.169.254/latest/meta-data/".to_string(),
        "http://cdn.example.invalid/a.jpg".to_string(),
    ] {
        let att = AttachmentRef {
            url: Some(url.clone()),
            ..Default::default()
        };
        match src.open_attachment(&att, Deadline::NONE).await {
            Err(SourceError::Gone { reason }) => {
                assert!(reason.contains("refused to fetch"), "{url}: {reason}")
            }
            Err(e) => panic!("{url}: {e}"),
            Ok(_) => panic!("{url} was fetched"),
        }
    }
    assert_eq!(fake.requests().len(), before, "nothing reached the fake");
    assert_eq!(src.token_requests(), 0);
}

/// The download id the fake gave an attachment of the sample conversation.
async fn the_download_id(fake: &FakeGenesys, attachment: &str) -> String {
    let fetched = source(fake)
        .fetch_transcript(
            &tvault_core::ConversationId::new(CONV).unwrap(),
            Deadline::NONE,
        )
        .await
        .unwrap();
    let url = fetched
        .draft
        .messages
        .iter()
        .flat_map(|m| &m.attachments)
        .find(|(id, _)| id.as_str() == attachment)
        .and_then(|(_, r)| r.url.clone())
        .unwrap();
    url.rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn control_characters_of_a_crafted_url_never_reach_the_reason() {
    let fake = FakeGenesys::start().await.unwrap();
    let mut c = sample(CONV);
    for a in c.attachments_mut().filter(|a| a.id == PHOTO_ID) {
        a.third_party = true;
        a.url_base = Some(format!("{}/x\u{1b}[2Jy\r", fake.other_base_url()));
    }
    fake.add(c);
    // Its path is no route of the fake's; that route answers with a refused
    // redirect, whose reason names the URL (without its query).
    fake.script(
        Route::Unknown,
        [Fault::Redirect {
            location: "http://cdn.example.invalid/a.jpg".into(),
        }],
    );
    let (_, a) = archived(&fake, 1).await;
    let reason = &a.missing[0].reason;
    assert!(reason.contains("/x%1B[2Jy/cdn/"), "{reason:?}");
    assert!(!reason.chars().any(char::is_control), "{reason:?}");
}
