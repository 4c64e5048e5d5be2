//! Configuration errors of the Azure backend and the one way they quote a
//! URL: never its user info, query string or fragment, which can carry a
//! password or a SAS signature.

/// A setting that is missing, malformed or contradicts another: one sentence
/// saying what to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

pub(super) fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// A URL (or what was meant as one) as it may appear in a message: without
/// its user info, query string and fragment, which can carry a password or a
/// SAS signature. Used for every URL a configuration error quotes.
pub fn redact_url(s: &str) -> String {
    let s = s.trim();
    let (kept, cut) = match s.find(['?', '#']) {
        Some(i) => (&s[..i], true),
        None => (s, false),
    };
    let (scheme, rest) = match kept.find("://") {
        Some(i) => kept.split_at(i + 3),
        None => ("", kept),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = match authority.rfind('@') {
        Some(i) => format!("[redacted]@{}", &authority[i + 1..]),
        None => authority.to_string(),
    };
    let shown = format!(
        "{scheme}{authority}{path}{}",
        if cut { "?[redacted]" } else { "" }
    );
    // A signature where none belongs (in a path, say) hides the whole value.
    if shown.to_ascii_lowercase().contains("sig=") {
        "[redacted URL]".into()
    } else {
        shown
    }
}
