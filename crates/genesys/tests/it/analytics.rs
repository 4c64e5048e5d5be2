//! The analytics listing `tvault reconcile` compares the vault against: sync
//! queries, async jobs, splitting, availability, faults, against the fake.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tvault_core::days::DayRange;
use tvault_core::transcript::parse_time;
use tvault_genesys::{GenesysSource, ListError, ListProgress, Listing, Tuning};
use tvault_testkit::genesys::{
    CLIENT_ID, CLIENT_SECRET, FakeConversation, FakeGenesys, Fault, Media, Route,
};

use crate::util::*;

fn days(from: &str, to: &str) -> DayRange {
    DayRange::parse(from, to).unwrap()
}

fn day(d: &str) -> NaiveDate {
    tvault_core::days::parse_day(d).unwrap()
}

fn at(t: &str) -> DateTime<Utc> {
    parse_time(t).unwrap()
}

/// Fast polls; sync queries up to the default 7 days.
fn tuning() -> Tuning {
    Tuning {
        analytics_poll: Duration::from_millis(5),
        ..fast()
    }
}

/// Always async jobs.
fn jobs_tuning() -> Tuning {
    Tuning {
        analytics_sync_max_days: 0,
        ..tuning()
    }
}

async fn list(src: &GenesysSource, range: DayRange) -> Result<Listing, ListError> {
    src.ended_conversations(range, &|_| {}).await
}

fn ids(l: &Listing) -> Vec<String> {
    l.conversations
        .iter()
        .map(|c| c.conversation_id.as_str().to_string())
        .collect()
}

/// Each interval seen, as (start, end), checked to be whole days of at most 31.
fn whole_day_intervals(fake: &FakeGenesys) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    fake.intervals_seen()
        .iter()
        .map(|i| {
            let (a, b) = i.split_once('/').unwrap();
            let (a, b) = (at(a), at(b));
            assert!(b - a <= chrono::Duration::days(31), "{i} is over 31 days");
            assert_eq!(a.time(), chrono::NaiveTime::MIN, "{i}");
            assert_eq!(b.time(), chrono::NaiveTime::MIN, "{i}");
            (a, b)
        })
        .collect()
}

#[tokio::test]
async fn a_short_range_is_listed_by_paged_sync_queries() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add_all(FakeConversation::spread("conv", 500, day("2026-09-20"), 3));
    // Started the day before and the day after: not in the range.
    fake.add(FakeConversation::listed(
        "before",
        at("2026-09-19T23:59:59.999Z"),
    ));
    fake.add(FakeConversation::listed(
        "after",
        at("2026-09-23T00:00:00.000Z"),
    ));
    let src = source_with(&fake, tuning(), CLIENT_SECRET);
    let seen = Mutex::new(Vec::new());
    let l = src
        .ended_conversations(days("2026-09-20", "2026-09-22"), &|p| {
            seen.lock().unwrap().push(p)
        })
        .await
        .unwrap();
    assert_eq!(l.conversations.len(), 500);
    let want: Vec<String> = (0..500).map(|i| format!("conv-{i:06}")).collect();
    assert_eq!(ids(&l), want, "sorted by start");
    assert!(l.rejected.is_empty(), "{:?}", l.rejected);
    // Five full pages, then an empty one: only a short page ends the
    // paging (totalHits, 500 here, is approximate in Genesys).
    assert_eq!((l.queries, l.pages), (1, 6));
    assert_eq!(fake.count(Route::AnalyticsQuery), 6);
    assert_eq!(fake.count(Route::AnalyticsAvailability), 1);
    assert_eq!(fake.count(Route::AnalyticsJobCreate), 0);
    let first = &l.conversations[0];
    assert_eq!(first.start, at("2026-09-20T00:00:00Z"));
    assert_eq!(first.end, Some(at("2026-09-20T00:10:00Z")));
    let intervals = fake.intervals_seen();
    assert!(
        intervals
            .iter()
            .all(|i| i == "2026-09-20T00:00:00.000Z/2026-09-23T00:00:00.000Z"),
        "{intervals:?}"
    );
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 7, "six pages and the chunk: {seen:?}");
    assert_eq!(
        seen.last(),
        Some(&ListProgress {
            chunks_done: 1,
            chunks_total: 1,
            conversations: 500
        })
    );
}

#[tokio::test]
async fn rows_repeated_by_shifting_pages_are_listed_once() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add_all(FakeConversation::spread("conv", 250, day("2026-09-20"), 1));
    fake.set_page_overlap(7);
    let src = source_with(&fake, tuning(), CLIENT_SECRET);
    let l = list(&src, days("2026-09-20", "2026-09-20")).await.unwrap();
    assert_eq!(l.conversations.len(), 250);
    let mut unique = ids(&l);
    unique.dedup();
    assert_eq!(unique.len(), 250);
    assert_eq!(l.pages, 3);
}

