//! Where the user's sound server is, and its cookie.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

use super::cookie::Cookie;
use super::native::COOKIE_LEN;

/// PulseAudio's TCP port, when `PULSE_SERVER` names a host without one.
const DEFAULT_TCP_PORT: u16 = 4713;

/// The user's sound server, as a pulse client of this desktop would reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalServer {
    /// The native protocol on a unix socket (PulseAudio, PipeWire's pulse server).
    Unix(PathBuf),
    /// The native protocol over TCP (`module-native-protocol-tcp`).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
}

/// Why no local sound server can be named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoServer {
    /// Neither `PULSE_SERVER` nor `XDG_RUNTIME_DIR` is set.
    #[error("no local sound server: neither PULSE_SERVER nor XDG_RUNTIME_DIR is set")]
    Unset,
    /// `PULSE_SERVER` is in a form this relay cannot reach.
    #[error("PULSE_SERVER {0:?} names no unix socket or TCP address")]
    Unusable(String),
}

/// A connection to the local sound server.
pub trait Duplex: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Duplex for T {}

impl LocalServer {
    /// TCP on this machine's `port` when the profile names one (`snd_port`, python-x2go's
    /// way), else what libpulse would use: the first entry of `PULSE_SERVER`, else
    /// `$XDG_RUNTIME_DIR/pulse/native`. `env` reads the environment.
    pub fn find(
        tcp_port: Option<u16>,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<LocalServer, NoServer> {
        if let Some(port) = tcp_port {
            return Ok(LocalServer::Tcp {
                host: "127.0.0.1".into(),
                port,
            });
        }
        if let Some(s) = env("PULSE_SERVER").filter(|s| !s.is_empty()) {
            let s = s.to_string_lossy().into_owned();
            return parse_pulse_server(&s).ok_or(NoServer::Unusable(s));
        }
        env("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_absolute())
            .map(|d| LocalServer::Unix(d.join("pulse").join("native")))
            .ok_or(NoServer::Unset)
    }

    /// Connects, within `timeout`.
    pub async fn connect(&self, timeout: Duration) -> io::Result<Pin<Box<dyn Duplex>>> {
        let connect = async {
            Ok::<Pin<Box<dyn Duplex>>, io::Error>(match self {
                LocalServer::Unix(path) => Box::pin(UnixStream::connect(path).await?),
                LocalServer::Tcp { host, port } => {
                    let s = TcpStream::connect((host.as_str(), *port)).await?;
                    // Sound is many small packets: no Nagle delay.
                    s.set_nodelay(true)?;
                    Box::pin(s)
                }
            })
        };
        tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting timed out"))?
    }
}

impl std::fmt::Display for LocalServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalServer::Unix(p) => write!(f, "unix:{}", p.display()),
            LocalServer::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp:[{host}]:{port}")
            }
            LocalServer::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
        }
    }
}

/// The first server of a `PULSE_SERVER` list: `unix:/path`, `/path`, `tcp:host[:port]`,
/// `tcp4:`/`tcp6:`, or `host[:port]`, each optionally after a `{machine-id}`.
fn parse_pulse_server(value: &str) -> Option<LocalServer> {
    let first = value.split_whitespace().next()?;
    let entry = match first.strip_prefix('{') {
        Some(rest) => rest.split_once('}')?.1,
        None => first,
    };
    if let Some(path) = entry.strip_prefix("unix:") {
        let path = Path::new(path);
        return path.is_absolute().then(|| LocalServer::Unix(path.into()));
    }
    if entry.starts_with('/') {
        return Some(LocalServer::Unix(entry.into()));
    }
    let addr = ["tcp:", "tcp4:", "tcp6:"]
        .iter()
        .find_map(|p| entry.strip_prefix(p))
        .unwrap_or(entry);
    let (host, port) = match addr.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']')?;
            match after.strip_prefix(':') {
                Some(p) => (host, p.parse().ok()?),
                None if after.is_empty() => (host, DEFAULT_TCP_PORT),
                None => return None,
            }
        }
        None => match addr.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, p.parse().ok()?),
            _ => (addr, DEFAULT_TCP_PORT),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    (host_ok && port != 0).then(|| LocalServer::Tcp {
        host: host.to_owned(),
        port,
    })
}

