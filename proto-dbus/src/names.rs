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
