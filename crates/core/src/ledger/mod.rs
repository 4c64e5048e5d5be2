//! The ledger (`transcript-vault/ledger/v1`): each UTC day's committed
//! generations, sealed into a hash-chained, create-only object, so that a
//! manifest removed, changed or slipped in after its day was sealed shows.
//!
//! ```text
//! ledger/{yyyy}/{mm}/{dd}.json       the sealed day (sequence 0)
//! ledger/{yyyy}/{mm}/{dd}.{n}.json   the n-th supplement: generations indexed on that day after it was sealed
//! ```
//!
//! An object lists its entries (one per index marker whose manifest exists,
//! sorted by conversation id then generation), a Merkle root over them
//! ([`merkle`], RFC 6962), and the SHA-256 of the object it follows
//! (`previous`): a day's main object follows the latest object of the
//! nearest earlier sealed day, a supplement the day's latest object. The
//! format is in `docs/vault-format.md`, with a standard-library Python script
//! that checks it.
//!
//! | module | role |
//! |---|---|
//! | [`merkle`] | the Merkle tree (leaf and node hashing, the root) |
//! | [`seal`] | sealing a day through the [`Vault`](crate::ports::Vault) port |
//! | [`audit`] | checking sealed days against the vault: chain, listed, unlisted, witness |

pub mod audit;
mod chain;
mod findings;
pub mod merkle;
pub mod seal;

use bytes::Bytes;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::hash::hex;
use crate::id::check_id;
use crate::keys;

/// Schema tag written into every ledger object.
pub const LEDGER_SCHEMA: &str = "transcript-vault/ledger/v1";

/// Entries per chunk when a ledger object is streamed out (about 250 bytes each).
const ENTRIES_PER_CHUNK: usize = 1024;

/// One committed generation of a day: its index marker's conversation and
/// generation, and its manifest as it was when the day was sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub conversation_id: String,
    pub generation: String,
    /// The manifest's object name, `conversations/{id}/manifest.{gen}.json`.
    pub manifest: String,
    /// Full lowercase hex SHA-256 of the manifest's bytes.
    pub sha256: String,
    /// The manifest's size in bytes.
    pub size: u64,
}

impl Entry {
    /// The leaf's canonical bytes: the five fields joined by `\n` (LF), no
    /// final newline, size in decimal. No field can hold a newline: ids and
    /// generations are checked ([`Entry::check`]), the hash is hex.
    pub fn leaf(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}",
            self.conversation_id, self.generation, self.manifest, self.sha256, self.size
        )
    }

    /// `SHA-256(0x00 || leaf)`.
    pub fn leaf_hash(&self) -> merkle::Hash {
        merkle::leaf_hash(self.leaf().as_bytes())
    }

    /// The sort key: conversation id, then generation (byte order).
    pub fn key(&self) -> (&str, &str) {
        (&self.conversation_id, &self.generation)
    }

    /// Whether the entry could have been written by `seal`: safe ids, the
    /// manifest name they make, a full hex hash.
    pub fn check(&self) -> Result<(), String> {
        check_id(&self.conversation_id)
            .map_err(|e| format!("conversation id {:?} {e}", self.conversation_id))?;
        if !is_generation(&self.generation) {
            return Err(format!(
                "generation {:?} is not a generation",
                self.generation
            ));
        }
        let want = manifest_name(&self.conversation_id, &self.generation);
        if self.manifest != want {
            return Err(format!(
                "manifest {:?} is not {want:?}, the name its conversation and generation make",
                self.manifest
            ));
        }
        if !is_sha256(&self.sha256) {
            return Err(format!(
                "sha256 {:?} is not 64 lowercase hex digits",
                self.sha256
            ));
        }
        Ok(())
    }
}

/// A generation as it appears in a marker or manifest name: an id without dots.
pub fn is_generation(g: &str) -> bool {
    check_id(g).is_ok() && !g.contains('.')
}

