//! What to authenticate with: the credentials and where to find them.

use std::path::PathBuf;

use crate::ssh::prompt::PromptHandle;
use crate::ssh::secret::Secret;

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
///
/// [`Error::Cancelled`]: super::super::Error::Cancelled
/// [`Error::Timeout`]: super::super::Error::Timeout
/// [`Error::AuthFailed`]: super::super::Error::AuthFailed
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
    /// Offer only those agent identities whose public key is one of `key_files` (read from
    /// each file's `.pub` beside it), as OpenSSH's `IdentitiesOnly`: an agent full of keys
    /// for other places then neither uses up the server's `MaxAuthTries` nor shows it keys
    /// it has no business seeing.
    pub identities_only: bool,
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
