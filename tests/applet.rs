//! The example tray applet (`x2god-tray`), driven as a panel drives it: the test serves the
//! StatusNotifierWatcher the applet registers with and a notification server, reads the
//! applet's menu over `com.canonical.dbusmenu` and clicks its entries. What a click does is
//! checked on the lab server itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use x2god_client::{ConnectionState, Options, Profile};
use x2god_tests::{Daemon, Lab, wait_until};
use zbus::object_server::SignalEmitter;
use zbus::{OwnedVariant, Variant};

use crate::{GRAPHICAL, bounded, connected};

/// Path of the applet built by `cargo build` (tests/run builds every binary first).
fn applet_binary() -> PathBuf {
    if let Ok(p) = std::env::var("X2GOD_TRAY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("x2god-tray");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p x2god-tray` (tests/run does)",
        bin.display()
    );
    let built = std::fs::metadata(&bin).unwrap().modified().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../applet/src");
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let changed = entry.metadata().unwrap().modified().unwrap();
        assert!(
            built >= changed,
            "{} is older than {}: run `cargo build -p x2god-tray`",
            bin.display(),
            entry.path().display()
        );
    }
    bin
}

/// The applet process on the daemon's bus; killed on drop.
struct Applet {
    child: Child,
    log: PathBuf,
    _home: tempfile::TempDir,
}

impl Applet {
    fn start(d: &Daemon, env: &[(&str, &str)]) -> Applet {
        let home = tempfile::tempdir().unwrap();
        let log = home.path().join("x2god-tray.log");
        let mut cmd = Command::new(applet_binary());
        // No DISPLAY: no zenity or kdialog, whatever is installed; only what `env` sets.
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("DBUS_SESSION_BUS_ADDRESS", &d.bus.address)
            .env("X2GOD_TRAY_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Applet {
            child: cmd.spawn().expect("start x2god-tray"),
            log,
            _home: home,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Applet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The panel's StatusNotifierWatcher: records who registers.
struct Watcher {
    items: Arc<Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    async fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] hdr: zbus::message::Header<'_>,
        #[zbus(signal_emitter)] em: SignalEmitter<'_>,
    ) {
        // The spec: a path alone means the sender serves the item.
        let full = if service.starts_with('/') {
            format!(
                "{}{service}",
                hdr.sender().map(|s| s.to_string()).unwrap_or_default()
            )
        } else {
            service.to_owned()
        };
        self.items.lock().unwrap().push(full.clone());
        let _ = Self::status_notifier_item_registered(&em, &full).await;
    }

    async fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap().clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(signal)]
    async fn status_notifier_item_registered(
        em: &SignalEmitter<'_>,
        service: &str,
    ) -> zbus::Result<()>;
}

/// One `Notify` call the notification server received.
#[derive(Debug, Clone)]
struct Notified {
    summary: String,
    body: String,
    actions: Vec<String>,
}