/// Whether `s` is a full lowercase hex SHA-256.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `conversations/{id}/manifest.{gen}.json` from checked strings.
fn manifest_name(conversation: &str, generation: &str) -> String {
    format!(
        "{}{conversation}/manifest.{generation}.json",
        keys::CONVERSATIONS
    )
}

/// The object a ledger object follows: its name and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub path: String,
    pub sha256: String,
}

/// Everything of a ledger object but its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub schema: String,
    pub day: NaiveDate,
    /// 0 for the day's main object, `n` for `{dd}.{n}.json`.
    pub sequence: u32,
    /// `null` only for the first sealed day.
    pub previous: Option<Link>,
    /// RFC 3339 UTC with milliseconds.
    pub sealed_at: String,
    /// The program and version that sealed it (`tvault 0.1.0`).
    pub tool: String,
    /// How many entries follow.
    pub count: u64,
    /// Lowercase hex Merkle root over the entries, in order.
    pub merkle_root: String,
}

/// A ledger object as read back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Ledger {
    #[serde(flatten)]
    pub header: Header,
    pub entries: Vec<Entry>,
}

impl Ledger {
    /// Parse the bytes of a ledger object, and nothing more (an auditor
    /// still wants the entries and the link of an object that fails [`check`](Self::check)).
    pub fn parse(bytes: &[u8]) -> Result<Ledger, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not a ledger object: {e}"))
    }

    /// [`parse`](Self::parse) and [`check`](Self::check).
    pub fn read(path: &str, bytes: &[u8]) -> Result<Ledger, String> {
        let l = Self::parse(bytes)?;
        l.check(path)?;
        Ok(l)
    }

    /// Everything that needs nothing but the object itself: the schema, the
    /// day and sequence its name `path` says, a supplement following the
    /// day's object before it, the count, entries that are well formed,
    /// sorted and unique, and the Merkle root.
    pub fn check(&self, path: &str) -> Result<(), String> {
        let Some((day, sequence)) = keys::parse_ledger(path) else {
            return Err("not a ledger object name".into());
        };
        let h = &self.header;
        if h.schema != LEDGER_SCHEMA {
            return Err(format!("unknown schema {:?}", h.schema));
        }
        if (h.day, h.sequence) != (day, sequence) {
            return Err(format!(
                "it says day {} sequence {}, not the ones its name says",
                h.day, h.sequence
            ));
        }
        if sequence > 0 {
            let want = keys::ledger(day, sequence - 1);
            if h.previous.as_ref().map(|p| p.path.as_str()) != Some(want.as_str()) {
                return Err(format!("a supplement must follow {want}"));
            }
        }
        if let Some(p) = &h.previous
            && !is_sha256(&p.sha256)
        {
            return Err(format!(
                "previous sha256 {:?} is not 64 lowercase hex digits",
                p.sha256
            ));
        }
        if h.count != self.entries.len() as u64 {
            return Err(format!(
                "count {} but {} entries",
                h.count,
                self.entries.len()
            ));
        }
        for (i, e) in self.entries.iter().enumerate() {
            e.check().map_err(|r| format!("entry {}: {r}", i + 1))?;
            if i > 0 && self.entries[i - 1].key() >= e.key() {
                return Err(format!(
                    "entry {} ({} {}) is not after the one before it: entries must be sorted and unique",
                    i + 1,
                    e.conversation_id,
                    e.generation
                ));
            }
        }
        let root = hex(&merkle::root(self.entries.iter().map(Entry::leaf_hash)));
        if root != h.merkle_root {
            return Err(format!(
                "Merkle root {} does not match its entries ({root})",
                h.merkle_root
            ));
        }
        Ok(())
    }
}

