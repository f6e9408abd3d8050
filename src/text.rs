//! Text that came from outside (file names, a command's error output, a share's messages) made
//! safe to print on a terminal or in a log: control characters are escaped, so a file named
//! `x\e[31m\nFAKE LINE` can neither drive the terminal nor start a line of its own.
//!
//! Every text printer (the CLI's `show`, `list`, `jobs`, `alerts`, `service list`, `restore`,
//! `verify`, errors and warnings) passes what it prints through [`escape`]. JSON output needs no
//! help: serde escapes control characters in strings.

use std::borrow::Cow;

/// `s` with every control character escaped: `\n`, `\r`, `\t`, `\\`, `\xNN` for the other C0
/// characters and DEL, `\u{NN}` for C1 characters and the bidirectional overrides (which can
/// make text read differently from what it is). Text without any comes back borrowed.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Bytes (a file name) as escaped text; invalid UTF-8 shows as U+FFFD.
pub fn escape_bytes(b: &[u8]) -> String {
    escape(&String::from_utf8_lossy(b)).into_owned()
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A byte count for people: `1.50 MiB` (binary units).
pub fn size(b: u64) -> String {
    indicatif::HumanBytes(b).to_string()
}

/// Unix milliseconds as RFC 3339 with milliseconds and a `Z` suffix (the form of every time
/// cairn prints); empty if out of range.
pub fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| crate::jobs::time::rfc3339(&t))
        .unwrap_or_default()
}

/// A value's name as serde writes it (`succeeded`, `critical`): the name of a unit enum variant
/// in JSON documents, empty for anything that is not a plain string.
pub fn serde_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_rfc3339_in_utc_with_milliseconds() {
        assert_eq!(
            super::rfc3339_ms(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(super::rfc3339_ms(i64::MAX), "");
    }

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_kept() {
        assert!(matches!(escape("svc: a/b.txt (3 files)"), Cow::Borrowed(_)));
        let name = "fifo\u{1b}[31m\nFAKE LINE: backup OK\r\t\u{7f}\u{9b}\u{202e}x\\y\0";
        let e = escape(name);
        assert_eq!(
            e,
            "fifo\\x1b[31m\\nFAKE LINE: backup OK\\r\\t\\x7f\\u{9b}\\u{202e}x\\\\y\\x00"
        );
        assert!(!e.chars().any(|c| c.is_control()));
        assert_eq!(escape_bytes(b"a\xff\x1b"), "a\u{fffd}\\x1b");
        assert_eq!(escape("grüße, 日本"), "grüße, 日本");
    }
}
