//! Sound of a profile's sessions: per session shown here, a fresh cookie, and the reverse
//! forward of its sound port whose connections [`crate::sound::relay`] takes to the local sound
//! server after checking that cookie.
//!
//! The session's PulseAudio client config (written with the program's start, `run_command`, and
//! again on every resume, `sound_setup`) points the session's pulse clients at the sound port
//! with that cookie. One client receives a session's sound: the one showing it, so the forward
//! goes when the session is suspended (by whomever: another client taking it over then gets the
//! port) or ends, and a resume sets it up again with a new cookie (also after a reconnect).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{debug, info, warn};

use super::connection::Connector;
use super::error::Error;
use super::events::{Events, ProfileEvent};
use super::listing::SessionObserver;
use super::sync::{SharedName, lock};
use super::table::Change;
use crate::profiles::SessionSettings;
use crate::sound::{Cookie, LocalServer, RelayError, local_cookie, relay};
use crate::ssh::RemoteForward;
use crate::x2go::list::SessionStatus;
use crate::x2go::sound::{LEGACY_SOUND_SYSTEMS, SoundSystem};

/// How long the local sound server may take to accept the probe at start or resume.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a refused forward of the sound port is asked for again: a client that showed the
/// session before keeps the port until it notices the session went (pyhoca-cli: some 15 s).
const FORWARD_PATIENCE: Duration = Duration::from_secs(30);
const FORWARD_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// What a start or resume does for sound (`snd_system`, `snd_port`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SoundPlan {
    /// The sound system the session's program is started with.
    pub system: SoundSystem,
    /// The local sound server over TCP on this port (`snd_port`), instead of its socket.
    pub tcp_port: Option<u16>,
}

impl SoundPlan {
    /// `pulse` unless the settings say `none`; `esd` and `arts` are not offered.
    pub fn new(s: &SessionSettings) -> Result<SoundPlan, Error> {
        let name = s.snd_system.as_deref().unwrap_or("pulse");
        if LEGACY_SOUND_SYSTEMS.contains(&name) {
            return Err(Error::NotSupported(format!(
                "snd_system {name:?}: x2god plays sound through PulseAudio (pulse) or not at all \
                 (none)"
            )));
        }
        Ok(SoundPlan {
            system: SoundSystem::parse(name)?,
            tcp_port: s.snd_port,
        })
    }
}

/// A session's sound as the session object's `Sound` property tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoundState {
    /// No sound: not asked for, or the session is not shown here.
    None,
    /// The session's pulse clients play through the local sound server.
    Pulse,
    /// Asked for, but the local sound server or the forward cannot be had (the reason).
    Failed(String),
}

impl SoundState {
    /// `none`, `pulse` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SoundState::None => "none",
            SoundState::Pulse => "pulse",
            SoundState::Failed(_) => "failed",
        }
    }
}

/// The sound of one session shown here.
struct SessionSound {
    state: SoundState,
    /// The forward's task and the connection generation it runs on.
    forward: Option<(u64, tokio::task::JoinHandle<()>)>,
}

impl SessionSound {
    fn stop(&mut self) {
        if let Some((_, task)) = self.forward.take() {
            task.abort();
        }
    }
}

impl Drop for SessionSound {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the relay of one session needs, shared by its connections.
struct RelayTarget {
    cookie: Cookie,
    /// The local sound server, or why there is none (then every connection is dropped: the
    /// port is still taken, so that nobody else on the server gets the session's sound).
    server: Result<LocalServer, String>,
    local_cookie: Option<Cookie>,
}

/// What [`SoundRelays::prepare`] hands over: the cookie to upload, and the relay to start on
/// the sound port once the server names it.
pub(crate) struct Prepared {
    target: Arc<RelayTarget>,
    reachable: Result<(), String>,
}

impl Prepared {
    /// The session's new cookie, for the command that uploads it.
    pub(crate) fn cookie(&self) -> &[u8] {
        self.target.cookie.expose()
    }
}

/// The sound of a profile's sessions.
pub struct SoundRelays {
    name: SharedName,
    connector: Arc<Connector>,
    events: Events,
    sessions: Mutex<HashMap<String, SessionSound>>,
}

impl SoundRelays {
    /// The sound of the sessions of `connector`'s profile.
    pub(crate) fn new(name: SharedName, connector: Arc<Connector>, events: Events) -> SoundRelays {
        SoundRelays {
            name,
            connector,
            events,
            sessions: Mutex::default(),
        }
    }

