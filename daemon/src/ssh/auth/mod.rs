//! Client authentication, in the order python-x2go's `X2GoControlSession.connect()` uses.
//!
//! This module holds the order of the attempts; each method is tried in its own module
//! (`methods`: key files, agent, password; `kbd_interactive`: keyboard-interactive), key files
//! are loaded and decrypted in `keys`, and what was tried is recorded in `attempts` for the
//! final error.

mod attempts;
mod kbd_interactive;
mod keys;
mod methods;
mod params;

use std::path::PathBuf;

use russh::MethodKind;
use russh::client::{Handle, Handler};

use crate::ssh::error::Error;
use crate::ssh::prompt::{self, Asker, SecretKind};
use crate::ssh::secret::Secret;

use attempts::Attempts;
use kbd_interactive::keyboard_interactive;
use keys::Passphrases;
use methods::{rsa_hash, try_agent, try_key_file, try_password};

pub use params::AuthParams;

/// Key files looked for in `ssh_dir` when `look_for_keys` is set, in paramiko's order.
const DISCOVERABLE_KEYS: [&str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];

/// Authenticates on `handle`. `Ok(())` means the server accepted us. `server` names the
/// server in questions to a person (`user@host`); `asker` is `None` without a prompter.
pub(crate) async fn authenticate<H: Handler>(
    handle: &mut Handle<H>,
    params: &AuthParams,
    server: &str,
    asker: Option<&Asker>,
) -> Result<(), Error> {
    let user = params.username.as_str();
    let mut att = Attempts {
        tried: Vec::new(),
        reached_server: false,
        local_problem: None,
        remaining: None,
    };
    let password = params.password.as_ref().filter(|p| !p.is_empty());

    // Set when nobody could be asked for the password: the later questions would meet the
    // same answer.
    let mut nobody_to_ask = false;
    if params.force_password_auth {
        let asked;
        let password = match (password, asker) {
            (Some(p), _) => Some(p),
            (None, Some(asker)) => {
                asked = ask_password(asker, server, &mut att).await?;
                nobody_to_ask = asked.is_none();
                asked.as_ref()
            }
            (None, None) => None,
        };
        if password.is_some() {
            if try_password(handle, user, password, asker, &mut att).await? {
                return Ok(());
            }
            return Err(failure(params, att, handle));
        }
    }

    // python-x2go: "if a password is given, no passphrase, ... the password doubles as
    // passphrase".
    let mut passphrases = Passphrases {
        configured: params
            .passphrase
            .as_ref()
            .filter(|p| !p.is_empty())
            .or(password),
        asker,
        asked: None,
        unavailable: None,
    };
    let rsa_hash = rsa_hash(handle).await;
    let mut tried_paths: Vec<PathBuf> = Vec::new();

    for path in &params.key_files {
        tried_paths.push(path.clone());
        if try_key_file(
            handle,
            user,
            path,
            &mut passphrases,
            rsa_hash,
            true,
            &mut att,
        )
        .await?
        {
            return Ok(());
        }
    }

    if params.allow_agent && try_agent(handle, user, params, rsa_hash, &mut att).await? {
        return Ok(());
    }

    if params.look_for_keys {
        // Nobody is asked for these: a discovered key may not be meant for this server at
        // all. An answer given for a key file above is still tried.
        let mut discovered = Passphrases {
            asker: None,
            ..passphrases.clone()
        };
        for name in DISCOVERABLE_KEYS {
            let path = params.ssh_dir.join(name);
            if tried_paths.contains(&path) || !path.exists() {
                continue;
            }
            if try_key_file(
                handle,
                user,
                &path,
                &mut discovered,
                rsa_hash,
                false,
                &mut att,
            )
            .await?
            {
                return Ok(());
            }
        }
    }

    if let Some(asker) = asker.filter(|_| !nobody_to_ask) {
        if handle.is_closed() {
            return Err(failure(params, att, handle));
        }
        // The questions depend on what the server accepts: ask it when no failure has told
        // us yet ("none" also succeeds on a server that wants no authentication).
        if att.remaining.is_none() {
            let result = handle.authenticate_none(user).await?;
            if att.result(result) {
                return Ok(());
            }
        }
        if password.is_some() {
            if try_password(handle, user, password, Some(asker), &mut att).await? {
                return Ok(());
            }
        } else if att.server_allows(MethodKind::KeyboardInteractive) {
            if keyboard_interactive(handle, user, None, Some(asker), &mut att).await? {
                return Ok(());
            }
        } else if att.server_allows(MethodKind::Password) {
            let asked = ask_password(asker, server, &mut att).await?;
            if asked.is_some() && try_password(handle, user, asked.as_ref(), None, &mut att).await?
            {
                return Ok(());
            }
        }
        return Err(failure(params, att, handle));
    }

    if password.is_some() && try_password(handle, user, password, None, &mut att).await? {
        return Ok(());
    }
    Err(failure(params, att, handle))
}

/// Asks for the login password. `None` when nobody could be asked (noted in `att`).
async fn ask_password(
    asker: &Asker,
    server: &str,
    att: &mut Attempts,
) -> Result<Option<Secret>, Error> {
    let answer = asker
        .secret(
            SecretKind::Password,
            format!("{server}'s password: "),
            false,
        )
        .await;
    match answer {
        Ok(secret) => Ok(Some(secret)),
        Err(e) => match prompt::abort_error(&e, "the password") {
            Some(abort) => Err(abort),
            None => {
                att.note(format!("password (cannot ask for it: {e})"));
                Ok(None)
            }
        },
    }
}

/// The error after every method failed.
fn failure<H: Handler>(params: &AuthParams, mut att: Attempts, handle: &Handle<H>) -> Error {
    if !att.reached_server
        && let Some(problem) = att.local_problem.take()
    {
        return problem;
    }
    if att.tried.is_empty() {
        att.tried
            .push("nothing (no password, key file, agent or key discovery configured)".into());
    }
    if handle.is_closed() {
        att.tried
            .push("then the server closed the connection (too many attempts?)".into());
    }
    Error::AuthFailed {
        username: params.username.clone(),
        detail: att.tried.join(", "),
    }
}
