//! The one place where text bound for a Redis API (replies, errors, log lines) or a Kafka header
//! is made safe: C strings cannot hold NUL, RESP simple strings and log lines cannot hold CR/LF,
//! and bytes from users or Kafka need not be UTF-8.

use std::ffi::CString;

/// Bytes as one line of C-string text: NUL, CR and LF become spaces, invalid UTF-8 becomes U+FFFD.
pub fn one_line(bytes: &[u8]) -> CString {
    let text = String::from_utf8_lossy(bytes);
    let cleaned: Vec<u8> = text
        .bytes()
        .map(|b| {
            if matches!(b, b'\0' | b'\r' | b'\n') {
                b' '
            } else {
                b
            }
        })
        .collect();
    // No NUL is left, so this cannot fail; the fallback keeps the function total anyway.
    CString::new(cleaned).unwrap_or_default()
}

/// At most `max` bytes of `text`, cut at a character boundary, with "..." when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(3);
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// A name from stored state or a command, quoted for a message: printable, short, one line.
pub fn quoted(bytes: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    format!("'{}'", truncate(&text, 128))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_removes_what_c_strings_and_resp_cannot_carry() {
        assert_eq!(one_line(b"a\0b\r\nc").to_bytes(), b"a b  c");
        assert_eq!(
            one_line("\u{600}".as_bytes()).to_bytes(),
            "\u{600}".as_bytes()
        );
        assert_eq!(one_line(&[0xff, b'x']).to_bytes(), "\u{fffd}x".as_bytes());
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcdef", 5), "ab...");
        let cut = truncate(&"\u{600}".repeat(10), 8);
        assert!(cut.len() <= 8 && cut.ends_with("..."), "{cut}");
    }

    #[test]
    fn quoted_names_are_printable_and_short() {
        assert_eq!(quoted(b"a\0b\nc"), "'a?b?c'");
        assert!(quoted(&[b'x'; 1000]).len() < 140);
    }
}
