//! Well-known names of the x2god D-Bus API.

/// The well-known bus name the daemon owns on the session bus.
pub const BUS_NAME: &str = "org.x2go.Control1";
/// Path of the manager object, which also serves `org.freedesktop.DBus.ObjectManager`.
pub const ROOT_PATH: &str = "/org/x2go/Control1";
/// Parent path of all profile objects.
pub const PROFILE_PREFIX: &str = "/org/x2go/Control1/profile";
/// Interface of the manager object.
pub const MANAGER_INTERFACE: &str = "org.x2go.Control1.Manager";
/// Interface of each profile object.
pub const PROFILE_INTERFACE: &str = "org.x2go.Control1.Profile";
/// Interface of each remote-session object.
pub const SESSION_INTERFACE: &str = "org.x2go.Control1.Session";
/// Prefix of every error name the daemon returns.
pub const ERROR_PREFIX: &str = "org.x2go.Control1.Error";
/// Interface an agent (an applet answering prompts) serves at the path it registers with
/// `Manager.RegisterAgent`.
pub const AGENT_INTERFACE: &str = "org.x2go.Control1.Agent";

/// Kinds of secret an agent may be asked for (`Agent.RequestSecret`) and that may be stored in
/// the keyring (`Profile.StoreSecret`). The storable kinds are the secret keys of `Connect`
/// ([`crate::keys::SECRETS`]): the same names, from the same table.
pub mod secret_kind {
    use crate::keys;

    /// The SSH login password of the X2Go server.
    pub const PASSWORD: &str = keys::PASSWORD;
    /// The passphrase of an encrypted private key for the X2Go server.
    pub const PASSPHRASE: &str = keys::PASSPHRASE;
    /// The login password of the jump host.
    pub const SSHPROXY_PASSWORD: &str = keys::SSHPROXY_PASSWORD;
    /// The passphrase of an encrypted private key for the jump host.
    pub const SSHPROXY_PASSPHRASE: &str = keys::SSHPROXY_PASSPHRASE;
    /// Any other keyboard-interactive question (one-time code, new password, …); the prompt
    /// says what is asked. Never stored.
    pub const RESPONSE: &str = "response";
    /// The kinds `Profile.StoreSecret` accepts: the secrets of the key table.
    pub const STORABLE: [&str; keys::SECRETS.len()] = keys::SECRETS;
}
