//! What the applet shows: x2god's profiles and their sessions, kept up to date from the
//! client library's [`Event`]s, and what to tell the person about each change. Pure: no bus,
//! no tray, so it is tested on its own.

use std::collections::BTreeMap;
use std::fmt;

use x2god_client::{Cause, ConnectionState, Event, ProfileId, SessionId, SessionState};

/// Whether x2god is on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Daemon {
    /// Not known yet (before the first look).
    #[default]
    Unknown,
    /// It owns `org.x2go.Control1`.
    Running,
    /// Nobody owns the name.
    Absent,
}

/// A session as the menu shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionView {
    /// Which session.
    pub id: SessionId,
    /// Running or suspended.
    pub state: SessionState,
}

/// A profile as the menu shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileView {
    /// Which profile.
    pub id: ProfileId,
    /// Its connection state.
    pub state: ConnectionState,
    /// Why it is in that state, when the daemon said (an error message after a failure).
    pub reason: String,
    /// Its sessions by name (so the menu lists them in a stable order).
    pub sessions: BTreeMap<String, SessionView>,
}

/// Everything the applet knows of x2god.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Model {
    daemon: Daemon,
    /// By profile name, for a stable menu order; a rename is a removal and an addition.
    profiles: BTreeMap<String, ProfileView>,
}

/// Something worth a desktop notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Notices with the same key replace each other on screen (one bubble per session).
    pub key: String,
    /// The headline.
    pub summary: String,
    /// The details.
    pub body: String,
    /// Shown as critical (a lost connection).
    pub urgent: bool,
}

/// What a menu entry does when clicked.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Asks the bus to start x2god (D-Bus activation).
    StartDaemon,
    /// Connects the profile; x2god asks this applet's agent for what it needs.
    Connect(ProfileId),
    /// Disconnects the profile; its sessions stay on the server.
    Disconnect(ProfileId),
    /// Starts a session with the profile's own session settings.
    Start(ProfileId),
    /// Resumes a suspended session and shows it here.
    Resume(ProfileId, SessionId),
    /// Suspends a session on the server.
    Suspend(ProfileId, SessionId),
    /// Terminates a session on the server.
    Terminate(ProfileId, SessionId),
    /// Asks for a local folder and shares it into a running session.
    ShareFolder(ProfileId, SessionId),
    /// Ends the applet.
    Quit,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::StartDaemon => f.write_str("start x2god"),
            Action::Connect(p) => write!(f, "connect {}", p.name),
            Action::Disconnect(p) => write!(f, "disconnect {}", p.name),
            Action::Start(p) => write!(f, "start a session on {}", p.name),
            Action::Resume(p, s) => write!(f, "resume {} on {}", s.name, p.name),
            Action::Suspend(p, s) => write!(f, "suspend {} on {}", s.name, p.name),
            Action::Terminate(p, s) => write!(f, "terminate {} on {}", s.name, p.name),
            Action::ShareFolder(p, s) => write!(f, "share a folder with {} on {}", s.name, p.name),
            Action::Quit => f.write_str("quit"),
        }
    }
}

/// One menu entry, independent of the tray library.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A clickable (or greyed-out) line; `action: None` is an information line.
    Item {
        /// Plain text (the tray escapes mnemonics).
        label: String,
        /// Clickable now.
        enabled: bool,
        /// What a click does.
        action: Option<Action>,
    },
    /// A submenu.
    Sub {
        /// Plain text.
        label: String,
        /// Its entries.
        children: Vec<Entry>,
    },
    /// A separator line.
    Separator,
}

fn item(label: impl Into<String>, enabled: bool, action: Action) -> Entry {
    Entry::Item {
        label: label.into(),
        enabled,
        action: Some(action),
    }
}

fn info(label: impl Into<String>) -> Entry {
    Entry::Item {
        label: label.into(),
        enabled: false,
        action: None,
    }
}

/// How a cause reads in a notification: only someone else's doing is worth saying.
fn by_whom(cause: Cause) -> &'static str {
    match cause {
        Cause::External => " (by another client or the server)",
        _ => "",
    }
}

impl Model {
    /// Records whether x2god is on the bus, as seen before the first event.
    pub fn set_daemon(&mut self, running: bool) {
        self.daemon = if running {
            Daemon::Running
        } else {
            Daemon::Absent
        };
    }

