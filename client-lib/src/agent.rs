//! The agent: an applet's answers to the questions a connect needs from a person.
//!
//! x2god asks the registered agent (`Manager.RegisterAgent`) when `Connect` needs a password,
//! a key passphrase, a one-time code or a decision on an unknown host key that neither the
//! call's options nor the keyring provide. The applet serves `org.x2go.Control1.Agent`; this
//! module does that for it: implement [`Agent`] (or use [`FnAgent`]) and call
//! [`Client::register_agent`](crate::Client::register_agent).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::Notify;
use x2god_proto::names::{BUS_NAME, secret_kind};
use zbus::names::BusName;
use zbus::{ObjectPath, OwnedObjectPath};

use crate::profile::ProfileId;
use crate::{Error, ErrorExt, ManagerProxy};

/// The object path the agent is served at on the client's connection.
pub const AGENT_PATH: &str = "/org/x2go/Control1/agent";

/// What kind of secret x2god asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// The SSH login password of the X2Go server.
    Password,
    /// The passphrase of an encrypted private key for the X2Go server.
    Passphrase,
    /// The login password of the jump host.
    SshProxyPassword,
    /// The passphrase of a private key for the jump host.
    SshProxyPassphrase,
    /// Another keyboard-interactive question (a one-time code, a new password…); the prompt
    /// says what is asked.
    Response,
    /// A kind this version does not know, as sent.
    Other(String),
}

impl SecretKind {
    /// Reads the `kind` argument of `RequestSecret`.
    pub fn parse(s: &str) -> SecretKind {
        match s {
            secret_kind::PASSWORD => SecretKind::Password,
            secret_kind::PASSPHRASE => SecretKind::Passphrase,
            secret_kind::SSHPROXY_PASSWORD => SecretKind::SshProxyPassword,
            secret_kind::SSHPROXY_PASSPHRASE => SecretKind::SshProxyPassphrase,
            secret_kind::RESPONSE => SecretKind::Response,
            other => SecretKind::Other(other.to_owned()),
        }
    }

    /// The string used on the bus (and by [`Profile::store_secret`](crate::Profile::store_secret)).
    pub fn as_str(&self) -> &str {
        match self {
            SecretKind::Password => secret_kind::PASSWORD,
            SecretKind::Passphrase => secret_kind::PASSPHRASE,
            SecretKind::SshProxyPassword => secret_kind::SSHPROXY_PASSWORD,
            SecretKind::SshProxyPassphrase => secret_kind::SSHPROXY_PASSPHRASE,
            SecretKind::Response => secret_kind::RESPONSE,
            SecretKind::Other(s) => s,
        }
    }

