//! What the service manager is told: the unit's status text (`systemctl --user status x2god`
//! shows it as `Status:`). Without `NOTIFY_SOCKET` (not run by systemd) nothing is sent.

/// Sets the unit's status text. A text stays until replaced, across a failed start too, so
/// every run sets one once it serves.
pub fn status(text: &str) {
    // Telling systemd is best effort: a daemon must not fail because its manager went away.
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Status(text)]);
}
