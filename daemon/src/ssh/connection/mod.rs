//! One persistent SSH connection, shared by many tasks, each command on its own channel,
//! optionally reached through a jump host and with the local SSH agent forwarded.
//!
//! This module connects: it puts the hops of a connect together, the jump host first, within
//! the connect's time limit ([`Connection::connect`], [`Connection::probe_host_key_for`]).
//! The pieces are in its children: `params` (what to connect to), `establish` (one hop: TCP,
//! a tunnel through an HTTP proxy (`http_proxy`) or through the jump host, retries,
//! authentication), `tcp` (the first hop's TCP connection), `handshake` (the key exchange and
//! russh's callbacks), `agent` (forwarded agent connections), `handle` (the connection and
//! its state) and `exec` (running a command on a channel).
//!
//! Connecting stays in this module rather than a child so that its log lines keep the target
//! `x2god::ssh::connection` that log filters and the integration tests look for; the children's
//! targets share that prefix.

mod agent;
mod establish;
mod exec;
mod handle;
mod handshake;
mod http_proxy;
mod params;
mod routes;
mod tcp;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use russh::Disconnect;
use russh::client;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::ssh::error::Error;
use crate::ssh::host_key_info::HostKeyInfo;
use crate::ssh::host_keys::{self, HostKeyPolicy};
use crate::ssh::prompt::{self, Hop, PauseClock};

use establish::establish;
use handshake::{Handshake, HopSpec};

pub use exec::{ExecOutput, MAX_STDERR, MAX_STDOUT};
pub(super) use exec::{command_summary, signal_text};
pub use handle::Connection;
pub(super) use handle::Inner;
pub use params::{ConnectParams, HttpProxyParams, ProxyParams};

/// A watch that turns `true` once either `a` or `b` does (or its sender is gone). The task
/// behind it ends then, or when nobody holds the returned receiver any more.
fn either_closed(
    mut a: watch::Receiver<bool>,
    mut b: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            () = async { let _ = a.wait_for(|c| *c).await; } => {}
            () = async { let _ = b.wait_for(|c| *c).await; } => {}
            () = tx.closed() => return,
        }
        tx.send_replace(true);
    });
    rx
}

fn timeout_error(what: &str, host: &str, port: u16, limit: Duration) -> Error {
    Error::Timeout(format!(
        "{what} {host} port {port} did not finish within {:.1} s",
        limit.as_secs_f64()
    ))
}

/// The spec of the server hop of `params`.
fn target_spec(params: &ConnectParams) -> Result<HopSpec<'_>, Error> {
    let name = match &params.host_key_name {
        Some(alias) => host_keys::alias_name(alias)?,
        None => host_keys::lookup_name(&params.host, params.port),
    };
    let mut principals = vec![params.host.to_ascii_lowercase()];
    if params.host_key_name.is_some() {
        principals.push(name.clone());
    }
    Ok(HopSpec {
        host: &params.host,
        port: params.port,
        name,
        principals,
        auth: &params.auth,
        policy: &params.host_keys,
        hop: Hop::Target,
        forward_agent: params.forward_agent.as_deref(),
        // With jump hosts, the first of them is the one reached through the HTTP proxy.
        http_proxy: params
            .http_proxy
            .as_ref()
            .filter(|_| params.proxy.is_none()),
    })
}

/// The client configuration of every hop of a connect. `handshake_on` copies it per hop with
/// the host key algorithms of that host: keep the two in step.
fn client_config(params: &ConnectParams) -> Arc<client::Config> {
    Arc::new(client::Config {
        keepalive_interval: params.keepalive_interval,
        keepalive_max: params.keepalive_max,
        nodelay: true,
        preferred: russh::Preferred {
            cipher: crate::ssh::ciphers::preferred(),
            ..russh::Preferred::default()
        },
        ..Default::default()
    })
}

