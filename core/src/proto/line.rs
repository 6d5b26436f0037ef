//! A bounded line accumulator.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::collections::VecDeque;

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The server sent more than the allowed number of bytes without a line end.
    #[error("server line longer than {max} bytes")]
    TooLong {
        /// The bound that was exceeded.
        max: usize,
    },
    /// An IMAP literal announced more bytes than the bound allows.
    #[error("server announced a {size}-byte literal, more than the {max}-byte bound")]
    LiteralTooLong {
        /// The size the server announced.
        size: u64,
        /// The bound.
        max: usize,
    },
}

/// Collects bytes and hands out complete lines (CRLF or bare LF), never holding more than
/// `max` bytes for an unfinished line.
#[derive(Debug, Clone)]
pub struct LineBuffer {
    buf: VecDeque<u8>,
    max: usize,
    /// Bytes of `buf` already scanned without finding LF.
    scanned: usize,
    /// IMAP: a line ending in `{n}` continues after n literal bytes.
    literals: bool,
    assembled: Vec<u8>,
    need_literal: Option<usize>,
}

impl LineBuffer {
    /// An empty buffer with a line bound of `max` bytes.
    pub fn new(max: usize) -> Self {
        LineBuffer { buf: VecDeque::new(), max, scanned: 0, literals: false, assembled: Vec::new(), need_literal: None }
    }

    /// A buffer that understands IMAP literals: a line ending in `{n}` (or `{n+}`) is joined
    /// with the `n` bytes that follow and the rest of the line, all within the bound.
    pub fn with_imap_literals(max: usize) -> Self {
        LineBuffer { literals: true, ..LineBuffer::new(max) }
    }

    /// Appends bytes read from the server.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend(bytes);
    }

    /// Whether no unread bytes are buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next complete line without its line ending (lossy UTF-8), `Ok(None)` if none yet.
    pub fn next_line(&mut self) -> Result<Option<String>, LineError> {
        match self.next_line_bytes()? {
            Some(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            None => Ok(None),
        }
    }

    /// The next complete line as bytes, without its line ending.
    pub fn next_line_bytes(&mut self) -> Result<Option<Vec<u8>>, LineError> {
        loop {
            if let Some(n) = self.need_literal {
                if self.buf.len() < n {
                    return Ok(None);
                }
                self.assembled.extend(self.buf.drain(..n));
                self.scanned = 0;
                self.need_literal = None;
            }
            let Some(line) = self.physical_line()? else {
                return Ok(None);
            };
            self.assembled.extend_from_slice(&line);
            if self.assembled.len() > self.max {
                self.assembled.clear();
                return Err(LineError::TooLong { max: self.max });
            }
            if self.literals {
                if let Some(n) = literal_suffix(&line) {
                    let room = self.max - self.assembled.len();
                    if n > room as u64 {
                        self.assembled.clear();
                        return Err(LineError::LiteralTooLong { size: n, max: self.max });
                    }
                    self.assembled.extend_from_slice(b"\r\n");
                    self.need_literal = Some(n as usize);
                    continue;
                }
            }
            return Ok(Some(core::mem::take(&mut self.assembled)));
        }
    }

    fn physical_line(&mut self) -> Result<Option<Vec<u8>>, LineError> {
        let max = self.max.saturating_sub(self.assembled.len());
        let start = self.scanned;
        let pos = self.buf.iter().skip(start).position(|&b| b == b'\n');
        match pos {
            Some(p) => {
                let end = start + p;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop(); // \n
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.scanned = 0;
                if line.len() > max {
                    return Err(LineError::TooLong { max: self.max });
                }
                Ok(Some(line))
            }
            None => {
                self.scanned = self.buf.len();
                // room for the CRLF that has not arrived yet
                if self.buf.len() > max.saturating_add(2) {
                    Err(LineError::TooLong { max: self.max })
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Takes exactly `n` raw bytes (an IMAP literal) if they are all buffered.
    pub fn take_exact(&mut self, n: usize) -> Option<Vec<u8>> {
        if self.buf.len() < n {
            return None;
        }
        self.scanned = 0;
        Some(self.buf.drain(..n).collect())
    }

    /// The line bound.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Takes every buffered byte.
    pub fn take_rest(&mut self) -> Vec<u8> {
        self.scanned = 0;
        self.buf.drain(..).collect()
    }
}

/// `{123}` or `{123+}` at the end of an IMAP line.
fn literal_suffix(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_feeds() {
        let mut b = LineBuffer::new(100);
        b.push(b"* OK he");
        assert_eq!(b.next_line(), Ok(None));
        b.push(b"llo\r\nsecond\nthi");
        assert_eq!(b.next_line().expect("line").as_deref(), Some("* OK hello"));
        assert_eq!(b.next_line().expect("line").as_deref(), Some("second"));
        assert_eq!(b.next_line(), Ok(None));
        assert_eq!(b.take_rest(), b"thi");
    }

    #[test]
    fn imap_literals_are_joined() {
        let mut b = LineBuffer::with_imap_literals(100);
        b.push(b"* LIST () \"/\" {5}\r\nIN");
        assert_eq!(b.next_line(), Ok(None));
        b.push(b"BOX\r\nm1 OK done\r\n");
        assert_eq!(b.next_line().expect("line").as_deref(), Some("* LIST () \"/\" {5}\r\nINBOX"));
        assert_eq!(b.next_line().expect("line").as_deref(), Some("m1 OK done"));
        let mut b = LineBuffer::with_imap_literals(100);
        b.push(b"* X {99999999999}\r\n");
        assert!(matches!(b.next_line(), Err(LineError::LiteralTooLong { .. })));
    }

    #[test]
    fn too_long_without_newline() {
        let mut b = LineBuffer::new(8);
        b.push(b"12345678901");
        assert_eq!(b.next_line(), Err(LineError::TooLong { max: 8 }));
        let mut b = LineBuffer::new(8);
        b.push(b"1234567890\r\n");
        assert_eq!(b.next_line(), Err(LineError::TooLong { max: 8 }));
        let mut b = LineBuffer::new(8);
        b.push(b"12345678\r\n");
        assert_eq!(b.next_line().expect("fits").as_deref(), Some("12345678"));
    }
}
