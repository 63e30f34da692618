//! Session lifecycle on a profile: start, resume, suspend, terminate and dissociate, with the
//! local side (forward + nxproxy) brought up and torn down around the server commands.

mod start;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tracing::{info, warn};

use super::activity::Activity;
use super::connection::Connector;
use super::error::Error;
use super::events::{Events, ProfileEvent};
use super::exec::{COMMAND_TIMEOUT, run, run_input};
use super::listing::Listings;
use super::local::{LocalSession, LocalSpec};
use super::plan::{Features, ResumePlan, StartPlan};
use super::server::ServerQueries;
use super::shares::Shares;
use super::sound::SoundRelays;
use super::sync::{KeyedLocks, SharedName, lock};
use super::table::Expect;
use super::window_title;
use crate::x2go::command::RemoteCommand;
use crate::x2go::keyboard::SessionKeyboard;
use crate::x2go::list::{SessionStatus, XCookie};
use crate::x2go::session_options::{SessionCommand, SessionType};
use crate::x2go::sound::SoundSystem;
use crate::x2go::start::{AgentState, parse_agent_state, parse_resume};
use crate::x2go::validate::{Display, SessionKind, SessionName, Username};

/// x2gostartagent runs some fifteen small Perl programs: seconds, not milliseconds.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the agent may take to see our nxproxy connect.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a session shown elsewhere may take to suspend (`x2goresume-session` allows 45 s).
const TAKE_OVER_TIMEOUT: Duration = Duration::from_secs(45);

/// Starts, resumes, suspends and ends a profile's sessions, and shows them locally.
pub struct Lifecycle {
    name: SharedName,
    connector: Arc<Connector>,
    listings: Arc<Listings>,
    activity: Arc<Activity>,
    events: Events,
    shares: Arc<Shares>,
    sound: Arc<SoundRelays>,
    /// Sessions this daemon displays, by name.
    local: Mutex<HashMap<String, LocalSession>>,
    /// How to show again, after a reconnect, each session x2god shows (see `auto_resume`).
    viewing: Mutex<HashMap<String, ResumePlan>>,
    /// One lock per session name: lifecycle operations on one session never overlap.
    op_locks: KeyedLocks,
}

impl Lifecycle {
    /// The lifecycle of the sessions of `connector`'s profile.
    pub(crate) fn new(
        name: SharedName,
        connector: Arc<Connector>,
        listings: Arc<Listings>,
        activity: Arc<Activity>,
        events: Events,
        shares: Arc<Shares>,
        sound: Arc<SoundRelays>,
    ) -> Lifecycle {
        Lifecycle {
            name,
            connector,
            listings,
            activity,
            events,
            shares,
            sound,
            local: Mutex::default(),
            viewing: Mutex::default(),
            op_locks: KeyedLocks::default(),
        }
    }

