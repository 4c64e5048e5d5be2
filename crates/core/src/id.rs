//! Identifiers that become parts of object names, and file names made safe.
//!
//! Genesys ids become path segments in the vault, so they are checked against
//! one strict pattern, `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`, before anything
//! is written; an id may also not end in `.` (Azure refuses path segments that
//! do) nor be a Windows device name (`CON`, `NUL`, `COM1`, ...: an export to a
//! Windows disk could not create it). File names come from customers and are
//! only *reduced* to a safe set, never rejected: an attachment called
//! `../../etc/passwd` is still archived, as `passwd`, and one called `CON.txt`
//! as `CON_.txt`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest id the vault accepts (the pattern's `{0,127}` plus the first character).
pub const MAX_ID_LEN: usize = 128;

/// Longest file name kept for an attachment, extension included.
pub const MAX_FILE_NAME_LEN: usize = 100;

/// Why a string is not a safe identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("is empty")]
    Empty,
    #[error("is {0} characters long; at most {MAX_ID_LEN} are allowed")]
    TooLong(usize),
    #[error("must start with a letter or digit")]
    BadStart,
    #[error("contains {0:?}; only letters, digits, '.', '_' and '-' are allowed")]
    BadChar(char),
    #[error("ends with '.'; Azure object names may not have a path segment that does")]
    EndsWithDot,
    #[error("is the Windows device name {0}, which no file or folder can be called")]
    DeviceName(String),
}

/// Names Windows reserves for devices, whatever the case and whatever follows
/// the first dot (`nul.txt` is the device too). From Microsoft's "Naming
/// Files, Paths, and Namespaces"; `COM0` and `LPT0` are listed there as well.
const DEVICE_NAMES: [&str; 24] = [
    "CON", "PRN", "AUX", "NUL", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7",
    "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// The device name `name` stands for on Windows, if any: its part before the
/// first dot, compared without case.
fn device_name(name: &str) -> Option<&'static str> {
    let stem = name.split('.').next().unwrap_or(name);
    DEVICE_NAMES
        .iter()
        .find(|d| d.eq_ignore_ascii_case(stem))
        .copied()
}

/// Check `s` against `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`, not ending in `.`
/// and not a Windows device name.
pub fn check_id(s: &str) -> Result<(), IdError> {
    let len = s.chars().count();
    let first = s.chars().next().ok_or(IdError::Empty)?;
    if len > MAX_ID_LEN {
        return Err(IdError::TooLong(len));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(IdError::BadStart);
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(IdError::BadChar(c));
    }
    if s.ends_with('.') {
        return Err(IdError::EndsWithDot);
    }
    match device_name(s) {
        Some(d) => Err(IdError::DeviceName(d.to_string())),
        None => Ok(()),
    }
}

macro_rules! safe_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validate and wrap.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check_id(&s)?;
                Ok(Self(s))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

safe_id!(
    /// A Genesys conversation id, checked safe for use in object names.
    ConversationId
);
safe_id!(
    /// A Genesys attachment id, checked safe for use in object names.
    AttachmentId
);

/// Reduce a customer-supplied file name to a safe, bounded name.
///
/// Only the last path component counts (both `/` and `\` separate); every
/// character outside `[A-Za-z0-9._-]` becomes `_`; runs of `.` are folded so
/// no `..` survives; leading dots and underscores are dropped (no hidden
/// files); a Windows device name (`CON.txt`, `nul`) gets `_` after its stem
/// (`CON_.txt`), so the name can be written on any disk; the result is cut to
/// [`MAX_FILE_NAME_LEN`] keeping the extension. An empty result becomes `attachment`.
pub fn safe_file_name(name: &str) -> String {
    let last = name
        .rsplit(['/', '\\'])
        .find(|p| !p.trim().is_empty() && *p != "." && *p != "..");
    let mut out = String::new();
    for c in last.unwrap_or("").trim().chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
            c
        } else {
            '_'
        };
        if c == '.' && out.ends_with('.') {
            continue;
        }
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_start_matches(['.', '_']).trim_end_matches('.');
    let out = if out.is_empty() { "attachment" } else { out };
    let out = match device_name(out) {
        Some(d) => format!("{}_{}", &out[..d.len()], &out[d.len()..]),
        None => out.to_string(),
    };
    truncate_keeping_extension(&out, MAX_FILE_NAME_LEN)
}

