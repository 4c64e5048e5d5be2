//! Text from the vault made safe to print on a terminal.
//!
//! Transcripts, names, reasons and even object names come from outside. A
//! terminal obeys what it is sent: CR returns to the start of the line, ESC
//! and CSI (`\u{9b}`) sequences erase and repaint it, OSC sets the window
//! title or writes the clipboard, BEL rings. So `"I do NOT consent\r\x1b[2KI
//! consent"` would show as "I consent". Such characters are escaped, never
//! dropped: the reader sees `I do NOT consent\r\x1b[2KI consent` and knows
//! something was there. A backslash is doubled so an escape cannot be forged
//! by typing one. Bidirectional overrides (which reorder what is shown) are
//! escaped too. `--json` output is not touched: it is the stored bytes.

use std::fmt::Write;

/// `s` on one line: every control character escaped, newlines included.
pub fn line(s: &str) -> String {
    escape(s, None)
}

/// `s` over several lines: newlines kept, each followed by `indent`, so a
/// text cannot start a line that looks like another message; every other
/// control character escaped.
pub fn lines(s: &str, indent: &str) -> String {
    escape(s, Some(indent))
}

fn escape(s: &str, newline_indent: Option<&str>) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => match newline_indent {
                Some(indent) => {
                    out.push('\n');
                    out.push_str(indent);
                }
                None => out.push_str("\\n"),
            },
            '\\' => out.push_str("\\\\"),
            '\t' => out.push('\t'),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_c1(c) || is_bidi_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// C1 controls (U+0080 to U+009F): some terminals read U+009B as CSI.
fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

/// Marks and overrides that reorder how text is displayed ("Trojan Source").
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repainting_text_is_shown_with_its_escapes() {
        let t = "I do NOT consent\r\u{1b}[2KI consent";
        assert_eq!(line(t), "I do NOT consent\\r\\x1b[2KI consent");
        assert_eq!(
            line("\u{1b}]0;pwned\u{7}\u{9b}31m\u{7f}"),
            "\\x1b]0;pwned\\x07\\u{9b}31m\\x7f"
        );
        assert_eq!(line("abc\u{202e}txt.exe"), "abc\\u{202e}txt.exe");
        assert_eq!(
            line("C:\\x1b"),
            "C:\\\\x1b",
            "a typed escape is not an escape"
        );
    }

    #[test]
    fn plain_text_and_other_scripts_pass_unchanged() {
        for t in [
            "Hi, my order arrived damaged.",
            "Grüße, 東京 🙂",
            "tab\there",
        ] {
            assert_eq!(line(t), t);
        }
    }

    #[test]
    fn newlines_are_escaped_on_one_line_and_indented_over_several() {
        assert_eq!(line("a\nb"), "a\\nb");
        assert_eq!(
            lines("a\n[2026-01-01] agent: b", "    "),
            "a\n    [2026-01-01] agent: b"
        );
    }
}
