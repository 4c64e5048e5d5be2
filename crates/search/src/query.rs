//! Searching the index: filters in, conversations out (latest generation
//! only, newest first), each with its matching messages highlighted.
//!
//! User text never reaches FTS5 as syntax. [`fts_expression`] cuts it into
//! words and `"quoted phrases"`, writes each as an FTS5 string (`"..."`, a
//! `"` doubled), and joins them with `AND`; a trailing `*` outside the quotes
//! makes a prefix query. So `AND`, `NEAR`, `col:`, `^` and parentheses typed
//! by a user are words to find, not operators.

use rusqlite::{Connection, params_from_iter, types::Value as Sql};
use tvault_core::days::DayRange;

use crate::SearchError;
use crate::extract::{Person, is_pictograph, symbol_word};
use crate::schema::SEQ_BITS;

/// Opens and closes a highlighted stretch in [`MatchedMessage::highlighted`]:
/// private-use characters, checked against the vault's text before use.
pub const MARK_OPEN: char = '\u{E000}';
pub const MARK_CLOSE: char = '\u{E001}';

/// Most matching messages returned per conversation.
pub const MESSAGES_PER_HIT: usize = 5;

/// What to look for; every filter given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Words, `"phrases"` and `prefix*`es, all in one message (its text or
    /// its attachment names).
    pub text: Option<String>,
    /// A name, address, external contact id or user id of anyone in the
    /// conversation, as a phrase (`prefix*` allowed).
    pub participant: Option<String>,
    /// UTC days of the date index (the day a conversation ended).
    pub days: Option<DayRange>,
    /// `MESSAGE` or `CHAT` (any case).
    pub media: Option<String>,
    /// Genesys `messageType`: `WEBMESSAGING`, `SMS`, `WHATSAPP`, `OPEN` ... (any case).
    pub message_type: Option<String>,
    /// Most conversations returned.
    pub limit: usize,
}

/// One matching message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedMessage {
    pub seq: usize,
    pub message_id: Option<String>,
    pub time: Option<String>,
    pub purpose: Option<String>,
    pub sender_name: Option<String>,
    /// The indexed text with [`MARK_OPEN`]/[`MARK_CLOSE`] around each match.
    pub highlighted: String,
}

/// One conversation found (its latest indexed generation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub conversation: String,
    pub generation: String,
    pub day: String,
    pub archived_at: String,
    pub transcript_sha256: String,
    pub media_type: Option<String>,
    pub message_type: Option<String>,
    pub queue: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub people: Vec<Person>,
    pub message_count: usize,
    pub attachment_count: usize,
    pub missing_count: usize,
    /// Every generation of the conversation in the index.
    pub indexed_generations: Vec<String>,
    /// The matching messages (with no `--text`: the first message with text).
    pub messages: Vec<MatchedMessage>,
}

/// Conversations found, newest first, and whether more matched than `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub hits: Vec<Hit>,
    pub more: bool,
}

/// Turn user text into a safe FTS5 expression (see the module docs). Every
/// pictograph becomes a word of its own (`emoji1f389`), as indexed.
pub fn fts_expression(input: &str) -> Result<String, SearchError> {
    let mut parts: Vec<String> = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut term = String::new();
        if c == '"' {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                term.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                term.push(c);
                chars.next();
            }
        }
        let mut prefix = false;
        while chars.peek() == Some(&'*') {
            prefix = true;
            chars.next();
        }
        while term.ends_with('*') {
            term.pop();
            prefix = true;
        }
        for c in term.chars().filter(|c| is_pictograph(*c)) {
            let w = format!("\"{}\"", symbol_word(c));
            if !parts.contains(&w) {
                parts.push(w);
            }
        }
        // A term with no letter or digit gives FTS5 no token: leave it out
        // rather than let an empty phrase decide the result.
        if term.chars().any(char::is_alphanumeric) {
            let star = if prefix { "*" } else { "" };
            parts.push(format!("\"{}\"{star}", term.replace('"', "\"\"")));
        }
    }
    if parts.is_empty() {
        return Err(SearchError::Query(format!(
            "{input:?} has no word to search for"
        )));
    }
    Ok(parts.join(" AND "))
}

/// The participant filter: the whole input as one phrase (`prefix*` allowed).
pub fn participant_expression(input: &str) -> Result<String, SearchError> {
    let trimmed = input.trim();
    let (words, prefix) = match trimmed.strip_suffix('*') {
        Some(w) => (w.trim_end_matches('*'), true),
        None => (trimmed, false),
    };
    if !words.chars().any(char::is_alphanumeric) {
        return Err(SearchError::Query(format!(
            "{input:?} has no name, address or id to search for"
        )));
    }
    let star = if prefix { "*" } else { "" };
    Ok(format!("\"{}\"{star}", words.replace('"', "\"\"")))
}

