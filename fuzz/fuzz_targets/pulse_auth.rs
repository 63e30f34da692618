//! A PulseAudio client's first packet, as the sound relay reads it from anyone who connects to a
//! session's sound port on the server: `payload_len` on the descriptor, then `Auth::parse`.
//!
//! Input: the packet (a 20-byte descriptor, then the payload).
//! Invariants: no panic; an accepted AUTH carries its cookie (and no other), clearing the
//! shared-memory flags keeps the version number, and the packet rebuilt after the relay's
//! rewrites is read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use x2god::sound::native::{Auth, COOKIE_LEN, DESCRIPTOR_LEN, payload_len};

fuzz_target!(|data: &[u8]| {
    let Some((descriptor, payload)) = data.split_first_chunk::<DESCRIPTOR_LEN>() else {
        return;
    };
    let Ok(len) = payload_len(descriptor) else {
        return;
    };
    let Some(payload) = payload.get(..len as usize) else {
        return;
    };
    let Ok(mut auth) = Auth::parse(payload.to_vec()) else {
        return;
    };
    let version = auth.version();
    auth.refuse_shared_memory();
    assert_eq!(auth.version(), version & 0x3FFF_FFFF);
    let replacement = [0xA5u8; COOKIE_LEN];
    auth.replace_cookie(&replacement);
    assert!(auth.cookie_is(&replacement));
    let mut other = replacement;
    other[0] ^= 1;
    assert!(!auth.cookie_is(&other));
    let packet = auth.to_packet();
    let d: &[u8; DESCRIPTOR_LEN] = packet.first_chunk().expect("descriptor");
    assert_eq!(payload_len(d), Ok(len));
    let again = Auth::parse(packet[DESCRIPTOR_LEN..].to_vec()).expect("rebuilt packet");
    assert!(again.cookie_is(&replacement));
    assert_eq!(again.version(), auth.version());
});
