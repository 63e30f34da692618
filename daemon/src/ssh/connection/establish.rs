//! Establishing one hop: a TCP connection or a tunnel through the jump host, the handshake
//! (retried when the server drops it early, and gated per server), then authentication.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use russh::Channel;
use russh::client::{self, Msg};
use tokio::sync::Semaphore;
use tokio::time::sleep;

use crate::ssh::auth;
use crate::ssh::error::Error;
use crate::ssh::prompt::{Asker, PauseClock};
use crate::ssh::secret::Secret;

use super::handle::Connection;
use super::handshake::{Handshake, HopSpec, handshake_on};
use super::http_proxy;
use super::params::ProxyParams;
use super::tcp::tcp_connect;

/// Handshakes in flight to one server at once: below OpenSSH's default `MaxStartups` of 10.
const HANDSHAKES_PER_SERVER: usize = 8;
/// Attempts at a handshake the server reset before speaking (its `MaxStartups` drop).
const HANDSHAKE_TRIES: u32 = 4;

/// The gate that limits concurrent handshakes to `host:port`, shared by every profile.
fn handshake_gate(host: &str, port: u16) -> Arc<Semaphore> {
    type Gates = std::sync::Mutex<std::collections::HashMap<(String, u16), Arc<Semaphore>>>;
    static GATES: std::sync::LazyLock<Gates> = std::sync::LazyLock::new(Default::default);
    let mut gates = GATES.lock().unwrap_or_else(|p| p.into_inner());
    gates
        .entry((host.to_owned(), port))
        .or_insert_with(|| Arc::new(Semaphore::new(HANDSHAKES_PER_SERVER)))
        .clone()
}

/// Whether `e` is a server closing the connection before or during the key exchange, as
/// sshd does past `MaxStartups`.
fn dropped_early(e: &Error) -> bool {
    match e {
        Error::Ssh(russh::Error::Disconnect) | Error::Ssh(russh::Error::HUP) => true,
        Error::Ssh(russh::Error::IO(io)) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::BrokenPipe
        ),
        Error::Disconnected => true,
        _ => false,
    }
}

/// A `direct-tcpip` channel from the jump host to `host`:`port`, to run the server's
/// connection in.
async fn tunnel(
    jump: &Connection,
    proxy: &ProxyParams,
    host: &str,
    port: u16,
) -> Result<Channel<Msg>, Error> {
    if jump.is_closed() {
        return Err(Error::Disconnected.via_proxy(&proxy.host, proxy.port));
    }
    // Like `ssh -W`: there is no local socket, so the originator is a placeholder.
    match jump
        .inner
        .handle
        .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
        .await
    {
        Ok(channel) => Ok(channel),
        Err(russh::Error::ChannelOpenFailure(reason)) => Err(Error::Connect {
            host: host.to_owned(),
            port,
            source: std::io::Error::other(format!(
                "the jump host {} port {} could not connect there ({reason:?})",
                proxy.host, proxy.port
            )),
        }),
        Err(_) if jump.is_closed() => Err(Error::Disconnected.via_proxy(&proxy.host, proxy.port)),
        Err(e) => Err(Error::from(e).via_proxy(&proxy.host, proxy.port)),
    }
}

/// Connects one hop, directly or through `via` (the jump host's connection and its
/// parameters), and authenticates unless `login` is false.
pub(super) async fn establish(
    spec: &HopSpec<'_>,
    via: Option<(&Connection, &ProxyParams)>,
    config: &Arc<client::Config>,
    clock: &PauseClock,
    login: bool,
) -> Result<Handshake, Error> {
    // sshd drops unauthenticated connections beyond `MaxStartups` (10 by default): keep our
    // own handshakes to one server below that, and retry a connection the server reset
    // before it spoke.
    let gate = handshake_gate(spec.host, spec.port);
    let _permit = gate.acquire().await.map_err(|_| Error::Disconnected)?;
    let mut attempt = 0;
    // A proxy password a person gave, for the retries.
    let mut asked: Option<Secret> = None;
    loop {
        attempt += 1;
        let hs = match (via, spec.http_proxy) {
            (None, None) => match tcp_connect(spec.host, spec.port).await {
                Ok((stream, peer)) => handshake_on(stream, peer, spec, config, clock).await,
                Err(e) => Err(e),
            },
            (None, Some(proxy)) => {
                match http_proxy::open(proxy, spec.host, spec.port, clock, &mut asked).await {
                    Ok((stream, proxy_addr)) => {
                        let peer = tunnelled_peer(spec.host, spec.port, proxy_addr);
                        handshake_on(stream, peer, spec, config, clock).await
                    }
                    Err(e) => Err(e),
                }
            }
            (Some((jump, proxy)), _) => match tunnel(jump, proxy, spec.host, spec.port).await {
                Ok(channel) => {
                    let peer = tunnelled_peer(spec.host, spec.port, jump.inner.peer_addr);
                    handshake_on(channel.into_stream(), peer, spec, config, clock).await
                }
                Err(e) => Err(e),
            },
        };
        match hs {
            Ok(mut hs) => {
                if login {
                    let asker = Asker::new(spec.auth.prompter.as_ref(), spec.hop, clock);
                    let server = format!("{}@{}", spec.auth.username, spec.host);
                    auth::authenticate(&mut hs.handle, spec.auth, &server, asker.as_ref()).await?;
                }
                return Ok(hs);
            }
            Err(e) if attempt < HANDSHAKE_TRIES && dropped_early(&e) => {
                tracing::debug!(host = %spec.host, port = spec.port, attempt, error = %e,
                    "server dropped the connection before the handshake; retrying");
                sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The address reported for a server reached through a jump host or an HTTP proxy (at
/// `via`): its own when `host` is an IP address, else the one in between's (only it knows
/// what the name resolved to).
fn tunnelled_peer(host: &str, port: u16, via: SocketAddr) -> SocketAddr {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port),
        Err(_) => via,
    }
}
