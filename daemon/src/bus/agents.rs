//! Registered agents: applets that answer password, passphrase, one-time-code and host-key
//! questions, as NetworkManager's secret agents do.
//!
//! An applet serves `org.x2go.Control1.Agent` at a path of its choice and calls
//! `Manager.RegisterAgent(path)`. A registration belongs to the caller's bus connection: it
//! ends with `UnregisterAgent` or when that connection leaves the bus (`NameOwnerChanged`).
//! The newest registration is asked first; one that is gone or fails is skipped.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use tracing::{debug, info, warn};
use x2god_proto::Error;
use x2god_proto::names::secret_kind;
use x2god_proto::proxy::AgentProxy;
use zbus::names::{OwnedUniqueName, UniqueName};
use zbus::{OwnedObjectPath, fdo};

use crate::ssh::{Hop, HostKeyInfo, PromptError, PromptHandle, Prompter, Secret, SecretKind};

/// How long a person has to answer one question.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// One registration.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Registration {
    owner: OwnedUniqueName,
    path: OwnedObjectPath,
}

/// The agents registered with this daemon.
#[derive(Default)]
pub struct Agents {
    list: Mutex<Vec<Registration>>,
    conn: OnceLock<zbus::Connection>,
}

fn lock(m: &Mutex<Vec<Registration>>) -> std::sync::MutexGuard<'_, Vec<Registration>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Agents {
    /// Starts watching the bus for agents that leave.
    pub async fn attach(self: &Arc<Self>, conn: &zbus::Connection) -> zbus::Result<()> {
        let _ = self.conn.set(conn.clone());
        let dbus = fdo::DBusProxy::new(conn).await?;
        let mut changes = dbus.receive_name_owner_changed().await?;
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(sig) = changes.next().await {
                let Ok(args) = sig.args() else { continue };
                // Only unique names own registrations; a vanished one has no new owner.
                if args.new_owner().is_some() || !args.name().starts_with(':') {
                    continue;
                }
                let Some(this) = weak.upgrade() else { return };
                let gone = args.name().to_string();
                let mut list = lock(&this.list);
                let before = list.len();
                list.retain(|r| r.owner.as_str() != gone);
                if list.len() != before {
                    info!(owner = %gone, "agent left the bus; registration ended");
                }
            }
        });
        Ok(())
    }

    /// Registers `path` of `owner`, replacing that connection's earlier registration.
    pub async fn register(
        &self,
        owner: UniqueName<'_>,
        path: OwnedObjectPath,
    ) -> Result<(), Error> {
        let conn = self
            .conn
            .get()
            .ok_or_else(|| Error::Failed("the daemon is not on the bus yet".into()))?;
        // On a per-user session bus every peer is the user; a shared bus must not let another
        // user answer (and so read) our prompts.
        let dbus = fdo::DBusProxy::new(conn).await?;
        let uid = dbus
            .get_connection_unix_user(owner.clone().into())
            .await
            .map_err(|e| Error::Failed(format!("cannot check the agent's user: {e}")))?;
        let own = crate::config::current_uid();
        if uid != own {
            return Err(Error::InvalidArgument(format!(
                "an agent must run as the daemon's user (uid {own}), not uid {uid}"
            )));
        }
        let reg = Registration {
            owner: owner.to_owned().into(),
            path,
        };
        let mut list = lock(&self.list);
        list.retain(|r| r.owner != reg.owner);
        info!(owner = %reg.owner, path = %reg.path.as_str(), "agent registered");
        list.push(reg);
        Ok(())
    }

    /// Ends the registration of `path` by `owner`.
    pub fn unregister(&self, owner: UniqueName<'_>, path: &OwnedObjectPath) -> Result<(), Error> {
        let mut list = lock(&self.list);
        let before = list.len();
        list.retain(|r| !(r.owner.as_str() == owner.as_str() && &r.path == path));
        if list.len() == before {
            return Err(Error::NotFound(format!(
                "no agent registered by this connection at {}",
                path.as_str()
            )));
        }
        info!(owner = %owner, path = %path.as_str(), "agent unregistered");
        Ok(())
    }

    /// Registrations, newest first.
    fn candidates(&self) -> Vec<Registration> {
        lock(&self.list).iter().rev().cloned().collect()
    }

    /// A prompter that asks these agents on behalf of the profile at `profile`.
    pub fn prompter(self: &Arc<Self>, profile: OwnedObjectPath) -> PromptHandle {
        PromptHandle::new(Arc::new(AgentPrompter {
            agents: self.clone(),
            profile,
        }))
    }

    /// Asks the agents in turn until one answers: `ask` returns `None` for an agent that is
    /// unreachable (the next one is asked).
    async fn ask<T, F, Fut>(&self, what: &str, ask: F) -> Result<T, PromptError>
    where
        F: Fn(AgentProxy<'static>) -> Fut,
        Fut: Future<Output = zbus::Result<T>>,
    {
        let Some(conn) = self.conn.get() else {
            return Err(PromptError::Unavailable("no agent is registered".into()));
        };
        let candidates = self.candidates();
        if candidates.is_empty() {
            return Err(PromptError::Unavailable(format!(
                "no agent is registered to ask for the {what}"
            )));
        }
        let mut last = String::new();
        for reg in candidates {
            let built = AgentProxy::builder(conn)
                .destination(reg.owner.clone())
                .path(reg.path.clone())
                .cache_properties(zbus::proxy::CacheProperties::No)
                .build()
                .await;
            let proxy = match built {
                Ok(p) => p,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            debug!(owner = %reg.owner, %what, "asking the agent");
            match tokio::time::timeout(ANSWER_TIMEOUT, ask(proxy.clone())).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(zbus::Error::MethodError(name, msg, _)))
                    if name.as_str() == "org.x2go.Control1.Error.Cancelled" =>
                {
                    let msg =
                        msg.unwrap_or_else(|| format!("the agent declined to give the {what}"));
                    return Err(PromptError::Cancelled(msg));
                }
                Ok(Err(e)) => {
                    warn!(owner = %reg.owner, error = %e, "agent failed; trying the next one");
                    last = e.to_string();
                }
                Err(_) => {
                    // Tell the applet to take its dialog down; its answer no longer matters.
                    let _ = proxy.cancel().await;
                    return Err(PromptError::Timeout(format!(
                        "the agent did not answer within {} s",
                        ANSWER_TIMEOUT.as_secs()
                    )));
                }
            }
        }
        Err(PromptError::Unavailable(format!(
            "no registered agent could be asked for the {what} ({last})"
        )))
    }
}