#[tokio::test]
async fn voice_and_open_conversations_are_not_listed() {
    let fake = FakeGenesys::start().await.unwrap();
    let t = at("2026-09-20T10:00:00Z");
    fake.add(FakeConversation::listed("web", t));
    fake.add(FakeConversation::listed("legacy-chat", t).with_media(Media::Chat));
    fake.add(FakeConversation::listed("phone", t).with_media(Media::Voice));
    fake.add(FakeConversation::listed("open", t).still_open());
    for tuning in [tuning(), jobs_tuning()] {
        let src = source_with(&fake, tuning, CLIENT_SECRET);
        let l = list(&src, days("2026-09-20", "2026-09-20")).await.unwrap();
        assert_eq!(ids(&l), ["legacy-chat", "web"]);
    }
}

#[tokio::test]
async fn a_long_range_runs_jobs_on_31_day_intervals_paged_by_cursor() {
    let fake = FakeGenesys::start().await.unwrap();
    // 2026-07-01 to 2026-09-15: 77 days, so 31 + 31 + 15.
    fake.add_all(FakeConversation::spread("conv", 300, day("2026-07-01"), 77));
    fake.set_results_page_cap(40);
    fake.set_job_running_polls(3);
    let src = source_with(&fake, tuning(), CLIENT_SECRET);
    let l = list(&src, days("2026-07-01", "2026-09-15")).await.unwrap();
    assert_eq!(l.conversations.len(), 300);
    assert!(l.rejected.is_empty(), "{:?}", l.rejected);
    assert_eq!(fake.count(Route::AnalyticsQuery), 0);
    assert_eq!(fake.count(Route::AnalyticsJobCreate), 3);
    assert_eq!(l.queries, 3);
    // QUEUED, RUNNING, RUNNING, then FULFILLED, for each job.
    assert_eq!(fake.count(Route::AnalyticsJobStatus), 12);
    let results = fake.count(Route::AnalyticsJobResults);
    // Each job has more rows than one page of 40.
    assert!(results >= 8, "{results} result pages");
    assert_eq!(u64::from(l.pages), results);
    let intervals = whole_day_intervals(&fake);
    assert_eq!(intervals.len(), 3);
    assert_eq!(intervals[0].0, at("2026-07-01T00:00:00Z"));
    assert_eq!(intervals[2].1, at("2026-09-16T00:00:00Z"));
    assert!(
        intervals.windows(2).all(|w| w[0].1 == w[1].0),
        "{intervals:?}"
    );
}

#[tokio::test]
async fn a_range_over_the_result_ceiling_is_halved_by_days() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add_all(FakeConversation::spread("conv", 60, day("2026-09-20"), 3));
    fake.set_result_limit(50);
    for (tuning, route) in [
        (tuning(), Route::AnalyticsQuery),
        (jobs_tuning(), Route::AnalyticsJobCreate),
    ] {
        let before = fake.intervals_seen().len();
        let tuning = Tuning {
            analytics_max_results: 50,
            ..tuning
        };
        let src = source_with(&fake, tuning, CLIENT_SECRET);
        let l = list(&src, days("2026-09-20", "2026-09-22")).await.unwrap();
        assert_eq!(l.conversations.len(), 60, "{route:?}");
        // The three days (60), then the first two (40) and the last (20).
        assert_eq!(l.queries, 3, "{route:?}");
        let intervals = fake.intervals_seen()[before..].to_vec();
        let distinct: std::collections::BTreeSet<_> = intervals.iter().collect();
        assert_eq!(
            distinct.into_iter().cloned().collect::<Vec<_>>(),
            [
                "2026-09-20T00:00:00.000Z/2026-09-22T00:00:00.000Z",
                "2026-09-20T00:00:00.000Z/2026-09-23T00:00:00.000Z",
                "2026-09-22T00:00:00.000Z/2026-09-23T00:00:00.000Z",
            ],
            "{route:?}"
        );
    }
}

#[tokio::test]
async fn a_single_day_over_the_result_ceiling_is_too_many() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add_all(FakeConversation::spread("conv", 60, day("2026-09-21"), 1));
    fake.set_result_limit(50);
    for tuning in [tuning(), jobs_tuning()] {
        let tuning = Tuning {
            analytics_max_results: 50,
            ..tuning
        };
        let src = source_with(&fake, tuning, CLIENT_SECRET);
        let err = list(&src, days("2026-09-20", "2026-09-22"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ListError::TooMany { day: d, limit: 50 } if d == day("2026-09-21")),
            "{err}"
        );
        assert!(err.to_string().contains("2026-09-21"), "{err}");
    }
}

