//! The public key and password methods: one key file, the agent's identities, the password.

use std::path::Path;
use std::sync::Arc;

use russh::MethodKind;
use russh::client::{Handle, Handler};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::ssh_key::public::KeyData;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey};

use crate::ssh::error::Error;
use crate::ssh::prompt::Asker;
use crate::ssh::secret::Secret;

use super::attempts::Attempts;
use super::kbd_interactive::keyboard_interactive;
use super::keys::{LoadError, Passphrases};
use super::params::AuthParams;

/// The signature hash for RSA keys the server accepts (`rsa-sha2-512` first); `None` means
/// legacy `ssh-rsa`. Only used for RSA keys, ignored for others.
pub(super) async fn rsa_hash<H: Handler>(handle: &Handle<H>) -> Option<HashAlg> {
    match handle.best_supported_rsa_hash().await {
        Ok(Some(h)) => h,
        // The server sent no server-sig-algs: every server since OpenSSH 7.2 supports SHA-256,
        // and SHA-1 signatures are refused by current servers, so SHA-256 is the better guess.
        Ok(None) => Some(HashAlg::Sha256),
        Err(e) => {
            tracing::debug!(error = %e, "could not learn the server's signature algorithms");
            Some(HashAlg::Sha256)
        }
    }
}

fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// One key file. `explicit` files report unreadable/unsupported as a local problem;
/// discovered ones are merely skipped with a note.
pub(super) async fn try_key_file<H: Handler>(
    handle: &mut Handle<H>,
    user: &str,
    path: &Path,
    passphrases: &mut Passphrases<'_>,
    rsa_hash: Option<HashAlg>,
    explicit: bool,
    att: &mut Attempts,
) -> Result<bool, Error> {
    let label = file_label(path);
    let key = match passphrases.load(path).await? {
        Ok(k) => k,
        Err(LoadError::NeedsPassphrase) => {
            tracing::info!(key = %path.display(), "key file is encrypted and no passphrase was given");
            att.note(format!(
                "publickey ({label}: encrypted, no passphrase or password given)"
            ));
            return Ok(false);
        }
        Err(LoadError::Unanswered(reason)) => {
            tracing::info!(key = %path.display(), %reason, "key file is encrypted and nobody can be asked for its passphrase");
            att.note(format!(
                "publickey ({label}: encrypted, cannot ask for the passphrase: {reason})"
            ));
            return Ok(false);
        }
        Err(LoadError::WrongPassphrase) => {
            tracing::info!(key = %path.display(), "wrong passphrase for key file");
            att.note(format!("publickey ({label}: wrong passphrase)"));
            return Ok(false);
        }
        Err(LoadError::Unusable(reason)) => {
            tracing::warn!(key = %path.display(), %reason, "cannot use key file");
            let what = format!("publickey ({label}: {reason})");
            if explicit {
                att.local(
                    what,
                    Error::KeyFile {
                        path: path.to_owned(),
                        reason,
                    },
                );
            } else {
                att.note(what);
            }
            return Ok(false);
        }
    };
    if !att.server_allows(MethodKind::PublicKey) {
        att.note(format!(
            "publickey ({label}: server does not accept public keys)"
        ));
        return Ok(false);
    }
    tracing::debug!(user, key = %path.display(), "trying public key");
    let result = handle
        .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash))
        .await?;
    att.note(format!("publickey ({label})"));
    Ok(att.result(result))
}