    /// The `Sound` property of `session`.
    pub fn state(&self, session: &str) -> &'static str {
        lock(&self.sessions)
            .get(session)
            .map_or("none", |s| s.state.as_str())
    }

    /// A new cookie, and whether the local sound server answers (a session without it runs
    /// silent, never fails to start).
    pub(crate) async fn prepare(&self, session: &str, plan: &SoundPlan) -> Prepared {
        let env = |k: &str| std::env::var_os(k);
        let server = LocalServer::find(plan.tcp_port, env).map_err(|e| e.to_string());
        let reachable = match &server {
            Ok(s) => match s.connect(PROBE_TIMEOUT).await {
                Ok(_) => Ok(()),
                Err(e) => Err(format!("the local sound server {s} does not answer: {e}")),
            },
            Err(e) => Err(e.clone()),
        };
        if let Err(reason) = &reachable {
            warn!(profile = %self.name, session, %reason, "the session runs without sound");
        }
        Prepared {
            target: Arc::new(RelayTarget {
                cookie: Cookie::random(),
                server,
                local_cookie: local_cookie(env).await,
            }),
            reachable,
        }
    }

    /// Forwards the session's sound port `port` to the relay of `prepared`, now or (when the
    /// server refuses: another client still holds it) within some seconds in the background.
    pub(crate) async fn start(self: &Arc<Self>, session: &str, port: u16, prepared: &Prepared) {
        let generation = self.connector.generation();
        // `pulse` only once the port is ours: a client still holding it would get the sound.
        let (state, ready) = match &prepared.reachable {
            Ok(()) => (SoundState::None, SoundState::Pulse),
            Err(reason) => {
                let failed = SoundState::Failed(reason.clone());
                (failed.clone(), failed)
            }
        };
        {
            let mut sessions = lock(&self.sessions);
            let entry = sessions.entry(session.to_owned()).or_insert(SessionSound {
                state: SoundState::None,
                forward: None,
            });
            entry.stop();
            entry.state = state.clone();
        }
        let forward = match self.connector.connection() {
            Ok(conn) => conn.forward_remote(port).await,
            Err(e) => {
                self.failed(session, e.to_string()).await;
                return;
            }
        };
        let task = match forward {
            Ok(f) => {
                self.set_state(session, ready).await;
                tokio::spawn(accept_loop(
                    f,
                    prepared.target.clone(),
                    self.name.clone(),
                    session.to_owned(),
                ))
            }
            Err(e) => {
                debug!(profile = %self.name, session, port, error = %e, "sound port busy; asking again");
                let (me, target) = (Arc::downgrade(self), prepared.target.clone());
                let (name, label) = (self.name.clone(), session.to_owned());
                tokio::spawn(async move {
                    let deadline = tokio::time::Instant::now() + FORWARD_PATIENCE;
                    loop {
                        tokio::time::sleep(FORWARD_RETRY_PAUSE).await;
                        let Some(conn) = me.upgrade().and_then(|m| m.connector.connection().ok())
                        else {
                            return;
                        };
                        match conn.forward_remote(port).await {
                            Ok(f) => {
                                if let Some(me) = me.upgrade() {
                                    me.set_state(&label, ready).await;
                                }
                                break accept_loop(f, target, name, label).await;
                            }
                            Err(e) if tokio::time::Instant::now() >= deadline => {
                                if let Some(me) = me.upgrade() {
                                    let reason =
                                        format!("cannot take the session's sound port {port}: {e}");
                                    me.set_failed(&label, reason).await;
                                }
                                return;
                            }
                            Err(_) => {}
                        }
                    }
                })
            }
        };
        match lock(&self.sessions).get_mut(session) {
            Some(s) => s.forward = Some((generation, task)),
            None => task.abort(),
        }
    }