/// The bytes of a ledger object, in chunks made as they are asked for, for a
/// streamed create-only write: the header and `"entries":[` on the first
/// line, one entry per line, `]}` on the last. `entries` must be sorted and
/// unique, and `header.count` and `merkle_root` theirs ([`header_for`]).
/// Memory: the entries, and one chunk of their JSON at a time.
pub fn chunks(
    header: &Header,
    entries: Vec<Entry>,
) -> impl Iterator<Item = Bytes> + Send + 'static {
    // Serialising plain structs of strings and numbers cannot fail.
    let head = serde_json::to_string(header).unwrap_or_default();
    let head = head.strip_suffix('}').unwrap_or(&head);
    let first = Bytes::from(format!("{head},\"entries\":[\n"));
    let mut rest = entries.into_iter().peekable();
    let mut done = false;
    let body = std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut chunk = String::new();
        for _ in 0..ENTRIES_PER_CHUNK {
            let Some(e) = rest.next() else { break };
            chunk.push_str(&serde_json::to_string(&e).unwrap_or_default());
            chunk.push_str(if rest.peek().is_some() { ",\n" } else { "\n" });
        }
        if rest.peek().is_none() {
            chunk.push_str("]}\n");
            done = true;
        }
        Some(Bytes::from(chunk))
    });
    std::iter::once(first).chain(body)
}

/// The header of a new ledger object over `entries` (sorted and unique).
pub fn header_for(
    day: NaiveDate,
    sequence: u32,
    previous: Option<Link>,
    sealed_at: String,
    tool: String,
    entries: &[Entry],
) -> Header {
    Header {
        schema: LEDGER_SCHEMA.into(),
        day,
        sequence,
        previous,
        sealed_at,
        tool,
        count: entries.len() as u64,
        merkle_root: hex(&merkle::root(entries.iter().map(Entry::leaf_hash))),
    }
}

/// The line a witness keeps for a day, and `seal` prints:
/// `YYYY-MM-DD <SHA-256 of ledger/yyyy/mm/dd.json>`.
pub fn witness_line(day: NaiveDate, main_sha256: &str) -> String {
    format!("{day} {main_sha256}")
}

