//! Characters that change what a terminal or a text view shows instead of being shown:
//! controls (ESC starts ANSI and OSC sequences, C1 controls are sequences by themselves),
//! format characters (bidi overrides and isolates, zero-width characters) and line or
//! paragraph separators, by their Unicode general category.

use unicode_general_category::{GeneralCategory, get_general_category};

/// Cc (controls, C0 and C1, DEL included), Cf (format: bidi overrides and isolates,
/// zero-width joiners, the BOM, tags…), Zl and Zp (line and paragraph separators). What
/// a name may not contain.
pub fn is_control_or_format(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// [`is_control_or_format`], or not assigned in the Unicode version we know (a later
/// version may make it a format character): what is never written raw to a terminal.
pub fn is_unprintable(c: char) -> bool {
    is_control_or_format(c)
        || matches!(
            get_general_category(c),
            GeneralCategory::Unassigned | GeneralCategory::Surrogate
        )
}

/// A name's rule: no control or format character; the message names the first found.
pub fn no_control_or_format(s: String) -> Result<String, String> {
    match s.chars().find(|&c| is_control_or_format(c)) {
        Some(c) => Err(format!(
            "Control and format characters are not allowed (U+{:04X}).",
            c as u32
        )),
        None => Ok(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_and_zero_width_characters_are_caught_and_text_is_not() {
        for c in [
            '\u{1b}',
            '\u{7}',
            '\t',
            '\n',
            '\u{7f}',
            '\u{9b}',
            '\u{202e}',
            '\u{2066}',
            '\u{2069}',
            '\u{200b}',
            '\u{200e}',
            '\u{feff}',
            '\u{e0041}',
            '\u{2028}',
            '\u{2029}',
            '\u{ad}',
        ] {
            assert!(is_control_or_format(c), "U+{:04X}", c as u32);
            assert!(is_unprintable(c), "U+{:04X}", c as u32);
        }
        for c in ['a', 'é', 'ß', '日', ' ', '\u{a0}', '😀', '-', '\\', 'א'] {
            assert!(!is_control_or_format(c), "U+{:04X}", c as u32);
            assert!(!is_unprintable(c), "U+{:04X}", c as u32);
        }
        assert!(is_unprintable('\u{10ffff}'));
    }

    #[test]
    fn the_message_names_the_character() {
        assert_eq!(
            no_control_or_format("evil\u{1b}]0;x".into()),
            Err("Control and format characters are not allowed (U+001B).".into())
        );
        assert_eq!(no_control_or_format("ok name".into()), Ok("ok name".into()));
    }
}
