//! The few pieces of Structured Field Values (RFC 9651) the RateLimit fields
//! are made of: Strings, Integers and Byte Sequences, serialised by hand.

use core::fmt::{self, Write};

use super::buffer::FixedBuf;

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

/// A value written as several pieces (see [`write_at_once`]).
pub(crate) trait Pieces {
    /// Writes the value's pieces to `f`.
    fn write_pieces<W: Write>(&self, f: &mut W) -> fmt::Result;
}

/// Writes `value`'s pieces into a stack buffer of [`AT_ONCE`] bytes, then
/// to `f` in one write; or, if they do not fit there, to `f` piece by piece
/// (the pieces then made twice).
/// A header value's formatter hands each piece to the caller's buffer
/// through `dyn Write`, about 50 instructions a piece in ratecore-tower's
/// overhead bench, and a `RateLimit` item is six pieces or more.
pub(crate) fn write_at_once(f: &mut impl Write, value: &impl Pieces) -> fmt::Result {
    let mut buffer = FixedBuf::<AT_ONCE>::new();
    if value.write_pieces(&mut buffer).is_ok() {
        return f.write_str(buffer.as_str());
    }
    value.write_pieces(f)
}

/// The stack buffer of [`write_at_once`]: a `RateLimit-Policy` item of a
/// 40-byte name with `q` and `w` of 15 digits each (90 bytes), or a
/// `RateLimit` item of a 30-byte partition key (40 in base64) beside a
/// 20-byte name.
const AT_ONCE: usize = 96;

/// Writes `value` as an sf-integer, clamped to [`SF_INTEGER_MAX`] so the field
/// stays parseable (the clamp is 31 million years of seconds).
pub(crate) fn write_integer(f: &mut impl Write, value: u64) -> fmt::Result {
    // The digits made here and written at once. Through `write!`, each
    // number also went through `core::fmt`'s arguments and its integer
    // formatting: about 50 instructions more a number, in ratecore-tower's
    // overhead bench (the `RateLimit` item of its one limit, two numbers,
    // 848 to 749).
    let mut digits = [0u8; DIGITS];
    let mut rest = if value > SF_INTEGER_MAX {
        SF_INTEGER_MAX
    } else {
        value
    };
    // Where the digits begin: the position of the last one made.
    let mut start = 0;
    for (at, digit) in digits.iter_mut().enumerate().rev() {
        // `rest % 10 < 10`: the cast keeps it, and its `or` with `b'0'`
        // (0x30) is its ASCII digit.
        *digit = b'0' | (rest % 10) as u8;
        start = at;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    match digits.get(start..).map(core::str::from_utf8) {
        Some(Ok(text)) => f.write_str(text),
        // Unreachable: ASCII digits.
        _ => Err(fmt::Error),
    }
}

/// The most digits of an sf-integer: those of [`SF_INTEGER_MAX`].
const DIGITS: usize = 15;
const _: () = assert!(SF_INTEGER_MAX < 10_u64.pow(DIGITS as u32));

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

    fn integer(value: u64) -> String {
        let mut out = String::new();
        write_integer(&mut out, value).unwrap();
        out
    }

    /// Every number of digits, each digit, and the powers of ten and the
    /// numbers just below them, as `core::fmt` writes them (the clamp
    /// aside).
    #[test]
    fn integers_are_written_as_decimal() {
        let mut cases = std::vec![0, 7, 9, 10, 99, 100, 86_400, 1_700_000_000];
        let mut power = 1u64;
        while power <= SF_INTEGER_MAX {
            cases.extend([power - 1, power, power + 1, power * 9 + power / 3]);
            power *= 10;
        }
        // A spread of others (xorshift), each digit at each place.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(x % (SF_INTEGER_MAX + 1));
        }
        for value in cases {
            assert_eq!(integer(value), std::format!("{value}"));
        }
    }

    #[test]
    fn integers_are_clamped_to_fifteen_digits() {
        assert_eq!(integer(0), "0");
        assert_eq!(integer(SF_INTEGER_MAX), "999999999999999");
        assert_eq!(integer(SF_INTEGER_MAX + 1), "999999999999999");
        assert_eq!(integer(u64::MAX), "999999999999999");
    }
}
