//! Client authentication, in the order python-x2go's `X2GoControlSession.connect()` uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::MethodKind;
use russh::client::{AuthResult, Handle, Handler, KeyboardInteractiveAuthResponse};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg};

use super::error::Error;
use super::prompt::{self, Asker, PromptHandle, SecretKind};
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
///
/// With a [`prompter`](Self::prompter), a person is asked for what is missing:
/// - the passphrase of an encrypted file of `key_files` when neither `passphrase` nor
///   `password` is given (once; the answer is tried on the other encrypted files too, and a
///   file it does not open is asked for again). Discovered keys (`look_for_keys`) are never
///   asked for: they may not even be meant for this server.
/// - with `force_password_auth` and no password: the password, first.
/// - after every key failed and no password was given: the answers of a keyboard-interactive
///   exchange if the server offers it, else the password if the server takes passwords.
/// - with a password given, any further keyboard-interactive question (e.g. a one-time code
///   after the password).
///
/// A question that is declined or times out ends the attempt ([`Error::Cancelled`],
/// [`Error::Timeout`]); when nobody can be asked the attempt goes on without the answer and
/// the final [`Error::AuthFailed`] says so.
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
    /// Who to ask for passwords, passphrases and one-time codes; `None`: nobody.
    pub prompter: Option<PromptHandle>,
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

/// Where passphrases of encrypted key files come from during one attempt.
#[derive(Clone)]
struct Passphrases<'a> {
    /// The passphrase, or the password standing in for it.
    configured: Option<&'a Secret>,
    /// Who to ask when `configured` is `None`.
    asker: Option<&'a Asker>,
    /// The last answer, tried first on the next encrypted file.
    asked: Option<Secret>,
    /// Why nobody could be asked, once that is known: not asked again.
    unavailable: Option<String>,
}

impl Passphrases<'_> {
    /// Loads `path`, asking for its passphrase when it is encrypted and none is configured.
    /// The outer error ends the attempt (the question was declined or timed out).
    async fn load(&mut self, path: &Path) -> Result<Result<PrivateKey, LoadError>, Error> {
        let first = load_key(path, self.configured);
        if !matches!(first, Err(LoadError::NeedsPassphrase)) {
            return Ok(first);
        }
        if let Some(previous) = &self.asked {
            match load_key(path, Some(previous)) {
                Err(LoadError::WrongPassphrase) => {}
                other => return Ok(other),
            }
        }
        let Some(asker) = self.asker else {
            return Ok(first);
        };
        if let Some(reason) = &self.unavailable {
            return Ok(Err(LoadError::Unanswered(reason.clone())));
        }
        let prompt = format!("Enter passphrase for key '{}': ", path.display());
        match asker.secret(SecretKind::Passphrase, prompt, false).await {
            Ok(answer) => {
                let key = load_key(path, Some(&answer));
                self.asked = Some(answer);
                Ok(key)
            }
            Err(e) => {
                let what = format!("the passphrase of {}", path.display());
                if let Some(abort) = prompt::abort_error(&e, &what) {
                    return Err(abort);
                }
                self.unavailable = Some(e.to_string());
                Ok(Err(LoadError::Unanswered(e.to_string())))
            }
        }
    }
}

