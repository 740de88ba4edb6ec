//! A fixed-capacity text buffer for writing header values without allocation.

use core::fmt;

/// A `core::fmt::Write` target of `N` bytes on the stack, for formatting a
/// header value without allocation and handing its bytes to an HTTP stack.
///
/// Every write is all or nothing: it fits whole or fails with
/// [`fmt::Error`] and leaves the buffer as it was, so the contents are
/// always whole UTF-8 text. That holds for one `write_str` and for one whole
/// formatted value: a `write!(buf, "{}: {}", a, b)` is many `write_str`s
/// (`"Ret"`, `": "`, ...), and if any of them does not fit, the buffer's
/// `write_fmt` takes back the ones that did (it remembers the length before
/// the value and restores it; no allocation).
///
/// ```
/// use core::fmt::Write;
/// use ratecore::http::FixedBuf;
///
/// let mut buf = FixedBuf::<8>::new();
/// write!(buf, "{}", 12_345).unwrap();
/// assert_eq!(buf.as_str(), "12345");
/// assert!(write!(buf, "6789").is_err()); // would not fit: nothing written
/// assert_eq!(buf.as_str(), "12345");
/// // A value of several pieces: the pieces that fitted are taken back too.
/// assert!(write!(buf, "{}{}", "6", "789").is_err());
/// assert_eq!(buf.as_str(), "12345");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FixedBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> FixedBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so this is always valid UTF-8.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// Bytes written so far.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the buffer.
    pub const fn clear(&mut self) {
        self.len = 0;
    }
}

impl<const N: usize> Default for FixedBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for FixedBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let target = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        target.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }

    /// Writes one formatted value, all or nothing: on an error, the pieces
    /// already written are taken back and the buffer is as it was.
    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        let mark = self.len;
        let written = fmt::write(self, args);
        if written.is_err() {
            self.len = mark;
        }
        written
    }
}

impl<const N: usize> fmt::Display for FixedBuf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
