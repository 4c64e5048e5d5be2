//! The fake Genesys API is only as strict as Genesys: a request Genesys would
//! answer differently (no `issueRedirect=false`, no `formatId=NONE`, a signed
//! URL asked of the API host) gets that different answer from the fake too,
//! so the client's tests would notice a client that stopped sending them.
//! (The limits and their sources are listed in the fake's `refusals` module.)

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use tvault_testkit::genesys::{CLIENT_ID, CLIENT_SECRET, FakeGenesys, Route};

use crate::util::*;

/// A plain HTTP client (no redirects followed) and a token from the fake.
async fn raw_client(fake: &FakeGenesys) -> (reqwest::Client, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token: serde_json::Value = http
        .post(format!("{}/oauth/token", fake.base_url()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice::<serde_json::Value>(&b).unwrap())
        .unwrap();
    (http, token["access_token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn the_downloads_api_redirects_unless_asked_for_the_url_and_signed_urls_live_on_another_host()
{
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    let (http, token) = raw_client(&fake).await;
    let dl = {
        let recordings: serde_json::Value = http
            .get(format!(
                "{}/api/v2/conversations/{CONV}/recordings?formatId=NONE",
                fake.base_url()
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| serde_json::from_slice::<serde_json::Value>(&b).unwrap())
            .unwrap();
        let url = recordings[0]["messagingTranscript"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| m["messageMediaAttachments"].as_array().cloned())
            .flatten()
            .find_map(|a| a["url"].as_str().map(str::to_string))
            .unwrap();
        url.rsplit('/').next().unwrap().to_string()
    };
    let downloads = format!("{}/api/v2/downloads/{dl}", fake.base_url());

    // Genesys's default (`issueRedirect` true): a redirect, not the JSON.
    let redirected = http
        .get(&downloads)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(redirected.status(), StatusCode::SEE_OTHER);
    let location = redirected.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/signed/{dl}?", fake.other_base_url())),
        "{location}"
    );

    // Asked for the URL: `{"url": ...}`, on the other host.
    let answer: serde_json::Value = http
        .get(format!("{downloads}?issueRedirect=false"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice::<serde_json::Value>(&b).unwrap())
        .unwrap();
    let signed = answer["url"].as_str().unwrap().to_string();
    assert!(
        signed.starts_with(&format!("{}/signed/{dl}?", fake.other_base_url())),
        "{signed}"
    );
    let bytes = http.get(&signed).send().await.unwrap();
    assert_eq!(bytes.status(), StatusCode::OK);
    assert_eq!(bytes.bytes().await.unwrap().len(), photo().len());

    // The same signed path asked of the API host: not served there.
    let (_, query) = signed.split_once("/signed/").unwrap();
    let on_api_host = http
        .get(format!("{}/signed/{query}", fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(on_api_host.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn recordings_without_format_id_none_are_never_ready() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    let (http, token) = raw_client(&fake).await;
    let recordings = format!("{}/api/v2/conversations/{CONV}/recordings", fake.base_url());
    for query in ["", "?formatId=WEBM", "?formatId=none"] {
        let r = http
            .get(format!("{recordings}{query}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{query:?}");
    }
    let r = http
        .get(format!("{recordings}?formatId=NONE"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(fake.count(Route::Recordings), 4);
}

#[tokio::test]
async fn the_client_sends_what_the_fake_requires_and_archives() {
    // The archive end to end over the strict fake: every route it uses
    // answered 200, none redirected or answered 202.
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    let s = setup(source(&fake));
    s.archiver
        .archive_raw(&customer_end(CONV), tvault_core::ports::Deadline::NONE)
        .await
        .unwrap();
    let statuses: Vec<(Route, u16)> = fake
        .requests()
        .into_iter()
        .map(|(r, _, s)| (r, s))
        .collect();
    for route in [Route::Recordings, Route::DownloadUrl, Route::Signed] {
        assert!(
            statuses.iter().any(|&(r, s)| r == route && s == 200),
            "{route:?} answered 200: {statuses:?}"
        );
    }
    assert!(
        statuses.iter().all(|&(_, s)| s == 200),
        "every request answered 200: {statuses:?}"
    );
}
