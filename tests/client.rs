//! The typed client library (`x2god-client`) against the real daemon: every handle method,
//! typed errors, the merged event stream (also across a daemon restart) and the agent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use x2god_client::{
    Cause, Client, ConnectionState, Declined, Error, ErrorExt, Event, EventStream, FnAgent,
    Options, Profile, SecretKind, SecretRequest, SessionState,
};
use x2god_tests::{Daemon, Lab};

use crate::{GRAPHICAL, bounded, connected};

/// The next event, or a panic naming what was awaited.
async fn next(events: &mut EventStream, what: &str) -> Event {
    match tokio::time::timeout(Duration::from_secs(30), events.next()).await {
        Ok(Some(e)) => e,
        Ok(None) => panic!("the event stream ended while waiting for {what}"),
        Err(_) => panic!("no event within 30 s while waiting for {what}"),
    }
}

/// Events until one satisfies `last` (included), skipping those `keep` rejects.
async fn until(
    events: &mut EventStream,
    what: &str,
    keep: impl Fn(&Event) -> bool,
    last: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let mut out = Vec::new();
    loop {
        let e = next(events, what).await;
        let done = last(&e);
        if keep(&e) {
            out.push(e);
        }
        if done {
            return out;
        }
    }
}

/// Events that arrive within `quiet` of each other, until the stream is quiet.
async fn drain(events: &mut EventStream, quiet: Duration) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(quiet, events.next()).await {
        out.push(e);
    }
    out
}

fn names(events: &[Event]) -> Vec<String> {
    events.iter().map(ToString::to_string).collect()
}