#[tokio::test]
async fn a_range_ending_after_data_availability_is_refused() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add_all(FakeConversation::spread("conv", 10, day("2026-09-20"), 2));
    fake.set_data_availability(at("2026-09-22T05:41:00Z"));
    let src = source_with(&fake, tuning(), CLIENT_SECRET);
    assert_eq!(
        src.data_availability().await.unwrap(),
        at("2026-09-22T05:41:00Z")
    );
    assert_eq!(fake.count(Route::AnalyticsJobStatus), 0, "not a job id");
    let err = list(&src, days("2026-09-20", "2026-09-22"))
        .await
        .unwrap_err();
    let ListError::NotAvailable {
        requested_end,
        available_until,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*requested_end, at("2026-09-23T00:00:00Z"));
    assert_eq!(*available_until, at("2026-09-22T05:41:00Z"));
    let msg = err.to_string();
    assert!(msg.contains("dataAvailabilityDate"), "{msg}");
    assert!(msg.contains("--to 2026-09-21"), "{msg}");
    assert_eq!(fake.count(Route::AnalyticsQuery), 0);
    let l = list(&src, days("2026-09-20", "2026-09-21")).await.unwrap();
    assert_eq!(l.conversations.len(), 10);
}

#[tokio::test]
async fn a_failed_job_is_an_error_naming_the_job() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add_all(FakeConversation::spread("conv", 10, day("2026-09-20"), 1));
    fake.set_job_running_polls(2);
    fake.fail_next_jobs(1);
    let src = source_with(&fake, jobs_tuning(), CLIENT_SECRET);
    let err = list(&src, days("2026-09-20", "2026-09-20"))
        .await
        .unwrap_err();
    let ListError::JobFailed { job_id, state, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(state, "FAILED");
    assert!(err.to_string().contains(job_id.as_str()), "{err}");
    assert_eq!(fake.count(Route::AnalyticsJobStatus), 3);
    assert_eq!(fake.count(Route::AnalyticsJobResults), 0);
    // The next job is fine.
    let l = list(&src, days("2026-09-20", "2026-09-20")).await.unwrap();
    assert_eq!(l.conversations.len(), 10);
}

#[tokio::test]
async fn a_job_never_fulfilled_times_out() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.set_job_running_polls(u32::MAX);
    let tuning = Tuning {
        analytics_job_timeout: Duration::from_millis(60),
        ..jobs_tuning()
    };
    let src = source_with(&fake, tuning, CLIENT_SECRET);
    let err = list(&src, days("2026-09-20", "2026-09-20"))
        .await
        .unwrap_err();
    assert!(matches!(err, ListError::JobTimedOut { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_on_the_query_is_retried_transparently() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add_all(FakeConversation::spread("conv", 10, day("2026-09-20"), 1));
    fake.script(
        Route::AnalyticsQuery,
        [Fault::RetryAfter {
            status: 429,
            secs: 2,
        }],
    );
    let src = source_with(&fake, tuning(), CLIENT_SECRET);
    let virt = tokio::time::Instant::now();
    let l = list(&src, days("2026-09-20", "2026-09-20")).await.unwrap();
    assert_eq!(l.conversations.len(), 10);
    assert!(virt.elapsed() >= Duration::from_secs(2));
    assert_eq!(fake.count(Route::AnalyticsQuery), 2);
    assert_eq!((l.queries, l.pages), (1, 1));
}

#[tokio::test]
async fn a_row_with_an_unsafe_conversation_id_is_rejected_and_named() {
    let fake = FakeGenesys::start().await.unwrap();
    let t = at("2026-09-20T10:00:00Z");
    fake.add(FakeConversation::listed("good", t));
    fake.add(FakeConversation::listed("../../etc/passwd", t));
    let src = source_with(&fake, tuning(), CLIENT_SECRET);
    let l = list(&src, days("2026-09-20", "2026-09-20")).await.unwrap();
    assert_eq!(ids(&l), ["good"]);
    assert_eq!(l.rejected.len(), 1, "{:?}", l.rejected);
    assert!(
        l.rejected[0].contains("\"../../etc/passwd\""),
        "{:?}",
        l.rejected
    );
    assert!(
        l.rejected[0].contains("not a safe identifier"),
        "{:?}",
        l.rejected
    );
}

/// The fake itself refuses what Genesys refuses, and lists open conversations
/// to a client that forgets the `conversationEnd` filter.
#[tokio::test]
async fn the_fake_validates_like_genesys() {
    let fake = FakeGenesys::start().await.unwrap();
    let t = at("2026-09-20T10:00:00Z");
    fake.add(FakeConversation::listed("done", t));
    fake.add(FakeConversation::listed("open", t).still_open());
    let http = reqwest::Client::new();
    let token: serde_json::Value = serde_json::from_slice(
        &http
            .post(format!("{}/oauth/token", fake.base_url()))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let query = |body: serde_json::Value| {
        let req = http
            .post(format!(
                "{}/api/v2/analytics/conversations/details/query",
                fake.base_url()
            ))
            .header("authorization", &bearer)
            .body(body.to_string());
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            (status, v)
        }
    };
    let (status, v) = query(serde_json::json!({
        "interval": "2026-08-01T00:00:00.000Z/2026-09-02T00:00:00.000Z"
    }))
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["code"], "bad.request");
    let (status, _) = query(serde_json::json!({
        "interval": "2026-09-20T00:00:00.000Z/2026-09-21T00:00:00.000Z",
        "paging": {"pageSize": 101, "pageNumber": 1}
    }))
    .await;
    assert_eq!(status, 400);
    let (status, v) = query(serde_json::json!({
        "interval": "2026-09-20T00:00:00.000Z/2026-09-21T00:00:00.000Z"
    }))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v["totalHits"], 2,
        "open conversations without the filter: {v}"
    );
    // A later interval that touches the day only by its last hour still lists it.
    let (_, v) = query(serde_json::json!({
        "interval": "2026-09-20T23:00:00.000Z/2026-09-21T00:00:00.000Z"
    }))
    .await;
    assert_eq!(v["totalHits"], 2, "{v}");
    let (_, v) = query(serde_json::json!({
        "interval": "2026-09-21T00:00:00.000Z/2026-09-22T00:00:00.000Z"
    }))
    .await;
    assert_eq!(v["totalHits"], 0);
    assert!(v.get("conversations").is_none(), "omitted when empty: {v}");
}

