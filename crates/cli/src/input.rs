//! Reading archive input: files, directories and stdin, as whole JSON
//! documents or JSON Lines, split into records with their origin.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tvault_core::event::{InvalidInput, split_document};

/// One record to archive, with where it came from for error reports.
#[derive(Debug)]
pub struct Record {
    /// `FILE:LINE`, plus `Records[i]` for SQS events.
    pub origin: String,
    /// The EventBridge event text, or why there is none.
    pub body: Result<String, InvalidInput>,
}

/// Expand the command-line inputs into files (stdin as `-`). Directories give
/// their `*.json`, `*.jsonl` and `*.ndjson` files, recursively, in name order.
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if inputs.is_empty() {
        return Ok(vec![PathBuf::from("-")]);
    }
    let mut out = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            out.push(input.clone());
        } else if input.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found)
                .with_context(|| format!("reading directory {}", input.display()))?;
            if found.is_empty() {
                bail!(
                    "{} holds no *.json, *.jsonl or *.ndjson files",
                    input.display()
                );
            }
            found.sort();
            out.extend(found);
        } else if input.is_file() {
            out.push(input.clone());
        } else {
            bail!("{}: no such file or directory", input.display());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
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

/// Read one input (a path, or `-` for stdin) into text.
pub fn read(path: &Path) -> Result<(String, String)> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
        return Ok(("<stdin>".to_string(), text));
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

/// Split a file's text into records.
///
/// A file that parses as one JSON document is one document. Otherwise, if its
/// first non-blank line is a JSON document by itself, the file is JSON Lines
/// and every non-blank line is a document. Otherwise it is one broken
/// document, reported once with the parser's line and column.
pub fn records(name: &str, text: &str) -> Vec<Record> {
    let whole_ok = serde_json::from_str::<serde_json::Value>(text).is_ok();
    let first = text.lines().enumerate().find(|(_, l)| !l.trim().is_empty());
    let json_lines = !whole_ok
        && first.is_some_and(|(_, l)| serde_json::from_str::<serde_json::Value>(l).is_ok());
    let docs: Vec<(usize, &str)> = if json_lines {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, l))
            .collect()
    } else {
        vec![(first.map_or(1, |(i, _)| i + 1), text)]
    };
    let mut out = Vec::new();
    for (line, doc) in docs {
        let origin = format!("{name}:{line}");
        match split_document(doc) {
            Err(e) => out.push(Record {
                origin,
                body: Err(e),
            }),
            Ok(split) if split.len() == 1 && split[0].message_id.is_none() => {
                out.extend(split.into_iter().map(|r| Record {
                    origin: origin.clone(),
                    body: r.body,
                }));
            }
            Ok(split) => out.extend(split.into_iter().enumerate().map(|(i, r)| Record {
                origin: match &r.message_id {
                    Some(id) => format!("{origin}: record {i} (SQS message {id})"),
                    None => format!("{origin}: record {i}"),
                },
                body: r.body,
            })),
        }
    }
    out
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