/// Parse a witness file: one [`witness_line`] per line; blank lines and
/// lines starting with `#` are ignored. A malformed line is named by number.
pub fn parse_witness(text: &str) -> Result<Vec<(NaiveDate, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line.split_once(' ').and_then(|(d, h)| {
            let day = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
            let h = h.trim();
            is_sha256(h).then(|| (day, h.to_string()))
        });
        match parsed {
            Some(p) => out.push(p),
            None => {
                return Err(format!(
                    "line {}: expected `YYYY-MM-DD <64 lowercase hex digits>`",
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;

    fn entry(conv: &str, generation: &str) -> Entry {
        Entry {
            conversation_id: conv.into(),
            generation: generation.into(),
            manifest: manifest_name(conv, generation),
            sha256: sha256_hex(conv.as_bytes()),
            size: 1234,
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 9, 20).unwrap()
    }

    fn bytes(header: &Header, entries: Vec<Entry>) -> Vec<u8> {
        chunks(header, entries).flat_map(|b| b.to_vec()).collect()
    }

    #[test]
    fn a_ledger_object_reads_back_as_written_and_its_leaf_is_the_documented_text() {
        let entries: Vec<Entry> = (0..2500)
            .map(|i| entry(&format!("c-{i:05}"), "0123456789abcdef"))
            .collect();
        let prev = Link {
            path: "ledger/2026/09/19.json".into(),
            sha256: "ab".repeat(32),
        };
        let h = header_for(
            day(),
            0,
            Some(prev),
            "2026-09-21T02:00:00.000Z".into(),
            "tvault 0.1.0".into(),
            &entries,
        );
        let raw = bytes(&h, entries.clone());
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(
            text.starts_with(
                "{\"schema\":\"transcript-vault/ledger/v1\",\"day\":\"2026-09-20\",\"sequence\":0,"
            ),
            "{}",
            &text[..200]
        );
        assert_eq!(
            text.lines().count(),
            2502,
            "a header line, one line per entry, a closing line"
        );
        let back = Ledger::read("ledger/2026/09/20.json", &raw).unwrap();
        assert_eq!(back.header, h);
        assert_eq!(back.entries, entries);
        assert_eq!(
            entries[0].leaf(),
            format!(
                "c-00000\n0123456789abcdef\nconversations/c-00000/manifest.0123456789abcdef.json\n{}\n1234",
                sha256_hex(b"c-00000")
            )
        );
    }

    #[test]
    fn an_empty_day_is_a_valid_object_with_the_empty_root() {
        let h = header_for(day(), 0, None, "t".into(), "tvault".into(), &[]);
        assert_eq!(h.merkle_root, sha256_hex(b""));
        let back = Ledger::read("ledger/2026/09/20.json", &bytes(&h, vec![])).unwrap();
        assert!(back.entries.is_empty());
    }

    #[test]
    fn what_the_bytes_alone_disprove_is_refused_with_the_reason() {
        let entries = vec![entry("a", "g1"), entry("b", "g1")];
        let good = header_for(
            day(),
            1,
            Some(Link {
                path: "ledger/2026/09/20.json".into(),
                sha256: "cd".repeat(32),
            }),
            "t".into(),
            "x".into(),
            &entries,
        );
        let path = "ledger/2026/09/20.1.json";
        assert!(Ledger::read(path, &bytes(&good, entries.clone())).is_ok());
        let refused =
            |h: &Header, e: Vec<Entry>, path: &str| Ledger::read(path, &bytes(h, e)).unwrap_err();

        assert!(
            refused(&good, entries.clone(), "ledger/2026/09/21.1.json")
                .contains("not the ones its name says")
        );
        assert!(
            refused(&good, entries.clone(), "ledger/2026/09/20.json")
                .contains("not the ones its name says")
        );
        let mut h = good.clone();
        h.previous = None;
        assert!(refused(&h, entries.clone(), path).contains("must follow ledger/2026/09/20.json"));
        let mut h = good.clone();
        h.count = 3;
        assert!(refused(&h, entries.clone(), path).contains("count 3 but 2 entries"));
        let mut changed = entries.clone();
        changed[1].size = 1235;
        assert!(refused(&good, changed, path).contains("Merkle root"));
        let swapped = vec![entries[1].clone(), entries[0].clone()];
        assert!(refused(&good, swapped, path).contains("sorted and unique"));
        let twice = vec![entries[0].clone(), entries[0].clone()];
        let h2 = header_for(
            day(),
            1,
            good.previous.clone(),
            "t".into(),
            "x".into(),
            &twice,
        );
        assert!(refused(&h2, twice, path).contains("sorted and unique"));
        let mut bad = entries.clone();
        bad[0].manifest = "conversations/a/manifest.other.json".into();
        let h3 = header_for(
            day(),
            1,
            good.previous.clone(),
            "t".into(),
            "x".into(),
            &bad,
        );
        assert!(refused(&h3, bad, path).contains("entry 1: manifest"));
        assert!(
            Ledger::read(path, b"{not json")
                .unwrap_err()
                .contains("not a ledger object")
        );
    }

    #[test]
    fn witness_lines_parse_and_a_bad_one_is_named() {
        let sha = "ab".repeat(32);
        let text = format!(
            "# witness\n\n{}\n2026-09-21 {sha}\n",
            witness_line(day(), &sha)
        );
        assert_eq!(
            parse_witness(&text).unwrap(),
            vec![
                (day(), sha.clone()),
                (day().succ_opt().unwrap(), sha.clone())
            ]
        );
        assert_eq!(
            parse_witness(&format!("2026-09-20 {sha}\n2026-09-2x {sha}\n")).unwrap_err(),
            "line 2: expected `YYYY-MM-DD <64 lowercase hex digits>`"
        );
        assert!(parse_witness(&format!("2026-09-20 {}", sha.to_uppercase())).is_err());
    }
}
