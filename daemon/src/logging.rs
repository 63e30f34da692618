//! Logging setup: `RUST_LOG`-style filters, journald when systemd runs us, stderr otherwise.

use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;

use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

/// Installs the global subscriber. `verbose` raises the default level to debug; `RUST_LOG`
/// (e.g. `x2god=trace,russh=info`) overrides both.
pub fn init(verbose: bool) {
    let default = if verbose {
        "x2god=debug,info"
    } else {
        "x2god=info,warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let registry = tracing_subscriber::registry().with(filter);
    if stderr_is_journal()
        && let Ok(journald) = tracing_journald::layer()
    {
        // Plain field names (PROFILE=…) are what `journalctl -o verbose` users expect.
        registry.with(journald.with_field_prefix(None)).init();
        return;
    }
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

/// True when systemd connected stderr to the journal (`JOURNAL_STREAM` names our stderr).
fn stderr_is_journal() -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.split_once(':') else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    dev.parse::<u64>().ok() == Some(meta.dev()) && ino.parse::<u64>().ok() == Some(meta.ino())
}
