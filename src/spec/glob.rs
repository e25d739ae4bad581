//! Redis-style glob matching over bytes, with the semantics of Redis's `stringmatchlen`
//! (the matcher behind `KEYS`, `SCAN MATCH` and `PSUBSCRIBE`), so `STREAMS 'orders:*'` selects
//! exactly the keys `KEYS 'orders:*'` would list.
//!
//! - `*` matches any run of bytes, `?` any single byte;
//! - `[abc]` one byte of the set, `[^abc]` one byte outside it, `[a-z]` a range (a reversed
//!   range such as `[z-a]` is accepted as `[a-z]`); `]` right after `[` closes an empty class;
//! - `\x` matches `x` literally, inside and outside classes;
//! - an empty subject matches only an empty pattern (Redis's `*` does not match `""` either).
//!
//! Unlike Redis, which compares bytes as (platform-dependent) `char`, ranges compare bytes as
//! unsigned values, so a range over non-ASCII bytes behaves the same on every platform. `!` is
//! not a negation marker (Redis only knows `^`).
//!
//! Matching is iterative (the classic backtrack-to-the-last-star algorithm), so neither long
//! subjects nor patterns with many stars can exhaust the stack or take exponential time.

use crate::error::Error;

/// One bracket class, parsed from the byte after `[`.
struct Class {
    /// Whether the subject byte belongs to the class (after negation).
    matched: bool,
    /// Index in the pattern just after the class.
    next: usize,
    /// False when the pattern ended before the closing `]`.
    terminated: bool,
}

/// Scans the class whose `[` is at `open` and tests `c` against it, mirroring Redis: a
/// backslash escapes the next byte, `x-y` is a range when at least three bytes remain (so the
/// `]` in `[a-]` is taken as the end of a range, leaving the class unterminated), and an
/// unterminated class runs to the end of the pattern.
fn scan_class(pattern: &[u8], open: usize, c: u8) -> Class {
    let end = pattern.len();
    let mut p = open + 1;
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut matched = false;
    let terminated = loop {
        let remaining = end.saturating_sub(p);
        if remaining == 0 {
            break false;
        }
        let b = pattern[p];
        if b == b'\\' && remaining >= 2 {
            p += 1;
            matched |= pattern[p] == c;
        } else if b == b']' {
            break true;
        } else if remaining >= 3 && pattern[p + 1] == b'-' {
            let (lo, hi) = (b.min(pattern[p + 2]), b.max(pattern[p + 2]));
            matched |= (lo..=hi).contains(&c);
            p += 2;
        } else {
            matched |= b == c;
        }
        p += 1;
    };
    Class {
        matched: matched != negate,
        next: if terminated { p + 1 } else { end },
        terminated,
    }
}

