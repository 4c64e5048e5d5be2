//! The port's streaming list: every object once, in byte order of name, on
//! the local disk (a walk, one directory at a time) and on Azurite (List
//! Blobs page by page, with a small page so a few dozen blobs cross pages).

use bytes::Bytes;
use futures::TryStreamExt;
use tvault_core::ports::{Deadline, Vault};

use crate::util;

/// Names that a walk sorting directories by their bare names would list
/// out of order (`x.y/` sorts before `x/`, `x-` before `x/`), a folder
/// whose name is a prefix of another's (`c1/`, `c10/`), and `n` more spread
/// over nested folders. Returned sorted, as the list must give them.
fn names(n: usize) -> Vec<String> {
    let mut out: Vec<String> = [
        "x/1", "x.y/1", "x-", "x0", "x/a.b", "x/a/b", "x/a-b", "c1/m", "c10/m", "c1.json",
    ]
    .iter()
    .map(|s| format!("t/{s}"))
    .collect();
    for i in 0..n {
        out.push(format!("t/conversations/c{}/o{}.json", i % 37, i));
        if i % 5 == 0 {
            out.push(format!("t/index/2026/08/{:02}/c{i}.g", 1 + i % 28));
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn write_all(v: &dyn Vault, names: &[String]) {
    futures::stream::iter(names.iter().map(Ok::<_, tvault_core::ports::VaultError>))
        .try_for_each_concurrent(8, |name| async move {
            v.put_new(
                name,
                Bytes::from(name.clone()),
                "text/plain",
                Deadline::NONE,
            )
            .await
            .map(|_| ())
        })
        .await
        .unwrap();
}

async fn streamed(v: &dyn Vault, prefix: &str) -> Vec<String> {
    v.list_stream(prefix)
        .map_ok(|l| l.path)
        .try_collect()
        .await
        .unwrap()
}

/// Every object once and in order, for the whole tree and for folders.
async fn lists_every_object_once_in_order(v: &dyn Vault, n: usize) {
    let all = names(n);
    write_all(v, &all).await;
    assert_eq!(streamed(v, "t/").await, all, "the whole tree");
    assert_eq!(streamed(v, "").await, all, "the whole vault");
    let under =
        |p: &str| -> Vec<String> { all.iter().filter(|s| s.starts_with(p)).cloned().collect() };
    for folder in ["t/x/", "t/c1/", "t/conversations/c3/", "t/index/2026/08/"] {
        let want = under(folder);
        assert!(!want.is_empty(), "{folder}");
        assert_eq!(streamed(v, folder).await, want, "{folder}");
    }
    assert!(streamed(v, "t/nothing/").await.is_empty());
    // The collected convenience is the same list.
    let listed: Vec<String> = v
        .list("t/")
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.path)
        .collect();
    assert_eq!(listed, all);
}

#[tokio::test]
async fn local_streaming_list_gives_every_object_once_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let v = tvault_vault::open(dir.path().to_str().unwrap()).unwrap();
    lists_every_object_once_in_order(v.as_ref(), 1200).await;
}

#[tokio::test]
async fn memory_streaming_list_gives_every_object_once_in_name_order() {
    let v = tvault_vault::open("memory://").unwrap();
    lists_every_object_once_in_order(v.as_ref(), 300).await;
}

#[tokio::test]
async fn azurite_streaming_list_crosses_pages_and_gives_every_object_once_in_order() {
    let Some(endpoint) = util::azurite_endpoint() else {
        return;
    };
    let container = util::unique_container("pages");
    let settings = util::config_for(&endpoint, &container).build().unwrap();
    // 7 blobs a page: the ~60 blobs below take about 9 pages (Azure's
    // default page is 5,000).
    let writer = tvault_vault::azure::open(settings)
        .unwrap()
        .with_list_page_size(7);
    writer.create_container().await.unwrap();
    let v = tvault_vault::location::azure_vault(writer);
    lists_every_object_once_in_order(&v, 40).await;
    // The MD5 listing pages the same way.
    let md5: Vec<String> = v
        .azure()
        .unwrap()
        .list_with_md5("t/")
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(md5, names(40));
}