impl Connection {
    /// Connects, verifies the host key under `params.host_keys` (learning it when the policy
    /// says so, or when its prompter's person says so) and authenticates; through
    /// `params.proxy` when set, the jump host first. All of it must finish within
    /// `params.timeout`, not counting the time a person takes to answer.
    ///
    /// Errors of the jump host hop are [`Error::Proxy`]; [`Error::innermost`] tells their
    /// kind.
    pub async fn connect(params: ConnectParams) -> Result<Connection, Error> {
        let spec = target_spec(&params)?;
        tracing::info!(host = %params.host, port = params.port, user = %params.auth.username,
            jump_host = params.proxy.as_ref().map(|p| p.host.as_str()),
            http_proxy = params.http_proxy.as_ref().map(|p| p.host.as_str()), "connecting");
        let config = client_config(&params);
        let clock = PauseClock::new();
        let deadline = Instant::now() + params.timeout;
        let jump = Self::jump_for(&params, &config, &clock, deadline).await?;
        let via = jump.as_ref().zip(params.proxy.as_deref());
        let work = establish(&spec, via, &config, &clock, true);
        let hs = match clock.run(deadline, work).await {
            Ok(result) => result,
            Err(prompt::Elapsed) => Err(timeout_error(
                "connecting and logging in to",
                &params.host,
                params.port,
                params.timeout,
            )),
        };
        let hs = match hs {
            Ok(hs) => hs,
            Err(e) => {
                if let Some(jump) = &jump {
                    jump.disconnect().await;
                }
                return Err(e);
            }
        };
        tracing::info!(host = %params.host, port = params.port, user = %params.auth.username,
            peer = %hs.peer_addr, key_type = %hs.host_key.key_type,
            fingerprint = %hs.host_key.fingerprint, "SSH connection established");
        Ok(Self::assemble(
            hs,
            params.auth.username,
            params.max_channels,
            jump,
            params.forward_agent.is_some(),
        ))
    }

    /// The jump host of `params` connected and authenticated, if it has one.
    async fn jump_for(
        params: &ConnectParams,
        config: &Arc<client::Config>,
        clock: &PauseClock,
        deadline: Instant,
    ) -> Result<Option<Connection>, Error> {
        match params.proxy.as_deref() {
            Some(proxy) => Ok(Some(
                Self::connect_jump(
                    proxy,
                    params.http_proxy.as_ref(),
                    config,
                    clock,
                    deadline,
                    params.timeout,
                )
                .await?,
            )),
            None => Ok(None),
        }
    }

