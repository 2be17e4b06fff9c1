//! How the commands print text that came from users (names, emails, token names, rows
//! of an imported database): never raw to the operator's terminal. Every character a
//! terminal could act on instead of showing ([`is_unprintable`]: ESC and the rest of C0,
//! DEL, C1 controls such as CSI U+009B, bidi overrides and isolates, zero-width and other
//! format characters, line separators, unassigned code points) is written as a Rust-style
//! escape, `\u{1b}`, `\u{202e}`. Tables, lines and error messages go through [`escape`];
//! `--json` output through [`json`], which writes the same characters as JSON `\uXXXX`
//! escapes, so it stays valid JSON that parses to the same strings.

use std::borrow::Cow;
use std::fmt::Write;

use crate::domain::unprintable::is_unprintable;

/// `s` with every unprintable character written as `\u{…}`; anything else, a backslash
/// included, as it is.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unprintable) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unprintable(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A multi-line message (an error, a list of conflicts): each line [`escape`]d, the
/// line breaks between them kept.
pub fn escape_lines(s: &str) -> String {
    s.split('\n').map(escape).collect::<Vec<_>>().join("\n")
}

/// `s` in double quotes, for naming a value inside a sentence: [`escape`]d, with
/// literal `"` and `\` escaped too so the quotes delimit it (`"a\"b"`).
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if is_unprintable(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            if matches!(c, '"' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// JSON text (as serde_json writes it) with every unprintable character inside its
/// strings written as `\uXXXX` (a surrogate pair beyond the BMP). serde_json already
/// escapes C0 controls inside strings; this adds DEL, C1, format characters and the
/// rest. Outside strings JSON text is ASCII punctuation, letters and white space (the
/// line breaks and tabs of pretty output, kept), so every other such character is
/// inside a string and the result parses to the same value.
pub fn json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unprintable(c) && !matches!(c, '\n' | '\r' | '\t') {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "a\u{1b}]0;pwned\u{7}b\u{9b}2Jc\u{202e}d\u{2066}e\u{200b}f\u{7f}g\nh\u{e0041}";

    #[test]
    fn nothing_a_terminal_acts_on_survives_escaping() {
        let shown = escape(HOSTILE);
        assert_eq!(
            shown,
            "a\\u{1b}]0;pwned\\u{7}b\\u{9b}2Jc\\u{202e}d\\u{2066}e\\u{200b}f\\u{7f}g\\u{a}h\\u{e0041}"
        );
        assert!(!shown.chars().any(is_unprintable));
        assert!(matches!(
            escape("plain ünïcode 日本 \\ \"q\""),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn lines_keep_their_breaks_and_quotes_delimit() {
        assert_eq!(escape_lines("one\u{1b}\ntwo\r"), "one\\u{1b}\ntwo\\u{d}");
        assert_eq!(quoted("al\"i\\ce"), r#""al\"i\\ce""#);
        assert_eq!(quoted("x\u{202e}\"y"), r#""x\u{202e}\"y""#);
        assert_eq!(quoted("alice"), r#""alice""#);
    }

    #[test]
    fn json_output_stays_json_and_means_the_same() {
        let value = serde_json::json!({"name": HOSTILE, "n": 1});
        let text = json(&serde_json::to_string_pretty(&value).unwrap());
        assert!(
            !text.chars().any(|c| is_unprintable(c) && c != '\n'),
            "{text}"
        );
        assert!(
            text.contains(r"\u202e") && text.contains(r"\udb40\udc41"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