fn profile_added(name: &str) -> impl Fn(&Event) -> bool + '_ {
    move |e| matches!(e, Event::ProfileAdded { profile, .. } if profile.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_typed_errors_and_their_events() {
    bounded(async {
        let d = Daemon::start().await;
        let client = d.client().await;
        assert!(client.daemon_running().await.unwrap());
        assert!(!client.version().await.unwrap().is_empty());
        let mut events = client.events_with_snapshot().await.unwrap();
        assert_eq!(next(&mut events, "the empty snapshot").await, Event::Synced);

        let settings = Options::new()
            .set("hostname", "x2go.example.org")
            .set("port", 2022u32)
            .set("username", "alice");
        let p = client
            .create_profile("office", settings.clone())
            .await
            .unwrap();
        assert_eq!(p.id().name, "office");
        assert_eq!(p.name().await.unwrap(), "office");
        let info = p.info().await.unwrap();
        assert_eq!(
            (info.hostname.as_str(), info.port, info.username.as_str()),
            ("x2go.example.org", 2022, "alice")
        );
        assert_eq!(info.state, ConnectionState::Disconnected);
        assert_eq!(p.state().await.unwrap(), ConnectionState::Disconnected);
        assert!(!p.is_connected().await.unwrap());
        assert!(p.last_error().await.unwrap().is_empty());

        // Typed errors, matchable without strings.
        let e = client.create_profile("office", settings).await.unwrap_err();
        assert!(matches!(e, Error::AlreadyExists(_)), "{e:?}");
        let e = client.profile("nope").await.unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
        let e = client
            .create_profile("bad", Options::new().set("port", 22u32))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        let e = p.remote_username().await.unwrap_err();
        assert!(e.is_not_connected(), "{e:?}");
        let e = p.list_sessions().await.unwrap_err();
        assert!(e.is_not_connected(), "{e:?}");

        p.update(
            Options::new()
                .set("hostname", "x2go2.example.org")
                .set("port", 22u16),
        )
        .await
        .unwrap();
        assert_eq!(p.hostname().await.unwrap(), "x2go2.example.org");
        assert_eq!(p.port().await.unwrap(), 22);
        assert_eq!(p.username().await.unwrap(), "alice");

        // A rename moves the object: the old handle is gone, the new one works.
        let renamed = p.rename("büro").await.unwrap();
        assert_eq!(renamed.name().await.unwrap(), "büro");
        assert_eq!(renamed.id().name, "büro");
        let e = p.state().await.unwrap_err();
        assert!(e.is_not_found(), "stale handle: {e:?}");
        let listed = client.profiles().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].path(), renamed.path());
        let again = client
            .profile_at(renamed.path().to_owned().into())
            .await
            .unwrap();
        assert_eq!(again.name().await.unwrap(), "büro");

        client.remove_profile("büro").await.unwrap();
        assert!(client.profiles().await.unwrap().is_empty());
        let e = client.remove_profile("büro").await.unwrap_err();
        assert!(e.is_not_found(), "{e:?}");

        // Each change once, in order: the manager's own signals duplicate the object
        // manager's and are not reported twice.
        let got = drain(&mut events, Duration::from_secs(1)).await;
        assert_eq!(
            names(&got),
            vec![
                "profile office added (disconnected)",
                "profile office removed",
                "profile büro added (disconnected)",
                "profile büro removed",
            ],
        );
        assert_eq!(
            got[2].profile().unwrap().path,
            zbus::OwnedObjectPath::from(renamed.path().to_owned())
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_queries_and_host_keys_against_the_lab() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let client = d.client().await;
        let user = lab.var("SSH_USER");
        // No known_hosts in HOME: the first connect meets an unknown key.
        let p = client
            .create_profile(
                "queries",
                lab.profile_settings(&user)
                    .set("key_filename", lab.var("SSH_KEY")),
            )
            .await
            .unwrap();
        assert!(!p.check_host().await.unwrap());
        let e = p.connect(Options::new()).await.unwrap_err();
        assert!(matches!(e, Error::HostKeyUnknown(_)), "{e:?}");
        assert!(e.is_host_key() && !e.is_auth());
        let fp = e
            .fingerprint()
            .expect("a fingerprint in the message")
            .to_owned();
        assert!(
            fp.starts_with("SHA256:") && fp.len() == "SHA256:".len() + 43,
            "{fp}"
        );
        let e = p
            .trust_host_key("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .await;
        assert!(matches!(e, Err(Error::InvalidArgument(_))), "{e:?}");
        p.trust_host_key(&fp).await.unwrap();
        assert!(p.check_host().await.unwrap());

        // A wrong password is AuthFailed, typed.
        let pw = client
            .create_profile(
                "pw",
                lab.profile_settings(&user).set("force_password_auth", true),
            )
            .await
            .unwrap();
        let e = pw
            .connect(Options::new().set("password", "Wr0ng-x2god"))
            .await
            .unwrap_err();
        assert!(e.is_auth(), "{e:?}");
        assert!(!pw.last_error().await.unwrap().is_empty());
        pw.connect(Options::new().set("password", lab.var("SSH_PASSWORD")))
            .await
            .unwrap();
        pw.disconnect().await.unwrap();

        p.connect(Options::new()).await.unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
        assert!(p.is_connected().await.unwrap());
        assert!(p.is_alive().await.unwrap());
        assert!(!p.has_session_died().await.unwrap());
        assert_eq!(p.remote_username().await.unwrap(), user);
        assert_eq!(
            p.remote_peername().await.unwrap(),
            format!("127.0.0.1:{}", lab.port())
        );
        let info = p.info().await.unwrap();
        assert_eq!(info.state, ConnectionState::Connected);
        assert_eq!(info.remote_username, user);

        assert!(p.home_exists().await.unwrap());
        assert!(p.is_x2go_user(&user).await.unwrap());
        assert!(!p.is_x2go_user("nosuchuser-x2god").await.unwrap());
        let e = p.is_x2go_user("a;id").await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert_eq!(
            p.is_sshfs_available().await.unwrap(),
            user == lab.var("SSHFS_AVAILABLE_USER")
        );
        let features = p.server_features(false).await.unwrap();
        assert!(!features.is_empty());
        assert_eq!(p.server_features(true).await.unwrap(), features);
        assert!(
            p.server_versions(false)
                .await
                .unwrap()
                .contains_key("x2goserver")
        );

        // Other tests use the same lab user at the same time: the two listings need not
        // agree, but every typed row must be a line of a listing.
        let listed = p.list_sessions().await.unwrap();
        let raw = p.list_sessions_raw().await.unwrap();
        for s in &listed {
            assert!(!s.name.is_empty() && s.name.starts_with(&user), "{s:?}");
            assert!(s.agent_pid > 0 && s.display > 0, "{s:?}");
            assert!(matches!(
                s.state(),
                SessionState::Running | SessionState::Suspended
            ));
            assert_ne!(
                p.session_state(&s.name).await.unwrap(),
                SessionState::Unknown
            );
        }
        assert!(
            raw.lines().all(|l| l.trim().is_empty() || l.contains('|')),
            "{raw}"
        );
        let never = "x2gotest-99-1700000000_stRxterm_dp24";
        assert_eq!(p.session_state(never).await.unwrap(), SessionState::Unknown);
        assert!(p.is_running(never).await.unwrap_err().is_not_found());
        assert!(p.is_suspended(never).await.unwrap_err().is_not_found());
        assert!(p.has_terminated(never).await.unwrap_err().is_not_found());
        let e = p
            .resume(never, Options::new().set("display", lab.var("X_DISPLAY")))
            .await
            .unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
        let e = p.list_mounts(never, Options::new()).await.unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
        let gone = p.session(never).await.unwrap();
        assert_eq!(gone.name(), never);
        assert!(gone.state().await.unwrap_err().is_not_found());

        // The lab publishes applications: a menu with typed entries and icons.
        let apps = p.published_applications(Options::new()).await.unwrap();
        let entries: Vec<_> = apps.menu.values().flatten().collect();
        assert!(!entries.is_empty(), "{apps:?}");
        assert!(
            entries
                .iter()
                .all(|a| !a.name.is_empty() && !a.exec.is_empty())
        );
        assert!(entries.iter().any(|a| !a.icon.is_empty()), "no icon at all");
        let raw = p
            .published_applications(Options::new().set("very_raw", true))
            .await
            .unwrap();
        assert!(raw.menu.is_empty() && raw.raw.contains_key("text"));

        // The user's own desktops: none is running in the lab unless another test shows one;
        // the call itself must work and give typed rows.
        for desk in p.list_desktops(Options::new()).await.unwrap() {
            assert!(desk.desktop.contains('@'), "{desk:?}");
            assert!(!desk.user.is_empty());
        }

        p.disconnect().await.unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Disconnected);
        assert!(p.home_exists().await.unwrap_err().is_not_connected());
    })
    .await;
}

