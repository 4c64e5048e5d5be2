//! `tvault serve` in headless Chromium: the search page finds a conversation
//! by a phrase and its participant's name; the conversation page shows every
//! message, escaped; an attachment downloads with the right bytes; a request
//! without the token gets 403; and nothing in the vault changed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use tvault_core::hash::sha256_hex;
use tvault_testkit::services::chromium;

use crate::search::{DAMAGED, GERMAN, Sample, sample_vault};
use crate::util::*;

const PHOTO_ID: &str = "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b";

/// A running `tvault serve`, stopped (by its own handle) when dropped.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub token: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    pub fn url(&self, path: &str, query: &str) -> String {
        let sep = if query.is_empty() { "" } else { "&" };
        format!("{}{path}?{query}{sep}token={}", self.base, self.token)
    }
}

/// Start `tvault --vault VAULT serve ARGS --addr 127.0.0.1:0` with `env`, and
/// read the URL it prints.
pub fn serve(vault: &str, env: &[(&str, &str)], args: &[&str]) -> Served {
    let mut all = vec!["serve", "--addr", "127.0.0.1:0"];
    all.extend(args);
    let mut child = command(vault, &all)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim();
    let (base, token) = url.split_once("/?token=").unwrap_or_else(|| {
        let _ = child.kill();
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
        panic!("no URL printed: {url:?} {err}")
    });
    assert!(base.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(token.len(), 64, "{url}");
    Served {
        base: base.to_string(),
        token: token.to_string(),
        child,
    }
}

/// Every file of a local vault with its SHA-256.
pub fn listing(dir: &Path) -> BTreeMap<String, String> {
    files_under(dir)
        .into_iter()
        .map(|f| {
            let h = sha256_hex(&std::fs::read(dir.join(&f)).unwrap());
            (f, h)
        })
        .collect()
}

pub async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

fn dom(url: &str) -> String {
    let chromium = chromium().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let o = headless(&chromium, profile.path(), &["--dump-dom", url]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    text(&o.stdout)
}

async fn indexed() -> Sample {
    let s = sample_vault().await;
    s.index_all();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reading_room_finds_shows_and_serves_without_changing_the_vault() {
    let s = indexed().await;
    let before = listing(&s.vault);
    assert!(before.len() > 10, "{before:?}");
    let room = serve(
        s.vault.to_str().unwrap(),
        &[],
        &["--index", s.index.to_str().unwrap()],
    );

    // Without the token, or with another, nothing is served.
    for url in [
        format!("{}/", room.base),
        format!("{}/c/{CONV}", room.base),
        format!("{}/c/{CONV}?token={}", room.base, "0".repeat(64)),
        format!(
            "{}/c/{CONV}/attachments/{PHOTO_ID}/IMG_20260920_091640.jpg",
            room.base
        ),
    ] {
        let r = get(&url).await;
        assert_eq!(r.status().as_u16(), 403, "{url}");
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("Jordan") && !body.contains("damaged"),
            "{body}"
        );
    }
    let r = get(&room.url("/", "")).await;
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");

    // An attachment downloads with the bytes the vault holds.
    let r = get(&room.url(
        &format!("/c/{CONV}/attachments/{PHOTO_ID}/IMG_20260920_091640.jpg"),
        "",
    ))
    .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(
        r.headers()["content-disposition"],
        "inline; filename=\"IMG_20260920_091640.jpg\""
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), s.photo.as_slice());

    if chromium().is_none() {
        return;
    }

    // The search page, by a phrase and by the participant's name.
    let page = tokio::task::spawn_blocking({
        let url = room.url("/", "text=%22arrived+damaged%22&participant=Jordan+Keane");
        move || dom(&url)
    })
    .await
    .unwrap();
    assert!(page.contains(&format!("<code>{CONV}</code>")), "{page}");
    assert!(page.contains("<mark>arrived damaged</mark>"), "{page}");
    assert!(page.contains("1 conversation(s)"), "{page}");
    let page = tokio::task::spawn_blocking({
        let url = room.url("/", "participant=Jordan+Keane");
        move || dom(&url)
    })
    .await
    .unwrap();
    assert!(page.contains("2 conversation(s)"), "{page}");

    // The conversation page: every message, the hostile one as text.
    let page = tokio::task::spawn_blocking({
        let url = room.url(&format!("/c/{CONV}"), "");
        move || dom(&url)
    })
    .await
    .unwrap();
    for t in [
        DAMAGED,
        "&lt;img src=x onerror=alert(1)&gt; Sorry to hear that!",
        "IMG_20260920_091640.jpg",
        GERMAN,
        "A replacement is on its way.",
        "checked: matches",
    ] {
        assert!(page.contains(t), "{t:?} not on the page:\n{page}");
    }
    assert_eq!(page.matches("<li class=\"msg").count(), 5, "{page}");
    assert!(
        !page.contains("<img src=\"x\""),
        "the hostile text became an element"
    );
    assert!(!page.contains("<script"), "{page}");
    let m = s.latest_manifest(CONV);
    for o in &m.objects {
        if o.role != tvault_core::manifest::Role::Source {
            assert!(
                page.contains(&o.sha256),
                "{} not in the integrity table",
                o.path
            );
        }
    }

    // "Export this conversation": a zip whose SHA256SUMS hold.
    let r = get(&room.url(&format!("/c/{CONV}/export.zip"), "")).await;
    assert_eq!(r.status().as_u16(), 200);
    let zip = r.bytes().await.unwrap();
    let unpacked = tempfile::tempdir().unwrap();
    let zip_path = unpacked.path().join("c.zip");
    std::fs::write(&zip_path, &zip).unwrap();
    let o = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        ])
        .arg(&zip_path)
        .arg(unpacked.path().join("x"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(unpacked.path().join("x"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains(&format!(
        "{CONV}/attachments/{PHOTO_ID}/IMG_20260920_091640.jpg: OK"
    )));

    // Nothing in the vault changed.
    drop(room);
    assert_eq!(listing(&s.vault), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_attachment_is_refused_not_served() {
    let s = indexed().await;
    let room = serve(
        s.vault.to_str().unwrap(),
        &[],
        &["--index", s.index.to_str().unwrap()],
    );
    let object = format!("conversations/{CONV}/attachments/{PHOTO_ID}/IMG_20260920_091640.jpg");
    let mut altered = s.photo.clone();
    altered[3] ^= 0xff;
    std::fs::write(s.vault.join(&object), &altered).unwrap();
    let r = get(&room.url(
        &format!("/c/{CONV}/attachments/{PHOTO_ID}/IMG_20260920_091640.jpg"),
        "",
    ))
    .await;
    assert_eq!(r.status().as_u16(), 409);
    let body = r.text().await.unwrap();
    assert!(
        body.contains(&object) && body.contains("manifest says"),
        "{body}"
    );
    // The page too: nothing of the conversation is shown.
    let r = get(&room.url(&format!("/c/{CONV}"), "")).await;
    assert_eq!(r.status().as_u16(), 409);
    assert!(!r.text().await.unwrap().contains("arrived damaged"));
}
