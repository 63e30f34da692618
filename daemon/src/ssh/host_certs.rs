//! Host certificates (`*-cert-v01@openssh.com`) checked the way OpenSSH's `check_host_cert`
//! does: signed by a CA that a `@cert-authority` line trusts for this host, a host (not user)
//! certificate, valid now, naming the host among its principals, with no critical options.

use std::time::{SystemTime, UNIX_EPOCH};

use russh::keys::ssh_key::certificate::CertType;
use russh::keys::{Certificate, HashAlg, PublicKey};

use super::known_hosts::glob_match;

/// Why a certificate is not accepted. The text completes "the host certificate …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CertProblem {
    /// No `@cert-authority` line for this host names the key that signed it.
    #[error("is signed by {0}, which no @cert-authority line trusts for this host")]
    UntrustedCa(String),
    /// A user certificate presented as a host's.
    #[error("is a user certificate, not a host certificate")]
    NotHost,
    /// Outside its validity window.
    #[error("is not valid now (valid from {after} to {before}, Unix time)")]
    Expired {
        /// `valid after`.
        after: u64,
        /// `valid before`.
        before: u64,
    },
    /// The CA's signature does not verify.
    #[error("has a signature that does not verify")]
    BadSignature,
    /// The host's name is not among its principals.
    #[error("is for {principals:?}, not for {host:?}")]
    WrongPrincipal {
        /// The certificate's principals.
        principals: Vec<String>,
        /// The name we connected to.
        host: String,
    },
    /// A critical option we do not understand (host certificates define none).
    #[error("has critical options this client does not support")]
    CriticalOptions,
}

/// Checks `cert` for a host called any of `names` against the CA keys trusted for it.
pub(crate) fn check(
    cert: &Certificate,
    trusted_cas: &[PublicKey],
    names: &[String],
) -> Result<(), CertProblem> {
    let ca = cert.signature_key();
    let ca_fp = ca.fingerprint(HashAlg::Sha256);
    if !trusted_cas.iter().any(|k| k.key_data() == ca) {
        return Err(CertProblem::UntrustedCa(ca_fp.to_string()));
    }
    if cert.cert_type() != CertType::Host {
        return Err(CertProblem::NotHost);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if cert.verify_signature().is_err() {
        return Err(CertProblem::BadSignature);
    }
    // Signature, CA and window once more through the library's own check, so a future
    // stricter ssh-key keeps applying here.
    if cert.validate_at(now, [&ca_fp]).is_err() {
        return Err(CertProblem::Expired {
            after: cert.valid_after(),
            before: cert.valid_before(),
        });
    }
    // OpenSSH refuses host certificates without principals (`require_principal`) and matches
    // principals as patterns (`wildcard_principals`).
    let principals = cert.valid_principals();
    let named = principals.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        names.iter().any(|n| glob_match(&p, n))
    });
    if !named {
        return Err(CertProblem::WrongPrincipal {
            principals: principals.to_vec(),
            host: names.first().cloned().unwrap_or_default(),
        });
    }
    if !cert.critical_options().is_empty() {
        return Err(CertProblem::CriticalOptions);
    }
    Ok(())
}
