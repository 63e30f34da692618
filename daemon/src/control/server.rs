//! Server queries of a profile: home, sshfs, users, mounts and shareable desktops.

use std::time::Duration;

use tracing::debug;

use super::Error;
use super::profile::{COMMAND_TIMEOUT, ProfileController};
use crate::x2go::command::RemoteCommand;
use crate::x2go::server_info::{self, Desktop};
use crate::x2go::tokens::{SSHFS_YES, X2GO_USER_OK};
use crate::x2go::validate::{SessionName, Username};

/// python-x2go's `maxwait` for desktop and mount listings.
pub const DEFAULT_MAXWAIT: Duration = Duration::from_secs(20);

impl ProfileController {
    fn text(out: &[u8]) -> String {
        String::from_utf8_lossy(out).into_owned()
    }

    /// Whether the remote home directory exists.
    pub async fn home_exists(&self) -> Result<bool, Error> {
        let out = self
            .run(&RemoteCommand::home_exists(), COMMAND_TIMEOUT)
            .await?;
        server_info::parse_home_exists(&Self::text(&out)).map_err(|e| Error::Protocol {
            command: "home check".into(),
            reason: e.to_string(),
        })
    }

    /// Whether the remote user can share client folders into sessions (sshfs and FUSE).
    pub async fn is_sshfs_available(&self) -> Result<bool, Error> {
        let out = self
            .run(&RemoteCommand::sshfs_available(), COMMAND_TIMEOUT)
            .await?;
        Ok(Self::text(&out).trim() == SSHFS_YES)
    }

    /// Whether `user` may run X2Go sessions on the server (see [`RemoteCommand::x2go_user`]).
    pub async fn is_x2go_user(&self, user: &str) -> Result<bool, Error> {
        let user = Username::parse(user)?;
        let out = self
            .run(&RemoteCommand::x2go_user(&user), COMMAND_TIMEOUT)
            .await?;
        Ok(Self::text(&out).trim() == X2GO_USER_OK)
    }

    /// The mount points of client folders shared into session `name`.
    pub async fn list_mounts(&self, name: &str, maxwait: Duration) -> Result<Vec<String>, Error> {
        let name = SessionName::parse(name)?;
        if !self.list_sessions().await?.iter().any(|s| s.name == name) {
            return Err(Error::NotFound(format!(
                "no session {:?} on the server",
                name.as_str()
            )));
        }
        let out = self
            .run(&RemoteCommand::list_mounts(&name), maxwait)
            .await?;
        Ok(server_info::parse_mounts(&Self::text(&out))
            .into_iter()
            .map(|m| m.mountpoint)
            .collect())
    }

    /// Desktops the user may share (`x2golistdesktops`). The server command is slow and
    /// sometimes hangs on a display; as python-x2go advises, a timed-out attempt is tried
    /// once more before `Timeout` is returned.
    pub async fn list_desktops(&self, maxwait: Duration) -> Result<Vec<Desktop>, Error> {
        let mut last = None;
        for attempt in 1..=2 {
            match self.run(&RemoteCommand::list_desktops(), maxwait).await {
                Ok(out) => return Ok(server_info::parse_desktops(&Self::text(&out))),
                Err(Error::Ssh(e @ crate::ssh::Error::Timeout(_))) => {
                    debug!(profile = %self.name(), attempt, "x2golistdesktops timed out");
                    last = Some(Error::Ssh(e));
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::NotFound("no desktops".into())))
    }
}

impl ProfileController {
    /// Shadows `user`'s desktop `display` (view-only unless `full_access`) and shows it locally;
    /// returns the shadow session's name. A desktop the server does not offer is `NotFound`;
    /// an owner who declines gives `DesktopSharingDenied`.
    pub async fn share_desktop(
        self: &std::sync::Arc<Self>,
        user: &str,
        display: &str,
        full_access: bool,
        mut plan: super::StartPlan,
        maxwait: Duration,
    ) -> Result<String, Error> {
        use crate::x2go::session_options::{SessionCommand, SessionType};
        let _sharing = super::profile::CountGuard::new(&self.sharing);
        let user = Username::parse(user)?;
        let display = crate::x2go::validate::Display::parse(display)?;
        let offered = self.list_desktops(maxwait).await?;
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
        plan.agent.command = SessionCommand::shadow(full_access, &user, display);
        plan.agent.session_type = SessionType::Shadow;
        self.start(plan).await
    }
}