    /// Whether x2god is on the bus.
    #[cfg(test)]
    pub fn daemon(&self) -> Daemon {
        self.daemon
    }

    /// The profiles, by name.
    #[cfg(test)]
    pub fn profiles(&self) -> impl Iterator<Item = &ProfileView> {
        self.profiles.values()
    }

    fn profile_mut(&mut self, id: &ProfileId) -> &mut ProfileView {
        self.profiles
            .entry(id.name.clone())
            .or_insert_with(|| ProfileView {
                id: id.clone(),
                state: ConnectionState::Disconnected,
                reason: String::new(),
                sessions: BTreeMap::new(),
            })
    }

    /// Applies one event; returns what to notify the person of. Events a resync replays
    /// ([`Cause::Sync`]) change the menu but are not news.
    pub fn apply(&mut self, event: &Event) -> Vec<Notice> {
        let mut notices = Vec::new();
        match event {
            Event::ProfileAdded { profile, state } => {
                self.daemon = Daemon::Running;
                let p = self.profile_mut(profile);
                p.id = profile.clone();
                p.state = *state;
            }
            Event::ProfileRemoved { profile } => {
                self.profiles.remove(&profile.name);
            }
            Event::ConnectionStateChanged {
                profile,
                state,
                reason,
            } => {
                let p = self.profile_mut(profile);
                let old = p.state;
                p.state = *state;
                p.reason = reason.clone();
                if old == ConnectionState::Lost && *state == ConnectionState::Connected {
                    notices.push(Notice {
                        key: profile.path.to_string(),
                        summary: format!("Reconnected to {}", profile.name),
                        body: "The connection is back.".to_owned(),
                        urgent: false,
                    });
                }
            }
            Event::ConnectionLost { profile, reason } => {
                let p = self.profile_mut(profile);
                p.state = ConnectionState::Lost;
                p.reason = reason.clone();
                notices.push(Notice {
                    key: profile.path.to_string(),
                    summary: format!("Connection to {} lost", profile.name),
                    body: format!("{reason}\nx2god reconnects by itself when it can."),
                    urgent: true,
                });
            }
            Event::SessionAdded {
                profile,
                session,
                state,
                cause,
            } => {
                self.profile_mut(profile).sessions.insert(
                    session.name.clone(),
                    SessionView {
                        id: session.clone(),
                        state: *state,
                    },
                );
                if *cause != Cause::Sync {
                    notices.push(Notice {
                        key: session.path.to_string(),
                        summary: format!("Session {state} on {}", profile.name),
                        body: format!("{} is {state}{}.", session.name, by_whom(*cause)),
                        urgent: false,
                    });
                }
            }
            Event::SessionStateChanged {
                profile,
                session,
                old,
                new,
                cause,
            } => {
                self.profile_mut(profile).sessions.insert(
                    session.name.clone(),
                    SessionView {
                        id: session.clone(),
                        state: *new,
                    },
                );
                if *cause != Cause::Sync {
                    notices.push(Notice {
                        key: session.path.to_string(),
                        summary: format!("Session {new} on {}", profile.name),
                        body: format!(
                            "{} went from {old} to {new}{}.",
                            session.name,
                            by_whom(*cause)
                        ),
                        urgent: false,
                    });
                }
            }
            Event::SessionRemoved {
                profile,
                session,
                cause,
            } => {
                if let Some(p) = self.profiles.get_mut(&profile.name) {
                    p.sessions.remove(&session.name);
                }
                if *cause != Cause::Sync {
                    notices.push(Notice {
                        key: session.path.to_string(),
                        summary: format!("Session ended on {}", profile.name),
                        body: format!("{} has terminated{}.", session.name, by_whom(*cause)),
                        urgent: false,
                    });
                }
            }
            Event::DaemonLost => {
                // Whatever the old instance reported is void; the resync of the next one
                // describes everything again.
                self.profiles.clear();
                self.daemon = Daemon::Absent;
            }
            Event::DaemonRestarted => {
                self.profiles.clear();
                self.daemon = Daemon::Running;
            }
            Event::Synced => {}
            // Event is non-exhaustive: a kind this applet does not know changes nothing shown.
            _ => {}
        }
        notices
    }

