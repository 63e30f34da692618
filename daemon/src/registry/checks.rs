//! Settings are checked when stored, not only when used, so that no hostile value is ever kept
//! in the file or shown in a property.

use super::error::Error;
use crate::control::validate_hostname;
use crate::profiles::ProfileSettings;
use crate::x2go::validate::Username;

/// Refuses settings a connection would refuse anyway: a missing or malformed host, user name
/// or jump host.
pub(crate) fn check_settings(s: &ProfileSettings) -> Result<(), Error> {
    if s.hostname.trim().is_empty() {
        return Err(Error::InvalidArgument(
            "setting \"hostname\" is required".into(),
        ));
    }
    validate_hostname(&s.hostname)?;
    if let Some(u) = &s.username {
        Username::parse(u).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    }
    if let Some(p) = &s.sshproxy {
        validate_hostname(&p.host)?;
        if let Some(u) = &p.user {
            Username::parse(u).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        }
        let (th, _) = p
            .target(&s.hostname, s.port)
            .map_err(Error::InvalidArgument)?;
        validate_hostname(&th)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::ProxySettings;

    #[test]
    fn hostile_values_are_refused() {
        assert!(check_settings(&ProfileSettings::new("srv")).is_ok());
        assert!(matches!(
            check_settings(&ProfileSettings::new(" ")),
            Err(Error::InvalidArgument(m)) if m.contains("hostname")
        ));
        assert!(check_settings(&ProfileSettings::new("-oProxyCommand=x")).is_err());
        let mut s = ProfileSettings::new("srv");
        s.username = Some("bob;id".into());
        assert!(check_settings(&s).is_err());
        let mut s = ProfileSettings::new("srv");
        s.sshproxy = Some(ProxySettings::new("$(id)"));
        assert!(check_settings(&s).is_err());
    }
}
