//! The key exchange of one hop: russh's callbacks (host key verification, forwarded agent
//! channels, the end of the session) and the handshake on a stream.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use russh::client::{self, ChannelOpenHandle, DisconnectReason, Handle, Msg, Session};
use russh::keys::PublicKeyOrCertificate;
use russh::{Channel, ChannelOpenFailure};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::ssh::auth::AuthParams;
use crate::ssh::error::Error;
use crate::ssh::host_key_info::HostKeyInfo;
use crate::ssh::host_keys::HostKeyPolicy;
use crate::ssh::prompt::{self, Asker, Hop, PauseClock};

use super::params::HttpProxyParams;
use super::routes::ForwardRoutes;

use super::agent::{AgentRelay, relay_agent};

/// russh's callbacks: host key verification, forwarded agent connections and the end of the
/// session.
pub(in crate::ssh) struct ClientHandler {
    policy: HostKeyPolicy,
    /// The known_hosts lookup name.
    name: String,
    /// The names a host certificate may be issued for: the host name, and the alias if any.
    principals: Vec<String>,
    /// Who to ask about an unknown key.
    asker: Option<Asker>,
    /// The key the server offered, for the caller, whatever the verdict.
    offered: Arc<OnceLock<HostKeyInfo>>,
    closed: watch::Sender<bool>,
    /// `None`: agent forwarding is off and the server's agent channels are refused.
    agent: Option<Arc<AgentRelay>>,
    /// Where the channels of our reverse forwards go, by the port the server listens on.
    routes: ForwardRoutes,
}

impl ClientHandler {
    /// The verdict on an unknown key when a person can be asked.
    async fn confirm_unknown(
        &self,
        asker: &Asker,
        key: &russh::keys::PublicKey,
        unknown: Error,
    ) -> Result<bool, Error> {
        let info = HostKeyInfo::from_key(key);
        match asker
            .confirm_host_key(self.name.clone(), info.clone())
            .await
        {
            Ok(true) => {
                // Learn it the way `add_unknown` does (and look again: another connect may
                // have learned a key meanwhile).
                let learn = HostKeyPolicy {
                    add_unknown: true,
                    prompter: None,
                    ..self.policy.clone()
                };
                learn.verify(&self.name, key)?;
                tracing::info!(host = %self.name, key_type = %info.key_type,
                    fingerprint = %info.fingerprint, "host key trusted by a person");
                Ok(true)
            }
            Ok(false) => {
                tracing::warn!(host = %self.name, key_type = %info.key_type,
                    fingerprint = %info.fingerprint, "trusting the host key was refused");
                Err(Error::HostKeyUnknown {
                    host: self.name.clone(),
                    key: info,
                    refused: true,
                })
            }
            Err(e) => {
                let what = format!("the confirmation of the host key of {}", self.name);
                Err(prompt::abort_error(&e, &what).unwrap_or(unknown))
            }
        }
    }
}

impl client::Handler for ClientHandler {
    type Error = Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Error> {
        let presented = key;
        let key = presented.public_key();
        let info = HostKeyInfo::from_key(&key);
        let _ = self.offered.set(info.clone());
        let verdict = match self
            .policy
            .verify_presented(&self.name, &self.principals, presented)
        {
            Err(e @ Error::HostKeyUnknown { .. }) => match &self.asker {
                Some(asker) => self.confirm_unknown(asker, &key, e).await,
                None => Err(e),
            },
            Err(e) => Err(e),
            Ok(how) => {
                tracing::debug!(host = %self.name, key_type = %info.key_type,
                    fingerprint = %info.fingerprint, ?how, "host key accepted");
                Ok(true)
            }
        };
        if let Err(e) = &verdict {
            tracing::warn!(host = %self.name, key_type = %info.key_type,
                fingerprint = %info.fingerprint, error = %e, "host key refused");
        }
        verdict
    }

