//! `tvault show`.

use std::io::Write;

use anyhow::{Context, Result};
use tvault_core::ConversationId;
use tvault_core::manifest::Manifest;
use tvault_core::read;
use tvault_core::transcript::Transcript;

use crate::cli::{EXIT_FAILED, EXIT_OK, ShowArgs};
use crate::term;
use tvault_web::page::body_type_label;
use tvault_web::zone::Zone;

pub async fn run(vault_location: &str, args: ShowArgs) -> Result<u8> {
    let conversation = ConversationId::new(args.conversation_id.clone())
        .with_context(|| format!("conversation id {:?}", args.conversation_id))?;
    let vault = crate::settings(vault_location)
        .await?
        .open_existing_vault()?;
    let picked = match read::pick(vault.as_ref(), &conversation, args.generation.as_deref()).await {
        Ok(p) => p,
        Err(
            e @ (read::ReadError::NotArchived(_)
            | read::ReadError::NoSuchGeneration { .. }
            | read::ReadError::BadManifest { .. }),
        ) => {
            eprintln!("tvault: {}", term::line(&e.to_string()));
            return Ok(EXIT_FAILED);
        }
        Err(e) => return Err(e.into()),
    };
    // A junk manifest beside good ones (a writer credential can create one;
    // WORM keeps it) is named, and the readable generations are still shown.
    for bad in &picked.skipped {
        eprintln!("tvault: skipped {}", term::line(&bad.to_string()));
    }
    let manifest = picked.manifest;
    let Some(entry) = manifest.transcript() else {
        eprintln!(
            "tvault: manifest {} lists no transcript",
            term::line(&manifest.generation)
        );
        return Ok(EXIT_FAILED);
    };
    let bytes = match read::read_checked(vault.as_ref(), entry).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("tvault: {}", term::line(&e.to_string()));
            return Ok(EXIT_FAILED);
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        out.write_all(&bytes)?;
        return Ok(EXIT_OK);
    }
    let transcript: Transcript = serde_json::from_slice(&bytes)
        .with_context(|| format!("parsing {}", term::line(&entry.path)))?;
    let zone = crate::search::zone(args.tz.as_deref())?;
    write!(out, "{}", render(&transcript, &manifest, &zone))?;
    Ok(EXIT_OK)
}

/// The transcript as text for a person. Every text from the vault goes
/// through [`term`]: escaped, so it cannot drive the terminal.
pub fn render(t: &Transcript, m: &Manifest, zone: &Zone) -> String {
    let mut s = String::new();
    let or_dash = |o: &Option<String>| o.as_deref().map_or_else(|| "-".into(), term::line);
    let at = |o: &Option<String>| {
        o.as_deref()
            .map_or_else(|| "-".into(), |t| term::line(&zone.show(t)))
    };
    s += &format!(
        "Conversation {}  ({})\n",
        t.conversation_id,
        or_dash(&t.media_type)
    );
    s += &format!(
        "Started {}   Ended {}\n",
        at(&t.start_time),
        at(&t.end_time)
    );
    s += &format!(
        "Generation {}, archived {} ({}{})\n\n",
        term::line(&m.generation),
        term::line(&zone.show(&m.archived_at)),
        serde_json::to_value(m.trigger.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        m.trigger
            .topic
            .as_deref()
            .map(|t| format!(", {}", term::line(t)))
            .unwrap_or_default()
    );
    for msg in &t.messages {
        let who = msg
            .sender
            .name
            .clone()
            .or_else(|| msg.purpose.clone())
            .unwrap_or_else(|| "unknown".into());
        let mut role = match (&msg.purpose, &msg.sender.name) {
            (Some(p), Some(_)) => format!(" ({})", term::line(p)),
            _ => String::new(),
        };
        if let Some(b) = &msg.body_type {
            role += &format!(" [{}]", body_type_label(b));
        }
        s += &format!(
            "[{}] {}{role}: {}\n",
            at(&msg.timestamp),
            term::line(&who),
            term::lines(msg.text.as_deref().unwrap_or(""), "    ")
        );
        for a in &msg.attachments {
            let missing = m
                .missing
                .iter()
                .find(|x| x.attachment_id == a.attachment_id);
            s += &format!(
                "    attachment {} ({}, {}){}\n",
                term::line(a.name.as_deref().unwrap_or(a.attachment_id.as_str())),
                term::line(a.content_type.as_deref().unwrap_or("type unknown")),
                a.size
                    .map(|n| format!("{n} bytes"))
                    .unwrap_or_else(|| "size unknown".into()),
                match missing {
                    Some(x) => format!(": NOT IN VAULT ({})", term::line(&x.reason)),
                    None => format!(": {}", term::line(&a.path)),
                }
            );
        }
    }
    s
}
