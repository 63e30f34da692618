//! Session information as `a{sv}`, under python-x2go's session-info names.

use std::collections::HashMap;

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
    d.insert("agent_pid".into(), OwnedVariant::from(info.agent_pid));
    d.insert("name".into(), s(name.as_str()));
    d.insert("display".into(), OwnedVariant::from(info.display));
    d.insert("hostname".into(), s(&info.hostname));
    d.insert("status".into(), s(&status));
    d.insert("state".into(), s(state));
    d.insert("date_created".into(), s(&info.date_created));
    d.insert("client_ip".into(), s(&info.client_ip));
    d.insert(
        "graphics_port".into(),
        OwnedVariant::from(info.graphics_port),
    );
    d.insert("snd_port".into(), OwnedVariant::from(info.snd_port));
    d.insert("date_suspended".into(), s(&info.date_suspended));
    d.insert("username".into(), s(&info.username));
    d.insert("sshfs_port".into(), OwnedVariant::from(info.sshfs_port));
    d.insert(
        "tekictrl_port".into(),
        OwnedVariant::from(info.tekictrl_port),
    );
    d.insert(
        "tekidata_port".into(),
        OwnedVariant::from(info.tekidata_port),
    );
    d.insert("session_type".into(), s(name.kind().as_str()));
    d.insert("command".into(), s(name.command()));
    d.insert(
        "color_depth".into(),
        OwnedVariant::from(u32::from(name.color_depth())),
    );
    d
}
