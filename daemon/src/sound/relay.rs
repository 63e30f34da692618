//! One relayed connection: the cookie checked, then bytes both ways.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::cookie::Cookie;
use super::native::{Auth, BadPacket, DESCRIPTOR_LEN, payload_len};
use super::server::LocalServer;

/// How long a client may take to send its `AUTH` (libpulse sends it at once).
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the local sound server may take to accept.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a relayed connection ended before or while it carried sound.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The client sent something other than a PulseAudio `AUTH` first.
    #[error("not a PulseAudio client: {0}")]
    NotPulse(#[from] BadPacket),
    /// The client's cookie is not the session's: someone else on the server.
    #[error("the client presented a wrong cookie")]
    WrongCookie,
    /// The client sent nothing usable in time.
    #[error("the client sent no AUTH within {AUTH_TIMEOUT:?}")]
    Timeout,
    /// The local sound server cannot be reached.
    #[error("cannot reach the local sound server {server}: {source}")]
    Local {
        /// Where it was looked for.
        server: String,
        /// What failed.
        source: io::Error,
    },
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Relays `client` (a connection made to the session's sound port on the server) to `server`
/// once its first packet is an `AUTH` with the cookie `expected`: the cookie is swapped for the
/// local server's own (`local`, when there is one), requests for shared memory are cleared,
/// and from then on bytes pass both ways until either side closes. Returns the bytes relayed
/// (to the local server, from it).
pub async fn relay<S: AsyncRead + AsyncWrite + Unpin>(
    mut client: S,
    expected: &Cookie,
    server: &LocalServer,
    local: Option<&Cookie>,
) -> Result<(u64, u64), RelayError> {
    let mut auth = tokio::time::timeout(AUTH_TIMEOUT, read_auth(&mut client))
        .await
        .map_err(|_| RelayError::Timeout)??;
    if !auth.cookie_is(expected.expose()) {
        return Err(RelayError::WrongCookie);
    }
    auth.refuse_shared_memory();
    if let Some(c) = local {
        auth.replace_cookie(c.expose());
    }
    let mut upstream =
        server
            .connect(CONNECT_TIMEOUT)
            .await
            .map_err(|source| RelayError::Local {
                server: server.to_string(),
                source,
            })?;
    let mut packet = auth.to_packet();
    let sent = upstream.write_all(&packet).await;
    super::native::wipe(&mut packet);
    sent?;
    drop(auth);
    let (up, down) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok((up, down))
}

async fn read_auth<S: AsyncRead + Unpin>(client: &mut S) -> Result<Auth, RelayError> {
    let mut descriptor = [0u8; DESCRIPTOR_LEN];
    client.read_exact(&mut descriptor).await?;
    let len = payload_len(&descriptor)?;
    let mut payload = vec![0u8; len as usize];
    client.read_exact(&mut payload).await?;
    Ok(Auth::parse(payload)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sound::native::COOKIE_LEN;
    use tokio::net::UnixListener;

    fn auth_packet(cookie: &[u8; COOKIE_LEN]) -> Vec<u8> {
        let mut p = Vec::new();
        for v in [8u32, 1, 0xC000_0023] {
            p.push(b'L');
            p.extend_from_slice(&v.to_be_bytes());
        }
        p.push(b'x');
        p.extend_from_slice(&(COOKIE_LEN as u32).to_be_bytes());
        p.extend_from_slice(cookie);
        let mut out = (p.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&u32::MAX.to_be_bytes());
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&p);
        out
    }

    /// A local "sound server" that records what reaches it and answers "ok".
    async fn local_server(
        dir: &std::path::Path,
    ) -> (LocalServer, tokio::task::JoinHandle<Vec<u8>>) {
        let path = dir.join("native");
        let listener = UnixListener::bind(&path).unwrap();
        let task = tokio::spawn(async move {
            let Ok((mut s, _)) = listener.accept().await else {
                return Vec::new();
            };
            let mut got = vec![0u8; DESCRIPTOR_LEN + 276 + 5];
            s.read_exact(&mut got).await.unwrap();
            s.write_all(b"ok").await.unwrap();
            got
        });
        (LocalServer::Unix(path), task)
    }

    #[tokio::test]
    async fn the_right_cookie_is_relayed_with_the_local_one_in_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let (server, seen) = local_server(dir.path()).await;
        let (expected, local) = (Cookie::random(), Cookie::from_bytes(&[5; 256]).unwrap());
        let (mut client, relayed) = tokio::io::duplex(4096);
        client
            .write_all(&auth_packet(expected.expose()))
            .await
            .unwrap();
        client.write_all(b"hello").await.unwrap();
        let run =
            tokio::spawn(async move { relay(relayed, &expected, &server, Some(&local)).await });
        let mut answer = [0u8; 2];
        client.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"ok");
        drop(client);
        run.await.unwrap().unwrap();
        let got = seen.await.unwrap();
        let cookie_at = DESCRIPTOR_LEN + 20;
        assert_eq!(&got[cookie_at..cookie_at + COOKIE_LEN], &[5; COOKIE_LEN]);
        // The version's shm/memfd flags were cleared.
        assert_eq!(
            &got[DESCRIPTOR_LEN + 11..DESCRIPTOR_LEN + 15],
            &35u32.to_be_bytes()
        );
        assert_eq!(&got[got.len() - 5..], b"hello");
    }

    #[tokio::test]
    async fn a_wrong_or_missing_cookie_reaches_nothing_local() {
        let dir = tempfile::tempdir().unwrap();
        let (server, seen) = local_server(dir.path()).await;
        let expected = Cookie::random();
        let mut wrong = *expected.expose();
        wrong[100] ^= 1;
        for first in [
            auth_packet(&wrong),
            auth_packet(&[0; COOKIE_LEN]),
            b"GET / HTTP/1.0\r\n\r\n\0\0".to_vec(),
        ] {
            let (mut client, relayed) = tokio::io::duplex(4096);
            client.write_all(&first).await.unwrap();
            let r = relay(relayed, &expected, &server, None).await;
            assert!(
                matches!(r, Err(RelayError::WrongCookie | RelayError::NotPulse(_))),
                "{r:?}"
            );
        }
        assert!(!seen.is_finished(), "the local server was connected");
        seen.abort();
    }
}
