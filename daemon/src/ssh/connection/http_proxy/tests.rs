//! The `CONNECT` exchange against a scripted proxy on a loopback listener.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::*;
use crate::ssh::prompt::testing::{Asked, Script};

/// Bounds every test: a bug must fail it, not hang the suite.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap()
}

/// A proxy that answers each connection with the next of `answers`, written in the given
/// pieces with a pause between them; returns the requests it read.
async fn proxy(answers: Vec<Vec<&'static [u8]>>) -> (HttpProxyParams, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut requests = Vec::new();
        for pieces in answers {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 512];
            while !req.ends_with(b"\r\n\r\n") {
                let n = sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            requests.push(String::from_utf8(req).unwrap());
            for piece in pieces {
                // The client may hang up first (an answer it refuses to read to the end).
                if sock.write_all(piece).await.is_err() || sock.flush().await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Keep the connection until the client has read what it wants.
            let _ = sock.read(&mut buf).await;
        }
        requests
    });
    let params = HttpProxyParams {
        host: "127.0.0.1".into(),
        port,
        ..Default::default()
    };
    (params, task)
}

async fn open_to(params: &HttpProxyParams, host: &str) -> Result<(Tunnel, SocketAddr), Error> {
    open(params, host, 22220, &PauseClock::new(), &mut None).await
}

/// The first `n` bytes the server side sent through the tunnel.
async fn first_bytes(tunnel: &mut Tunnel, n: usize) -> String {
    let mut buf = vec![0u8; n];
    tunnel.read_exact(&mut buf).await.unwrap();
    String::from_utf8(buf).unwrap()
}

#[tokio::test]
async fn a_split_answer_opens_the_tunnel_and_keeps_the_servers_first_bytes() {
    bounded(async {
        // The status line cut in the middle, the blank line cut between CR and LF, and the
        // server's banner in the same segment as the end of the head.
        let (params, task) = proxy(vec![vec![
            b"HTTP/1.1 2",
            b"00 Connection established\r\nProxy-agent: t\r\n\r",
            b"\nSSH-2.0-test\r\n",
        ]])
        .await;
        let (mut tunnel, addr) = open_to(&params, "10.1.2.3").await.unwrap();
        assert_eq!(addr.port(), params.port);
        assert_eq!(first_bytes(&mut tunnel, 14).await, "SSH-2.0-test\r\n");
        drop(tunnel);
        let requests = task.await.unwrap();
        assert_eq!(
            requests,
            ["CONNECT 10.1.2.3:22220 HTTP/1.1\r\nHost: 10.1.2.3:22220\r\n\r\n"]
        );
    })
    .await;
}

#[tokio::test]
async fn credentials_go_as_basic_authorization_and_ipv6_in_brackets() {
    bounded(async {
        let (mut params, task) = proxy(vec![vec![b"HTTP/1.0 200 OK\r\n\r\nSSH-"]]).await;
        params.user = Some("x2proxy".into());
        params.password = Some(Secret::new("s3cret-pw".into()));
        let (mut tunnel, _) = open_to(&params, "::1").await.unwrap();
        assert_eq!(first_bytes(&mut tunnel, 4).await, "SSH-");
        drop(tunnel);
        let requests = task.await.unwrap();
        // base64("x2proxy:s3cret-pw")
        assert_eq!(
            requests,
            ["CONNECT [::1]:22220 HTTP/1.1\r\nHost: [::1]:22220\r\n\
              Proxy-Authorization: Basic eDJwcm94eTpzM2NyZXQtcHc=\r\n\r\n"]
        );
    })
    .await;
}

#[tokio::test]
async fn no_credentials_are_sent_without_a_user() {
    bounded(async {
        let (mut params, task) = proxy(vec![vec![
            b"HTTP/1.0 407 Proxy Authentication Required\r\n\
              Proxy-Authenticate: Basic realm=\"Tinyproxy\"\r\n\r\n",
        ]])
        .await;
        params.password = Some(Secret::new("pw-only".into()));
        let e = open_to(&params, "h").await.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::HttpProxyAuth { .. }), "{e:?}");
        assert!(
            msg.contains("wants credentials")
                && msg.contains("no proxy user")
                && msg.contains("407"),
            "{msg}"
        );
        assert!(!task.await.unwrap()[0].contains("Proxy-Authorization"));
    })
    .await;
}

#[tokio::test]
async fn refused_credentials_are_an_auth_error_without_the_password() {
    bounded(async {
        for answer in [
            &b"HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"T\"\r\n\r\n"[..],
            &b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"[..],
        ] {
            let (mut params, _task) = proxy(vec![vec![answer]]).await;
            params.user = Some("x2proxy".into());
            params.password = Some(Secret::new("wrong-pw".into()));
            let e = open_to(&params, "h").await.unwrap_err();
            let msg = e.to_string();
            assert!(matches!(e, Error::HttpProxyAuth { .. }), "{e:?}");
            assert!(
                msg.contains("refused the credentials of \"x2proxy\"") && !msg.contains("wrong-pw"),
                "{msg}"
            );
            assert!(msg.starts_with(&format!("HTTP proxy 127.0.0.1 port {}", params.port)));
        }
    })
    .await;
}

#[tokio::test]
async fn a_refused_connect_names_403_and_the_target() {
    bounded(async {
        let (params, _task) = proxy(vec![vec![
            b"HTTP/1.1 403 Access violation\r\nServer: tinyproxy/1.11.1\r\n\r\n<html>",
        ]])
        .await;
        let e = open_to(&params, "127.0.0.1").await.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::HttpProxy { .. }), "{e:?}");
        assert!(
            msg.contains("refused CONNECT to 127.0.0.1:22220")
                && msg.contains("HTTP/1.1 403 Access violation"),
            "{msg}"
        );
    })
    .await;
}