/// Why a key could not be loaded, phrased for the user, never containing the secret.
enum LoadError {
    /// Encrypted and no passphrase or password was given.
    NeedsPassphrase,
    /// Encrypted, and nobody could be asked for the passphrase (the reason).
    Unanswered(String),
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

/// Password authentication, or keyboard-interactive answering the password prompt when the
/// server offers only that (paramiko's fallback). With an `asker`, further
/// keyboard-interactive questions (a one-time code) are put to a person.
async fn try_password<H: Handler>(
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

/// Who answers one keyboard-interactive question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answerer {
    /// The configured password.
    Password,
    /// A person, asked for this kind of secret.
    Ask(SecretKind),
    /// Nobody: the exchange cannot go on.
    Nobody,
}

/// Whether a question asks for the login password: not echoed, and saying so.
fn looks_like_password(prompt: &str, echo: bool) -> bool {
    !echo && prompt.to_lowercase().contains("password")
}

/// Decides who answers each question of one round. `password_used` carries over between
/// rounds: the password answers one password question per exchange, so that a second one
/// (e.g. "New password") goes to a person.
///
/// Without a person to ask (`can_ask` false) the old rule holds: a lone question of any kind
/// gets the password, several get nobody.
pub(crate) fn plan_answers(
    prompts: &[(&str, bool)],
    have_password: bool,
    password_used: &mut bool,
    can_ask: bool,
) -> Vec<Answerer> {
    if !can_ask {
        return match prompts.len() {
            1 if have_password => vec![Answerer::Password],
            n => vec![Answerer::Nobody; n],
        };
    }
    prompts
        .iter()
        .map(|&(prompt, echo)| {
            let password_like = looks_like_password(prompt, echo);
            if password_like && have_password && !*password_used {
                *password_used = true;
                Answerer::Password
            } else if password_like {
                Answerer::Ask(SecretKind::Password)
            } else {
                Answerer::Ask(SecretKind::Response)
            }
        })
        .collect()
}

/// What a question asks for, for messages: `password` or the server's words without the
/// trailing colon.
fn question_label(prompt: &str, kind: SecretKind) -> String {
    match kind {
        SecretKind::Password => "password".into(),
        _ => {
            let text = prompt.trim().trim_end_matches(':').trim();
            if text.is_empty() {
                "answer".into()
            } else {
                text.to_owned()
            }
        }
    }
}

/// One keyboard-interactive exchange: the password answers the password question, a person
/// (if `asker`) the others.
async fn keyboard_interactive<H: Handler>(
    handle: &mut Handle<H>,
    user: &str,
    password: Option<&Secret>,
    asker: Option<&Asker>,
    att: &mut Attempts,
) -> Result<bool, Error> {
    tracing::debug!(
        user,
        with_password = password.is_some(),
        "trying keyboard-interactive"
    );
    let mut password_used = false;
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
                att.reached_server = true;
                let questions: Vec<(&str, bool)> = prompts
                    .iter()
                    .map(|p| (p.prompt.as_str(), p.echo))
                    .collect();
                let plan = plan_answers(
                    &questions,
                    password.is_some(),
                    &mut password_used,
                    asker.is_some(),
                );
                let mut answers = Vec::with_capacity(plan.len());
                for (&(prompt, echo), who) in questions.iter().zip(plan) {
                    match (who, password, asker) {
                        (Answerer::Password, Some(password), _) => {
                            answers.push(password.expose().to_owned());
                        }
                        (Answerer::Ask(kind), _, Some(asker)) => {
                            let label = question_label(prompt, kind);
                            match asker.secret(kind, prompt.to_owned(), echo).await {
                                Ok(answer) => answers.push(answer.expose().to_owned()),
                                Err(e) => {
                                    if let Some(abort) =
                                        prompt::abort_error(&e, &format!("the {label}"))
                                    {
                                        return Err(abort);
                                    }
                                    // Nothing else to try: leave the exchange unanswered.
                                    att.note(format!(
                                        "keyboard-interactive (cannot ask for the {label}: {e})"
                                    ));
                                    return Ok(false);
                                }
                            }
                        }
                        _ => {
                            let n = questions.len();
                            att.note(format!(
                                "keyboard-interactive (server asked {n} questions, only a password is known)"
                            ));
                            return Ok(false);
                        }
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use Answerer::{Ask, Nobody, Password};
    use SecretKind::{Password as PasswordKind, Response};

    fn plan(prompts: &[(&str, bool)], pw: bool, used: &mut bool, ask: bool) -> Vec<Answerer> {
        plan_answers(prompts, pw, used, ask)
    }

    #[test]
    fn password_then_code_across_rounds() {
        let mut used = false;
        assert_eq!(
            plan(&[("Password: ", false)], true, &mut used, true),
            [Password]
        );
        assert!(used);
        assert_eq!(
            plan(&[("Verification code: ", false)], true, &mut used, true),
            [Ask(Response)]
        );
        // A second password question (e.g. an expired password) goes to a person.
        assert_eq!(
            plan(&[("New password: ", false)], true, &mut used, true),
            [Ask(PasswordKind)]
        );
    }

    #[test]
    fn both_questions_in_one_round() {
        let mut used = false;
        assert_eq!(
            plan(
                &[("Password: ", false), ("Verification code: ", false)],
                true,
                &mut used,
                true
            ),
            [Password, Ask(Response)]
        );
    }

    #[test]
    fn without_password_everything_is_asked() {
        let mut used = false;
        assert_eq!(
            plan(
                &[("x2gotest@host's PASSWORD:", false), ("Code", false)],
                false,
                &mut used,
                true
            ),
            [Ask(PasswordKind), Ask(Response)]
        );
        assert!(!used);
    }

    #[test]
    fn echoed_or_other_questions_are_not_the_password() {
        let mut used = false;
        assert_eq!(
            plan(&[("Password hint (shown): ", true)], true, &mut used, true),
            [Ask(Response)]
        );
        assert_eq!(
            plan(&[("Passcode: ", false)], true, &mut used, true),
            [Ask(Response)]
        );
        assert!(!used);
        assert_eq!(plan(&[], true, &mut used, true), []);
    }

    #[test]
    fn without_a_person_the_old_rule_holds() {
        let mut used = false;
        // A lone question gets the password whatever it says, every round.
        assert_eq!(
            plan(&[("Verification code: ", false)], true, &mut used, false),
            [Password]
        );
        assert_eq!(
            plan(&[("Password: ", false)], true, &mut used, false),
            [Password]
        );
        assert_eq!(
            plan(
                &[("Password: ", false), ("Code: ", false)],
                true,
                &mut used,
                false
            ),
            [Nobody, Nobody]
        );
        assert_eq!(
            plan(&[("Password: ", false)], false, &mut used, false),
            [Nobody]
        );
        assert_eq!(plan(&[], false, &mut used, false), []);
    }

    #[test]
    fn labels() {
        assert_eq!(
            question_label("Verification code: ", Response),
            "Verification code"
        );
        assert_eq!(question_label("Password: ", PasswordKind), "password");
        assert_eq!(question_label(" : ", Response), "answer");
    }
}
