//! Client folders served to the server: an SSH server of our own, reached through a reverse
//! forward of the control connection, that offers only the `sftp` subsystem, only to the
//! throw-away key of one session, and only within the folders of that session's [`Jail`].
//!
//! X2Go's server-side `sshfs` connects to it (doc §2.11–2.12): it logs in with the private
//! key [`ShareKeys`] made for the session and checks our host key against the line pinned
//! beside it. Nothing here knows X2Go: the caller decides what to share and where.

mod jail;
mod keys;
mod server;
mod sftp;

pub use jail::Jail;
pub use keys::ShareKeys;
pub use server::serve_sftp;
