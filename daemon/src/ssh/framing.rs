//! Splitting a command's output into lines as its bytes arrive, in chunks cut wherever the
//! channel happens to cut them. Kept apart from [`super::lines`] so it can be tested and fuzzed
//! without a connection: whatever the chunking, the lines are the same.

use std::collections::VecDeque;

/// Longest line accepted, in bytes. A longer one ends the framing with [`Overlong`]: a command
/// that never prints a newline must not make us buffer without bound, and a line cut short
/// would be read as a different one.
pub const MAX_LINE: usize = 64 * 1024;

/// The stream held a line longer than [`MAX_LINE`]; the framer takes nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlong;

/// The unfinished line between chunks.
#[derive(Debug, Default)]
pub struct LineFramer {
    /// The start of an unfinished line.
    partial: Vec<u8>,
    /// A line was over [`MAX_LINE`]: everything after it is refused.
    failed: bool,
}

impl LineFramer {
    /// A framer at the start of a stream.
    pub fn new() -> LineFramer {
        LineFramer::default()
    }

    /// Splits `data` into lines, continuing the unfinished one; complete lines (without their
    /// `\n`, decoded as UTF-8 with invalid bytes as U+FFFD) go to `ready`. The lines before an
    /// overlong one are handed out, then [`Overlong`], now and for every later chunk: however
    /// the stream is chunked, the same lines come before the refusal.
    pub fn push(&mut self, mut data: &[u8], ready: &mut VecDeque<String>) -> Result<(), Overlong> {
        if self.failed {
            return Err(Overlong);
        }
        while !data.is_empty() {
            let (piece, complete, rest) = match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (piece, rest) = data.split_at(i);
                    (piece, true, rest.get(1..).unwrap_or_default())
                }
                None => (data, false, &[][..]),
            };
            data = rest;
            if self.partial.len().saturating_add(piece.len()) > MAX_LINE {
                self.failed = true;
                self.partial = Vec::new();
                return Err(Overlong);
            }
            self.partial.extend_from_slice(piece);
            if complete {
                ready.push_back(String::from_utf8_lossy(&self.partial).into_owned());
                self.partial.clear();
            }
        }
        Ok(())
    }

    /// The last line, which had no newline, once the stream has ended; `None` when there is
    /// none.
    pub fn finish(&mut self) -> Option<String> {
        if self.partial.is_empty() {
            return None;
        }
        let line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(chunks: &[&[u8]]) -> Vec<String> {
        let mut f = LineFramer::new();
        let mut out = VecDeque::new();
        for c in chunks {
            f.push(c, &mut out).unwrap();
        }
        out.extend(f.finish());
        out.into()
    }

    #[test]
    fn chunking_does_not_change_the_lines() {
        let whole = frame(&[b"ab\ncd\n\nef"]);
        assert_eq!(whole, ["ab", "cd", "", "ef"]);
        assert_eq!(frame(&[b"a", b"b\nc", b"d\n", b"\ne", b"f"]), whole);
        // A multi-byte character split between chunks is decoded whole.
        assert_eq!(
            frame(&["é".as_bytes()[..1].as_ref(), &"é\n".as_bytes()[1..]]),
            ["é"]
        );
    }

    #[test]
    fn an_overlong_line_is_refused_after_the_lines_before_it() {
        let mut f = LineFramer::new();
        let mut out = VecDeque::new();
        assert_eq!(f.push(b"first\n", &mut out), Ok(()));
        let exact = vec![b'a'; MAX_LINE];
        assert_eq!(f.push(&exact, &mut out), Ok(()));
        assert_eq!(f.push(b"\nok\n", &mut out), Ok(()));
        assert_eq!(f.push(&[b'b'; MAX_LINE], &mut out), Ok(()));
        assert_eq!(f.push(b"b", &mut out), Err(Overlong));
        assert_eq!(f.push(b"\nnext\n", &mut out), Err(Overlong));
        assert_eq!(f.finish(), None);
        assert_eq!(out.len(), 3);
        assert_eq!(out[1].len(), MAX_LINE);
        assert_eq!(out[2], "ok");
    }
}
