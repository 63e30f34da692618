//! Profiles: what to connect to and how, kept in `$XDG_CONFIG_HOME/x2god/profiles.toml`.

mod qt_ini;
mod settings;
mod store;
pub mod x2goclient;

pub use settings::{
    MAX_SECONDS, ProfileSettings, ProxyKind, ProxySettings, SessionSettings, duration_setting,
    validate_profile_name,
};
pub use store::{ProfileStore, StoreError};
