//! The secret a CHANNELS source's subscriber connection presents to `KAFKA._SUBSCRIBER` to
//! become the module's subscriber user. It lives only in this process's memory: made at load
//! from the kernel's random source, never stored, logged, replicated or shown, so only code
//! inside redis-server can know it. A new process (or a new load) makes a new one.

use std::io::Read;
use std::sync::OnceLock;

/// Random bytes in the token: 256 bits, as hex.
const TOKEN_BYTES: usize = 32;

static TOKEN: OnceLock<String> = OnceLock::new();

/// Makes the token once per load; false when no randomness could be read.
pub fn init() -> bool {
    if TOKEN.get().is_some() {
        return true;
    }
    let mut bytes = [0u8; TOKEN_BYTES];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        return false;
    }
    let _ = TOKEN.set(hex(&bytes));
    true
}

/// The token, once `init` made it.
pub fn get() -> Option<&'static str> {
    TOKEN.get().map(String::as_str)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// Whether `given` is the token. The time taken depends only on the lengths, never on where
/// the bytes differ, so the token cannot be guessed byte by byte from response times.
pub fn matches(given: &[u8]) -> bool {
    get().is_some_and(|token| equal_in_constant_time(token.as_bytes(), given))
}

fn equal_in_constant_time(expected: &[u8], given: &[u8]) -> bool {
    if expected.len() != given.len() {
        return false;
    }
    let difference = expected
        .iter()
        .zip(given)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    // Keeps the compiler from turning the fold into an early-exit comparison.
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_random_hex_and_only_itself_matches() {
        assert!(init());
        assert!(init(), "a second init keeps the token");
        let token = get().unwrap();
        assert_eq!(token.len(), 2 * TOKEN_BYTES);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(matches(token.as_bytes()));
        let mut changed = token.as_bytes().to_vec();
        changed[10] = if changed[10] == b'0' { b'1' } else { b'0' };
        for wrong in [
            &b""[..],
            &changed,
            &token.as_bytes()[1..],
            format!("{token}0").as_bytes(),
            token.to_uppercase().as_bytes(),
            b"\x00\r\n",
            &vec![b'a'; 1 << 20],
        ] {
            assert!(!matches(wrong), "{:?}", String::from_utf8_lossy(wrong));
        }
    }

    #[test]
    fn comparison_and_hex() {
        assert!(equal_in_constant_time(b"", b""));
        assert!(equal_in_constant_time(b"abc", b"abc"));
        assert!(!equal_in_constant_time(b"abc", b"abd"));
        assert!(!equal_in_constant_time(b"abc", b"ab"));
        assert_eq!(hex(&[0, 15, 16, 255]), "000f10ff");
    }
}
