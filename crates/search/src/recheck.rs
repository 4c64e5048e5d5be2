//! Every hit is checked against the vault before it is shown: its manifest
//! is read by name, the transcript it lists is read and hashed against it,
//! and each matching message's text must be the indexed text. So a stale or
//! tampered index (or a tampered vault) cannot show words the vault does not
//! hold: such a hit is refused with the reason.

use tvault_core::ConversationId;
use tvault_core::manifest::Manifest;
use tvault_core::ports::Vault;
use tvault_core::read;
use tvault_core::transcript::Transcript;

use crate::query::{Hit, MARK_CLOSE, MARK_OPEN, MatchedMessage};

/// Characters of context a snippet shows around its first match.
pub const SNIPPET_CHARS: usize = 160;

/// A stretch of a snippet: plain, or a match to highlight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub matched: bool,
}

/// A matching message as checked against the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub message: MatchedMessage,
    /// A window of the message's text, cut at [`SNIPPET_CHARS`].
    pub segments: Vec<Segment>,
    /// The window starts after the text's start / ends before its end.
    pub cut_before: bool,
    pub cut_after: bool,
}

/// A hit that passed the check.
#[derive(Debug, Clone)]
pub struct Checked {
    pub hit: Hit,
    pub manifest: Manifest,
    pub transcript: Transcript,
    pub snippets: Vec<Snippet>,
    /// Set when the vault holds generations of this conversation that the
    /// index has not read (`tvault index` again would pick its latest).
    pub stale: Option<String>,
}

/// Why a hit is not shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("conversation {conversation} generation {generation}: not shown: {reason}")]
pub struct Refused {
    pub conversation: String,
    pub generation: String,
    pub reason: String,
}

/// Check `hit` against the vault (see the module docs).
pub async fn recheck(vault: &dyn Vault, hit: Hit) -> Result<Checked, Refused> {
    let refuse = |reason: String| Refused {
        conversation: hit.conversation.clone(),
        generation: hit.generation.clone(),
        reason,
    };
    let conv = ConversationId::new(hit.conversation.as_str()).map_err(|e| refuse(e.to_string()))?;
    let manifest = read::manifest(vault, &conv, Some(&hit.generation))
        .await
        .map_err(|e| {
            refuse(format!(
                "{e} (the index is stale, or was built from another vault)"
            ))
        })?;
    let entry = manifest
        .transcript()
        .ok_or_else(|| refuse("its manifest lists no transcript".into()))?;
    if entry.sha256 != hit.transcript_sha256 {
        return Err(refuse(format!(
            "the manifest lists transcript sha256 {}, the index holds {}",
            entry.sha256, hit.transcript_sha256
        )));
    }
    let bytes = read::read_checked(vault, entry)
        .await
        .map_err(|e| refuse(e.to_string()))?;
    let transcript: Transcript = serde_json::from_slice(&bytes)
        .map_err(|e| refuse(format!("{}: not a valid transcript: {e}", entry.path)))?;
    let mut snippets = Vec::with_capacity(hit.messages.len());
    for m in &hit.messages {
        let stored = transcript
            .messages
            .get(m.seq)
            .map(|x| x.text.clone().unwrap_or_default())
            .ok_or_else(|| refuse(format!("the transcript has no message {}", m.seq + 1)))?;
        snippets.push(snippet(m, &stored).ok_or_else(|| {
            refuse(format!(
                "message {} of the transcript differs from the index",
                m.seq + 1
            ))
        })?);
    }
    let stale = match read::generations(vault, &conv).await {
        Ok(all) => {
            let new: Vec<String> = all
                .into_iter()
                .filter(|g| !hit.indexed_generations.contains(g))
                .collect();
            (!new.is_empty()).then(|| {
                format!(
                    "the vault holds generation(s) {} the index has not read: run `tvault index` again",
                    new.join(", ")
                )
            })
        }
        Err(e) => Some(format!("listing its generations failed: {e}")),
    };
    Ok(Checked {
        hit,
        manifest,
        transcript,
        snippets,
        stale,
    })
}