/// True when `subject` matches the Redis glob `pattern`.
pub fn glob_match(pattern: &[u8], subject: &[u8]) -> bool {
    if subject.is_empty() {
        return pattern.is_empty();
    }
    let (mut p, mut s) = (0, 0);
    // Where to resume after the last `*`: the pattern just past it and the subject byte the
    // star would swallow next.
    let mut star: Option<(usize, usize)> = None;
    while s < subject.len() {
        let c = subject[s];
        let step = match pattern.get(p) {
            Some(b'*') => {
                while pattern.get(p) == Some(&b'*') {
                    p += 1;
                }
                star = Some((p, s));
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => {
                let class = scan_class(pattern, p, c);
                class.matched.then_some(class.next)
            }
            Some(b'\\') if p + 1 < pattern.len() => (pattern[p + 1] == c).then_some(p + 2),
            Some(&literal) => (literal == c).then_some(p + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                s += 1;
            }
            (None, Some((after_star, swallowed))) => {
                star = Some((after_star, swallowed + 1));
                p = after_star;
                s = swallowed + 1;
            }
            (None, None) => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

/// Rejects patterns that cannot be what the operator meant: an empty pattern (it would match
/// nothing) and a `[` without its closing `]`.
pub fn validate_glob(pattern: &str) -> Result<(), Error> {
    if pattern.is_empty() {
        return Err(Error::Arg("glob pattern must not be empty".to_string()));
    }
    let bytes = pattern.as_bytes();
    let mut p = 0;
    while p < bytes.len() {
        match bytes[p] {
            b'\\' => p += 2,
            b'[' => {
                let class = scan_class(bytes, p, 0);
                if !class.terminated {
                    return Err(Error::Arg(format!(
                        "unterminated '[' at position {p} in glob '{pattern}' \
                         (close it with ']'; write '\\]' for a literal ']' after '-')"
                    )));
                }
                p = class.next;
            }
            _ => p += 1,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, subject: &str) -> bool {
        glob_match(pattern.as_bytes(), subject.as_bytes())
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("orders", "orders"));
        assert!(!m("orders", "orders2"));
        assert!(!m("orders2", "orders"));
        assert!(m("orders:*", "orders:1"));
        assert!(m("orders:*", "orders:"));
        assert!(!m("orders:*", "orders"));
        assert!(m("*:eu", "orders:eu"));
        assert!(m("o*s:*:e?", "orders:x:eu"));
        assert!(m("*", "x"));
        assert!(m("**", "x"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYYcZ"));
        assert!(m("a*b*c*", "aXXbYYcZ"));
        assert!(m("*a*a*a", "aaaa"));
        assert!(!m("*ab", "aba"));
        assert!(m("?", "x"));
        assert!(!m("?", "xy"));
        assert!(m("??", "xy"));
        assert!(m("*?", "xy"));
        assert!(!m("x?", "x"));
    }

    #[test]
    fn empty_subject_and_pattern_follow_redis() {
        assert!(glob_match(b"", b""));
        assert!(!glob_match(b"*", b""));
        assert!(!glob_match(b"", b"x"));
        assert!(m("x*", "x"));
        assert!(m("x***", "x"));
    }

    #[test]
    fn classes_ranges_and_negation() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed range");
        assert!(m("[0-9][0-9]", "42"));
        assert!(!m("[^0-9]", "4"));
        assert!(m("[-a]", "-"));
        assert!(
            m("[a-]x]", "]"),
            "']' closes a range, the next ']' closes the class"
        );
        assert!(!m("[!a]", "b"), "'!' is a member, not a negation");
        assert!(m("[!a]", "!"));
        assert!(!m("[]", "x"), "empty class matches nothing");
        assert!(!m("[]a]", "]"));
        assert!(
            !m("[]a]", "a]") && !m("[]a]", "xa]"),
            "so is a class opened by '[]'"
        );
        assert!(m("[^]", "x"), "negated empty class matches anything");
    }

    #[test]
    fn escapes() {
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"\?", "?"));
        assert!(!m(r"\?", "x"));
        assert!(m(r"\[x]", "[x]"));
        assert!(m(r"[\]]", "]"));
        assert!(m(r"[\-a]", "-"));
        assert!(m(r"[\^a]", "^"));
        assert!(m(r"a\", r"a\"), "trailing backslash is literal");
        assert!(
            m(r"[\]", "]"),
            "an escaped ']' leaves the class unterminated"
        );
        assert!(!m(r"[\]", r"\"));
    }

    #[test]
    fn unterminated_class_runs_to_the_end_like_redis() {
        assert!(m("x[ab", "xa"));
        assert!(!m("x[ab", "xc"));
        assert!(!m("x[ab", "xab"));
        assert!(!m("[", "["));
        assert!(m("[^", "q"));
    }

    #[test]
    fn bytes_are_not_text() {
        assert!(glob_match(b"k:*", b"k:\xff\x00"));
        assert!(glob_match(b"k:?", b"k:\xff"));
        assert!(glob_match(b"[\x80-\xff]", b"\xc3"));
        assert!(!glob_match(b"[a-z]", b"\xc3"));
    }

    #[test]
    fn long_inputs_do_not_recurse_or_blow_up() {
        let subject = vec![b'a'; 200_000];
        let mut pattern = b"*a".repeat(5_000);
        pattern.push(b'b');
        assert!(!glob_match(&pattern, &subject));
        assert!(glob_match(&b"*a".repeat(5_000), &subject));
        assert!(glob_match(&subject, &subject));
        let stars = vec![b'*'; 100_000];
        assert!(glob_match(&stars, b"x"));
    }

    #[test]
    fn validation() {
        assert!(validate_glob("orders:*").is_ok());
        assert!(validate_glob("[a-z]*").is_ok());
        assert!(validate_glob(r"\[").is_ok());
        assert!(validate_glob(r"[\]]").is_ok());
        assert!(validate_glob("[]").is_ok());
        assert!(validate_glob("a]").is_ok());
        assert!(validate_glob(r"trailing\").is_ok());
        assert!(validate_glob("").unwrap_err().contains("empty"));
        for bad in ["[", "x[ab", "[^", "[a-]", r"[\]", "ok[a]then[b"] {
            let err = validate_glob(bad).unwrap_err();
            assert!(err.contains("unterminated '['"), "{bad}: {err}");
        }
        assert!(validate_glob("ok[a]then[b")
            .unwrap_err()
            .contains("position 9"));
    }

    /// A direct transcription of Redis's recursive `stringmatchlen` (case-sensitive), used as
    /// the oracle for a randomized comparison.
    fn redis_reference(pattern: &[u8], string: &[u8]) -> bool {
        fn inner(pat: &[u8], mut p: usize, s_all: &[u8], mut s: usize, skip: &mut bool) -> bool {
            let plen = |p: usize| pat.len() - p;
            while plen(p) > 0 && s < s_all.len() {
                match pat[p] {
                    b'*' => {
                        while plen(p) > 1 && pat[p + 1] == b'*' {
                            p += 1;
                        }
                        if plen(p) == 1 {
                            return true;
                        }
                        while s < s_all.len() {
                            if inner(pat, p + 1, s_all, s, skip) {
                                return true;
                            }
                            if *skip {
                                return false;
                            }
                            s += 1;
                        }
                        *skip = true;
                        return false;
                    }
                    b'?' => s += 1,
                    b'[' => {
                        let c = s_all[s];
                        p += 1;
                        let not = pat.get(p) == Some(&b'^');
                        if not {
                            p += 1;
                        }
                        let mut matched = false;
                        loop {
                            if plen(p) >= 2 && pat[p] == b'\\' {
                                p += 1;
                                matched |= pat[p] == c;
                            } else if plen(p) > 0 && pat[p] == b']' {
                                break;
                            } else if plen(p) == 0 {
                                p -= 1;
                                break;
                            } else if plen(p) >= 3 && pat[p + 1] == b'-' {
                                let (mut start, mut end) = (pat[p], pat[p + 2]);
                                if start > end {
                                    std::mem::swap(&mut start, &mut end);
                                }
                                p += 2;
                                matched |= c >= start && c <= end;
                            } else {
                                matched |= pat[p] == c;
                            }
                            p += 1;
                        }
                        if matched == not {
                            return false;
                        }
                        s += 1;
                    }
                    b => {
                        let lit = if b == b'\\' && plen(p) >= 2 {
                            p += 1;
                            pat[p]
                        } else {
                            b
                        };
                        if lit != s_all[s] {
                            return false;
                        }
                        s += 1;
                    }
                }
                p += 1;
                if s == s_all.len() {
                    while p < pat.len() && pat[p] == b'*' {
                        p += 1;
                    }
                    break;
                }
            }
            p == pat.len() && s == s_all.len()
        }
        inner(pattern, 0, string, 0, &mut false)
    }

    #[test]
    fn agrees_with_redis_algorithm_on_random_inputs() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let pattern_bytes = b"ab*?[]^-\\";
        for _ in 0..200_000 {
            let pattern: Vec<u8> = (0..next(9)).map(|_| pattern_bytes[next(9)]).collect();
            let subject: Vec<u8> = (0..next(7)).map(|_| b"ab-]^\\["[next(7)]).collect();
            assert_eq!(
                glob_match(&pattern, &subject),
                redis_reference(&pattern, &subject),
                "pattern {:?} subject {:?}",
                String::from_utf8_lossy(&pattern),
                String::from_utf8_lossy(&subject)
            );
        }
    }
}
