//! A tunnel through an HTTP proxy: `CONNECT host:port` (RFC 9110 §9.3.6), with basic
//! authentication when credentials are given. The proxy's answer is read up to its blank line
//! only, so the SSH server's first bytes, which may arrive in the same segment, stay in the
//! buffer for the handshake.

use std::net::SocketAddr;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::ssh::error::Error;
use crate::ssh::prompt::{self, Asker, Hop, PauseClock, SecretKind};
use crate::ssh::secret::Secret;

use super::params::HttpProxyParams;
use super::tcp::tcp_connect;

/// The most of an answer's status line and headers read: a proxy is not a server to buffer
/// without bound for.
const MAX_ANSWER: usize = 8 * 1024;
/// The most headers an answer may have.
const MAX_HEADERS: usize = 64;
/// The most of a status line's reason quoted in an error.
const MAX_REASON: usize = 120;

/// The stream to the server through the proxy. Buffered: bytes of the server that came with
/// the proxy's answer are read from the buffer first.
pub(super) type Tunnel = BufReader<TcpStream>;

/// Why the proxy did not open the tunnel, before it becomes an [`Error`] naming the proxy.
#[derive(Debug)]
enum Refusal {
    /// 401 or 407: `sent` says whether credentials went with the request.
    Credentials { sent: bool, status: String },
    /// 403.
    Forbidden { status: String },
    /// Any other status but 2xx.
    Status { status: String },
    /// No usable answer.
    Broken(String),
}

/// The `host:port` of a `CONNECT`, an IPv6 address in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The request, kept in a [`Secret`] since it may carry the password (base64 is no cipher).
fn request(target: &str, credentials: Option<(&str, &Secret)>) -> Secret {
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((user, password)) = credentials {
        let plain = Secret::new(format!("{user}:{}", password.expose()));
        let encoded = Secret::new(base64::engine::general_purpose::STANDARD.encode(plain.expose()));
        req.push_str("Proxy-Authorization: Basic ");
        req.push_str(encoded.expose());
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    Secret::new(req)
}

/// The status line as the proxy sent it, made printable and short for an error message.
fn status_line(version: Option<u8>, code: u16, reason: Option<&str>) -> String {
    let reason: String = reason
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REASON)
        .collect();
    format!("HTTP/1.{} {code} {reason}", version.unwrap_or(1))
        .trim_end()
        .to_owned()
}

/// Sends the `CONNECT` for `target` on `stream` and reads the answer's head. `Ok` when the
/// proxy opened the tunnel; the stream is then positioned at the first byte of the server.
async fn handshake<S>(
    stream: &mut BufReader<S>,
    target: &str,
    credentials: Option<(&str, &Secret)>,
) -> Result<(), Refusal>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let io = |e: std::io::Error| Refusal::Broken(format!("talking to the proxy failed: {e}"));
    let req = request(target, credentials);
    stream
        .write_all(req.expose().as_bytes())
        .await
        .map_err(io)?;
    stream.flush().await.map_err(io)?;
    drop(req);
    let mut head = Vec::new();
    loop {
        if head.len() >= MAX_ANSWER {
            return Err(Refusal::Broken(format!(
                "its answer's status line and headers are longer than {MAX_ANSWER} bytes"
            )));
        }
        let available = stream.fill_buf().await.map_err(io)?;
        if available.is_empty() {
            return Err(Refusal::Broken(if head.is_empty() {
                "the proxy closed the connection without answering".to_owned()
            } else {
                "the proxy closed the connection before the end of its answer's headers".to_owned()
            }));
        }
        let before = head.len();
        let take = available.len().min(MAX_ANSWER - before);
        head.extend_from_slice(&available[..take]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut answer = httparse::Response::new(&mut headers);
        match answer.parse(&head) {
            Ok(httparse::Status::Partial) => stream.consume(take),
            Ok(httparse::Status::Complete(end)) => {
                // Only the head: what follows is the server's.
                stream.consume(end - before);
                let code = answer.code.unwrap_or(0);
                let status = status_line(answer.version, code, answer.reason);
                return match code {
                    200..=299 => Ok(()),
                    401 | 407 => Err(Refusal::Credentials {
                        sent: credentials.is_some(),
                        status,
                    }),
                    403 => Err(Refusal::Forbidden { status }),
                    _ => Err(Refusal::Status { status }),
                };
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Refusal::Broken(format!(
                    "its answer has more than {MAX_HEADERS} headers"
                )));
            }
            Err(e) => return Err(Refusal::Broken(format!("its answer is not HTTP ({e})"))),
        }
    }
}

