//! The bus layer without a lab: the daemon's objects served on one end of a peer-to-peer
//! connection (a socket pair, no bus daemon, no SSH server), the x2god-proto proxies on the
//! other. Profile CRUD and renames, option checks and error names, the ObjectManager,
//! `PropertiesChanged`, read-only profiles and introspection.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use x2god_proto::Error;
use x2god_proto::proxy::{ManagerProxy, ProfileProxy};
use zbus::fdo::{IntrospectableProxy, ObjectManagerProxy, PropertiesProxy};
use zbus::{OwnedObjectPath, Variant};

use super::agents::Agents;
use crate::config::Paths;
use crate::registry::Registry;

/// A daemon's objects on one end of a socket pair, a client on the other, and the files.
struct Fixture {
    dir: tempfile::TempDir,
    client: zbus::Connection,
    _server: zbus::Connection,
}

fn settings(
    entries: &[(&'static str, Variant<'static>)],
) -> HashMap<&'static str, Variant<'static>> {
    entries.iter().cloned().collect()
}

fn host(h: &'static str) -> HashMap<&'static str, Variant<'static>> {
    settings(&[("hostname", Variant::from(h))])
}

impl Fixture {
    /// A daemon with no profiles (and HOME `home`, holding `x2goclient` as
    /// `~/.x2goclient/sessions` when given).
    async fn new(x2goclient: Option<&str>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        if let Some(text) = x2goclient {
            std::fs::create_dir_all(home.join(".x2goclient")).unwrap();
            std::fs::write(home.join(".x2goclient/sessions"), text).unwrap();
        }
        let (server, client) = serve_p2p(dir.path()).await;
        Fixture {
            dir,
            client,
            _server: server,
        }
    }

    async fn manager(&self) -> ManagerProxy<'static> {
        ManagerProxy::builder(&self.client).build().await.unwrap()
    }

    async fn profile(&self, path: &OwnedObjectPath) -> ProfileProxy<'static> {
        ProfileProxy::builder(&self.client)
            .path(path.clone())
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .unwrap()
    }

    async fn create(
        &self,
        name: &str,
        s: HashMap<&str, Variant<'_>>,
    ) -> Result<OwnedObjectPath, Error> {
        self.manager().await.create_profile(name, s).await
    }

    fn profiles_file(&self) -> PathBuf {
        self.dir.path().join("config/x2god/profiles.toml")
    }

    fn file_text(&self) -> String {
        std::fs::read_to_string(self.profiles_file()).unwrap_or_default()
    }
}

/// A daemon whose files are below `dir` (`config/x2god`, `home`), served on one end of a
/// socket pair; returns both ends, the client's second.
async fn serve_p2p(dir: &std::path::Path) -> (zbus::Connection, zbus::Connection) {
    let paths = Paths::under(dir.join("config/x2god"), dir.join("home/.ssh"));
    let registry = Registry::load(Arc::new(paths)).unwrap();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let (server, client) = tokio::join!(
        zbus::connection::Builder::unix_stream(a)
            .server(zbus::Guid::generate())
            .p2p()
            .build(),
        zbus::connection::Builder::unix_stream(b).p2p().build(),
    );
    let (server, client) = (server.unwrap(), client.unwrap());
    super::serve(&server, &registry, Arc::new(Agents::default()))
        .await
        .unwrap();
    (server, client)
}

/// Runs `f` with a bound, so that a hang fails the test.
async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test timed out");
}