    /// Whether the answer may be offered for storing in the keyring (never a `Response`).
    pub fn is_storable(&self) -> bool {
        secret_kind::STORABLE.contains(&self.as_str())
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A question for a secret (`Agent.RequestSecret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRequest {
    /// The profile that is connecting.
    pub profile: ProfileId,
    /// What is asked.
    pub kind: SecretKind,
    /// The question to show (e.g. the server's `Verification code: `).
    pub prompt: String,
}

/// A question whether to trust an unknown host key (`Agent.ConfirmHostKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyRequest {
    /// The profile that is connecting.
    pub profile: ProfileId,
    /// `host` or `[host]:port` (the jump host's name for the jump hop).
    pub host: String,
    /// Key type, e.g. `ssh-ed25519`.
    pub key_type: String,
    /// `SHA256:…` fingerprint, to compare with one obtained another way.
    pub fingerprint: String,
}

/// The person did not answer: the connect fails with [`Error::Cancelled`] carrying the
/// message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Declined {
    message: String,
}

impl Declined {
    /// Declines with a message for the caller of `Connect`.
    pub fn new(message: impl Into<String>) -> Declined {
        Declined {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str("declined")
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for Declined {}

impl From<Declined> for Error {
    fn from(d: Declined) -> Error {
        Error::Cancelled(d.to_string())
    }
}

/// An applet's answers to the questions a `Connect` needs from a person. Implement the
/// questions it can answer; the others are declined.
///
/// x2god asks the registered agent when a connect needs a password, a key passphrase, a
/// one-time code or a decision on an unknown host key that neither the call's options nor the
/// keyring provide. Register it with
/// [`Client::register_agent`](crate::Client::register_agent); [`FnAgent`] makes one from
/// closures.
///
/// ```no_run
/// # async fn demo() -> Result<(), x2god_client::Error> {
/// use x2god_client::{Agent, Client, Declined, HostKeyRequest, SecretRequest};
///
/// struct Prompt;
///
/// impl Agent for Prompt {
///     async fn request_secret(&self, req: SecretRequest) -> Result<String, Declined> {
///         // Show a dialog for req.profile.name with req.prompt; here: a fixed answer.
///         match req.kind.as_str() {
///             "password" => Ok("secret".to_owned()),
///             _ => Err(Declined::new("no answer for that")),
///         }
///     }
///
///     async fn confirm_host_key(&self, req: HostKeyRequest) -> Result<bool, Declined> {
///         Ok(req.fingerprint == "SHA256:…the one the administrator told us…")
///     }
/// }
///
/// let client = Client::session().await?;
/// let agent = client.register_agent(Prompt).await?;
/// client.profile("office").await?.connect(Default::default()).await?;
/// agent.unregister().await?;
/// # Ok(()) }
/// ```
///
/// Implement the methods as `async fn`; their futures must be `Send`. Several questions may
/// be pending at once (two profiles connecting). x2god gives a person two minutes; when it
/// stops waiting it calls `Cancel`: the pending futures are then dropped and
/// [`Agent::cancel`] is called, so the applet can take its dialogs down.
pub trait Agent: Send + Sync + 'static {
    /// Answers a question for a secret; `Err` declines.
    fn request_secret(
        &self,
        req: SecretRequest,
    ) -> impl Future<Output = Result<String, Declined>> + Send {
        let _ = req;
        std::future::ready(Err(Declined::new("this agent answers no secrets")))
    }

    /// Decides on an unknown host key: `Ok(true)` trusts (x2god records it in its own
    /// known_hosts), `Ok(false)` refuses, `Err` declines to decide.
    fn confirm_host_key(
        &self,
        req: HostKeyRequest,
    ) -> impl Future<Output = Result<bool, Declined>> + Send {
        let _ = req;
        std::future::ready(Err(Declined::new("this agent decides on no host keys")))
    }

    /// x2god no longer waits for the pending answers (their futures are dropped).
    fn cancel(&self) {}
}

type HostKeyFuture = std::future::Ready<Result<bool, Declined>>;

/// An [`Agent`] made of closures.
///
/// ```no_run
/// # async fn demo(client: x2god_client::Client) -> Result<(), x2god_client::Error> {
/// use x2god_client::{Declined, FnAgent, SecretKind};
/// let agent = FnAgent::new(|req| async move {
///     match req.kind {
///         SecretKind::Password => Ok("secret".to_owned()),
///         _ => Err(Declined::new("not here")),
///     }
/// })
/// .on_host_key(|req| async move { Ok(req.key_type == "ssh-ed25519") });
/// let _guard = client.register_agent(agent).await?;
/// # Ok(()) }
/// ```
pub struct FnAgent<S, H = fn(HostKeyRequest) -> HostKeyFuture> {
    secret: S,
    host_key: H,
}

impl<S> FnAgent<S> {
    /// An agent answering secrets with `secret` and declining host keys.
    pub fn new<SF>(secret: S) -> FnAgent<S>
    where
        S: Fn(SecretRequest) -> SF,
        SF: Future<Output = Result<String, Declined>>,
    {
        FnAgent {
            secret,
            host_key: |_| std::future::ready(Err(Declined::new("host keys are not decided here"))),
        }
    }
}

impl<S, H> FnAgent<S, H> {
    /// Decides host keys with `host_key`.
    pub fn on_host_key<H2, HF>(self, host_key: H2) -> FnAgent<S, H2>
    where
        H2: Fn(HostKeyRequest) -> HF,
        HF: Future<Output = Result<bool, Declined>>,
    {
        FnAgent {
            secret: self.secret,
            host_key,
        }
    }
}

impl<S, H> fmt::Debug for FnAgent<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnAgent")
    }
}

impl<S, SF, H, HF> Agent for FnAgent<S, H>
where
    S: Fn(SecretRequest) -> SF + Send + Sync + 'static,
    SF: Future<Output = Result<String, Declined>> + Send,
    H: Fn(HostKeyRequest) -> HF + Send + Sync + 'static,
    HF: Future<Output = Result<bool, Declined>> + Send,
{
    fn request_secret(
        &self,
        req: SecretRequest,
    ) -> impl Future<Output = Result<String, Declined>> + Send {
        (self.secret)(req)
    }

    fn confirm_host_key(
        &self,
        req: HostKeyRequest,
    ) -> impl Future<Output = Result<bool, Declined>> + Send {
        (self.host_key)(req)
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`Agent`] made object-safe, so the served object needs no type parameter.
trait DynAgent: Send + Sync {
    fn request_secret(&self, req: SecretRequest) -> BoxFuture<'_, Result<String, Declined>>;
    fn confirm_host_key(&self, req: HostKeyRequest) -> BoxFuture<'_, Result<bool, Declined>>;
    fn cancel(&self);
}

impl<A: Agent> DynAgent for A {
    fn request_secret(&self, req: SecretRequest) -> BoxFuture<'_, Result<String, Declined>> {
        Box::pin(Agent::request_secret(self, req))
    }

    fn confirm_host_key(&self, req: HostKeyRequest) -> BoxFuture<'_, Result<bool, Declined>> {
        Box::pin(Agent::confirm_host_key(self, req))
    }

    fn cancel(&self) {
        Agent::cancel(self)
    }
}

/// The served `org.x2go.Control1.Agent` object.
struct AgentObject {
    agent: Arc<dyn DynAgent>,
    cancel: Arc<Notify>,
}

/// Only the daemon may ask: anyone else on the bus could otherwise show the applet's dialog
/// with a question of their own and read the answer.
async fn check_caller(
    conn: &zbus::Connection,
    hdr: &zbus::message::Header<'_>,
) -> Result<(), Error> {
    let dbus = zbus::fdo::DBusProxy::new(conn).await?;
    let owner = dbus
        .get_name_owner(BusName::from_static_str(BUS_NAME)?)
        .await
        .map_err(zbus::Error::from)?;
    if hdr.sender().map(|s| s.as_str()) != Some(owner.as_str()) {
        return Err(Error::Failed(format!("only {BUS_NAME} may ask this agent")));
    }
    Ok(())
}

impl AgentObject {
    /// Runs `answer` until x2god calls `Cancel`.
    async fn until_cancelled<T>(
        &self,
        answer: BoxFuture<'_, Result<T, Declined>>,
    ) -> Result<T, Error> {
        // Created before the answer is awaited, so a Cancel at any point afterwards wakes it.
        let cancelled = self.cancel.notified();
        tokio::select! {
            r = answer => r.map_err(Error::from),
            _ = cancelled => Err(Error::Cancelled("x2god stopped waiting for the answer".to_owned())),
        }
    }
}

#[zbus::interface(name = "org.x2go.Control1.Agent")]
impl AgentObject {
    /// Asks for a secret of `kind` for the profile at `profile`: `password`, `passphrase`,
    /// `sshproxy_password` or `sshproxy_passphrase` (the kinds `Profile.StoreSecret` keeps), or
    /// `response` for any other keyboard-interactive question (a one-time code, a new
    /// password). `prompt` is the question to show, e.g. the server's `Verification code: `.
    /// Declining is the error `org.x2go.Control1.Error.Cancelled`, which `Connect` returns.
    async fn request_secret(
        &self,
        profile: OwnedObjectPath,
        kind: String,
        prompt: String,
        #[zbus(header)] hdr: zbus::message::Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<String, Error> {
        check_caller(conn, &hdr).await?;
        let req = SecretRequest {
            profile: ProfileId::from_path(profile),
            kind: SecretKind::parse(&kind),
            prompt,
        };
        self.until_cancelled(self.agent.request_secret(req)).await
    }

