//! Host-key probes: a handshake without authentication, to learn whether the server's key is
//! known, or to learn a key the caller has checked by its fingerprint.

use tracing::info;

use super::super::error::{Error, truncate};
use super::params::ParamsSource;
use crate::profiles::ProfileSettings;
use crate::ssh::{self, Connection, PromptHandle};

/// Checks the server's host key without authenticating: true if known, false if unknown.
/// Through a jump host, the jump host's key must be known (an unknown one is the error
/// `HostKeyUnknown` naming the jump host) and its login succeed.
pub(crate) async fn check_host(
    source: &ParamsSource,
    settings: ProfileSettings,
    prompter: Option<PromptHandle>,
) -> Result<bool, Error> {
    let params = source.probe_params(settings, None, prompter).await?;
    match Connection::probe_host_key_for(&params).await {
        Ok(_) => Ok(true),
        Err(e @ ssh::Error::Proxy { .. }) => Err(e.into()),
        Err(ssh::Error::HostKeyUnknown { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Learns the host key whose fingerprint is `fingerprint`: the jump host's when it presents
/// that unknown key, else the server's.
pub(crate) async fn trust_host_key(
    source: &ParamsSource,
    settings: ProfileSettings,
    fingerprint: &str,
    prompter: Option<PromptHandle>,
) -> Result<(), Error> {
    let fingerprint = fingerprint.trim();
    if !fingerprint.starts_with("SHA256:") || fingerprint.len() > 80 {
        return Err(Error::InvalidArgument(format!(
            "a host key fingerprint looks like SHA256:<base64>, not {:?}",
            truncate(fingerprint, 80)
        )));
    }
    let params = source
        .probe_params(settings, Some(fingerprint.to_owned()), prompter)
        .await?;
    // The jump host first, on its own: when it presents this fingerprint, trusting it is all
    // that was asked (the server behind it may still be unknown).
    if let Some(p) = params.proxy.as_deref() {
        let info = Connection::probe_host_key(&p.host, p.port, &p.host_keys, params.timeout)
            .await
            .map_err(|e| e.via_proxy(&p.host, p.port))?;
        if info.fingerprint == fingerprint {
            info!(profile = %source.name, host = %p.host, %fingerprint, "jump host key trusted");
            return Ok(());
        }
    }
    let host = params.host.clone();
    Connection::probe_host_key_for(&params).await?;
    info!(profile = %source.name, %host, %fingerprint, "host key trusted");
    Ok(())
}