    /// The lock that serialises lifecycle operations on session `name`.
    fn op_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.op_locks.get(name)
    }

    async fn run(&self, cmd: &RemoteCommand, timeout: Duration) -> Result<Vec<u8>, Error> {
        run(&self.connector, cmd, timeout).await
    }

    /// Whether the start or resume that x2god shows `name` for allowed sharing folders
    /// (`allow_share_local_folders`); `None` when x2god does not show it.
    pub fn sharing_allowed(&self, name: &str) -> Option<bool> {
        lock(&self.viewing)
            .get(name)
            .map(|plan| plan.features.allow_sharing)
    }

    /// Whether x2god displays `name` locally (its nxproxy runs).
    pub fn is_local(&self, name: &str) -> bool {
        lock(&self.local)
            .get(name)
            .is_some_and(LocalSession::is_running)
    }

    /// Sets up the print queue, the MIME box and `folders` of `session` after the call that
    /// started or resumed it has returned: the picture does not wait for the mounts (each
    /// takes a `sshfs` login on the server).
    fn features_in_background(
        &self,
        session: &str,
        features: &Features,
        local: &LocalSpec,
        folders: Vec<(std::path::PathBuf, bool)>,
    ) {
        if folders.is_empty() && features.printing.is_none() && features.mimebox.is_none() {
            return;
        }
        let shares = self.shares.clone();
        let session = session.to_owned();
        let (features, local) = (features.clone(), local.clone());
        tokio::spawn(async move {
            shares
                .start_features(&session, &features, &local, &folders)
                .await;
        });
    }

    /// Resumes a suspended session, or takes over one another client displays, and displays it
    /// locally. Already displayed here: nothing to do.
    pub async fn resume(self: &Arc<Self>, name: &str, plan: ResumePlan) -> Result<(), Error> {
        let _busy = self.activity.busy();
        let name = SessionName::parse(name)?;
        let conn = self.connector.connection()?;
        let op = self.op_lock(name.as_str());
        let _op = op.lock().await;
        if self.is_local(name.as_str()) {
            return Ok(());
        }
        // The watcher keeps the table current within a tick, and a session's cookie and
        // display never change: a fresh listing is needed only for a session not seen yet.
        // (Should the table be stale, x2goresume-session itself refuses.)
        let info = match self.listings.session_info(name.as_str()) {
            Some(info) => info,
            None => self
                .listings
                .list_now()
                .await?
                .into_iter()
                .find(|s| s.name == name)
                .ok_or_else(|| {
                    Error::NotFound(format!("no session {:?} on the server", name.as_str()))
                })?,
        };
        // A leftover local side (nxproxy already gone) is replaced.
        self.detach(name.as_str()).await;
        self.listings.table().expect(name.as_str(), Expect::Running);
        lock(&self.viewing).insert(name.as_str().to_owned(), plan.clone());
        let result = async {
            if info.status == SessionStatus::Running {
                self.take_over(&name).await?;
            }
            // The agent listens some 0.4 s before x2goresume-session is done (it updates the
            // database and runs hooks after signalling the agent); the watcher sees it, and
            // nxproxy starts then, while the command finishes.
            let listening = self.activity.await_agent_listening(name.as_str());
            let command = RemoteCommand::resume(&name, &plan.args);
            let resume = self.run(&command, START_TIMEOUT);
            tokio::pin!(resume);
            let early = tokio::select! {
                biased;
                out = &mut resume => Err(out),
                Ok(port) = listening => Ok(port),
            };
            let attach =
                |port| self.attach(&conn, &name, info.cookie(), info.display, port, &plan.local);
            let (out, early) = match early {
                Err(out) => (out, None),
                Ok(port) => {
                    let (out, attached) = tokio::join!(resume, attach(port));
                    (out, Some((port, attached)))
                }
            };
            let out = out.map_err(|e| e.at("x2goresume-session"))?;
            let ports =
                parse_resume(&String::from_utf8_lossy(&out)).map_err(|e| Error::Protocol {
                    command: "x2goresume-session".into(),
                    reason: e.to_string(),
                })?;
            match early {
                Some((port, attached)) if port == ports.graphics_port => attached?,
                // (Not seen: the agent's options and the command's answer name one port.)
                Some(_) => {
                    self.detach(name.as_str()).await;
                    attach(ports.graphics_port).await?
                }
                None => attach(ports.graphics_port).await?,
            }
            if plan.sound.system == SoundSystem::Pulse {
                self.resume_sound(&name, ports.sound_port, &plan).await;
            }
            Ok(())
        }
        .await;
        self.activity.forget_agent_listening(name.as_str());
        if let Err(e) = result {
            self.listings.table().unexpect(name.as_str());
            lock(&self.viewing).remove(name.as_str());
            self.detach(name.as_str()).await;
            let _ = self.listings.list_now().await;
            return Err(e);
        }
        self.set_keyboard(&name, info.display, plan.keyboard.as_ref())
            .await;
        self.listings.list_now().await?;
        let mut folders = self.shares.to_restore(name.as_str(), plan.features.restore);
        for f in &plan.features.folders {
            if !folders.iter().any(|(p, _)| p == f) {
                folders.push((f.clone(), false));
            }
        }
        self.features_in_background(name.as_str(), &plan.features, &plan.local, folders);
        self.title_in_background(name.as_str(), plan.title.as_deref(), &plan.local);
        Ok(())
    }

    /// Sets up the sound of a resumed session again: a new cookie uploaded with the (possibly
    /// new) sound port, then the port forwarded. A failure leaves the session silent, never
    /// unresumed.
    async fn resume_sound(&self, name: &SessionName, port: u16, plan: &ResumePlan) {
        let prepared = self.sound.prepare(name.as_str(), &plan.sound).await;
        // The new cookie goes up before the port is forwarded: once `Sound` says `pulse`, a
        // program in the session that connects is let in (with the old cookie it was not).
        let setup = RemoteCommand::sound_setup(name, port);
        if let Err(e) = run_input(&self.connector, &setup, prepared.cookie(), COMMAND_TIMEOUT).await
        {
            self.sound
                .failed(
                    name.as_str(),
                    format!("cannot set up the session's sound: {e}"),
                )
                .await;
            return;
        }
        self.sound.start(name.as_str(), port, &prepared).await;
    }

    /// Gives the local window of `session` the title `title` once it appears, as python-x2go
    /// does after a start or resume (it looks for 60 s; the agent names the window at once,
    /// so 30 s is plenty). The call has returned by then; a failure is logged.
    fn title_in_background(&self, session: &str, title: Option<&str>, local: &LocalSpec) {
        let Some(title) = title else { return };
        let (profile, session, title) = (self.name.clone(), session.to_owned(), title.to_owned());
        let display = local.display.clone();
        tokio::spawn(async move {
            let timeout = Duration::from_secs(30);
            match window_title::set_title(display, session.clone(), title.clone(), timeout).await {
                Ok(window) => {
                    info!(profile = %profile, session = %session, window, title = %title, "window title set")
                }
                Err(e) => {
                    warn!(profile = %profile, session = %session, error = %e, "setting the window title failed")
                }
            }
        });
    }

    /// Sets the keyboard of the session on `display` with `setxkbmap`, as python-x2go does
    /// once the session runs (the agent only knows the keyboard type). A failure, such as a
    /// layout the server does not know, is logged; the session runs on with the agent's
    /// keyboard.
    async fn set_keyboard(
        &self,
        name: &SessionName,
        display: u32,
        keyboard: Option<&SessionKeyboard>,
    ) {
        let Some(keyboard) = keyboard else { return };
        let Ok(display) = Display::parse(&display.to_string()) else {
            return;
        };
        let cmd = RemoteCommand::set_keyboard(&display, keyboard);
        match self.run(&cmd, COMMAND_TIMEOUT).await {
            Ok(_) => {
                info!(profile = %self.name, session = %name.as_str(), keyboard = ?keyboard.setxkbmap_args(), "keyboard set")
            }
            Err(e) => {
                warn!(profile = %self.name, session = %name.as_str(), error = %e, "setting the keyboard failed")
            }
        }
    }

    /// Suspends a session another client shows and waits until its agent has let go, so that
    /// `x2goresume-session` finds it suspended (see [`RemoteCommand::suspend_and_await`]).
    async fn take_over(&self, name: &SessionName) -> Result<(), Error> {
        let polls = u32::try_from(TAKE_OVER_TIMEOUT.as_millis() / 50).unwrap_or(900);
        let out = self
            .run(
                &RemoteCommand::suspend_and_await(name, polls),
                TAKE_OVER_TIMEOUT + Duration::from_secs(5),
            )
            .await
            .map_err(|e| e.at("x2gosuspend-session"))?;
        match parse_agent_state(&String::from_utf8_lossy(&out)) {
            AgentState::Suspended => Ok(()),
            AgentState::Terminating | AgentState::Terminated => Err(Error::NotFound(format!(
                "session {:?} ended while being taken over",
                name.as_str()
            ))),
            other => Err(Error::Ssh(crate::ssh::Error::Timeout(format!(
                "session {:?} is still {} after being suspended for the other client",
                name.as_str(),
                other.as_str()
            )))),
        }
    }

    /// Suspends a session on the server; its local side ends.
    pub async fn suspend(&self, name: &str) -> Result<(), Error> {
        self.end_view(name, Expect::Suspended, RemoteCommand::suspend)
            .await
    }

    /// Terminates a session on the server; its local side ends.
    pub async fn terminate(&self, name: &str) -> Result<(), Error> {
        self.end_view(name, Expect::Gone, RemoteCommand::terminate)
            .await
    }

    /// Runs `command` (suspend or terminate) for session `name`, which is expected to reach
    /// `expect`, then ends its local side and publishes the change.
    async fn end_view(
        &self,
        name: &str,
        expect: Expect,
        command: fn(&SessionName) -> RemoteCommand,
    ) -> Result<(), Error> {
        let busy = self.activity.busy();
        let name = SessionName::parse(name)?;
        let op = self.op_lock(name.as_str());
        let _op = op.lock().await;
        self.listings.table().expect(name.as_str(), expect);
        if let Err(e) = self.run(&command(&name), COMMAND_TIMEOUT).await {
            self.listings.table().unexpect(name.as_str());
            return Err(e);
        }
        lock(&self.viewing).remove(name.as_str());
        // The server has ended the view: nxproxy is leaving by itself, which takes most of a
        // second; nobody needs to wait for that.
        let local = lock(&self.local).remove(name.as_str());
        if let Some(local) = local {
            local.release().await;
            self.events
                .emit(ProfileEvent::Local {
                    name: name.as_str().to_owned(),
                    attached: false,
                })
                .await;
        }
        // The command succeeded, so the server's state is known: publish it now and let the
        // watcher's listing (the session directory just changed) confirm it.
        // (The watcher may have published it already, from the agent's state file.)
        let (known, change) = {
            let mut table = self.listings.table();
            let known = table.get(name.as_str()).is_some();
            (known, table.assume(name.as_str(), expect))
        };
        if let Some((change, cause)) = change {
            self.listings.publish(change, cause).await;
        }
        if known {
            drop(busy);
            self.listings.request_listing();
        } else {
            // Not in the table (never listed): a listing says what became of it.
            self.listings.list_now().await?;
        }
        Ok(())
    }

    /// Terminates every session of the user on the server.
    pub async fn clean_sessions(&self, include_published: bool) -> Result<(), Error> {
        for s in self.listings.list_now().await? {
            let published = s.name.kind() == SessionKind::Published;
            if published && !include_published {
                continue;
            }
            self.terminate(s.name.as_str()).await?;
        }
        Ok(())
    }

    /// Drops the local side of a session without touching the server session.
    pub async fn dissociate(&self, name: &str) -> Result<(), Error> {
        let name = SessionName::parse(name)?;
        let op = self.op_lock(name.as_str());
        let _op = op.lock().await;
        if !lock(&self.local).contains_key(name.as_str()) {
            return Err(Error::NotFound(format!(
                "session {:?} is not displayed by x2god",
                name.as_str()
            )));
        }
        lock(&self.viewing).remove(name.as_str());
        self.detach(name.as_str()).await;
        Ok(())
    }

    /// Ends the local side of `name`, if any, and publishes that.
    async fn detach(&self, name: &str) {
        let local = lock(&self.local).remove(name);
        if let Some(local) = local {
            local.close().await;
            self.events
                .emit(ProfileEvent::Local {
                    name: name.to_owned(),
                    attached: false,
                })
                .await;
        }
    }

    /// Forward + nxproxy for `name`, then waits until the agent sees the client connected.
    async fn attach(
        self: &Arc<Self>,
        conn: &crate::ssh::Connection,
        name: &SessionName,
        cookie: &XCookie,
        display: u32,
        graphics_port: u16,
        spec: &LocalSpec,
    ) -> Result<(), Error> {
        let weak: Weak<Lifecycle> = Arc::downgrade(self);
        let session = name.as_str().to_owned();
        let local = LocalSession::attach(
            conn,
            name,
            cookie,
            display,
            graphics_port,
            spec,
            move |requested| {
                if requested {
                    return;
                }
                // nxproxy ended by itself (window closed, suspended elsewhere, network): say so at
                // once, then let a listing tell what became of the session.
                tokio::spawn(async move {
                    let Some(this) = weak.upgrade() else { return };
                    this.detach(&session).await;
                    this.listings.request_listing();
                });
            },
        )
        .await
        .map_err(|e| e.at("nxproxy"))?;
        // One server-side wait (checks every 50 ms) instead of a round trip per check; the
        // local nxproxy failing ends it at once.
        let polls = u32::try_from(ATTACH_TIMEOUT.as_millis() / 50).unwrap_or(600);
        let await_state = RemoteCommand::await_agent_state(name, polls);
        let wait = self.run(&await_state, ATTACH_TIMEOUT + Duration::from_secs(5));
        let out = tokio::select! {
            out = wait => out.map_err(|e| e.at("x2gogetagentstate")),
            () = local.exited() => {
                let tail = local.log_tail();
                local.close().await;
                return Err(
                    Error::Local(format!("nxproxy exited: {tail}")).at("connecting the display")
                );
            }
        };
        match out.map(|o| parse_agent_state(&String::from_utf8_lossy(&o))) {
            Ok(AgentState::Running) => {}
            Ok(AgentState::Terminating | AgentState::Terminated) => {
                local.close().await;
                return Err(Error::Server {
                    command: "x2goagent".into(),
                    status: None,
                    stderr: "the session ended while the display was connecting".into(),
                }
                .at("connecting the display"));
            }
            Ok(_) => {
                local.close().await;
                return Err(Error::Ssh(crate::ssh::Error::Timeout(
                    "the agent did not see nxproxy connect".into(),
                ))
                .at("connecting the display"));
            }
            Err(e) => {
                local.close().await;
                return Err(e);
            }
        }
        lock(&self.local).insert(name.as_str().to_owned(), local);
        self.events
            .emit(ProfileEvent::Local {
                name: name.as_str().to_owned(),
                attached: true,
            })
            .await;
        Ok(())
    }

    /// Shadows `user`'s desktop `display` (view-only unless `full_access`) and shows it locally;
    /// returns the shadow session's name. A desktop the server does not offer is `NotFound`;
    /// an owner who declines gives `DesktopSharingDenied`.
    pub async fn share_desktop(
        self: &Arc<Self>,
        server: &ServerQueries,
        request: DesktopRequest<'_>,
        mut plan: StartPlan,
    ) -> Result<String, Error> {
        let _sharing = self.listings.sharing();
        let user = Username::parse(request.user)?;
        let display = crate::x2go::validate::Display::parse(request.display)?;
        let offered = server.list_desktops(request.maxwait).await?;
        if !offered
            .iter()
            .any(|d| d.user.as_str() == user.as_str() && d.display.number() == display.number())
        {
            return Err(Error::NotFound(format!(
                "the server offers no desktop {}@:{} for sharing (see ListDesktops)",
                user.as_str(),
                display.number()
            )));
        }
        plan.agent.command = SessionCommand::shadow(request.full_access, &user, display);
        plan.agent.session_type = SessionType::Shadow;
        self.start(plan).await
    }

    /// Resumes the sessions that were shown when the connection was lost, if `auto_resume`;
    /// else forgets them.
    pub(crate) async fn resume_viewed(self: &Arc<Self>, auto_resume: bool) {
        let plans: Vec<(String, ResumePlan)> = if auto_resume {
            lock(&self.viewing).drain().collect()
        } else {
            lock(&self.viewing).clear();
            Vec::new()
        };
        for (name, plan) in plans {
            match self.resume(&name, plan).await {
                Ok(()) => info!(profile = %self.name, session = %name, "resumed after reconnect"),
                Err(e) => {
                    warn!(profile = %self.name, session = %name, error = %e, "cannot resume after reconnect")
                }
            }
        }
    }
}

/// Which desktop `ShareDesktop` asks for.
#[derive(Debug, Clone, Copy)]
pub struct DesktopRequest<'a> {
    /// Its owner on the server.
    pub user: &'a str,
    /// Its display number on the server.
    pub display: &'a str,
    /// Full access rather than view-only.
    pub full_access: bool,
    /// How long `x2golistdesktops` may take.
    pub maxwait: Duration,
}
