//! `tvault export`: a conversation archived through the fake Genesys API is
//! exported to a folder; the files are checked byte for byte and by hash, and
//! the page is opened in headless Chromium, which must show every message and
//! actually render the inline image. A tampered vault exports nothing.
//!
//! Chromium comes from `TVAULT_TEST_CHROMIUM` or `chromium` on PATH
//! (`scripts/install-test-tools` installs Debian's package). Run by hand
//! without it, the browser test skips; under `scripts/test` it fails.

use std::path::PathBuf;
use std::process::Output;

use tvault_core::hash::sha256_hex;
use tvault_core::manifest::{Manifest, Role};
use tvault_testkit::genesys::{FakeConversation, FakeGenesys};
use tvault_testkit::services::chromium;

use crate::util::*;

const PHOTO_ID: &str = "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b";
const INVOICE_ID: &str = "a0b1c2d3-e4f5-4a6b-9c8d-7e6f5a4b3c2d";
const HOSTILE: &str = "Hi, my order arrived damaged. <script>document.title='pwned'</script>";
const SIDE: u32 = 64;

/// A real 64x64 solid magenta PNG.
fn magenta_png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, SIDE, SIDE);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().unwrap();
    let pixels: Vec<u8> = [255u8, 0, 255].repeat((SIDE * SIDE) as usize);
    w.write_image_data(&pixels).unwrap();
    w.finish().unwrap();
    out
}

fn invoice_pdf() -> Vec<u8> {
    let mut b = b"%PDF-1.4\n% invoice 10442\n".to_vec();
    b.extend((0..40_000u32).map(|i| (i % 241) as u8));
    b
}

struct Archived {
    _dir: tempfile::TempDir,
    vault: PathBuf,
    out: PathBuf,
    photo: Vec<u8>,
    invoice: Vec<u8>,
}

/// The fixture conversation, pulled from the fake Genesys API into a local
/// vault: five messages (one with a hostile text), a PNG and a PDF.
async fn archive_sample() -> Archived {
    archive_sample_as(
        ("magenta square.png", "image/png", magenta_png()),
        ("invoice-10442.pdf", "application/pdf", invoice_pdf()),
    )
    .await
}