    /// Asks whether to trust the unknown host key of `host` (`host` or `[host]:port`, the jump
    /// host's name for the jump hop): its type `key_type` and SHA256 `fingerprint`. `true`
    /// stores it in x2god's known_hosts. Changed keys are never asked about.
    async fn confirm_host_key(
        &self,
        profile: OwnedObjectPath,
        host: String,
        key_type: String,
        fingerprint: String,
        #[zbus(header)] hdr: zbus::message::Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<bool, Error> {
        check_caller(conn, &hdr).await?;
        let req = HostKeyRequest {
            profile: ProfileId::from_path(profile),
            host,
            key_type,
            fingerprint,
        };
        self.until_cancelled(self.agent.confirm_host_key(req)).await
    }

    /// x2god no longer needs the answers it asked for (the connect timed out or was given up):
    /// take the dialogs down.
    async fn cancel(
        &self,
        #[zbus(header)] hdr: zbus::message::Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), Error> {
        check_caller(conn, &hdr).await?;
        self.cancel.notify_waiters();
        self.agent.cancel();
        Ok(())
    }
}

/// A live agent registration ([`Client::register_agent`](crate::Client::register_agent)).
///
/// While it lives, the agent is served and registered, and registered again whenever x2god
/// (re)appears on the bus. [`AgentGuard::unregister`] ends it and reports errors; dropping
/// it ends it in the background (it needs a Tokio runtime for that; without one the
/// registration ends when the connection closes).
#[derive(Debug)]
pub struct AgentGuard {
    conn: zbus::Connection,
    manager: ManagerProxy<'static>,
    follow: Option<tokio::task::JoinHandle<()>>,
}

fn agent_path() -> ObjectPath<'static> {
    ObjectPath::from_static_str_unchecked(AGENT_PATH)
}

