//! Upstream numbers are input: absurd `expires_in` and `Retry-After` values
//! get a defined, bounded outcome and never a panic.

use std::time::Duration;

use tvault_core::ports::Deadline;
use tvault_core::{ErrorClass, Outcome};
use tvault_testkit::genesys::{FakeGenesys, Fault, Route};

use crate::util::*;

async fn archive(s: &Setup, conv: &str) {
    let out = s
        .archiver
        .archive_raw(&customer_end(conv), Deadline::NONE)
        .await
        .unwrap_or_else(|e| panic!("{conv}: {e}"));
    assert!(matches!(out, Outcome::Archived(_)), "{out:?}");
}

#[tokio::test(start_paused = true)]
async fn a_huge_expires_in_is_believed_for_48_hours_at_most() {
    for raw in ["18446744073709551615", "1e30", "99999999999999999999999"] {
        let fake = FakeGenesys::start().await.unwrap();
        for c in ["c-1", "c-2", "c-3"] {
            fake.add(sample(c));
        }
        fake.set_token_expires_in_raw(raw);
        let s = setup(source(&fake));
        archive(&s, "c-1").await;
        tokio::time::advance(Duration::from_secs(47 * 3600)).await;
        archive(&s, "c-2").await;
        assert_eq!(fake.count(Route::Token), 1, "{raw}: still fresh at 47 h");
        // 48 h less the 5-minute renewal margin.
        tokio::time::advance(Duration::from_secs(3600)).await;
        archive(&s, "c-3").await;
        assert_eq!(fake.count(Route::Token), 2, "{raw}: renewed by 48 h");
    }
}

#[tokio::test(start_paused = true)]
async fn a_zero_negative_or_fractional_expires_in_is_used_within_bounds() {
    // Zero and negative lifetimes count as a minute (renewed at half of it),
    // so they cost a token request every 30 s, not one per API call.
    for raw in ["0", "-1", "-1e30"] {
        let fake = FakeGenesys::start().await.unwrap();
        for c in ["c-1", "c-2", "c-3"] {
            fake.add(sample(c));
        }
        fake.set_token_expires_in_raw(raw);
        let s = setup(source(&fake));
        archive(&s, "c-1").await;
        archive(&s, "c-2").await;
        assert_eq!(fake.count(Route::Token), 1, "{raw}");
        tokio::time::advance(Duration::from_secs(31)).await;
        archive(&s, "c-3").await;
        assert_eq!(fake.count(Route::Token), 2, "{raw}");
    }
    let fake = FakeGenesys::start().await.unwrap();
    for c in ["c-1", "c-2", "c-3"] {
        fake.add(sample(c));
    }
    fake.set_token_expires_in_raw("900.5");
    let s = setup(source(&fake));
    archive(&s, "c-1").await;
    // Renewed 300 s before 900.5 s.
    tokio::time::advance(Duration::from_millis(600_400)).await;
    archive(&s, "c-2").await;
    assert_eq!(fake.count(Route::Token), 1);
    tokio::time::advance(Duration::from_millis(200)).await;
    archive(&s, "c-3").await;
    assert_eq!(fake.count(Route::Token), 2);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_that_is_not_integer_seconds_counts_as_absent() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    let s = setup(source(&fake));
    for value in [
        "1e30",
        "-1",
        "NaN",
        "1.5",
        "99999999999999999999999",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "",
    ] {
        fake.script(
            Route::Recordings,
            [Fault::RetryAfterRaw {
                status: 429,
                value: value.into(),
            }],
        );
        let virt = tokio::time::Instant::now();
        let out = s
            .archiver
            .archive_raw(&customer_end(CONV), Deadline::NONE)
            .await
            .unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert!(
            matches!(out, Outcome::Archived(_) | Outcome::AlreadyInVault { .. }),
            "{out:?}"
        );
        // Genesys's default when Retry-After is absent: 3 s.
        let waited = virt.elapsed();
        assert!(
            waited >= Duration::from_secs(3) && waited < Duration::from_secs(4),
            "{value:?}: {waited:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_of_u64_max_goes_to_the_queue_and_holds_others_a_bounded_time() {
    let fake = FakeGenesys::start().await.unwrap();
    fake.add(sample(CONV));
    fake.add(sample("c-2"));
    fake.script(
        Route::Recordings,
        [Fault::RetryAfterRaw {
            status: 429,
            value: u64::MAX.to_string(),
        }],
    );
    let s = setup(source(&fake));
    let virt = tokio::time::Instant::now();
    let err = s
        .archiver
        .archive_raw(&customer_end(CONV), Deadline::NONE)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(u64::MAX)));
    assert!(virt.elapsed() < Duration::from_secs(1));
    // Everyone else holds off for the longest in-process wait (180 s), then goes on.
    archive(&s, "c-2").await;
    let waited = virt.elapsed();
    assert!(
        waited >= Duration::from_secs(180) && waited < Duration::from_secs(182),
        "{waited:?}"
    );
}
