//! The x2god daemon binary.

use std::process::ExitCode;

use clap::Parser;
use tracing::info;

/// Per-user daemon offering persistent X2Go control sessions on the D-Bus session bus.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Log at debug level (RUST_LOG overrides).
    #[arg(short, long)]
    verbose: bool,
    /// Take the bus name over from a running x2god.
    #[arg(short, long)]
    replace: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    x2god::logging::init(args.verbose);
    let paths = match x2god::config::Paths::from_env() {
        Ok(p) => p,
        Err(e) => {
            x2god::logging::fatal(&e);
            return ExitCode::FAILURE;
        }
    };
    // The first line of every run in `journalctl --user -u x2god`: which build, which files.
    info!(
        version = env!("CARGO_PKG_VERSION"),
        pid = std::process::id(),
        config = %paths.config_dir.display(),
        "starting"
    );
    match x2god::bus::run(paths, args.replace).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            x2god::logging::fatal(&e);
            ExitCode::FAILURE
        }
    }
}