    /// Sets the `Sound` of a session shown here, and says so on the bus.
    async fn set_state(&self, session: &str, state: SoundState) {
        match lock(&self.sessions).get_mut(session) {
            Some(s) => s.state = state,
            None => return,
        }
        self.changed(session).await;
    }

    /// The session's sound cannot be had.
    pub(crate) async fn failed(&self, session: &str, reason: String) {
        if let Some(s) = lock(&self.sessions).get_mut(session) {
            s.stop();
        }
        self.set_failed(session, reason).await;
    }

    /// Says why the session has no sound (told also by the forward's own task, which then
    /// ends by itself, so it is not stopped here).
    async fn set_failed(&self, session: &str, reason: String) {
        warn!(profile = %self.name, session, %reason, "the session runs without sound");
        lock(&self.sessions)
            .entry(session.to_owned())
            .or_insert(SessionSound {
                state: SoundState::None,
                forward: None,
            })
            .state = SoundState::Failed(reason);
        self.changed(session).await;
    }

    /// The session is no longer shown here (suspended, taken over, ended): its port goes.
    fn stopped(&self, session: &str, forget: bool) -> bool {
        let mut sessions = lock(&self.sessions);
        if forget {
            return sessions.remove(session).is_some();
        }
        match sessions.get_mut(session) {
            Some(s) if s.state != SoundState::None || s.forward.is_some() => {
                s.stop();
                s.state = SoundState::None;
                true
            }
            _ => false,
        }
    }

    /// A new connection: the old one's forwards are gone; a resume sets sound up again.
    pub(crate) fn connection_changed(&self) {
        let generation = self.connector.generation();
        for (name, s) in lock(&self.sessions).iter_mut() {
            if s.forward.as_ref().is_some_and(|(g, _)| *g != generation) {
                s.stop();
                if s.state != SoundState::None {
                    s.state = SoundState::None;
                    // Applets must not show sound that went with the old connection.
                    self.events.post(ProfileEvent::Sound { name: name.clone() });
                }
            }
        }
    }

    async fn changed(&self, session: &str) {
        self.events
            .emit(ProfileEvent::Sound {
                name: session.to_owned(),
            })
            .await;
    }
}

impl SessionObserver for SoundRelays {
    fn changed(&self, change: &Change) {
        let touched = match change {
            Change::StateChanged { info, .. } if info.status == SessionStatus::Suspended => {
                self.stopped(info.name.as_str(), false)
            }
            Change::Removed(info) => self.stopped(info.name.as_str(), true),
            _ => false,
        };
        if touched {
            let name = match change {
                Change::StateChanged { info, .. } | Change::Removed(info) => {
                    info.name.as_str().to_owned()
                }
                _ => return,
            };
            let events = self.events.clone();
            tokio::spawn(async move { events.emit(ProfileEvent::Sound { name }).await });
        }
    }
}

/// Relays every connection the server accepts on the session's sound port; aborting the task
/// ends them all.
async fn accept_loop(
    mut forward: RemoteForward,
    target: Arc<RelayTarget>,
    profile: SharedName,
    session: String,
) {
    info!(%profile, %session, "sound relayed to the local sound server");
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            stream = forward.accept() => {
                let Some(stream) = stream else { break };
                let (target, profile, session) = (target.clone(), profile.clone(), session.clone());
                connections.spawn(async move {
                    let t = &*target;
                    let Ok(server) = &t.server else { return };
                    match relay(stream, &t.cookie, server, t.local_cookie.as_ref()).await {
                        Ok((up, down)) => debug!(%profile, %session, up, down, "a sound connection ended"),
                        Err(e @ (RelayError::WrongCookie | RelayError::NotPulse(_))) => {
                            warn!(%profile, %session, error = %e, "refused a connection to the session's sound port: it did not present the session's cookie");
                        }
                        Err(e) => warn!(%profile, %session, error = %e, "a sound connection failed"),
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    forward.close().await;
}