/// [`archive_sample`] with other names, types and bytes for the photo and
/// the invoice.
async fn archive_sample_as(
    photo: (&str, &str, Vec<u8>),
    invoice: (&str, &str, Vec<u8>),
) -> Archived {
    let fake = FakeGenesys::start().await.unwrap();
    let mut conv = FakeConversation::sample(CONV, photo.2.clone(), invoice.2.clone());
    conv.messages[0].text = HOSTILE.into();
    for a in conv.attachments_mut() {
        let (name, mime, _) = if a.id == PHOTO_ID { &photo } else { &invoice };
        (a.filename, a.mime) = (name.to_string(), mime.to_string());
    }
    let (photo, invoice) = (photo.2, invoice.2);
    let texts: Vec<String> = conv.messages.iter().map(|m| m.text.clone()).collect();
    assert_eq!(texts.iter().filter(|t| !t.is_empty()).count(), 4);
    fake.add(conv);

    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let event = repo().join("fixtures/genesys/eventbridge_customer_end__webmessaging.json");
    let (v, base) = (vault.clone(), fake.base_url());
    let out = tokio::task::spawn_blocking(move || {
        tvault_genesys(&v, &base, &["archive", event.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().next().unwrap(),
        "archived 1, already in vault 0, skipped 0, failed 0"
    );
    let out = dir.path().join("exports");
    Archived {
        _dir: dir,
        vault,
        out,
        photo,
        invoice,
    }
}

fn export(a: &Archived) -> Output {
    tvault(
        &a.vault,
        &["export", CONV, "--out", a.out.to_str().unwrap()],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_checked_files_and_a_page_chromium_renders_with_the_image() {
    let a = archive_sample().await;
    let o = export(&a);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let target = a.out.join(CONV);
    let photo_rel = format!("attachments/{PHOTO_ID}/magenta_square.png");
    let invoice_rel = format!("attachments/{INVOICE_ID}/invoice-10442.pdf");
    let manifest_bytes = std::fs::read(target.join("manifest.json")).unwrap();
    let manifest = Manifest::from_slice(&manifest_bytes).unwrap();
    let transcript = manifest.transcript().unwrap();
    let total = transcript.size + (a.photo.len() + a.invoice.len()) as u64;
    assert_eq!(
        text(&o.stdout),
        format!(
            "exported {CONV} to {} (3 files, {total} bytes, all hashes match the manifest)\n",
            target.display()
        )
    );

    // Exactly these files, and nothing else in --out (no partial folder left).
    assert_eq!(
        files_under(&a.out),
        [
            format!("{CONV}/{invoice_rel}"),
            format!("{CONV}/{photo_rel}"),
            format!("{CONV}/index.html"),
            format!("{CONV}/manifest.json"),
            format!("{CONV}/transcript.json"),
        ]
    );
    // The stored bytes as they are, and every file's hash as the manifest says.
    let stored = a.vault.join(format!("conversations/{CONV}"));
    let stored_manifest = stored.join(format!("manifest.{}.json", manifest.generation));
    assert_eq!(manifest_bytes, std::fs::read(stored_manifest).unwrap());
    assert_eq!(std::fs::read(target.join(&photo_rel)).unwrap(), a.photo);
    assert_eq!(std::fs::read(target.join(&invoice_rel)).unwrap(), a.invoice);
    for entry in manifest.objects.iter().filter(|o| o.role != Role::Source) {
        let rel = match entry.role {
            Role::Transcript => "transcript.json".to_string(),
            _ => entry
                .path
                .split_once(&format!("{CONV}/"))
                .unwrap()
                .1
                .to_string(),
        };
        let bytes = std::fs::read(target.join(&rel)).unwrap();
        assert_eq!(sha256_hex(&bytes), entry.sha256, "{rel}");
        assert_eq!(bytes.len() as u64, entry.size, "{rel}");
    }

    let html = std::fs::read_to_string(target.join("index.html")).unwrap();
    assert!(!html.contains("<script"), "unescaped script in the page");
    for entry in manifest.objects.iter().filter(|o| o.role != Role::Source) {
        assert!(
            html.contains(&entry.sha256),
            "{} not in the integrity table",
            entry.path
        );
    }

    let Some(chromium) = chromium() else { return };
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", target.join("index.html").display());
    let dom = headless(&chromium, profile.path(), &["--dump-dom", &url]);
    assert_eq!(dom.status.code(), Some(0), "{}", text(&dom.stderr));
    let dom = text(&dom.stdout);
    for t in [
        "Hi, my order arrived damaged. &lt;script&gt;document.title='pwned'&lt;/script&gt;",
        "Sorry to hear that! Could you send a photo?",
        "Here is the invoice too",
        "A replacement is on its way.",
    ] {
        assert!(dom.contains(t), "{t:?} not in the rendered page:\n{dom}");
    }
    assert!(!dom.contains("<script"), "a script element reached the DOM");
    assert!(dom.contains(&format!("<a href=\"{invoice_rel}\">invoice-10442.pdf</a>")));
    assert!(dom.contains("<img src=\"data:image/png;base64,"));

    let shot = profile.path().join("page.png");
    let o = headless(
        &chromium,
        profile.path(),
        &[&format!("--screenshot={}", shot.display()), &url],
    );
    assert!(shot.exists(), "no screenshot: {}", text(&o.stderr));
    let magenta = magenta_pixels(&std::fs::read(&shot).unwrap());
    // The image is 64x64 at its natural size: nearly all of it must be on screen.
    assert!(
        magenta >= (SIDE * SIDE * 9 / 10) as usize,
        "only {magenta} magenta pixels in the screenshot: the inline image did not render"
    );
}

/// Pixels of a PNG screenshot that are (nearly) pure magenta.
fn magenta_pixels(png_bytes: &[u8]) -> usize {
    let mut dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    buf[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| p[0] > 240 && p[1] < 16 && p[2] > 240)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_attachment_exports_nothing_and_names_the_object() {
    let a = archive_sample().await;
    let object = format!("conversations/{CONV}/attachments/{INVOICE_ID}/invoice-10442.pdf");
    let on_disk = a.vault.join(&object);

    // Same size, one byte changed: the hash gives it away.
    let mut altered = a.invoice.clone();
    altered[100] ^= 0xff;
    std::fs::write(&on_disk, &altered).unwrap();
    let o = export(&a);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(CONV), "{err}");
    assert!(err.contains(&object), "{err}");
    let want = format!(
        "sha256 {}, manifest says {}",
        sha256_hex(&altered),
        sha256_hex(&a.invoice)
    );
    assert!(err.contains(&want), "{err}");
    assert!(files_under(&a.out).is_empty(), "{:?}", files_under(&a.out));
    assert!(!a.out.join(CONV).exists());

    // Cut short: the size gives it away.
    std::fs::write(&on_disk, &a.invoice[..1000]).unwrap();
    let o = export(&a);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{object}: size 1000 bytes, manifest says {}",
            a.invoice.len()
        )),
        "{err}"
    );
    assert!(files_under(&a.out).is_empty(), "{:?}", files_under(&a.out));

    // Grown: refused as soon as more bytes than the manifest's arrive.
    std::fs::write(&on_disk, [&a.invoice[..], b"more"].concat()).unwrap();
    let o = export(&a);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let n = a.invoice.len();
    let want = format!("{object}: size more than {n} bytes, manifest says {n}");
    assert!(err.contains(&want), "{err}");
    assert!(files_under(&a.out).is_empty(), "{:?}", files_under(&a.out));

    // Put right again, the same command exports.
    std::fs::write(&on_disk, &a.invoice).unwrap();
    let o = export(&a);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(a.out.join(CONV).join("index.html").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_export_folder_is_never_overwritten() {
    let a = archive_sample().await;
    let target = a.out.join(CONV);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("notes.txt"), "mine").unwrap();

    let o = export(&a);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{} already exists", target.display())),
        "{err}"
    );
    assert_eq!(files_under(&a.out), [format!("{CONV}/notes.txt")]);
    assert_eq!(
        std::fs::read_to_string(target.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn a_conversation_not_in_the_vault_is_reported_like_show() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exports");
    std::fs::create_dir(dir.path().join("vault")).unwrap();
    let o = tvault(
        dir.path().join("vault"),
        &["export", "c-404", "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "tvault: conversation c-404 is not in the vault\n"
    );
    assert!(files_under(&out).is_empty());
}

/// Attachments a browser would open as a page (HTML, SVG, XML) are linked
/// with `download`: the browser saves them, it never runs them in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_content_attachments_are_linked_for_download_only() {
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
    let page = b"<html><body><script>document.title='pwned'</script></body></html>".to_vec();
    let a = archive_sample_as(
        ("logo.svg", "image/svg+xml", svg),
        ("invoice.html", "text/html", page),
    )
    .await;
    let o = export(&a);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let html = std::fs::read_to_string(a.out.join(CONV).join("index.html")).unwrap();
    for rel in [
        format!("attachments/{PHOTO_ID}/logo.svg"),
        format!("attachments/{INVOICE_ID}/invoice.html"),
    ] {
        assert!(
            !html.contains(&format!("<a href=\"{rel}\">")),
            "{rel} would open in place"
        );
        assert_eq!(
            html.matches(&format!("<a href=\"{rel}\" download>"))
                .count(),
            2,
            "{rel}: beside its message and in the integrity table"
        );
    }
    assert!(
        !html.contains("<img src=\"data:image/svg"),
        "an SVG is never inline"
    );

    let Some(chromium) = chromium() else { return };
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", a.out.join(CONV).join("index.html").display());
    let dom = headless(&chromium, profile.path(), &["--dump-dom", &url]);
    let dom = text(&dom.stdout);
    assert!(
        dom.contains(&format!(
            "<a href=\"attachments/{INVOICE_ID}/invoice.html\" download=\"\">invoice.html</a>"
        )),
        "{dom}"
    );
}

/// A legacy chat exports like any conversation: its lines, the agent's name,
/// a member joining labelled in words, and the checked transcript.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_chat_exports_every_line_and_labels_its_notices() {
    const CHAT: &str = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";
    let fake = FakeGenesys::start().await.unwrap();
    let mut chat = FakeConversation::chat_sample(CHAT);
    // `ChatMessage.bodyType` MEMBERJOIN (platform-client-sdk `ChatMessage.md`).
    chat.chat_extra = vec![serde_json::json!({
        "id": "join-1", "bodyType": "MEMBERJOIN", "utc": "2026-09-21T15:03:00.000Z",
        "participantPurpose": "agent", "user": {"name": "Sam <b>Okafor</b>"}
    })];
    chat.messages[0].text = HOSTILE.into();
    fake.add(chat);
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let event = dir.path().join("chat.json");
    let text_of_event = std::fs::read_to_string(
        repo().join("fixtures/genesys/eventbridge_customer_end__webmessaging.json"),
    )
    .unwrap()
    .replace(CONV, CHAT)
    .replace("\"MESSAGE\"", "\"CHAT\"");
    std::fs::write(&event, text_of_event).unwrap();
    let (v, base) = (vault.clone(), fake.base_url());
    let out = tokio::task::spawn_blocking(move || {
        tvault_genesys(&v, &base, &["archive", event.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let target = dir.path().join("exports");
    let o = tvault(&vault, &["export", CHAT, "--out", target.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let target = target.join(CHAT);
    assert_eq!(
        files_under(&target),
        ["index.html", "manifest.json", "transcript.json"]
    );
    let manifest =
        Manifest::from_slice(&std::fs::read(target.join("manifest.json")).unwrap()).unwrap();
    let transcript = std::fs::read(target.join("transcript.json")).unwrap();
    assert_eq!(
        sha256_hex(&transcript),
        manifest.transcript().unwrap().sha256
    );
    let html = std::fs::read_to_string(target.join("index.html")).unwrap();
    for t in [
        "<dt>Media type</dt><dd>CHAT</dd>",
        "Hi, my order arrived damaged. &lt;script&gt;",
        "I have reset it; you will get an email in a minute.",
        "<span class=\"who\">Sam Okafor</span> <span class=\"role\">(agent)</span> &middot; outbound",
        "Sam &lt;b&gt;Okafor&lt;/b&gt;",
        "<span class=\"kind\">joined the chat</span>",
    ] {
        assert!(html.contains(t), "{t:?} not in the page:\n{html}");
    }
    assert!(!html.contains("<script"), "unescaped script in the page");
}
