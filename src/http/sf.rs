//! The few pieces of Structured Field Values (RFC 9651) the RateLimit fields
//! are made of: Strings, Integers and Byte Sequences, serialised by hand.

use core::fmt::{self, Write};

/// The largest Integer a structured field can carry (RFC 9651, 15 digits).
pub const SF_INTEGER_MAX: u64 = 999_999_999_999_999;

/// Whether `s` can be an sf-string: printable ASCII, `0x20..=0x7E`, only.
pub(crate) const fn is_sf_string(s: &str) -> bool {
    let mut rest = s.as_bytes();
    while let [byte, tail @ ..] = rest {
        if !matches!(*byte, 0x20..=0x7E) {
            return false;
        }
        rest = tail;
    }
    true
}

/// Writes `s` as an sf-string: in double quotes, with `"` and `\` escaped by a
/// backslash. The caller has checked [`is_sf_string`]; any other character is
/// written as it is (it cannot occur through the public API).
pub(crate) fn write_string(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    // Copy runs of plain characters at once; escape the two special ones.
    let mut rest = s;
    while let Some(at) = rest.find(['"', '\\']) {
        let (plain, special) = rest.split_at(at);
        f.write_str(plain)?;
        let mut chars = special.chars();
        if let Some(c) = chars.next() {
            f.write_char('\\')?;
            f.write_char(c)?;
        }
        rest = chars.as_str();
    }
    f.write_str(rest)?;
    f.write_char('"')
}

/// Writes `value` as an sf-integer, clamped to [`SF_INTEGER_MAX`] so the field
/// stays parseable (the clamp is 31 million years of seconds).
pub(crate) fn write_integer(f: &mut impl Write, value: u64) -> fmt::Result {
    write!(
        f,
        "{}",
        if value > SF_INTEGER_MAX {
            SF_INTEGER_MAX
        } else {
            value
        }
    )
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The base64 character of the low six bits of `sextet`.
fn base64_char(sextet: u32) -> char {
    BASE64
        .get((sextet & 0x3F) as usize)
        .map_or('=', |&b| char::from(b))
}

/// Writes `bytes` as an sf-binary: `:` base64 (RFC 4648 section 4, with
/// padding) `:`.
pub(crate) fn write_byte_sequence(f: &mut impl Write, bytes: &[u8]) -> fmt::Result {
    f.write_char(':')?;
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let group = byte(0).wrapping_shl(16) | byte(1).wrapping_shl(8) | byte(2);
        f.write_char(base64_char(group.wrapping_shr(18)))?;
        f.write_char(base64_char(group.wrapping_shr(12)))?;
        if chunk.len() > 1 {
            f.write_char(base64_char(group.wrapping_shr(6)))?;
        } else {
            f.write_char('=')?;
        }
        if chunk.len() > 2 {
            f.write_char(base64_char(group))?;
        } else {
            f.write_char('=')?;
        }
    }
    f.write_char(':')
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;

    use super::*;

    fn string(s: &str) -> String {
        let mut out = String::new();
        write_string(&mut out, s).unwrap();
        out
    }

    fn bytes(b: &[u8]) -> String {
        let mut out = String::new();
        write_byte_sequence(&mut out, b).unwrap();
        out
    }

    #[test]
    fn strings_escape_quote_and_backslash_only() {
        assert_eq!(string(""), r#""""#);
        assert_eq!(string("burst"), r#""burst""#);
        assert_eq!(string(r#"a"b"#), r#""a\"b""#);
        assert_eq!(string(r"a\b"), r#""a\\b""#);
        assert_eq!(string(r#"\""#), r#""\\\"""#);
        assert_eq!(string("it's ok; q=1, x"), r#""it's ok; q=1, x""#);
    }

    #[test]
    fn sf_string_accepts_printable_ascii_only() {
        assert!(is_sf_string(" ~abc\"\\"));
        assert!(!is_sf_string("tab\there"));
        assert!(!is_sf_string("new\nline"));
        assert!(!is_sf_string("del\u{7f}"));
        assert!(!is_sf_string("café"));
    }

    #[test]
    fn byte_sequences_are_padded_base64() {
        // RFC 4648 section 10 test vectors.
        assert_eq!(bytes(b""), "::");
        assert_eq!(bytes(b"f"), ":Zg==:");
        assert_eq!(bytes(b"fo"), ":Zm8=:");
        assert_eq!(bytes(b"foo"), ":Zm9v:");
        assert_eq!(bytes(b"foob"), ":Zm9vYg==:");
        assert_eq!(bytes(b"fooba"), ":Zm9vYmE=:");
        assert_eq!(bytes(b"foobar"), ":Zm9vYmFy:");
        // Both ends of the alphabet: 0xFB 0xFF -> "+/8=", 0x00 -> "AA==".
        assert_eq!(bytes(&[0xFB, 0xFF]), ":+/8=:");
        assert_eq!(bytes(&[0x00]), ":AA==:");
    }

    #[test]
    fn integers_are_clamped_to_fifteen_digits() {
        let mut out = String::new();
        write_integer(&mut out, 0).unwrap();
        out.push(' ');
        write_integer(&mut out, SF_INTEGER_MAX).unwrap();
        out.push(' ');
        write_integer(&mut out, u64::MAX).unwrap();
        assert_eq!(out, "0 999999999999999 999999999999999");
    }
}
