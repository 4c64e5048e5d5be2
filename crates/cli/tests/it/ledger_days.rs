//! `tvault audit` a day at a time: a conversation that shows on two days of
//! the range is verified once, on the first, and what a later day's index
//! holds of it is named with that later day.

use std::collections::BTreeSet;

use crate::ledger::{DAYS, Ledgered, agree, three_sealed_days};
use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_on_two_days_is_verified_once_and_a_later_days_marker_is_named_with_that_day()
 {
    let l = Ledgered::local().await;
    three_sealed_days(&l).await;
    let v = l.local_vault();
    // led-a1 ended on the first day. On the second day's index (sealed
    // without it), put its real marker (committed: added after sealing) and
    // a marker of a generation that has no manifest (an orphan).
    let real = files_under(&v.join("index/2026/09/20"))
        .into_iter()
        .find(|f| f.starts_with("led-a1."))
        .unwrap();
    std::fs::write(v.join("index/2026/09/21").join(&real), b"").unwrap();
    std::fs::write(v.join("index/2026/09/21/led-a1.00000000deadbeef"), b"").unwrap();

    let out = l.audit(DAYS[0], DAYS[2], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let printed = stdout(&out);
    let problems: Vec<&str> = printed
        .lines()
        .filter(|line| line.starts_with("2026-") || line.starts_with("led-"))
        .collect();
    assert_eq!(
        problems,
        [
            format!("2026-09-21 led-a1: added after sealing: generation {} (index/2026/09/21/{real}) is committed but listed in no ledger object of 2026-09-21", &real[7..]),
            "2026-09-21 led-a1: verify: orphaned index/2026/09/21/led-a1.00000000deadbeef: no manifest for this generation".to_string(),
        ],
        "{printed}"
    );
    // Verified once: six conversations, one generation each.
    assert!(
        printed.contains("verified 6 manifest(s) of 6 conversation(s)"),
        "{printed}"
    );
    assert_eq!(
        agree(&out, &v, DAYS[0], DAYS[2], None),
        BTreeSet::from(["2026-09-21 led-a1: added after sealing".to_string()])
    );
}