/// Run `q` against the index.
pub fn search(conn: &Connection, q: &Query) -> Result<Found, SearchError> {
    let text = q.text.as_deref().map(fts_expression).transpose()?;
    let mut sql = String::from(
        "SELECT g.id, g.conversation, g.generation, g.day, g.archived_at, g.transcript_sha256,
                g.media_type, g.message_type, g.queue, g.start_time, g.end_time, g.participants,
                g.message_count, g.attachment_count, g.missing_count
         FROM conversations c JOIN generations g ON g.id = c.latest WHERE 1",
    );
    let mut args: Vec<Sql> = Vec::new();
    if let Some(t) = &text {
        // Rowids carry the generation: no join to find which ones match.
        sql += &format!(
            " AND g.id IN (SELECT rowid >> {SEQ_BITS} FROM messages_fts WHERE messages_fts MATCH ?)"
        );
        args.push(Sql::Text(t.clone()));
    }
    if let Some(p) = &q.participant {
        sql += " AND g.id IN (SELECT rowid FROM people_fts WHERE people_fts MATCH ?)";
        args.push(Sql::Text(participant_expression(p)?));
    }
    if let Some(d) = q.days {
        sql += " AND g.day BETWEEN ? AND ?";
        args.push(Sql::Text(d.from().to_string()));
        args.push(Sql::Text(d.to().to_string()));
    }
    if let Some(m) = &q.media {
        sql += " AND g.media_type = ?";
        args.push(Sql::Text(m.trim().to_uppercase()));
    }
    if let Some(m) = &q.message_type {
        sql += " AND g.message_type = ?";
        args.push(Sql::Text(m.trim().to_uppercase()));
    }
    let limit = q.limit.max(1);
    sql += " ORDER BY g.sort_time DESC, g.conversation LIMIT ?";
    args.push(Sql::Integer(
        i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1,
    ));

    let mut stmt = conn.prepare(&sql).map_err(db)?;
    let mut rows = stmt.query(params_from_iter(args)).map_err(db)?;
    let mut found: Vec<(i64, Hit)> = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        let people: String = r.get(11).map_err(db)?;
        let count = |i: usize| -> Result<usize, SearchError> {
            Ok(usize::try_from(r.get::<_, i64>(i).map_err(db)?).unwrap_or(0))
        };
        found.push((
            r.get(0).map_err(db)?,
            Hit {
                conversation: r.get(1).map_err(db)?,
                generation: r.get(2).map_err(db)?,
                day: r.get(3).map_err(db)?,
                archived_at: r.get(4).map_err(db)?,
                transcript_sha256: r.get(5).map_err(db)?,
                media_type: r.get(6).map_err(db)?,
                message_type: r.get(7).map_err(db)?,
                queue: r.get(8).map_err(db)?,
                start_time: r.get(9).map_err(db)?,
                end_time: r.get(10).map_err(db)?,
                people: serde_json::from_str(&people).unwrap_or_default(),
                message_count: count(12)?,
                attachment_count: count(13)?,
                missing_count: count(14)?,
                indexed_generations: Vec::new(),
                messages: Vec::new(),
            },
        ));
    }
    let more = found.len() > limit;
    found.truncate(limit);
    let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
    let mut messages = match text.as_deref() {
        Some(t) => matched_messages(conn, &ids, t)?,
        None => {
            let mut m = std::collections::HashMap::new();
            for id in &ids {
                m.insert(*id, first_message(conn, *id)?);
            }
            m
        }
    };
    let mut gens = conn
        .prepare("SELECT generation FROM generations WHERE conversation = ?1")
        .map_err(db)?;
    for (id, hit) in &mut found {
        hit.messages = messages.remove(id).unwrap_or_default();
        hit.indexed_generations = gens
            .query_map([&hit.conversation], |r| r.get(0))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
    }
    Ok(Found {
        hits: found.into_iter().map(|(_, h)| h).collect(),
        more,
    })
}

const MESSAGE_COLS: &str = "m.seq, m.message_id, m.time, m.purpose, m.sender_name";

fn message_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MatchedMessage> {
    Ok(MatchedMessage {
        seq: usize::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
        message_id: r.get(1)?,
        time: r.get(2)?,
        purpose: r.get(3)?,
        sender_name: r.get(4)?,
        highlighted: r.get(5)?,
    })
}