    async fn server_channel_open_agent_forward(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Error> {
        match &self.agent {
            Some(relay) => {
                // Off the session task: connecting must not hold up the connection.
                tokio::spawn(relay_agent(Arc::clone(relay), channel, reply));
            }
            None => {
                tracing::debug!(host = %self.name, "refusing an agent channel: agent forwarding is off");
                reply
                    .reject(ChannelOpenFailure::AdministrativelyProhibited)
                    .await;
            }
        }
        Ok(())
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: Channel<Msg>,
        _connected_address: &str,
        connected_port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Error> {
        // Only ports we asked for: a server cannot open channels to anything else here.
        match self.routes.deliver(connected_port, channel) {
            Ok(()) => reply.accept().await,
            Err(_) => {
                tracing::debug!(host = %self.name, port = connected_port,
                    "refusing a forwarded channel for a port not forwarded");
                reply
                    .reject(ChannelOpenFailure::AdministrativelyProhibited)
                    .await;
            }
        }
        Ok(())
    }

    async fn disconnected(&mut self, reason: DisconnectReason<Error>) -> Result<(), Error> {
        self.closed.send_replace(true);
        match reason {
            DisconnectReason::ReceivedDisconnect(info) => {
                tracing::info!(host = %self.name, reason = ?info.reason_code,
                    message = %info.message, "server closed the SSH connection");
                Ok(())
            }
            DisconnectReason::Error(e) => {
                tracing::info!(host = %self.name, error = %e, "SSH connection lost");
                Err(e)
            }
        }
    }
}

/// The parts of a fresh session.
pub(super) struct Handshake {
    pub(super) handle: Handle<ClientHandler>,
    pub(super) peer_addr: SocketAddr,
    pub(super) host_key: HostKeyInfo,
    pub(super) closed: watch::Receiver<bool>,
    pub(super) routes: ForwardRoutes,
}

/// One hop of a connect: the jump host or the server.
pub(super) struct HopSpec<'a> {
    pub(super) host: &'a str,
    pub(super) port: u16,
    /// The known_hosts lookup name.
    pub(super) name: String,
    /// The names a host certificate may be issued for.
    pub(super) principals: Vec<String>,
    pub(super) auth: &'a AuthParams,
    pub(super) policy: &'a HostKeyPolicy,
    pub(super) hop: Hop,
    pub(super) forward_agent: Option<&'a Path>,
    /// The HTTP proxy to reach this hop through; used only for a hop connected over TCP (the
    /// first one).
    pub(super) http_proxy: Option<&'a HttpProxyParams>,
}

/// The key exchange on `stream`, with the host key checked (and a person asked, if the
/// policy has a prompter and the key is unknown).
pub(super) async fn handshake_on<S>(
    stream: S,
    peer_addr: SocketAddr,
    spec: &HopSpec<'_>,
    config: &Arc<client::Config>,
    clock: &PauseClock,
) -> Result<Handshake, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let offered = Arc::new(OnceLock::new());
    let (closed_tx, closed) = watch::channel(false);
    let routes = ForwardRoutes::default();
    let agent = spec.forward_agent.map(|socket| {
        Arc::new(AgentRelay {
            socket: socket.to_owned(),
            binding: OnceLock::new(),
        })
    });
    let handler = ClientHandler {
        policy: spec.policy.clone(),
        name: spec.name.clone(),
        principals: spec.principals.clone(),
        asker: Asker::new(spec.policy.prompter.as_ref(), spec.hop, clock),
        offered: Arc::clone(&offered),
        closed: closed_tx,
        agent: agent.clone(),
        routes: routes.clone(),
    };
    // Offer first the host key types known for this host (and certificates when a CA is
    // trusted for it), so a host known by one type is not asked for another.
    // (`client::Config` is not `Clone`: copy what `client_config` sets.)
    let config = Arc::new(client::Config {
        keepalive_interval: config.keepalive_interval,
        keepalive_max: config.keepalive_max,
        nodelay: config.nodelay,
        preferred: russh::Preferred {
            cipher: config.preferred.cipher.clone(),
            ..spec.policy.preferred(&spec.name)
        },
        ..Default::default()
    });
    let handle = client::connect_stream(config, stream, handler).await?;
    if let (Some(agent), Some(binding)) = (agent, handle.agent_session_binding()) {
        let _ = agent.binding.set(binding.clone());
    }
    let host_key = offered
        .get()
        .cloned()
        .ok_or_else(|| Error::Channel("the server presented no host key".into()))?;
    Ok(Handshake {
        handle,
        peer_addr,
        host_key,
        closed,
        routes,
    })
}
