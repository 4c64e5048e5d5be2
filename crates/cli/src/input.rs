//! Reading archive input: files, directories and stdin, as whole JSON
//! documents or JSON Lines, split into records with their origin.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::de::IgnoredAny;
use tvault_core::event::{InvalidInput, split_document};

/// One record to archive, with where it came from for error reports.
#[derive(Debug)]
pub struct Record {
    /// `FILE:LINE`, plus `Records[i]` for SQS events.
    pub origin: String,
    /// The EventBridge event text, or why there is none.
    pub body: Result<String, InvalidInput>,
}

/// Largest input document accepted: a whole file (or stdin) read as one
/// document, or one line of JSON Lines. Parsing a document into a JSON tree
/// takes about twelve times its size in memory, and no Genesys event comes
/// near this (an SQS message is at most 1 MiB).
pub const MAX_DOCUMENT: usize = 64 * 1024 * 1024;

/// The files to read, and the symbolic links met inside directories, which
/// are not followed (they could lead out of the directory or round in a loop).
#[derive(Debug, Default)]
pub struct Expanded {
    pub files: Vec<PathBuf>,
    /// Entries of a directory that were not read: symbolic links, and
    /// anything that is neither a file nor a directory (a FIFO would block).
    pub not_followed: Vec<PathBuf>,
}

/// Expand the command-line inputs into files (stdin as `-`). Directories give
/// their `*.json`, `*.jsonl` and `*.ndjson` files, recursively, in name order;
/// a path named on the command line is read even if it is a symbolic link.
pub fn expand(inputs: &[PathBuf]) -> Result<Expanded> {
    let mut out = Expanded::default();
    if inputs.is_empty() {
        out.files.push(PathBuf::from("-"));
        return Ok(out);
    }
    for input in inputs {
        if input.as_os_str() == "-" {
            out.files.push(input.clone());
        } else if input.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found, &mut out.not_followed)
                .with_context(|| format!("reading directory {}", input.display()))?;
            if found.is_empty() {
                bail!(
                    "{} holds no *.json, *.jsonl or *.ndjson files",
                    input.display()
                );
            }
            found.sort();
            out.files.extend(found);
        } else if input.is_file() {
            out.files.push(input.clone());
        } else {
            bail!("{}: no such file or directory", input.display());
        }
    }
    out.not_followed.sort();
    Ok(out)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, skipped: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // The entry's own type: a symbolic link is not followed.
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, found, skipped)?;
        } else if !kind.is_file() {
            skipped.push(path);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "json" | "jsonl" | "ndjson"))
        {
            found.push(path);
        }
    }
    Ok(())
}

/// Read one input (a path, or `-` for stdin) and split it into records.
///
/// Input up to [`MAX_DOCUMENT`] is read whole and split by [`records`].
/// Larger input can only be JSON Lines: it is read line by line, each line
/// at most [`MAX_DOCUMENT`] (a longer one fails as a record, unread past the
/// limit); if its first line is not a JSON document, the input is one
/// document over the limit and fails as one record without being read further.
pub fn read_records(path: &Path) -> Result<Vec<Record>> {
    if path.as_os_str() == "-" {
        let stdin = std::io::stdin().lock();
        return records_from("<stdin>", stdin).context("reading stdin");
    }
    let name = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("reading {name}"))?;
    let large = file.metadata().is_ok_and(|m| m.len() > MAX_DOCUMENT as u64);
    let input = std::io::BufReader::new(file);
    // A large file goes line by line at once: no 64 MiB head held beside a line.
    let records = if large {
        lines_from(&name, input)
    } else {
        records_from(&name, input)
    };
    records.with_context(|| format!("reading {name}"))
}

fn records_from(name: &str, mut input: impl BufRead) -> Result<Vec<Record>> {
    let mut head = Vec::new();
    (&mut input)
        .take(MAX_DOCUMENT as u64 + 1)
        .read_to_end(&mut head)?;
    if head.len() <= MAX_DOCUMENT {
        let text = String::from_utf8(head).context("the input is not UTF-8 text")?;
        return Ok(records(name, &text));
    }
    lines_from(name, std::io::Cursor::new(head).chain(input))
}