fn kind<T: std::fmt::Debug>(r: Result<T, Error>) -> (&'static str, String) {
    match r {
        Err(e) => (e.kind(), e.to_string()),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

#[tokio::test]
async fn a_created_profile_is_listed_found_and_saved() {
    bounded(async {
        let f = Fixture::new(None).await;
        let path = f.create("office", host("srv.example.org")).await.unwrap();
        assert_eq!(path.as_str(), "/org/x2go/Control1/profile/office");
        let m = f.manager().await;
        assert_eq!(m.list_profiles().await.unwrap(), vec![path.clone()]);
        assert_eq!(m.get_profile("office").await.unwrap(), path);
        assert!(
            f.file_text().contains("srv.example.org"),
            "{}",
            f.file_text()
        );
    })
    .await;
}

#[tokio::test]
async fn a_new_profile_has_the_documented_properties() {
    bounded(async {
        let f = Fixture::new(None).await;
        let s = settings(&[
            ("hostname", Variant::from("srv")),
            ("port", Variant::from(2222u32)),
            ("username", Variant::from("bob")),
        ]);
        let p = f.profile(&f.create("p", s).await.unwrap()).await;
        assert_eq!(p.name().await.unwrap(), "p");
        assert_eq!(p.hostname().await.unwrap(), "srv");
        assert_eq!(p.port().await.unwrap(), 2222);
        assert_eq!(p.username().await.unwrap(), "bob");
        assert_eq!(p.state().await.unwrap(), "disconnected");
        assert_eq!(p.source().await.unwrap(), "x2god");
        assert_eq!(p.sshproxy().await.unwrap(), "");
        assert!(p.stored_secrets().await.unwrap().is_empty());
        assert!(!p.is_connected().await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_taken_name_is_already_exists() {
    bounded(async {
        let f = Fixture::new(None).await;
        f.create("a", host("h")).await.unwrap();
        let (k, msg) = kind(f.create("a", host("other")).await);
        assert_eq!(k, "AlreadyExists");
        assert!(msg.contains("\"a\""), "{msg}");
        assert!(!f.file_text().contains("other"));
    })
    .await;
}

#[tokio::test]
async fn bad_names_and_missing_or_hostile_hosts_are_invalid_arguments() {
    bounded(async {
        let f = Fixture::new(None).await;
        for name in ["", "  ", "x\ny", "tab\there"] {
            assert_eq!(
                kind(f.create(name, host("h")).await).0,
                "InvalidArgument",
                "{name:?}"
            );
        }
        let (k, msg) = kind(f.create("p", HashMap::new()).await);
        assert_eq!(k, "InvalidArgument");
        assert!(msg.contains("hostname"), "{msg}");
        for h in ["-oProxyCommand=x", "a;b", "$(id)"] {
            assert_eq!(
                kind(f.create("p", host(h)).await).0,
                "InvalidArgument",
                "{h}"
            );
        }
        let s = settings(&[
            ("hostname", Variant::from("h")),
            ("username", Variant::from("a b")),
        ]);
        assert_eq!(kind(f.create("p", s).await).0, "InvalidArgument");
        assert!(f.manager().await.list_profiles().await.unwrap().is_empty());
        assert!(!f.profiles_file().exists(), "nothing may be saved");
    })
    .await;
}

#[tokio::test]
async fn unknown_keys_and_wrong_types_name_the_key() {
    bounded(async {
        let f = Fixture::new(None).await;
        let s = settings(&[
            ("hostname", Variant::from("h")),
            ("colour", Variant::from(true)),
        ]);
        let (k, msg) = kind(f.create("p", s).await);
        assert_eq!(k, "InvalidArgument");
        assert!(msg.contains("colour"), "{msg}");
        let s = settings(&[
            ("hostname", Variant::from("h")),
            ("allow_agent", Variant::from("yes")),
        ]);
        let (k, msg) = kind(f.create("p", s).await);
        assert_eq!(k, "InvalidArgument");
        assert!(msg.contains("allow_agent"), "{msg}");
        let s = settings(&[
            ("hostname", Variant::from("h")),
            ("port", Variant::from(70000u32)),
        ]);
        assert_eq!(kind(f.create("p", s).await).0, "InvalidArgument");
    })
    .await;
}

#[tokio::test]
async fn secrets_are_refused_as_settings_and_never_echoed() {
    bounded(async {
        let f = Fixture::new(None).await;
        let s = settings(&[
            ("hostname", Variant::from("h")),
            ("password", Variant::from("pw-8f3a")),
        ]);
        let (k, msg) = kind(f.create("p", s).await);
        assert_eq!(k, "InvalidArgument");
        assert!(!msg.contains("pw-8f3a"), "{msg}");
        assert!(!f.file_text().contains("pw-8f3a"));
    })
    .await;
}

#[tokio::test]
async fn a_removed_profile_is_gone_from_bus_and_file() {
    bounded(async {
        let f = Fixture::new(None).await;
        let path = f.create("gone", host("h")).await.unwrap();
        let m = f.manager().await;
        m.remove_profile("gone").await.unwrap();
        assert_eq!(kind(m.get_profile("gone").await).0, "NotFound");
        assert!(m.list_profiles().await.unwrap().is_empty());
        assert!(
            !f.file_text().contains("[profile.gone]"),
            "{}",
            f.file_text()
        );
        // The object is gone too: a call to it fails.
        assert!(f.profile(&path).await.get_hostname().await.is_err());
    })
    .await;
}

#[tokio::test]
async fn removing_an_unknown_profile_is_not_found() {
    bounded(async {
        let f = Fixture::new(None).await;
        let (k, msg) = kind(f.manager().await.remove_profile("nope").await);
        assert_eq!(k, "NotFound");
        assert!(msg.contains("nope"), "{msg}");
    })
    .await;
}

#[tokio::test]
async fn a_rename_moves_the_object_and_keeps_the_settings() {
    bounded(async {
        let f = Fixture::new(None).await;
        let s = settings(&[
            ("hostname", Variant::from("h")),
            ("geometry", Variant::from("800x600")),
        ]);
        let old = f.create("old-name", s).await.unwrap();
        let new = f
            .profile(&old)
            .await
            .set_profile_name("new name")
            .await
            .unwrap();
        assert_eq!(new.as_str(), "/org/x2go/Control1/profile/new_20name");
        let p = f.profile(&new).await;
        assert_eq!(p.name().await.unwrap(), "new name");
        let got = p.get_settings().await.unwrap();
        assert_eq!(
            String::try_from(got["geometry"].clone()).unwrap(),
            "800x600"
        );
        assert!(f.profile(&old).await.get_hostname().await.is_err());
        let text = f.file_text();
        assert!(
            text.contains("new name") && !text.contains("old-name"),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_rename_to_a_taken_name_changes_nothing() {
    bounded(async {
        let f = Fixture::new(None).await;
        let a = f.create("a", host("ha")).await.unwrap();
        f.create("b", host("hb")).await.unwrap();
        let (k, _) = kind(f.profile(&a).await.set_profile_name("b").await);
        assert_eq!(k, "AlreadyExists");
        assert_eq!(f.profile(&a).await.hostname().await.unwrap(), "ha");
        assert_eq!(f.manager().await.list_profiles().await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_rename_that_cannot_be_saved_is_rolled_back() {
    bounded(async {
        let f = Fixture::new(None).await;
        let a = f.create("a", host("h")).await.unwrap();
        // A directory where the file must be replaced: saving fails, even for root.
        std::fs::remove_file(f.profiles_file()).unwrap();
        std::fs::create_dir_all(f.profiles_file().join("blocker")).unwrap();
        let (k, _) = kind(f.profile(&a).await.set_profile_name("b").await);
        assert_eq!(k, "Failed");
        let m = f.manager().await;
        assert_eq!(m.get_profile("a").await.unwrap(), a);
        assert_eq!(kind(m.get_profile("b").await).0, "NotFound");
        assert_eq!(f.profile(&a).await.name().await.unwrap(), "a");
        // Creating fails the same way, and leaves no profile behind.
        assert_eq!(kind(f.create("c", host("h")).await).0, "Failed");
        assert_eq!(kind(m.get_profile("c").await).0, "NotFound");
    })
    .await;
}

#[tokio::test]
async fn an_update_changes_settings_and_emits_properties_changed() {
    bounded(async {
        let f = Fixture::new(None).await;
        let path = f.create("u", host("before")).await.unwrap();
        let props = PropertiesProxy::builder(&f.client)
            .destination("org.x2go.Control1")
            .path(path.clone())
            .build()
            .await
            .unwrap();
        let mut changes = props.receive_properties_changed().await.unwrap();
        f.profile(&path).await.update(host("after")).await.unwrap();
        let change = changes.next().await.unwrap();
        let args = change.args().unwrap();
        assert_eq!(args.interface_name().as_str(), "org.x2go.Control1.Profile");
        let value = args
            .changed_properties()
            .get("Hostname")
            .expect("Hostname changed");
        assert_eq!(value.downcast_ref::<&str>().unwrap(), "after");
        assert_eq!(f.profile(&path).await.hostname().await.unwrap(), "after");
        assert!(f.file_text().contains("after"));
    })
    .await;
}

#[tokio::test]
async fn a_refused_update_changes_nothing() {
    bounded(async {
        let f = Fixture::new(None).await;
        let path = f.create("u", host("kept")).await.unwrap();
        let p = f.profile(&path).await;
        assert_eq!(kind(p.update(host("a b")).await).0, "InvalidArgument");
        let s = settings(&[
            ("hostname", Variant::from("other")),
            ("nonsense", Variant::from(1u32)),
        ]);
        assert_eq!(kind(p.update(s).await).0, "InvalidArgument");
        assert_eq!(p.hostname().await.unwrap(), "kept");
        assert!(!f.file_text().contains("other"));
    })
    .await;
}

#[tokio::test]
async fn the_object_manager_lists_profiles_and_announces_changes() {
    bounded(async {
        let f = Fixture::new(None).await;
        let om = ObjectManagerProxy::builder(&f.client)
            .destination("org.x2go.Control1")
            .path("/org/x2go/Control1")
            .build()
            .await
            .unwrap();
        let mut added = om.receive_interfaces_added().await.unwrap();
        let mut removed = om.receive_interfaces_removed().await.unwrap();
        let path = f.create("om", host("h")).await.unwrap();
        let sig = added.next().await.unwrap();
        let args = sig.args().unwrap();
        assert_eq!(args.object_path().as_str(), path.as_str());
        assert!(
            args.interfaces_and_properties()
                .contains_key("org.x2go.Control1.Profile")
        );
        let objects = om.get_managed_objects().await.unwrap();
        let profile = &objects[&path]["org.x2go.Control1.Profile"];
        assert_eq!(profile["Hostname"].downcast_ref::<&str>().unwrap(), "h");
        f.manager().await.remove_profile("om").await.unwrap();
        let sig = removed.next().await.unwrap();
        assert_eq!(sig.args().unwrap().object_path().as_str(), path.as_str());
        assert!(om.get_managed_objects().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn profile_added_and_removed_signals_name_the_profile() {
    bounded(async {
        let f = Fixture::new(None).await;
        let m = f.manager().await;
        let mut added = m.receive_profile_added().await.unwrap();
        let mut removed = m.receive_profile_removed().await.unwrap();
        let path = f.create("sig", host("h")).await.unwrap();
        let a = added.next().await.unwrap();
        assert_eq!(a.args().unwrap().name, "sig");
        assert_eq!(a.args().unwrap().profile, path);
        m.remove_profile("sig").await.unwrap();
        let r = removed.next().await.unwrap();
        assert_eq!(r.args().unwrap().name, "sig");
    })
    .await;
}

#[tokio::test]
async fn a_disconnected_profile_answers_not_connected() {
    bounded(async {
        let f = Fixture::new(None).await;
        let p = f.profile(&f.create("d", host("h")).await.unwrap()).await;
        assert_eq!(kind(p.list_sessions().await).0, "NotConnected");
        assert_eq!(kind(p.list_sessions_raw().await).0, "NotConnected");
        assert_eq!(kind(p.remote_username().await).0, "NotConnected");
        assert_eq!(kind(p.server_features(false).await).0, "NotConnected");
        assert_eq!(kind(p.home_exists().await).0, "NotConnected");
        assert!(!p.is_alive().await.unwrap());
        assert!(!p.has_session_died().await.unwrap());
        // Disconnecting what is not connected is fine.
        p.disconnect().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn hostile_session_names_are_refused_before_anything_runs() {
    bounded(async {
        let f = Fixture::new(None).await;
        let p = f.profile(&f.create("s", host("h")).await.unwrap()).await;
        for name in ["x;id", "$(id)", "a b", "../x", ""] {
            assert_eq!(kind(p.suspend(name).await).0, "InvalidArgument", "{name:?}");
            assert_eq!(
                kind(p.terminate(name, HashMap::new()).await).0,
                "InvalidArgument",
                "{name:?}"
            );
            assert_eq!(
                kind(p.session_state(name).await).0,
                "InvalidArgument",
                "{name:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn bad_call_options_are_refused_without_a_connection() {
    bounded(async {
        let f = Fixture::new(None).await;
        let p = f.profile(&f.create("o", host("h")).await.unwrap()).await;
        let (k, msg) = kind(p.start(settings(&[("colour", Variant::from("x"))])).await);
        assert_eq!(k, "InvalidArgument");
        assert!(msg.contains("colour"), "{msg}");
        let (k, msg) = kind(p.start(settings(&[("port", Variant::from(2222u32))])).await);
        assert_eq!(k, "InvalidArgument");
        assert!(msg.contains("connection setting"), "{msg}");
        let (k, _) = kind(
            p.connect(settings(&[("timeout", Variant::from(0u32))]))
                .await,
        );
        assert_eq!(k, "InvalidArgument");
        let (k, _) = kind(p.trust_host_key("MD5:aa:bb").await);
        assert_eq!(k, "InvalidArgument");
        let opts = settings(&[("destroy_terminals", Variant::from("yes"))]);
        assert_eq!(
            kind(p.terminate("u-50-1700000000_stDXFCE_dp24", opts).await).0,
            "InvalidArgument"
        );
    })
    .await;
}

/// A profile x2god cannot connect: direct RDP.
const X2GOCLIENT_RDP: &str =
    "[20240101120002]\nname=windows\nhost=win.example.org\ncommand=RDP\ndirectrdp=true\n";

const X2GOCLIENT: &str = "[20240101120000]\nname=imported\nhost=srv.example.org\nsshport=2222\nuser=bob\n\n[20240101120001]\nname=proxied\nhost=srv2\nusesshproxy=true\nsshproxytype=HTTP\nsshproxyhost=proxy\nsshproxyport=3128\n";

#[tokio::test]
async fn x2goclient_profiles_are_offered_read_only() {
    bounded(async {
        let f = Fixture::new(Some(X2GOCLIENT)).await;
        let m = f.manager().await;
        let path = m.get_profile("imported").await.unwrap();
        let p = f.profile(&path).await;
        assert_eq!(p.source().await.unwrap(), "x2goclient");
        assert_eq!(p.hostname().await.unwrap(), "srv.example.org");
        assert_eq!(p.port().await.unwrap(), 2222);
        assert_eq!(kind(p.update(host("x")).await).0, "NotSupported");
        assert_eq!(kind(p.set_profile_name("y").await).0, "NotSupported");
        assert_eq!(kind(m.remove_profile("imported").await).0, "NotSupported");
        assert_eq!(p.hostname().await.unwrap(), "srv.example.org");
        // Nothing of x2goclient's profiles is written into x2god's file.
        assert!(!f.file_text().contains("srv.example.org"));
    })
    .await;
}

#[tokio::test]
async fn an_x2goclient_profile_with_an_http_proxy_is_offered_with_it() {
    bounded(async {
        let f = Fixture::new(Some(X2GOCLIENT)).await;
        let path = f.manager().await.get_profile("proxied").await.unwrap();
        let got = f.profile(&path).await.get_settings().await.unwrap();
        let text = |k: &str| String::try_from(got[k].clone()).unwrap();
        assert_eq!(text("sshproxy_type"), "http");
        assert_eq!(text("sshproxy_host"), "proxy");
        assert_eq!(u16::try_from(got["sshproxy_port"].clone()).unwrap(), 3128);
    })
    .await;
}

#[tokio::test]
async fn an_x2goclient_profile_x2god_cannot_connect_says_why() {
    bounded(async {
        let f = Fixture::new(Some(X2GOCLIENT_RDP)).await;
        let path = f.manager().await.get_profile("windows").await.unwrap();
        let (k, msg) = kind(f.profile(&path).await.connect(HashMap::new()).await);
        assert_eq!(k, "NotSupported");
        assert!(msg.contains("windows"), "{msg}");
    })
    .await;
}

#[tokio::test]
async fn an_x2goclient_profile_whose_name_is_taken_gets_its_id() {
    bounded(async {
        let dir_text =
            "[20240101120000]\nname=twice\nhost=a\n\n[20240101120001]\nname=twice\nhost=b\n";
        let f = Fixture::new(Some(dir_text)).await;
        let m = f.manager().await;
        let first = f.profile(&m.get_profile("twice").await.unwrap()).await;
        let second = f
            .profile(&m.get_profile("twice [20240101120001]").await.unwrap())
            .await;
        assert_eq!(first.hostname().await.unwrap(), "a");
        assert_eq!(second.hostname().await.unwrap(), "b");
    })
    .await;
}

#[tokio::test]
async fn profiles_survive_a_restart_of_the_daemon() {
    bounded(async {
        let f = Fixture::new(None).await;
        let s = settings(&[
            ("hostname", Variant::from("h")),
            ("keepalive_count", Variant::from(5u32)),
        ]);
        f.create("kept", s).await.unwrap();
        // A second daemon on the same files.
        let (_server, client) = serve_p2p(f.dir.path()).await;
        let m = ManagerProxy::builder(&client).build().await.unwrap();
        let path = m.get_profile("kept").await.unwrap();
        let p = ProfileProxy::builder(&client)
            .path(path)
            .build()
            .await
            .unwrap();
        let got = p.get_settings().await.unwrap();
        assert_eq!(u32::try_from(got["keepalive_count"].clone()).unwrap(), 5);
    })
    .await;
}

#[tokio::test]
async fn the_served_interfaces_equal_the_shipped_xml() {
    bounded(async {
        let f = Fixture::new(None).await;
        let path = f.create("golden", host("h")).await.unwrap();
        for (iface, path) in [
            ("org.x2go.Control1.Manager", "/org/x2go/Control1".to_owned()),
            ("org.x2go.Control1.Profile", path.to_string()),
        ] {
            let xml = IntrospectableProxy::builder(&f.client)
                .destination("org.x2go.Control1")
                .path(path)
                .build()
                .await
                .unwrap()
                .introspect()
                .await
                .unwrap();
            if let Err(diff) = x2god_proto::interfaces::compare_with_shipped(&xml, iface) {
                panic!("{diff}");
            }
        }
    })
    .await;
}

#[test]
fn errors_keep_their_kind_across_the_bus_edge() {
    use crate::control::Error as C;
    let wire = |e: C| Error::from(e).kind();
    assert_eq!(wire(C::InvalidArgument("x".into())), "InvalidArgument");
    assert_eq!(wire(C::NotConnected("p".into())), "NotConnected");
    assert_eq!(wire(C::NotFound("x".into())), "NotFound");
    assert_eq!(wire(C::NotSupported("x".into())), "NotSupported");
    assert_eq!(wire(C::Busy("x".into())), "Busy");
    assert_eq!(
        wire(C::DesktopSharingDenied("x".into())),
        "DesktopSharingDenied"
    );
    assert_eq!(wire(C::Local("x".into())), "Failed");
    let server = C::Server {
        command: "x2gostartagent".into(),
        status: Some(1),
        stderr: "boom".into(),
    };
    assert_eq!(wire(server), "ServerError");
    // A failed step keeps its cause's kind, with the step in the message.
    let step = C::NotFound("no such session".into()).at("x2goresume-session");
    let e = Error::from(step);
    assert_eq!(e.kind(), "NotFound");
    assert!(e.to_string().contains("x2goresume-session"), "{e}");
    let timeout = C::Ssh(crate::ssh::Error::Timeout("slow".into())).at("nxproxy");
    assert_eq!(Error::from(timeout).kind(), "Timeout");
    use crate::registry::Error as R;
    assert_eq!(Error::from(R::ReadOnly("p".into())).kind(), "NotSupported");
    assert_eq!(
        Error::from(R::AlreadyExists("p".into())).kind(),
        "AlreadyExists"
    );
    assert_eq!(Error::from(R::Publish("x".into())).kind(), "Failed");
}

#[tokio::test]
async fn a_peer_of_another_uid_is_refused_before_anything_runs() {
    use super::guard::{Gate, Guarded};
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path().join("config/x2god"), dir.path().join("home/.ssh"));
        let registry = Registry::load(Arc::new(paths)).unwrap();
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (server, client) = tokio::join!(
            zbus::connection::Builder::unix_stream(a)
                .server(zbus::Guid::generate())
                .p2p()
                .build(),
            zbus::connection::Builder::unix_stream(b).p2p().build(),
        );
        let (server, client) = (server.unwrap(), client.unwrap());
        // The socket's peer is us; a gate for another uid must refuse us.
        let other = crate::config::current_uid().wrapping_add(1);
        let manager = super::manager::Manager::new(registry.clone(), Arc::new(Agents::default()));
        server
            .object_server()
            .at(x2god_proto::names::ROOT_PATH, Guarded::new(manager, Gate::new(other)))
            .await
            .unwrap();
        let m = ManagerProxy::builder(&client)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .unwrap();
        let (k, msg) = kind(m.create_profile("evil", host("srv.example.org")).await);
        assert_eq!(k, "AccessDenied", "{msg}");
        assert!(registry.names().await.is_empty(), "a profile was created");
        let read = m.version().await;
        assert!(
            matches!(&read, Err(zbus::Error::MethodError(n, _, _)) if n.as_str().ends_with("AccessDenied")),
            "{read:?}"
        );
    })
    .await;
}