/// The first [`MESSAGES_PER_HIT`] matching messages of each generation in
/// `gen_ids`, highlighted. Two evaluations of the match in all, whatever the
/// number of generations: a prefix query costs a merge of doclists each
/// time, so it is not run once per generation. The rowid filters are
/// written as expressions (`rowid + 0`, `rowid >> 24`) so SQLite applies
/// them to the one match instead of running the match once per value.
fn matched_messages(
    conn: &Connection,
    gen_ids: &[i64],
    text: &str,
) -> Result<std::collections::HashMap<i64, Vec<MatchedMessage>>, SearchError> {
    let mut out: std::collections::HashMap<i64, Vec<MatchedMessage>> = Default::default();
    if gen_ids.is_empty() {
        return Ok(out);
    }
    let gens_json = serde_json::to_string(gen_ids).unwrap_or_else(|_| "[]".into());
    let mut picked: Vec<i64> = Vec::new();
    {
        let mut per_gen: std::collections::HashMap<i64, usize> = Default::default();
        let mut q = conn
            .prepare(&format!(
                "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1
                   AND (rowid >> {SEQ_BITS}) IN (SELECT value FROM json_each(?2)) ORDER BY rowid"
            ))
            .map_err(db)?;
        let rows = q
            .query_map(rusqlite::params![text, gens_json], |r| r.get::<_, i64>(0))
            .map_err(db)?;
        for rowid in rows {
            let rowid = rowid.map_err(db)?;
            let n = per_gen.entry(rowid >> SEQ_BITS).or_default();
            if *n < MESSAGES_PER_HIT {
                *n += 1;
                picked.push(rowid);
            }
        }
    }
    let picked_json = serde_json::to_string(&picked).unwrap_or_else(|_| "[]".into());
    let mut q = conn
        .prepare(&format!(
            "SELECT {MESSAGE_COLS}, highlight(messages_fts, 0, ?1, ?2), messages_fts.rowid
             FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
             WHERE messages_fts MATCH ?3
               AND (messages_fts.rowid + 0) IN (SELECT value FROM json_each(?4))
             ORDER BY messages_fts.rowid"
        ))
        .map_err(db)?;
    let rows = q
        .query_map(
            rusqlite::params![
                MARK_OPEN.to_string(),
                MARK_CLOSE.to_string(),
                text,
                picked_json
            ],
            |r| Ok((r.get::<_, i64>(6)?, message_row(r)?)),
        )
        .map_err(db)?;
    for row in rows {
        let (rowid, m) = row.map_err(db)?;
        out.entry(rowid >> SEQ_BITS).or_default().push(m);
    }
    Ok(out)
}

/// Without a text query: the first message with text of one generation.
fn first_message(conn: &Connection, gen_id: i64) -> Result<Vec<MatchedMessage>, SearchError> {
    let lo = gen_id << SEQ_BITS;
    let hi = lo | ((1i64 << SEQ_BITS) - 1);
    let mut q = conn
        .prepare(&format!(
            "SELECT {MESSAGE_COLS}, m.text FROM messages m
             WHERE m.id BETWEEN ?1 AND ?2 AND m.text != '' ORDER BY m.id LIMIT 1"
        ))
        .map_err(db)?;
    let rows = q.query_map([lo, hi], message_row).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

fn db(e: rusqlite::Error) -> SearchError {
    SearchError::Db {
        path: crate::schema::FILE_NAME.into(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_and_prefixes_become_quoted_fts5_strings() {
        assert_eq!(fts_expression("refund").unwrap(), "\"refund\"");
        assert_eq!(
            fts_expression("  \"order arrived\" refun* ").unwrap(),
            "\"order arrived\" AND \"refun\"*"
        );
        assert_eq!(fts_expression("\"order arr\"*").unwrap(), "\"order arr\"*");
    }

    #[test]
    fn fts5_syntax_typed_by_a_user_is_text_not_operators() {
        assert_eq!(
            fts_expression("a OR b NOT c NEAR(d) text:e ^f").unwrap(),
            "\"a\" AND \"OR\" AND \"b\" AND \"NOT\" AND \"c\" AND \"NEAR(d)\" AND \"text:e\" AND \"^f\""
        );
        // An unbalanced quote ends the phrase at the end of the input; a
        // quote inside a word is doubled inside the FTS5 string.
        assert_eq!(fts_expression("\"open end").unwrap(), "\"open end\"");
        assert_eq!(fts_expression("it\"s").unwrap(), "\"it\" AND \"s\"");
        assert_eq!(
            participant_expression("O\"Brien").unwrap(),
            "\"O\"\"Brien\""
        );
    }

    #[test]
    fn emoji_are_searched_as_their_words_and_empty_queries_are_refused() {
        assert_eq!(
            fts_expression("🎉 danke").unwrap(),
            "\"emoji1f389\" AND \"danke\""
        );
        assert!(matches!(
            fts_expression("  ** \"\" "),
            Err(SearchError::Query(_))
        ));
        assert!(matches!(
            participant_expression("*"),
            Err(SearchError::Query(_))
        ));
        assert_eq!(participant_expression("Jor*").unwrap(), "\"Jor\"*");
    }
}
