//! Starting a new session: `x2gostartagent`, the display, the session's command, and a start
//! run again when its agent lost a race that `x2gostartagent` does not see.

use std::sync::Arc;

use tracing::{info, warn};

use super::{Lifecycle, START_TIMEOUT};
use crate::control::error::Error;
use crate::control::exec::{COMMAND_TIMEOUT, run_input, run_status};
use crate::control::plan::{ResumePlan, StartPlan};
use crate::control::start_agent::{RETRIES, agent_lost_its_port, pause, run_start_agent};
use crate::control::sync::lock;
use crate::control::table::Expect;
use crate::x2go::command::RemoteCommand;
use crate::x2go::sound::SoundSystem;
use crate::x2go::start::{StartedAgent, parse_start_agent};
use crate::x2go::start_failure::NX_COOKIE_REFUSED;

/// A failed start, and whether it lost a race with another start worth running it again for.
struct Failed {
    error: Error,
    lost_race: bool,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Failed {
            error,
            lost_race: false,
        }
    }
}

impl Lifecycle {
    /// Starts a new session and displays it locally; returns its name once it runs. A start
    /// whose agent lost its port to another client's start is run again, a few times.
    pub async fn start(self: &Arc<Self>, plan: StartPlan) -> Result<String, Error> {
        let mut retried = 0;
        loop {
            let failed = match self.start_session(&plan).await {
                Ok(name) => return Ok(name),
                Err(failed) => failed,
            };
            if !failed.lost_race || retried >= RETRIES {
                // The error carries the server's stderr (never its stdout: the cookie).
                warn!(profile = %self.name, error = %failed.error, "Start failed");
                return Err(failed.error);
            }
            retried += 1;
            warn!(profile = %self.name, attempt = retried + 1, error = %failed.error,
                "the new agent lost its port to another start on the server, after x2gostartagent had seen it run (lost a race); starting again");
            tokio::time::sleep(pause(retried)).await;
        }
    }

    async fn start_session(self: &Arc<Self>, plan: &StartPlan) -> Result<String, Failed> {
        let _busy = self.activity.busy();
        let conn = self.connector.connection()?;
        let start_agent = RemoteCommand::start_agent(&plan.agent).map_err(Error::from)?;
        if let Some(probe) = RemoteCommand::command_exists(&plan.agent.command) {
            let out = run_status(&self.connector, &probe, COMMAND_TIMEOUT).await?;
            if out != Some(0) {
                return Err(Error::NotFound(format!(
                    "command {:?} does not exist on the server",
                    plan.agent.command.program().unwrap_or_default()
                ))
                .into());
            }
        }
        self.listings.table().expect_new();
        let out = run_start_agent(
            &self.connector,
            &self.listings,
            &self.name,
            &start_agent,
            START_TIMEOUT,
        )
        .await
        .map_err(|e| {
            self.listings.table().start_done();
            match e {
                // x2gostartagent exits 8 with "ACCESS DENIED" when the owner declines.
                Error::Server {
                    status: Some(8),
                    stderr,
                    ..
                } => Error::DesktopSharingDenied(format!(
                    "the desktop's owner did not allow sharing it ({})",
                    stderr.lines().last().unwrap_or_default()
                )),
                e => e.at("x2gostartagent"),
            }
        })?;
        let started = parse_start_agent(&String::from_utf8_lossy(&out)).map_err(|e| {
            self.listings.table().start_done();
            Error::Protocol {
                command: "x2gostartagent".into(),
                reason: e.to_string(),
            }
        })?;
        let name = started.name.clone();
        let op = self.op_lock(name.as_str());
        let _op = op.lock().await;
        info!(profile = %self.name, session = %name.as_str(), display = started.display.number(), "agent started");
        self.listings.table().expect(name.as_str(), Expect::Running);
        let attached = self
            .attach(
                &conn,
                &name,
                started.cookie(),
                started.display.number(),
                started.graphics_port,
                &plan.local,
            )
            .await;
        let attach_failed = attached.is_err();
        let result = match attached {
            Ok(()) => self.run_in_session(plan, &started).await,
            Err(e) => Err(e),
        };
        if let Err(error) = result {
            warn!(profile = %self.name, session = %name.as_str(), error = %error, "start failed; cleaning up");
            // x2gostartagent only checks that the agent still runs right after starting it: an
            // agent that then fails to bind its port, which another start took meanwhile, dies,
            // and nxproxy reaches the other session's agent (which refuses our cookie) or
            // whatever else holds the port. The agent may still be starting: its log is given
            // 3 s to say so.
            let lost_race = attach_failed
                && (error.to_string().contains(NX_COOKIE_REFUSED)
                    || agent_lost_its_port(&self.connector, &name, 30).await);
            self.detach(name.as_str()).await;
            let _ = self
                .run(&RemoteCommand::terminate(&name), COMMAND_TIMEOUT)
                .await;
            self.listings.table().unexpect(name.as_str());
            let _ = self.listings.list_now().await;
            self.listings.table().start_done();
            return Err(Failed { error, lost_race });
        }
        lock(&self.viewing).insert(name.as_str().to_owned(), ResumePlan::after_start(plan));
        let listed = self.listings.list_now().await;
        self.listings.table().start_done();
        listed?;
        let folders = plan
            .features
            .folders
            .iter()
            .map(|p| (p.clone(), false))
            .collect();
        self.features_in_background(name.as_str(), &plan.features, &plan.local, folders);
        self.title_in_background(name.as_str(), plan.title.as_deref(), &plan.local);
        Ok(name.as_str().to_owned())
    }

    /// Runs the session's command (with its sound forward first) and sets its keyboard, once
    /// the display is connected.
    async fn run_in_session(&self, plan: &StartPlan, started: &StartedAgent) -> Result<(), Error> {
        let name = &started.name;
        if plan.agent.command.is_shadow() {
            // A shadow session shows another desktop; it runs no command of its own.
            return Ok(());
        }
        let run = RemoteCommand::run_command(
            &started.display,
            started.agent_pid,
            name,
            started.sound_port,
            &plan.agent.command,
            plan.agent.session_type,
            plan.sound.system,
        );
        // The sound port is forwarded before the program runs: it may play at once.
        let ran = match plan.sound.system {
            SoundSystem::Pulse => {
                let prepared = self.sound.prepare(name.as_str(), &plan.sound).await;
                self.sound
                    .start(name.as_str(), started.sound_port, &prepared)
                    .await;
                run_input(&self.connector, &run, prepared.cookie(), COMMAND_TIMEOUT).await
            }
            SoundSystem::None => self.run(&run, COMMAND_TIMEOUT).await,
        };
        ran.map_err(|e| e.at("x2goruncommand"))?;
        self.set_keyboard(name, started.display.number(), plan.keyboard.as_ref())
            .await;
        Ok(())
    }
}
