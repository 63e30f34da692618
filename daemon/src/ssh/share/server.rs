//! The embedded SSH server one forwarded connection of `sshfs` talks to: public-key login with
//! the session's client key only, session channels only for the `sftp` subsystem, nothing
//! else (no shell, no exec, no forwarding), and the ciphers of `ssh::ciphers`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::Algorithm;
use russh::server::{
    self, Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey,
};
use russh::{Channel, ChannelId, MethodKind, MethodSet, Preferred};
use tokio::io::{AsyncRead, AsyncWrite};

use super::jail::Jail;
use super::keys::ShareKeys;
use super::sftp::SftpSession;
use crate::ssh::error::Error;

/// How long a refused login waits: short, as the one client is `sshfs` on the server, which
/// may offer the user's agent keys first.
const AUTH_REJECTION_TIME: Duration = Duration::from_millis(20);
/// Channel window: large enough that writes into a shared folder are not held up waiting for
/// window adjustments.
const WINDOW_SIZE: u32 = 8 * 1024 * 1024;

/// The server's configuration for one set of keys.
fn config(keys: &ShareKeys) -> server::Config {
    server::Config {
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: AUTH_REJECTION_TIME,
        auth_rejection_time_initial: Some(Duration::ZERO),
        max_auth_attempts: 10,
        keys: vec![keys.host().clone()],
        window_size: WINDOW_SIZE,
        preferred: Preferred {
            key: Cow::Borrowed(&[Algorithm::Ed25519]),
            cipher: crate::ssh::ciphers::preferred(),
            ..Preferred::default()
        },
        // `sshfs` keeps its connection for the life of the mount; it sends keepalives itself.
        inactivity_timeout: None,
        nodelay: true,
        ..server::Config::default()
    }
}

/// russh's callbacks for one connection.
struct ShareServer {
    keys: Arc<ShareKeys>,
    jail: Arc<Jail>,
    /// Session channels opened and not yet turned into an SFTP server.
    channels: HashMap<ChannelId, Channel<Msg>>,
}

impl server::Handler for ShareServer {
    type Error = Error;

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Error> {
        Ok(if self.keys.is_client(offer.public_key) {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Error> {
        // The user name is whatever `x2gomountdirs` passes: only the key counts.
        Ok(if self.keys.is_client(key.public_key) {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Error> {
        match (name, self.channels.remove(&channel)) {
            ("sftp", Some(ch)) => {
                session.channel_success(channel)?;
                russh_sftp::server::run(ch.into_stream(), SftpSession::new(self.jail.clone()))
                    .await;
            }
            _ => {
                tracing::debug!(subsystem = name, "refusing a subsystem of the share server");
                session.channel_failure(channel)?;
            }
        }
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Error> {
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Error> {
        session.channel_failure(channel)?;
        Ok(())
    }
}

/// Serves one forwarded connection (`stream`) until the client goes: the SSH handshake with the
/// host key of `keys`, login with its client key, then SFTP within `jail`.
pub async fn serve_sftp<S>(stream: S, keys: Arc<ShareKeys>, jail: Arc<Jail>) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = Arc::new(config(&keys));
    let handler = ShareServer {
        keys,
        jail,
        channels: HashMap::new(),
    };
    let running = server::run_stream(config, stream, handler).await?;
    let mut guard = DisconnectOnDrop(Some(running.handle()));
    let result = running.await;
    guard.0 = None;
    result
}

/// Ends the SSH session when the task serving it is dropped (the session's shares went:
/// terminate, suspend, a lost connection): russh runs the session on a task of its own, which
/// would otherwise keep the server's `sshfs`, and so its mount, alive.
struct DisconnectOnDrop(Option<server::Handle>);

impl Drop for DisconnectOnDrop {
    fn drop(&mut self) {
        if let (Some(handle), Ok(rt)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            rt.spawn(async move {
                let _ = handle
                    .disconnect(
                        russh::Disconnect::ByApplication,
                        "the share has ended".into(),
                        String::new(),
                    )
                    .await;
            });
        }
    }
}