/// The local sound server's cookie, where libpulse looks for it: `PULSE_COOKIE`, else
/// `$XDG_CONFIG_HOME/pulse/cookie` (`~/.config`), else `~/.pulse-cookie`. `None` when there is
/// none (PipeWire needs none; PulseAudio then goes by the relay's credentials).
pub async fn local_cookie(env: impl Fn(&str) -> Option<OsString>) -> Option<Cookie> {
    let home = env("HOME").map(PathBuf::from);
    let config = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    let candidates = [
        env("PULSE_COOKIE").map(PathBuf::from),
        config.map(|c| c.join("pulse").join("cookie")),
        home.map(|h| h.join(".pulse-cookie")),
    ];
    for path in candidates.into_iter().flatten() {
        if let Some(c) = read_cookie(&path).await {
            return Some(c);
        }
    }
    None
}

/// A regular file of exactly 256 bytes (never a FIFO or a device: nothing here may block).
async fn read_cookie(path: &Path) -> Option<Cookie> {
    let meta = tokio::fs::metadata(path).await.ok()?;
    if !meta.is_file() || meta.len() != COOKIE_LEN as u64 {
        return None;
    }
    let mut bytes = tokio::fs::read(path).await.ok()?;
    let cookie = Cookie::from_bytes(&bytes);
    super::native::wipe(&mut bytes);
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_server_is_found_as_libpulse_finds_it() {
        let tcp = |host: &str, port| LocalServer::Tcp {
            host: host.into(),
            port,
        };
        assert_eq!(
            LocalServer::find(Some(4713), env(&[("PULSE_SERVER", "/x")])),
            Ok(tcp("127.0.0.1", 4713))
        );
        assert_eq!(
            LocalServer::find(None, env(&[("XDG_RUNTIME_DIR", "/run/user/1000")])),
            Ok(LocalServer::Unix("/run/user/1000/pulse/native".into()))
        );
        assert_eq!(LocalServer::find(None, env(&[])), Err(NoServer::Unset));
        assert_eq!(
            LocalServer::find(None, env(&[("XDG_RUNTIME_DIR", "relative")])),
            Err(NoServer::Unset)
        );
        for (value, want) in [
            (
                "unix:/tmp/p/native",
                LocalServer::Unix("/tmp/p/native".into()),
            ),
            (
                "/tmp/p/native other",
                LocalServer::Unix("/tmp/p/native".into()),
            ),
            ("{abc}unix:/s", LocalServer::Unix("/s".into())),
            ("tcp:localhost:4714", tcp("localhost", 4714)),
            ("tcp6:[::1]:4715", tcp("::1", 4715)),
            ("[::1]", tcp("::1", 4713)),
            ("myhost", tcp("myhost", 4713)),
        ] {
            assert_eq!(
                LocalServer::find(None, env(&[("PULSE_SERVER", value)])),
                Ok(want),
                "{value}"
            );
        }
        for bad in ["unix:relative", "tcp:h:0", "tcp:h:x", "{x", "h;rm:1"] {
            assert!(
                LocalServer::find(None, env(&[("PULSE_SERVER", bad)])).is_err(),
                "{bad}"
            );
        }
        assert_eq!(tcp("::1", 5).to_string(), "tcp:[::1]:5");
    }

    #[tokio::test]
    async fn the_cookie_is_read_only_from_a_256_byte_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("cookie");
        std::fs::write(&good, [3u8; COOKIE_LEN]).unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, [3u8; 10]).unwrap();
        let (g, s) = (good.to_str().unwrap(), short.to_str().unwrap());
        assert!(local_cookie(env(&[("PULSE_COOKIE", g)])).await.is_some());
        assert!(local_cookie(env(&[("PULSE_COOKIE", s)])).await.is_none());
        assert!(
            local_cookie(env(&[("PULSE_COOKIE", "/dev/zero")]))
                .await
                .is_none()
        );
        let home = dir.path().to_str().unwrap();
        std::fs::create_dir_all(dir.path().join(".config/pulse")).unwrap();
        std::fs::copy(&good, dir.path().join(".config/pulse/cookie")).unwrap();
        assert!(local_cookie(env(&[("HOME", home)])).await.is_some());
    }
}