/// The snippet of `m` over the vault's text `stored`; `None` when the
/// indexed text is not the stored one.
fn snippet(m: &MatchedMessage, stored: &str) -> Option<Snippet> {
    let is_mark = |c: char| c == MARK_OPEN || c == MARK_CLOSE;
    let indexed: String = m.highlighted.chars().filter(|c| !is_mark(*c)).collect();
    let segments = if stored.contains(is_mark) {
        // The text holds the marks itself: compare without them, and show
        // the stored text unhighlighted.
        let plain: String = stored.chars().filter(|c| !is_mark(*c)).collect();
        if plain != indexed {
            return None;
        }
        vec![Segment {
            text: stored.to_string(),
            matched: false,
        }]
    } else {
        if indexed != stored {
            return None;
        }
        split_marks(&m.highlighted)
    };
    Some(window(m.clone(), segments))
}

fn split_marks(s: &str) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut cur = String::new();
    let mut matched = false;
    for c in s.chars() {
        if c == MARK_OPEN || c == MARK_CLOSE {
            if !cur.is_empty() {
                out.push(Segment {
                    text: std::mem::take(&mut cur),
                    matched,
                });
            }
            matched = c == MARK_OPEN;
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(Segment { text: cur, matched });
    }
    out
}

/// Cut the segments to about [`SNIPPET_CHARS`] characters, starting a
/// quarter of that before the first match.
fn window(message: MatchedMessage, segments: Vec<Segment>) -> Snippet {
    let total: usize = segments.iter().map(|s| s.text.chars().count()).sum();
    let first_match = {
        let mut at = 0;
        let mut found = None;
        for s in &segments {
            if s.matched {
                found = Some(at);
                break;
            }
            at += s.text.chars().count();
        }
        found.unwrap_or(0)
    };
    let start = first_match.saturating_sub(SNIPPET_CHARS / 4);
    let end = start.saturating_add(SNIPPET_CHARS).min(total);
    let mut out = Vec::new();
    let mut at = 0;
    for s in segments {
        let len = s.text.chars().count();
        let (from, to) = (start.max(at), end.min(at + len));
        if from < to {
            let text: String = s.text.chars().skip(from - at).take(to - from).collect();
            out.push(Segment {
                text,
                matched: s.matched,
            });
        }
        at += len;
    }
    Snippet {
        message,
        segments: out,
        cut_before: start > 0,
        cut_after: end < total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(highlighted: &str) -> MatchedMessage {
        MatchedMessage {
            seq: 0,
            message_id: None,
            time: None,
            purpose: None,
            sender_name: None,
            highlighted: highlighted.into(),
        }
    }

    #[test]
    fn the_indexed_text_must_be_the_stored_text() {
        let m = msg("my \u{E000}refund\u{E001} please");
        let s = snippet(&m, "my refund please").unwrap();
        assert_eq!(
            s.segments,
            [
                Segment {
                    text: "my ".into(),
                    matched: false
                },
                Segment {
                    text: "refund".into(),
                    matched: true
                },
                Segment {
                    text: " please".into(),
                    matched: false
                },
            ]
        );
        assert!(snippet(&m, "my refund, please").is_none());
        assert!(snippet(&m, "").is_none());
    }

    #[test]
    fn stored_text_with_the_marks_itself_is_shown_without_highlight() {
        let stored = "odd \u{E000} text";
        let m = msg("odd \u{E000}\u{E000} text\u{E001}");
        let s = snippet(&m, stored).unwrap();
        assert_eq!(s.segments.len(), 1);
        assert_eq!(s.segments[0].text, stored);
    }

    #[test]
    fn long_texts_are_cut_around_the_first_match() {
        let before = "a".repeat(500);
        let m = msg(&format!("{before}\u{E000}hit\u{E001}{}", "b".repeat(500)));
        let s = snippet(&m, &format!("{before}hit{}", "b".repeat(500))).unwrap();
        assert!(s.cut_before && s.cut_after);
        let shown: usize = s.segments.iter().map(|x| x.text.chars().count()).sum();
        assert_eq!(shown, SNIPPET_CHARS);
        assert!(s.segments.iter().any(|x| x.matched && x.text == "hit"));
    }
}
