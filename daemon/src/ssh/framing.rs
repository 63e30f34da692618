//! Splitting a command's output into lines as its bytes arrive, in chunks cut wherever the
//! channel happens to cut them. Kept apart from [`super::lines`] so it can be tested and fuzzed
//! without a connection: whatever the chunking, the lines are the same.

use std::collections::VecDeque;

/// Longest line handed out, in bytes. A longer line is cut there and the rest of it, up to
/// the next newline, is dropped: a command that never prints a newline must not make us
/// buffer without bound.
pub const MAX_LINE: usize = 64 * 1024;

/// The unfinished line between chunks.
#[derive(Debug, Default)]
pub struct LineFramer {
    /// The start of an unfinished line.
    partial: Vec<u8>,
    /// Dropping the rest of a line that was cut at [`MAX_LINE`].
    skipping: bool,
}

impl LineFramer {
    /// A framer at the start of a stream.
    pub fn new() -> LineFramer {
        LineFramer::default()
    }

    /// Splits `data` into lines, continuing the unfinished one; complete lines (without their
    /// `\n`, decoded as UTF-8 with invalid bytes as U+FFFD) go to `ready`. Returns whether a
    /// line was cut at [`MAX_LINE`] in this chunk.
    pub fn push(&mut self, mut data: &[u8], ready: &mut VecDeque<String>) -> bool {
        let mut cut = false;
        while !data.is_empty() {
            let (piece, complete, rest) = match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (piece, rest) = data.split_at(i);
                    (piece, true, rest.get(1..).unwrap_or_default())
                }
                None => (data, false, &[][..]),
            };
            data = rest;
            if self.skipping {
                self.skipping = !complete;
                continue;
            }
            let room = MAX_LINE.saturating_sub(self.partial.len());
            let take = piece.len().min(room);
            self.partial
                .extend_from_slice(piece.get(..take).unwrap_or_default());
            if complete || self.partial.len() >= MAX_LINE {
                if !complete {
                    cut = true;
                    self.skipping = true;
                }
                ready.push_back(String::from_utf8_lossy(&self.partial).into_owned());
                self.partial.clear();
            }
        }
        cut
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
            f.push(c, &mut out);
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
    fn an_overlong_line_is_cut_and_its_rest_dropped() {
        let long = vec![b'a'; MAX_LINE + 10];
        let mut f = LineFramer::new();
        let mut out = VecDeque::new();
        assert!(f.push(&long, &mut out));
        assert!(!f.push(b"aaa\nnext\n", &mut out));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].len(), MAX_LINE);
        assert_eq!(out[1], "next");
    }
}