fn truncate_keeping_extension(name: &str, max: usize) -> String {
    // `name` is ASCII here, so byte lengths are character counts.
    if name.len() <= max {
        return name.to_string();
    }
    match name.rfind('.') {
        Some(dot) if name.len() - dot <= 16 && dot > 0 => {
            let ext = &name[dot..];
            format!("{}{}", &name[..max - ext.len()], ext)
        }
        _ => name[..max].to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_genesys_uuids_and_hex_ids() {
        assert!(check_id("8d3f4c1e-5b2a-4e7f-9c61-0a2b3c4d5e6f").is_ok());
        assert!(check_id("6b1f0c2e9d8a4b7c8e5f3a2d1c0b9a87").is_ok());
        assert!(check_id("a").is_ok());
        assert!(check_id(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn rejects_unsafe_ids_with_a_reason() {
        assert_eq!(check_id(""), Err(IdError::Empty));
        assert_eq!(check_id("../x"), Err(IdError::BadStart));
        assert_eq!(check_id(".hidden"), Err(IdError::BadStart));
        assert_eq!(check_id("a/b"), Err(IdError::BadChar('/')));
        assert_eq!(check_id("a b"), Err(IdError::BadChar(' ')));
        assert_eq!(check_id("a\u{0}"), Err(IdError::BadChar('\u{0}')));
        assert_eq!(check_id(&"a".repeat(300)), Err(IdError::TooLong(300)));
        assert_eq!(check_id(&"a".repeat(129)), Err(IdError::TooLong(129)));
        assert_eq!(check_id("abc."), Err(IdError::EndsWithDot));
        assert_eq!(check_id("a.b..."), Err(IdError::EndsWithDot));
        assert!(check_id("a.b").is_ok());
    }

    #[test]
    fn windows_device_names_are_not_ids() {
        for (id, device) in [
            ("CON", "CON"),
            ("nul", "NUL"),
            ("Com1", "COM1"),
            ("lpt9.log", "LPT9"),
            ("aux.x.y", "AUX"),
        ] {
            assert_eq!(
                check_id(id),
                Err(IdError::DeviceName(device.into())),
                "{id}"
            );
        }
        for ok in ["CONSOLE", "nul1", "COM10", "acon", "LPT", "c0n"] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn file_names_that_windows_reserves_for_devices_are_renamed() {
        assert_eq!(safe_file_name("CON.txt"), "CON_.txt");
        assert_eq!(safe_file_name("nul"), "nul_");
        assert_eq!(safe_file_name("com1.tar.gz"), "com1_.tar.gz");
        assert_eq!(safe_file_name("../x/Lpt3.pdf"), "Lpt3_.pdf");
        assert_eq!(safe_file_name(".aux"), "aux_");
        assert_eq!(safe_file_name("console.log"), "console.log");
        assert_eq!(safe_file_name("COM10.txt"), "COM10.txt");
        let long = format!("CON.{}", "x".repeat(200));
        let safe = safe_file_name(&long);
        assert!(safe.starts_with("CON_."), "{safe}");
        assert_eq!(safe.len(), MAX_FILE_NAME_LEN);
    }

    #[test]
    fn ids_deserialize_only_when_safe() {
        let ok: Result<ConversationId, _> = serde_json::from_str("\"abc-1\"");
        assert!(ok.is_ok());
        let bad: Result<ConversationId, _> = serde_json::from_str("\"../etc\"");
        assert!(bad.is_err());
    }

    #[test]
    fn file_names_lose_paths_and_traversal() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("..\\..\\windows\\system.ini"), "system.ini");
        assert_eq!(safe_file_name(".."), "attachment");
        assert_eq!(safe_file_name("a..b.jpg"), "a.b.jpg");
        assert_eq!(safe_file_name(".bashrc"), "bashrc");
        assert_eq!(
            safe_file_name("IMG_20260920_091640.jpg"),
            "IMG_20260920_091640.jpg"
        );
        assert_eq!(safe_file_name("my invoice (1).pdf"), "my_invoice_1_.pdf");
        assert_eq!(safe_file_name("evil\u{0}\n.png"), "evil_.png");
        assert_eq!(safe_file_name("photo\u{202e}gpj.exe"), "photo_gpj.exe");
        assert_eq!(safe_file_name(""), "attachment");
        assert_eq!(safe_file_name("dir/"), "dir");
    }

    #[test]
    fn long_file_names_keep_their_extension() {
        let name = format!("{}.pdf", "x".repeat(500));
        let safe = safe_file_name(&name);
        assert_eq!(safe.len(), MAX_FILE_NAME_LEN);
        assert!(safe.ends_with(".pdf"));
    }
}