/// The error of `refusal` by `proxy` for a tunnel to `target`.
fn refusal_error(proxy: &HttpProxyParams, target: &str, refusal: Refusal) -> Error {
    let (host, port) = (proxy.host.clone(), proxy.port);
    match refusal {
        Refusal::Credentials { sent: true, status } => Error::HttpProxyAuth {
            host,
            port,
            reason: format!(
                "refused the credentials of {:?} ({status})",
                proxy.user.as_deref().unwrap_or_default()
            ),
        },
        Refusal::Credentials {
            sent: false,
            status,
        } => Error::HttpProxyAuth {
            host,
            port,
            reason: match &proxy.user {
                Some(user) => {
                    format!("wants credentials, and there is no password for {user:?} ({status})")
                }
                None => format!("wants credentials, and no proxy user is set ({status})"),
            },
        },
        Refusal::Forbidden { status } => Error::HttpProxy {
            host,
            port,
            reason: format!("the proxy refused CONNECT to {target} ({status})"),
        },
        Refusal::Status { status } => Error::HttpProxy {
            host,
            port,
            reason: format!("the proxy did not open a tunnel to {target}: it answered {status:?}"),
        },
        Refusal::Broken(reason) => Error::HttpProxy { host, port, reason },
    }
}

/// Checks the user name of basic authentication (RFC 7617: no `:`, no control characters).
fn check_user(proxy: &HttpProxyParams) -> Result<(), Error> {
    match &proxy.user {
        Some(u) if u.contains(':') || u.chars().any(char::is_control) => Err(Error::InvalidParams(
            format!("the HTTP proxy user {u:?} cannot contain ':' or control characters"),
        )),
        _ => Ok(()),
    }
}

/// A TCP connection to `proxy`, its errors naming the proxy.
async fn connect_proxy(proxy: &HttpProxyParams) -> Result<(TcpStream, SocketAddr), Error> {
    tcp_connect(&proxy.host, proxy.port)
        .await
        .map_err(|e| Error::HttpProxy {
            host: proxy.host.clone(),
            port: proxy.port,
            reason: match e {
                Error::Connect { source, .. } => format!("cannot connect: {source}"),
                Error::Resolve { source, .. } => format!("cannot resolve the name: {source}"),
                other => other.to_string(),
            },
        })
}

/// A tunnel to `host`:`port` through `proxy`, and the proxy's address. When the proxy asks for
/// credentials that were not sent and a person can be asked, the password is asked for once
/// (kept in `asked` for the connect's retries) and the request is made again on a new
/// connection.
pub(super) async fn open(
    proxy: &HttpProxyParams,
    host: &str,
    port: u16,
    clock: &PauseClock,
    asked: &mut Option<Secret>,
) -> Result<(Tunnel, SocketAddr), Error> {
    check_user(proxy)?;
    let target = authority(host, port);
    let mut prompted = false;
    loop {
        let password = proxy.password.as_ref().or(asked.as_ref());
        let credentials = proxy.user.as_deref().zip(password);
        let (tcp, proxy_addr) = connect_proxy(proxy).await?;
        let mut stream = BufReader::new(tcp);
        let refusal = match handshake(&mut stream, &target, credentials).await {
            Ok(()) => {
                tracing::debug!(proxy = %proxy.host, proxy_port = proxy.port, %target,
                    "HTTP proxy opened the tunnel");
                return Ok((stream, proxy_addr));
            }
            Err(r) => r,
        };
        let asker = Asker::new(proxy.prompter.as_ref(), Hop::Proxy, clock);
        match (&refusal, &proxy.user, asker) {
            (Refusal::Credentials { sent: false, .. }, Some(user), Some(asker)) if !prompted => {
                prompted = true;
                let question = format!(
                    "Password of {user} for the HTTP proxy {} port {}",
                    proxy.host, proxy.port
                );
                match asker.secret(SecretKind::Password, question, false).await {
                    Ok(secret) => *asked = Some(secret),
                    Err(e) => {
                        let what = format!("the password for the HTTP proxy {}", proxy.host);
                        if let Some(abort) = prompt::abort_error(&e, &what) {
                            return Err(abort);
                        }
                        return Err(refusal_error(proxy, &target, refusal));
                    }
                }
            }
            _ => return Err(refusal_error(proxy, &target, refusal)),
        }
    }
}

#[cfg(test)]
mod tests;
