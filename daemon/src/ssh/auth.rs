//! Client authentication, in the order python-x2go's `X2GoControlSession.connect()` uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::MethodKind;
use russh::client::{AuthResult, Handle, Handler, KeyboardInteractiveAuthResponse};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg};

use super::error::Error;
use super::secret::Secret;

/// Key files looked for in `ssh_dir` when `look_for_keys` is set, in paramiko's order.
const DISCOVERABLE_KEYS: [&str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];

/// Rounds of keyboard-interactive questions answered before giving up: a server that keeps
/// asking is not asking for a password.
const MAX_KBD_INT_ROUNDS: usize = 5;

/// Credentials and where to find them.
///
/// The order of attempts mirrors python-x2go:
/// 1. `force_password_auth` with a password: password only.
/// 2. Otherwise: each of `key_files` (decrypted with `passphrase`, or with `password` when no
///    passphrase is given), then the agent identities (`allow_agent`), then `id_ed25519`,
///    `id_ecdsa`, `id_rsa` in `ssh_dir` (`look_for_keys`), then the password if given (by
///    keyboard-interactive if the server offers only that).
///
/// The first success stops the sequence.
#[derive(Debug, Clone, Default)]
pub struct AuthParams {
    /// The remote user name.
    pub username: String,
    /// The password; also the passphrase of key files when `passphrase` is `None`.
    pub password: Option<Secret>,
    /// The passphrase of encrypted key files.
    pub passphrase: Option<Secret>,
    /// Private key files to try first, in order.
    pub key_files: Vec<PathBuf>,
    /// Try the identities of the SSH agent at `agent_socket`.
    pub allow_agent: bool,
    /// Try `id_ed25519`, `id_ecdsa` and `id_rsa` in `ssh_dir`.
    pub look_for_keys: bool,
    /// Use the password only, even if keys are configured.
    pub force_password_auth: bool,
    /// The local user's `~/.ssh`.
    pub ssh_dir: PathBuf,
    /// The agent socket (the value of `SSH_AUTH_SOCK`) used when `allow_agent` is set. Passed
    /// explicitly because a daemon's own environment may not have the session's agent.
    pub agent_socket: Option<PathBuf>,
}

/// The attempts so far, for the error message, and whether the server saw any of them.
struct Attempts {
    /// One entry per method, e.g. `publickey (id_ed25519)`.
    tried: Vec<String>,
    /// Whether at least one request reached the server. When none did, the local problem
    /// (unreadable key file, agent unavailable) is the error to report.
    reached_server: bool,
    /// The first local problem, reported when nothing reached the server.
    local_problem: Option<Error>,
    /// The methods the server said it would still accept after the last failure.
    remaining: Option<Vec<MethodKind>>,
}

impl Attempts {
    fn note(&mut self, what: String) {
        self.tried.push(what);
    }

    fn local(&mut self, what: String, problem: Error) {
        self.tried.push(what);
        if self.local_problem.is_none() {
            self.local_problem = Some(problem);
        }
    }

    /// Records the server's answer; `true` on success.
    fn result(&mut self, result: AuthResult) -> bool {
        self.reached_server = true;
        match result {
            AuthResult::Success => true,
            AuthResult::Failure {
                remaining_methods,
                partial_success,
            } => {
                if partial_success {
                    tracing::debug!("partial authentication success, server wants more");
                }
                self.remaining = Some(remaining_methods.iter().copied().collect());
                false
            }
        }
    }

    fn server_allows(&self, method: MethodKind) -> bool {
        self.remaining.as_ref().is_none_or(|m| m.contains(&method))
    }
}

