//! Many conversations at once share one token; pacing follows Genesys's figure.

use std::time::Duration;

use tvault_core::Outcome;
use tvault_core::ports::Deadline;
use tvault_genesys::Tuning;
use tvault_testkit::genesys::{FakeGenesys, Fault, Route};

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_conversations_share_one_token() {
    let fake = FakeGenesys::start().await.unwrap();
    let ids: Vec<String> = (0..50).map(|i| format!("conv-{i:03}")).collect();
    for id in &ids {
        fake.add(sample(id));
    }
    let src = source(&fake);
    let s = setup(src.clone());
    let runs = ids.iter().map(|id| {
        let archiver = s.archiver.clone();
        let raw = customer_end(id);
        tokio::spawn(async move { archiver.archive_raw(&raw, Deadline::NONE).await })
    });
    let results = futures::future::join_all(runs).await;
    for r in results {
        let out = r.unwrap().unwrap();
        let Outcome::Archived(a) = out else {
            panic!("{out:?}")
        };
        assert_eq!(a.attachments, 2);
    }
    assert_eq!(fake.count(Route::Token), 1, "one token for all fifty");
    assert_eq!(src.token_requests(), 1);
    assert_eq!(fake.count(Route::Recordings), 50);
    assert_eq!(fake.count(Route::Signed), 100);
}

#[tokio::test(start_paused = true)]
async fn requests_are_paced_at_the_allowance_genesys_states() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    // Genesys says 60 a minute: with no burst, one request a second.
    fake.set_rate_limit_allowed(Some(60));
    let tuning = Tuning {
        rate_headroom: 1.0,
        burst: 1,
        ..Tuning::default()
    };
    let s = setup(source_with(
        &fake,
        tuning,
        tvault_testkit::genesys::CLIENT_SECRET,
    ));
    let virt = tokio::time::Instant::now();
    s.archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await
        .unwrap();
    // token, recordings and two download URLs: four paced requests, three gaps.
    // The first gap is paced at the default 300/min (0.2 s), the next two at 60/min.
    assert!(
        virt.elapsed() >= Duration::from_secs(2),
        "{:?}",
        virt.elapsed()
    );
    assert!(
        virt.elapsed() < Duration::from_secs(4),
        "{:?}",
        virt.elapsed()
    );
}

/// Archive `convs` at once through one source; every one must commit.
async fn archive_all(s: &Setup, convs: &[String]) {
    let runs = convs.iter().map(|id| {
        let archiver = s.archiver.clone();
        let raw = customer_end(id);
        tokio::spawn(async move { archiver.archive_raw(&raw, Deadline::NONE).await })
    });
    for r in futures::future::join_all(runs).await {
        let out = r.unwrap().unwrap();
        assert!(matches!(out, Outcome::Archived(_)), "{out:?}");
    }
}

/// One request a second, in bursts of one: requests queue in the pacer.
fn one_a_second() -> Tuning {
    Tuning {
        requests_per_minute: 60,
        rate_headroom: 1.0,
        burst: 1,
        ..Tuning::default()
    }
}

/// Requests that count against the token's allowance (not the signed URLs).
fn paced(route: Route) -> bool {
    !matches!(route, Route::Signed | Route::Cdn)
}

#[tokio::test(start_paused = true)]
async fn one_tasks_429_holds_every_task_for_its_retry_after() {
    let fake = FakeGenesys::start().await.unwrap();
    let ids: Vec<String> = (0..4).map(|i| format!("conv-{i}")).collect();
    for id in &ids {
        fake.add(sample(id));
    }
    fake.script(
        Route::Recordings,
        [Fault::RetryAfter {
            status: 429,
            secs: 10,
        }],
    );
    let s = setup(source_with(
        &fake,
        one_a_second(),
        tvault_testkit::genesys::CLIENT_SECRET,
    ));
    archive_all(&s, &ids).await;
    let log = fake.requests();
    let (_, at, _) = *log.iter().find(|(_, _, status)| *status == 429).unwrap();
    // The other tasks had their turns queued a second apart; none of them
    // may go before the 429's Retry-After is over.
    let early: Vec<_> = log
        .iter()
        .filter(|(route, t, _)| paced(*route) && *t > at && *t < at + Duration::from_millis(9_999))
        .map(|(route, t, _)| (*route, *t - at))
        .collect();
    assert!(early.is_empty(), "sent during the hold: {early:?}");
    assert_eq!(fake.count(Route::Recordings), 5);
}

#[tokio::test(start_paused = true)]
async fn a_spent_window_seen_by_one_task_holds_every_task_until_it_resets() {
    let fake = FakeGenesys::start().await.unwrap();
    let ids: Vec<String> = (0..4).map(|i| format!("conv-{i}")).collect();
    for id in &ids {
        fake.add(sample(id));
    }
    // The first recordings answer says the window is spent for 10 s more.
    fake.script(Route::Recordings, [Fault::WindowSpent { reset: 10 }]);
    let s = setup(source_with(
        &fake,
        one_a_second(),
        tvault_testkit::genesys::CLIENT_SECRET,
    ));
    archive_all(&s, &ids).await;
    let log = fake.requests();
    let first = log
        .iter()
        .find(|(route, _, _)| *route == Route::Recordings)
        .unwrap()
        .1;
    let early: Vec<_> = log
        .iter()
        .filter(|(route, t, _)| {
            paced(*route) && *t > first && *t < first + Duration::from_millis(9_999)
        })
        .map(|(route, t, _)| (*route, *t - first))
        .collect();
    assert!(
        early.is_empty(),
        "sent while the window was spent: {early:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_small_allowance_spans_windows_and_genesys_never_answers_429() {
    let fake = FakeGenesys::start().await.unwrap();
    let ids: Vec<String> = (0..3).map(|i| format!("conv-{i}")).collect();
    for id in &ids {
        fake.add(sample(id));
    }
    // Five requests a minute: the three archives (a recordings call and two
    // download URLs each) need two windows.
    fake.set_rate_limit_allowed(Some(5));
    let s = setup(source_with(
        &fake,
        one_a_second(),
        tvault_testkit::genesys::CLIENT_SECRET,
    ));
    let virt = tokio::time::Instant::now();
    archive_all(&s, &ids).await;
    let log = fake.requests();
    let refused: Vec<_> = log.iter().filter(|(_, _, st)| *st == 429).collect();
    assert!(refused.is_empty(), "Genesys had to refuse: {refused:?}");
    let api: Vec<_> = log
        .iter()
        .filter(|(r, _, _)| paced(*r) && *r != Route::Token)
        .collect();
    assert_eq!(api.len(), 9);
    // The sixth waited for the window that began with the first to reset.
    assert!(api[5].1 >= api[0].1 + Duration::from_secs(60), "{api:?}");
    assert!(
        virt.elapsed() < Duration::from_secs(120),
        "{:?}",
        virt.elapsed()
    );
}
