//! The TCP connection of a first hop: to the server, the first jump host or the HTTP proxy.

use std::net::SocketAddr;

use tokio::net::TcpStream;

use crate::ssh::error::Error;

/// A TCP connection to the first reachable address of `host`.
pub(super) async fn tcp_connect(host: &str, port: u16) -> Result<(TcpStream, SocketAddr), Error> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| Error::Resolve {
            host: host.to_owned(),
            source,
        })?
        .collect();
    let mut last_err = std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "the name resolved to no address",
    );
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Commands are small request/response exchanges: do not let Nagle delay them.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
                return Ok((stream, addr));
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "TCP connect failed");
                last_err = e;
            }
        }
    }
    Err(Error::Connect {
        host: host.to_owned(),
        port,
        source: last_err,
    })
}