/// All identities of the agent at `params.agent_socket`.
pub(super) async fn try_agent<H: Handler>(
    handle: &mut Handle<H>,
    user: &str,
    params: &AuthParams,
    rsa_hash: Option<HashAlg>,
    att: &mut Attempts,
) -> Result<bool, Error> {
    let Some(socket) = &params.agent_socket else {
        att.note("agent (no agent socket known)".into());
        return Ok(false);
    };
    let mut agent = match AgentClient::connect_uds(socket).await {
        Ok(a) => a,
        Err(e) => {
            let reason = format!("cannot reach the agent at {}: {e}", socket.display());
            tracing::info!(%reason, "agent unavailable");
            att.local(format!("agent ({reason})"), Error::Agent(reason.clone()));
            return Ok(false);
        }
    };
    let identities = match agent.request_identities().await {
        Ok(ids) => ids,
        Err(e) => {
            let reason = format!("cannot list the agent's keys: {e}");
            att.local(format!("agent ({reason})"), Error::Agent(reason.clone()));
            return Ok(false);
        }
    };
    if identities.is_empty() {
        att.note("agent (no identities)".into());
        return Ok(false);
    }
    let identities = if params.identities_only {
        let wanted = listed_public_keys(&params.key_files);
        let listed: Vec<AgentIdentity> = identities
            .into_iter()
            .filter(|id| {
                let key = id.public_key();
                wanted.iter().any(|w| w == key.key_data())
            })
            .collect();
        if listed.is_empty() {
            att.note("agent (none of its identities is a listed key file; IdentitiesOnly)".into());
            return Ok(false);
        }
        listed
    } else {
        identities
    };
    if !att.server_allows(MethodKind::PublicKey) {
        att.note("agent (server does not accept public keys)".into());
        return Ok(false);
    }
    let count = identities.len();
    for identity in identities {
        if handle.is_closed() {
            break;
        }
        tracing::debug!(user, "trying an agent identity");
        let result = match identity {
            AgentIdentity::PublicKey { key, .. } => {
                handle
                    .authenticate_publickey_with(user, key, rsa_hash, &mut agent)
                    .await
            }
            AgentIdentity::Certificate { certificate, .. } => {
                handle
                    .authenticate_certificate_with(user, certificate, rsa_hash, &mut agent)
                    .await
            }
        };
        match result {
            Ok(r) => {
                if att.result(r) {
                    att.note(format!("agent ({count} identities)"));
                    return Ok(true);
                }
            }
            // The agent refused to sign (locked, confirmation denied): try the next one.
            Err(e) => tracing::info!(error = %e, "agent could not sign"),
        }
    }
    att.note(format!("agent ({count} identities)"));
    Ok(false)
}

/// Password authentication, or keyboard-interactive answering the password prompt when the
/// server offers only that (paramiko's fallback). With an `asker`, further
/// keyboard-interactive questions (a one-time code) are put to a person.
pub(super) async fn try_password<H: Handler>(
    handle: &mut Handle<H>,
    user: &str,
    password: Option<&Secret>,
    asker: Option<&Asker>,
    att: &mut Attempts,
) -> Result<bool, Error> {
    let Some(password) = password else {
        return Ok(false);
    };
    if att.server_allows(MethodKind::Password) {
        tracing::debug!(user, "trying password");
        let result = handle
            .authenticate_password(user, password.expose())
            .await?;
        att.note("password".into());
        if att.result(result) {
            return Ok(true);
        }
    }
    let kbd_int_only = !att.server_allows(MethodKind::Password)
        && att.server_allows(MethodKind::KeyboardInteractive);
    if !kbd_int_only {
        return Ok(false);
    }
    keyboard_interactive(handle, user, Some(password), asker, att).await
}

/// The public keys of `files`, from the `.pub` file beside each (as OpenSSH reads them for
/// `IdentitiesOnly`); files without a readable one are left out. Only regular files of a
/// few kilobytes are read: a public key is one line.
fn listed_public_keys(files: &[std::path::PathBuf]) -> Vec<KeyData> {
    const MAX_PUB_BYTES: u64 = 64 * 1024;
    files
        .iter()
        .filter_map(|f| {
            let mut name = f.clone().into_os_string();
            name.push(".pub");
            let path = std::path::PathBuf::from(name);
            let meta = std::fs::metadata(&path).ok()?;
            if !meta.is_file() || meta.len() > MAX_PUB_BYTES {
                return None;
            }
            let text = std::fs::read_to_string(&path).ok()?;
            match PublicKey::from_openssh(text.trim()) {
                Ok(k) => Some(k.key_data().clone()),
                Err(e) => {
                    tracing::debug!(file = %path.display(), error = %e, "unreadable public key");
                    None
                }
            }
        })
        .collect()
}
