//! Text the adapters put into URLs and messages: one percent-encoder for
//! names and query values, and one rendering of an error with its causes.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`)
/// is encoded, so the result is safe as a path segment and as a query value
/// alike (Azure blob names, block ids and list markers; Genesys cursors).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode `s` (as UTF-8) for one URL path segment or query value.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// An error's text followed by each of its causes', `: `-separated. Many
/// errors say only "service error" or "error sending request" and leave
/// the reason to their source (the AWS SDK, reqwest's redirect policy).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreserved_characters_stay_as_they_are() {
        assert_eq!(percent_encode("+/ab=="), "%2B%2Fab%3D%3D");
        assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(
            percent_encode("a b/c?d#e%f&g*h'i"),
            "a%20b%2Fc%3Fd%23e%25f%26g%2Ah%27i"
        );
        assert_eq!(percent_encode("é\u{7}"), "%C3%A9%07");
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn an_error_is_shown_with_every_cause() {
        let e = Layer(
            "service error",
            Some(Box::new(Layer(
                "dispatch failure",
                Some(Box::new(Layer("connection refused", None))),
            ))),
        );
        assert_eq!(
            error_chain(&e),
            "service error: dispatch failure: connection refused"
        );
        assert_eq!(error_chain(&Layer("alone", None)), "alone");
    }
}