/// Asks the registered agents for one profile.
struct AgentPrompter {
    agents: Arc<Agents>,
    profile: OwnedObjectPath,
}

/// The `kind` argument of `RequestSecret`.
fn kind_name(hop: Hop, kind: SecretKind) -> &'static str {
    match (hop, kind) {
        (_, SecretKind::Response) => secret_kind::RESPONSE,
        (Hop::Target, SecretKind::Password) => secret_kind::PASSWORD,
        (Hop::Target, SecretKind::Passphrase) => secret_kind::PASSPHRASE,
        (Hop::Proxy, SecretKind::Password) => secret_kind::SSHPROXY_PASSWORD,
        (Hop::Proxy, SecretKind::Passphrase) => secret_kind::SSHPROXY_PASSPHRASE,
    }
}

impl Prompter for AgentPrompter {
    fn secret(
        &self,
        hop: Hop,
        kind: SecretKind,
        prompt: String,
        _echo: bool,
    ) -> Pin<Box<dyn Future<Output = Result<Secret, PromptError>> + Send + 'static>> {
        let agents = self.agents.clone();
        let profile = self.profile.clone();
        let kind = kind_name(hop, kind);
        Box::pin(async move {
            let what = kind.replace('_', " ");
            agents
                .ask(&what, |p| {
                    let (profile, prompt) = (profile.clone(), prompt.clone());
                    async move { p.request_secret(&profile.as_ref(), kind, &prompt).await }
                })
                .await
                .map(Secret::new)
        })
    }

    fn confirm_host_key(
        &self,
        _hop: Hop,
        name: String,
        key: HostKeyInfo,
    ) -> Pin<Box<dyn Future<Output = Result<bool, PromptError>> + Send + 'static>> {
        let agents = self.agents.clone();
        let profile = self.profile.clone();
        Box::pin(async move {
            agents
                .ask("host key decision", |p| {
                    let (profile, name, key) = (profile.clone(), name.clone(), key.clone());
                    async move {
                        p.confirm_host_key(
                            &profile.as_ref(),
                            &name,
                            &key.key_type,
                            &key.fingerprint,
                        )
                        .await
                    }
                })
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind_name(Hop::Target, SecretKind::Password), "password");
        assert_eq!(
            kind_name(Hop::Proxy, SecretKind::Passphrase),
            "sshproxy_passphrase"
        );
        assert_eq!(kind_name(Hop::Proxy, SecretKind::Response), "response");
    }
}
