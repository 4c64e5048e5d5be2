//! Many conversations at once share one token; pacing follows Genesys's figure.

use std::time::Duration;

use tvault_core::Outcome;
use tvault_core::ports::Deadline;
use tvault_genesys::Tuning;
use tvault_testkit::genesys::{FakeGenesys, Route};

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
