//! Where and how to connect: the server, its jump host, credentials, limits.

use std::path::PathBuf;
use std::time::Duration;

use crate::ssh::auth::AuthParams;
use crate::ssh::host_keys::HostKeyPolicy;
use crate::ssh::prompt::PromptHandle;
use crate::ssh::secret::Secret;

/// Where and how to connect.
///
/// [`Default`] gives port 22, a 20 s timeout, 10 channels, no keepalive and no jump host, so
/// that callers can name only what they set (`..Default::default()`).
#[derive(Debug, Clone)]
pub struct ConnectParams {
    /// Host name or address. Through a jump host, the jump host resolves it.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Credentials.
    pub auth: AuthParams,
    /// Which host keys to accept.
    pub host_keys: HostKeyPolicy,
    /// Limit for resolving, TCP connect, SSH handshake and authentication together, the jump
    /// host's included. Time spent waiting for a person to answer a prompt does not count.
    pub timeout: Duration,
    /// Session channels open at once; OpenSSH's `MaxSessions` defaults to 10. Each running
    /// [`Connection::exec`] and each live [`LineStream`] holds one slot (a
    /// line stream for as long as it exists); further calls wait for a free slot. Port
    /// forwardings ([`Connection::forward_local`]) need none.
    ///
    /// [`Connection::exec`]: super::super::Connection::exec
    /// [`Connection::forward_local`]: super::super::Connection::forward_local
    /// [`LineStream`]: super::super::LineStream
    pub max_channels: usize,
    /// Send a keepalive after this long without traffic from the server (the jump host
    /// too).
    pub keepalive_interval: Option<Duration>,
    /// Close the connection after this many unanswered keepalives (0: never).
    pub keepalive_max: usize,
    /// Reach the server through this jump host: an authenticated connection to it carries
    /// the connection to `host`:`port` in a `direct-tcpip` channel, like `ssh -J`. Errors of
    /// that hop are [`Error::Proxy`].
    ///
    /// [`Error::Proxy`]: super::super::Error::Proxy
    pub proxy: Option<Box<ProxyParams>>,
    /// Make the first TCP connection of the connect (to the server, or to the first jump
    /// host) through this HTTP proxy's `CONNECT`. Its refusals are [`Error::HttpProxy`] and
    /// [`Error::HttpProxyAuth`].
    ///
    /// [`Error::HttpProxy`]: super::super::Error::HttpProxy
    /// [`Error::HttpProxyAuth`]: super::super::Error::HttpProxyAuth
    pub http_proxy: Option<HttpProxyParams>,
    /// Look the server's key up, and learn it, under this name instead of `host` or
    /// `[host]:port` (OpenSSH's `HostKeyAlias`). Stored in lower case; names known_hosts cannot
    /// hold as one plain entry (white space, `*?!,|#`, leading `@` or `[`) are
    /// [`Error::InvalidParams`].
    ///
    /// [`Error::InvalidParams`]: super::super::Error::InvalidParams
    pub host_key_name: Option<String>,
    /// Forward this local SSH agent socket: every command's session channel requests agent
    /// forwarding, and the server's agent connections are relayed to a new connection to this
    /// socket each.
    pub forward_agent: Option<PathBuf>,
}

impl Default for ConnectParams {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 22,
            auth: AuthParams::default(),
            host_keys: HostKeyPolicy::default(),
            timeout: Duration::from_secs(20),
            max_channels: 10,
            keepalive_interval: None,
            keepalive_max: 3,
            proxy: None,
            http_proxy: None,
            host_key_name: None,
            forward_agent: None,
        }
    }
}

/// A jump host of [`ConnectParams::proxy`]. Its key is looked up under `host` or
/// `[host]:port`, or under `host_key_name`. A chain of jump hosts (OpenSSH's
/// `ProxyJump a,b`) nests: the hop next to the server is `proxy`, and each hop names the one
/// it is reached through in `via` (here `b.via` is `a`). Errors of a hop are [`Error::Proxy`]
/// naming that hop.
///
/// [`Error::Proxy`]: super::super::Error::Proxy
#[derive(Debug, Clone, Default)]
pub struct ProxyParams {
    /// Jump host name or address.
    pub host: String,
    /// Its SSH port.
    pub port: u16,
    /// Credentials for the jump host. Questions to a person are asked with [`Hop::Proxy`].
    ///
    /// [`Hop::Proxy`]: super::super::Hop::Proxy
    pub auth: AuthParams,
    /// Which host keys of the jump host to accept.
    pub host_keys: HostKeyPolicy,
    /// Look this hop's key up, and learn it, under this name (its `HostKeyAlias`); checked
    /// like [`ConnectParams::host_key_name`].
    pub host_key_name: Option<String>,
    /// The jump host this one is reached through; `None`: it is connected to directly.
    pub via: Option<Box<ProxyParams>>,
}

/// An HTTP proxy of [`ConnectParams::http_proxy`], asked with `CONNECT host:port` for a tunnel
/// to the first hop, as x2goclient's `sshproxytype=HTTP` and `ssh -o ProxyCommand='nc -X
/// connect …'` do.
#[derive(Debug, Clone, Default)]
pub struct HttpProxyParams {
    /// Proxy host name or address.
    pub host: String,
    /// Its TCP port.
    pub port: u16,
    /// User of the proxy's basic authentication; `None`: no credentials are sent. Must not
    /// contain `:` or control characters ([`Error::InvalidParams`]).
    ///
    /// [`Error::InvalidParams`]: super::super::Error::InvalidParams
    pub user: Option<String>,
    /// Password of `user`. When the proxy asks for credentials and there is none, the
    /// prompter is asked for it (as the jump host's password, [`Hop::Proxy`]).
    ///
    /// [`Hop::Proxy`]: super::super::Hop::Proxy
    pub password: Option<Secret>,
    /// Who to ask for a missing password.
    pub prompter: Option<PromptHandle>,
}

impl ProxyParams {
    /// This hop and the hops before it, from this one outwards (the first hop connected is
    /// last).
    pub fn chain(&self) -> impl Iterator<Item = &ProxyParams> {
        std::iter::successors(Some(self), |p| p.via.as_deref())
    }
}

impl ConnectParams {
    /// The jump hosts, from the one next to the server outwards; empty without any.
    pub fn jump_hops(&self) -> impl Iterator<Item = &ProxyParams> {
        self.proxy
            .as_deref()
            .into_iter()
            .flat_map(ProxyParams::chain)
    }

    /// The host-key policies of every hop, the server's first, to adjust them all at once.
    pub fn host_key_policies_mut(&mut self) -> Vec<&mut HostKeyPolicy> {
        let mut out = vec![&mut self.host_keys];
        let mut next = self.proxy.as_deref_mut();
        while let Some(p) = next {
            out.push(&mut p.host_keys);
            next = p.via.as_deref_mut();
        }
        out
    }
}
