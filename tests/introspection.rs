//! The D-Bus API as the daemon serves it equals the golden XML in `proto-dbus/interfaces/`.
//! Run with `X2GOD_BLESS=1` to rewrite the files after a deliberate API change.
//!
//! The proxies and the key table of `x2god-proto` are checked against the same files (`cargo
//! test -p x2god-proto`); the Agent interface, which applets serve, is compared with its file by
//! `x2god-client`'s own unit test, over a peer-to-peer connection.

use x2god_client::Options;
use x2god_tests::Daemon;

use crate::bounded;

async fn introspect(conn: &zbus::Connection, path: &str) -> String {
    let p = zbus::fdo::IntrospectableProxy::builder(conn)
        .destination("org.x2go.Control1")
        .path(path.to_owned())
        .build()
        .await
        .unwrap();
    p.introspect().await.unwrap()
}

/// Compares the interface `iface` served at `path` with its golden file (or writes it with
/// `X2GOD_BLESS=1`).
pub async fn check_golden(conn: &zbus::Connection, iface: &str, path: &str) {
    let served = introspect(conn, path).await;
    if let Err(diff) = x2god_proto::interfaces::compare_with_shipped(&served, iface) {
        panic!("{diff}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_api_matches_golden_xml() {
    bounded(async {
        let d = Daemon::start().await;
        let c = d.client().await;
        let p = c
            .create_profile("golden", Options::new().set("hostname", "h"))
            .await
            .unwrap();
        check_golden(
            c.connection(),
            "org.x2go.Control1.Manager",
            "/org/x2go/Control1",
        )
        .await;
        check_golden(
            c.connection(),
            "org.x2go.Control1.Profile",
            p.path().as_str(),
        )
        .await;
        // The Session interface is checked by the session lifecycle test, which has a session.
    })
    .await;
}
