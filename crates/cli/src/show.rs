//! `tvault show`.

use std::io::Write;

use anyhow::{Context, Result};
use tvault_core::ConversationId;
use tvault_core::manifest::Manifest;
use tvault_core::read;
use tvault_core::transcript::Transcript;

use crate::cli::{EXIT_FAILED, EXIT_OK, ShowArgs};
use crate::term;

pub async fn run(vault_location: &str, args: ShowArgs) -> Result<u8> {
    let conversation = ConversationId::new(args.conversation_id.clone())
        .with_context(|| format!("conversation id {:?}", args.conversation_id))?;
    let vault = crate::settings(vault_location).await?.open_vault()?;
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
    write!(out, "{}", render(&transcript, &manifest))?;
    Ok(EXIT_OK)
}

/// What a legacy chat line that is not an ordinary message is, in words
/// (`Message::body_type`, Genesys `ChatMessage.bodyType`). An unknown value is
/// shown reduced to letters, digits and `_`: it came from outside.
pub fn body_type_label(body_type: &str) -> String {
    match body_type {
        "MEMBERJOIN" => "joined the chat".into(),
        "MEMBERLEAVE" => "left the chat".into(),
        "NOTICE" => "notice".into(),
        "ACTIVITY" => "activity".into(),
        "TYPING" => "typing".into(),
        "MEDIAREQUEST" => "media request".into(),
        other => other
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(32)
            .collect::<String>()
            .to_lowercase(),
    }
}

/// The transcript as text for a person. Every text from the vault goes
/// through [`term`]: escaped, so it cannot drive the terminal.
pub fn render(t: &Transcript, m: &Manifest) -> String {
    let mut s = String::new();
    let or_dash = |o: &Option<String>| o.as_deref().map_or_else(|| "-".into(), term::line);
    s += &format!(
        "Conversation {}  ({})\n",
        t.conversation_id,
        or_dash(&t.media_type)
    );
    s += &format!(
        "Started {}   Ended {}\n",
        or_dash(&t.start_time),
        or_dash(&t.end_time)
    );
    s += &format!(
        "Generation {}, archived {} ({}{})\n\n",
        term::line(&m.generation),
        term::line(&m.archived_at),
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
            or_dash(&msg.timestamp),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_types_read_as_words_and_unknown_ones_lose_control_characters() {
        assert_eq!(body_type_label("MEMBERJOIN"), "joined the chat");
        assert_eq!(body_type_label("MEDIAREQUEST"), "media request");
        assert_eq!(body_type_label("NEW_KIND\u{1b}[2J"), "new_kind2j");
    }
}