/// Authenticates on `handle`. `Ok(())` means the server accepted us.
pub(crate) async fn authenticate<H: Handler>(
    handle: &mut Handle<H>,
    params: &AuthParams,
) -> Result<(), Error> {
    let user = params.username.as_str();
    let mut att = Attempts {
        tried: Vec::new(),
        reached_server: false,
        local_problem: None,
        remaining: None,
    };
    let password = params.password.as_ref().filter(|p| !p.is_empty());

    if params.force_password_auth && password.is_some() {
        if try_password(handle, user, password, &mut att).await? {
            return Ok(());
        }
        return Err(failure(params, att, handle));
    }

    // python-x2go: "if a password is given, no passphrase, ... the password doubles as
    // passphrase".
    let passphrase = params
        .passphrase
        .as_ref()
        .filter(|p| !p.is_empty())
        .or(password);
    let rsa_hash = rsa_hash(handle).await;
    let mut tried_paths: Vec<PathBuf> = Vec::new();

    for path in &params.key_files {
        tried_paths.push(path.clone());
        if try_key_file(handle, user, path, passphrase, rsa_hash, true, &mut att).await? {
            return Ok(());
        }
    }

    if params.allow_agent && try_agent(handle, user, params, rsa_hash, &mut att).await? {
        return Ok(());
    }

    if params.look_for_keys {
        for name in DISCOVERABLE_KEYS {
            let path = params.ssh_dir.join(name);
            if tried_paths.contains(&path) || !path.exists() {
                continue;
            }
            if try_key_file(handle, user, &path, passphrase, rsa_hash, false, &mut att).await? {
                return Ok(());
            }
        }
    }

    if password.is_some() && try_password(handle, user, password, &mut att).await? {
        return Ok(());
    }
    Err(failure(params, att, handle))
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

/// The signature hash for RSA keys the server accepts (`rsa-sha2-512` first); `None` means
/// legacy `ssh-rsa`. Only used for RSA keys, ignored for others.
async fn rsa_hash<H: Handler>(handle: &Handle<H>) -> Option<HashAlg> {
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

/// Why a key could not be loaded, phrased for the user, never containing the secret.
enum LoadError {
    /// Encrypted and no passphrase or password was given.
    NeedsPassphrase,
    /// Encrypted and the secret did not decrypt it.
    WrongPassphrase,
    /// Unreadable or unsupported.
    Unusable(String),
}

fn load_key(path: &Path, secret: Option<&Secret>) -> Result<PrivateKey, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Unusable(e.to_string()))?;
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) => Ok(key),
        Err(russh::keys::Error::KeyIsEncrypted) => {
            let Some(secret) = secret else {
                return Err(LoadError::NeedsPassphrase);
            };
            russh::keys::decode_secret_key(&text, Some(secret.expose()))
                .map_err(|_| LoadError::WrongPassphrase)
        }
        // Legacy PEM keys report encryption differently; if a secret is at hand, try it.
        Err(first) => match secret {
            Some(secret) => russh::keys::decode_secret_key(&text, Some(secret.expose()))
                .map_err(|_| LoadError::Unusable(first.to_string())),
            None => Err(LoadError::Unusable(first.to_string())),
        },
    }
}

/// One key file. `explicit` files report unreadable/unsupported as a local problem;
/// discovered ones are merely skipped with a note.
async fn try_key_file<H: Handler>(
    handle: &mut Handle<H>,
    user: &str,
    path: &Path,
    secret: Option<&Secret>,
    rsa_hash: Option<HashAlg>,
    explicit: bool,
    att: &mut Attempts,
) -> Result<bool, Error> {
    let label = file_label(path);
    let key = match load_key(path, secret) {
        Ok(k) => k,
        Err(LoadError::NeedsPassphrase) => {
            tracing::info!(key = %path.display(), "key file is encrypted and no passphrase was given");
            att.note(format!(
                "publickey ({label}: encrypted, no passphrase or password given)"
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
async fn try_agent<H: Handler>(
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

/// Password authentication, or keyboard-interactive answering the one password prompt when
/// the server offers only that (paramiko's fallback).
async fn try_password<H: Handler>(
    handle: &mut Handle<H>,
    user: &str,
    password: Option<&Secret>,
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
    tracing::debug!(user, "trying keyboard-interactive with the password");
    let mut response = handle
        .authenticate_keyboard_interactive_start(user, None)
        .await?;
    for _ in 0..MAX_KBD_INT_ROUNDS {
        match response {
            KeyboardInteractiveAuthResponse::Success => {
                att.note("keyboard-interactive".into());
                att.reached_server = true;
                return Ok(true);
            }
            KeyboardInteractiveAuthResponse::Failure {
                remaining_methods,
                partial_success,
            } => {
                att.note("keyboard-interactive".into());
                return Ok(att.result(AuthResult::Failure {
                    remaining_methods,
                    partial_success,
                }));
            }
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                let answers = match prompts.len() {
                    0 => Vec::new(),
                    1 => vec![password.expose().to_owned()],
                    n => {
                        // More than one question (e.g. password and OTP): we have one answer.
                        att.note(format!(
                            "keyboard-interactive (server asked {n} questions, only a password is known)"
                        ));
                        att.reached_server = true;
                        return Ok(false);
                    }
                };
                response = handle
                    .authenticate_keyboard_interactive_respond(answers)
                    .await?;
            }
        }
    }
    att.note("keyboard-interactive (too many rounds of questions)".into());
    att.reached_server = true;
    Ok(false)
}