    /// Connects and authenticates the jump host, through the hops before it first (the first
    /// of them through `http`, if set); every error is [`Error::Proxy`] naming the hop it
    /// happened on.
    fn connect_jump<'a>(
        proxy: &'a ProxyParams,
        http: Option<&'a HttpProxyParams>,
        config: &'a Arc<client::Config>,
        clock: &'a PauseClock,
        deadline: Instant,
        limit: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<Connection, Error>> + Send + 'a>> {
        Box::pin(async move {
            let before = match proxy.via.as_deref() {
                Some(via) => {
                    Some(Self::connect_jump(via, http, config, clock, deadline, limit).await?)
                }
                None => None,
            };
            let name = match &proxy.host_key_name {
                Some(alias) => host_keys::alias_name(alias)
                    .map_err(|e| e.via_proxy(&proxy.host, proxy.port))?,
                None => host_keys::lookup_name(&proxy.host, proxy.port),
            };
            let mut principals = vec![proxy.host.to_ascii_lowercase()];
            if proxy.host_key_name.is_some() {
                principals.push(name.clone());
            }
            let spec = HopSpec {
                host: &proxy.host,
                port: proxy.port,
                name,
                principals,
                auth: &proxy.auth,
                policy: &proxy.host_keys,
                hop: Hop::Proxy,
                forward_agent: None,
                http_proxy: http.filter(|_| proxy.via.is_none()),
            };
            let via = before.as_ref().zip(proxy.via.as_deref());
            let work = establish(&spec, via, config, clock, true);
            let hs = match clock.run(deadline, work).await {
                Ok(result) => result,
                Err(prompt::Elapsed) => Err(timeout_error(
                    "connecting and logging in to",
                    &proxy.host,
                    proxy.port,
                    limit,
                )),
            }
            .map_err(|e| e.via_proxy(&proxy.host, proxy.port));
            let hs = match hs {
                Ok(hs) => hs,
                Err(e) => {
                    if let Some(before) = &before {
                        before.disconnect().await;
                    }
                    return Err(e);
                }
            };
            tracing::info!(host = %proxy.host, port = proxy.port, user = %proxy.auth.username,
                peer = %hs.peer_addr, "connected to the jump host");
            // The jump connection runs no commands: one slot is plenty.
            Ok(Self::assemble(
                hs,
                proxy.auth.username.clone(),
                1,
                before,
                false,
            ))
        })
    }

    /// The connection from its authenticated session. With a jump host, this one counts as
    /// closed as soon as the jump host's connection is.
    fn assemble(
        hs: Handshake,
        username: String,
        max_channels: usize,
        jump: Option<Connection>,
        forward_agent: bool,
    ) -> Connection {
        let closed = match &jump {
            None => hs.closed,
            Some(jump) => either_closed(hs.closed, jump.inner.closed.clone()),
        };
        Connection {
            inner: Arc::new(Inner {
                handle: hs.handle,
                slots: Arc::new(Semaphore::new(max_channels.max(1))),
                username,
                peer_addr: hs.peer_addr,
                host_key: hs.host_key,
                closed,
                jump,
                forward_agent,
                routes: hs.routes,
            }),
        }
    }

    /// Performs the handshake only (no authentication) and returns the server's key when the
    /// policy accepts it, learning it if the policy says so. Otherwise the error says why:
    /// [`Error::HostKeyUnknown`] (with the key, for a person to confirm),
    /// [`Error::HostKeyChanged`], [`Error::FingerprintMismatch`], or a connection error.
    ///
    /// Connects directly and looks the key up under `host` or `[host]:port`; for a jump host
    /// or a host key name use [`probe_host_key_for`](Self::probe_host_key_for).
    pub async fn probe_host_key(
        host: &str,
        port: u16,
        policy: &HostKeyPolicy,
        timeout: Duration,
    ) -> Result<HostKeyInfo, Error> {
        let params = ConnectParams {
            host: host.to_owned(),
            port,
            host_keys: policy.clone(),
            timeout,
            ..Default::default()
        };
        Self::probe_host_key_for(&params).await
    }

    /// Like [`probe_host_key`](Self::probe_host_key) for the server of `params`: under
    /// `params.host_key_name` if set, and through `params.proxy` if set (the jump host is
    /// connected and authenticated first, with its own host key check; its errors are
    /// [`Error::Proxy`]). `params.auth` is not used.
    pub async fn probe_host_key_for(params: &ConnectParams) -> Result<HostKeyInfo, Error> {
        let spec = target_spec(params)?;
        let config = client_config(params);
        let clock = PauseClock::new();
        let deadline = Instant::now() + params.timeout;
        let jump = Self::jump_for(params, &config, &clock, deadline).await?;
        let via = jump.as_ref().zip(params.proxy.as_deref());
        let work = async {
            let hs = establish(&spec, via, &config, &clock, false).await?;
            // Polite goodbye; the answer does not matter.
            let _ = hs
                .handle
                .disconnect(Disconnect::ByApplication, "host key check", "en")
                .await;
            Ok::<_, Error>(hs.host_key)
        };
        let result = match clock.run(deadline, work).await {
            Ok(result) => result,
            Err(prompt::Elapsed) => Err(timeout_error(
                "checking the host key of",
                &params.host,
                params.port,
                params.timeout,
            )),
        };
        if let Some(jump) = &jump {
            jump.disconnect().await;
        }
        result
    }
}
