//! The accept loop of a session's reverse forward: every connection the server's `sshfs` makes
//! to the session's sshfs port is answered by the embedded SFTP server, within the session's
//! jail. Aborting the loop's task ends every such connection (and so the mounts).

use std::sync::Arc;

use tracing::debug;

use super::sync::SharedName;
use crate::ssh::{Jail, RemoteForward, ShareKeys, serve_sftp};

/// Answers every connection the server accepts on the session's sshfs port with the embedded
/// SFTP server, until the forward ends (the connection went, the session's shares were dropped).
pub(super) async fn accept_loop(
    mut forward: RemoteForward,
    keys: Arc<ShareKeys>,
    jail: Arc<Jail>,
    profile: SharedName,
    session: String,
) {
    // Held here, so that aborting this task (the session's shares went) ends every connection.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            stream = forward.accept() => {
                let Some(stream) = stream else { break };
                let (keys, jail, profile, session) =
                    (keys.clone(), jail.clone(), profile.clone(), session.clone());
                connections.spawn(async move {
                    if let Err(e) = serve_sftp(stream, keys, jail).await {
                        debug!(%profile, %session, error = %e, "an sshfs connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    forward.close().await;
}