    /// Whether something needs the person: a lost connection.
    pub fn needs_attention(&self) -> bool {
        self.profiles
            .values()
            .any(|p| p.state == ConnectionState::Lost)
    }

    /// One line per profile, for the tooltip.
    pub fn summary(&self) -> String {
        match self.daemon {
            Daemon::Absent => return "x2god is not running".to_owned(),
            Daemon::Unknown => return "looking for x2god…".to_owned(),
            Daemon::Running => {}
        }
        if self.profiles.is_empty() {
            return "no profiles".to_owned();
        }
        self.profiles
            .values()
            .map(|p| {
                let running = p
                    .sessions
                    .values()
                    .filter(|s| s.state == SessionState::Running)
                    .count();
                format!(
                    "{}: {}, {} session(s), {running} running",
                    p.id.name,
                    p.state,
                    p.sessions.len()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The menu. Every action stays in place and is only greyed out when it does not apply,
    /// so a state change alters labels, not the layout: panels keep the menu open, and item
    /// ids stay valid.
    pub fn menu(&self) -> Vec<Entry> {
        let mut menu = Vec::new();
        match self.daemon {
            Daemon::Absent | Daemon::Unknown => {
                menu.push(info("x2god is not running"));
                menu.push(item("Start x2god", true, Action::StartDaemon));
            }
            Daemon::Running if self.profiles.is_empty() => {
                menu.push(info("No profiles (create one with x2goctl)"));
            }
            Daemon::Running => {
                for p in self.profiles.values() {
                    menu.push(profile_menu(p));
                }
            }
        }
        menu.push(Entry::Separator);
        menu.push(item("Quit", true, Action::Quit));
        menu
    }
}

fn profile_menu(p: &ProfileView) -> Entry {
    use ConnectionState::*;
    let connected = p.state == Connected;
    let mut children = vec![
        item(
            "Connect",
            matches!(p.state, Disconnected | Lost),
            Action::Connect(p.id.clone()),
        ),
        item(
            "Disconnect",
            p.state != Disconnected,
            Action::Disconnect(p.id.clone()),
        ),
        item("Start session", connected, Action::Start(p.id.clone())),
        Entry::Separator,
    ];
    if p.sessions.is_empty() {
        children.push(info("No sessions"));
    }
    for s in p.sessions.values() {
        let (running, suspended) = (
            s.state == SessionState::Running,
            s.state == SessionState::Suspended,
        );
        children.push(Entry::Sub {
            label: format!("{} — {}", s.id.name, s.state),
            children: vec![
                item(
                    "Resume",
                    connected && suspended,
                    Action::Resume(p.id.clone(), s.id.clone()),
                ),
                item(
                    "Suspend",
                    connected && running,
                    Action::Suspend(p.id.clone(), s.id.clone()),
                ),
                item(
                    "Terminate",
                    connected && (running || suspended),
                    Action::Terminate(p.id.clone(), s.id.clone()),
                ),
                item(
                    "Share folder…",
                    connected && running,
                    Action::ShareFolder(p.id.clone(), s.id.clone()),
                ),
            ],
        });
    }
    if !p.reason.is_empty() && p.state != Connected {
        children.push(Entry::Separator);
        children.push(info(format!("Last: {}", p.reason)));
    }
    Entry::Sub {
        label: format!("{} — {}", p.id.name, p.state),
        children,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> ProfileId {
        ProfileId::from_path(x2god_client::proto::path::profile_path(name))
    }

    fn session(p: &str, name: &str) -> SessionId {
        SessionId {
            path: x2god_client::proto::path::session_path(p, name),
            name: name.to_owned(),
        }
    }

    fn labels(entries: &[Entry], out: &mut Vec<String>, depth: usize) {
        for e in entries {
            match e {
                Entry::Item { label, enabled, .. } => out.push(format!(
                    "{}{label}{}",
                    " ".repeat(depth),
                    if *enabled { "" } else { " (off)" }
                )),
                Entry::Sub { label, children } => {
                    out.push(format!("{}{label} >", " ".repeat(depth)));
                    labels(children, out, depth + 1);
                }
                Entry::Separator => out.push(format!("{}--", " ".repeat(depth))),
            }
        }
    }

    fn render(m: &Model) -> Vec<String> {
        let mut out = Vec::new();
        labels(&m.menu(), &mut out, 0);
        out
    }

    #[test]
    fn snapshot_then_changes() {
        let mut m = Model::default();
        m.set_daemon(true);
        let lab = profile("lab");
        let s = session("lab", "u-50-1_stRxterm_dp24");
        assert!(
            m.apply(&Event::ProfileAdded {
                profile: lab.clone(),
                state: ConnectionState::Connected,
            })
            .is_empty()
        );
        // A replayed session is shown but is no news.
        assert!(
            m.apply(&Event::SessionAdded {
                profile: lab.clone(),
                session: s.clone(),
                state: SessionState::Running,
                cause: Cause::Sync,
            })
            .is_empty()
        );
        assert_eq!(
            render(&m),
            vec![
                "lab — connected >",
                " Connect (off)",
                " Disconnect",
                " Start session",
                " --",
                " u-50-1_stRxterm_dp24 — running >",
                "  Resume (off)",
                "  Suspend",
                "  Terminate",
                "  Share folder…",
                "--",
                "Quit",
            ]
        );
        let before = m.menu();
        let n = m.apply(&Event::SessionStateChanged {
            profile: lab.clone(),
            session: s.clone(),
            old: SessionState::Running,
            new: SessionState::Suspended,
            cause: Cause::Requested,
        });
        assert_eq!(n.len(), 1);
        assert!(n[0].body.contains("u-50-1_stRxterm_dp24"), "{n:?}");
        assert!(n[0].summary.contains("suspended"), "{n:?}");
        // Same shape: only labels and greying changed.
        let shape = |es: &[Entry]| format!("{:?}", es.iter().map(depth_shape).collect::<Vec<_>>());
        assert_eq!(shape(&before), shape(&m.menu()));
        assert!(render(&m).contains(&"  Resume".to_owned()));

        let n = m.apply(&Event::SessionRemoved {
            profile: lab.clone(),
            session: s,
            cause: Cause::External,
        });
        assert!(n[0].body.contains("another client"), "{n:?}");
        assert!(render(&m).contains(&" No sessions (off)".to_owned()));
    }

    fn depth_shape(e: &Entry) -> String {
        match e {
            Entry::Item { .. } => "i".into(),
            Entry::Separator => "-".into(),
            Entry::Sub { children, .. } => {
                format!("[{}]", children.iter().map(depth_shape).collect::<String>())
            }
        }
    }

    #[test]
    fn lost_connections_are_news_and_need_attention() {
        let mut m = Model::default();
        let lab = profile("lab");
        m.apply(&Event::ProfileAdded {
            profile: lab.clone(),
            state: ConnectionState::Connected,
        });
        let n = m.apply(&Event::ConnectionLost {
            profile: lab.clone(),
            reason: "keepalive timeout".into(),
        });
        assert!(
            n[0].urgent && n[0].body.contains("keepalive timeout"),
            "{n:?}"
        );
        assert!(m.needs_attention());
        let menu = render(&m);
        assert!(menu.contains(&" Connect".to_owned()), "{menu:?}");
        assert!(
            menu.contains(&" Last: keepalive timeout (off)".to_owned()),
            "{menu:?}"
        );
        let n = m.apply(&Event::ConnectionStateChanged {
            profile: lab,
            state: ConnectionState::Connected,
            reason: "connected".into(),
        });
        assert!(n[0].summary.starts_with("Reconnected"), "{n:?}");
        assert!(!m.needs_attention());
    }

    #[test]
    fn daemon_restarts_start_from_nothing() {
        let mut m = Model::default();
        m.set_daemon(false);
        assert_eq!(
            render(&m)[..2],
            ["x2god is not running (off)", "Start x2god"]
        );
        m.apply(&Event::DaemonRestarted);
        assert_eq!(render(&m)[0], "No profiles (create one with x2goctl) (off)");
        m.apply(&Event::ProfileAdded {
            profile: profile("a"),
            state: ConnectionState::Disconnected,
        });
        m.apply(&Event::DaemonLost);
        assert_eq!(m.daemon(), Daemon::Absent);
        assert_eq!(m.profiles().count(), 0);
        assert_eq!(m.summary(), "x2god is not running");
    }
}
