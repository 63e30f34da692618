//! The first packet of PulseAudio's native protocol, as far as a relay needs it: the client's
//! `AUTH` command with its cookie and its protocol version.
//!
//! A packet is a descriptor of five big-endian `u32` (payload length, channel, two offset
//! words, flags) and a payload; a command's payload is a tag struct, each value after a type
//! byte: `L` a `u32`, `x` a `u32` length then that many bytes. The `AUTH` command is
//! `L 8` (the command), `L tag`, `L version`, `x 256 <cookie>`. The version's two top bits ask
//! for shared memory (`0x8000_0000`) and memfd transport (`0x4000_0000`); a relay clears them,
//! as no memory can be shared across it.

use std::fmt;

/// Length of the cookie PulseAudio clients present (`PA_NATIVE_COOKIE_LENGTH`).
pub const COOKIE_LEN: usize = 256;
/// Length of a packet descriptor.
pub const DESCRIPTOR_LEN: usize = 20;
/// The largest `AUTH` payload taken: the command is some 280 bytes; anything much longer is
/// not a PulseAudio client's first packet.
pub const MAX_AUTH_PAYLOAD: u32 = 1024;

/// The channel of command packets (`(uint32_t) -1`).
const COMMAND_CHANNEL: u32 = u32::MAX;
/// `PA_COMMAND_AUTH`.
const COMMAND_AUTH: u32 = 8;
const TAG_U32: u8 = b'L';
const TAG_ARBITRARY: u8 = b'x';
/// `PA_PROTOCOL_FLAG_SHM | PA_PROTOCOL_FLAG_MEMFD`.
const SHARED_MEMORY_FLAGS: u32 = 0xC000_0000;

/// Why a first packet is not a usable `AUTH`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPacket {
    /// The descriptor is not that of a command packet of a plausible size.
    #[error("not a PulseAudio command packet")]
    NotACommand,
    /// The payload length is out of bounds.
    #[error("first packet of {0} bytes: too long for an AUTH")]
    TooLong(u32),
    /// The command is another one, or its tag struct is malformed.
    #[error("the first command is not AUTH")]
    NotAuth,
    /// No cookie of the right length.
    #[error("AUTH carries no {COOKIE_LEN}-byte cookie")]
    NoCookie,
}

/// The payload length a descriptor announces, if it is that of a command packet.
pub fn payload_len(descriptor: &[u8; DESCRIPTOR_LEN]) -> Result<u32, BadPacket> {
    let word = |i: usize| {
        u32::from_be_bytes([
            descriptor[4 * i],
            descriptor[4 * i + 1],
            descriptor[4 * i + 2],
            descriptor[4 * i + 3],
        ])
    };
    if word(1) != COMMAND_CHANNEL || word(2) != 0 || word(3) != 0 || word(4) != 0 {
        return Err(BadPacket::NotACommand);
    }
    match word(0) {
        0 => Err(BadPacket::NotACommand),
        n if n > MAX_AUTH_PAYLOAD => Err(BadPacket::TooLong(n)),
        n => Ok(n),
    }
}

/// An `AUTH` payload, with where its version and cookie are, so they can be checked and
/// rewritten in place.
pub struct Auth {
    payload: Vec<u8>,
    version_at: usize,
    cookie_at: usize,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cookie is a credential.
        f.debug_struct("Auth")
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

impl Drop for Auth {
    fn drop(&mut self) {
        wipe(&mut self.payload);
    }
}

/// Overwrites a buffer that held a credential.
pub fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    // Keeps the writes from being removed as dead stores before the memory is freed.
    std::hint::black_box(bytes);
}

