//! Arbitrary exec stdout → `Envelope::unwrap`, plus a framing round trip.
//!
//! Input: `<id>\n<stdout>`. Invariants: `Envelope::new` accepts only 8–64 characters of
//! `[a-z0-9-]`; `unwrap` never panics and returns a part of its input; and for any noise
//! without a begin-marker line and any payload without the end marker, unwrapping
//! `noise BEGIN payload END trailer` gives back exactly the payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use x2god::x2go::{Envelope, EnvelopeError};

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let (id_bytes, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(p) => (&data[..p], &data[p + 1..]),
        None => (data, &[][..]),
    };
    let id = String::from_utf8_lossy(id_bytes);
    let env = match Envelope::new(&id) {
        Ok(env) => {
            assert!((8..=64).contains(&id.len()));
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "id {id:?}"
            );
            env
        }
        Err(_) => match Envelope::new("fuzz-envelope-id") {
            Ok(env) => env,
            Err(e) => panic!("fixed id refused: {e}"),
        },
    };
    let begin = format!("X2GODATABEGIN:{}", env.id());
    let end = format!("X2GODATAEND:{}", env.id());

    // 1. Arbitrary stdout.
    match env.unwrap(rest) {
        Ok(out) => {
            assert!(out.len() <= rest.len());
            assert!(contains(rest, &out), "output is not part of the input");
            assert!(
                !contains(&out, end.as_bytes()),
                "output holds the end marker"
            );
            assert!(contains(rest, begin.as_bytes()));
        }
        Err(EnvelopeError::MissingBegin) => {}
        Err(EnvelopeError::Truncated) => assert!(contains(rest, begin.as_bytes())),
    }

    // 2. Framing round trip: the input's first half is noise, the second the payload.
    let (noise, payload) = rest.split_at(rest.len() / 2);
    let noise_ok = !noise
        .split(|&b| b == b'\n')
        .any(|line| line.starts_with(begin.as_bytes()));
    if noise_ok && !contains(payload, end.as_bytes()) {
        let mut framed = noise.to_vec();
        if !framed.is_empty() && !framed.ends_with(b"\n") {
            framed.push(b'\n');
        }
        framed.extend_from_slice(begin.as_bytes());
        framed.push(b'\n');
        framed.extend_from_slice(payload);
        framed.extend_from_slice(end.as_bytes());
        framed.extend_from_slice(b"\ntrailer after the end marker\n");
        assert_eq!(
            env.unwrap(&framed).as_deref(),
            Ok(payload),
            "payload not recovered"
        );
    }
});