/// The desktop's notification server: records every notification and, if told to, picks
/// the action `answer` of a notification offering it.
struct Notifications {
    seen: Arc<Mutex<Vec<Notified>>>,
    next: AtomicU32,
    answer: Option<&'static str>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        _app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedVariant>,
        _expire_timeout: i32,
        #[zbus(signal_emitter)] em: SignalEmitter<'_>,
    ) -> u32 {
        let id = if replaces_id != 0 {
            replaces_id
        } else {
            self.next.fetch_add(1, Ordering::SeqCst) + 1
        };
        if let Some(answer) = self.answer
            && actions.iter().step_by(2).any(|k| k == answer)
        {
            let em = em.to_owned();
            tokio::spawn(async move {
                // A person takes a moment; the reply to Notify goes out first.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = Notifications::action_invoked(&em, id, answer).await;
            });
        }
        self.seen.lock().unwrap().push(Notified {
            summary,
            body,
            actions,
        });
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    fn close_notification(&self, _id: u32) {}

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "stand-in".into(),
            "x2god tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    #[zbus(signal)]
    async fn action_invoked(em: &SignalEmitter<'_>, id: u32, action_key: &str) -> zbus::Result<()>;
}

/// What a desktop provides the applet: a watcher and a notification server, on one
/// connection, which also reads and clicks the applet's menu.
struct Panel {
    conn: zbus::Connection,
    items: Arc<Mutex<Vec<String>>>,
    notes: Arc<Mutex<Vec<Notified>>>,
}

impl Panel {
    async fn start(d: &Daemon, answer: Option<&'static str>) -> Panel {
        let conn = d.bus.connect().await;
        let items = Arc::new(Mutex::new(Vec::new()));
        let notes = Arc::new(Mutex::new(Vec::new()));
        conn.object_server()
            .at(
                "/StatusNotifierWatcher",
                Watcher {
                    items: items.clone(),
                },
            )
            .await
            .unwrap();
        conn.object_server()
            .at(
                "/org/freedesktop/Notifications",
                Notifications {
                    seen: notes.clone(),
                    next: AtomicU32::new(0),
                    answer,
                },
            )
            .await
            .unwrap();
        conn.request_name("org.kde.StatusNotifierWatcher")
            .await
            .unwrap();
        conn.request_name("org.freedesktop.Notifications")
            .await
            .unwrap();
        Panel { conn, items, notes }
    }

    /// The bus name of `applet`'s item, once it registered.
    async fn item_of(&self, applet: &Applet) -> String {
        let pid = format!("-{}-", applet.child.id());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self
                .items
                .lock()
                .unwrap()
                .iter()
                .find(|i| i.contains(&pid))
                .cloned();
            if let Some(item) = found {
                // `name` or `name/path`: the menu is served by that name.
                return item.split('/').next().unwrap().to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "the applet did not register with the watcher:\n{}",
                applet.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn notes(&self) -> Vec<Notified> {
        self.notes.lock().unwrap().clone()
    }
}

/// One entry of the applet's menu as dbusmenu reports it.
#[derive(Debug, Clone)]
struct Node {
    id: i32,
    label: String,
    enabled: bool,
    children: Vec<Node>,
}

impl Node {
    /// The first entry (depth first) whose label satisfies `pred`.
    fn find(&self, pred: &dyn Fn(&Node) -> bool) -> Option<&Node> {
        if pred(self) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(pred))
    }

    fn child(&self, label: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.label == label)
    }

    fn dump(&self, depth: usize, out: &mut String) {
        out.push_str(&format!(
            "{}{} {}{}\n",
            "  ".repeat(depth),
            self.id,
            self.label,
            if self.enabled { "" } else { " (disabled)" }
        ));
        for c in &self.children {
            c.dump(depth + 1, out);
        }
    }
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.dump(0, &mut s);
        f.write_str(&s)
    }
}