impl AgentGuard {
    pub(crate) async fn register<A: Agent>(
        conn: zbus::Connection,
        manager: ManagerProxy<'static>,
        agent: A,
    ) -> Result<AgentGuard, Error> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Failed("an x2god-client agent needs a Tokio runtime".to_owned()))?;
        let object = AgentObject {
            agent: Arc::new(agent),
            cancel: Arc::new(Notify::new()),
        };
        if conn.object_server().at(AGENT_PATH, object).await?.is_some() {
            return Err(Error::AlreadyExists(format!(
                "an agent is already served at {AGENT_PATH} on this connection"
            )));
        }
        match Self::start(&conn, &manager, &runtime).await {
            Ok(follow) => Ok(AgentGuard {
                conn,
                manager,
                follow: Some(follow),
            }),
            Err(e) => {
                let _ = conn
                    .object_server()
                    .remove::<AgentObject, _>(AGENT_PATH)
                    .await;
                Err(e)
            }
        }
    }

    async fn start(
        conn: &zbus::Connection,
        manager: &ManagerProxy<'static>,
        runtime: &tokio::runtime::Handle,
    ) -> Result<tokio::task::JoinHandle<()>, Error> {
        // Watching first: a daemon that appears right after the call below is not missed.
        let dbus = zbus::fdo::DBusProxy::new(conn).await?;
        let mut owners = dbus
            .receive_name_owner_changed_with_args(&[(0, BUS_NAME)])
            .await?;
        match manager.register_agent(&agent_path()).await {
            Ok(()) => {}
            // Not running: registered when it appears.
            Err(e) if e.is_daemon_unavailable() => {}
            Err(e) => return Err(e),
        }
        let manager = manager.clone();
        Ok(runtime.spawn(async move {
            while let Some(sig) = owners.next().await {
                let Ok(args) = sig.args() else { continue };
                if args.new_owner().is_some() {
                    // Best effort: a daemon that refuses now will be asked at its next start.
                    let _ = manager.register_agent(&agent_path()).await;
                }
            }
        }))
    }

    /// The path the agent is served at.
    pub fn path(&self) -> ObjectPath<'static> {
        agent_path()
    }

    /// Ends the registration and stops serving the agent.
    pub async fn unregister(mut self) -> Result<(), Error> {
        if let Some(f) = self.follow.take() {
            f.abort();
        }
        let r = self.manager.unregister_agent(&agent_path()).await;
        let _ = self
            .conn
            .object_server()
            .remove::<AgentObject, _>(AGENT_PATH)
            .await;
        match r {
            // A daemon that went away took the registration with it.
            Err(e) if e.is_daemon_unavailable() => Ok(()),
            other => other,
        }
    }
}

impl Drop for AgentGuard {
    fn drop(&mut self) {
        let Some(follow) = self.follow.take() else {
            return;
        };
        follow.abort();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (conn, manager) = (self.conn.clone(), self.manager.clone());
        runtime.spawn(async move {
            let _ = manager.unregister_agent(&agent_path()).await;
            let _ = conn
                .object_server()
                .remove::<AgentObject, _>(AGENT_PATH)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The agent object as a peer sees it, over a peer-to-peer connection (no bus needed).
    async fn introspect_served_agent() -> String {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let object = AgentObject {
            agent: Arc::new(FnAgent::new(|_| async { Ok(String::new()) })),
            cancel: Arc::new(Notify::new()),
        };
        let server = zbus::connection::Builder::unix_stream(a)
            .server(zbus::Guid::generate())
            .p2p()
            .serve_at(AGENT_PATH, object)
            .build();
        let client = zbus::connection::Builder::unix_stream(b).p2p().build();
        let (_server, client) = tokio::try_join!(server, client).unwrap();
        let reply = client
            .call_method(
                None::<&str>,
                AGENT_PATH,
                Some("org.freedesktop.DBus.Introspectable"),
                "Introspect",
                &(),
            )
            .await
            .unwrap();
        reply.body().deserialize().unwrap()
    }

    /// The served `org.x2go.Control1.Agent` equals `proto-dbus/interfaces/`'s file, which the
    /// daemon's proxy is checked against. `X2GOD_BLESS=1` rewrites the file.
    #[tokio::test]
    async fn served_interface_matches_the_contract_xml() {
        let iface = x2god_proto::names::AGENT_INTERFACE;
        let served = introspect_served_agent().await;
        if let Err(diff) = x2god_proto::interfaces::compare_with_shipped(&served, iface) {
            panic!("{diff}");
        }
    }
}
