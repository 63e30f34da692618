//! Errors of the SSH layer. Messages are written for the person who has to act on them, and
//! never contain a password or passphrase.

use std::path::PathBuf;

use super::host_key_info::HostKeyInfo;

/// Everything that can go wrong while connecting, verifying, authenticating or running a
/// command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host name did not resolve to any address.
    #[error("cannot resolve host name {host:?}: {source}")]
    Resolve {
        /// The host name as configured.
        host: String,
        /// Why resolution failed.
        #[source]
        source: std::io::Error,
    },

    /// No TCP connection could be made to any address of the host.
    #[error("cannot connect to {host} port {port}: {source}")]
    Connect {
        /// The host name as configured.
        host: String,
        /// The TCP port.
        port: u16,
        /// The error of the last address tried.
        #[source]
        source: std::io::Error,
    },

    /// An operation took longer than allowed. The text says what timed out and after how long.
    #[error("timed out: {0}")]
    Timeout(String),

    /// The server's host key is in no known_hosts file and the policy does not accept it.
    #[error("{}", unknown_message(host, key, *refused))]
    HostKeyUnknown {
        /// The known_hosts lookup name: `host`, or `[host]:port` for ports other than 22, or
        /// the configured alias ([`ConnectParams::host_key_name`](super::ConnectParams)).
        host: String,
        /// The key the server offered.
        key: HostKeyInfo,
        /// A person was asked ([`Prompter::confirm_host_key`](super::Prompter)) and declined.
        refused: bool,
    },

    /// The server offered a different key than the one recorded for it. This is always
    /// refused: it is either a man-in-the-middle attack or a reinstalled server.
    #[error(
        "the host key of {host} has CHANGED: the server offered {key}, but {file}:{line} records \
         a different {key_type} key for it. Someone may be intercepting the connection (man in \
         the middle), or the server was reinstalled. Verify the new fingerprint with the \
         server's administrator before removing line {line} from {file}",
        file = file.display(),
        key_type = key.key_type
    )]
    HostKeyChanged {
        /// The known_hosts lookup name.
        host: String,
        /// The key the server offered.
        key: HostKeyInfo,
        /// The known_hosts file holding the old key.
        file: PathBuf,
        /// The 1-based line of the old key in `file`.
        line: usize,
    },

    /// The server's key is listed as revoked (`@revoked`) in a known_hosts file.
    #[error(
        "the host key of {host} ({key}) is marked @revoked at {file}:{line}; refusing to connect",
        file = file.display()
    )]
    HostKeyRevoked {
        /// The known_hosts lookup name.
        host: String,
        /// The key the server offered.
        key: HostKeyInfo,
        /// The known_hosts file with the `@revoked` line.
        file: PathBuf,
        /// The 1-based line number.
        line: usize,
    },

    /// The known_hosts files know the host only by keys of other types than the one offered
    /// (e.g. it is known by its RSA key and now offers only ed25519). Like a changed key this
    /// is refused and never learned: the known key types are offered first, so a real server
    /// that still has its known key would have used it.
    #[error(
        "the host key of {host} is not the known one: the server offered {key}, but only {types} \
         key(s) are known for it ({file}:{line}). Someone may be intercepting the connection \
         (man in the middle), or the server's keys were replaced. Verify the new fingerprint \
         with the server's administrator before removing the old entries",
        types = known.types.join(", "),
        file = known.file.display(),
        line = known.line
    )]
    HostKeyOtherType {
        /// The known_hosts lookup name.
        host: String,
        /// The key the server offered.
        key: HostKeyInfo,
        /// What is known instead (boxed: it would make every `Error` larger).
        known: Box<KnownTypes>,
    },

    /// The server presented a host certificate that a `@cert-authority` line would cover, but
    /// it fails a check (CA, principal, validity, type), and its plain key is not known.
    #[error("the host certificate of {host} ({key}) {reason}; refusing to connect")]
    HostCertInvalid {
        /// The known_hosts lookup name.
        host: String,
        /// The certified key.
        key: HostKeyInfo,
        /// What is wrong, completing "the host certificate …".
        reason: String,
    },

    /// The caller trusted a fingerprint, but the server offered a key with another one.
    #[error(
        "the server offered {offered}, which does not match the trusted fingerprint {expected}; \
         not connecting"
    )]
    FingerprintMismatch {
        /// The fingerprint the caller trusted.
        expected: String,
        /// The key the server offered.
        offered: HostKeyInfo,
    },

    /// The server accepted none of the credentials.
    #[error("authentication as {username:?} failed; tried: {detail}")]
    AuthFailed {
        /// The remote user name.
        username: String,
        /// The methods tried and why each failed, e.g. `publickey (id_ed25519), password`.
        detail: String,
    },

    /// A key file could not be read or is in an unsupported format (and nothing else could be
    /// tried).
    #[error("cannot use key file {}: {reason}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The SSH agent could not be used (and nothing else could be tried).
    #[error("SSH agent: {0}")]
    Agent(String),

    /// The connection has ended; reconnect.
    #[error("the SSH connection is closed")]
    Disconnected,

    /// A channel could not be opened or the server refused the request on it.
    #[error("SSH channel: {0}")]
    Channel(String),

    /// No local TCP port could be opened for a port forwarding.
    #[error("cannot listen on 127.0.0.1 for port forwarding: {0}")]
    Listen(#[source] std::io::Error),

    /// A person declined to answer a question the connect needed (password, passphrase,
    /// one-time code or host key confirmation); the connect was given up.
    #[error("cancelled: {0}")]
    Cancelled(String),

    /// The connection parameters cannot work (e.g. a host key name that known_hosts cannot
    /// hold).
    #[error("invalid connection parameters: {0}")]
    InvalidParams(String),

    /// Something failed on the jump host hop; `source` says what. Use
    /// [`Error::innermost`] to learn the kind (e.g. [`Error::HostKeyUnknown`] of the jump
    /// host).
    #[error("jump host {host} port {port}: {source}")]
    Proxy {
        /// The jump host as configured.
        host: String,
        /// Its SSH port.
        port: u16,
        /// What went wrong there.
        #[source]
        source: Box<Error>,
    },

    /// The HTTP proxy wants credentials and none were given, or refused the ones given (it
    /// answered 407, or 401 as tinyproxy does for a wrong password).
    #[error("HTTP proxy {host} port {port} {reason}")]
    HttpProxyAuth {
        /// The proxy as configured.
        host: String,
        /// Its port.
        port: u16,
        /// What it refused, with its status line; never the password.
        reason: String,
    },

    /// The HTTP proxy could not be reached, or did not open the tunnel (`CONNECT` refused,
    /// another status, a malformed or overlong answer).
    #[error("HTTP proxy {host} port {port}: {reason}")]
    HttpProxy {
        /// The proxy as configured.
        host: String,
        /// Its port.
        port: u16,
        /// What went wrong, with the proxy's status line when it answered.
        reason: String,
    },

    /// A command sent more output than x2god accepts: a hostile or broken server must not
    /// make the daemon buffer without bound. The command was ended.
    #[error("the server sent more than {limit} bytes of {what} for {command:?}; refused")]
    OutputTooLarge {
        /// The start of the command line.
        command: String,
        /// `standard output`, `standard error` or `one output line`.
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },

    /// An SSH protocol error reported by russh.
    #[error("SSH protocol error: {0}")]
    Ssh(#[from] russh::Error),

    /// Reading or writing a known_hosts file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The keys known for a host when the server offered another type
/// ([`Error::HostKeyOtherType`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTypes {
    /// The types of the keys known for the host, e.g. `ssh-rsa`.
    pub types: Vec<String>,
    /// The known_hosts file of the first such key.
    pub file: PathBuf,
    /// Its 1-based line.
    pub line: usize,
}

impl Error {
    /// The error itself, or for [`Error::Proxy`] the error of the jump host hop it wraps: the
    /// kind to act on (e.g. map to a D-Bus error). Whether it happened on the jump host is
    /// [`Error::is_proxy`].
    pub fn innermost(&self) -> &Error {
        let mut e = self;
        while let Error::Proxy { source, .. } = e {
            e = source;
        }
        e
    }

    /// Whether the error happened on the jump host hop rather than at the server itself.
    pub fn is_proxy(&self) -> bool {
        matches!(self, Error::Proxy { .. })
    }

    /// Wraps `self` as an error of the jump host `host`:`port`; an error that is already one
    /// stays as it is.
    pub(crate) fn via_proxy(self, host: &str, port: u16) -> Error {
        match self {
            e @ Error::Proxy { .. } => e,
            e => Error::Proxy {
                host: host.to_owned(),
                port,
                source: Box::new(e),
            },
        }
    }
}

fn unknown_message(host: &str, key: &HostKeyInfo, refused: bool) -> String {
    if refused {
        format!(
            "the host key of {host} is not known and trusting it was refused: the server \
             offered {key}"
        )
    } else {
        format!(
            "the host key of {host} is not known: the server offered {key}; check this \
             fingerprint with the server's administrator, then accept it by trusting exactly \
             this fingerprint (or allow adding unknown host keys)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(refused: bool) -> Error {
        Error::HostKeyUnknown {
            host: "[jump]:2222".into(),
            key: HostKeyInfo {
                key_type: "ssh-ed25519".into(),
                fingerprint: "SHA256:abc".into(),
            },
            refused,
        }
    }

    #[test]
    fn proxy_errors_name_the_jump_host_and_unwrap() {
        let e = unknown(false).via_proxy("jump", 2222);
        assert_eq!(
            e.to_string(),
            format!("jump host jump port 2222: {}", unknown(false))
        );
        assert!(e.is_proxy());
        assert!(matches!(e.innermost(), Error::HostKeyUnknown { .. }));
        // Wrapping twice does not nest.
        let e = e.via_proxy("other", 22);
        assert!(matches!(&e, Error::Proxy { host, .. } if host == "jump"));
        assert!(!Error::Disconnected.is_proxy());
        assert!(matches!(
            Error::Disconnected.innermost(),
            Error::Disconnected
        ));
    }

    #[test]
    fn refused_host_key_says_so() {
        let msg = unknown(true).to_string();
        assert!(
            msg.contains("refused") && msg.contains("SHA256:abc"),
            "{msg}"
        );
        assert!(!unknown(false).to_string().contains("refused"));
    }
}
