//! The SSH layer's line framing (`ssh/framing.rs`, behind `LineStream`): command output arrives
//! in chunks cut wherever the channel cuts them, and must give the same lines however it is cut.
//!
//! Input: the first byte seeds the chunk sizes, the rest is the output stream.
//! Invariants: no panic; any split of the stream into chunks gives the same lines as one chunk;
//! no line is longer than `MAX_LINE` bytes (before UTF-8 repair) and none holds a `\n`; without
//! overlong lines, the lines joined with `\n` are the stream itself (lossily decoded).
#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::fuzz_target;
use x2god::LineFramer;

/// The lines of `data` fed to a framer in chunks of the given sizes (cycled; 0 means 1).
fn frame(data: &[u8], sizes: &[usize]) -> Vec<String> {
    let mut framer = LineFramer::new();
    let mut out = VecDeque::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes.get(i % sizes.len().max(1)).copied().unwrap_or(1).max(1);
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        framer.push(chunk, &mut out);
        rest = tail;
        i += 1;
    }
    out.extend(framer.finish());
    out.into()
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
    for line in &whole {
        assert!(!line.contains('\n'), "a line holds a newline");
        // U+FFFD may stand for 1 byte: at most 3 bytes per byte of input.
        assert!(line.len() <= 3 * limit, "line of {} bytes", line.len());
    }
    let overlong = stream.split(|&b| b == b'\n').any(|l| l.len() >= limit);
    if !overlong {
        let mut expected: Vec<String> = stream
            .split(|&b| b == b'\n')
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        // A trailing newline ends the last line; it does not start an empty one.
        if expected.last().is_some_and(String::is_empty) {
            expected.pop();
        }
        assert_eq!(whole, expected);
    }
});