/// A dbusmenu label as shown: `__` is an underscore, a single `_` marks the access key.
fn shown(label: &str) -> String {
    let mut out = String::new();
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            if chars.peek() == Some(&'_') {
                chars.next();
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn node(v: &Variant<'_>) -> Option<Node> {
    match v {
        Variant::Variant(inner) => node(inner),
        Variant::Structure(s) => {
            let [Variant::I32(id), props, Variant::Array(children)] = s.fields() else {
                return None;
            };
            let mut n = Node {
                id: *id,
                label: String::new(),
                enabled: true,
                children: children.inner().iter().filter_map(node).collect(),
            };
            if let Variant::Dict(d) = props {
                for (k, v) in d.iter() {
                    let v = match v {
                        Variant::Variant(inner) => &**inner,
                        v => v,
                    };
                    match (k, v) {
                        (Variant::Str(k), Variant::Str(s)) if k.as_str() == "label" => {
                            n.label = shown(s.as_str())
                        }
                        (Variant::Str(k), Variant::Bool(b)) if k.as_str() == "enabled" => {
                            n.enabled = *b
                        }
                        _ => {}
                    }
                }
            }
            Some(n)
        }
        _ => None,
    }
}

type Layout = (i32, HashMap<String, OwnedVariant>, Vec<OwnedVariant>);

/// The whole menu (`GetLayout(0, -1, [])`).
async fn menu(conn: &zbus::Connection, service: &str) -> Node {
    let reply = conn
        .call_method(
            Some(service),
            "/MenuBar",
            Some("com.canonical.dbusmenu"),
            "GetLayout",
            &(0i32, -1i32, Vec::<String>::new()),
        )
        .await
        .unwrap();
    let (_revision, (id, _props, children)): (u32, Layout) = reply.body().deserialize().unwrap();
    Node {
        id,
        label: String::new(),
        enabled: true,
        children: children.iter().filter_map(|c| node(c)).collect(),
    }
}

/// Waits until the menu satisfies `ok` and returns it.
async fn menu_until(
    panel: &Panel,
    service: &str,
    applet: &Applet,
    what: &str,
    ok: impl Fn(&Node) -> bool,
) -> Node {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = menu(&panel.conn, service).await;
        if ok(&m) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "the menu never showed {what}:\n{m}\napplet log:\n{}",
            applet.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the enabled entry `action` in the submenu whose label starts with `owner`. The
/// layout may change between reading and clicking (ids are renewed then, and the click is
/// refused): it is read again and retried.
async fn click(panel: &Panel, service: &str, applet: &Applet, owner: &str, action: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = menu(&panel.conn, service).await;
        let target = m
            .find(&|n| n.label.starts_with(owner) && !n.children.is_empty())
            .and_then(|sub| sub.child(action))
            .filter(|n| n.enabled);
        if let Some(t) = target {
            let r = panel
                .conn
                .call_method(
                    Some(service),
                    "/MenuBar",
                    Some("com.canonical.dbusmenu"),
                    "Event",
                    &(t.id, "clicked", Variant::from(""), 0u32),
                )
                .await;
            if r.is_ok() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no enabled {action:?} under {owner:?} could be clicked:\n{m}\napplet log:\n{}",
            applet.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status column (`R`/`S`) of session `name` in the server's own listing, via OpenSSH.
fn server_status(lab: &Lab, user: &str, name: &str) -> Option<String> {
    lab.ssh(user, "x2golistsessions").lines().find_map(|l| {
        let f: Vec<&str> = l.split('|').collect();
        (f.get(1) == Some(&name)).then(|| f.get(4).unwrap_or(&"").to_string())
    })
}

async fn wait_state(p: &Profile, state: ConnectionState, applet: &Applet) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while p.state().await.unwrap() != state {
        assert!(
            Instant::now() < deadline,
            "the profile never became {state} (last error {:?}); applet log:\n{}",
            p.last_error().await,
            applet.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menu_shows_sessions_and_suspends_and_terminates_them() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "applet").await;
        let user = lab.var("SSH_USER");
        let opts = Options::new()
            .set("cmd", "xterm")
            .set("session_type", "application")
            .set("geometry", "800x600");
        let (name, _) = p.proxy().start(opts.as_call_arg()).await.unwrap();
        assert_eq!(server_status(&lab, &user, &name).as_deref(), Some("R"));

        let panel = Panel::start(&d, None).await;
        let applet = Applet::start(&d, &[]);
        let service = panel.item_of(&applet).await;

        // The profile with its state, the session below it with its state.
        let running = format!("{name} — running");
        let m = menu_until(&panel, &service, &applet, "the running session", |m| {
            m.find(&|n| n.label == running).is_some()
        })
        .await;
        let profile = m.find(&|n| n.label == "applet — connected").unwrap();
        assert!(
            profile.find(&|n| n.label == running).is_some(),
            "the session is not under its profile:\n{m}"
        );
        let session = profile.find(&|n| n.label == running).unwrap();
        let enabled: Vec<(&str, bool)> = session
            .children
            .iter()
            .map(|c| (c.label.as_str(), c.enabled))
            .collect();
        assert_eq!(
            enabled,
            vec![
                ("Resume", false),
                ("Suspend", true),
                ("Terminate", true),
                ("Share folder…", true)
            ],
            "{m}"
        );

        // What the applet found at start-up is shown, not announced.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            panel.notes().iter().all(|n| !n.body.contains(&name)),
            "{:?}",
            panel.notes()
        );

        click(&panel, &service, &applet, &name, "Suspend").await;
        wait_until(
            "the server to list the session as suspended",
            Duration::from_secs(30),
            || server_status(&lab, &user, &name).as_deref() == Some("S"),
        )
        .await;
        let st = p.list_sessions().await.unwrap();
        assert_eq!(
            st.iter()
                .find(|s| s.name == name)
                .map(|s| s.status.as_str()),
            Some("S")
        );
        let suspended = format!("{name} — suspended");
        let m = menu_until(&panel, &service, &applet, "the suspended session", |m| {
            m.find(&|n| n.label == suspended)
                .and_then(|s| s.child("Resume"))
                .is_some_and(|r| r.enabled)
        })
        .await;
        assert!(m.find(&|n| n.label == running).is_none(), "{m}");
        // The change was announced on the desktop.
        wait_until(
            "a notification of the suspend",
            Duration::from_secs(10),
            || {
                panel
                    .notes()
                    .iter()
                    .any(|n| n.summary.contains("suspended") && n.body.contains(&name))
            },
        )
        .await;

        click(&panel, &service, &applet, &name, "Terminate").await;
        wait_until(
            "the server to drop the session",
            Duration::from_secs(30),
            || server_status(&lab, &user, &name).is_none(),
        )
        .await;
        // Other tests share the lab user, so other sessions may stay listed: only ours goes.
        menu_until(&panel, &service, &applet, "the session gone", |m| {
            m.find(&|n| n.label.starts_with(&name)).is_none()
        })
        .await;
        wait_until("a notification of the end", Duration::from_secs(10), || {
            panel
                .notes()
                .iter()
                .any(|n| n.summary.contains("ended") && n.body.contains(&name))
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_askpass_program_answers_the_host_key_and_password_prompts() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        // A fresh HOME: the lab's host key is unknown to this daemon.
        let d = Daemon::start().await;
        let user = lab.var("SSH_USER");
        let password = lab.var("SSH_PASSWORD");
        let settings = lab.profile_settings(&user).set("force_password_auth", true);
        let p = d
            .client()
            .await
            .create_profile("askpass", settings)
            .await
            .unwrap();

        // An askpass that records what it was asked (never the answer) and answers it.
        let dir = tempfile::tempdir().unwrap();
        let asked = dir.path().join("asked");
        let secret = dir.path().join("pw");
        std::fs::write(&secret, format!("{password}\n")).unwrap();
        let script = dir.path().join("askpass");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n\
                 echo \"$X2GOD_ASKPASS_KIND\" >> '{asked}'\n\
                 case \"$X2GOD_ASKPASS_KIND\" in\n\
                 hostkey) case \"$1\" in *SHA256:*) echo yes ;; *) echo no ;; esac ;;\n\
                 password) cat '{secret}' ;;\n\
                 *) exit 1 ;;\n\
                 esac\n",
                asked = asked.display(),
                secret = secret.display()
            ),
        )
        .unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }

        let panel = Panel::start(&d, None).await;
        let applet = Applet::start(&d, &[("X2GOD_ASKPASS", script.to_str().unwrap())]);
        let service = panel.item_of(&applet).await;
        click(
            &panel,
            &service,
            &applet,
            "askpass — disconnected",
            "Connect",
        )
        .await;
        wait_state(&p, ConnectionState::Connected, &applet).await;
        assert_eq!(
            std::fs::read_to_string(&asked).unwrap(),
            "hostkey\npassword\n"
        );
        assert!(p.check_host().await.unwrap(), "the trusted key was learned");
        menu_until(&panel, &service, &applet, "the connected profile", |m| {
            m.find(&|n| n.label == "askpass — connected").is_some()
        })
        .await;
        let log = applet.log_text() + &d.log_text();
        assert!(!log.contains(&password), "a password was logged");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_askpass_the_host_key_is_asked_in_a_notification() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let user = lab.var("SSH_USER");
        let settings = lab
            .profile_settings(&user)
            .set("key_filename", lab.var("SSH_KEY"));
        let p = d
            .client()
            .await
            .create_profile("notified", settings)
            .await
            .unwrap();
        // The desktop's person clicks "Trust" on the question.
        let panel = Panel::start(&d, Some("trust")).await;
        let applet = Applet::start(&d, &[]);
        let service = panel.item_of(&applet).await;
        click(
            &panel,
            &service,
            &applet,
            "notified — disconnected",
            "Connect",
        )
        .await;
        wait_state(&p, ConnectionState::Connected, &applet).await;
        let notes = panel.notes();
        let q = notes
            .iter()
            .find(|n| n.actions.iter().any(|a| a == "trust"))
            .unwrap_or_else(|| panic!("no question among {notes:?}"));
        let fp = x2god_tests::fingerprint_of(&lab.var("HOSTKEY_ED25519_PUB"));
        let fp_rsa = x2god_tests::fingerprint_of(&lab.var("HOSTKEY_RSA_PUB"));
        assert!(
            q.body.contains(&fp) || q.body.contains(&fp_rsa),
            "the question does not show the fingerprint: {q:?}"
        );
        assert!(q.summary.contains("notified"), "{q:?}");
    })
    .await;
}