#[tokio::test]
async fn other_statuses_are_quoted_and_kept_short() {
    bounded(async {
        let (params, _task) = proxy(vec![vec![b"HTTP/1.1 502 Bad Gateway\r\n\r\n"]]).await;
        let msg = open_to(&params, "h").await.unwrap_err().to_string();
        assert!(
            msg.contains(
                "did not open a tunnel to h:22220: it answered \"HTTP/1.1 502 Bad Gateway\""
            ),
            "{msg}"
        );
        static LONG: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
            let mut v = b"HTTP/1.1 500 ".to_vec();
            v.extend_from_slice(&[b'x'; 300]);
            v.extend_from_slice(b"\r\n\r\n");
            v
        });
        let (params, _task) = proxy(vec![vec![LONG.as_slice()]]).await;
        let msg = open_to(&params, "h").await.unwrap_err().to_string();
        let xs = "x".repeat(MAX_REASON);
        assert!(
            msg.contains(&xs) && !msg.contains(&format!("{xs}x")),
            "{msg}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_answer_cut_before_its_blank_line_is_an_error() {
    bounded(async {
        // The listener closes right after the pieces (its read sees the client's close
        // only; the answer lacks its final CRLF).
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 512];
            let _ = sock.read(&mut buf).await.unwrap();
            sock.write_all(b"HTTP/1.1 200 Connection established\r\n")
                .await
                .unwrap();
        });
        let params = HttpProxyParams {
            host: "127.0.0.1".into(),
            port,
            ..Default::default()
        };
        let msg = open_to(&params, "h").await.unwrap_err().to_string();
        assert!(msg.contains("before the end of its answer"), "{msg}");
    })
    .await;
}

#[tokio::test]
async fn an_oversize_or_garbled_answer_is_refused() {
    bounded(async {
        static LONG: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
            let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
            while v.len() <= MAX_ANSWER {
                v.extend_from_slice(b"X-Filler: ");
                v.extend_from_slice(&[b'a'; 1000]);
                v.extend_from_slice(b"\r\n");
            }
            v
        });
        let (params, _task) = proxy(vec![vec![LONG.as_slice()]]).await;
        let msg = open_to(&params, "h").await.unwrap_err().to_string();
        assert!(
            msg.contains(&format!("longer than {MAX_ANSWER} bytes")),
            "{msg}"
        );

        let (params, _task) = proxy(vec![vec![b"SSH-2.0-OpenSSH_9.2\r\n\r\n"]]).await;
        let msg = open_to(&params, "h").await.unwrap_err().to_string();
        assert!(msg.contains("not HTTP"), "{msg}");

        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        let many: &'static [u8] = many.leak();
        let (params, _task) = proxy(vec![vec![many]]).await;
        let msg = open_to(&params, "h").await.unwrap_err().to_string();
        assert!(
            msg.contains(&format!("more than {MAX_HEADERS} headers")),
            "{msg}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_closed_or_absent_proxy_is_named() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let params = HttpProxyParams {
            host: "127.0.0.1".into(),
            port,
            ..Default::default()
        };
        let e = open_to(&params, "h").await.unwrap_err();
        assert!(matches!(e, Error::HttpProxy { .. }), "{e:?}");
        assert!(e.to_string().contains("cannot connect"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_missing_password_is_asked_once_and_the_request_made_again() {
    bounded(async {
        let (mut params, task) = proxy(vec![
            vec![b"HTTP/1.0 407 Proxy Authentication Required\r\n\r\n"],
            vec![b"HTTP/1.0 200 Connection established\r\n\r\nSSH-"],
        ])
        .await;
        let script = Script::answers(&["asked-pw"]);
        params.user = Some("x2proxy".into());
        params.prompter = Some(script.handle());
        let mut asked = None;
        let (mut tunnel, _) = open(&params, "h", 22, &PauseClock::new(), &mut asked)
            .await
            .unwrap();
        assert_eq!(first_bytes(&mut tunnel, 4).await, "SSH-");
        assert_eq!(asked.as_ref().map(Secret::expose), Some("asked-pw"));
        assert!(matches!(
            script.asked().as_slice(),
            [Asked::Secret {
                hop: Hop::Proxy,
                kind: SecretKind::Password,
                echo: false,
                ..
            }]
        ));
        drop(tunnel);
        let requests = task.await.unwrap();
        assert!(!requests[0].contains("Proxy-Authorization"), "{requests:?}");
        // base64("x2proxy:asked-pw")
        assert!(
            requests[1].contains("Basic eDJwcm94eTphc2tlZC1wdw=="),
            "{requests:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn nobody_to_ask_gives_the_credentials_error() {
    bounded(async {
        let (mut params, _task) = proxy(vec![vec![
            b"HTTP/1.0 407 Proxy Authentication Required\r\n\r\n",
        ]])
        .await;
        let script = Script::default();
        params.user = Some("x2proxy".into());
        params.prompter = Some(script.handle());
        let e = open_to(&params, "h").await.unwrap_err();
        assert!(matches!(e, Error::HttpProxyAuth { .. }), "{e:?}");
        assert!(e.to_string().contains("no password for \"x2proxy\""), "{e}");
    })
    .await;
}

#[test]
fn a_user_with_a_colon_is_refused() {
    let params = HttpProxyParams {
        user: Some("a:b".into()),
        ..Default::default()
    };
    assert!(matches!(check_user(&params), Err(Error::InvalidParams(_))));
}
