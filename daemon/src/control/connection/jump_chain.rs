//! The jump hosts of an OpenSSH `ProxyJump`, as a chain of the SSH layer's `ProxyParams`.

use super::super::error::Error;
use super::params::{ConnectRequest, ParamsSource, validate_hostname};
use super::ssh_config::{config_error, config_files};
use crate::config::local_username;
use crate::ssh::config::{Given, JumpHop};
use crate::ssh::{AuthParams, ProxyParams};
use crate::x2go::validate::Username;

impl ParamsSource {
    /// The jump hosts of `ProxyJump`, each looked up in the files under its own name (its
    /// `User@`/`:port` winning, its own `ProxyJump` not followed, as `ssh -J` does): the last
    /// hop, reached through the ones before it. Hops log in with their own `IdentityFile`s,
    /// else the server's key files, and the profile's agent and default-key choices; the
    /// jump host's password and passphrase go to the first hop only, so that a secret meant
    /// for one machine is never offered to another.
    pub(super) fn jump_chain(
        &self,
        jumps: &[JumpHop],
        req: &ConnectRequest,
        target_auth: &AuthParams,
    ) -> Result<Option<Box<ProxyParams>>, Error> {
        let files = config_files(&self.paths);
        let mut chain: Option<Box<ProxyParams>> = None;
        for (i, hop) in jumps.iter().enumerate() {
            let given = Given {
                user: hop.user.clone(),
                port: hop.port,
            };
            let c = files.resolve(&hop.host, &given).map_err(config_error)?;
            let host = validate_hostname(&c.hostname)?;
            let Some(user) = c.user.clone().or_else(local_username) else {
                return Err(Error::InvalidArgument(format!(
                    "no user name for the jump host {host} and the local user name is unknown"
                )));
            };
            Username::parse(&user)?;
            let first = i == 0;
            let auth = AuthParams {
                username: user,
                password: req.proxy_password.clone().filter(|_| first),
                passphrase: req.proxy_passphrase.clone().filter(|_| first),
                key_files: if c.identity_files.is_empty() {
                    target_auth.key_files.clone()
                } else {
                    c.identity_files.clone()
                },
                identities_only: c.identities_only.unwrap_or(false),
                force_password_auth: false,
                ..target_auth.clone()
            };
            let host_keys = self.host_key_policy(
                req.settings.add_to_known_hosts,
                req.prompter.clone(),
                Some(&c),
            );
            chain = Some(Box::new(ProxyParams {
                host,
                port: c.port.unwrap_or(22),
                auth,
                host_keys,
                host_key_name: c.host_key_alias.clone(),
                via: chain,
            }));
        }
        Ok(chain)
    }
}
