//! Session information as `a{sv}`, under python-x2go's session-info names (the contract's
//! [`x2god_proto::keys::session`] table).

use std::collections::HashMap;

use x2god_proto::keys::session as key;
use zbus::{OwnedVariant, Str};

use crate::x2go::list::{SessionInfo, SessionStatus};

fn s(v: &str) -> OwnedVariant {
    OwnedVariant::from(Str::from(v.to_owned()))
}

/// The typed dictionary of one listed session. The X cookie is a credential and stays out.
pub fn session_dict(info: &SessionInfo) -> HashMap<String, OwnedVariant> {
    let status = match info.status {
        SessionStatus::Running => "R".to_owned(),
        SessionStatus::Suspended => "S".to_owned(),
        SessionStatus::Other(c) => c.to_string(),
    };
    let state = match info.status {
        SessionStatus::Running => "running",
        SessionStatus::Suspended => "suspended",
        SessionStatus::Other(_) => "unknown",
    };
    let name = &info.name;
    let mut d: HashMap<String, OwnedVariant> = HashMap::new();
    d.insert(key::AGENT_PID.into(), OwnedVariant::from(info.agent_pid));
    d.insert(key::NAME.into(), s(name.as_str()));
    d.insert(key::DISPLAY.into(), OwnedVariant::from(info.display));
    d.insert(key::HOSTNAME.into(), s(&info.hostname));
    d.insert(key::STATUS.into(), s(&status));
    d.insert(key::STATE.into(), s(state));
    d.insert(key::DATE_CREATED.into(), s(&info.date_created));
    d.insert(key::CLIENT_IP.into(), s(&info.client_ip));
    d.insert(
        key::GRAPHICS_PORT.into(),
        OwnedVariant::from(info.graphics_port),
    );
    d.insert(key::SND_PORT.into(), OwnedVariant::from(info.snd_port));
    d.insert(key::DATE_SUSPENDED.into(), s(&info.date_suspended));
    d.insert(key::USERNAME.into(), s(&info.username));
    d.insert(key::SSHFS_PORT.into(), OwnedVariant::from(info.sshfs_port));
    d.insert(
        key::TEKICTRL_PORT.into(),
        OwnedVariant::from(info.tekictrl_port),
    );
    d.insert(
        key::TEKIDATA_PORT.into(),
        OwnedVariant::from(info.tekidata_port),
    );
    d.insert(key::SESSION_TYPE.into(), s(name.kind().as_str()));
    d.insert(key::COMMAND.into(), s(name.command()));
    d.insert(
        key::COLOR_DEPTH.into(),
        OwnedVariant::from(u32::from(name.color_depth())),
    );
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x2go::list::parse_listing;

    #[test]
    fn the_dictionary_has_the_keys_and_types_of_the_contract() {
        let line = "23456|alice-50-1700000000_stDXFCE_dp24|50|x2gosrv|R|2023-11-14T22:13:20|\
                    8f1c2d3e4b5a69788796a5b4c3d2e1f0|192.0.2.10|33456|33457|2023-11-14T22:13:25|\
                    alice|305|33458|-1|-1";
        let listing = parse_listing(line);
        let d = session_dict(&listing.sessions[0]);
        let mut got: Vec<(String, String)> = d
            .iter()
            .map(|(k, v)| (k.clone(), v.value_signature().to_string()))
            .collect();
        got.sort();
        let mut want: Vec<(String, String)> = key::KEYS
            .iter()
            .map(|k| (k.name.to_owned(), k.signature.to_owned()))
            .collect();
        want.sort();
        assert_eq!(got, want);
        assert!(
            !format!("{d:?}").contains("8f1c2d3e4b5a"),
            "the cookie leaked"
        );
    }
}