/// `totalHits` is approximate: one that says fewer rows than there are must
/// not end the paging early (it used to: 250 rows, 150 said, 200 listed).
#[tokio::test]
async fn an_understated_total_hits_does_not_end_the_paging() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add_all(FakeConversation::spread("conv", 250, day("2026-09-20"), 1));
    fake.set_total_hits_skew(-100);
    let src = source_with(&fake, tuning(), CLIENT_SECRET);
    let l = list(&src, days("2026-09-20", "2026-09-20")).await.unwrap();
    assert_eq!(l.conversations.len(), 250);
    assert_eq!(l.pages, 3, "two full pages and a short one");
}

/// One that says more than the ceiling on a single day is no reason to give
/// up: the rows themselves decide (it used to be `TooMany`).
#[tokio::test]
async fn an_overstated_total_hits_on_a_single_day_is_not_too_many() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add_all(FakeConversation::spread("conv", 30, day("2026-09-20"), 1));
    fake.set_total_hits_skew(1_000_000);
    let src = source_with(&fake, tuning(), CLIENT_SECRET);
    let l = list(&src, days("2026-09-20", "2026-09-20")).await.unwrap();
    assert_eq!(l.conversations.len(), 30);
    assert_eq!((l.queries, l.pages), (1, 1));
}

/// Jobs ask for `startOfDayIntervalMatching`, so conversations that started
/// before the range but were active in it are not returned: they would fill
/// the result ceiling with rows the listing skips (here: 5 of them plus 8 of
/// the day's, over a ceiling of 10, made a single day `TooMany`).
#[tokio::test]
async fn jobs_list_by_start_day_so_earlier_conversations_do_not_fill_the_ceiling() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add_all(FakeConversation::spread("day", 8, day("2026-09-20"), 1));
    for mut c in FakeConversation::spread("earlier", 5, day("2026-09-18"), 1) {
        c.end_time = "2026-09-20T08:00:00.000Z".into();
        fake.add(c);
    }
    fake.set_result_limit(10);
    let tuning = Tuning {
        analytics_max_results: 10,
        ..jobs_tuning()
    };
    let src = source_with(&fake, tuning, CLIENT_SECRET);
    let l = list(&src, days("2026-09-20", "2026-09-20")).await.unwrap();
    let want: Vec<String> = (0..8).map(|i| format!("day-{i:06}")).collect();
    assert_eq!(ids(&l), want);
    assert_eq!(fake.count(Route::AnalyticsJobCreate), 1);
}
