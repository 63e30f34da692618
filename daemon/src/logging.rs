//! Logging setup: `RUST_LOG`-style filters, journald when systemd runs us, stderr otherwise.

use std::io::{IsTerminal, Write};
use std::os::unix::fs::MetadataExt;

use tracing_journald::{Priority, PriorityMappings};
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

/// Installs the global subscriber. `verbose` raises the default level to debug; `RUST_LOG`
/// (e.g. `x2god=trace,russh=info`) overrides both.
///
/// When systemd connected stderr to the journal, events go to journald natively, each field
/// as a journal field (`PROFILE=`, `HOST=`, `SESSION=`, `ERROR=`, …), so that
/// `journalctl --user -u x2god PROFILE=office` selects one profile's lines.
pub fn init(verbose: bool) {
    let default = if verbose {
        "x2god=debug,info"
    } else {
        "x2god=info,warn"
    };
    // A typo in RUST_LOG should not silence the daemon: fall back to the default and say so
    // once the subscriber is there to say it.
    let mut bad_filter = None;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            bad_filter = Some((spec, e.to_string()));
            EnvFilter::new(default)
        }),
        _ => EnvFilter::new(default),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let mut journald_error = None;
    let mut journald = None;
    if stderr_is_journal() {
        match tracing_journald::layer() {
            // Plain field names (PROFILE=…) are what `journalctl -o verbose` users expect. A
            // fixed identifier, not argv[0], so `journalctl -t x2god` finds a renamed binary.
            Ok(layer) => {
                journald = Some(
                    layer
                        .with_field_prefix(None)
                        .with_syslog_identifier("x2god".to_owned())
                        .with_priority_mappings(syslog_priorities()),
                )
            }
            Err(e) => journald_error = Some(e),
        }
    }
    if let Some(layer) = journald {
        registry.with(layer).init();
    } else {
        // Colour codes only for a person at a terminal, never in files or the journal.
        let ansi = std::io::stderr().is_terminal();
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(ansi),
            )
            .init();
    }
    if let Some(e) = journald_error {
        // stderr still reaches the journal, only without the fields.
        tracing::warn!(error = %e, "cannot send to journald; logging plain text to stderr");
    }
    if let Some((spec, e)) = bad_filter {
        tracing::warn!(rust_log = %spec, error = %e, "ignoring the invalid RUST_LOG");
    }
}

/// Reports the error that ends the daemon, just before it exits.
///
/// Under systemd this goes to stderr, not to journald natively: journald learns which unit a
/// native message belongs to by looking the sender up in `/proc`, and a process that exits
/// right after sending is gone by then, so the message would miss `journalctl --user -u x2god`
/// (seen under a real user manager). The stderr stream was attributed to the unit when
/// systemd opened it; `<3>` gives the line priority err. The error also becomes the unit's
/// status text (`NotifyAccess=main`), because once the start limit is hit `systemctl --user
/// status x2god` lists only the refused start's lines, not the error that caused it.
pub fn fatal(error: &dyn std::fmt::Display) {
    if stderr_is_journal() {
        let mut stderr = std::io::stderr().lock();
        // Nothing is left to report a failed write to.
        let _ = writeln!(stderr, "<3>{error}");
    } else {
        tracing::error!("{error}");
    }
    crate::service::status(&error.to_string());
}

/// Levels as syslog names them, not the crate's default (info as `notice`, debug as `info`):
/// `journalctl -p info` should hide debug lines, and routine lines should not show in bold.
fn syslog_priorities() -> PriorityMappings {
    PriorityMappings {
        error: Priority::Error,
        warn: Priority::Warning,
        info: Priority::Informational,
        debug: Priority::Debug,
        trace: Priority::Debug,
    }
}

/// True when systemd connected stderr to the journal: `JOURNAL_STREAM` holds the device and
/// inode of our stderr. Checking the inode, not just the variable, matters because children
/// inherit the variable with a different stderr (`x2god 2>file` from a shell in a unit).
fn stderr_is_journal() -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    stream_names(&stream, meta.dev(), meta.ino())
}

/// Whether a `JOURNAL_STREAM` value (`<device>:<inode>`, decimal) names `dev` and `ino`.
fn stream_names(value: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = value.split_once(':') else {
        return false;
    };
    d.parse::<u64>().ok() == Some(dev) && i.parse::<u64>().ok() == Some(ino)
}

#[cfg(test)]
mod tests {
    use super::stream_names;

    #[test]
    fn journal_stream_must_name_our_stderr() {
        assert!(stream_names("8:12345", 8, 12345));
        assert!(!stream_names("8:12345", 8, 12346));
        assert!(!stream_names("9:12345", 8, 12345));
        assert!(!stream_names("", 8, 12345));
        assert!(!stream_names("8", 8, 12345));
        assert!(!stream_names("8:12345:1", 8, 12345));
        assert!(!stream_names("x:y", 8, 12345));
    }
}
