//! The SSH layer's line framing (`ssh/framing.rs`, behind `LineStream`): command output arrives
//! in chunks cut wherever the channel cuts them, and must give the same lines however it is cut.
//!
//! Input: the first byte seeds the chunk sizes, the rest is the output stream.
//! Invariants: no panic; any split of the stream into chunks gives the same lines, and the same
//! refusal, as one chunk; the framing is refused exactly when a line (the last one counts even
//! without its `\n`) is longer than `MAX_LINE` bytes, and the lines handed out are then those
//! before it; no line holds a `\n`; the lines joined with `\n` are the stream itself (lossily
//! decoded).
#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::fuzz_target;
use x2god::LineFramer;

/// The lines of `data` fed to a framer in chunks of the given sizes (cycled; 0 means 1), and
/// whether it refused an overlong line.
fn frame(data: &[u8], sizes: &[usize]) -> (Vec<String>, bool) {
    let mut framer = LineFramer::new();
    let mut out = VecDeque::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes.get(i % sizes.len().max(1)).copied().unwrap_or(1).max(1);
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        if framer.push(chunk, &mut out).is_err() {
            return (out.into(), true);
        }
        rest = tail;
        i += 1;
    }
    out.extend(framer.finish());
    (out.into(), false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let whole = frame(stream, &[stream.len().max(1)]);
    // Chunk sizes from the seed: single bytes, small primes, and sizes around the line limit
    // (the only place where the framer keeps state besides the unfinished line).
    let limit = 64 * 1024;
    let patterns: [&[usize]; 5] = [
        &[1],
        &[2, 3, 5, 7],
        &[usize::from(seed) + 1],
        &[limit - 1, 1, 2],
        &[usize::from(seed) % 17 + 1, limit, 3],
    ];
    for sizes in patterns {
        assert_eq!(frame(stream, sizes), whole, "chunk sizes {sizes:?}");
    }
    let (lines, refused) = &whole;
    for line in lines {
        assert!(!line.contains('\n'), "a line holds a newline");
        // U+FFFD may stand for 1 byte: at most 3 bytes per byte of input.
        assert!(line.len() <= 3 * limit, "line of {} bytes", line.len());
    }
    let segments: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
    let first_overlong = segments.iter().position(|l| l.len() > limit);
    assert_eq!(*refused, first_overlong.is_some(), "refusal");
    let kept = first_overlong.unwrap_or(segments.len());
    let mut expected: Vec<String> = segments
        .iter()
        .take(kept)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    // A trailing newline ends the last line; it does not start an empty one.
    if first_overlong.is_none() && expected.last().is_some_and(String::is_empty) {
        expected.pop();
    }
    assert_eq!(lines, &expected);
});