/// Input larger than one document may be: JSON Lines, one bounded line at a time.
fn lines_from(name: &str, mut input: impl BufRead) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let mut number = 0usize;
    let mut json_lines = false;
    loop {
        let mut line = Vec::new();
        let n = (&mut input)
            .take(MAX_DOCUMENT as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        let origin = format!("{name}:{number}");
        let complete = line.last() == Some(&b'\n') || line.len() <= MAX_DOCUMENT;
        if !complete {
            // Past the limit: skip the rest of this line without keeping it.
            let mut rest = 0u64;
            loop {
                let buf = input.fill_buf()?;
                if buf.is_empty() {
                    break;
                }
                let (used, end) = match buf.iter().position(|b| *b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                rest = rest.saturating_add(used as u64);
                input.consume(used);
                if end {
                    break;
                }
            }
            out.push(too_large(origin, (line.len() as u64).saturating_add(rest)));
            continue;
        }
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Ok(text) = std::str::from_utf8(line) else {
            out.push(Record {
                origin,
                body: Err(InvalidInput::NotJson("the line is not UTF-8 text".into())),
            });
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        if !json_lines {
            if serde_json::from_str::<IgnoredAny>(text).is_err() {
                // Not JSON Lines: one whole document over the limit.
                return Ok(vec![too_large(format!("{name}:1"), 0)]);
            }
            json_lines = true;
        }
        out.extend(split(origin, text));
    }
    Ok(out)
}

/// A record refused for its size; `size` 0 when it is not known (not read).
fn too_large(origin: String, size: u64) -> Record {
    let size = if size == 0 {
        "more than 64 MiB".to_string()
    } else {
        format!("{size} bytes")
    };
    Record {
        origin,
        body: Err(InvalidInput::BadValue {
            field: "document".into(),
            reason: format!(
                "{size}; at most {MAX_DOCUMENT} bytes (64 MiB) are accepted per document (a whole file, or one line of JSON Lines)"
            ),
        }),
    }
}

/// Split a file's text (at most [`MAX_DOCUMENT`] bytes) into records.
///
/// A file that parses as one JSON document is one document. Otherwise, if its
/// first non-blank line is a JSON document by itself, the file is JSON Lines
/// and every non-blank line is a document. Otherwise it is one broken
/// document, reported once with the parser's line and column.
pub fn records(name: &str, text: &str) -> Vec<Record> {
    // `IgnoredAny` checks the syntax without building the tree.
    let whole_ok = serde_json::from_str::<IgnoredAny>(text).is_ok();
    let first = text.lines().enumerate().find(|(_, l)| !l.trim().is_empty());
    let json_lines =
        !whole_ok && first.is_some_and(|(_, l)| serde_json::from_str::<IgnoredAny>(l).is_ok());
    let docs: Vec<(usize, &str)> = if json_lines {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, l))
            .collect()
    } else {
        vec![(first.map_or(1, |(i, _)| i + 1), text)]
    };
    docs.into_iter()
        .flat_map(|(line, doc)| split(format!("{name}:{line}"), doc))
        .collect()
}

/// One document's records (an SQS event gives several), named by origin.
fn split(origin: String, doc: &str) -> Vec<Record> {
    match split_document(doc) {
        Err(e) => vec![Record {
            origin,
            body: Err(e),
        }],
        Ok(split) if split.len() == 1 && split[0].message_id.is_none() => split
            .into_iter()
            .map(|r| Record {
                origin: origin.clone(),
                body: r.body,
            })
            .collect(),
        Ok(split) => split
            .into_iter()
            .enumerate()
            .map(|(i, r)| Record {
                origin: match &r.message_id {
                    Some(id) => format!("{origin}: record {i} (SQS message {id})"),
                    None => format!("{origin}: record {i}"),
                },
                body: r.body,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pretty_document_is_one_record_at_its_first_line() {
        let text = "\n{\n  \"detail\": {}\n}\n";
        let r = records("f.json", text);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].origin, "f.json:2");
        assert!(r[0].body.is_ok());
    }

    #[test]
    fn json_lines_give_one_record_per_line_with_numbers() {
        let text = "{\"a\":1}\n\nnot json\n{\"b\":2}\n";
        let r = records("f.jsonl", text);
        let origins: Vec<_> = r.iter().map(|r| r.origin.as_str()).collect();
        assert_eq!(origins, ["f.jsonl:1", "f.jsonl:3", "f.jsonl:4"]);
        assert!(matches!(r[1].body, Err(InvalidInput::NotJson(_))));
    }

    #[test]
    fn a_truncated_document_is_one_error_with_a_position() {
        let r = records("f.json", "{\n  \"detail\": {\n");
        assert_eq!(r.len(), 1);
        let err = r[0].body.as_ref().unwrap_err().to_string();
        assert!(err.contains("EOF while parsing"), "{err}");
    }

    #[test]
    fn sqs_events_split_into_records_named_by_message_id() {
        let text = r#"{"Records":[{"messageId":"m1","body":"{}"},{"messageId":"m2","body":7}]}"#;
        let r = records("q.json", text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].origin, "q.json:1: record 0 (SQS message m1)");
        assert!(r[1].body.is_err());
    }
}
