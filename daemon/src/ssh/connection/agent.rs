//! Agent forwarding: each agent connection the server opens is relayed to the local agent.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use russh::client::{ChannelOpenHandle, Msg};
use russh::keys::agent::AgentSessionBinding;
use russh::keys::agent::client::AgentClient;
use russh::{Channel, ChannelOpenFailure};
use tokio::net::UnixStream;
use tokio::time::timeout;

/// How long connecting to the local agent socket for a forwarded agent channel may take.
const AGENT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where forwarded agent connections go.
pub(super) struct AgentRelay {
    pub(super) socket: PathBuf,
    /// The session's key exchange, so that the local agent learns which server its
    /// forwarded connections come from (OpenSSH's `session-bind@openssh.com`), as `ssh` does.
    /// Set once the handshake is done, before any channel can exist.
    pub(super) binding: OnceLock<AgentSessionBinding>,
}

/// Carries one forwarded agent connection: a new connection to the local agent socket,
/// bytes copied both ways until either side closes. An unreachable agent refuses the channel.
pub(super) async fn relay_agent(
    relay: Arc<AgentRelay>,
    channel: Channel<Msg>,
    reply: ChannelOpenHandle,
) {
    let socket = &relay.socket;
    let sock = match timeout(AGENT_CONNECT_TIMEOUT, UnixStream::connect(socket)).await {
        Ok(Ok(sock)) => sock,
        Ok(Err(e)) => {
            tracing::debug!(socket = %socket.display(), error = %e,
                "cannot reach the local agent for a forwarded agent connection");
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return;
        }
        Err(_) => {
            tracing::debug!(socket = %socket.display(),
                "the local agent did not accept a forwarded agent connection in time");
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return;
        }
    };
    reply.accept().await;
    let mut local: Box<dyn russh::keys::agent::client::AgentStream + Send + Unpin> =
        match relay.binding.get() {
            Some(binding) => {
                let mut client = AgentClient::connect(sock);
                if let Err(e) = client.bind_session(binding, true).await {
                    // Agents other than OpenSSH's do not know the extension; they work
                    // without it.
                    tracing::debug!(error = %e, "the local agent did not take the session binding");
                }
                client.into_inner()
            }
            None => Box::new(sock),
        };
    let mut remote = channel.into_stream();
    match tokio::io::copy_bidirectional(&mut remote, &mut local).await {
        Ok((up, down)) => {
            tracing::debug!(
                to_agent = up,
                from_agent = down,
                "forwarded agent connection ended"
            );
        }
        Err(e) => tracing::debug!(error = %e, "forwarded agent connection failed"),
    }
}