impl Auth {
    /// Parses the payload of a client's first packet.
    pub fn parse(payload: Vec<u8>) -> Result<Auth, BadPacket> {
        let mut at = 0;
        let u32_at = |at: &mut usize| -> Result<(usize, u32), BadPacket> {
            let start = *at;
            let bytes = payload.get(start..start + 5).ok_or(BadPacket::NotAuth)?;
            if bytes[0] != TAG_U32 {
                return Err(BadPacket::NotAuth);
            }
            *at += 5;
            Ok((
                start + 1,
                u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]),
            ))
        };
        let (_, command) = u32_at(&mut at)?;
        if command != COMMAND_AUTH {
            return Err(BadPacket::NotAuth);
        }
        let _tag = u32_at(&mut at)?;
        let (version_at, _) = u32_at(&mut at)?;
        let head = payload.get(at..at + 5).ok_or(BadPacket::NoCookie)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        if head[0] != TAG_ARBITRARY || len as usize != COOKIE_LEN {
            return Err(BadPacket::NoCookie);
        }
        let cookie_at = at + 5;
        if payload.len() < cookie_at + COOKIE_LEN {
            return Err(BadPacket::NoCookie);
        }
        Ok(Auth {
            payload,
            version_at,
            cookie_at,
        })
    }

    /// The protocol version word, flags included.
    pub fn version(&self) -> u32 {
        let v = &self.payload[self.version_at..self.version_at + 4];
        u32::from_be_bytes([v[0], v[1], v[2], v[3]])
    }

    /// Whether the cookie presented is `expected`, in time independent of where they differ.
    pub fn cookie_is(&self, expected: &[u8; COOKIE_LEN]) -> bool {
        let presented = &self.payload[self.cookie_at..self.cookie_at + COOKIE_LEN];
        presented
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// Puts `cookie` in place of the one presented (the local sound server's own, so it lets
    /// the relay in by the cookie whatever it makes of the relay's credentials).
    pub fn replace_cookie(&mut self, cookie: &[u8; COOKIE_LEN]) {
        self.payload[self.cookie_at..self.cookie_at + COOKIE_LEN].copy_from_slice(cookie);
    }

    /// Clears the version's requests for shared memory: the client is across a network.
    pub fn refuse_shared_memory(&mut self) {
        let v = (self.version() & !SHARED_MEMORY_FLAGS).to_be_bytes();
        self.payload[self.version_at..self.version_at + 4].copy_from_slice(&v);
    }

    /// The packet as it goes on: its descriptor and the (possibly rewritten) payload.
    pub fn to_packet(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(DESCRIPTOR_LEN + self.payload.len());
        out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&COMMAND_CHANNEL.to_be_bytes());
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&self.payload);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An `AUTH` as libpulse 16 sends it (version 35 with the shm and memfd flags).
    fn auth_payload(cookie: &[u8; COOKIE_LEN], version: u32) -> Vec<u8> {
        let mut p = Vec::new();
        for v in [COMMAND_AUTH, 0, version] {
            p.push(TAG_U32);
            p.extend_from_slice(&v.to_be_bytes());
        }
        p.push(TAG_ARBITRARY);
        p.extend_from_slice(&(COOKIE_LEN as u32).to_be_bytes());
        p.extend_from_slice(cookie);
        p
    }

    fn descriptor(len: u32) -> [u8; DESCRIPTOR_LEN] {
        let mut d = [0; DESCRIPTOR_LEN];
        d[..4].copy_from_slice(&len.to_be_bytes());
        d[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        d
    }

    #[test]
    fn a_libpulse_auth_is_checked_and_rewritten() {
        let cookie = [7u8; COOKIE_LEN];
        let payload = auth_payload(&cookie, 0xC000_0023);
        assert_eq!(
            payload_len(&descriptor(payload.len() as u32)),
            Ok(payload.len() as u32)
        );
        let mut auth = Auth::parse(payload.clone()).unwrap();
        assert!(auth.cookie_is(&cookie));
        let mut other = cookie;
        other[255] ^= 1;
        assert!(!auth.cookie_is(&other));
        assert!(!auth.cookie_is(&[0; COOKIE_LEN]));
        auth.refuse_shared_memory();
        assert_eq!(auth.version(), 35);
        auth.replace_cookie(&[9; COOKIE_LEN]);
        assert!(auth.cookie_is(&[9; COOKIE_LEN]));
        let packet = auth.to_packet();
        assert_eq!(packet.len(), DESCRIPTOR_LEN + payload.len());
        let d: [u8; DESCRIPTOR_LEN] = packet[..DESCRIPTOR_LEN].try_into().unwrap();
        assert_eq!(payload_len(&d), Ok(payload.len() as u32));
        assert_eq!(
            Auth::parse(packet[DESCRIPTOR_LEN..].to_vec())
                .unwrap()
                .version(),
            35
        );
        assert!(!format!("{auth:?}").contains("9, 9"));
    }

    #[test]
    fn anything_else_is_refused() {
        let cookie = [1u8; COOKIE_LEN];
        let mut d = descriptor(300);
        d[4..8].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(payload_len(&d), Err(BadPacket::NotACommand));
        assert_eq!(payload_len(&descriptor(0)), Err(BadPacket::NotACommand));
        assert_eq!(
            payload_len(&descriptor(MAX_AUTH_PAYLOAD + 1)),
            Err(BadPacket::TooLong(MAX_AUTH_PAYLOAD + 1))
        );
        let mut not_auth = auth_payload(&cookie, 35);
        not_auth[4] = 9;
        assert_eq!(Auth::parse(not_auth).err(), Some(BadPacket::NotAuth));
        let short = auth_payload(&cookie, 35)[..200].to_vec();
        assert_eq!(Auth::parse(short).err(), Some(BadPacket::NoCookie));
        let mut wrong_len = auth_payload(&cookie, 35);
        wrong_len[18] = 0;
        assert_eq!(Auth::parse(wrong_len).err(), Some(BadPacket::NoCookie));
        assert_eq!(Auth::parse(Vec::new()).err(), Some(BadPacket::NotAuth));
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Auth::parse(bytes);
        }

        #[test]
        fn only_the_exact_cookie_passes(cookie in proptest::array::uniform32(any::<u8>()),
                                        flip in 0usize..COOKIE_LEN) {
            let mut full = [0u8; COOKIE_LEN];
            for (i, b) in full.iter_mut().enumerate() {
                *b = cookie[i % 32].wrapping_add(i as u8);
            }
            let auth = Auth::parse(auth_payload(&full, 35)).unwrap();
            prop_assert!(auth.cookie_is(&full));
            let mut other = full;
            other[flip] ^= 0x80;
            prop_assert!(!auth.cookie_is(&other));
        }
    }
}