fn xterm() -> Options {
    Options::new()
        .set("cmd", "xterm")
        .set("session_type", "application")
        .set("geometry", "800x600")
}

async fn wait_local(s: &x2god_client::SessionHandle, want: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.is_local().await.unwrap() != want {
        assert!(Instant::now() < deadline, "Local never became {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_lifecycle_through_handles_and_its_events() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "life").await;
        let client = d.client().await;
        let mut events = client.events().await.unwrap();

        let s = p.start(xterm()).await.unwrap();
        let name = s.name().to_owned();
        assert!(s.path().as_str().contains("/session/"), "{}", s.path());
        assert_eq!(s.state().await.unwrap(), SessionState::Running);
        wait_local(&s, true).await;
        let details = s.details().await.unwrap();
        assert_eq!(details.name, name);
        assert_eq!(details.state, SessionState::Running);
        assert_eq!(details.session_type, "application");
        assert_eq!(
            details.profile.as_ref().map(|p| p.as_str()),
            Some(p.path().as_str())
        );
        assert_eq!(details.username, lab.var("SSH_USER"));
        assert!(details.display > 0 && details.agent_pid > 0);
        assert_eq!(s.command().await.unwrap(), details.command);
        assert_eq!(s.display().await.unwrap(), details.display);
        assert!(p.is_running(&name).await.unwrap());
        let listed = p.list_sessions().await.unwrap();
        let row = listed.iter().find(|r| r.name == name).expect("listed");
        assert_eq!(row.state(), SessionState::Running);
        // The handle a client gets from an event's path is the same object.
        let same = client.session_at(s.path().to_owned().into()).await.unwrap();
        assert_eq!(same.name(), name);
        assert!(
            p.list_mounts(&name, Options::new())
                .await
                .unwrap()
                .is_empty()
        );

        s.suspend().await.unwrap();
        assert_eq!(s.state().await.unwrap(), SessionState::Suspended);
        assert!(p.is_suspended(&name).await.unwrap());
        wait_local(&s, false).await;
        p.resume(&name, Options::new()).await.unwrap();
        assert_eq!(s.state().await.unwrap(), SessionState::Running);
        wait_local(&s, true).await;
        s.terminate().await.unwrap();
        assert!(p.has_terminated(&name).await.unwrap());
        assert_eq!(
            p.session_state(&name).await.unwrap(),
            SessionState::Terminated
        );
        let e = s.state().await.unwrap_err();
        assert!(e.is_not_found(), "the object went with the session: {e:?}");

        // Each change exactly once, in order, with the profile and the cause.
        let mine = |e: &Event| e.session().is_some_and(|x| x.name == name);
        let got = until(&mut events, "the session's removal", mine, |e| {
            mine(e) && matches!(e, Event::SessionRemoved { .. })
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let stray: Vec<_> = drain(&mut events, Duration::from_millis(500))
            .await
            .into_iter()
            .filter(mine)
            .collect();
        assert!(stray.is_empty(), "after removal: {stray:?}");
        let id = p.id();
        let sid = s.id();
        assert_eq!(
            got,
            vec![
                Event::SessionAdded {
                    profile: id.clone(),
                    session: sid.clone(),
                    state: SessionState::Running,
                    cause: Cause::Requested,
                },
                Event::SessionStateChanged {
                    profile: id.clone(),
                    session: sid.clone(),
                    old: SessionState::Running,
                    new: SessionState::Suspended,
                    cause: Cause::Requested,
                },
                Event::SessionStateChanged {
                    profile: id.clone(),
                    session: sid.clone(),
                    old: SessionState::Suspended,
                    new: SessionState::Running,
                    cause: Cause::Requested,
                },
                Event::SessionRemoved {
                    profile: id,
                    session: sid,
                    cause: Cause::Requested,
                },
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_keep_coming_across_a_daemon_restart() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let mut d = Daemon::start().await;
        let client = d.client().await;
        let mut events = client.events().await.unwrap();
        let p = connected(&d, &lab, "steady").await;
        let before = until(
            &mut events,
            "connected",
            |e| e.session().is_none(),
            |e| {
                matches!(
                    e,
                    Event::ConnectionStateChanged {
                        state: ConnectionState::Connected,
                        ..
                    }
                )
            },
        )
        .await;
        assert_eq!(
            names(&before)
                .iter()
                .map(|l| l.split(':').next().unwrap_or_default().to_owned())
                .collect::<Vec<_>>(),
            vec![
                "profile steady added (disconnected)",
                "profile steady connecting",
                "profile steady connected",
            ]
        );

        // The daemon goes: whatever it says on its way out comes before DaemonLost.
        d.stop();
        let lost = until(
            &mut events,
            "DaemonLost",
            |e| e.session().is_none(),
            |e| *e == Event::DaemonLost,
        )
        .await;
        for e in &lost[..lost.len() - 1] {
            assert!(
                matches!(e, Event::ConnectionStateChanged { .. }),
                "before DaemonLost: {e}"
            );
        }
        assert!(
            client
                .profile("steady")
                .await
                .unwrap_err()
                .is_daemon_unavailable()
        );

        // It comes back on the same bus and HOME: restarted, then the resync, then live.
        d.restart().await;
        assert_eq!(
            next(&mut events, "DaemonRestarted").await,
            Event::DaemonRestarted
        );
        let resync = until(
            &mut events,
            "Synced",
            |e| e.session().is_none(),
            |e| *e == Event::Synced,
        )
        .await;
        assert_eq!(
            resync,
            vec![
                Event::ProfileAdded {
                    profile: p.id(),
                    state: ConnectionState::Disconnected,
                },
                Event::Synced,
            ]
        );

        // The old handle names the well-known bus name, so it works with the new daemon.
        p.connect(Options::new()).await.unwrap();
        let again = until(
            &mut events,
            "connected again",
            |e| e.session().is_none(),
            |e| {
                matches!(
                    e,
                    Event::ConnectionStateChanged {
                        state: ConnectionState::Connected,
                        ..
                    }
                )
            },
        )
        .await;
        assert_eq!(
            again
                .iter()
                .map(|e| match e {
                    Event::ConnectionStateChanged { profile, state, .. } =>
                        format!("{} {state}", profile.name),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>(),
            vec!["steady connecting", "steady connected"]
        );
        client
            .create_profile("later", Options::new().set("hostname", "x2go.example.org"))
            .await
            .unwrap();
        let added = until(
            &mut events,
            "the new profile",
            |_| true,
            profile_added("later"),
        )
        .await;
        assert_eq!(
            added.last().map(ToString::to_string).as_deref(),
            Some("profile later added (disconnected)")
        );

        // A crash is noticed as well.
        d.crash();
        until(
            &mut events,
            "DaemonLost after a crash",
            |_| true,
            |e| *e == Event::DaemonLost,
        )
        .await;
        d.restart().await;
        assert_eq!(
            next(&mut events, "DaemonRestarted").await,
            Event::DaemonRestarted
        );
        let resync = until(&mut events, "Synced", |_| true, |e| *e == Event::Synced).await;
        let profiles: Vec<_> = resync
            .iter()
            .filter_map(|e| match e {
                Event::ProfileAdded { profile, .. } => Some(profile.name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(profiles, vec!["later", "steady"], "by name");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_profile_moves_its_sessions_in_the_events() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start().await;
        let user = lab.var("SSH_USER");
        let p = connected(&d, &lab, "before").await;
        let client = d.client().await;
        let mut events = client.events().await.unwrap();
        // Started over plain OpenSSH: x2god learns of it from its watcher.
        let name = crate::listing::start_session(&user);
        let mine = |e: &Event| e.session().is_none_or(|s| s.name == name);
        // The session may change state by itself meanwhile (no client shows it).
        let relevant = |e: &Event| mine(e) && !matches!(e, Event::SessionStateChanged { .. });
        let added = until(&mut events, "the session from OpenSSH", relevant, |e| {
            matches!(e, Event::SessionAdded { session, .. } if session.name == name)
        })
        .await;
        assert!(
            matches!(added.last(), Some(Event::SessionAdded { cause: Cause::External, profile, .. }) if profile.name == "before"),
            "{added:?}"
        );

        let renamed = p.rename("after").await.unwrap();
        let moved = until(&mut events, "the session under the new name", relevant, |e| {
            matches!(e, Event::SessionAdded { profile, session, .. }
                if profile.name == "after" && session.name == name)
        })
        .await;
        assert_eq!(
            names(&moved[..3]),
            vec![
                format!("session {name} of before removed (sync)"),
                "profile before removed".to_owned(),
                "profile after added (connected)".to_owned(),
            ]
        );
        // Normally the moved object is adopted (cause Sync); if the watcher reports a change of
        // the session first, that report introduces it.
        let session = match moved.get(3) {
            Some(Event::SessionAdded {
                session,
                cause: Cause::Sync | Cause::External,
                ..
            }) if moved.len() == 4 => session.clone(),
            _ => panic!("{moved:?}"),
        };
        assert_eq!(session.path, x2god_proto::path::session_path("after", &name));

        renamed.terminate(&name).await.unwrap();
        let gone = until(&mut events, "the removal", relevant, |e| {
            matches!(e, Event::SessionRemoved { session, .. } if session.name == name)
        })
        .await;
        assert_eq!(
            gone,
            vec![Event::SessionRemoved {
                profile: renamed.id(),
                session,
                cause: Cause::Requested,
            }]
        );
    })
    .await;
}

/// A stand-in for the daemon's manager that records agent registrations, so the agent side
/// of the library is tested whatever the daemon under development serves.
struct StandIn {
    conn: zbus::Connection,
    registered: Arc<Mutex<Vec<(String, String)>>>,
}

struct StandInManager {
    registered: Arc<Mutex<Vec<(String, String)>>>,
}

#[zbus::interface(name = "org.x2go.Control1.Manager")]
impl StandInManager {
    async fn register_agent(
        &self,
        agent: zbus::OwnedObjectPath,
        #[zbus(header)] hdr: zbus::message::Header<'_>,
    ) {
        let sender = hdr.sender().map(|s| s.to_string()).unwrap_or_default();
        self.registered
            .lock()
            .unwrap()
            .push((sender, format!("register {}", agent.as_str())));
    }

    async fn unregister_agent(
        &self,
        agent: zbus::OwnedObjectPath,
        #[zbus(header)] hdr: zbus::message::Header<'_>,
    ) {
        let sender = hdr.sender().map(|s| s.to_string()).unwrap_or_default();
        self.registered
            .lock()
            .unwrap()
            .push((sender, format!("unregister {}", agent.as_str())));
    }
}

impl StandIn {
    async fn start(bus: &x2god_tests::Bus) -> StandIn {
        let registered = Arc::new(Mutex::new(Vec::new()));
        let conn = zbus::connection::Builder::address(bus.address.as_str())
            .serve_at(
                x2god_proto::names::ROOT_PATH,
                StandInManager {
                    registered: registered.clone(),
                },
            )
            .name(x2god_proto::names::BUS_NAME)
            .build()
            .await
            .unwrap();
        StandIn { conn, registered }
    }

    /// Waits for the `n`th registration record and returns (sender, what).
    async fn record(&self, n: usize) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(r) = self.registered.lock().unwrap().get(n) {
                return r.clone();
            }
            assert!(Instant::now() < deadline, "no registration record {n}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The registered agent, called as the daemon would.
    async fn agent(&self, owner: &str) -> x2god_proto::proxy::AgentProxy<'static> {
        x2god_proto::proxy::AgentProxy::builder(&self.conn)
            .destination(owner.to_owned())
            .path(x2god_client::AGENT_PATH)
            .build()
            .await
            .unwrap()
    }
}

fn error_name(r: zbus::Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(zbus::Error::MethodError(name, _, _)) => name.to_string(),
        other => panic!("expected a D-Bus error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_serves_answers_declines_cancels_and_follows_the_daemon() {
    bounded(async {
        let bus = x2god_tests::Bus::start();
        let daemon = StandIn::start(&bus).await;
        let client = Client::with_connection(bus.connect().await).await.unwrap();
        let me = client.connection().unique_name().unwrap().to_string();
        let cancelled = Arc::new(std::sync::atomic::AtomicBool::new(false));

        struct Test {
            cancelled: Arc<std::sync::atomic::AtomicBool>,
        }
        impl x2god_client::Agent for Test {
            async fn request_secret(&self, req: SecretRequest) -> Result<String, Declined> {
                match req.kind {
                    SecretKind::Password => Ok(format!("pw for {}", req.profile.name)),
                    SecretKind::Response => {
                        // Nobody answers: only a Cancel ends this.
                        std::future::pending::<()>().await;
                        unreachable!()
                    }
                    _ => Err(Declined::new("not that one")),
                }
            }
            async fn confirm_host_key(
                &self,
                req: x2god_client::HostKeyRequest,
            ) -> Result<bool, Declined> {
                Ok(req.fingerprint == "SHA256:good" && req.host == "[h]:2222")
            }
            fn cancel(&self) {
                self.cancelled
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }

        let guard = client
            .register_agent(Test {
                cancelled: cancelled.clone(),
            })
            .await
            .unwrap();
        assert_eq!(
            daemon.record(0).await,
            (me.clone(), format!("register {}", x2god_client::AGENT_PATH))
        );
        let agent = daemon.agent(&me).await;
        let office = x2god_proto::path::profile_path("my office");
        assert_eq!(
            agent
                .request_secret(&office.as_ref(), "password", "Password: ")
                .await
                .unwrap(),
            "pw for my office"
        );
        assert_eq!(
            error_name(
                agent
                    .request_secret(&office.as_ref(), "passphrase", "?")
                    .await
            ),
            "org.x2go.Control1.Error.Cancelled"
        );
        assert!(
            agent
                .confirm_host_key(&office.as_ref(), "[h]:2222", "ssh-ed25519", "SHA256:good")
                .await
                .unwrap()
        );
        assert!(
            !agent
                .confirm_host_key(&office.as_ref(), "[h]:2222", "ssh-ed25519", "SHA256:bad")
                .await
                .unwrap()
        );

        // A question nobody answers ends with the daemon's Cancel.
        let pending = {
            let agent = agent.clone();
            let office = office.clone();
            tokio::spawn(async move {
                agent
                    .request_secret(&office.as_ref(), "response", "Verification code: ")
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        agent.cancel().await.unwrap();
        assert_eq!(
            error_name(pending.await.unwrap()),
            "org.x2go.Control1.Error.Cancelled"
        );
        assert!(cancelled.load(std::sync::atomic::Ordering::SeqCst));

        // Nobody but the daemon may ask: the answer would go to them.
        let stranger = x2god_proto::proxy::AgentProxy::builder(&bus.connect().await)
            .destination(me.clone())
            .path(x2god_client::AGENT_PATH)
            .build()
            .await
            .unwrap();
        let e = stranger
            .request_secret(&office.as_ref(), "password", "Password: ")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("only org.x2go.Control1"), "{e}");

        // The daemon restarts: the registration is renewed by itself.
        daemon
            .conn
            .release_name(x2god_proto::names::BUS_NAME)
            .await
            .unwrap();
        let again = StandIn::start(&bus).await;
        assert_eq!(
            again.record(0).await,
            (me.clone(), format!("register {}", x2god_client::AGENT_PATH))
        );
        assert_eq!(
            again
                .agent(&me)
                .await
                .request_secret(&office.as_ref(), "password", "Password: ")
                .await
                .unwrap(),
            "pw for my office"
        );

        guard.unregister().await.unwrap();
        assert_eq!(
            again.record(1).await,
            (
                me.clone(),
                format!("unregister {}", x2god_client::AGENT_PATH)
            )
        );
        let e = again
            .agent(&me)
            .await
            .request_secret(&office.as_ref(), "password", "Password: ")
            .await;
        assert!(e.is_err(), "still served after unregister: {e:?}");
        // A new registration is possible once the old one ended.
        let guard = client
            .register_agent(FnAgent::new(|_: SecretRequest| async {
                Ok("x".to_owned())
            }))
            .await
            .unwrap();
        drop(guard);
        assert_eq!(
            again.record(3).await,
            (
                me.clone(),
                format!("unregister {}", x2god_client::AGENT_PATH)
            ),
            "dropping the guard unregisters"
        );
    })
    .await;
}

/// What the agent was asked, in order.
type Asked = Arc<Mutex<Vec<SecretRequest>>>;

fn password_agent(asked: Asked, answer: Option<String>) -> impl x2god_client::Agent {
    FnAgent::new(move |req: SecretRequest| {
        let (asked, answer) = (asked.clone(), answer.clone());
        async move {
            asked.lock().unwrap().push(req.clone());
            match (req.kind, answer) {
                (SecretKind::Password, Some(a)) => Ok(a),
                _ => Err(Declined::new("the test person says no")),
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_answers_password_and_host_key_questions() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let mut d = Daemon::start().await;
        let client = d.client().await;
        let user = lab.var("SSH_USER");
        lab.trust_in_home(d.home.path());
        let p = client
            .create_profile(
                "asked",
                lab.profile_settings(&user).set("force_password_auth", true),
            )
            .await
            .unwrap();

        // Without an agent there is nobody to ask.
        assert!(p.connect(Options::new()).await.is_err());

        // An agent that declines: the connect fails with Cancelled, typed.
        let asked: Asked = Arc::default();
        let guard = client
            .register_agent(password_agent(asked.clone(), None))
            .await
            .unwrap();
        let e = client
            .register_agent(password_agent(asked.clone(), None))
            .await;
        assert!(
            matches!(e, Err(Error::AlreadyExists(_))),
            "one agent per connection"
        );
        let e = p.connect(Options::new()).await.unwrap_err();
        assert!(e.is_cancelled(), "{e:?}");
        assert!(e.message().contains("the test person says no"), "{e:?}");
        guard.unregister().await.unwrap();

        // One that answers: its password is used.
        let asked: Asked = Arc::default();
        let guard = client
            .register_agent(password_agent(asked.clone(), Some(lab.var("SSH_PASSWORD"))))
            .await
            .unwrap();
        p.connect(Options::new()).await.unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
        {
            let asked = asked.lock().unwrap();
            assert!(!asked.is_empty(), "the agent was not asked");
            assert_eq!(asked[0].kind, SecretKind::Password);
            assert_eq!(asked[0].profile, p.id());
        }
        p.disconnect().await.unwrap();

        // The registration follows the daemon through a restart.
        d.restart().await;
        asked.lock().unwrap().clear();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match p.connect(Options::new()).await {
                Ok(()) => break,
                // The re-registration races the first call after the restart.
                Err(e) if Instant::now() < deadline => {
                    eprintln!("not yet: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the agent was not registered again: {e:?}"),
            }
        }
        assert!(!asked.lock().unwrap().is_empty());
        p.disconnect().await.unwrap();

        // Unregistered: nobody answers any more.
        guard.unregister().await.unwrap();
        assert!(p.connect(Options::new()).await.is_err());

        // An unknown host key is put to the agent, whose yes is learned.
        std::fs::remove_file(d.home.path().join(".ssh/known_hosts")).unwrap();
        let k = client
            .create_profile(
                "hostkey",
                lab.profile_settings(&user)
                    .set("key_filename", lab.var("SSH_KEY")),
            )
            .await
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let agent = FnAgent::new(|_req: SecretRequest| async { Err(Declined::default()) })
            .on_host_key({
                let seen = seen.clone();
                move |req| {
                    seen.lock().unwrap().push(req);
                    async { Ok(true) }
                }
            });
        let guard = client.register_agent(agent).await.unwrap();
        k.connect(Options::new()).await.unwrap();
        {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 1, "{seen:?}");
            assert!(seen[0].fingerprint.starts_with("SHA256:"), "{:?}", seen[0]);
            assert!(seen[0].key_type.starts_with("ssh-") || seen[0].key_type.starts_with("ecdsa"));
            assert_eq!(seen[0].profile, k.id());
        }
        assert!(
            k.check_host().await.unwrap(),
            "the accepted key was learned"
        );
        drop(guard);
    })
    .await;
}

/// A profile handle survives nothing it should not: calls on a removed profile are NotFound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_of_removed_objects_say_not_found() {
    bounded(async {
        let d = Daemon::start().await;
        let client = d.client().await;
        let p: Profile = client
            .create_profile("short", Options::new().set("hostname", "x2go.example.org"))
            .await
            .unwrap();
        client.remove_profile("short").await.unwrap();
        for e in [
            p.state().await.unwrap_err(),
            p.connect(Options::new()).await.unwrap_err(),
            p.info().await.unwrap_err(),
            p.list_sessions().await.unwrap_err(),
        ] {
            assert!(e.is_not_found(), "{e:?}");
        }
    })
    .await;
}
