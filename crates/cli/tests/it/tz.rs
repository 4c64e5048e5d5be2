//! `--tz` on show, export, find and serve: times shown in the officer's
//! zone, the stored ones kept in UTC.

use crate::search::sample_vault;
use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tz_shows_times_in_the_officers_zone_and_the_stored_ones_stay_utc() {
    let s = sample_vault().await;
    let o = tvault(&s.vault, &["show", CONV, "--tz", "Europe/Berlin"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("[2026-09-20 11:14:03.512 CEST] Jordan Keane (customer): Hi, my order"),
        "{}",
        stdout(&o)
    );
    let o = tvault(&s.vault, &["show", CONV]);
    assert!(
        stdout(&o).contains("[2026-09-20T09:14:03.512Z] Jordan Keane"),
        "{}",
        stdout(&o)
    );
    let o = tvault(&s.vault, &["show", CONV, "--json", "--tz", "Europe/Berlin"]);
    assert!(stdout(&o).contains("\"2026-09-20T09:14:03.512Z\""));

    let out = s.dir.path().join("ny");
    let o = tvault(
        &s.vault,
        &[
            "export",
            CONV,
            "--out",
            out.to_str().unwrap(),
            "--tz",
            "America/New_York",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(out.join(CONV).join("index.html")).unwrap();
    assert!(
        page.contains("<time>2026-09-20 05:14:03.512 EDT</time>"),
        "{page}"
    );
    let stored = std::fs::read_to_string(out.join(CONV).join("transcript.json")).unwrap();
    assert!(stored.contains("2026-09-20T09:14:03.512Z"));

    s.index_all();
    // find: the table's day and time in the zone; the JSON keeps the stored
    // time and adds the local one.
    let o = s.tvault(&["find", "--text", "damaged", "--tz", "Europe/Berlin"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("2026-09-20  11:14:03 CEST  {CONV}")),
        "{}",
        stdout(&o)
    );
    let o = s.tvault(&[
        "find",
        "--text",
        "damaged",
        "--json",
        "--tz",
        "America/New_York",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let hit: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(hit["messages"][0]["time"], "2026-09-20T09:14:03.512Z");
    assert_eq!(
        hit["messages"][0]["localTime"],
        "2026-09-20 05:14:03.512 EDT"
    );

    // serve: the conversation page and the search results in the zone.
    let room = crate::serve::serve(
        s.vault.to_str().unwrap(),
        &[],
        &[
            "--index",
            s.index.to_str().unwrap(),
            "--tz",
            "Europe/Berlin",
        ],
    );
    let page = crate::serve::get(&room.url(&format!("/c/{CONV}"), ""))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<time>2026-09-20 11:14:03.512 CEST</time>"),
        "{page}"
    );
    let page = crate::serve::get(&room.url("/", "text=damaged"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("11:14:03 CEST"), "{page}");
    assert!(page.contains("Times in Europe/Berlin"), "{page}");
    drop(room);

    let o = s.tvault(&["find", "--text", "damaged", "--tz", "Mars/Olympus_Mons"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a time zone of the IANA database"),
        "{}",
        stderr(&o)
    );
}
