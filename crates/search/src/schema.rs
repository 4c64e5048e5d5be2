//! The index file: one SQLite database, `index.sqlite` in the index folder.
//!
//! Plain tables any SQLite tool can read (`generations`, `conversations`,
//! `messages`) and two FTS5 tables over them. Message rows are numbered
//! `generation id << 24 | position`, so the full-text index answers "which
//! generations match" without a join, and one generation's matches are a
//! rowid range.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::SearchError;

/// Written into `meta` and checked on open: another layout is another cache.
pub const SCHEMA: &str = "transcript-vault/search-index/v1";

/// The file inside the index folder.
pub const FILE_NAME: &str = "index.sqlite";

/// Bits of a message rowid that hold its position in the transcript: a
/// generation holds at most 2^24 (16,777,216) messages in the index.
pub const SEQ_BITS: u32 = 24;
/// Most messages indexed per generation (see [`SEQ_BITS`]).
pub const MAX_MESSAGES: usize = 1 << SEQ_BITS;

/// `unicode61` folds case and, with `remove_diacritics 2`, accents of every
/// script (`Müller` is found by `muller`, `élève` by `eleve`).
const TOKENIZE: &str = "unicode61 remove_diacritics 2";

fn ddl() -> String {
    format!(
        "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Date-index markers already read: re-running `tvault index` reads only new ones.
CREATE TABLE IF NOT EXISTS markers(path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS generations(
  id INTEGER PRIMARY KEY,
  conversation TEXT NOT NULL,
  generation TEXT NOT NULL,
  day TEXT NOT NULL,
  archived_at TEXT NOT NULL,
  transcript_sha256 TEXT NOT NULL,
  media_type TEXT,
  message_type TEXT,
  queue TEXT,
  start_time TEXT,
  end_time TEXT,
  sort_time TEXT NOT NULL,
  participants TEXT NOT NULL,
  message_count INTEGER NOT NULL,
  attachment_count INTEGER NOT NULL,
  missing_count INTEGER NOT NULL,
  UNIQUE(conversation, generation));
-- The generation each conversation is searched and shown by (core's latest).
CREATE TABLE IF NOT EXISTS conversations(
  conversation TEXT PRIMARY KEY,
  latest INTEGER NOT NULL REFERENCES generations(id));
CREATE INDEX IF NOT EXISTS conversations_latest ON conversations(latest);
CREATE INDEX IF NOT EXISTS generations_sort ON generations(sort_time);
CREATE TABLE IF NOT EXISTS messages(
  id INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL,
  message_id TEXT,
  time TEXT,
  direction TEXT,
  purpose TEXT,
  body_type TEXT,
  sender_name TEXT,
  sender_address TEXT,
  sender_external TEXT,
  sender_user TEXT,
  text TEXT NOT NULL,
  attachments TEXT NOT NULL,
  symbols TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
  text, attachments, symbols, content='messages', content_rowid='id',
  tokenize='{TOKENIZE}');
-- One row per generation (rowid = generations.id): every name, address and id
-- of its participants and senders.
CREATE VIRTUAL TABLE IF NOT EXISTS people_fts USING fts5(who, tokenize='{TOKENIZE}');
"
    )
}

/// The index file of an index folder.
pub fn file_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> SearchError + '_ {
    move |e| SearchError::Db {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Open (creating if needed) the index in `dir` for writing.
pub fn open_for_writing(dir: &Path) -> Result<Connection, SearchError> {
    std::fs::create_dir_all(dir).map_err(|e| SearchError::Db {
        path: dir.display().to_string(),
        message: format!("cannot create the folder: {e}"),
    })?;
    let path = file_in(dir);
    let err = db_err(&path);
    let conn = Connection::open(&path).map_err(&err)?;
    // A rollback journal (not WAL) keeps the index one file between runs.
    conn.execute_batch(&ddl()).map_err(&err)?;
    let found: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(&err)?;
    match found {
        None => {
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema', ?1)",
                [SCHEMA],
            )
            .map_err(&err)?;
        }
        Some(s) if s == SCHEMA => {}
        Some(s) => return Err(other_schema(&path, &s)),
    }
    Ok(conn)
}

/// Open an existing index read-only (`find`, `serve`).
pub fn open_for_reading(dir: &Path) -> Result<Connection, SearchError> {
    let path = file_in(dir);
    if !path.is_file() {
        return Err(SearchError::NoIndex {
            path: path.display().to_string(),
        });
    }
    let err = db_err(&path);
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&err)?;
    let found: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| SearchError::Db {
            path: path.display().to_string(),
            message: format!("not a tvault search index: {e}"),
        })?;
    // A fresh process reads the index through mmap rather than one read()
    // call per page: `find` is a short-lived process and mostly cold.
    let _ = conn.pragma_update(None, "mmap_size", 256i64 * 1024 * 1024);
    match found {
        Some(s) if s == SCHEMA => Ok(conn),
        Some(s) => Err(other_schema(&path, &s)),
        None => Err(other_schema(&path, "nothing")),
    }
}

fn other_schema(path: &Path, found: &str) -> SearchError {
    SearchError::Db {
        path: path.display().to_string(),
        message: format!(
            "made as {found:?}, not {SCHEMA:?}; the index is only a cache: delete it and run `tvault index` again"
        ),
    }
}
